"""Embedded detection benchmark: Faster R-CNN with and without RoI rectifiers on digit scenes.

Generates the digit-scenes data (COCO format, rotated / scaled / perspective MNIST
digits on cluttered canvases) unless it is already there, trains each variant with
the plugin's train tool (:mod:`stn_plugin.cli.train`) for the same number of iterations and the same seed,
evaluates it with mmdet's COCO metric, and prints a table (bbox mAP, mAP@0.5, seconds
per iteration). The rectifier's drawings (sampled RoIs and rectified crops) land in
each variant's work dir and are copied to ``<out>/vis/<variant>/``.

    python tools/digit_scenes_benchmark.py [--iters 1500] [--variants baseline affine tps]
        [--parallel] [--train-seed 0] [--num-test 2000] [--data data/digit_scenes]
        [--out work_dirs/digit_scenes_benchmark]

``--num-test N`` also tests every variant's final checkpoint with ``tools/test.py`` on N
separate scenes (drawn from the held-out digits with the next generation seed, in
``--test-data``): the 200 val scenes alone leave a few points of mAP to chance.

Besides ``baseline``, ``affine`` and ``tps``, the ablations that separate context from
warping: ``enlarged-area1.4`` / ``enlarged-area2.0`` (the baseline sampling every RoI
enlarged to that multiple of the box's area, no localization net:
:class:`~stn_plugin.detection.enlarged_roi_extractor.EnlargedRoIExtractor`) and the
affine rectifier restricted to the ``attention`` (scale + translation) and
``similarity`` (+ rotation) families.

``--scenes any-orientation`` runs the same variants on the scenes whose digits appear in
every orientation (see :data:`~stn_plugin.detection.digit_scenes.SCENE_PRESETS`), in
their own default folders (``data/digit_scenes_any-orientation[_test]``).

``--parallel`` trains the variants at the same time, one process each with
``--threads`` torch threads (on a 2-core machine two one-thread processes finish
sooner than two two-thread runs in a row). Each run writes into a new timestamped
folder under ``<out>/<variant>``; nothing a previous run wrote is deleted.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

from ..cli.paths import config_path
from ..cli.tool_process import ToolProcess
from ..detection.digit_scenes import SCENE_PRESETS

__all__ = ["MIN_ITERS_TO_COMPARE", "CONFIGS", "ensure_data", "train_command", "test_command", "VariantRun",
           "read_run", "format_table", "setting_line", "parse_args", "main", "summary_lines"]

# Runs shorter than this are smoke runs: their scores are not compared (the demo's
# schedule, tools/demo.py, is shorter; the README's comparison trains 1500).
MIN_ITERS_TO_COMPARE = 600

CONFIGS = {
    "baseline": "digits/faster-rcnn_r18_fpn_digit-scenes_baseline.py",
    "affine": "digits/faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py",
    "tps": "digits/faster-rcnn_r18_fpn_digit-scenes_tps-rectifier.py",
    # ablations: a fixed wider RoI (context only, no warping), and the rectifier with
    # smaller transform families (attention: scale + translation; similarity: + rotation)
    "enlarged-area1.4": "digits/faster-rcnn_r18_fpn_digit-scenes_enlarged-area1.4.py",
    "enlarged-area2.0": "digits/faster-rcnn_r18_fpn_digit-scenes_enlarged-area2.0.py",
    "attention": "digits/faster-rcnn_r18_fpn_digit-scenes_attention-rectifier.py",
    "similarity": "digits/faster-rcnn_r18_fpn_digit-scenes_similarity-rectifier.py",
}



def ensure_data(data: Path, num_train: int, num_val: int, seed: int, scenes: str = "default") -> None:
    """Generate the scenes into ``data`` unless the same data (sizes, seed and scene
    preset, see :data:`~stn_plugin.detection.digit_scenes.SCENE_PRESETS`) is there."""
    from stn_plugin.detection.digit_scenes import generate_digit_scenes, scene_options

    options = scene_options(scenes)
    notes = data / "annotations"
    if (notes / "train.json").exists() and (notes / "val.json").exists():
        train, val = (json.loads((notes / f"{s}.json").read_text()) for s in ("train", "val"))
        info = train.get("info", {})
        found = (len(train["images"]), len(val["images"]), info.get("seed"), info.get("options", {}))
        if found == (num_train, num_val, seed, options.changed()):
            print(f"[benchmark] using the existing data in {data}", flush=True)
            return
        raise SystemExit(f"[benchmark] {data} holds other data ({found[0]} train / {found[1]} val images, seed "
                         f"{found[2]}, options {found[3] or 'default'}; wanted {num_train} / {num_val}, seed {seed}, "
                         f"scenes {scenes!r}); give another folder or remove it yourself")
    try:
        generate_digit_scenes(data, num_train, num_val, seed, options=options)
    except FileExistsError as err:
        raise SystemExit(f"[benchmark] {err}") from None


def train_command(name: str, data: Path, work: Path, iters: int, batch_size: int, train_seed: int) -> List[str]:
    # data_root reaches the dataloaders and evaluators, max_iters the val and checkpoint
    # intervals, through the train tool (stn_plugin.cli.config_overrides); the warm-up
    # stays 100 iterations whatever the length, the learning-rate steps come at 75% and
    # 90%; the logger reports at least once, so short runs also have a time per iteration
    # --overwrite: a rerun of the benchmark into the same folder replaces its checkpoints
    return [sys.executable, "-m", "stn_plugin.cli.train", str(config_path(CONFIGS[name])), "--work-dir", str(work),
            "--overwrite", "--cfg-options", f"data_root={data.resolve()}/", f"train_cfg.max_iters={iters}",
            f"param_scheduler.1.end={iters}", f"param_scheduler.1.milestones=[{int(iters * 0.75)},{int(iters * 0.9)}]",
            f"default_hooks.logger.interval={max(1, min(50, iters))}",
            f"train_dataloader.batch_size={batch_size}", f"randomness.seed={train_seed}"]


def test_command(name: str, checkpoint: Path, test_data: Path, work: Path) -> List[str]:
    return [sys.executable, "-m", "stn_plugin.cli.test", str(config_path(CONFIGS[name])), str(checkpoint),
            "--work-dir", str(work), "--cfg-options", f"data_root={test_data.resolve()}/",
            "test_dataloader.dataset.ann_file=annotations/val.json"]


class VariantRun:
    """One variant's training process; forwards its progress lines, then reads its results."""

    def __init__(self, name: str, data: Path, out: Path, iters: int, batch_size: int, train_seed: int,
                 threads: Optional[int], test_data: Optional[Path] = None):
        self.name, self.out, self.work, self.iters, self.test_data = name, out, out / name, iters, test_data
        self.threads = threads
        self.before = set(self.work.glob("2*")) if self.work.exists() else set()
        print(f"[benchmark] training {name} for {iters} iterations -> {self.work}", flush=True)
        self.proc = ToolProcess(name, train_command(name, data, self.work, iters, batch_size, train_seed), threads,
                                forward=("Iter(", "bbox_mAP_copypaste", "collapsing"), tag="benchmark",
                                where=str(self.work), width=170).start()

    def result(self) -> dict:
        self.proc.wait()
        run_dir = sorted(set(self.work.glob("2*")) - self.before)[-1]
        row = dict(read_run(run_dir, self.out / "vis" / self.name), variant=self.name, wall=self.proc.seconds)
        if self.test_data is not None:
            row.update(self.test())
        return row

    def test(self) -> dict:
        """The final checkpoint on the separate test scenes, through tools/test.py."""
        work = self.work / "test"
        before = set(work.glob("2*")) if work.exists() else set()
        print(f"[benchmark] testing {self.name} on {self.test_data}", flush=True)
        ToolProcess(f"test {self.name}", test_command(self.name, self.work / f"iter_{self.iters}.pth", self.test_data,
                                                       work),
                    self.threads, forward=(), tag="benchmark", where=str(work)).run()
        run_dir = sorted(set(work.glob("2*")) - before)[-1]
        scores = json.loads((run_dir / f"{run_dir.name}.json").read_text())
        return dict(test_mAP=scores.get("coco/bbox_mAP", 0.0), test_mAP50=scores.get("coco/bbox_mAP_50", 0.0))


def read_run(run_dir: Path, vis: Path) -> dict:
    """Scores, median training seconds per iteration and the rectifier's last statistics of
    one mmengine run folder; its visualizations are copied into ``vis``."""
    records = [json.loads(line) for line in (run_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    train_times = [r["time"] for r in records if "loss" in r and "time" in r]
    evaluated = [r for r in records if "coco/bbox_mAP" in r]
    # mmdet's CocoMetric returns no scores when a model detects nothing at all: that is an mAP of 0
    metrics = evaluated[-1] if evaluated else {"coco/bbox_mAP": 0.0, "coco/bbox_mAP_50": 0.0}
    if not evaluated:
        print(f"[benchmark] {run_dir} has no COCO scores (no detections on the val set): bbox mAP 0", flush=True)
    # the RectifierStatsHook's last statistics (logged as stn/<extractor>/<statistic>), if any
    stn = {k.split("/", 2)[2]: v for r in records for k, v in r.items() if k.startswith("stn/")}
    images = sorted(run_dir.rglob("vis_image/*.png"))
    if images:
        vis.mkdir(parents=True, exist_ok=True)
        for img in images:
            shutil.copy(img, vis / img.name)
    return dict(mAP=metrics["coco/bbox_mAP"], mAP50=metrics["coco/bbox_mAP_50"], stn=stn,
                s_per_iter=statistics.median(train_times) if train_times else None,
                run_dir=str(run_dir), vis=str(vis) if images else "-")


def format_table(rows: Sequence[dict]) -> str:
    test = all("test_mAP" in r for r in rows)
    lines = ["| variant | val bbox mAP | val mAP@0.5 | " + ("test bbox mAP | test mAP@0.5 | " if test else "")
             + "s / iter (median) | train + val wall (s) |",
             "|---|---|---|" + ("---|---|" if test else "") + "---|---|"]
    lines += [f"| {r['variant']} | {r['mAP']:.3f} | {r['mAP50']:.3f} | "
              + (f"{r['test_mAP']:.3f} | {r['test_mAP50']:.3f} | " if test else "")
              + ("-" if r["s_per_iter"] is None else f"{r['s_per_iter']:.2f}") + f" | {r['wall']:.0f} |"
              for r in rows]
    return "\n".join(lines)


def setting_line(args: argparse.Namespace, threads: Optional[int]) -> str:
    return (f"digit scenes: {args.num_train} train / {args.num_val} val images (seed {args.seed})"
            + (f" / {args.num_test} test images (seed {args.seed + 1})" if args.num_test else "") + ", "
            + (f"{args.scenes} scenes, " if args.scenes != "default" else "") +
            f"{args.iters} iterations x batch {args.batch_size}, train seed {args.train_seed}, "
            f"{'in parallel' if args.parallel else 'one after another'}"
            f"{f', {threads} torch thread(s) each' if threads else ''}")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=1500, help="training iterations per variant (same for all)")
    parser.add_argument("--batch-size", type=int, default=8, help="training batch size of every variant")
    parser.add_argument("--variants", nargs="+", default=["baseline", "affine"], choices=sorted(CONFIGS),
                        help="detectors to train: Faster R-CNN without (baseline) / with an RoI rectifier "
                             "(affine, tps; the smaller families attention, similarity), or with a fixed RoI "
                             "enlarged to 1.4x / 2x the box's area (enlarged-area*, no rectifier)")
    parser.add_argument("--parallel", action="store_true", help="train the variants at the same time")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per training process (default: 1 with --parallel, else torch's)")
    parser.add_argument("--scenes", default="default", choices=sorted(SCENE_PRESETS),
                        help="scene preset: 'default' (rotations up to 75 degrees) or 'any-orientation' "
                             "(every orientation, no 6 / 9)")
    # the data: where it is, how much of it and its generation seed
    for flag, kind, default, text in (
            ("--data", Path, None, "digit-scenes folder; generated there if missing (default: data/digit_scenes, "
                                   "data/digit_scenes_<preset> for another --scenes)"),
            ("--num-train", int, 800, "training scenes to generate"),
            ("--num-val", int, 200, "validation scenes to generate"),
            ("--seed", int, 0, "data generation seed"),
            ("--num-test", int, 0, "also test every variant on this many separate scenes (generation seed + 1, "
                                   "held-out digits, in --test-data); 0: no test set"),
            ("--test-data", Path, None, "folder of the --num-test scenes; generated there if missing (default: "
                                        "the --data default + '_test')")):
        parser.add_argument(flag, type=kind, default=default, help=text)
    parser.add_argument("--train-seed", type=int, default=0, help="mmengine randomness.seed of every variant")
    parser.add_argument("--out", type=Path, default=Path("work_dirs/digit_scenes_benchmark"),
                        help="work dirs of the variants, their drawings (vis/) and the results_*.md tables")
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error(f"--iters must be >= 1, got {args.iters}")
    default_data = "data/digit_scenes" + ("" if args.scenes == "default" else f"_{args.scenes}")
    args.data = args.data or Path(default_data)
    args.test_data = args.test_data or Path(default_data + "_test")
    return args


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    t0 = time.time()
    ensure_data(args.data, args.num_train, args.num_val, args.seed, args.scenes)
    test_data = None
    if args.num_test:
        # the scenes of the val split of another seed (val scenes are drawn from the held-out digits)
        ensure_data(args.test_data, 0, args.num_test, args.seed + 1, args.scenes)
        test_data = args.test_data
    threads = args.threads or (1 if args.parallel else None)
    start = lambda v: VariantRun(v, args.data, args.out, args.iters, args.batch_size, args.train_seed,  # noqa
                                 threads, test_data)
    if args.parallel:
        runs = [start(v) for v in args.variants]
        rows = [r.result() for r in runs]
    else:
        rows = [start(v).result() for v in args.variants]
    lines = [setting_line(args, threads), "", format_table(rows), ""] + summary_lines(rows, args.iters)
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / f"results_{time.strftime('%Y%m%d_%H%M%S')}.md"
    results.write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    print(f"[benchmark] total {time.time() - t0:.0f} s; results in {results}")
    return rows


def summary_lines(rows: Sequence[dict], iters: int) -> List[str]:
    """The lines under the table: each variant's difference to the baseline (only for
    runs of at least :data:`MIN_ITERS_TO_COMPARE` iterations), its rectifier statistics
    and where its drawings are."""
    lines = []
    base = next((r for r in rows if r["variant"] == "baseline"), None)
    if base is not None and len(rows) > 1 and iters < MIN_ITERS_TO_COMPARE:
        lines.append(f"{iters} iterations is a smoke run (the shortest schedule this benchmark compares is "
                     f"{MIN_ITERS_TO_COMPARE}): the scores above say nothing about which variant is better.")
        base = None
    for r in rows:
        if base is not None and r is not base:
            for split, key in (("val", "mAP"), ("test", "test_mAP")):
                if key in r:
                    diff = r[key] - base[key]
                    lines.append(f"{r['variant']}: {split} bbox mAP {r[key]:.3f} vs baseline {base[key]:.3f} "
                                 f"({'+' if diff >= 0 else ''}{diff:.3f})")
        if r["stn"]:
            lines.append(f"{r['variant']}: rectifier statistics at the end of training: "
                         + ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["stn"].items())))
        if r["vis"] != "-":
            lines.append(f"{r['variant']}: visualizations in {r['vis']}")
    return lines


if __name__ == "__main__":
    main()
