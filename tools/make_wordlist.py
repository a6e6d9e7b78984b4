#!/usr/bin/env python3
"""Rebuild corpora/wordnet-words.txt, the word list of the course notebook.

The notebook (jgscott/ECO395M, notebooks/seq_to_seq_toy.ipynb) takes every
lemma name of every synset of WordNet 3.0 through NLTK and cleans it.  NLTK
only parses the Princeton data files, so the same list comes from Debian's
wordnet-base package, with no network and no NLTK:

  * the files are read in NLTK's all_synsets() order: adj, adv, noun, verb;
  * licence header lines start with two spaces and are skipped;
  * in a synset line, field 4 is the lemma count in hexadecimal and the
    lemmas are fields 5, 7, 9, ... (each is followed by its lex_id);
  * adjective lemmas may end in a syntactic marker, (a), (p) or (ip), which
    NLTK strips from the lemma name.

Each lemma is then cleaned as the notebook does: lower-cased, split on
[_\\W]+, reduced to the letters a-z, truncated to 32 letters, and kept when
not empty.  That gives 296,863 words; this script keeps the first occurrence
of each, in that order, which leaves 87,433.

Usage: make_wordlist.py [WORDNET_DIR [OUTPUT]]
"""

import re
import sys

DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
DEFAULT_OUTPUT = "corpora/wordnet-words.txt"
PARTS_OF_SPEECH = ("adj", "adv", "noun", "verb")
ADJECTIVE_MARKER = re.compile(r"\((a|p|ip)\)$")
SEPARATORS = re.compile(r"[_\W]+")
LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
MAX_LENGTH = 32
EXPECTED_TOKENS = 296863
EXPECTED_UNIQUE = 87433


def synset_lemmas(line):
    """The lemma names of one data-file line."""
    fields = line.split()
    count = int(fields[3], 16)
    return [ADJECTIVE_MARKER.sub("", fields[4 + 2 * i]) for i in range(count)]


def read_lemmas(wordnet_dir):
    """Every lemma name of every synset, in NLTK's all_synsets() order."""
    for pos in PARTS_OF_SPEECH:
        with open(f"{wordnet_dir}/data.{pos}", encoding="utf-8") as data:
            for line in data:
                if not line.startswith("  "):
                    yield from synset_lemmas(line)


def clean(lemma):
    """The notebook's words for one lemma name."""
    for piece in SEPARATORS.split(lemma.lower()):
        word = "".join(c for c in piece if c in LETTERS)[:MAX_LENGTH]
        if word:
            yield word


def main(argv):
    wordnet_dir = argv[1] if len(argv) > 1 else DEFAULT_WORDNET_DIR
    output = argv[2] if len(argv) > 2 else DEFAULT_OUTPUT
    tokens = [word for lemma in read_lemmas(wordnet_dir) for word in clean(lemma)]
    unique = list(dict.fromkeys(tokens))
    if len(tokens) != EXPECTED_TOKENS or len(unique) != EXPECTED_UNIQUE:
        sys.exit(f"make_wordlist.py: got {len(tokens)} words, {len(unique)} unique; "
                 f"expected {EXPECTED_TOKENS} and {EXPECTED_UNIQUE}")
    with open(output, "w", encoding="ascii", newline="\n") as out:
        out.writelines(word + "\n" for word in unique)
    print(f"{output}: {len(unique)} unique words of {len(tokens)} "
          f"(longest {max(map(len, unique))} letters)")


if __name__ == "__main__":
    main(sys.argv)
