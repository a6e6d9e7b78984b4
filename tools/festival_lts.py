#!/usr/bin/env python3
"""Festival's letter-to-sound rules on the sources of a pairs file.

Runs Debian's festival with festlex-cmu's CART rules (cmu_lts_rules.scm,
trained on CMUdict 0.4) through (lts_predict "word" cmu_lts_rules) on each
distinct source of PAIRS, and writes "word<TAB>ph ph ph" to OUTPUT, one line
per word, in the order of PAIRS.  Score it with tools/score_pairs.py.

The words go in chunks of CHUNK (default 300) to separate festival processes,
JOBS (default 2) at a time: one festival process slows down over a long list.

The output is normalised as tools/make_cmudict_pairs.py writes the lexicon:
stress digits are removed and "ax" is written "ah".  The rules' leaves
include composite phones (k-s, g-z, y-uw1, w-ah1 and 17 more); lts_predict
already returns them split ("box" gives b aa1 k s), and any phone that still
holds a "-" is split here as well.

Usage: festival_lts.py [--jobs JOBS] [--chunk CHUNK] PAIRS OUTPUT
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

SCHEME_HEADER = """(load (path-append lexdir "cmu/cmulex.scm"))
(require 'lts)
(load (path-append lexdir "cmu/cmu_lts_rules.scm"))
"""
WORD = re.compile(r"[a-z]+")


def normalise(phone):
    """A Festival phone as CMU's 39 unstressed phones (a list: it may split)."""
    out = []
    for part in phone.split("-"):
        part = part.rstrip("012")
        out.append("ah" if part == "ax" else part)
    return out


def run_chunk(words, directory, index):
    """Festival's predictions for words, as a list of phone lists."""
    path = os.path.join(directory, f"chunk{index}.scm")
    with open(path, "w", encoding="ascii") as f:
        f.write(SCHEME_HEADER)
        for word in words:
            f.write(f'(format t "%s\\t%l\\n" "{word}" '
                    f'(lts_predict "{word}" cmu_lts_rules))\n')
    result = subprocess.run(["festival", "--batch", path], check=True,
                            capture_output=True, text=True)
    predictions = {}
    for line in result.stdout.splitlines():
        word, tab, phones = line.partition("\t")
        if not tab:
            continue
        if not (phones.startswith("(") and phones.endswith(")")):
            sys.exit(f"festival: unexpected output {line!r}")
        predictions[word] = [p for phone in phones[1:-1].split()
                             for p in normalise(phone)]
    missing = [w for w in words if w not in predictions]
    if missing:
        sys.exit(f"festival: no prediction for {missing[:5]}")
    return [predictions[w] for w in words]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=300)
    parser.add_argument("pairs")
    parser.add_argument("output")
    args = parser.parse_args()
    words = []
    with open(args.pairs, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            word = line.split("\t", 1)[0]
            if not WORD.fullmatch(word):
                sys.exit(f"{args.pairs}:{number}: not a lower-case word")
            words.append(word)
    words = list(dict.fromkeys(words))
    chunks = [words[i:i + args.chunk]
              for i in range(0, len(words), args.chunk)]
    with tempfile.TemporaryDirectory() as directory:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = pool.map(run_chunk, chunks, [directory] * len(chunks),
                               range(len(chunks)))
            predictions = [p for chunk in results for p in chunk]
    with open(args.output, "w", encoding="utf-8") as f:
        for word, phones in zip(words, predictions):
            f.write(f"{word}\t{' '.join(phones)}\n")
    print(f"{args.output}: {len(words)} words")


if __name__ == "__main__":
    main()
