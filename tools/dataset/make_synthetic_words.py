#!/usr/bin/env python
"""Generate synthetic word crops in the mmocr textrecog layout.

    python tools/dataset/make_synthetic_words.py data/synth_words --split train --num 20000 --seed 0
    python tools/dataset/make_synthetic_words.py data/synth_words --split test_curved --num 1000 \
        --seed 1 --distortions curve arc perspective

writes ``<out>/<split>/000000.png ...`` and ``<out>/textrecog_<split>.json``; the
same seed gives the same files (whatever ``--workers``). Logic:
:mod:`stn_plugin.textrecog.synthetic_words`.
"""
import argparse

from stn_plugin.cli.argument_types import positive_int
from stn_plugin.cli.errors import exit_on_bad_input
from stn_plugin.textrecog.synthetic_words import DISTORTIONS, WORD_SOURCES, generate_synthetic_words


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="output folder (created)")
    p.add_argument("--split", default="train",
                   help="split name: sub-folder and annotation file suffix (letters, digits, _ . -)")
    p.add_argument("--num", type=positive_int, default=10000, help="number of crops")
    p.add_argument("--seed", type=int, default=0, help="generator seed (the same seed gives the same files)")
    p.add_argument("--distortions", nargs="+", default=list(DISTORTIONS), choices=DISTORTIONS,
                   help="distortions drawn from, uniformly (default: all)")
    p.add_argument("--words", default="mixed", choices=WORD_SOURCES, help="word source")
    p.add_argument("--workers", type=positive_int, default=1, help="processes (the files do not depend on it)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing split (its images and annotation file are deleted first); "
                        "other splits are kept")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with exit_on_bad_input():
        ann = generate_synthetic_words(args.out_dir, args.num, seed=args.seed, split=args.split,
                                       distortions=args.distortions, word_source=args.words, workers=args.workers,
                                       overwrite=args.overwrite)
    print(f"wrote {args.num} crops and {ann}")


if __name__ == "__main__":
    main()
