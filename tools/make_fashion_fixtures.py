#!/usr/bin/env python3
"""Writes a small synthetic data set in Fashion-MNIST's IDX layout, and a
few PNGs, for the fashion program's end-to-end test (tests/apps/fashion.sh).

    make_fashion_fixtures.py DIR TRAIN TEST

DIR receives train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz with TRAIN and TEST
28x28 images of four classes (a horizontal bar, a vertical bar, a hollow
square, a cross), placed and shaded at random, light on dark; and PNGs
class<k>.png (gray), class<k>-rgb.png (colour), class<k>-dark.png (dark on
light) and small.png (20x20).  The standard library only, so any python3
runs it; the same arguments give the same files."""

import gzip
import random
import struct
import sys
import zlib

SIDE = 28
CLASSES = 4


def draw(label, rng):
    image = [[rng.randrange(0, 30) for _ in range(SIDE)] for _ in range(SIDE)]
    shade = rng.randrange(170, 256)
    x, y = rng.randrange(6, 22), rng.randrange(6, 22)
    half = rng.randrange(4, 7)

    def put(r, c):
        if 0 <= r < SIDE and 0 <= c < SIDE:
            image[r][c] = shade

    for d in range(-half, half + 1):
        for w in (-1, 0, 1):
            if label == 0:
                put(y + w, x + d)
            elif label == 1:
                put(y + d, x + w)
            elif label == 2 and w == 0:
                put(y - half, x + d)
                put(y + half, x + d)
                put(y + d, x - half)
                put(y + d, x + half)
            elif label == 3:
                put(y + d + w, x + d)
                put(y - d + w, x + d)
    return image


def write_idx(path, type_dims, payload):
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        dims = type_dims
        f.write(struct.pack(">BBBB", 0, 0, 0x08, len(dims)))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(payload)


def write_set(directory, prefix, count, rng):
    labels = [i % CLASSES for i in range(count)]
    rng.shuffle(labels)
    pixels = bytearray()
    for label in labels:
        for row in draw(label, rng):
            pixels.extend(row)
    write_idx(f"{directory}/{prefix}-images-idx3-ubyte.gz", (count, SIDE, SIDE), bytes(pixels))
    write_idx(f"{directory}/{prefix}-labels-idx1-ubyte.gz", (count,), bytes(labels))


def write_png(path, rows, colour):
    """An 8-bit gray (colour 0) or RGB (colour 2) PNG of rows of bytes."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    height, width = len(rows), len(rows[0]) // (3 if colour == 2 else 1)
    raw = b"".join(b"\0" + bytes(row) for row in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def main():
    directory, train, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(20261206)
    write_set(directory, "train", train, rng)
    write_set(directory, "t10k", test, rng)
    for label in range(CLASSES):
        image = draw(label, rng)
        write_png(f"{directory}/class{label}.png", image, 0)
        write_png(f"{directory}/class{label}-dark.png", [[255 - v for v in row] for row in image], 0)
        write_png(f"{directory}/class{label}-rgb.png",
                  [[v for v in row for _ in range(3)] for row in image], 2)
    write_png(f"{directory}/small.png", [row[:20] for row in draw(0, rng)[:20]], 0)


if __name__ == "__main__":
    main()
