#!/usr/bin/python3
"""Writes tests/fixtures/autoencoder.txt: PyTorch modules with `encoder` and
`decoder` nn.Sequential attributes, built as include/elman/autoencoder.h's
builders build them, for tests/test_autoencoder.c (which needs no PyTorch).
Run it with a Python that has torch (Debian's does):

    /usr/bin/python3 tools/make_autoencoder_fixtures.py

The format is the one tools/make_fixtures.py describes.  The loss is
sum(y * dy) with a random dy, so the gradients stored are those of dy.

Per network <net> (conv: channels 1, 8x8 images, latent 3; dense: channels
2, 4x3 images, hidden 5, latent 3): <net>.init.<key> for every key of the
module's state_dict (so the keys themselves are checked), .x, .dy, then
.code (the encoder's output), .y, .dx and .d<key> for every parameter.
"""

import os

import torch
from torch import nn

from make_fixtures import Writer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


class Autoencoder(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))


def conv(channels, height, width, latent):
    flat = 32 * (height // 4) * (width // 4)
    return Autoencoder(
        nn.Sequential(nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.ReLU(),
                      nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                      nn.Linear(flat, latent)),
        nn.Sequential(nn.Linear(latent, flat), nn.ReLU(),
                      nn.Unflatten(1, (32, height // 4, width // 4)),
                      nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1),
                      nn.ReLU(),
                      nn.ConvTranspose2d(16, channels, 3, stride=2, padding=1, output_padding=1),
                      nn.Sigmoid()))


def dense(channels, height, width, hidden, latent):
    pixels = channels * height * width
    return Autoencoder(
        nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(),
                      nn.Linear(hidden, latent)),
        nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, pixels),
                      nn.Sigmoid(), nn.Unflatten(1, (channels, height, width))))


def network(w, name, description, net, shape):
    w.section("%s: %s on %s" % (name, description, shape))
    # Wider weights than the default initialisation, so that no layer is
    # nearly linear and every ReLU cuts some units.
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-0.5, 0.5)
    for key, value in net.state_dict().items():
        w.put(name + ".init." + key, value)
    x = torch.rand(shape, requires_grad=True)
    code = net.encoder(x)
    y = net.decoder(code)
    dy = torch.randn(y.shape)
    (y * dy).sum().backward()
    w.put(name + ".x", x)
    w.put(name + ".dy", dy)
    w.put(name + ".code", code)
    w.put(name + ".y", y)
    w.put(name + ".dx", x.grad)
    for key, p in net.named_parameters():
        w.put(name + ".d" + key, p.grad)


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    torch.manual_seed(400)
    w = Writer()
    w.lines[1] = ("# Made by: /usr/bin/python3 tools/make_autoencoder_fixtures.py "
                  "(do not edit by hand).")
    network(w, "conv", "the conv builder's network, channels 1, 8x8, latent 3", conv(1, 8, 8, 3),
            (2, 1, 8, 8))
    network(w, "dense", "the dense builder's network, channels 2, 4x3, hidden 5, latent 3",
            dense(2, 4, 3, 5, 3), (3, 2, 4, 3))
    w.save(os.path.normpath(os.path.join(FIXTURES, "autoencoder.txt")))


if __name__ == "__main__":
    main()
