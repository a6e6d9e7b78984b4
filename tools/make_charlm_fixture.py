#!/usr/bin/python3
"""Writes the PyTorch fixtures of el_charlm's tests (tests/test_charlm.c):

    tests/fixtures/charlm.txt               a training step and a second chunk
    tests/fixtures/charlm-torch.safetensors the same model as charlm loads it

The model is the one include/elman/charlm.h describes, a 2-layer LSTM over
one-hot characters and a linear output layer, time-major, with PyTorch's
default initialisation.  Run it from anywhere with a Python that has torch
(Debian's does):

    /usr/bin/python3 tools/make_charlm_fixture.py

charlm.txt has the format tools/make_fixtures.py describes (written with its
Writer):

    inputs, targets (T, B)     ids 4..8 (EL_SPECIALS on); one target is 0
                               (<pad>), which the loss skips
    h0, c0 (layers, B, H)      the non-zero state the chunk starts from
    <param>                    every parameter, under its PyTorch name
    loss                       mean cross-entropy in nats over the targets
                               that count (cross_entropy, ignore_index=0)
    hn, cn                     the final state
    grad.<param>               d loss / d param
    chunk2.inputs, .targets    the next T steps of the same streams
    chunk2.loss                their loss from the detached hn, cn, as
                               truncated BPTT carries the state

The streams are contiguous text, as el_charlm_chunk cuts them: each target
is the next input, and the second chunk continues where the first stops.

charlm-torch.safetensors holds the same weights under the same names, with
the metadata `charlm generate` and `charlm eval` read (apps/charlm.c,
load_model_config), written by tools/make_safetensors_fixture.py's
serializer, so PyTorch makes the file and elman only reads it.  safetensors
itself writes several metadata keys in a HashMap's varying order; this file
has them in sorted order, which any reader accepts.
"""

import json
import os

import torch
import torch.nn.functional as F

from make_fixtures import Writer
from make_safetensors_fixture import serialize

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                         "tests", "fixtures"))

SPECIALS = ["<pad>", "<sos>", "<eos>", "<unk>"]
SYMBOLS = ["a", "b", "c", "d", "e"]
VOCAB, HIDDEN, LAYERS, STEPS, BATCH = len(SPECIALS) + len(SYMBOLS), 5, 2, 6, 3
PAD = 0
# (step, stream) of the target the loss skips.
PADDED = (2, 1)


class CharLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(VOCAB, HIDDEN, num_layers=LAYERS)
        self.fc = torch.nn.Linear(HIDDEN, VOCAB)

    def forward(self, ids, state):
        y, state = self.rnn(F.one_hot(ids, VOCAB).float(), state)
        return self.fc(y), state


def loss_of(logits, targets):
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), ignore_index=PAD)


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    torch.manual_seed(5)
    model = CharLM()
    # Two chunks of each stream and the target after them.
    text = torch.randint(len(SPECIALS), VOCAB, (2 * STEPS + 1, BATCH))
    inputs, targets = text[:STEPS], text[1:STEPS + 1].clone()
    targets[PADDED] = PAD
    inputs2, targets2 = text[STEPS:2 * STEPS], text[STEPS + 1:]
    h0 = 0.5 * torch.randn(LAYERS, BATCH, HIDDEN)
    c0 = 0.5 * torch.randn(LAYERS, BATCH, HIDDEN)

    logits, (hn, cn) = model(inputs, (h0, c0))
    loss = loss_of(logits, targets)
    loss.backward()
    with torch.no_grad():
        logits2, _ = model(inputs2, (hn.detach(), cn.detach()))
        loss2 = loss_of(logits2, targets2)

    w = Writer()
    # The Writer's header names make_fixtures.py; this file comes from here.
    w.lines[1] = "# Made by: /usr/bin/python3 tools/make_charlm_fixture.py (do not edit by hand)."
    w.section("charlm: nn.LSTM(%d, %d, num_layers=%d) + nn.Linear(%d, %d) over one-hot ids, "
              "T %d, B %d; target %s is <pad>" %
              (VOCAB, HIDDEN, LAYERS, HIDDEN, VOCAB, STEPS, BATCH, PADDED))
    w.put("inputs", inputs)
    w.put("targets", targets)
    w.put("h0", h0)
    w.put("c0", c0)
    params = list(model.named_parameters())
    for name, p in params:
        w.put(name, p)
    w.section("mean cross-entropy (nats), final state, gradients")
    w.put("loss", loss)
    w.put("hn", hn)
    w.put("cn", cn)
    for name, p in params:
        w.put("grad." + name, p.grad)
    w.section("the next %d steps from the first chunk's final state" % STEPS)
    w.put("chunk2.inputs", inputs2)
    w.put("chunk2.targets", targets2)
    w.put("chunk2.loss", loss2)
    w.save(os.path.join(FIXTURES, "charlm.txt"))

    tensors = {name: ("F32", list(p.shape), p.detach().flatten().tolist()) for name, p in params}
    vocab = json.dumps({"version": 1, "symbols": SPECIALS + SYMBOLS}, separators=(",", ":"))
    metadata = {"elman.kind": "charlm", "elman.vocab": vocab, "charlm.cell": "lstm",
                "charlm.hidden": str(HIDDEN), "charlm.layers": str(LAYERS),
                "charlm.dropout": "0"}
    path = os.path.join(FIXTURES, "charlm-torch.safetensors")
    with open(path, "wb") as f:
        f.write(serialize(tensors, dict(sorted(metadata.items()))))


if __name__ == "__main__":
    main()
