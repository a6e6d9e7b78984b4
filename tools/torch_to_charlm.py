#!/usr/bin/python3
"""Trains a small character model in PyTorch and saves it as a checkpoint
that elman's `charlm generate` and `charlm eval` load.

    /usr/bin/python3 tools/torch_to_charlm.py [--text FILE] [--out MODEL]
                                              [--program build/apps/charlm]

The model is el_charlm's (include/elman/charlm.h; CharLM in
elman_to_torch.py): one-hot characters, nn.LSTM (or GRU, RNN), nn.Linear.
The vocabulary is built as charlm train builds it: the text in NFC, split
into grapheme clusters, the four specials first, then the clusters of the
training part (all but the last 5%) by falling count, ties in byte order.
Training is plain PyTorch: Adam on random windows of the training part,
--steps times.  The checkpoint holds the state_dict's tensors under their
names and the metadata charlm reads (apps/charlm.c, load_model_config):
elman.kind, elman.vocab, charlm.cell, charlm.hidden, charlm.layers,
charlm.dropout.  It has no optimizer or training position, so it can be
generated from and evaluated, not resumed with --resume.

With the program built (--program, default build/apps/charlm), the script
then runs `charlm generate` to show the file loads and writes text, and the
checks of `elman_to_torch.py --check` (log-probabilities through libelman,
held-out bpc and greedy text, elman against PyTorch).  Exit status 0 when they pass.
"""
import argparse
import collections
import math
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from elman_library import Library  # noqa: E402
from elman_to_torch import (ROOT, SPECIAL_NAMES, CharLM, Vocab, check_charlm,  # noqa: E402
                            clusters, torch_bpc)

VALIDATION_FRACTION = 0.05  # charlm train's default --validation


def build_vocab(symbols):
    """Specials, then clusters by falling count, ties in UTF-8 byte order."""
    counts = collections.Counter(symbols)
    ordered = sorted(counts, key=lambda s: (-counts[s], s.encode("utf-8")))
    return Vocab(SPECIAL_NAMES + ordered)


def train(model, ids, steps, seq_len, batch, lr, seed):
    data = torch.tensor(ids)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(1, steps + 1):
        starts = torch.randint(0, len(ids) - seq_len - 1, (batch,), generator=generator)
        window = torch.stack([data[s:s + seq_len + 1] for s in starts.tolist()], dim=1)
        logits, _ = model(window[:-1])
        loss = F.cross_entropy(logits.reshape(-1, model.vocab_size), window[1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if step % 100 == 0 or step == steps:
            print("step %d: training bpc %.4f" % (step, loss.item() / math.log(2.0)),
                  flush=True)
    model.eval()


def save(path, model, vocab, cell, hidden, layers, dropout):
    tensors = {name: t.detach().numpy() for name, t in model.state_dict().items()}
    metadata = {"elman.kind": "charlm", "elman.vocab": vocab.to_json(), "charlm.cell": cell,
                "charlm.hidden": str(hidden), "charlm.layers": str(layers),
                "charlm.dropout": repr(float(dropout))}
    safetensors_io.write(path, tensors, dict(sorted(metadata.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", default=os.path.join(ROOT, "corpora", "wordnet-glosses.txt"),
                        help="UTF-8 training text (default: the bundled glosses)")
    parser.add_argument("--chars", type=int, default=200000,
                        help="use the first N characters of the text (default 200000)")
    parser.add_argument("--out", default="torch-charlm.safetensors")
    parser.add_argument("--program", default=os.path.join(ROOT, "build", "apps", "charlm"))
    parser.add_argument("--library", default=os.path.join(ROOT, "build", "src", "libelman.so"),
                        help="libelman, to compare log-probabilities at full precision "
                        "(skipped when the file is missing)")
    parser.add_argument("--cell", default="lstm", choices=["rnn", "rnn_relu", "gru", "lstm"])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-check", action="store_true",
                        help="only train and save; do not run charlm")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)

    with open(args.text, encoding="utf-8") as f:
        symbols = clusters(f.read())[:args.chars]
    split = len(symbols) - int(len(symbols) * VALIDATION_FRACTION)
    vocab = build_vocab(symbols[:split])
    ids = vocab.encode("".join(symbols[:split]))
    held_out = "".join(symbols[split:])
    model = CharLM(args.cell, len(vocab), args.hidden, args.layers, args.dropout)
    print("%s: %d characters (%d training), %d symbols; %s, hidden %d, %d layer(s), %d "
          "parameters" % (args.text, len(symbols), split, len(vocab), args.cell, args.hidden,
                          args.layers, sum(p.numel() for p in model.parameters())), flush=True)
    train(model, ids, args.steps, args.seq_len, args.batch, args.lr, args.seed)
    print("held-out bpc in PyTorch: %.4f" % torch_bpc(model, vocab.encode(held_out)))
    save(args.out, model, vocab, args.cell, args.hidden, args.layers, args.dropout)
    print("saved %s" % args.out)
    if args.no_check:
        return 0

    print("$ %s generate --model %s --prompt 'recurrent: ' --length 200" %
          (args.program, args.out))
    done = subprocess.run([args.program, "generate", "--model", args.out, "--prompt",
                           "recurrent: ", "--length", "200"])
    if done.returncode != 0:
        print("FAIL: charlm generate exited with %d" % done.returncode)
        return 1
    held_out_path = args.out + ".held-out.txt"
    with open(held_out_path, "w", encoding="utf-8") as f:
        f.write(held_out)
    try:
        library = Library(args.library) if os.path.exists(args.library) else None
        ok = check_charlm(args.out, model, vocab, args.program, held_out_path, "able: ", 300,
                          library)
    finally:
        os.remove(held_out_path)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
