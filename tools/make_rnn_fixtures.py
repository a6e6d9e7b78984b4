#!/usr/bin/python3
"""Writes tests/fixtures/rnn.txt: PyTorch's nn.RNN, nn.GRU and nn.LSTM results
for elman's recurrent layer.

tests/test_rnn.c builds an el_rnn of each configuration here, loads these
weights into it and compares its outputs and gradients with PyTorch's, so CI
needs no PyTorch.  Run it from anywhere with a Python that has torch
(Debian's does):

    /usr/bin/python3 tools/make_rnn_fixtures.py

The file format is the one tools/make_fixtures.py describes (and it writes
with the same Writer).  Every configuration <cfg> ("gru_l2bi", ...) has

    <cfg>.x (T, B, in)      random at the padded steps too: PyTorch ignores them
    <cfg>.lengths (B)
    <cfg>.h0 (layers*D, B, H)
    <cfg>.<param>           every parameter, under its PyTorch name
    <cfg>.y, <cfg>.hn       the outputs (y zero at padded steps)
    <cfg>.dy, <cfg>.dhn     random upstream gradients (dy zero at padded steps)
    <cfg>.dx, <cfg>.dh0,    the gradients of loss = sum(y dy) + sum(hn dhn)
    <cfg>.d<param>          (+ sum(cn dcn) for the LSTM); dx is zero at padded steps

and for the LSTM also c0, cn, dcn and dc0.  Dropout is 0: its masks are
random, so no other implementation could reproduce them.
"""

import os

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from make_fixtures import Writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "rnn.txt")

INPUT, HIDDEN, STEPS, BATCH = 3, 4, 5, 3
# Unsorted, so that elman's sort by length and its inverse are exercised.
RAGGED = [5, 2, 4]
EQUAL = [STEPS] * BATCH

CELLS = [
    ("rnn_tanh", lambda **kw: torch.nn.RNN(nonlinearity="tanh", **kw)),
    ("rnn_relu", lambda **kw: torch.nn.RNN(nonlinearity="relu", **kw)),
    ("gru", torch.nn.GRU),
    ("lstm", torch.nn.LSTM),
]
# (suffix, layers, bidirectional, lengths); tests/test_rnn.c has the same list.
SHAPES = [
    ("l1", 1, False, RAGGED),
    ("l2", 2, False, RAGGED),
    ("bi", 1, True, RAGGED),
    ("l2bi", 2, True, RAGGED),
    ("l1_equal", 1, False, EQUAL),
    ("l2bi_equal", 2, True, EQUAL),
]


def padding_mask(lengths):
    """(T, B, 1): 1 at the steps each sequence has, 0 at its padding."""
    steps = torch.arange(STEPS).unsqueeze(1)
    return (steps < torch.tensor(lengths).unsqueeze(0)).to(torch.float32).unsqueeze(2)


def configuration(w, seed, cell, make, suffix, layers, bidirectional, lengths):
    name = "%s_%s" % (cell, suffix)
    lstm = cell == "lstm"
    w.section("%s: %d layer(s), %s, lengths %s" %
              (name, layers, "bidirectional" if bidirectional else "unidirectional", lengths))
    torch.manual_seed(seed)
    module = make(input_size=INPUT, hidden_size=HIDDEN, num_layers=layers,
                  bidirectional=bidirectional, dropout=0.0)
    states = layers * (2 if bidirectional else 1)
    keep = padding_mask(lengths)
    # Random at the padded steps too: elman must ignore them, as PyTorch does.
    x = torch.randn(STEPS, BATCH, INPUT).requires_grad_()
    h0 = torch.randn(states, BATCH, HIDDEN).requires_grad_()
    c0 = torch.randn(states, BATCH, HIDDEN).requires_grad_()
    dy = torch.randn(STEPS, BATCH, states // layers * HIDDEN) * keep
    dhn = torch.randn(states, BATCH, HIDDEN)
    dcn = torch.randn(states, BATCH, HIDDEN)

    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    out, state = module(packed, (h0, c0) if lstm else h0)
    y, _ = pad_packed_sequence(out, total_length=STEPS)
    hn, cn = state if lstm else (state, None)
    loss = (y * dy).sum() + (hn * dhn).sum()
    if lstm:
        loss = loss + (cn * dcn).sum()
    loss.backward()

    prefix = name + "."
    w.put(prefix + "x", x)
    w.put(prefix + "lengths", torch.tensor(lengths))
    w.put(prefix + "h0", h0)
    if lstm:
        w.put(prefix + "c0", c0)
    params = list(module.named_parameters())
    for pname, p in params:
        w.put(prefix + pname, p)
    w.put(prefix + "y", y)
    w.put(prefix + "hn", hn)
    if lstm:
        w.put(prefix + "cn", cn)
    w.put(prefix + "dy", dy)
    w.put(prefix + "dhn", dhn)
    if lstm:
        w.put(prefix + "dcn", dcn)
    w.put(prefix + "dx", x.grad)
    w.put(prefix + "dh0", h0.grad)
    if lstm:
        w.put(prefix + "dc0", c0.grad)
    for pname, p in params:
        w.put(prefix + "d" + pname, p.grad)


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    w = Writer()
    # The Writer's header names make_fixtures.py; this file comes from here.
    w.lines[1] = "# Made by: /usr/bin/python3 tools/make_rnn_fixtures.py (do not edit by hand)."
    w.section("recurrent layers: input %d, hidden %d, T %d, B %d, dropout 0; loss = "
              "sum(y dy) + sum(hn dhn) (+ sum(cn dcn))" % (INPUT, HIDDEN, STEPS, BATCH))
    seed = 100
    for cell, make in CELLS:
        for suffix, layers, bidirectional, lengths in SHAPES:
            configuration(w, seed, cell, make, suffix, layers, bidirectional, lengths)
            seed += 1
    w.save(os.path.normpath(OUT))


if __name__ == "__main__":
    main()
