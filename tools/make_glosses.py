#!/usr/bin/env python3
"""Rebuild corpora/wordnet-glosses.txt, the bundled text for charlm.

WordNet 3.0's glosses (the definition of each synset, often followed by
examples in quotes) are plain, varied English sentences under the same
licence as the word list beside them.  This reads Debian's wordnet-base
data files (adj, adv, noun, verb; licence lines start with two spaces), and
writes every STRIDE-th synset as one line: its first lemma (underscores as
spaces), a colon, and its gloss.  The stride keeps the file near 1 MB, so a
small model trains on it in minutes, while drawing from the whole
dictionary rather than its first letters.

Usage: make_glosses.py [WORDNET_DIR [OUTPUT]]
"""

import sys

DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
DEFAULT_OUTPUT = "corpora/wordnet-glosses.txt"
PARTS_OF_SPEECH = ("adj", "adv", "noun", "verb")
STRIDE = 9
EXPECTED_LINES = 13074


def glosses(wordnet_dir):
    for pos in PARTS_OF_SPEECH:
        with open(f"{wordnet_dir}/data.{pos}", encoding="utf-8") as data:
            for line in data:
                if line.startswith("  "):
                    continue
                head, _, gloss = line.partition(" | ")
                lemma = head.split()[4].replace("_", " ")
                if lemma.endswith(")"):  # an adjective's syntactic marker
                    lemma = lemma[: lemma.rindex("(")]
                yield f"{lemma}: {gloss.strip()}"


def main():
    wordnet_dir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_WORDNET_DIR
    output = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUTPUT
    lines = [g for i, g in enumerate(glosses(wordnet_dir)) if i % STRIDE == 0]
    if len(lines) != EXPECTED_LINES:
        sys.exit(f"make_glosses.py: {len(lines)} lines, expected {EXPECTED_LINES}")
    with open(output, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
