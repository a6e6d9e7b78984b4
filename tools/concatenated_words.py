#!/usr/bin/env python3
"""Words of every length from 2 to MAX, each two words of a list joined.

Word reversal's held-out words are rarely longer than 20 letters (the
bundled list has 28 words over 20 letters of 87,433), so exact match by length
beyond that needs longer inputs.  This writes COUNT "words" of each length L
from 2 to MAX (default 31), each the concatenation of two distinct words of
WORDS whose lengths sum to L ("freeloader" + "benadryl"), drawn with
Python's random.Random(SEED), one a line.  Give it held-out words only
(tools/seq2seq_split.py) so that no part was seen in training, and the
whole word list as --exclude, so that no joined word is itself a word of
the list ("sun" + "flower").

Usage: concatenated_words.py [--count 100] [--max 31] [--seed 1]
           [--exclude LIST] WORDS OUTPUT
"""

import argparse
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--max", type=int, default=31)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exclude")
    parser.add_argument("words")
    parser.add_argument("output")
    args = parser.parse_args()
    with open(args.words, encoding="utf-8") as f:
        words = sorted({w.strip() for w in f if w.strip()})
    excluded = set()
    if args.exclude:
        with open(args.exclude, encoding="utf-8") as f:
            excluded = {w.strip() for w in f}
    by_length = {}
    for word in words:
        by_length.setdefault(len(word), []).append(word)
    rng = random.Random(args.seed)
    written = 0
    with open(args.output, "w", encoding="utf-8") as out:
        for total in range(2, args.max + 1):
            splits = [(a, total - a) for a in range(1, total)
                      if a in by_length and total - a in by_length]
            made = set()
            for _ in range(args.count * 20):
                if len(made) == args.count or not splits:
                    break
                a, b = rng.choice(splits)
                first, second = rng.choice(by_length[a]), rng.choice(by_length[b])
                if first != second and first + second not in excluded:
                    made.add(first + second)
            for word in sorted(made):
                out.write(word + "\n")
            written += len(made)
    print(f"{args.output}: {written} words")


if __name__ == "__main__":
    main()
