#!/usr/bin/env python
"""Write the word-scenes text spotting set (COCO format, with transcriptions) -- see
:mod:`stn_plugin.spotting.word_scenes`.

    python tools/dataset/make_word_scenes.py data/word_scenes [--num-train 200] [--num-val 50]
        [--seed 0] [--preset default|curved] [--size 256 320] [--words 2 6] [--dont-care-prob 0.1] [--overwrite]
"""
from __future__ import annotations

import argparse
import time

from stn_plugin.cli.argument_types import finite_float, non_negative_int, positive_int
from stn_plugin.cli.errors import exit_on_bad_input
from stn_plugin.spotting.word_scenes import WORD_SCENE_PRESETS, generate_word_scenes, word_scene_options


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", nargs="?", default="data/word_scenes",
                        help="output folder: <out_dir>/{train,val}/*.png and annotations/{train,val}.json")
    parser.add_argument("--num-train", type=non_negative_int, default=200, help="training scenes")
    parser.add_argument("--num-val", type=non_negative_int, default=50, help="validation scenes")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (the same seed gives the same files)")
    parser.add_argument("--preset", default="default", choices=sorted(WORD_SCENE_PRESETS),
                        help="word mix: 'default' (every warp equally likely) or 'curved' (four words in five "
                             "curved or arc-shaped, Total-Text-like)")
    parser.add_argument("--size", type=positive_int, nargs=2, default=(256, 320), metavar=("MIN", "MAX"),
                        help="each scene's height and width are drawn from [MIN, MAX] pixels")
    parser.add_argument("--words", type=positive_int, nargs=2, default=(2, 6), metavar=("MIN", "MAX"),
                        help="words per scene (fewer when they do not fit)")
    parser.add_argument("--dont-care-prob", type=finite_float, default=0.1,
                        help="chance that a word is drawn too small to read and annotated '###' (iscrowd=1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing non-empty out_dir")
    args = parser.parse_args(argv)
    t0 = time.time()
    with exit_on_bad_input(ImportError):
        options = word_scene_options(args.preset, size_range=tuple(args.size), num_words=tuple(args.words),
                                     dont_care_prob=args.dont_care_prob)
        out = generate_word_scenes(args.out_dir, args.num_train, args.num_val, args.seed, options=options,
                                   overwrite=args.overwrite)
    print(f"[word scenes] wrote {out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
