#!/usr/bin/env python3
"""Build grapheme-to-phoneme pairs files from Debian's festlex-cmu.

The source is CMUdict 0.4 in Festival's format,
/usr/share/festival/dicts/cmu/cmudict-0.4.out (package festlex-cmu), read as
Latin-1: a first line "MNCL", then one entry per line,

  ("aardvark" nil (((aa r d) 1) ((v aa r k) 1)))

that is a headword, a part of speech, and syllables with their stress.
The pairs are made as follows:

  * only all-lower-case alphabetic headwords ([a-z]+) are kept; the 126
    capitalised entries (names such as "AWOL") are left out;
  * syllables and stress are dropped: a pronunciation is its phones in order;
  * Festival's "ax" (unstressed "ah") is written "ah", which leaves CMU's 39
    phones;
  * a word's pronunciations are grouped: part-of-speech homographs ("a" dt and
    "a" n) give one line each, with the same source, in the file's order, and
    a pronunciation that only differed in stress is written once;
  * each word goes to one split by h = zlib.crc32(word encoded as UTF-8), an
    unsigned 32-bit number: h % 20 from 0 to 17 is train (90%), 18 is
    validation (5%), 19 is test (5%).  All of a word's lines go together.

Each output line is "word<TAB>ph ph ph".  The files are train.tsv, valid.tsv
and test.tsv in the output directory (default build/g2p).  The data comes from
the Debian package and is not committed.

Usage: make_cmudict_pairs.py [OUTPUT_DIR [CMUDICT_OUT]]
"""

import os
import re
import sys
import zlib

DEFAULT_SOURCE = "/usr/share/festival/dicts/cmu/cmudict-0.4.out"
DEFAULT_OUTPUT = "build/g2p"
ENTRY = re.compile(r'^\("([^"]*)" (\S+) \((.*)\)\)$')
SYLLABLE = re.compile(r"\(\(([^()]*)\) [0-9]\)")
WORD = re.compile(r"[a-z]+")
SPLITS = ("train", "valid", "test")


def split_of(word):
    """The split a word belongs to, from the CRC-32 of its UTF-8 bytes."""
    bucket = zlib.crc32(word.encode("utf-8")) % 20
    if bucket < 18:
        return "train"
    return "valid" if bucket == 18 else "test"


def normalise(phones):
    """CMU's 39 phones: Festival's unstressed 'ax' is CMU's 'ah'."""
    return ["ah" if p == "ax" else p for p in phones]


def read_entries(path):
    """The pronunciations of each lower-case alphabetic word, in file order."""
    words = {}
    with open(path, encoding="latin-1") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if number == 1 and line == "MNCL":
                continue
            match = ENTRY.match(line)
            if not match:
                sys.exit(f"{path}:{number}: not a lexicon entry: {line!r}")
            word = match.group(1)
            if not WORD.fullmatch(word):
                continue
            phones = []
            for syllable in SYLLABLE.findall(match.group(3)):
                phones.extend(syllable.split())
            if not phones:
                sys.exit(f"{path}:{number}: no phones in {line!r}")
            pron = " ".join(normalise(phones))
            prons = words.setdefault(word, [])
            if pron not in prons:
                prons.append(pron)
    return words


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT
    source = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_SOURCE
    words = read_entries(source)
    os.makedirs(out_dir, exist_ok=True)
    files = {s: open(os.path.join(out_dir, s + ".tsv"), "w", encoding="utf-8")
             for s in SPLITS}
    n_words = dict.fromkeys(SPLITS, 0)
    n_lines = dict.fromkeys(SPLITS, 0)
    phones = set()
    for word, prons in words.items():
        split = split_of(word)
        n_words[split] += 1
        for pron in prons:
            files[split].write(f"{word}\t{pron}\n")
            n_lines[split] += 1
            phones.update(pron.split())
    for f in files.values():
        f.close()
    print(f"{source}: {len(words)} words, {len(phones)} phones")
    for s in SPLITS:
        path = os.path.join(out_dir, s + ".tsv")
        print(f"{path}: {n_words[s]} words, {n_lines[s]} lines")


if __name__ == "__main__":
    main()
