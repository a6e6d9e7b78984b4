#!/usr/bin/env python3
"""Score a predictions pairs file against a reference pairs file.

Both files hold "source<TAB>target" lines.  A source may have several lines
in the reference (several correct targets); the predictions file must give
one target, possibly empty, for each source of the reference (the same line
repeated, as `seq2seq-train --predict --input` writes it for a source on
several lines, is one).  Targets are compared as sequences of symbols:
space-separated tokens by default (phones), or characters with --chars.

The rules are those of grapheme-to-phoneme papers (and of Toshniwal &
Livescu's scorer):

  * a prediction is right when it equals any of the source's references;
    word error rate = 1 - right / sources;
  * its error is the Levenshtein distance to the closest reference (the
    smallest distance; on a tie the first in file order), and the symbol
    error rate is the sum of those distances over the sum of the lengths of
    those closest references.

Prints sources, word_error_rate, symbol_error_rate and exact_match, one
"name: value" per line.

Usage: score_pairs.py [--chars] REFERENCE PREDICTIONS
"""

import sys


def read_pairs(path, chars, empty_targets=False):
    """A dict from source to its list of distinct targets, in file order;
    an empty target (a model's empty output) only with empty_targets."""
    pairs = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            source, tab, target = line.partition("\t")
            if not tab or not source or not (target or empty_targets):
                sys.exit(f"{path}:{number}: expected source<TAB>target")
            symbols = tuple(target) if chars else tuple(target.split())
            targets = pairs.setdefault(source, [])
            if symbols not in targets:
                targets.append(symbols)
    return pairs


def edit_distance(a, b):
    """Levenshtein distance: insertions, deletions, substitutions cost 1."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def score(references, predictions):
    """(sources, right, edits, reference symbols) of predictions."""
    right = edits = length = 0
    for source, targets in references.items():
        if source not in predictions:
            sys.exit(f"no prediction for {source!r}")
        if len(predictions[source]) != 1:
            sys.exit(f"several predictions for {source!r}")
        predicted = predictions[source][0]
        right += predicted in targets
        best = min(targets, key=lambda t: edit_distance(predicted, t))
        edits += edit_distance(predicted, best)
        length += len(best)
    return len(references), right, edits, length


def main():
    args = sys.argv[1:]
    chars = bool(args) and args[0] == "--chars"
    if chars:
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    references = read_pairs(args[0], chars)
    predictions = read_pairs(args[1], chars, empty_targets=True)
    sources, right, edits, length = score(references, predictions)
    print(f"sources: {sources}")
    print(f"word_error_rate: {1 - right / sources:.4f}")
    print(f"symbol_error_rate: {edits / length:.4f}")
    print(f"exact_match: {right / sources:.4f}")


if __name__ == "__main__":
    main()
