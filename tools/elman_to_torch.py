#!/usr/bin/python3
"""Loads an elman checkpoint (charlm or seq2seq) into torch.nn modules and,
with --check, runs elman's program and PyTorch on the same inputs.

    /usr/bin/python3 tools/elman_to_torch.py MODEL.safetensors [--check] [options]

The checkpoint's tensors are named as the modules' state_dict keys
(include/elman/charlm.h, include/elman/seq2seq.h), so the weights go in with
load_state_dict(strict=True): a missing, extra or misshapen tensor is an
error.  "optimizer.*" and "train.*" tensors (Adam's moments, the training
streams' state) are left out.  The configuration comes from the metadata
the programs write (apps/charlm.c and apps/seq2seq-train.c, save):
"elman.kind", "elman.vocab" (JSON: {"version": 1, "symbols": [...]}, ids in
list order, the four specials first), "<kind>.cell", ".hidden", ".layers",
".dropout", and for seq2seq ".bidirectional", ".padded_steps" and, where
present, ".attention" (none, additive, dot, general), ".embedding_size" and
".target_vocab" (a pairs model's own target vocabulary).  A seq2seq model
with attention or embeddings becomes the modules of
tools/make_seq2seq_fixtures.py (see Seq2Seq below).

--check, charlm (build/apps/charlm, or --program):
  - `charlm eval --model MODEL --text FILE` prints the bits per character of
    FILE, read as the same parallel streams (up to 32, at least 256
    characters each) from a zero state; PyTorch computes the same mean.  The
    program prints 4 decimals, so the two agree to within 1e-4.
  - `charlm generate --temperature 0` takes the likeliest character at every
    step; PyTorch does the same from the same prompt, and the texts must be
    identical.
--check, seq2seq (build/apps/seq2seq-train, or --program):
  - `seq2seq-train --predict --model MODEL` decodes reversed words greedily
    (one line each on standard input); PyTorch decodes the same words, and
    every output must be identical.  Word-reversal models only: a pairs
    model (with its own target vocabulary) loads, but is not checked.
The programs print rounded figures and ids, which a small error can pass
unseen; with libelman built (--library, default build/src/libelman.so) the
check also reads elman's numbers at full precision through its public API
(elman_library.py): the logits of el_charlm_generator after each character
and el_charlm_loss_of over the eval streams (charlm), el_seq2seq_loss_of
for each word (seq2seq); these must agree with PyTorch's within 1e-4.  The
smallest gap between the two likeliest symbols PyTorch met on the way is
printed too: a gap near float32 rounding could flip either way.

Texts become ids as elman makes them: NFC, then grapheme clusters.  Python's
standard library has no UAX #29 segmentation, so clusters() implements the
rules that matter for alphabetic text and emoji (CR LF, combining and
spacing marks, ZWJ sequences, variation selectors, skin tones, flag pairs);
texts where the rest matters (Hangul jamo, Indic conjuncts) may split
differently from ICU and are not a fair check.

Only json, struct, numpy and torch are needed (safetensors_io.py reads the
file).  Exit status: 0 on PASS, 1 on FAIL, 2 on a usage or file error.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import unicodedata

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from elman_library import Library  # noqa: E402
from make_attention_fixtures import (BahdanauAttention, DotAttention,  # noqa: E402
                                     GeneralAttention)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PAD, SOS, EOS, UNK, SPECIALS = 0, 1, 2, 3, 4
SPECIAL_NAMES = ["<pad>", "<sos>", "<eos>", "<unk>"]
# charlm eval's streams (apps/charlm.c, EVAL_STREAMS and EVAL_MIN_STREAM).
EVAL_STREAMS, EVAL_MIN_STREAM = 32, 256
# bpc is printed with 4 decimals: half a unit of the last, and float32's
# rounding over a long text, stay below this.
BPC_TOLERANCE = 1e-4
# elman and PyTorch compute in float32 with different summation orders;
# log-probabilities and losses of a correct load agree far closer than this.
LOGPROB_TOLERANCE = 1e-4
ATTENTIONS = {"additive": BahdanauAttention, "dot": DotAttention, "general": GeneralAttention}


# ---- text ---------------------------------------------------------------------

def _joins(cluster, c):
    """Whether code point c continues the cluster (see the docstring)."""
    prev = cluster[-1]
    o = ord(c)
    if prev == "\r":
        return c == "\n"
    if prev in "\n" or unicodedata.category(prev) == "Cc":
        return False
    if unicodedata.category(c) in ("Mn", "Me", "Mc") or c == "\u200d":
        return True
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF or 0x1F3FB <= o <= 0x1F3FF:
        return True
    if 0xE0020 <= o <= 0xE007F:  # emoji tag sequences (subdivision flags)
        return True
    if prev == "\u200d" and len(cluster) > 1:
        return True
    if 0x1F1E6 <= o <= 0x1F1FF:
        regional = [ch for ch in cluster if 0x1F1E6 <= ord(ch) <= 0x1F1FF]
        return len(regional) == len(cluster) and len(regional) % 2 == 1
    return False


def clusters(text):
    """text in NFC, split into grapheme clusters."""
    out = []
    for c in unicodedata.normalize("NFC", text):
        if out and _joins(out[-1], c):
            out[-1] += c
        else:
            out.append(c)
    return out


class Vocab:
    """A vocabulary read from the "elman.vocab" metadata."""

    def __init__(self, symbols):
        if symbols[:SPECIALS] != SPECIAL_NAMES:
            raise ValueError("the vocabulary does not start with %s" % " ".join(SPECIAL_NAMES))
        self.symbols = symbols
        self.ids = {s: i for i, s in enumerate(symbols) if i >= SPECIALS}

    @classmethod
    def from_json(cls, text):
        tree = json.loads(text)
        if tree.get("version") != 1:
            raise ValueError("vocabulary version %r is not 1" % tree.get("version"))
        return cls(tree["symbols"])

    def to_json(self):
        return json.dumps({"version": 1, "symbols": self.symbols}, separators=(",", ":"),
                          ensure_ascii=False)

    def __len__(self):
        return len(self.symbols)

    def encode(self, text):
        return [self.ids.get(c, UNK) for c in clusters(text)]

    def decode(self, ids):
        """As el_vocab_decode: <pad>, <sos>, <eos> skipped, <unk> as U+FFFD."""
        return "".join("\ufffd" if i == UNK else self.symbols[i] for i in ids if i >= UNK)


# ---- models -------------------------------------------------------------------

def make_rnn(cell, input_size, hidden, layers, dropout=0.0, bidirectional=False):
    """The torch.nn recurrent module of an elman cell name."""
    common = dict(num_layers=layers, dropout=dropout if layers > 1 else 0.0,
                  bidirectional=bidirectional)
    if cell == "lstm":
        return torch.nn.LSTM(input_size, hidden, **common)
    if cell == "gru":
        return torch.nn.GRU(input_size, hidden, **common)
    if cell in ("rnn", "rnn_tanh", "rnn_relu"):
        return torch.nn.RNN(input_size, hidden, nonlinearity="relu" if cell == "rnn_relu"
                            else "tanh", **common)
    raise ValueError("unknown cell %r" % cell)


class CharLM(torch.nn.Module):
    """el_charlm: one-hot ids, a stack of recurrent layers, a linear layer."""

    def __init__(self, cell, vocab_size, hidden, layers, dropout=0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = make_rnn(cell, vocab_size, hidden, layers, dropout)
        self.fc = torch.nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        """ids (T, B), time-major; returns logits (T, B, V) and the state."""
        y, state = self.rnn(F.one_hot(ids, self.vocab_size).float(), state)
        return self.fc(y), state


class Seq2Seq(torch.nn.Module):
    """el_seq2seq: an encoder over one-hot ids or an embedding whose final
    state, summed over directions, starts a one-direction decoder, and a
    linear layer; with attention, the modules of
    tools/make_seq2seq_fixtures.py (the attention classes are
    tools/make_attention_fixtures.py's): additive, the decoder's cell reads
    [symbol; context] with the top layer's state before the step as the
    query; dot and general, it reads [symbol; h~ of the step before] (zeros
    first), and h~ = tanh(concat [context; output]) feeds the output layer.
    The keys are the encoder's outputs (both directions side by side; dot
    sums them)."""

    def __init__(self, cell, vocab_size, hidden, layers, bidirectional, dropout=0.0,
                 padded_steps=0, attention="none", embedding=0, target_vocab_size=0):
        super().__init__()
        # elman names the modules by cell: "encoder.gru.weight_ih_l0".
        self.prefix = "gru" if cell == "gru" else "lstm" if cell == "lstm" else "rnn"
        self.vocab_size, self.layers, self.padded_steps = vocab_size, layers, padded_steps
        self.target_vocab_size = target_vocab_size or vocab_size
        self.attention, self.embedding_size = attention, embedding
        self.directions = 2 if bidirectional else 1
        H, K = hidden, hidden * self.directions
        extra = {"none": 0, "additive": K, "dot": H, "general": H}[attention]
        self.encoder = torch.nn.Module()
        self.decoder = torch.nn.Module()
        if embedding:
            self.encoder.embedding = torch.nn.Embedding(vocab_size, embedding)
            self.decoder.embedding = torch.nn.Embedding(self.target_vocab_size, embedding)
        self.encoder.add_module(self.prefix, make_rnn(cell, embedding or vocab_size, hidden,
                                                      layers, dropout, bidirectional))
        if attention != "none":
            self.decoder.attention = ATTENTIONS[attention](H, K)
        self.decoder.add_module(self.prefix, make_rnn(
            cell, (embedding or self.target_vocab_size) + extra, hidden, layers, dropout))
        if attention in ("dot", "general"):
            self.decoder.concat = torch.nn.Linear(K + H, H, bias=False)
        self.decoder.fc = torch.nn.Linear(hidden, self.target_vocab_size)

    def symbols(self, ids, side):
        """(len(ids), 1, width): the embeddings or one-hot vectors of ids."""
        ids = torch.tensor(ids).view(-1, 1)
        if self.embedding_size:
            return getattr(self, side).embedding(ids)
        size = self.vocab_size if side == "encoder" else self.target_vocab_size
        return F.one_hot(ids, size).float()

    def encode(self, ids):
        """The keys (S, 1, K) and the decoder's initial state for one source
        sequence (with padded_steps, framed and padded as elman frames it,
        and every step a key)."""
        if self.padded_steps:
            steps = self.padded_steps + 1
            if len(ids) + 2 > steps:
                raise ValueError("a source of %d symbols does not fit %d padded steps" %
                                 (len(ids), self.padded_steps))
            ids = [SOS] + ids + [EOS] + [PAD] * (steps - len(ids) - 2)
        keys, state = getattr(self.encoder, self.prefix)(self.symbols(ids, "encoder"))

        def summed(s):
            return s.view(self.layers, self.directions, *s.shape[1:]).sum(1)

        state = tuple(summed(s) for s in state) if isinstance(state, tuple) else summed(state)
        return keys, state

    def attend(self, query, keys):
        """The context (1, K) of query (1, H) over keys (S, 1, K)."""
        batch_keys = keys.transpose(0, 1)
        scores = self.decoder.attention.scores(query.unsqueeze(1), batch_keys)
        return torch.bmm(F.softmax(scores, dim=-1), batch_keys).squeeze(1)

    def step(self, previous, state, feed, keys):
        """One decoder step reading id previous: (logits (V,), state, feed)."""
        sym = self.symbols([previous], "decoder")[0]
        rnn = getattr(self.decoder, self.prefix)
        if self.attention == "none":
            out, state = rnn(sym.unsqueeze(0), state)
            return self.decoder.fc(out[0])[0], state, feed
        if self.attention == "additive":
            top = (state[0] if isinstance(state, tuple) else state)[-1]
            out, state = rnn(torch.cat([sym, self.attend(top, keys)], 1).unsqueeze(0), state)
            return self.decoder.fc(out[0])[0], state, feed
        out, state = rnn(torch.cat([sym, feed], 1).unsqueeze(0), state)
        ht = torch.tanh(self.decoder.concat(torch.cat([self.attend(out[0], keys), out[0]], 1)))
        return self.decoder.fc(ht)[0], state, ht

    def start(self, source):
        keys, state = self.encode(source)
        return keys, state, torch.zeros(1, self.decoder.fc.in_features)

    def forced_loss(self, source, target):
        """el_seq2seq_loss_of for one example: the decoder reads <sos> and the
        target and predicts the target and <eos>; the mean cross-entropy
        over those, or with padded_steps N over all N steps, <pad> included."""
        steps = self.padded_steps or len(target) + 1
        given = ([SOS] + target + [EOS] + [PAD] * steps)[:steps]
        wanted = torch.tensor((target + [EOS] + [PAD] * steps)[:steps])
        keys, state, feed = self.start(source)
        logits = []
        for previous in given:
            out, state, feed = self.step(previous, state, feed, keys)
            logits.append(out)
        return float(F.cross_entropy(torch.stack(logits), wanted))

    def greedy(self, ids, max_length):
        """el_seq2seq_decode with beam 1: at most max_length ids (the step
        after them may only end the output), and the smallest gap between
        the two likeliest symbols over the steps taken."""
        steps = max_length + 1
        if self.padded_steps and self.padded_steps < steps:
            steps = self.padded_steps
        keys, state, feed = self.start(ids)
        previous, out, gap = SOS, [], math.inf
        for t in range(steps):
            logits, state, feed = self.step(previous, state, feed, keys)
            top = torch.topk(logits, 2).values
            gap = min(gap, float(top[0] - top[1]))
            previous = int(torch.argmax(logits))
            if previous in (PAD, SOS, EOS) or t == max_length:
                break
            out.append(previous)
        return out, gap


def state_dict_of(tensors):
    """The model's tensors: everything but the optimizer's and training's."""
    return {name: torch.from_numpy(array) for name, array in tensors.items()
            if not name.startswith(("optimizer.", "train."))}


def meta(metadata, path, key):
    if key not in metadata:
        raise ValueError("%s: no \"%s\" in its metadata" % (path, key))
    return metadata[key]


def load(path):
    """(kind, model, vocab, metadata) of an elman checkpoint, the weights
    loaded strictly, the model in evaluation mode."""
    tensors, metadata = safetensors_io.read(path)
    kind = meta(metadata, path, "elman.kind")
    vocab = Vocab.from_json(meta(metadata, path, "elman.vocab"))

    def number(key, type_):
        return type_(meta(metadata, path, "%s.%s" % (kind, key)))

    if kind == "charlm":
        model = CharLM(meta(metadata, path, "charlm.cell"), len(vocab), number("hidden", int),
                       number("layers", int), number("dropout", float))
    elif kind == "seq2seq":
        # Absent in older files: no attention, one-hot inputs, one vocabulary.
        target = metadata.get("seq2seq.target_vocab")
        target = Vocab.from_json(target) if target else None
        attention = metadata.get("seq2seq.attention", "none")
        if attention not in ("none", *ATTENTIONS):
            raise ValueError("%s: unknown seq2seq.attention \"%s\"" % (path, attention))
        model = Seq2Seq(meta(metadata, path, "seq2seq.cell"), len(vocab),
                        number("hidden", int), number("layers", int),
                        bool(number("bidirectional", int)), number("dropout", float),
                        number("padded_steps", int), attention,
                        int(metadata.get("seq2seq.embedding_size", "0")),
                        len(target) if target else 0)
        model.target_vocab = target or vocab
    else:
        raise ValueError("%s: a model of kind \"%s\" (charlm and seq2seq are known)" %
                         (path, kind))
    model.load_state_dict(state_dict_of(tensors), strict=True)
    model.eval()
    return kind, model, vocab, metadata


# ---- charlm in PyTorch --------------------------------------------------------

def eval_streams(ids):
    """The streams charlm eval reads a text as: B contiguous runs of L + 1
    ids (each input's target is the next id), as a (L + 1, B) tensor."""
    count = len(ids)
    B = max(1, min(EVAL_STREAMS, (count - 1) // EVAL_MIN_STREAM))
    L = (count - 1) // B
    text = torch.tensor(ids)
    return torch.stack([text[b * L:b * L + L + 1] for b in range(B)], dim=1)


def torch_bpc(model, ids):
    """charlm eval's figure: ids read as eval_streams from a zero state, the
    mean cross-entropy in bits of every next id."""
    streams = eval_streams(ids)
    with torch.no_grad():
        logits, _ = model(streams[:-1])
        nats = F.cross_entropy(logits.reshape(-1, model.vocab_size).double(),
                               streams[1:].reshape(-1), ignore_index=PAD, reduction="sum")
    counted = int((streams[1:] != PAD).sum())
    return float(nats) / counted / math.log(2.0)


def torch_greedy(model, prompt_ids, length):
    """charlm generate --temperature 0: the likeliest id of SPECIALS and above,
    fed back length times; the ids and the smallest top-two gap."""
    out, gap = [], math.inf
    with torch.no_grad():
        logits, state = model(torch.tensor(prompt_ids).view(-1, 1))
        for _ in range(length):
            allowed = logits[-1, 0, SPECIALS:]
            top = torch.topk(allowed, 2).values
            gap = min(gap, float(top[0] - top[1]))
            nxt = SPECIALS + int(torch.argmax(allowed))
            out.append(nxt)
            logits, state = model(torch.tensor([[nxt]]), state)
    return out, gap


def run(command):
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(command), done.returncode,
                                                   done.stderr.decode("utf-8", "replace")))
    return done.stdout.decode("utf-8")


def check_charlm(path, model, vocab, program, text_path, prompt, length, library=None,
                 compared=2000):
    """Runs both and prints the comparison; returns True on PASS."""
    with open(text_path, encoding="utf-8") as f:
        text = f.read()
    ids = vocab.encode(text)
    logprob_diff, logprob_ok, full_bpc, full_diff = None, True, None, None
    if library:
        rnn = model.rnn
        cell = "lstm" if isinstance(rnn, torch.nn.LSTM) else "gru" if isinstance(
            rnn, torch.nn.GRU) else "rnn_relu" if rnn.nonlinearity == "relu" else "rnn"
        first = ids[:compared]
        with library.charlm(path, cell, model.vocab_size, rnn.hidden_size, rnn.num_layers) as m:
            theirs = torch.from_numpy(m.logits_of(first))
            nats, counted = m.stream_loss(eval_streams(ids).numpy())
            full_bpc = nats / counted / math.log(2.0)
        with torch.no_grad():
            ours = model(torch.tensor(first).view(-1, 1))[0][:, 0]
        logprob_diff = float((F.log_softmax(ours, -1) - F.log_softmax(theirs, -1)).abs().max())
        logprob_ok = logprob_diff <= LOGPROB_TOLERANCE
        print("next-character log-probabilities over the first %d characters (libelman's "
              "generator against PyTorch): max |difference| %.2e %s" %
              (len(first), logprob_diff, "PASS" if logprob_ok else "FAIL"))
    printed = run([program, "eval", "--model", path, "--text", text_path, "--threads", "1"])
    elman_bpc = float([l for l in printed.splitlines() if l.startswith("bpc:")][0].split()[1])
    ours = torch_bpc(model, ids)
    diff = abs(ours - elman_bpc)
    bpc_ok = diff <= BPC_TOLERANCE
    print("bpc of %s (%d characters): charlm eval %.4f, PyTorch %.7f, |difference| %.2e %s" %
          (text_path, len(ids), elman_bpc, ours, diff, "PASS" if bpc_ok else "FAIL"))
    if full_bpc is not None:
        full_diff = abs(ours - full_bpc)
        bpc_ok = bpc_ok and full_diff <= LOGPROB_TOLERANCE
        print("the same through libelman's el_charlm_loss_of: %.7f, |difference| %.2e %s" %
              (full_bpc, full_diff, "PASS" if full_diff <= LOGPROB_TOLERANCE else "FAIL"))

    generated = run([program, "generate", "--model", path, "--prompt", prompt, "--length",
                     str(length), "--temperature", "0", "--threads", "1"])
    prompt_ids = vocab.encode(prompt)
    out, gap = torch_greedy(model, prompt_ids, length)
    expected = unicodedata.normalize("NFC", prompt) + vocab.decode(out)
    if not expected.endswith("\n"):
        expected += "\n"
    same = generated == expected
    where = next((i for i, (a, b) in enumerate(zip(generated, expected)) if a != b),
                 min(len(generated), len(expected)))
    print("greedy generation, %d characters after %r: %s (smallest top-two gap %.3g)" %
          (length, prompt, "identical PASS" if same else
           "differs from character %d FAIL" % where, gap))
    if not same:
        print("  elman:   %r\n  PyTorch: %r" % (generated[:where + 40], expected[:where + 40]))
    ok = bpc_ok and same and logprob_ok
    print("%s: bpc difference %.2e (charlm eval's rounded figure)%s;%s greedy text %s" %
          ("PASS" if ok else "FAIL", diff, "" if full_diff is None else
           ", %.2e (libelman's)" % full_diff, "" if logprob_diff is None else
           " max log-probability difference %.2e;" % logprob_diff,
           "identical" if same else "different"))
    return ok


# ---- seq2seq ------------------------------------------------------------------

def seq2seq_config(model):
    rnn = getattr(model.encoder, model.prefix)
    cell = model.prefix if model.prefix != "rnn" else (
        "rnn_relu" if rnn.nonlinearity == "relu" else "rnn")
    return (cell, model.vocab_size, rnn.hidden_size, rnn.num_layers, model.directions == 2,
            0.0, model.padded_steps, model.attention, model.embedding_size,
            model.target_vocab_size)


def check_seq2seq(path, model, vocab, program, words, library=None):
    """Decodes the reversed words with both; returns True on PASS."""
    if model.target_vocab is not vocab:
        raise RuntimeError("%s has a target vocabulary of its own (a pairs model): --check "
                           "compares word-reversal models only" % path)
    reversed_words = ["".join(reversed(clusters(w))) for w in words]
    if model.padded_steps:
        reversed_words = [w for w in reversed_words
                          if len(clusters(w)) + 2 <= model.padded_steps + 1]
    printed = run_input([program, "--predict", "--model", path, "--threads", "1"],
                        "".join(w + "\n" for w in reversed_words))
    elman = printed.split("\n")[:len(reversed_words)]
    mismatched, gap, right = 0, math.inf, 0
    with torch.no_grad():
        for word, source, theirs in zip(words, reversed_words, elman):
            ids = vocab.encode(source)
            if not ids:
                ours, g = [], math.inf
            else:
                ours, g = model.greedy(ids, len(ids) + 8)  # seq2seq-train's predict_one
            gap = min(gap, g)
            text = model.target_vocab.decode(ours)
            right += text == unicodedata.normalize("NFC", word)
            if text != theirs:
                mismatched += 1
                if mismatched <= 5:
                    print("  %r: elman %r, PyTorch %r" % (source, theirs, text))
    n = len(reversed_words)
    loss_diff, loss_ok = None, True
    if library:
        loss_diff = 0.0
        with library.seq2seq(path, *seq2seq_config(model)) as m, torch.no_grad():
            for word, source in zip(words, reversed_words):
                src, tgt = vocab.encode(source), model.target_vocab.encode(word)
                if src:
                    loss_diff = max(loss_diff, abs(m.loss_of(src, tgt) -
                                                   model.forced_loss(src, tgt)))
        loss_ok = loss_diff <= LOGPROB_TOLERANCE
        print("teacher-forced loss of each of the %d words (el_seq2seq_loss_of against "
              "PyTorch): max |difference| %.2e %s" % (n, loss_diff, "PASS" if loss_ok
                                                       else "FAIL"))
    ok = mismatched == 0 and len(elman) == n and loss_ok
    print("greedy decoding of %d reversed words: %d differ (smallest top-two gap %.3g); "
          "PyTorch restores %d of them" % (n, mismatched, gap, right))
    print("%s: %d of %d decodings differ%s" % (
        "PASS" if ok else "FAIL", mismatched, n,
        "" if loss_diff is None else "; max loss difference %.2e" % loss_diff))
    return ok


def run_input(command, text):
    done = subprocess.run(command, input=text.encode("utf-8"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(command), done.returncode,
                                                   done.stderr.decode("utf-8", "replace")))
    return done.stdout.decode("utf-8")


def default_text(lines):
    """The first lines of the bundled glosses, in a temporary file."""
    with open(os.path.join(ROOT, "corpora", "wordnet-glosses.txt"), encoding="utf-8") as f:
        chosen = [next(f) for _ in range(lines)]
    handle, name = tempfile.mkstemp(prefix="elman-check-", suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write("".join(chosen))
    return name


def default_words(count):
    """Every 97th word of the bundled list, up to count."""
    with open(os.path.join(ROOT, "corpora", "wordnet-words.txt"), encoding="utf-8") as f:
        words = [w.strip() for w in f if w.strip()]
    return words[::97][:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="an elman checkpoint (charlm or seq2seq)")
    parser.add_argument("--check", action="store_true",
                        help="run elman's program and PyTorch on the same inputs")
    parser.add_argument("--program", help="charlm or seq2seq-train (default: build/apps/...)")
    parser.add_argument("--text", help="charlm: the text to score (default: the first 300 "
                        "lines of corpora/wordnet-glosses.txt)")
    parser.add_argument("--prompt", default="able: ", help="charlm: the greedy prompt")
    parser.add_argument("--length", type=int, default=300,
                        help="charlm: characters to generate greedily (default 300)")
    parser.add_argument("--words", help="seq2seq: one word per line (default: 300 words of "
                        "corpora/wordnet-words.txt); each is reversed and decoded")
    parser.add_argument("--count", type=int, default=300, help="seq2seq: words to decode")
    parser.add_argument("--library", default=os.path.join(ROOT, "build", "src", "libelman.so"),
                        help="libelman, for the full-precision comparisons (skipped when the "
                        "file is missing)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        kind, model, vocab, metadata = load(args.model)
    except (OSError, ValueError, RuntimeError) as e:
        print("elman_to_torch: %s" % e, file=sys.stderr)
        return 2
    numel = sum(p.numel() for p in model.parameters())
    print("%s: %s model, %d symbols, %d parameters, loaded with load_state_dict(strict=True)"
          % (args.model, kind, len(vocab), numel))
    print(model)
    if not args.check:
        return 0
    program = args.program or os.path.join(
        ROOT, "build", "apps", "charlm" if kind == "charlm" else "seq2seq-train")
    try:
        library = Library(args.library) if os.path.exists(args.library) else None
        if not library:
            print("(no %s: comparing the programs' output only)" % args.library)
        if kind == "charlm":
            text = args.text or default_text(300)
            try:
                ok = check_charlm(args.model, model, vocab, program, text, args.prompt,
                                  args.length, library)
            finally:
                if not args.text:
                    os.remove(text)
        else:
            if args.words:
                with open(args.words, encoding="utf-8") as f:
                    words = [w.strip() for w in f if w.strip()][:args.count]
            else:
                words = default_words(args.count)
            ok = check_seq2seq(args.model, model, vocab, program, words, library)
    except (OSError, RuntimeError) as e:
        print("elman_to_torch: %s" % e, file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
