#!/usr/bin/python3
"""Times PyTorch's forward and backward pass of FashionSimpleNet's two
convolutions as bench/conv-bench.c times elman's: conv1 (1 -> 32, 3x3,
padding 1, 28x28, no input gradient) and conv2 (32 -> 64, 3x3, padding 1,
14x14, with it), on one thread and two, the median of RUNS runs each and
the fastest.

    /usr/bin/python3 bench/conv.py [BATCH [RUNS]]
"""

import statistics
import sys
import time

import torch


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    torch.manual_seed(1)
    layers = [
        ("conv1 1->32 28x28", torch.nn.Conv2d(1, 32, 3, padding=1), torch.rand(batch, 1, 28, 28),
         False),
        ("conv2 32->64 14x14", torch.nn.Conv2d(32, 64, 3, padding=1),
         torch.rand(batch, 32, 14, 14), True),
    ]
    times = {}
    for _ in range(runs):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for name, conv, x, want_dx in layers:
                x.requires_grad_(want_dx)
                for timed in (False, True):
                    start = time.perf_counter()
                    y = conv(x)
                    y.backward(torch.ones_like(y))
                    if timed:
                        times.setdefault((name, threads), []).append(time.perf_counter() - start)
    for (name, threads), t in times.items():
        print("%s batch %d threads %d: forward+backward %.2f ms (fastest %.2f; PyTorch %s)" %
              (name, batch, threads, 1e3 * statistics.median(t), 1e3 * min(t), torch.__version__))


if __name__ == "__main__":
    main()
