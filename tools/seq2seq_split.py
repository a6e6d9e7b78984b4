#!/usr/bin/env python3
"""Write one part of seq2seq-train's split of a word list, one word a line.

seq2seq-train splits the words of --words by seed (el_split over the words
el_words_read keeps: duplicates dropped, lengths --min-length to
--max-length), and `--eval --words FILE` scores every word of FILE.  This
script writes the words of one part of that split, found through libelman
itself (ctypes), so that a model can be evaluated on exactly its own test
words, for instance by word length (`--eval --by-length`).

Usage: seq2seq_split.py [--lib build/src/libelman.so] [--seed 1]
           [--validation 0.05] [--test 0.05] [--min-length 1] [--max-length 32]
           [--part test|validation|train] WORDS OUTPUT
"""

import argparse
import ctypes


class Ids(ctypes.Structure):
    """el_ids (include/elman/vocab.h)."""
    _fields_ = [("data", ctypes.POINTER(ctypes.c_int)), ("count", ctypes.c_size_t),
                ("capacity", ctypes.c_size_t)]


class Clusters(ctypes.Structure):
    """The leading fields of el_clusters (include/elman/vocab.h)."""
    _fields_ = [("text", ctypes.c_void_p), ("bytes", ctypes.c_size_t)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lib", default="build/src/libelman.so")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--validation", type=float, default=0.05)
    parser.add_argument("--test", type=float, default=0.05)
    parser.add_argument("--min-length", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--part", choices=("test", "validation", "train"), default="test")
    parser.add_argument("words")
    parser.add_argument("output")
    args = parser.parse_args()

    lib = ctypes.CDLL(args.lib)
    lib.el_last_error.restype = ctypes.c_char_p
    lib.el_words_get.restype = ctypes.POINTER(Clusters)

    def call(name, *call_args):
        if getattr(lib, name)(*call_args) != 0:
            raise SystemExit("%s: %s" % (name, lib.el_last_error().decode("utf-8")))

    words = ctypes.c_void_p()
    call("el_words_read", ctypes.byref(words), args.words.encode(), args.min_length,
         args.max_length)
    count = lib.el_words_count(words)
    parts = {"train": Ids(), "validation": Ids(), "test": Ids()}
    call("el_split", count, ctypes.c_uint64(args.seed), ctypes.c_double(args.validation),
         ctypes.c_double(args.test), ctypes.byref(parts["train"]),
         ctypes.byref(parts["validation"]), ctypes.byref(parts["test"]))
    chosen = parts[args.part]
    with open(args.output, "wb") as f:
        for k in range(chosen.count):
            word = lib.el_words_get(words, chosen.data[k]).contents
            f.write(ctypes.string_at(word.text, word.bytes) + b"\n")
    print(f"{args.output}: {chosen.count} {args.part} words of {count}")
    for ids in parts.values():
        lib.el_ids_free(ctypes.byref(ids))
    lib.el_words_free(words)


if __name__ == "__main__":
    main()
