#!/usr/bin/env python3
"""Compares the float tensors of two elman checkpoints (safetensors).

    compare_checkpoints.py A.safetensors B.safetensors [TOLERANCE]

For each tensor of A but the optimizer's state ("optimizer.*": Adam's
moments average gradients, whose own small differences they keep apart
from the weights'): the relative norm difference |a - b| / |a| (|a - b|
when |a| is 0).  Prints the largest and exits 1 when a tensor is missing
from B, has another shape, or differs by more than TOLERANCE (default 0:
identical).  Standard library only, so the tests need no numpy or torch;
docs/distributed.md uses it to check that N ranks train the weights one
process does (only the order of the sums differs)."""
import array
import json
import math
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    body = data[8 + size :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32" or name.startswith("optimizer."):
            continue
        start, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(body[start:end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = (tuple(info["shape"]), values)
    return tensors


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    tolerance = float(sys.argv[3]) if len(sys.argv) == 4 else 0.0
    a, b = read(sys.argv[1]), read(sys.argv[2])
    worst, worst_name, bad = 0.0, "", []
    for name, (shape, values) in a.items():
        if name not in b or b[name][0] != shape:
            bad.append(f"{name}: missing or of another shape in {sys.argv[2]}")
            continue
        other = b[name][1]
        diff = math.sqrt(sum((x - y) ** 2 for x, y in zip(values, other)))
        norm = math.sqrt(sum(x * x for x in values))
        rel = diff / norm if norm > 0 else diff
        if rel > worst or not worst_name:
            worst, worst_name = rel, name
        if not rel <= tolerance:
            bad.append(f"{name}: relative difference {rel:.3g} > {tolerance:g}")
    print(f"{len(a)} tensors; largest relative difference {worst:.3g} ({worst_name})")
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
