#!/usr/bin/python3
"""Plot several `seq2seq-train --eval --by-length FILE.csv` curves in one PNG.

Each CSV is `length,n,exact_match` (one line per source length).  Each
argument LABEL=FILE.csv is one curve; the plot shows exact match against
source length, and a second panel the number of words of each length.
Needs matplotlib (Debian: python3-matplotlib).

Usage: plot_by_length.py [--title TITLE] OUTPUT.png LABEL=FILE.csv ...
"""

import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the back end)


def read_curve(path):
    """(lengths, counts, exact matches) of one CSV."""
    lengths, counts, exact = [], [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            lengths.append(int(row["length"]))
            counts.append(int(row["n"]))
            exact.append(float(row["exact_match"]))
    return lengths, counts, exact


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--title", default="")
    parser.add_argument("output")
    parser.add_argument("curves", nargs="+", metavar="LABEL=FILE.csv")
    args = parser.parse_args()
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(7, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    counts_drawn = False
    for curve in args.curves:
        label, _, path = curve.partition("=")
        lengths, counts, exact = read_curve(path)
        top.plot(lengths, exact, marker="o", markersize=3, label=label)
        if not counts_drawn:
            bottom.bar(lengths, counts, color="grey")
            counts_drawn = True
    top.set_ylabel("exact match")
    top.set_ylim(0, 1.02)
    top.grid(alpha=0.3)
    top.legend(loc="lower left")
    if args.title:
        top.set_title(args.title)
    bottom.set_ylabel("words")
    bottom.set_xlabel("source length (symbols)")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(args.output, dpi=100)
    print(f"{args.output}: {len(args.curves)} curves")


if __name__ == "__main__":
    main()
