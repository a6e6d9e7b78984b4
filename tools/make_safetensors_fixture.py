#!/usr/bin/env python3
"""Writes the safetensors fixtures of tests/test_checkpoint.c, independently of elman.

    python3 tools/make_safetensors_fixture.py tests/fixtures

The files are what safetensors.torch.save_file(tensors, path, metadata) writes
for the same tensors, following its Rust serializer (huggingface/safetensors,
safetensors/src/tensor.rs, `prepare` and `Metadata`'s Serialize):

- bytes 0-7: the header's length N, a little-endian u64;
- N bytes of JSON, serde_json's compact form: "__metadata__" first, then one
  {"dtype", "shape", "data_offsets"} object per tensor, in the order of the
  data; padded with spaces to a multiple of 8;
- the tensors' little-endian, row-major bytes, one after the other.

Tensors are ordered by dtype alignment (the Dtype enum, descending), then by
name.  serde_json escapes only '"', '\\' and control characters, in lowercase
\\u00XX where there is no short form, which is what json.dumps does with
ensure_ascii=False.  Each file has one metadata key, since safetensors
iterates a HashMap to write them (an order that varies with more than one).
The first two files need only json and struct; the third holds a PyTorch
BatchNorm1d's state_dict after three training batches (parameters, running
statistics and the int64 scalar num_batches_tracked), so it needs PyTorch
(python3-torch) but no safetensors package.
"""
import json
import os
import struct
import sys

# safetensors' Dtype enum, in increasing alignment; its position orders tensors.
DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3",
               "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16",
               "I32", "U32", "F32", "C64", "F64", "I64", "U64"]

# struct formats of the dtypes used here (little-endian).
PACK = {"BOOL": "?", "F16": "e", "F32": "f", "I64": "q"}


def serialize(tensors, metadata):
    """tensors: {name: (dtype, shape, values)}; returns the file's bytes."""
    order = sorted(tensors, key=lambda name: (-DTYPE_ORDER.index(tensors[name][0]), name))
    header = {"__metadata__": metadata}
    data = b""
    for name in order:
        dtype, shape, values = tensors[name]
        count = 1
        for d in shape:
            count *= d
        assert len(values) == count, name
        raw = struct.pack("<%d%s" % (count, PACK[dtype]), *values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32_file():
    """F32 tensors only, so elman's writer must reproduce it byte for byte."""
    return serialize({
        "decoder.fc.weight": ("F32", [2, 3], [0.5 * i - 1.0 for i in range(6)]),
        "decoder.fc.bias": ("F32", [2], [0.25, -0.75]),
        "encoder.weight_ih_l0": ("F32", [3, 1, 2], [1.0 / (i + 1) for i in range(6)]),
        # A name that needs escaping, with non-ASCII text.
        'odd "name"\\\t\x01 é ✓': ("F32", [1], [3.5]),
    }, {"format": "pt"})


def mixed_file():
    """Several dtypes, a rank-0 scalar and a zero-size tensor."""
    return serialize({
        "decoder.fc.weight": ("F32", [3, 2], [0.5 * i - 1.0 for i in range(6)]),
        "decoder.fc.bias": ("F32", [3], [0.25, -0.75, 2.0]),
        "empty": ("F32", [0, 3], []),
        "tokens": ("I64", [4], [3, 1, 4, 1]),
        "count": ("I64", [], [7]),
        "half": ("F16", [2], [1.5, -2.0]),
        "mask": ("BOOL", [5], [True, False, True, True, False]),
    }, {"format": "pt"})


def torch_batchnorm_file():
    """A BatchNorm1d(3)'s state_dict after three batches in training mode:
    F32 weight, bias, running_mean and running_var, and the I64 scalar
    num_batches_tracked, as safetensors.torch.save_file stores them."""
    import torch
    bn = torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 0.5, -2.0]))
        bn.bias.copy_(torch.tensor([0.0, 0.25, 1.0]))
    bn.train()
    for step in range(3):
        # Fixed inputs (no random numbers), so any PyTorch gives these values.
        x = torch.arange(12, dtype=torch.float32).reshape(4, 3) * (step + 1) / 7.0 - step
        bn(x)
    names = {torch.float32: "F32", torch.int64: "I64"}
    tensors = {}
    for name, t in bn.state_dict().items():
        tensors[name] = (names[t.dtype], list(t.shape), t.flatten().tolist())
    return serialize(tensors, {"format": "pt"})


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_safetensors_fixture.py OUTPUT_DIR")
    for name, contents in [("independent-f32.safetensors", f32_file()),
                           ("independent-mixed.safetensors", mixed_file()),
                           ("torch-batchnorm.safetensors", torch_batchnorm_file())]:
        path = os.path.join(sys.argv[1], name)
        with open(path, "wb") as f:
            f.write(contents)
        print(f"{path}: {len(contents)} bytes")


if __name__ == "__main__":
    main()
