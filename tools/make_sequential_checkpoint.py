#!/usr/bin/python3
"""Writes tests/fixtures/torch-sequential.safetensors: a PyTorch
nn.Sequential's whole state_dict (parameters, batch norm's running
statistics and its int64 num_batches_tracked) after three training batches,
as safetensors, with an evaluation input and PyTorch's output beside it
("test.x", "test.y", which are not part of the state_dict).
tests/test_sequential.c loads it into the same elman container with
el_checkpoint_load_sequential and checks the output.

    /usr/bin/python3 tools/make_sequential_checkpoint.py
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "torch-sequential.safetensors")


def main():
    torch.manual_seed(17)
    torch.set_num_threads(1)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(8, 4)).pow(2).mean().backward()
        opt.step()
    net.eval()
    x = torch.randn(5, 4)
    with torch.no_grad():
        y = net(x)
    tensors = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    tensors["test.x"] = x.numpy()
    tensors["test.y"] = y.numpy()
    write(os.path.normpath(OUT), tensors, {"format": "pt"})


if __name__ == "__main__":
    main()
