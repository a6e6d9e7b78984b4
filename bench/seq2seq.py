#!/usr/bin/python3
"""seq2seq training in elman against the same model in PyTorch, in the same run.

Both sides train seq2seq-train's model (one-hot inputs, an encoder whose
final state, summed over directions, starts a one-direction decoder of the
same cell, a linear output layer, cross-entropy over each word's symbols and
<eos>; Adam at lr 2e-3, teacher forcing 1) on the same batches of the same
words from the same initial weights: bench/seq2seq-bench writes the batches
it trains on and its initial weights, and the PyTorch timer (Debian's
python3-torch) replays them.  The losses of the warm-up batches must agree
on both sides, or the run stops: the same vocabulary, loss positions,
gradients of every parameter and optimizer steps.

Three configurations: seq2seq-train's default (GRU, hidden 256, one layer,
bidirectional encoder, batch 64), the course notebook's (GRU, hidden 128,
one direction, batch 128), and PyTorch's seq2seq tutorial's attention model
(embeddings of 128, a GRU of hidden 128 each side, the decoder's GRU over
[embedding; context] with additive attention, masked over the padded source
steps, no dropout; batch 64).  The tutorial's attention computes Ua k at
every decoder step; PyTorch is timed that way and with Ua k once per batch
("hoisted"), and elman is compared with the faster.  The notebook runs both GRUs over fixed 34- and
33-step padded sequences without lengths and takes the loss over every
position, padding included; for it PyTorch is timed in that form too, elman
is compared with the faster of PyTorch's two forms, and a second table
compares both in the padded form.  Each timing is a fresh process, at 1 and
2 threads.  The last line is "speedup_vs_torch: X", the smallest ratio of
elman's words/s to PyTorch's in the first table.

    bench/seq2seq.py [--build DIR] [--threads 1,2] [--batches 200]
                     [--configs default,notebook,attention]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from machine import describe

TORCH_TIMER = r"""
import json, sys, time, torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

batches_path, weights_path, cell, form = sys.argv[1:5]
(vocab, hidden, layers, bidirectional, batch, threads, warmup, timed,
 padded_steps) = map(int, sys.argv[5:])
torch.set_num_threads(threads)
PAD, SOS, EOS = 0, 1, 2
packed = form == "packed"

# elman names its parameters as PyTorch's state_dict keys
# ("encoder.gru.weight_ih_l0", "decoder.fc.weight"), so its initial weights
# load into this module tree as they are.
kind, name, extra = {"rnn": (nn.RNN, "rnn", {"nonlinearity": "tanh"}),
                     "rnn_relu": (nn.RNN, "rnn", {"nonlinearity": "relu"}),
                     "gru": (nn.GRU, "gru", {}), "lstm": (nn.LSTM, "lstm", {})}[cell]
model = nn.Module()
model.encoder, model.decoder = nn.Module(), nn.Module()
encoder = kind(vocab, hidden, layers, bidirectional=bool(bidirectional), **extra)
decoder = kind(vocab, hidden, layers, **extra)
setattr(model.encoder, name, encoder)
setattr(model.decoder, name, decoder)
model.decoder.fc = output = nn.Linear(hidden, vocab)


def read_safetensors(path):
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        data = f.read()
    tensors = {}
    for key, info in header.items():
        if key != "__metadata__":
            assert info["dtype"] == "F32", key
            first, last = info["data_offsets"]
            tensors[key] = torch.frombuffer(bytearray(data[first:last]),
                                            dtype=torch.float32).reshape(info["shape"])
    return tensors


model.load_state_dict(read_safetensors(weights_path))  # strict: every name and shape


def ids(rows, columns):
    return torch.full((rows, columns), PAD, dtype=torch.long)


def frame_packed(examples):
    # elman's framing, time-major: the reversed word, and for the decoder
    # <sos> word -> word <eos>, each with its true length.
    size, steps = len(examples), max(len(target) for _, target in examples) + 1
    src, tin, tout = ids(steps - 1, size), ids(steps, size), ids(steps, size)
    for b, (source, target) in enumerate(examples):
        n = len(target)
        src[:n, b] = torch.tensor(source)
        tin[:n + 1, b] = torch.tensor([SOS] + target)
        tout[:n + 1, b] = torch.tensor(target + [EOS])
    lengths = torch.tensor([len(target) for _, target in examples])
    return src, lengths, tin, tout, lengths + 1


def frame_padded(examples):
    # The notebook's: <sos> source <eos> over padded_steps + 1 steps for the
    # encoder, <sos> word <eos> over padded_steps for the decoder, both read
    # whole, and every position in the loss.
    size = len(examples)
    src, tin, tout = ids(padded_steps + 1, size), ids(padded_steps, size), ids(padded_steps, size)
    for b, (source, target) in enumerate(examples):
        n = len(target)
        src[:n + 2, b] = torch.tensor([SOS] + source + [EOS])
        sequence = torch.tensor([SOS] + target + [EOS])
        tin[:min(n + 2, padded_steps), b] = sequence[:padded_steps]
        tout[:n + 1, b] = sequence[1:]
    return src, None, tin, tout, None


with open(batches_path) as f:
    examples = [[list(map(int, half.split())) for half in line.rstrip("\n").split("\t")]
                for line in f]
frame = frame_packed if packed else frame_padded
batches = [frame(examples[i:i + batch]) for i in range(0, len(examples), batch)]
assert len(batches) == warmup + timed and all(b[0].shape[1] == batch for b in batches)

optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
directions = 2 if bidirectional else 1


def final_state(state, size):
    return state.view(layers, directions, size, hidden).sum(1)


def train_step(src, src_lengths, tin, tout, tgt_lengths):
    optimizer.zero_grad(set_to_none=True)
    size = src.shape[1]
    x = F.one_hot(src, vocab).float()
    if packed:
        x = pack_padded_sequence(x, src_lengths, enforce_sorted=False)
    _, state = encoder(x)
    state = (tuple(final_state(s, size) for s in state) if cell == "lstm"
             else final_state(state, size))
    y = F.one_hot(tin, vocab).float()
    if packed:
        y = pack_padded_sequence(y, tgt_lengths, enforce_sorted=False)
    out, _ = decoder(y, state)
    if packed:
        # The output layer and the loss over the packed rows alone: the same
        # positions as ignore_index=PAD over the padded output, and up to a
        # tenth faster here, as no padding goes through the output layer.
        logits = output(out.data)
        loss = F.cross_entropy(logits, pack_padded_sequence(tout, tgt_lengths,
                                                            enforce_sorted=False).data)
    else:
        logits = output(out)
        loss = F.cross_entropy(logits.view(-1, vocab), tout.view(-1))
    loss.backward()
    optimizer.step()
    return loss.item()


warmup_losses = [train_step(*b) for b in batches[:warmup]]
start = time.perf_counter()
total = sum(train_step(*b) for b in batches[warmup:])
seconds = time.perf_counter() - start
print(f"words_per_second={timed * batch / seconds:.1f} loss={total / timed:.4f} "
      f"warmup_losses={','.join(f'{v:.6f}' for v in warmup_losses)}")
"""

ATTENTION_TIMER = r"""
import json, sys, time, torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

batches_path, weights_path, form = sys.argv[1:4]
vocab, hidden, batch, threads, warmup, timed = map(int, sys.argv[4:])
torch.set_num_threads(threads)
PAD, SOS, EOS = 0, 1, 2


class BahdanauAttention(nn.Module):
    # PyTorch's seq2seq tutorial's, with the padded source steps masked.
    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys, mask, ua_keys=None):
        ua_keys = self.Ua(keys) if ua_keys is None else ua_keys
        scores = self.Va(torch.tanh(self.Wa(query) + ua_keys))
        scores = scores.squeeze(2).unsqueeze(1).masked_fill(mask, float("-inf"))
        weights = F.softmax(scores, dim=-1)
        return torch.bmm(weights, keys), weights


# The tutorial's EncoderRNN (embedding, GRU) and AttnDecoderRNN (embedding,
# BahdanauAttention, GRU over [embedding; context], a linear output layer),
# without dropout, under elman's parameter names, so that its initial
# weights load as they are.
model = nn.Module()
model.encoder, model.decoder = nn.Module(), nn.Module()
model.encoder.embedding = nn.Embedding(vocab, hidden)
model.encoder.gru = nn.GRU(hidden, hidden, batch_first=True)
model.decoder.embedding = nn.Embedding(vocab, hidden)
model.decoder.attention = BahdanauAttention(hidden)
model.decoder.gru = nn.GRU(2 * hidden, hidden, batch_first=True)
model.decoder.fc = nn.Linear(hidden, vocab)


def read_safetensors(path):
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        data = f.read()
    tensors = {}
    for key, info in header.items():
        if key != "__metadata__":
            first, last = info["data_offsets"]
            tensors[key] = torch.frombuffer(bytearray(data[first:last]),
                                            dtype=torch.float32).reshape(info["shape"])
    return tensors


model.load_state_dict(read_safetensors(weights_path))  # strict: every name and shape


def frame(examples):
    # Batch-first: the reversed word; <sos> word -> word <eos>, padded.
    size, steps = len(examples), max(len(target) for _, target in examples) + 1
    src = torch.full((size, steps - 1), PAD, dtype=torch.long)
    tin = torch.full((size, steps), PAD, dtype=torch.long)
    tout = torch.full((size, steps), PAD, dtype=torch.long)
    for b, (source, target) in enumerate(examples):
        n = len(target)
        src[b, :n] = torch.tensor(source)
        tin[b, :n + 1] = torch.tensor([SOS] + target)
        tout[b, :n + 1] = torch.tensor(target + [EOS])
    lengths = torch.tensor([len(source) for source, _ in examples])
    mask = (torch.arange(steps - 1).unsqueeze(0) >= lengths.unsqueeze(1)).unsqueeze(1)
    return src, lengths, tin, tout, mask


with open(batches_path) as f:
    examples = [[list(map(int, half.split())) for half in line.rstrip("\n").split("\t")]
                for line in f]
batches = [frame(examples[i:i + batch]) for i in range(0, len(examples), batch)]
assert len(batches) == warmup + timed
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
attention, decoder_gru = model.decoder.attention, model.decoder.gru


def train_step(src, lengths, tin, tout, mask):
    optimizer.zero_grad(set_to_none=True)
    x = pack_padded_sequence(model.encoder.embedding(src), lengths, batch_first=True,
                             enforce_sorted=False)
    out, hidden_state = model.encoder.gru(x)
    keys, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
    # "tutorial": Ua(keys) at every step, as the tutorial's attention does;
    # "hoisted": once per batch.
    ua_keys = attention.Ua(keys) if form == "hoisted" else None
    embedded = model.decoder.embedding(tin)
    outputs = []
    for t in range(tin.shape[1]):
        query = hidden_state.permute(1, 0, 2)
        context, _ = attention(query, keys, mask, ua_keys)
        step, hidden_state = decoder_gru(torch.cat((embedded[:, t:t + 1], context), dim=2),
                                         hidden_state)
        outputs.append(step)
    logits = model.decoder.fc(torch.cat(outputs, dim=1))
    loss = F.cross_entropy(logits.reshape(-1, vocab), tout.reshape(-1), ignore_index=PAD)
    loss.backward()
    optimizer.step()
    return loss.item()


warmup_losses = [train_step(*b) for b in batches[:warmup]]
start = time.perf_counter()
total = sum(train_step(*b) for b in batches[warmup:])
seconds = time.perf_counter() - start
print(f"words_per_second={timed * batch / seconds:.1f} loss={total / timed:.4f} "
      f"warmup_losses={','.join(f'{v:.6f}' for v in warmup_losses)}")
"""

CONFIGS = {
    # seq2seq-train's defaults.
    "default": {"cell": "gru", "hidden": 256, "layers": 1, "bidirectional": 1, "batch": 64},
    # The course notebook's model; it pads to 33 decoder steps.
    "notebook": {"cell": "gru", "hidden": 128, "layers": 1, "bidirectional": 0, "batch": 128,
                 "padded_steps": 33},
    # PyTorch's seq2seq tutorial's attention model: embeddings of the
    # hidden size, additive attention, one direction.
    "attention": {"cell": "gru", "hidden": 128, "layers": 1, "bidirectional": 0, "batch": 64,
                  "attention": "additive", "embedding": 128},
}
WARMUP = 10
# The warm-up losses must agree this closely (relative).  Sums taken in
# another order drift apart by about 1e-6 over ten steps; a parameter left
# out of the update, a pad position in the loss or a gradient cut off shows
# as 1e-3 and more.
LOSS_TOLERANCE = 1e-4


def parse(out):
    return dict(item.split("=") for item in out.split())


def run(args, env, what="seq2seq-bench"):
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{what} failed (exit status {done.returncode}):\n{done.stderr}")
    return parse(done.stdout)


def elman_args(build, config, threads, batches, padded=0):
    return [os.path.join(build, "bench", "seq2seq-bench"), "--cell", config["cell"],
            "--hidden", str(config["hidden"]), "--layers", str(config["layers"]),
            "--bidirectional", str(config["bidirectional"]), "--batch", str(config["batch"]),
            "--threads", str(threads), "--batches", str(batches), "--warmup", str(WARMUP),
            "--padded", str(padded), "--attention", config.get("attention", "none"),
            "--embedding", str(config.get("embedding", 0))]


def elman_env():
    # elman keeps OpenBLAS single-threaded; this stops OpenBLAS from starting
    # idle threads at load, which spin on the other core for a while.
    return dict(os.environ, OPENBLAS_NUM_THREADS="1")


def torch_run(prefix, vocab, config, threads, batches, form):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if threads > 1:
        # Without it PyTorch's OpenMP threads spin between the small matrix
        # products of a time step and run several times slower on 2 cores.
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if "attention" in config:
        return run([sys.executable, "-c", ATTENTION_TIMER, prefix + ".batches",
                    prefix + ".safetensors", form, str(vocab), str(config["hidden"]),
                    str(config["batch"]), str(threads), str(WARMUP), str(batches)], env,
                   "the PyTorch timer")
    return run([sys.executable, "-c", TORCH_TIMER, prefix + ".batches", prefix + ".safetensors",
                config["cell"], form, str(vocab), str(config["hidden"]), str(config["layers"]),
                str(config["bidirectional"]), str(config["batch"]), str(threads), str(WARMUP),
                str(batches), str(config.get("padded_steps", 0))], env, "the PyTorch timer")


def check_losses(name, form, elman, torch):
    ours = [float(v) for v in elman.split(",")]
    theirs = [float(v) for v in torch.split(",")]
    if len(ours) != len(theirs) or any(abs(a - b) > LOSS_TOLERANCE * abs(a)
                                       for a, b in zip(ours, theirs)):
        sys.exit(f"{name} ({form}): the warm-up losses differ, elman {ours}, PyTorch {theirs}; "
                 "the two sides do not train the same model")


def words_per_second(result):
    return float(result["words_per_second"])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", type=int, default=200, help="timed batches after the warm-up")
    ap.add_argument("--configs", default="default,notebook,attention")
    args = ap.parse_args()
    print(describe())
    print(f"training words/s over {args.batches} batches after {WARMUP} of warm-up, "
          "the same batches and initial weights on both sides")
    print(f"{'config':9} {'thr':>3} {'elman w/s':>10} {'torch w/s':>10} {'torch form':>10} "
          f"{'ratio':>6} {'elman loss':>10} {'torch loss':>10}")
    ratios, padded_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs.split(","):
            config = CONFIGS[name]
            prefix = os.path.join(tmp, name)
            steps = config.get("padded_steps", 0)
            forms = {"packed": 0, **({"padded": steps} if steps else {})}
            if "attention" in config:
                forms = {"tutorial": 0, "hoisted": 0}
            # The batches and initial weights (the same for both forms), and
            # each form's warm-up losses.
            checks = {form: run(elman_args(args.build, config, 1, args.batches, padded) +
                                ["--dump", prefix], elman_env())
                      for form, padded in forms.items()}
            vocab = int(next(iter(checks.values()))["vocab"])
            for threads in map(int, args.threads.split(",")):
                elman = run(elman_args(args.build, config, threads, args.batches), elman_env())
                torch = {}
                for form in forms:
                    torch[form] = torch_run(prefix, vocab, config, threads, args.batches, form)
                    check_losses(name, form, checks[form]["losses"], torch[form]["warmup_losses"])
                best = max(forms, key=lambda form: words_per_second(torch[form]))
                ratio = words_per_second(elman) / words_per_second(torch[best])
                ratios.append(ratio)
                print(f"{name:9} {threads:3d} {words_per_second(elman):10.0f} "
                      f"{words_per_second(torch[best]):10.0f} {best:>10} {ratio:5.2f}x "
                      f"{elman['loss']:>10} {torch[best]['loss']:>10}", flush=True)
                if steps:
                    # elman in the notebook's form too, for the comparison
                    # of like with like.
                    padded = run(elman_args(args.build, config, threads, args.batches, steps),
                                 elman_env())
                    padded_rows.append((name, threads, words_per_second(torch["packed"]),
                                        words_per_second(torch["padded"]),
                                        words_per_second(padded)))
    if padded_rows:
        print("\nthe notebook's padded form (every step of every sequence, padding in the loss):")
        print(f"{'config':9} {'thr':>3} {'torch packed':>12} {'torch padded':>12} "
              f"{'elman padded':>12} {'ratio':>6}")
        for name, threads, torch_packed, torch_padded, elman_padded in padded_rows:
            print(f"{name:9} {threads:3d} {torch_packed:12.0f} {torch_padded:12.0f} "
                  f"{elman_padded:12.0f} {elman_padded / torch_padded:5.2f}x")
    print(f"speedup_vs_torch: {min(ratios):.2f}")


if __name__ == "__main__":
    main()
