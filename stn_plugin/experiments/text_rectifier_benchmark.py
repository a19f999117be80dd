"""Throughput of the learned text rectifier on word or line crops of mixed sizes.

    python tools/benchmark_text_rectifier.py [--crops words|lines] [--num 512] [--threads 2] [--device cpu]
        [--rectifier NAME]

Rectification only (no recognizer, no OCR): synthetic crops of mixed sizes (``words``:
the word generator's curved / arc / perspective words, 20-64 px high; ``lines``: text
lines of 3-8 words, flat, rotated, curled, in perspective and along arcs, from
:mod:`stn_plugin.datasets.text_crops` in the held-out fonts; as numpy RGB arrays in
memory) go through ``TextRectifier.__call__`` -- localization net in batches, then
each crop sampled once at its own text size. Prints crops per second for the
default (batched, sampling grids interpolated between exact nodes) and, side by side
in the same run, with exact TPS grids and with one crop per call, and the ratios.
Times are the best of ``--repeats`` runs after a warm-up. On a machine shared with
other work, pass ``--threads 1`` too: oversubscribed threads slow every op down.
"""
from __future__ import annotations

import argparse
import time
from typing import Optional, Sequence

from .rectifier_options import add_rectifier_arguments, load_rectifier

__all__ = ["parse_args", "main"]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num", type=int, default=512, help="crops per run")
    p.add_argument("--batch-size", type=int, default=64, help="crops per localization-net batch")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    add_rectifier_arguments(p)
    p.add_argument("--crops", choices=("words", "lines"), default="words", help="word or text-line crops")
    p.add_argument("--out-size", default="text", help="'text', 'crop', 'model' or H,W")
    p.add_argument("--repeats", type=int, default=3, help="timed runs (the best is reported)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated test crops")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    from ..datasets.text_crops import LINE_KINDS, crop_style, make_text_crop
    from ..textrecog.synthetic_words import make_sample

    out_size = tuple(int(v) for v in args.out_size.split(",")) if "," in args.out_size else args.out_size
    rectifier = load_rectifier(args, batch_size=args.batch_size, out_size=out_size)
    if args.crops == "words":
        crops = [make_sample(args.seed, i, distortions=("curve", "arc", "perspective")).image for i in range(args.num)]
    else:
        style = crop_style("held_out")
        crops = [make_text_crop(args.seed, i, LINE_KINDS, style.fonts, style.photos).image for i in range(args.num)]
    hs = np.array([c.shape[0] for c in crops])
    ws = np.array([c.shape[1] for c in crops])
    print(f"{rectifier!r}")
    print(f"{args.num} crops, heights {hs.min()}-{hs.max()} px, widths {ws.min()}-{ws.max()} px, "
          f"{len(set(zip(hs, ws)))} distinct sizes; torch threads {torch.get_num_threads()}, device {args.device}")

    def sync():
        if str(args.device).startswith("cuda"):
            torch.cuda.synchronize()

    def run(fn):
        fn(crops[:16])  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            sync()
            t0 = time.perf_counter()
            fn(crops)
            sync()
            best = min(best, time.perf_counter() - t0)
        return best

    exact = load_rectifier(args, batch_size=args.batch_size, out_size=out_size, grid_stride=1)
    rows = [(f"batched ({args.batch_size} per batch), interpolated grids", run(lambda cs: rectifier(cs))),
            (f"batched ({args.batch_size} per batch), exact TPS grids", run(lambda cs: exact(cs))),
            ("one crop per call, interpolated grids", run(lambda cs: [rectifier(c) for c in cs]))]
    sizes = [r.shape for r in rectifier(crops[:64])]
    print(f"output sizes (first 64): heights {min(s[0] for s in sizes)}-{max(s[0] for s in sizes)}, "
          f"widths {min(s[1] for s in sizes)}-{max(s[1] for s in sizes)}")
    for name, t in rows:
        print(f"{name:52s} {args.num / t:8.1f} crops/s  ({1e3 * t / args.num:.2f} ms/crop)")
    base = rows[0][1]
    for name, t in rows[1:]:
        print(f"speed-up of the first row over '{name}': {t / base:.2f}x")


if __name__ == "__main__":
    main()
