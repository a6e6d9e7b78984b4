#!/usr/bin/python3
"""Samples word lists whose words have the same length distribution.

To compare how seq2seq-train learns different scripts without the answer
being about word length, this draws N words from each list so that every
list has the same number of words of each length (in characters after NFC)
as a reference sample drawn from the first list.

    tools/length_matched_lists.py --count 20000 --out-dir /tmp/lm \
        corpora/wordnet-words.txt /usr/share/dict/ngerman /usr/share/dict/ukrainian

writes /tmp/lm/wordnet-words.txt, /tmp/lm/ngerman and /tmp/lm/ukrainian.
Lengths for which another list has too few words are cut in every list.
"""
import argparse
import collections
import os
import random
import unicodedata


def read_words(path):
    words = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            word = unicodedata.normalize("NFC", line.strip())
            if word and not any(c.isspace() for c in word):
                words.add(word)
    by_length = collections.defaultdict(list)
    for word in sorted(words):
        by_length[len(word)].append(word)
    return by_length


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=20)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("lists", nargs="+")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lists = [read_words(path) for path in args.lists]
    reference = [w for n, ws in lists[0].items() if n <= args.max_length for w in ws]
    wanted = collections.Counter(len(w) for w in rng.sample(reference, args.count))
    for n in wanted:
        wanted[n] = min([wanted[n]] + [len(l.get(n, [])) for l in lists])
    os.makedirs(args.out_dir, exist_ok=True)
    for path, by_length in zip(args.lists, lists):
        chosen = [w for n in sorted(wanted) for w in rng.sample(by_length[n], wanted[n])]
        rng.shuffle(chosen)
        out = os.path.join(args.out_dir, os.path.basename(path))
        with open(out, "w", encoding="utf-8") as f:
            f.write("\n".join(chosen) + "\n")
        mean = sum(len(w) for w in chosen) / len(chosen)
        print(f"{out}: {len(chosen)} words, mean length {mean:.2f}")


if __name__ == "__main__":
    main()
