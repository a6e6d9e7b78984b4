#!/usr/bin/python3
"""The fashion program's autoencoders in PyTorch, for the test MSE beside
`fashion autoencode`'s (docs/programs.md).

The same networks as el_autoencoder_init_conv and el_autoencoder_init_dense
(include/elman/autoencoder.h, latent 32, the dense one's hidden layer 256),
trained the same way: MSE on pixels in [0, 1], Adam at 0.001, batches of
256 drawn in a new order every epoch from the 90% of the training images
left after holding out a random 10% for validation, for the same number of
epochs.  The last line is "test_mse: X" over the 10000 test images.

    bench/fashion_autoencoder.py --kind conv|dense [--epochs 3] [--data DIR]
"""

import argparse
import gzip
import struct

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def model(kind):
    if kind == "dense":
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 32))
        decoder = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(),
                                nn.Unflatten(1, (1, 28, 28)))
    else:
        encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(32 * 7 * 7, 32))
        decoder = nn.Sequential(
            nn.Linear(32, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())
    return nn.Sequential(encoder, decoder)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["conv", "dense"], default="conv")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte.gz").copy())
    test = torch.from_numpy(read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz").copy())
    train = train.float().div(255).unsqueeze(1)
    test = test.float().div(255).unsqueeze(1)
    keep = torch.randperm(len(train))[: len(train) - len(train) // 10]
    train = train[keep]
    net = model(args.kind)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    for epoch in range(args.epochs):
        order = torch.randperm(len(train))
        total = 0.0
        for first in range(0, len(train), 256):
            x = train[order[first : first + 256]]
            opt.zero_grad()
            loss = loss_fn(net(x), x)
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        print(f"epoch {epoch + 1}: train mse {total / len(train):.5f}", flush=True)
    with torch.no_grad():
        mse = sum(loss_fn(net(test[i : i + 1000]), test[i : i + 1000]).item() * 1000
                  for i in range(0, len(test), 1000)) / len(test)
    print(f"test_mse: {mse:.6f}")


if __name__ == "__main__":
    main()
