#!/usr/bin/python3
"""Writes tests/fixtures/seq2seq_attention.txt: PyTorch's results for
elman's seq2seq model with attention (elman/seq2seq.h).

The model is built here with elman's parameter names and equations: an
encoder (embedding or one-hot, then the recurrent layers; the decoder
starts from its final state summed over directions), and a decoder that
runs one step at a time over <sos> target, predicting target <eos>:

    additive       context from the top layer's previous state (the
                   tutorial's BahdanauAttention), the rnn reads
                   [symbol; context], the output layer reads its output
    dot, general   the rnn reads [symbol; h~ of the previous step] (zeros
                   first), then context from its output h, h~ = tanh(W_c
                   [context; h]) ("decoder.concat", no bias), the output
                   layer reads h~

Padded source steps are masked (-inf before the softmax); an example past
its target's end keeps its state and outputs zeros, as packed sequences do.
tests/test_seq2seq_attention.c loads these weights and compares.  Run it
with a Python that has torch (Debian's does):

    /usr/bin/python3 tools/make_seq2seq_fixtures.py

Every configuration <cfg> has, time-major as elman's batches:

    <cfg>.source (S, B), <cfg>.source_lengths (B)
    <cfg>.target (T, B), <cfg>.target_lengths (B)   padded with 0 (<pad>)
    <cfg>.<param>, <cfg>.d<param>   every parameter and its gradient
    <cfg>.loss                      the mean cross-entropy over the targets and <eos>
    <cfg>.greedy (B, MAX_LENGTH + 1)  greedy decoding's ids, -1 past the end (as
                                    elman's, it runs MAX_LENGTH + 1 steps, and
                                    the last may add a symbol)
    <cfg>.greedy_weights (B, steps, S)  its attention weights per step
"""

import os

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from make_attention_fixtures import BahdanauAttention, DotAttention, GeneralAttention
from make_fixtures import Writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "seq2seq_attention.txt")

PAD, SOS, EOS, SPECIALS = 0, 1, 2, 4
SOURCE_VOCAB, TARGET_VOCAB, HIDDEN = 8, 7, 4
SOURCE_LENGTHS = [3, 1, 2]
TARGET_LENGTHS = [2, 3, 1]
MAX_LENGTH = 5
ATTENTIONS = {"additive": BahdanauAttention, "dot": DotAttention, "general": GeneralAttention}
CELLS = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}

# (name, cell, attention, layers, bidirectional, embedding); the C test has the same list.
CONFIGS = [
    ("additive_gru", "gru", "additive", 1, False, 3),
    ("additive_gru_onehot_bi", "gru", "additive", 1, True, 0),
    ("dot_gru", "gru", "dot", 1, False, 0),
    ("dot_gru_bi", "gru", "dot", 1, True, 3),
    ("general_gru_bi", "gru", "general", 1, True, 3),
    ("additive_lstm_l2", "lstm", "additive", 2, False, 3),
]


class Seq2Seq(torch.nn.Module):
    def __init__(self, cell, attention, layers, bidirectional, embedding):
        super().__init__()
        self.cell, self.kind, self.layers = cell, attention, layers
        self.directions = 2 if bidirectional else 1
        self.embedding = embedding
        H, K = HIDDEN, HIDDEN * self.directions
        self.encoder = torch.nn.Module()
        self.decoder = torch.nn.Module()
        if embedding:
            self.encoder.embedding = torch.nn.Embedding(SOURCE_VOCAB, embedding)
            self.decoder.embedding = torch.nn.Embedding(TARGET_VOCAB, embedding)
        self.encoder.add_module(cell, CELLS[cell](embedding or SOURCE_VOCAB, H, layers,
                                                  bidirectional=bidirectional))
        self.decoder.attention = ATTENTIONS[attention](H, K)
        extra = K if attention == "additive" else H
        self.decoder.add_module(cell, CELLS[cell]((embedding or TARGET_VOCAB) + extra, H, layers))
        if attention != "additive":
            self.decoder.concat = torch.nn.Linear(K + H, H, bias=False)
        self.decoder.fc = torch.nn.Linear(H, TARGET_VOCAB)

    def symbols(self, ids, side):
        if self.embedding:
            return getattr(self, side).embedding(ids)
        return F.one_hot(ids, SOURCE_VOCAB if side == "encoder" else TARGET_VOCAB).float()

    def encode(self, source, lengths):
        x = self.symbols(source, "encoder")
        packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        out, state = getattr(self.encoder, self.cell)(packed)
        keys, _ = pad_packed_sequence(out, total_length=source.shape[0])
        def summed(s):
            return s.view(self.layers, self.directions, -1, HIDDEN).sum(1)
        state = tuple(summed(s) for s in state) if self.cell == "lstm" else summed(state)
        mask = torch.arange(source.shape[0]).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)
        return keys, state, mask

    def attend(self, query, keys, mask):
        batch_keys = keys.transpose(0, 1)
        scores = self.decoder.attention.scores(query.unsqueeze(1), batch_keys)
        weights = F.softmax(scores.masked_fill(mask.unsqueeze(1), float("-inf")), dim=-1)
        return torch.bmm(weights, batch_keys).squeeze(1), weights.squeeze(1)

    def step(self, ids, state, feed, keys, mask):
        """One step over the batch: (logits, new state, new feed, weights)."""
        top = (state[0] if self.cell == "lstm" else state)[-1]
        sym = self.symbols(ids, "decoder")
        rnn = getattr(self.decoder, self.cell)
        if self.kind == "additive":
            ctx, w = self.attend(top, keys, mask)
            out, state = rnn(torch.cat([sym, ctx], 1).unsqueeze(0), state)
            return self.decoder.fc(out[0]), state, None, w
        out, state = rnn(torch.cat([sym, feed], 1).unsqueeze(0), state)
        ctx, w = self.attend(out[0], keys, mask)
        ht = torch.tanh(self.decoder.concat(torch.cat([ctx, out[0]], 1)))
        return self.decoder.fc(ht), state, ht, w


def keep(active, new, old):
    """The new state where a row is active, the old one elsewhere."""
    if isinstance(new, tuple):
        return tuple(keep(active, n, o) for n, o in zip(new, old))
    return torch.where(active.view(1, -1, 1), new, old)


def loss_of(model, source, target_in, target_out, lengths):
    keys, state, mask = model.encode(source, SOURCE_LENGTHS)
    B = source.shape[1]
    feed = torch.zeros(B, HIDDEN)
    logits = []
    for t in range(target_in.shape[0]):
        active = torch.tensor([t < n for n in lengths])
        out, new_state, new_feed, _ = model.step(target_in[t], state, feed, keys, mask)
        state = keep(active, new_state, state)
        if new_feed is not None:
            feed = new_feed
        logits.append(out)
    logits = torch.stack(logits).view(-1, TARGET_VOCAB)
    return F.cross_entropy(logits, target_out.reshape(-1), ignore_index=PAD)


def greedy(model, source, b):
    """Example b alone: its ids and each step's weights."""
    src = source[:, b:b + 1]
    keys, state, mask = model.encode(src[:SOURCE_LENGTHS[b]], [SOURCE_LENGTHS[b]])
    feed = torch.zeros(1, HIDDEN)
    ids, weights, prev = [], [], torch.tensor([SOS])
    for t in range(MAX_LENGTH + 1):
        out, state, new_feed, w = model.step(prev, state, feed, keys, mask)
        feed = new_feed if new_feed is not None else feed
        weights.append(w[0])
        best = int(out[0].argmax())
        # After MAX_LENGTH symbols the step may only end the output.
        if best in (PAD, SOS, EOS) or t == MAX_LENGTH:
            break
        ids.append(best)
        prev = torch.tensor([best])
    return ids, weights


def configuration(w, seed, name, cell, attention, layers, bidirectional, embedding):
    w.section("%s: %s, %s attention, %d layer(s), %s, embedding %d" %
              (name, cell, attention, layers, "bidirectional" if bidirectional else
               "one direction", embedding))
    torch.manual_seed(seed)
    model = Seq2Seq(cell, attention, layers, bidirectional, embedding)
    for p in model.parameters():  # larger than the default, so that the gradients are
        torch.nn.init.uniform_(p, -0.8, 0.8)  # well above float rounding
    with torch.no_grad():  # and the end symbols less likely, so that greedy decoding runs on
        model.decoder.fc.bias[:SPECIALS - 1] -= 1.5
    B, S, T = len(SOURCE_LENGTHS), max(SOURCE_LENGTHS), max(TARGET_LENGTHS)
    source = torch.randint(SPECIALS, SOURCE_VOCAB, (S, B))
    target = torch.randint(SPECIALS, TARGET_VOCAB, (T, B))
    for b in range(B):
        source[SOURCE_LENGTHS[b]:, b] = PAD
        target[TARGET_LENGTHS[b]:, b] = PAD
    target_in = torch.full((T + 1, B), PAD)
    target_out = torch.full((T + 1, B), PAD)
    for b in range(B):
        n = TARGET_LENGTHS[b]
        target_in[0, b] = SOS
        target_in[1:n + 1, b] = target[:n, b]
        target_out[:n, b] = target[:n, b]
        target_out[n, b] = EOS
    loss = loss_of(model, source, target_in, target_out, [n + 1 for n in TARGET_LENGTHS])
    loss.backward()

    prefix = name + "."
    w.put(prefix + "source", source)
    w.put(prefix + "source_lengths", torch.tensor(SOURCE_LENGTHS))
    w.put(prefix + "target", target)
    w.put(prefix + "target_lengths", torch.tensor(TARGET_LENGTHS))
    params = list(model.named_parameters())
    for pname, p in params:
        w.put(prefix + pname, p)
    w.put(prefix + "loss", loss)
    for pname, p in params:
        w.put(prefix + "d" + pname, p.grad)
    with torch.no_grad():
        decoded = [greedy(model, source, b) for b in range(B)]
    steps = max(len(ws) for _, ws in decoded)
    ids = torch.full((B, MAX_LENGTH), -1)
    weights = torch.zeros(B, steps, S)
    for b, (out, ws) in enumerate(decoded):
        ids[b, :len(out)] = torch.tensor(out, dtype=torch.long)
        for t, wt in enumerate(ws):
            weights[b, t, :wt.shape[0]] = wt
    w.put(prefix + "greedy", ids)
    w.put(prefix + "greedy_weights", weights)


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    w = Writer()
    w.lines[1] = ("# Made by: /usr/bin/python3 tools/make_seq2seq_fixtures.py "
                  "(do not edit by hand).")
    w.section("seq2seq with attention: source vocabulary %d, target %d, hidden %d; "
              "loss = mean cross-entropy, teacher forcing" % (SOURCE_VOCAB, TARGET_VOCAB, HIDDEN))
    for seed, config in enumerate(CONFIGS):
        configuration(w, 500 + seed, *config)
    w.save(os.path.normpath(OUT))


if __name__ == "__main__":
    main()
