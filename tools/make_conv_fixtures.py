#!/usr/bin/python3
"""Writes tests/fixtures/conv.txt: PyTorch's nn.Conv1d, nn.Conv2d and
nn.ConvTranspose2d results for elman's convolutions (include/elman/conv.h).

tests/test_conv.c builds a layer of each configuration here (it has the
same list), loads these weights into it and compares its output and
gradients with PyTorch's, so CI needs no PyTorch.  Run it with a Python that
has torch (Debian's does):

    /usr/bin/python3 tools/make_conv_fixtures.py

The file format is the one tools/make_fixtures.py describes (and it writes
with the same Writer).  Every configuration <cfg> has

    <cfg>.x                the input
    <cfg>.weight           and <cfg>.bias when it has one
    <cfg>.y                the output
    <cfg>.dy               a random upstream gradient
    <cfg>.dx, <cfg>.dweight, <cfg>.dbias
                           the gradients of loss = sum(y dy)
"""

import os

import torch

from make_fixtures import Writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "conv.txt")

# (name, module, input shape); tests/test_conv.c has the same list.
CONFIGS = [
    ("c2d_basic", lambda: torch.nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
    ("c2d_stride2", lambda: torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 7, 6)),
    ("c2d_dilation2", lambda: torch.nn.Conv2d(2, 3, 3, dilation=2, padding=2), (2, 2, 7, 7)),
    ("c2d_groups2", lambda: torch.nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 5, 5)),
    ("c2d_nobias", lambda: torch.nn.Conv2d(3, 2, 2, bias=False), (2, 3, 5, 4)),
    ("c2d_rect", lambda: torch.nn.Conv2d(2, 3, (2, 3), stride=(1, 2), padding=(1, 0),
                                         dilation=(2, 1)), (2, 2, 6, 7)),
    ("c1d", lambda: torch.nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2), (2, 3, 11)),
    ("c1d_groups", lambda: torch.nn.Conv1d(4, 2, 2, groups=2, bias=False), (3, 4, 6)),
    ("ct2d_s2op1", lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                    output_padding=1), (2, 3, 4, 3)),
    ("ct2d_groups", lambda: torch.nn.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), padding=(0, 1),
                                                     output_padding=(0, 1), dilation=(2, 1),
                                                     groups=2), (2, 4, 3, 4)),
    ("ct2d_dil_nobias", lambda: torch.nn.ConvTranspose2d(2, 3, 3, dilation=2, output_padding=1,
                                                         bias=False), (1, 2, 3, 3)),
]


def configuration(w, seed, name, make, shape):
    torch.manual_seed(seed)
    module = make()
    w.section("%s: %s, x %s" % (name, module, "x".join(map(str, shape))))
    x = torch.randn(*shape).requires_grad_()
    y = module(x)
    dy = torch.randn(y.shape)
    (y * dy).sum().backward()
    w.put(name + ".x", x)
    w.put(name + ".weight", module.weight)
    if module.bias is not None:
        w.put(name + ".bias", module.bias)
    w.put(name + ".y", y)
    w.put(name + ".dy", dy)
    w.put(name + ".dx", x.grad)
    w.put(name + ".dweight", module.weight.grad)
    if module.bias is not None:
        w.put(name + ".dbias", module.bias.grad)


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    w = Writer()
    # The Writer's header names make_fixtures.py; this file comes from here.
    w.lines[1] = "# Made by: /usr/bin/python3 tools/make_conv_fixtures.py (do not edit by hand)."
    w.section("convolutions; loss = sum(y dy)")
    for seed, (name, make, shape) in enumerate(CONFIGS, start=300):
        configuration(w, seed, name, make, shape)
    w.save(os.path.normpath(OUT))


if __name__ == "__main__":
    main()
