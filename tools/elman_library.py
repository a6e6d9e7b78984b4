"""elman's own numbers for a checkpoint, through libelman's public API
(ctypes), for elman_to_torch.py to compare with PyTorch's at full precision
where the programs print only rounded figures or ids.

    lib = Library("build/src/libelman.so")
    with lib.charlm("model.safetensors", cell, vocab_size, hidden, layers) as m:
        logits = m.logits_of(ids)             # (len(ids), V): after each id
        nats, count = m.stream_loss(streams)  # el_charlm_loss_of over (T + 1, B) ids
    with lib.seq2seq("model.safetensors", config...) as m:
        loss = m.loss_of(source_ids, target_ids)   # el_seq2seq_loss_of, one example

The structs passed by value or filled field by field (configurations,
el_sampling, el_batch, el_param_list) are declared here as the public
headers declare them; el_charlm and el_seq2seq are opaque to Python, so they
live in a zeroed buffer larger than either (MODEL_BYTES), which their init
functions fill.
"""
import ctypes

import numpy as np

# el_cell (include/elman/rnn.h) by the names the programs write.
CELLS = {"rnn": 0, "rnn_tanh": 0, "rnn_relu": 1, "gru": 2, "lstm": 3}
ATTENTIONS = {"none": 0, "additive": 1, "dot": 2, "general": 3}  # el_attention
# Room for an el_charlm or el_seq2seq (a few hundred bytes each).
MODEL_BYTES = 1 << 16
SPECIALS = 4
# Room for an el_charlm_state (two el_tensor structs); zeroed, the zero state.
STATE_BYTES = 1 << 10

_int_p = ctypes.POINTER(ctypes.c_int)


class ParamList(ctypes.Structure):
    _fields_ = [("items", ctypes.c_void_p), ("count", ctypes.c_int), ("capacity", ctypes.c_int)]


class CharLMConfig(ctypes.Structure):
    _fields_ = [("cell", ctypes.c_int), ("vocab_size", ctypes.c_int),
                ("hidden_size", ctypes.c_int), ("num_layers", ctypes.c_int),
                ("dropout", ctypes.c_float)]


class Seq2SeqConfig(ctypes.Structure):
    _fields_ = [("cell", ctypes.c_int), ("source_vocab_size", ctypes.c_int),
                ("target_vocab_size", ctypes.c_int),
                ("hidden_size", ctypes.c_int), ("num_layers", ctypes.c_int),
                ("bidirectional", ctypes.c_int), ("dropout", ctypes.c_float),
                ("padded_steps", ctypes.c_int), ("attention", ctypes.c_int),
                ("embedding_size", ctypes.c_int)]


class Sampling(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_double), ("top_k", ctypes.c_int),
                ("top_p", ctypes.c_double), ("first_id", ctypes.c_int)]


class Batch(ctypes.Structure):
    _fields_ = [("size", ctypes.c_int), ("input_steps", ctypes.c_int),
                ("target_steps", ctypes.c_int), ("inputs", _int_p), ("input_lengths", _int_p),
                ("targets", _int_p), ("target_lengths", _int_p), ("index", _int_p)]


class Library:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.el_last_error.restype = ctypes.c_char_p
        self.lib.el_charlm_generator_logits.restype = ctypes.POINTER(ctypes.c_float)
        self.lib.el_set_threads(1)

    def call(self, name, *args):
        if getattr(self.lib, name)(*args) != 0:
            raise RuntimeError("%s: %s" % (name, self.lib.el_last_error().decode("utf-8")))

    def charlm(self, path, cell, vocab_size, hidden, layers, dropout=0.0):
        return _Model(self, path, "charlm",
                      CharLMConfig(CELLS[cell], vocab_size, hidden, layers, dropout))

    def seq2seq(self, path, cell, vocab_size, hidden, layers, bidirectional, dropout=0.0,
                padded_steps=0, attention="none", embedding=0, target_vocab_size=0):
        return _Model(self, path, "seq2seq",
                      Seq2SeqConfig(CELLS[cell], vocab_size, target_vocab_size or vocab_size,
                                    hidden, layers, int(bidirectional), dropout, padded_steps,
                                    ATTENTIONS[attention], embedding))


class _Model:
    """A model read from a checkpoint as the programs read it: init without
    a generator, el_checkpoint_load_params, evaluation mode."""

    def __init__(self, library, path, kind, config):
        self.library, self.kind, self.config = library, kind, config
        self.model = ctypes.create_string_buffer(MODEL_BYTES)
        self.params = ParamList()
        self.ready = False
        call = library.call
        checkpoint = ctypes.c_void_p()
        call("el_checkpoint_read", ctypes.byref(checkpoint), path.encode())
        try:
            call("el_%s_init" % kind, self.model, ctypes.byref(config), None)
            self.ready = True
            call("el_%s_params" % kind, self.model, ctypes.byref(self.params))
            call("el_checkpoint_load_params", checkpoint, ctypes.byref(self.params))
        except RuntimeError:
            self.close()
            raise
        finally:
            library.lib.el_checkpoint_free(checkpoint)
        getattr(library.lib, "el_%s_set_training" % kind)(self.model, 0)

    def close(self):
        lib = self.library.lib
        lib.el_param_list_free(ctypes.byref(self.params))
        if self.ready:
            getattr(lib, "el_%s_free" % self.kind)(self.model)
            self.ready = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def logits_of(self, ids):
        """charlm: the logits el_charlm_generator_logits gives after each
        id is fed, from a zero state, as a (len(ids), V) array."""
        lib, V = self.library.lib, self.config.vocab_size
        generator = ctypes.c_void_p()
        how = Sampling(1.0, 0, 1.0, SPECIALS)
        self.library.call("el_charlm_generator_create", ctypes.byref(generator), self.model,
                          ctypes.byref(how))
        out = np.empty((len(ids), V), dtype=np.float32)
        try:
            for t, i in enumerate(ids):
                self.library.call("el_charlm_generator_feed", generator, int(i))
                out[t] = np.ctypeslib.as_array(lib.el_charlm_generator_logits(generator), (V,))
        finally:
            lib.el_charlm_generator_free(generator)
        return out

    def stream_loss(self, streams, steps=128):
        """charlm: el_charlm_loss_of over B streams of ids (an (T + 1, B)
        array: inputs are rows 0..T-1, targets rows 1..T), steps at a time
        with the state carried, as charlm eval reads a text; returns the
        summed nats and how many targets counted."""
        streams = np.ascontiguousarray(streams, dtype=np.int32)
        T, B = streams.shape[0] - 1, streams.shape[1]
        state = ctypes.create_string_buffer(STATE_BYTES)
        total, counted = 0.0, 0
        try:
            for first in range(0, T, steps):
                n = min(steps, T - first)
                inputs = np.ascontiguousarray(streams[first:first + n])
                targets = np.ascontiguousarray(streams[first + 1:first + n + 1])
                nats, count = ctypes.c_double(), ctypes.c_long()
                self.library.call("el_charlm_loss_of", self.model,
                                  inputs.ctypes.data_as(_int_p), targets.ctypes.data_as(_int_p),
                                  n, B, state, ctypes.byref(nats), ctypes.byref(count))
                total += nats.value
                counted += count.value
        finally:
            self.library.lib.el_charlm_state_free(state)
        return total, counted

    def loss_of(self, source, target):
        """seq2seq: el_seq2seq_loss_of for a batch of one example."""
        src = (ctypes.c_int * len(source))(*source)
        tgt = (ctypes.c_int * len(target))(*target)
        index = (ctypes.c_int * 1)(0)
        input_length = (ctypes.c_int * 1)(len(source))
        target_length = (ctypes.c_int * 1)(len(target))
        batch = Batch(1, len(source), len(target), *(ctypes.cast(a, _int_p) for a in (
            src, input_length, tgt, target_length, index)))
        loss = ctypes.c_float()
        self.library.call("el_seq2seq_loss_of", self.model, ctypes.byref(batch),
                          ctypes.byref(loss))
        return loss.value
