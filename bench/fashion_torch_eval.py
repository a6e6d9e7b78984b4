#!/usr/bin/python3
"""Loads a `fashion classify` checkpoint into PyTorch's flat nn.Sequential
of FashionSimpleNet and measures it on the test set, normalised with the
mean and deviation the checkpoint keeps: its accuracy should be the one
`fashion classify` printed (docs/programs.md).

    bench/fashion_torch_eval.py MODEL.safetensors [--data DIR]

The last line is "torch_test_accuracy: X".
"""

import argparse
import gzip
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from safetensors_io import read  # noqa: E402


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    tensors, meta = read(args.model)
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if not k.startswith("optimizer.")}
    mean, std = float(meta["fashion.mean"]), float(meta["fashion.std"])
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.5), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    net.load_state_dict(state)
    net.eval()
    x = torch.from_numpy(read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz").copy())
    y = torch.from_numpy(read_idx(f"{args.data}/t10k-labels-idx1-ubyte.gz").copy()).long()
    x = (x.float().div(255).unsqueeze(1) - mean) / std
    with torch.no_grad():
        pred = torch.cat([net(x[i : i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    print(f"torch_test_accuracy: {(pred == y).float().mean().item():.4f}")


if __name__ == "__main__":
    main()
