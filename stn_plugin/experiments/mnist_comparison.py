"""Reproduce the STN paper's distorted-MNIST table on the embedded data, on the CPU.

    python tools/compare_mnist.py [--variants R RTS P E] [--models cnn st-cnn-affine ...]
        [--max-iters N] [--work-dir work_dirs/compare_mnist] [--source embedded | DIR]
    [--fresh-distortions]

Trains every model with the same iteration budget on each variant (the shipped
configs ``configs/mnist/<model>_<variant>.py``, driven by mmengine's Runner), tests
it on held-out digits, and writes into a new timestamped folder under ``--work-dir``:
``results.md`` (test error next to the paper's), ``results.json``, ``rectification.png``
(test digits beside each spatial transformer's output), the generated data and every
run's checkpoint and logs. The defaults: FCN, CNN, ST-FCN and ST-CNN with affine,
projective and TPS transformers on R, RTS, P, E, 32 runs of 450 iterations (their
time and results: docs/mnist.md).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from ..cli.paths import config_path

__all__ = ["DEFAULT_MODELS", "DEFAULT_VARIANTS", "DEFAULT_MAX_ITERS", "parse_args", "main"]

DEFAULT_MODELS = ["fcn", "cnn", "st-fcn-affine", "st-fcn-projective", "st-fcn-tps", "st-cnn-affine",
                  "st-cnn-projective", "st-cnn-tps"]
DEFAULT_VARIANTS = ["R", "RTS", "P", "E"]
DEFAULT_MAX_ITERS = 450


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="CNN vs ST-CNN on distorted MNIST (the STN paper's Table 1)")
    p.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, help="R RTS P E TC")
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                   help="config stems: fcn cnn st-fcn-{affine,projective,tps} st-cnn-{affine,projective,tps}")
    p.add_argument("--max-iters", type=int, default=DEFAULT_MAX_ITERS,
                   help=f"training iterations (batch 64) per model (default {DEFAULT_MAX_ITERS})")
    p.add_argument("--num-train", type=int, default=40000,
                   help="training samples per variant (distinct distortions; >= iterations x batch 64)")
    p.add_argument("--num-test", type=int, default=5000, help="test samples per variant")
    p.add_argument("--fresh-distortions", action="store_true",
                   help="train on new distortions of every training digit each epoch (rendered as training "
                        "reads them) instead of a fixed set of --num-train")
    p.add_argument("--seed", type=int, default=0, help="data generation seed (training seed: the configs')")
    p.add_argument("--source", default="embedded", help="'embedded' or a directory of MNIST IDX files")
    p.add_argument("--work-dir", default="work_dirs/compare_mnist",
                   help="parent folder; each run writes a new timestamped subfolder")
    p.add_argument("--configs-dir", default=None,
                   help="where the MNIST configs are (default: the shipped configs/mnist)")
    p.add_argument("--log-interval", type=int, default=100, help="progress line every N iterations")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None):
    args = parse_args(argv)
    from .. import register_all_modules
    from .mnist_experiment import run_experiment

    register_all_modules()  # the datasets, models, metric and hooks the configs name
    configs_dir = Path(args.configs_dir) if args.configs_dir else config_path("mnist/cnn_rts.py").parent

    out_dir = Path(args.work_dir) / time.strftime("%Y%m%d_%H%M%S")
    if out_dir.exists():
        sys.exit(f"error: {out_dir} already exists; not overwriting it")
    print(f"compare_mnist: {len(args.models)} models x {len(args.variants)} variants, {args.max_iters} iterations "
          f"each -> {out_dir}", flush=True)
    result = run_experiment(args.variants, args.models, out_dir, args.max_iters, configs_dir,
                            num_train=args.num_train, num_test=args.num_test, seed=args.seed, source=args.source,
                            log_interval=args.log_interval,
                            title="Distorted MNIST: FCN / CNN with and without spatial transformers",
                            log=lambda s: print(s, flush=True), fresh_distortions=args.fresh_distortions)
    result.print_report(result.total_seconds)
    return result


if __name__ == "__main__":
    main()
