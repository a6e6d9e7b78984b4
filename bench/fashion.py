#!/usr/bin/python3
"""FashionSimpleNet training in elman against the same model in PyTorch, in
the same run.

Both sides train one flat nn.Sequential, Conv2d(1, 32, 3, padding 1), ReLU,
MaxPool2d(2), Conv2d(32, 64, 3, padding 1), ReLU, MaxPool2d(2),
Dropout(0.5), Flatten, Linear(3136, 128), ReLU, Linear(128, 10), with
cross-entropy and Adam at lr 1e-3, on the same batches of 256 Fashion-MNIST
training images (random images when the data set is missing) from the same
initial weights: bench/fashion-bench writes the batches' indices and its
initial weights, and the PyTorch timer (Debian's python3-torch) replays
them.  The warm-up batches train with dropout off on both sides (evaluation
mode, which changes nothing else in this model), so that their losses must
agree, or the run stops: the same data, weights, gradients and optimizer
steps.  The timed batches train with dropout, each side drawing its own
masks.  Each timing is a fresh process, at 1 and 2 threads (PyTorch's
with OpenMP's default and passive waiting, the faster counting), and reports
the wall time and the process's CPU time (on a loaded machine the CPU time
shows how much of the wall time each side had the cores).  The last line
is "speedup_vs_torch: X", the smallest ratio of elman's images/s to
PyTorch's.

    bench/fashion.py [--build DIR] [--threads 1,2] [--batches 100] [--repeat 1]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from machine import describe

TORCH_TIMER = r"""
import gzip, json, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

prefix, images_path, labels_path, data = sys.argv[1:5]
batch, threads, warmup, timed = map(int, sys.argv[5:])
torch.set_num_threads(threads)

model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Dropout(0.5), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


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


# elman names the container's tensors as a flat nn.Sequential's state_dict
# ("0.weight", "8.bias"), so its initial weights load as they are.
model.load_state_dict(read_safetensors(prefix + ".safetensors"))  # strict

if data == "fashion":
    with gzip.open(images_path) as f:
        raw = f.read()
    images = torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).astype(np.float32) / 255)
    with gzip.open(labels_path) as f:
        labels = torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64))
else:
    images = torch.from_numpy(np.fromfile(prefix + ".images", np.float32))
    labels = torch.from_numpy(np.fromfile(prefix + ".labels", np.int32).astype(np.int64))
images = images.reshape(-1, 1, 28, 28)
with open(prefix + ".batches") as f:
    batches = [torch.tensor(list(map(int, line.split()))) for line in f]
assert len(batches) >= warmup + timed and all(len(b) == batch for b in batches)

optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)


def train_step(ids):
    x, y = images[ids], labels[ids]
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


model.eval()
warmup_losses = [train_step(b) for b in batches[:warmup]]
model.train()
wall, cpu = time.perf_counter(), time.process_time()
total = sum(train_step(b) for b in batches[warmup:warmup + timed])
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(f"images_per_second={timed * batch / wall:.1f} wall_seconds={wall:.3f} "
      f"cpu_seconds={cpu:.3f} loss={total / timed:.4f} "
      f"losses={','.join(f'{v:.6f}' for v in warmup_losses)}")
"""

DATA = "/usr/share/datasets/fashion-mnist/"
BATCH = 256
WARMUP = 5
# The warm-up losses must agree this closely (relative).  The convolutions'
# sums run in another order on each side (oneDNN against elman's GEMMs), and
# Adam's first steps, dividing by the square root of tiny second moments,
# magnify that to about 1e-5 after five steps; a wrong gradient or a missed
# parameter shows as 1e-2 and more.
LOSS_TOLERANCE = 1e-3


def parse(out):
    return dict(item.split("=") for item in out.split())


def run(args, env, what="fashion-bench"):
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{what} failed (exit status {done.returncode}):\n{done.stderr}")
    return parse(done.stdout)


def elman_run(build, threads, batches, dump=None):
    args = [os.path.join(build, "bench", "fashion-bench"), "--batch", str(BATCH), "--threads",
            str(threads), "--batches", str(batches), "--warmup", str(WARMUP)]
    # elman keeps OpenBLAS single-threaded; this stops OpenBLAS from starting
    # idle threads at load, which spin on the other core for a while.
    return run(args + (["--dump", dump] if dump else []),
               dict(os.environ, OPENBLAS_NUM_THREADS="1"))


def torch_run(prefix, data, threads, batches, wait_policy=None):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    return run([sys.executable, "-c", TORCH_TIMER, prefix, DATA + "train-images-idx3-ubyte.gz",
                DATA + "train-labels-idx1-ubyte.gz", data, str(BATCH), str(threads), str(WARMUP),
                str(batches)], env, "the PyTorch timer")


def check_losses(threads, elman, torch):
    ours = [float(v) for v in elman.split(",")]
    theirs = [float(v) for v in torch.split(",")]
    if len(ours) != len(theirs) or any(abs(a - b) > LOSS_TOLERANCE * abs(a)
                                       for a, b in zip(ours, theirs)):
        sys.exit(f"{threads} threads: the warm-up losses differ, elman {ours}, PyTorch {theirs}; "
                 "the two sides do not train the same model")
    return max(abs(a - b) / abs(a) for a, b in zip(ours, theirs))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", type=int, default=100, help="timed batches after the warm-up")
    ap.add_argument("--repeat", type=int, default=1,
                    help="timings per side and thread count; the fastest counts")
    args = ap.parse_args()
    print(describe())
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "fashion")
        check = elman_run(args.build, 1, args.batches, prefix)
        print(f"training images/s over {args.batches} batches of {BATCH} after {WARMUP} of "
              f"warm-up (dropout off, losses compared), the same batches and initial weights "
              f"on both sides; data: {check['data']}")
        print(f"{'thr':>3} {'elman im/s':>10} {'wall s':>7} {'cpu s':>7} {'torch im/s':>10} "
              f"{'wall s':>7} {'cpu s':>7} {'omp wait':>8} {'ratio':>6} {'loss diff':>9} "
              f"{'elman loss':>10} {'torch loss':>10}")
        for threads in map(int, args.threads.split(",")):
            elman = torch = None
            for _ in range(args.repeat):
                e = elman_run(args.build, threads, args.batches)
                check_losses(threads, check["losses"], e["losses"])
                if not elman or float(e["images_per_second"]) > float(elman["images_per_second"]):
                    elman = e
                # PyTorch's OpenMP threads spin while they wait, which
                # helps on idle cores and costs on busy ones: with several
                # threads it is timed both ways and the faster counts.
                for policy in [None] + (["PASSIVE"] if threads > 1 else []):
                    t = torch_run(prefix, check["data"], threads, args.batches, policy)
                    diff = check_losses(threads, e["losses"], t["losses"])
                    t["policy"] = policy or "default"
                    if (not torch or
                            float(t["images_per_second"]) > float(torch["images_per_second"])):
                        torch = t
            ratio = float(elman["images_per_second"]) / float(torch["images_per_second"])
            ratios.append(ratio)
            print(f"{threads:3d} {float(elman['images_per_second']):10.0f} "
                  f"{float(elman['wall_seconds']):7.2f} {float(elman['cpu_seconds']):7.2f} "
                  f"{float(torch['images_per_second']):10.0f} "
                  f"{float(torch['wall_seconds']):7.2f} {float(torch['cpu_seconds']):7.2f} "
                  f"{torch['policy']:>8} {ratio:5.2f}x {diff:9.1e} {elman['loss']:>10} {torch['loss']:>10}",
                  flush=True)
    print(f"speedup_vs_torch: {min(ratios):.2f}")


if __name__ == "__main__":
    main()
