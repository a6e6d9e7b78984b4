#!/usr/bin/python3
"""Writes tests/fixtures/attention.txt: PyTorch's results for elman's
attention layer (elman/attention.h).

The additive score is the BahdanauAttention of PyTorch's seq2seq tutorial
(Wa, Ua, Va nn.Linear with bias; Ua reads the keys, which may be twice the
query's size); dot is q . k with a bidirectional encoder's two halves of k
summed; general is q . (W k), W an nn.Linear without bias.  Padded source
steps are masked with -inf before the softmax.  tests/test_attention.c
loads these weights and compares.  Run it from anywhere with a Python that
has torch (Debian's does):

    /usr/bin/python3 tools/make_attention_fixtures.py

Every configuration <cfg> ("additive_k6", ...) has, time-major as elman:

    <cfg>.keys (S, B, K)       random at the padded steps too: they must be ignored
    <cfg>.lengths (B)
    <cfg>.queries (T, B, H)    one query per decoder step
    <cfg>.<param>              every parameter, under its PyTorch name
    <cfg>.context (T, B, K), <cfg>.weights (T, B, S)
    <cfg>.dcontext (T, B, K)   random upstream gradients
    <cfg>.dqueries, <cfg>.dkeys, <cfg>.d<param>
                               the gradients of loss = sum(context dcontext)
"""

import os

import torch
import torch.nn.functional as F

from make_fixtures import Writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "attention.txt")

HIDDEN, SOURCE, BATCH, STEPS = 3, 4, 3, 2
LENGTHS = [4, 2, 1]  # ragged, unsorted


class BahdanauAttention(torch.nn.Module):
    """The tutorial's, with Ua reading keys of key_size."""

    def __init__(self, hidden_size, key_size):
        super().__init__()
        self.Wa = torch.nn.Linear(hidden_size, hidden_size)
        self.Ua = torch.nn.Linear(key_size, hidden_size)
        self.Va = torch.nn.Linear(hidden_size, 1)

    def scores(self, query, keys):  # query (B, 1, H), keys (B, S, K) -> (B, 1, S)
        return self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)


class DotAttention(torch.nn.Module):
    def __init__(self, hidden_size, key_size):
        super().__init__()
        self.hidden = hidden_size

    def scores(self, query, keys):
        if keys.shape[2] != self.hidden:
            keys = keys[:, :, :self.hidden] + keys[:, :, self.hidden:]
        return torch.bmm(query, keys.transpose(1, 2))


class GeneralAttention(torch.nn.Module):
    def __init__(self, hidden_size, key_size):
        super().__init__()
        self.W = torch.nn.Linear(key_size, hidden_size, bias=False)

    def scores(self, query, keys):
        return torch.bmm(query, self.W(keys).transpose(1, 2))


KINDS = [("additive", BahdanauAttention), ("dot", DotAttention), ("general", GeneralAttention)]


def configuration(w, seed, kind, make, key_size):
    name = "%s_k%d" % (kind, key_size)
    w.section("%s: hidden %d, keys %d, S %d, B %d, T %d, lengths %s" %
              (name, HIDDEN, key_size, SOURCE, BATCH, STEPS, LENGTHS))
    torch.manual_seed(seed)
    module = make(HIDDEN, key_size)
    keys = torch.randn(SOURCE, BATCH, key_size).requires_grad_()
    queries = torch.randn(STEPS, BATCH, HIDDEN).requires_grad_()
    dcontext = torch.randn(STEPS, BATCH, key_size)
    mask = torch.arange(SOURCE).unsqueeze(0) >= torch.tensor(LENGTHS).unsqueeze(1)  # (B, S)
    batch_keys = keys.transpose(0, 1)  # (B, S, K)
    contexts, weights = [], []
    for t in range(STEPS):
        scores = module.scores(queries[t].unsqueeze(1), batch_keys)  # (B, 1, S)
        scores = scores.masked_fill(mask.unsqueeze(1), float("-inf"))
        a = F.softmax(scores, dim=-1)
        contexts.append(torch.bmm(a, batch_keys).squeeze(1))
        weights.append(a.squeeze(1))
    context = torch.stack(contexts)
    loss = (context * dcontext).sum()
    loss.backward()

    prefix = name + "."
    w.put(prefix + "keys", keys)
    w.put(prefix + "lengths", torch.tensor(LENGTHS))
    w.put(prefix + "queries", queries)
    params = list(module.named_parameters())
    for pname, p in params:
        w.put(prefix + pname, p)
    w.put(prefix + "context", context)
    w.put(prefix + "weights", torch.stack(weights))
    w.put(prefix + "dcontext", dcontext)
    w.put(prefix + "dqueries", queries.grad)
    w.put(prefix + "dkeys", keys.grad)
    for pname, p in params:
        w.put(prefix + "d" + pname, p.grad)


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    w = Writer()
    w.lines[1] = ("# Made by: /usr/bin/python3 tools/make_attention_fixtures.py "
                  "(do not edit by hand).")
    w.section("attention: loss = sum(context dcontext) over the steps")
    seed = 300
    for kind, make in KINDS:
        for key_size in (HIDDEN, 2 * HIDDEN):
            configuration(w, seed, kind, make, key_size)
            seed += 1
    w.save(os.path.normpath(OUT))


if __name__ == "__main__":
    main()
