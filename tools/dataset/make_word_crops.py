#!/usr/bin/env python
"""Cut the words of a word-scenes set into crops for a crop-level recognizer (mmocr
textrecog JSON) -- see :mod:`stn_plugin.spotting.word_crops`.

    python tools/dataset/make_word_crops.py data/word_scenes data/word_scene_crops \
        [--splits train val] [--jittered-copies 1] [--jitter 0.1] [--seed 0] [--overwrite]
"""
from __future__ import annotations

import argparse
import os.path as osp
import time

from stn_plugin.cli.argument_types import finite_float, non_negative_int
from stn_plugin.cli.errors import exit_on_bad_input
from stn_plugin.spotting.word_crops import export_word_crops


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenes_dir", help="word-scenes folder: annotations/<split>.json and <split>/*.png")
    parser.add_argument("out_dir", help="output folder: <split>/*.png and textrecog_<split>.json")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], help="splits to cut")
    parser.add_argument("--jittered-copies", type=non_negative_int, default=1,
                        help="crops per word besides its exact box, with each side moved at random")
    parser.add_argument("--jitter", type=finite_float, default=0.1,
                        help="largest side move, as a fraction of the box's width / height")
    parser.add_argument("--seed", type=int, default=0, help="seed of the jitter")
    parser.add_argument("--overwrite", action="store_true", help="replace a split's existing crops (deleted first)")
    args = parser.parse_args(argv)
    for split in args.splits:
        t0 = time.time()
        with exit_on_bad_input():
            out = export_word_crops(osp.join(args.scenes_dir, "annotations", f"{split}.json"),
                                    osp.join(args.scenes_dir, split), args.out_dir, split=split,
                                    jittered_copies=args.jittered_copies if split == "train" else 0,
                                    jitter=args.jitter, seed=args.seed, overwrite=args.overwrite)
        print(f"[word crops] {split}: wrote {out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
