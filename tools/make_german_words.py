#!/usr/bin/env python3
"""Write a German word list for seq2seq-train: 14,000 random words of 4 to
12 letters from Debian's wngerman (/usr/share/dict/ngerman), 6,000 of them
with an umlaut or ß and 8,000 without.

The draw is fixed by the seed, so the same package version gives the same
list on any machine; the list is not committed (wngerman is GPL), this
script re-makes it:

    apt-get install wngerman
    python3 tools/make_german_words.py de.txt
    seq2seq-train --words de.txt

Usage: make_german_words.py OUTPUT [DICTIONARY]
"""

import random
import sys

DEFAULT_DICTIONARY = "/usr/share/dict/ngerman"
SEED = 22
WITH_UMLAUT = 6000
WITHOUT_UMLAUT = 8000
UMLAUTS = frozenset("äöüÄÖÜß")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    output = sys.argv[1]
    dictionary = sys.argv[2] if len(sys.argv) == 3 else DEFAULT_DICTIONARY
    with open(dictionary, encoding="utf-8") as f:
        words = sorted({w.strip() for w in f if w.strip().isalpha() and 4 <= len(w.strip()) <= 12})
    umlaut = [w for w in words if UMLAUTS & set(w)]
    plain = [w for w in words if not UMLAUTS & set(w)]
    rng = random.Random(SEED)
    chosen = rng.sample(umlaut, WITH_UMLAUT) + rng.sample(plain, WITHOUT_UMLAUT)
    rng.shuffle(chosen)
    with open(output, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(w + "\n" for w in chosen)
    print(f"{output}: {len(chosen)} words ({WITH_UMLAUT} with an umlaut or ß) "
          f"from {len(umlaut)} + {len(plain)} candidates in {dictionary}")


if __name__ == "__main__":
    main()
