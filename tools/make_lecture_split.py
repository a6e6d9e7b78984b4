#!/usr/bin/env python3
"""Rebuild the course notebook's own data for seq2seq-train --preset lecture.

The notebook (jgscott/ECO395M, notebooks/seq_to_seq_toy.ipynb) trains on
every cleaned WordNet lemma word with its repeats, 296,863 tokens, and
tests on 5% of them drawn by NumPy's legacy generator:

    np.random.seed(42)
    test_ind = np.random.choice(num_words, size=int(num_words * 0.05), replace=False)

This script writes both, from Debian's wordnet-base as tools/make_wordlist.py
reads it (the same files, order and cleaning, without dropping repeats):

  * corpora/wordnet-tokens.txt: the 296,863 tokens, one per line, in the
    notebook's order;
  * corpora/wordnet-lecture-test.txt: the 14,843 test indices (0-based
    lines of the tokens file), one per line, in the order drawn, which is
    the order of the notebook's test loader (shuffle=False), so its
    per-batch mean loss can be reproduced batch for batch.

The training set is every other token.  Needs python3-numpy (the legacy
generator's stream is stable across NumPy versions: NEP 19).

Usage: make_lecture_split.py [WORDNET_DIR [CORPORA_DIR]]
(CORPORA_DIR defaults to the repository's corpora/)
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wordlist import DEFAULT_WORDNET_DIR, EXPECTED_TOKENS, clean, read_lemmas

TEST_FRACTION = 0.05
SEED = 42
EXPECTED_TEST = 14843


def main(argv):
    wordnet_dir = argv[1] if len(argv) > 1 else DEFAULT_WORDNET_DIR
    corpora = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "corpora")
    tokens = [word for lemma in read_lemmas(wordnet_dir) for word in clean(lemma)]
    n = len(tokens)
    np.random.seed(SEED)
    test = np.random.choice(n, size=int(n * TEST_FRACTION), replace=False)
    if n != EXPECTED_TOKENS or len(test) != EXPECTED_TEST:
        sys.exit(f"make_lecture_split.py: got {n} tokens and {len(test)} test indices; "
                 f"expected {EXPECTED_TOKENS} and {EXPECTED_TEST}")
    with open(f"{corpora}/wordnet-tokens.txt", "w", encoding="ascii", newline="\n") as out:
        out.writelines(word + "\n" for word in tokens)
    with open(f"{corpora}/wordnet-lecture-test.txt", "w", encoding="ascii", newline="\n") as out:
        out.writelines(f"{i}\n" for i in test)
    print(f"{corpora}: {n} tokens, {len(test)} test indices (first {test[0]}, "
          f"word '{tokens[test[0]]}')")


if __name__ == "__main__":
    main(sys.argv)
