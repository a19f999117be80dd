#!/usr/bin/env python
"""Embedded detection benchmark: Faster R-CNN with and without RoI rectifiers on digit scenes.

Generates the digit-scenes data (COCO format, rotated / scaled / perspective MNIST
digits on cluttered canvases) unless it is already there, trains each variant with
the plugin's ``tools/train.py`` for the same number of iterations, evaluates it with
mmdet's COCO metric, and prints a table (bbox mAP, mAP@0.5, seconds per iteration).
The rectifier's drawings (sampled RoIs and rectified crops) land in each variant's
work dir and are copied to ``<out>/vis/``.

    python tools/digit_scenes_benchmark.py [--iters 300] [--variants baseline affine tps]
        [--data data/digit_scenes] [--out work_dirs/digit_scenes_benchmark]

Each run writes into a new timestamped folder under ``<out>/<variant>``; nothing a
previous run wrote is deleted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "baseline": "configs/digits/faster-rcnn_r18_fpn_digit-scenes_baseline.py",
    "affine": "configs/digits/faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py",
    "tps": "configs/digits/faster-rcnn_r18_fpn_digit-scenes_tps-rectifier.py",
}


def ensure_data(data: Path, num_train: int, num_val: int, seed: int) -> None:
    marker = data / "annotations" / "train.json"
    if marker.exists():
        info = json.loads(marker.read_text()).get("info", {})
        n = len(json.loads(marker.read_text())["images"])
        if n == num_train and info.get("seed") == seed:
            print(f"[benchmark] using existing data in {data}")
            return
        raise SystemExit(f"[benchmark] {data} holds other data ({n} train images, seed {info.get('seed')}); "
                         "give another --data directory or remove it yourself")
    from stn_plugin.datasets.digit_scenes import generate_digit_scenes
    generate_digit_scenes(data, num_train, num_val, seed)


def run_variant(name: str, data: Path, out: Path, iters: int, batch_size: int) -> dict:
    work = out / name
    ds = str(data.resolve()) + "/"
    args = [sys.executable, str(ROOT / "tools" / "train.py"), str(ROOT / CONFIGS[name]), "--work-dir", str(work),
            "--cfg-options", f"train_dataloader.dataset.data_root={ds}", f"val_dataloader.dataset.data_root={ds}",
            f"test_dataloader.dataset.data_root={ds}", f"val_evaluator.ann_file={ds}annotations/val.json",
            f"test_evaluator.ann_file={ds}annotations/val.json", f"train_cfg.max_iters={iters}",
            f"train_cfg.val_interval={iters}", f"default_hooks.checkpoint.interval={iters}",
            f"param_scheduler.1.end={iters}", f"param_scheduler.1.milestones=[{int(iters * 0.75)},{int(iters * 0.9)}]",
            f"train_dataloader.batch_size={batch_size}"]
    before = set(work.glob("2*")) if work.exists() else set()
    print(f"[benchmark] training {name} for {iters} iterations -> {work}", flush=True)
    t0 = time.time()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # progress: the trainer's own log lines
        if "Iter(" in line or "bbox_mAP_copypaste" in line or "Error" in line:
            print(f"  [{name}] {line.strip()[:160]}", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"[benchmark] training {name} failed (exit {proc.returncode}); see the log in {work}")
    wall = time.time() - t0
    run_dir = sorted(set(work.glob("2*")) - before)[-1]
    records = [json.loads(line) for line in (run_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    train_times = [r["time"] for r in records if "loss" in r and "time" in r]
    metrics = [r for r in records if "coco/bbox_mAP" in r][-1]
    vis = out / "vis" / name
    images = list(run_dir.rglob("vis_image/*.png"))
    if images:
        vis.mkdir(parents=True, exist_ok=True)
        for img in images:
            shutil.copy(img, vis / img.name)
    return dict(variant=name, mAP=metrics["coco/bbox_mAP"], mAP50=metrics["coco/bbox_mAP_50"],
                s_per_iter=statistics.median(train_times) if train_times else float("nan"), wall=wall,
                vis=str(vis) if images else "-")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--variants", nargs="+", default=["baseline", "affine"], choices=sorted(CONFIGS))
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "digit_scenes")
    parser.add_argument("--num-train", type=int, default=800)
    parser.add_argument("--num-val", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "work_dirs" / "digit_scenes_benchmark")
    args = parser.parse_args(argv)
    t0 = time.time()
    ensure_data(args.data, args.num_train, args.num_val, args.seed)
    rows = [run_variant(v, args.data, args.out, args.iters, args.batch_size) for v in args.variants]
    table = ["| variant | bbox mAP | mAP@0.5 | s / iter | train+eval wall (s) | visualizations |",
             "|---|---|---|---|---|---|"]
    table += [f"| {r['variant']} | {r['mAP']:.3f} | {r['mAP50']:.3f} | {r['s_per_iter']:.2f} | {r['wall']:.0f} | "
              f"{r['vis']} |" for r in rows]
    text = "\n".join(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d_%H%M%S")
    (args.out / f"results_{stamp}.md").write_text(
        f"digit scenes: {args.num_train} train / {args.num_val} val images, {args.iters} iterations, "
        f"batch {args.batch_size}\n\n{text}\n")
    print("\n" + text)
    print(f"\n[benchmark] total {time.time() - t0:.0f} s; table in {args.out / f'results_{stamp}.md'}")


if __name__ == "__main__":
    main()
