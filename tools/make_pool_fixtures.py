#!/usr/bin/python3
"""Writes tests/fixtures/pool.txt, batchnorm.txt and sequential.txt: PyTorch's
pooling layers, BatchNorm1d/2d and small nn.Sequential networks, for
tests/test_pool.c, test_batchnorm.c and test_sequential.c (which need no
PyTorch).  Run it with a Python that has torch (Debian's does):

    /usr/bin/python3 tools/make_pool_fixtures.py

The format is the one tools/make_fixtures.py describes.  Every loss is
sum(y * dy) with a random dy, so the gradients stored are those of dy.

pool.txt, per configuration <cfg>: <cfg>.kind (0 max, 1 average),
<cfg>.kernel, .stride, .padding (one value per spatial dimension), .x, .y,
.dy, .dx.

batchnorm.txt, per configuration <cfg>: the module's starting state .weight,
.bias, .running_mean, .running_var, .num_batches_tracked, and .x, .dy; then
one training step: .train.y, .train.dx, .train.dweight, .train.dbias and the
state after it, .train.running_mean, .train.running_var,
.train.num_batches_tracked; then, from that state, one evaluation step on
the same x and dy: .eval.y, .eval.dx, .eval.dweight, .eval.dbias.

sequential.txt, per network <net>: <net>.init.<key> for every key of the
network's state_dict (so the keys themselves are checked), .x, .dy, the
training step's .train.y, .train.dx, .train.d<param> and the buffers after
it as .train.<key>; then evaluation on a new .eval_x, .eval_dy:
.eval.y, .eval.dx, .eval.d<param>.
"""

import os

import torch
from torch import nn

from make_fixtures import Writer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

# (name, class, kernel, stride or None, padding, input shape, integer input)
POOLS = [
    ("max1d", nn.MaxPool1d, [3], [2], [1], (2, 3, 9), False),
    ("max1d_default", nn.MaxPool1d, [2], None, [0], (2, 3, 7), False),
    ("max1d_unbatched", nn.MaxPool1d, [3], [1], [1], (3, 8), False),
    ("avg1d", nn.AvgPool1d, [3], [2], [1], (2, 3, 9), False),
    ("max2d", nn.MaxPool2d, [3, 2], [2, 1], [1, 1], (2, 2, 7, 6), False),
    # Small integers: many ties, which must go to the first maximum.
    ("max2d_ties", nn.MaxPool2d, [3, 3], [1, 1], [1, 1], (2, 2, 5, 6), True),
    ("avg2d", nn.AvgPool2d, [3, 2], [2, 1], [1, 1], (2, 2, 7, 6), False),
    ("avg2d_default", nn.AvgPool2d, [2, 2], None, [0, 0], (2, 3, 5, 5), False),
    ("avg2d_unbatched", nn.AvgPool2d, [2, 3], [1, 2], [1, 1], (2, 4, 5), False),
]

# (name, class, input shape)
NORMS = [
    ("bn1d_nc", nn.BatchNorm1d, (6, 4)),
    ("bn1d_ncl", nn.BatchNorm1d, (4, 3, 5)),
    ("bn2d", nn.BatchNorm2d, (3, 2, 4, 5)),
]


def pools(w):
    for name, cls, kernel, stride, padding, shape, integer in POOLS:
        w.section("%s: %s(kernel %s, stride %s, padding %s) on %s" %
                  (name, cls.__name__, kernel, stride, padding, shape))
        dims = len(kernel)
        k = kernel[0] if dims == 1 else tuple(kernel)
        s = None if stride is None else (stride[0] if dims == 1 else tuple(stride))
        p = padding[0] if dims == 1 else tuple(padding)
        module = cls(k, stride=s, padding=p)
        if integer:
            x = torch.randint(-2, 3, shape).to(torch.float32)
        else:
            x = torch.randn(shape)
        x.requires_grad_()
        y = module(x)
        dy = torch.randn(y.shape)
        (y * dy).sum().backward()
        w.put(name + ".kind", torch.tensor(0 if "Max" in cls.__name__ else 1))
        w.put(name + ".kernel", torch.tensor(kernel))
        w.put(name + ".stride", torch.tensor(stride if stride is not None else kernel))
        w.put(name + ".padding", torch.tensor(padding))
        w.put(name + ".x", x)
        w.put(name + ".y", y)
        w.put(name + ".dy", dy)
        w.put(name + ".dx", x.grad)


def step(module, x, dy):
    """One forward and backward; returns y, dx and the parameter gradients."""
    module.zero_grad()
    x = x.detach().clone().requires_grad_()
    y = module(x)
    (y * dy).sum().backward()
    return y, x.grad, {n: p.grad.clone() for n, p in module.named_parameters()}


def norms(w):
    for name, cls, shape in NORMS:
        channels = shape[1]
        w.section("%s: %s(%d) on %s, a training step then an evaluation step" %
                  (name, cls.__name__, channels, shape))
        bn = cls(channels)
        with torch.no_grad():
            bn.weight.copy_(torch.rand(channels) + 0.5)
            bn.bias.copy_(torch.randn(channels))
            bn.running_mean.copy_(torch.randn(channels))
            bn.running_var.copy_(torch.rand(channels) + 0.5)
            bn.num_batches_tracked.fill_(3)
        for key, value in bn.state_dict().items():
            w.put(name + "." + key, value)
        x = torch.randn(shape) * 2 + 0.5
        dy = torch.randn(shape)
        w.put(name + ".x", x)
        w.put(name + ".dy", dy)
        bn.train()
        y, dx, grads = step(bn, x, dy)
        w.put(name + ".train.y", y)
        w.put(name + ".train.dx", dx)
        w.put(name + ".train.dweight", grads["weight"])
        w.put(name + ".train.dbias", grads["bias"])
        for key in ("running_mean", "running_var", "num_batches_tracked"):
            w.put(name + ".train." + key, bn.state_dict()[key])
        bn.eval()
        y, dx, grads = step(bn, x, dy)
        w.put(name + ".eval.y", y)
        w.put(name + ".eval.dx", dx)
        w.put(name + ".eval.dweight", grads["weight"])
        w.put(name + ".eval.dbias", grads["bias"])


def randomise(net):
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                m.weight.copy_(torch.rand(c) + 0.5)
                m.bias.copy_(torch.randn(c))
                m.running_mean.copy_(torch.randn(c))
                m.running_var.copy_(torch.rand(c) + 0.5)
                m.num_batches_tracked.fill_(7)


# (name, description, network, input shape); tests/test_sequential.c builds
# the same networks.
def networks():
    return [
        ("mlp", "Linear(5, 8), ReLU, BatchNorm1d(8), Linear(8, 3), Tanh",
         nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3),
                       nn.Tanh()), (6, 5)),
        ("image", "BatchNorm2d(2), MaxPool2d(2), AvgPool2d(3, 1, 1), Flatten, Linear(18, 4), "
         "Sigmoid",
         nn.Sequential(nn.BatchNorm2d(2), nn.MaxPool2d(2), nn.AvgPool2d(3, 1, 1), nn.Flatten(),
                       nn.Linear(18, 4), nn.Sigmoid()), (3, 2, 6, 6)),
        ("signal", "BatchNorm1d(3), MaxPool1d(3, 2, 1), ReLU, AvgPool1d(2), Flatten, "
         "Linear(6, 2)",
         nn.Sequential(nn.BatchNorm1d(3), nn.MaxPool1d(3, 2, 1), nn.ReLU(), nn.AvgPool1d(2),
                       nn.Flatten(), nn.Linear(6, 2)), (4, 3, 8)),
        ("conv", "Conv2d(1, 4, 3, padding=1), ReLU, MaxPool2d(2), ConvTranspose2d(4, 2, 2, "
         "stride=2), BatchNorm2d(2), Flatten, Linear(72, 3)",
         nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                       nn.ConvTranspose2d(4, 2, 2, stride=2), nn.BatchNorm2d(2), nn.Flatten(),
                       nn.Linear(72, 3)), (3, 1, 6, 6)),
    ]


def sequentials(w):
    for name, description, net, shape in networks():
        w.section("%s: nn.Sequential(%s) on %s" % (name, description, shape))
        randomise(net)
        for key, value in net.state_dict().items():
            w.put(name + ".init." + key, value)
        buffers = [k for k, _ in net.named_buffers()]
        x = torch.randn(shape)
        # The output's shape, from an evaluation pass that changes no state.
        net.eval()
        with torch.no_grad():
            dy = torch.randn(net(x).shape)
        net.train()
        w.put(name + ".x", x)
        w.put(name + ".dy", dy)
        y, dx, grads = step(net, x, dy)
        w.put(name + ".train.y", y)
        w.put(name + ".train.dx", dx)
        for key, g in grads.items():
            w.put(name + ".train.d" + key, g)
        for key in buffers:
            w.put(name + ".train." + key, net.state_dict()[key])
        net.eval()
        x = torch.randn(shape)
        dy = torch.randn(y.shape)
        w.put(name + ".eval_x", x)
        w.put(name + ".eval_dy", dy)
        y, dx, grads = step(net, x, dy)
        w.put(name + ".eval.y", y)
        w.put(name + ".eval.dx", dx)
        for key, g in grads.items():
            w.put(name + ".eval.d" + key, g)


def write(filename, title, fill, seed):
    torch.manual_seed(seed)
    w = Writer()
    w.lines[1] = "# Made by: /usr/bin/python3 tools/make_pool_fixtures.py (do not edit by hand)."
    w.section(title)
    fill(w)
    w.save(os.path.normpath(os.path.join(FIXTURES, filename)))


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    write("pool.txt", "pooling layers; loss = sum(y dy)", pools, 300)
    write("batchnorm.txt", "batch normalisation, eps 1e-5, momentum 0.1; loss = sum(y dy)",
          norms, 301)
    write("sequential.txt", "nn.Sequential networks; loss = sum(y dy)", sequentials, 302)


if __name__ == "__main__":
    main()
