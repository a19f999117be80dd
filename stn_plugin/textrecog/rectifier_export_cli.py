"""Logic of ``tools/export_text_rectifier.py``: extract a trained recognizer's
rectifier (its preprocessor), or a trained outline rectifier, into a rectifier file.

    python tools/export_text_rectifier.py configs/textrecog/crnn-tps-warp_synthetic-words.py \
        work_dirs/crnn-tps-warp/iter_9000.pth my-rectifier.pt [--meta key=value ...]

The file holds the rectifier's config, weights and input normalisation only (about
1 MB for the TPS rectifier, no recognizer) and loads with
``TextRectifier.from_pretrained('my-rectifier.pt')`` or ``tools/rectify_text.py CROPS
--rectifier my-rectifier.pt``. ``--meta`` entries (how it was made) are stored in it.

An outline rectifier (``configs/textrecog/outline-rectifier_text-crops.py``, a
``TextOutlineNet``) exports the same way; ``--onnx`` also writes ``<out>.onnx`` for
ONNX Runtime (:class:`stn_plugin.deployment.onnx_text_rectifier.OnnxTextRectifier`).

With ``--measure N`` it also scores the exported rectifier and writes ``<out without
extension>.json`` (the meta entries and the scores, which the tests check the file
against): a TPS word rectifier on the word generator's first N curved / arc /
perspective crops of ``--measure-seed`` (warp-point error vs no rectification; with
``--tesseract-num M`` Tesseract's word accuracy on M raw and rectified crops); an
outline rectifier on the first N held-out text crops of ``--measure-seed`` (outline
and end errors in text heights, flatness accuracy).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp

from ..rectify import TextRectifier
from .rectifier_scores import fixed_set_scores, outline_scores

__all__ = ["main", "parse_args"]


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
    p.add_argument("--onnx", action="store_true", help="also write <out>.onnx (outline rectifiers)")
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
    if args.onnx:
        from ..deployment.text_rectifier_onnx import export_text_rectifier_onnx

        onnx_path = export_text_rectifier_onnx(TextRectifier.from_pretrained(args.out),
                                               osp.splitext(args.out)[0] + ".onnx")
        print(f"wrote {onnx_path} ({osp.getsize(onnx_path) / 1e6:.2f} MB)")
    if args.measure:
        shipped = TextRectifier.from_pretrained(args.out)  # score what was written, as a user loads it
        if getattr(shipped.module, "keeps_aspect", False):
            scores = dict(held_out_outline=outline_scores(shipped, seed=args.measure_seed, num=args.measure))
        else:
            scores = dict(fixed_set=fixed_set_scores(shipped, seed=args.measure_seed, num=args.measure,
                                                     tesseract_num=args.tesseract_num))
        record = osp.splitext(args.out)[0] + ".json"
        with open(record, "w") as f:
            json.dump(dict(meta=meta, file=osp.basename(args.out), bytes=osp.getsize(args.out), **scores), f,
                      indent=1)
        print(f"scores: {scores}\nwrote {record}")
