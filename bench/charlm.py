#!/usr/bin/python3
"""charlm against the same character model in PyTorch, in the same run.

Both sides train charlm's default model (a one-layer LSTM of 256 over
one-hot characters, a linear output layer, cross-entropy) the same way: the
training part of the text cut into 32 contiguous streams read 100
characters at a time with the state carried (truncated BPTT), Adam at
0.01 with a constant rate, gradients clipped to norm 5.  Each side trains
for the same wall-clock budget in a fresh process, at 1 and then 2 threads
(PyTorch with OMP_WAIT_POLICY=PASSIVE, its best setting at 2).

elman is the real program (`charlm train --minutes M`).  PyTorch uses
elman's vocabulary (read from the model file elman wrote), so both read the
same ids.  After training, PyTorch's weights are written as a safetensors
file with charlm's metadata, and `charlm eval` measures both models on the
same held-out text (the text's last 5%, which neither trained on), so the
bits per character come from one piece of code.

Generation: `charlm generate` (the program, output to a pipe) against a
PyTorch loop that does the same per character under torch.no_grad (one-hot
input, one LSTM step, the linear layer, softmax at temperature 0.8,
torch.multinomial), in characters per second.

The last lines are "train_speedup_vs_torch: X" and
"generate_speedup_vs_torch: Y", the smallest ratios over the thread counts.

    bench/charlm.py [--build DIR] [--text FILE] [--threads 1,2] [--minutes 1]

The text's characters must be single code points after NFC (the bundled
glosses are ASCII): PyTorch's side splits the text with Python, not ICU.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from make_safetensors_fixture import serialize  # noqa: E402

from machine import describe  # noqa: E402

HIDDEN, SEQ_LEN, BATCH, LR, CLIP, VALIDATION, TEMPERATURE = 256, 100, 32, 1e-2, 5.0, 0.05, 0.8

TORCH_SIDE = r"""
import json, math, sys, time, torch
import torch.nn.functional as F
from torch import nn

ids_path, vocab_size, threads, seconds, train_count, generate = sys.argv[1:7]
vocab_size, threads, train_count, generate = map(int, (vocab_size, threads, train_count, generate))
seconds = float(seconds)
torch.set_num_threads(threads)
torch.manual_seed(1)
HIDDEN, SEQ_LEN, BATCH, LR, CLIP, TEMPERATURE = %s

ids = torch.tensor(json.load(open(ids_path)), dtype=torch.long)
train = ids[:train_count]
rnn = nn.LSTM(vocab_size, HIDDEN)
fc = nn.Linear(HIDDEN, vocab_size)
params = list(rnn.parameters()) + list(fc.parameters())
optimizer = torch.optim.Adam(params, lr=LR)

# The streams of el_charlm_chunk: stream b is train[b L .. (b + 1) L].
L = (len(train) - 1) // BATCH
streams = torch.stack([train[b * L: b * L + L + 1] for b in range(BATCH)], dim=1)  # (L+1, B)

chars, started, state = 0, time.monotonic(), None
while time.monotonic() - started < seconds:
    state = None
    for first in range(0, L, SEQ_LEN):
        if time.monotonic() - started >= seconds:
            break
        x = streams[first:first + SEQ_LEN]
        y = streams[first + 1:first + SEQ_LEN + 1]
        x = x[:len(y)]
        out, state = rnn(F.one_hot(x, vocab_size).float(), state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(fc(out).reshape(-1, vocab_size), y.reshape(-1), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, CLIP)
        optimizer.step()
        chars += y.numel()
elapsed = time.monotonic() - started

with torch.no_grad():
    state, x, made = None, torch.tensor([[int(ids[0])]]), 0
    generate_started = time.monotonic()
    for _ in range(generate):
        out, state = rnn(F.one_hot(x, vocab_size).float(), state)
        probs = F.softmax(fc(out[0, 0])[4:] / TEMPERATURE, dim=-1)
        x = (torch.multinomial(probs, 1) + 4).view(1, 1)
        made += 1
    generate_seconds = time.monotonic() - generate_started

print(json.dumps({"chars": chars, "seconds": elapsed, "generated": made,
                  "generate_seconds": generate_seconds,
                  "weights": {k: v.tolist() for k, v in
                              [("rnn." + n, p) for n, p in rnn.state_dict().items()] +
                              [("fc." + n, p) for n, p in fc.state_dict().items()]}}))
""" % repr((HIDDEN, SEQ_LEN, BATCH, LR, CLIP, TEMPERATURE))


def fail(message):
    sys.exit("bench/charlm.py: " + message)


def run(args, env=None, stdout=subprocess.PIPE):
    done = subprocess.run(args, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          env=env or os.environ)
    if done.returncode:
        fail("%s failed (%d):\n%s" % (" ".join(args[:2]), done.returncode, done.stderr))
    return done.stdout


def read_metadata(path):
    with open(path, "rb") as f:
        return json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]


def shape_of(values):
    shape = []
    while isinstance(values, list):
        shape.append(len(values))
        values = values[0] if values else None
    return shape


def flatten(values):
    return [v for row in values for v in flatten(row)] if isinstance(values, list) else [values]


def split_text(path):
    """The text's characters, as charlm splits them when each is one code point."""
    with open(path, encoding="utf-8") as f:
        text = unicodedata.normalize("NFC", f.read())
    if "\r\n" in text or any(unicodedata.combining(c) or c in "\u200d\ufe0f" or
                             0x1F1E6 <= ord(c) <= 0x1F1FF for c in text):
        fail("%s has characters of several code points; use a simpler text" % path)
    return text


def bench_threads(args, text, threads, work):
    charlm = os.path.join(args.build, "apps", "charlm")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
    if threads > 1:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elman_model = os.path.join(work, "elman-%d.safetensors" % threads)
    log = run([charlm, "train", "--text", args.text, "--out", elman_model,
               "--minutes", str(args.minutes), "--epochs", "1000", "--schedule", "constant",
               "--threads", str(threads), "--hidden", str(HIDDEN), "--seq-len", str(SEQ_LEN),
               "--batch", str(BATCH), "--lr", str(LR), "--clip", str(CLIP),
               "--validation", str(VALIDATION)], env)
    trained = re.search(r"trained on (\d+) characters in ([\d.]+) s", log)
    if not trained:
        fail("no 'trained on' line from charlm train:\n" + log)
    elman_rate = int(trained.group(1)) / float(trained.group(2))

    # The same ids on both sides: elman's vocabulary, elman's split.
    meta = read_metadata(elman_model)
    vocab = json.loads(meta["elman.vocab"])["symbols"]
    index = {symbol: i for i, symbol in enumerate(vocab)}
    ids = [index.get(c, 3) for c in text]
    train_count = len(ids) - int(len(ids) * VALIDATION)
    ids_path = os.path.join(work, "ids.json")
    with open(ids_path, "w") as f:
        json.dump(ids, f)
    held_out = os.path.join(work, "held-out.txt")
    with open(held_out, "w", encoding="utf-8") as f:
        f.write(text[train_count:])

    torch_out = run(["/usr/bin/python3", "-c", TORCH_SIDE, ids_path, str(len(vocab)),
                     str(threads), str(args.minutes * 60), str(train_count),
                     str(args.torch_generate)], env)
    result = json.loads(torch_out)
    torch_rate = result["chars"] / result["seconds"]
    torch_model = os.path.join(work, "torch-%d.safetensors" % threads)
    tensors = {name: ("F32", shape_of(v), flatten(v)) for name, v in result["weights"].items()}
    torch_meta = {k: meta[k] for k in ("elman.kind", "elman.vocab", "charlm.cell",
                                       "charlm.hidden", "charlm.layers", "charlm.dropout")}
    with open(torch_model, "wb") as f:
        f.write(serialize(tensors, dict(sorted(torch_meta.items()))))

    def bpc(model):
        out = run([charlm, "eval", "--model", model, "--text", held_out, "--threads",
                   str(threads)], env)
        return float(out.strip().splitlines()[-1].split()[1])

    started = time.monotonic()
    with open(os.devnull, "w") as sink:
        run([charlm, "generate", "--model", elman_model, "--length", str(args.generate),
             "--temperature", str(TEMPERATURE), "--threads", str(threads)], env, stdout=sink)
    elman_generate = args.generate / (time.monotonic() - started)
    torch_generate = result["generated"] / result["generate_seconds"]
    return {"threads": threads, "elman_train": elman_rate, "torch_train": torch_rate,
            "elman_bpc": bpc(elman_model), "torch_bpc": bpc(torch_model),
            "elman_generate": elman_generate, "torch_generate": torch_generate}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--text", default=os.path.join(ROOT, "corpora", "wordnet-glosses.txt"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--generate", type=int, default=100000)
    parser.add_argument("--torch-generate", type=int, default=5000)
    args = parser.parse_args()
    text = split_text(args.text)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for threads in map(int, args.threads.split(",")):
            rows.append(bench_threads(args, text, threads, work))
            r = rows[-1]
            print("threads %d done: elman %.0f chars/s, torch %.0f chars/s" %
                  (threads, r["elman_train"], r["torch_train"]), file=sys.stderr)
    print(describe())
    print("charlm: LSTM %d, one layer, %d streams of %d, Adam %g, %.1f minutes of training "
          "per run; text %s (%d characters)" % (HIDDEN, BATCH, SEQ_LEN, LR, args.minutes,
                                                 os.path.relpath(args.text, ROOT), len(text)))
    print()
    print("| threads | train chars/s elman | PyTorch | ratio | held-out bpc elman | PyTorch "
          "| generate chars/s elman | PyTorch | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %d | %.0f | %.0f | %.2fx | %.4f | %.4f | %.0f | %.0f | %.1fx |" % (
            r["threads"], r["elman_train"], r["torch_train"], r["elman_train"] / r["torch_train"],
            r["elman_bpc"], r["torch_bpc"], r["elman_generate"], r["torch_generate"],
            r["elman_generate"] / r["torch_generate"]))
    print()
    print("bpc_no_worse_at_equal_time: %s" %
          ("yes" if all(r["elman_bpc"] <= r["torch_bpc"] for r in rows) else "no"))
    print("train_speedup_vs_torch: %.2f" % min(r["elman_train"] / r["torch_train"] for r in rows))
    print("generate_speedup_vs_torch: %.2f" %
          min(r["elman_generate"] / r["torch_generate"] for r in rows))


if __name__ == "__main__":
    main()
