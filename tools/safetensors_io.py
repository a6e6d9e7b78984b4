"""A small, strict safetensors reader and writer for elman's checkpoints.

Debian 12 packages no safetensors for Python, so the tools that move
checkpoints between elman and PyTorch use this module (json, struct and
numpy only).  The format is include/elman/checkpoint.h's:

- bytes 0-7: the header's length N, a little-endian u64;
- N bytes of UTF-8 JSON: an optional "__metadata__" object of strings, then
  one {"dtype", "shape", "data_offsets"} object per tensor;
- the tensors' little-endian, row-major bytes.

Only F32 and I64 tensors are handled, the dtypes elman and these tools use.
The reader checks what elman's reader checks and refuses anything else with
a ValueError naming the file and what is wrong: the header length, the JSON,
each dtype, shape and offset pair, that the tensors tile the data exactly and
that the file ends where they do.  The writer lays the file out as
safetensors' own serializer does (tensors by dtype alignment, then by name;
the header padded with spaces to a multiple of 8), so elman, PyTorch's
safetensors and this reader all accept it.

    from safetensors_io import read, write
    tensors, metadata = read("model.safetensors")   # {name: numpy array}, {key: str}
    write("copy.safetensors", tensors, metadata)
"""
import json
import os
import struct

import numpy as np

# The dtypes handled, with their numpy types (little-endian).
DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}
# safetensors writes the wider-aligned dtypes first (its Dtype enum, descending).
ALIGNMENT_ORDER = {"I64": 0, "F32": 1}
# A header larger than this is refused, as safetensors does (100 MB).
MAX_HEADER = 100_000_000


def _fail(path, why):
    raise ValueError("%s: %s" % (path, why))


def _dtype_of(array):
    for name, dtype in DTYPES.items():
        if array.dtype == dtype or array.dtype == dtype.newbyteorder("="):
            return name
    return None


def read(path):
    """Returns ({name: numpy array}, {key: value}) for a safetensors file.

    Arrays are copies in native byte order, in the file's shapes."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        _fail(path, "%d bytes, too short for the 8-byte header length" % len(raw))
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER or n > len(raw) - 8:
        _fail(path, "header length %d does not fit a file of %d bytes" % (n, len(raw)))
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        _fail(path, "the header is not UTF-8 JSON (%s)" % e)
    if not isinstance(header, dict):
        _fail(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        _fail(path, "\"__metadata__\" is not an object of strings")
    data = raw[8 + n:]
    spans = []
    tensors = {}
    for name, entry in header.items():
        where = "tensor \"%s\"" % name
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            _fail(path, "%s: not an object of dtype, shape and data_offsets" % where)
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            _fail(path, "%s: dtype %r (only %s are read)" % (where, dtype, ", ".join(DTYPES)))
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            _fail(path, "%s: shape %r is not a list of sizes" % (where, shape))
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= len(data)):
            _fail(path, "%s: data_offsets %r outside the %d data bytes" % (where, offsets,
                                                                            len(data)))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        size = count * DTYPES[dtype].itemsize
        if offsets[1] - offsets[0] != size:
            _fail(path, "%s: %d bytes for %s %s (%d needed)" % (where, offsets[1] - offsets[0],
                                                                dtype, shape, size))
        spans.append((offsets[0], offsets[1], name))
        array = np.frombuffer(data, dtype=DTYPES[dtype], count=count, offset=offsets[0])
        tensors[name] = array.astype(DTYPES[dtype].newbyteorder("="), copy=True).reshape(shape)
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            _fail(path, "tensor \"%s\" starts at byte %d of the data, not %d (a gap or an "
                  "overlap)" % (name, begin, end))
        end = stop
    if end != len(data):
        _fail(path, "the tensors end at byte %d of the data, the file at %d" % (end, len(data)))
    return tensors, metadata


def serialize(tensors, metadata=None):
    """The bytes of a safetensors file of tensors ({name: array-like}, each
    F32 or I64; other float types become F32, other integers I64) and
    metadata ({str: str})."""
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError("tensor name %r" % (name,))
        array = np.asarray(value)
        if _dtype_of(array) is None:
            kind = array.dtype.kind
            if kind == "f":
                array = array.astype(np.float32)
            elif kind in "iub":
                array = array.astype(np.int64)
            else:
                raise ValueError("tensor \"%s\": dtype %s is neither F32 nor I64" %
                                 (name, array.dtype))
        arrays[name] = array
    header = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    order = sorted(arrays, key=lambda name: (ALIGNMENT_ORDER[_dtype_of(arrays[name])], name))
    chunks = []
    offset = 0
    for name in order:
        dtype = _dtype_of(arrays[name])
        raw = np.ascontiguousarray(arrays[name], dtype=DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": [int(d) for d in arrays[name].shape],
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path, tensors, metadata=None):
    """Writes serialize(tensors, metadata) to path through a temporary file
    renamed over it, so an interrupted write leaves the old file intact."""
    raw = serialize(tensors, metadata)
    temporary = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(temporary, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
