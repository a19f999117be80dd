#!/usr/bin/env python
"""Extract a trained recognizer's rectifier (its preprocessor) into a rectifier file.

    python tools/export_text_rectifier.py configs/textrecog/crnn-tps-warp_synthetic-words.py \
        work_dirs/crnn-tps-warp/iter_9000.pth my-rectifier.pt [--meta key=value ...]

The file holds the rectifier's config, weights and input normalisation only (about
1 MB for the TPS rectifier, no recognizer) and loads with
``TextRectifier.from_pretrained('my-rectifier.pt')`` or ``tools/rectify_text.py CROPS
--rectifier my-rectifier.pt``. ``--meta`` entries (how it was made) are stored in it.

With ``--measure N`` it also scores the exported rectifier on the generator's first N
curved / arc / perspective crops of ``--measure-seed`` (warp-point error vs no
rectification; with ``--tesseract-num M`` Tesseract's word accuracy on M raw and
rectified crops) and writes ``<out without extension>.json``: the meta entries and
those scores, which tests/textrecog/test_text_rectifier.py checks the file against.
"""
import argparse
import json
import os.path as osp

from stn_plugin.rectify import TextRectifier
from stn_plugin.textrecog.rectifier_scores import fixed_set_scores


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="the recognizer's config file")
    p.add_argument("checkpoint", help="its trained checkpoint")
    p.add_argument("out", help="rectifier file to write (e.g. tps-words.pt)")
    p.add_argument("--name", help="name stored in the file (default: the output file's stem)")
    p.add_argument("--meta", nargs="*", default=[], metavar="KEY=VALUE", help="provenance stored in the file")
    p.add_argument("--measure", type=int, default=0, metavar="N", help="score on N fixed synthetic crops")
    p.add_argument("--measure-seed", type=int, default=1, help="seed of the --measure crops")
    p.add_argument("--tesseract-num", type=int, default=0, metavar="M", help="of those, Tesseract reads M")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    meta = {}
    for item in args.meta:
        if "=" not in item:
            raise SystemExit(f"--meta: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        meta[key] = value
    rectifier = TextRectifier(args.config, args.checkpoint)
    meta["name"] = args.name or osp.splitext(osp.basename(args.out))[0]
    rectifier.save(args.out, **meta)
    print(f"wrote {args.out} ({osp.getsize(args.out) / 1e6:.2f} MB): {rectifier!r}")
    if args.measure:
        shipped = TextRectifier.from_pretrained(args.out)  # score what was written, as a user loads it
        scores = fixed_set_scores(shipped, seed=args.measure_seed, num=args.measure,
                                  tesseract_num=args.tesseract_num)
        record = osp.splitext(args.out)[0] + ".json"
        with open(record, "w") as f:
            json.dump(dict(meta=meta, file=osp.basename(args.out), bytes=osp.getsize(args.out),
                           fixed_set=scores), f, indent=1)
        print(f"scores on the fixed set: {scores}\nwrote {record}")


if __name__ == "__main__":
    main()
