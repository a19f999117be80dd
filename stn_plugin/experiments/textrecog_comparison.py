"""End-to-end comparison: does TPS rectification help text recognition?

    python tools/compare_textrecog.py --work-dir work_dirs/compare_textrecog --parallel [--iters 9000]

1. generates the synthetic word crops (train: all distortions; test: curved, arc and
   perspective words only) unless they exist;
2. trains CRNN and CRNN + TPS (``--models``; also ``crnn-tps-warp``, the TPS also
   supervised by the generator's known warp, ``crnn-affine``, ``crnn-projective``)
   for the same number of iterations and batch size through mmengine's Runner, each
   in its own process, timing the training;
3. evaluates every model on the curved / perspective test set (word accuracy,
   standard protocol, and the other :class:`TextRecogMetric` scores);
4. with Tesseract installed, reads the first ``--tesseract-num`` test crops raw and
   rectified by each rectifying model, and scores both;
5. writes ``results.json`` and ``results.md`` into the work dir and prints the table.

On a CPU shared by several processes PyTorch's default of one thread per core
oversubscribes the cores, which slows every step several-fold; the runs use
``--threads 1`` and no data-loader workers by default.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Optional, Sequence

from mmengine.config import Config, DictAction

from ..cli.paths import config_path as shipped_config

__all__ = ["MODELS", "TRAIN_DISTORTIONS", "TEST_DISTORTIONS", "parse_args", "config_path", "lr_schedule",
           "train_and_test", "tesseract_comparison", "format_table", "main"]

MODELS = ("crnn", "crnn-tps", "crnn-tps-warp", "crnn-affine", "crnn-projective")
TRAIN_DISTORTIONS = ("none", "rotate", "perspective", "curve", "arc")
TEST_DISTORTIONS = ("curve", "arc", "perspective")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="work_dirs/compare_textrecog",
                   help="where the models, their logs and results.json / results.md go")
    p.add_argument("--data-dir", help="synthetic data folder (default <work-dir>/data); generated if missing")
    p.add_argument("--num-train", type=int, default=20000, help="synthetic training crops to generate")
    p.add_argument("--num-test", type=int, default=1000,
                   help="curved / arc / perspective test crops to generate")
    p.add_argument("--seed", type=int, default=0, help="train set seed; the test set uses seed + 1")
    p.add_argument("--models", nargs="+", default=["crnn", "crnn-tps-warp"], choices=MODELS,
                   help="models to train and compare (configs/textrecog/<model>_synthetic-words.py)")
    p.add_argument("--iters", type=int, default=9000, help="training iterations per model (same for all)")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size (same for all models)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--schedule", choices=["cosine", "flat"], default="flat",
                   help="learning-rate schedule after the warm-up: 'flat' (constant, linear decay over the "
                        "last 20%%) or 'cosine' (decay to 1e-5)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   help="config overrides applied to every model, e.g. model.decoder.num_layers=1")
    p.add_argument("--threads", type=int, default=1, help="torch threads per training process")
    p.add_argument("--parallel", action="store_true", help="train the models at the same time (one process each)")
    p.add_argument("--max-train-minutes", type=float, default=30.0,
                   help="warn if the trainings together took longer than this")
    p.add_argument("--tesseract-num", type=int, default=500, help="test crops read by Tesseract (0: skip)")
    p.add_argument("--gen-workers", type=int, default=1, help="processes generating the synthetic crops")
    args = p.parse_args(argv)
    if args.iters < 1:
        p.error(f"--iters must be >= 1, got {args.iters}")
    return args


def config_path(name: str) -> str:
    """The shipped config of model ``name`` (one of :data:`MODELS`)."""
    return str(shipped_config(f"textrecog/{name}_synthetic-words.py"))


def lr_schedule(iters: int, schedule: str) -> list:
    """mmengine ``param_scheduler`` entries for ``iters`` iterations: a linear warm-up
    over the first 10% (at most 100 iterations), then ``'cosine'`` decay to 1e-5 or
    ``'flat'`` (constant, linear decay over the last 20%). Every entry spans at least
    one iteration (mmengine refuses ``end <= begin``), also for a smoke run of 2."""
    warm = min(100, max(1, iters // 10))
    if schedule == "cosine":
        return [
            dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=warm),
            dict(type="CosineAnnealingLR", by_epoch=False, begin=warm, end=max(iters, warm + 1), eta_min=1e-5),
        ]
    if schedule == "flat":
        decay = max(0, min(max(warm + 1, int(iters * 0.8)), iters - 1))
        return [
            dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=warm),
            dict(type="LinearLR", start_factor=1.0, end_factor=0.05, by_epoch=False, begin=decay,
                 end=max(iters, decay + 1)),
        ]
    raise ValueError(f"schedule must be 'cosine' or 'flat', got {schedule!r}")


def train_and_test(config: str, work_dir: str, data_dir: str, iters: int, batch_size: int, threads: int,
                   lr: float = 1e-3, schedule: str = "cosine", overrides: dict | None = None) -> dict:
    """Train ``config`` for ``iters`` iterations, test it; returns metrics + timings (runs in-process).

    ``schedule``: ``'cosine'`` (linear warm-up, cosine decay to 1e-5) or ``'flat'`` (warm-up,
    constant, then linear decay over the last 20%). ``overrides``: ``--cfg-options`` style
    ``{dotted key: value}`` applied last."""
    import torch
    torch.set_num_threads(threads)
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    for key in ("train_dataloader", "test_dataloader"):
        cfg[key].dataset.data_root = data_dir
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_dataloader.batch_size = batch_size
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=iters + 1)
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.param_scheduler = lr_schedule(iters, schedule)
    if overrides:
        cfg.merge_from_dict(overrides)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=50)
    runner = Runner.from_cfg(cfg)
    t0, c0 = time.time(), time.process_time()
    runner.train()
    train_s, train_cpu = time.time() - t0, time.process_time() - c0
    t0 = time.time()
    metrics = runner.test()
    test_s = time.time() - t0
    return dict(metrics={k: float(v) for k, v in metrics.items()}, train_seconds=train_s,
                train_cpu_seconds=train_cpu, test_seconds=test_s,
                iters=iters, batch_size=batch_size, threads=threads, lr=lr, schedule=schedule,
                overrides=overrides or {},
                checkpoint=osp.join(work_dir, f"iter_{iters}.pth"), config=config)


def tesseract_comparison(results: dict, data_dir: str, num: int, models) -> dict:
    """Tesseract word accuracy on raw vs rectified test crops, per rectifying model."""
    import cv2
    import numpy as np
    import torch
    from stn_plugin.textrecog.text_formats import read_textrecog_json
    from stn_plugin.textrecog.metrics import text_recognition_scores
    from stn_plugin.apis import init_model
    from stn_plugin.textrecog.rectify import (model_input_size, rectify_crops, run_tesseract, tesseract_available,
                                              TESSERACT_HELP)
    if not tesseract_available():
        print(f"[compare] skipping Tesseract: {TESSERACT_HELP}", flush=True)
        return dict(skipped=TESSERACT_HELP)
    items = read_textrecog_json(osp.join(data_dir, "textrecog_test_curved.json"))[:num]
    crops = [cv2.cvtColor(cv2.imread(osp.join(data_dir, p)), cv2.COLOR_BGR2RGB) for p, _ in items]
    gts = [t for _, t in items]
    out = dict(num_crops=len(crops))
    t0 = time.time()
    out["raw"] = text_recognition_scores(run_tesseract(crops), gts)
    resized = [cv2.resize(c, (200, 64), interpolation=cv2.INTER_LINEAR) for c in crops]
    out["raw_resized_64x200"] = text_recognition_scores(run_tesseract(resized), gts)
    for name in models:
        if name == "crnn" or name not in results:
            continue
        torch.set_num_threads(1)
        model = init_model(results[name]["config"], results[name]["checkpoint"])
        cfg = model.cfg
        same_size, _, _ = rectify_crops(model, crops, model_input_size(cfg), out_size="crop")
        out[f"rectified_by_{name}"] = text_recognition_scores(run_tesseract(same_size), gts)
        own_size, _, _ = rectify_crops(model, crops, model_input_size(cfg), out_size="text")
        out[f"rectified_by_{name}_text_size"] = text_recognition_scores(run_tesseract(own_size), gts)
        rectified, _, _ = rectify_crops(model, crops, model_input_size(cfg), out_size=(64, 200))
        out[f"rectified_by_{name}_64x200"] = text_recognition_scores(run_tesseract(rectified), gts)
        sample_dir = osp.join(osp.dirname(results[name]["checkpoint"]), "rectified_samples")
        os.makedirs(sample_dir, exist_ok=True)
        for i in range(min(16, len(crops))):
            cv2.imwrite(osp.join(sample_dir, f"{i:06d}.png"), cv2.cvtColor(np.ascontiguousarray(rectified[i]),
                                                                           cv2.COLOR_RGB2BGR))
    out["seconds"] = time.time() - t0
    return out


def format_table(summary: dict) -> str:
    lines = ["| model | iters x batch | train wall / CPU time | word acc (std) | word acc (exact) | char recall | 1-NED |",
             "|---|---|---|---|---|---|---|"]
    for name, r in summary["models"].items():
        m = {k.split("/")[-1]: v for k, v in r["metrics"].items()}
        lines.append(f"| {name} | {r['iters']} x {r['batch_size']} | {r['train_seconds'] / 60:.1f} / "
                     f"{r.get('train_cpu_seconds', float('nan')) / 60:.1f} min | "
                     f"{m['word_acc_ignore_case_symbol']:.3f} | {m['word_acc']:.3f} | {m['char_recall']:.3f} | "
                     f"{m['one_minus_ned']:.3f} |")
    tess = summary.get("tesseract") or {}
    if "raw" in tess:
        lines += ["", f"Tesseract on the first {tess['num_crops']} test crops (psm 7):", "",
                  "| input | word acc (std) | char recall | 1-NED |", "|---|---|---|---|"]
        for key, s in tess.items():
            if isinstance(s, dict):
                lines.append(f"| {key} | {s['word_acc_ignore_case_symbol']:.3f} | {s['char_recall']:.3f} | "
                             f"{s['one_minus_ned']:.3f} |")
    cpu = sum(r.get("train_cpu_seconds", 0) for r in summary["models"].values()) / 60
    lines += ["", f"total training time: {summary['total_train_minutes']:.1f} min wall, {cpu:.1f} min CPU, on "
              f"{os.cpu_count()} CPU cores ({summary['threads']} torch thread(s) per run)"]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["_run"]:
        # internal: one training in its own process
        _, config, work_dir, data_dir, iters, batch, threads, lr, schedule, overrides, out = argv
        res = train_and_test(config, work_dir, data_dir, int(iters), int(batch), int(threads), float(lr), schedule,
                             json.loads(overrides))
        with open(out, "w") as f:
            json.dump(res, f, indent=1)
        return
    args = parse_args(argv)
    work_dir = osp.abspath(args.work_dir)
    data_dir = osp.abspath(args.data_dir or osp.join(work_dir, "data"))
    os.makedirs(work_dir, exist_ok=True)

    from stn_plugin.textrecog.synthetic_words import generate_synthetic_words
    # a split without its annotation file is a generation that was cut short: redo it
    if not osp.isfile(osp.join(data_dir, "textrecog_train.json")):
        generate_synthetic_words(data_dir, args.num_train, args.seed, "train", TRAIN_DISTORTIONS,
                                 workers=args.gen_workers, overwrite=True)
    if not osp.isfile(osp.join(data_dir, "textrecog_test_curved.json")):
        generate_synthetic_words(data_dir, args.num_test, args.seed + 1, "test_curved", TEST_DISTORTIONS,
                                 workers=args.gen_workers, overwrite=True)

    if any(Config.fromfile(config_path(m)).model.get("warp_supervision") for m in args.models):
        with open(osp.join(data_dir, "textrecog_train.json")) as f:
            if "warp_points" not in json.load(f).get("metainfo", {}):
                raise SystemExit(f"error: {data_dir} was generated before the generator recorded each crop's "
                                 "warp, which warp-supervised models train on; give a new --data-dir "
                                 "(the images are the same for the same seed)")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    results, procs = {}, []
    for name in args.models:
        out = osp.join(work_dir, name, "result.json")
        os.makedirs(osp.dirname(out), exist_ok=True)
        print(f"[compare] training {name} for {args.iters} iterations ...", flush=True)
        cmd = [sys.executable, "-m", "stn_plugin.experiments.textrecog_comparison", "_run", config_path(name),
               osp.join(work_dir, name), data_dir, str(args.iters), str(args.batch_size), str(args.threads), str(args.lr), args.schedule,
               json.dumps(dict(args.cfg_options)), out]
        log = open(osp.join(work_dir, name, "train.log"), "w")
        procs.append((name, out, log, subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)))
        if not args.parallel:
            procs[-1][3].wait()
    for name, out, log, proc in procs:
        rc = proc.wait()
        log.close()
        if rc != 0:
            raise RuntimeError(f"training {name} failed (exit {rc}); see {log.name}")
        with open(out) as f:
            results[name] = json.load(f)
        m = results[name]["metrics"]
        print(f"[compare] {name}: word acc {m['recog/word_acc_ignore_case_symbol']:.3f}, "
              f"train {results[name]['train_seconds'] / 60:.1f} min wall, "
              f"{results[name]['train_cpu_seconds'] / 60:.1f} min CPU", flush=True)

    total = sum(r["train_seconds"] for r in results.values()) / 60
    if args.parallel:
        total = max(r["train_seconds"] for r in results.values()) / 60
    if total > args.max_train_minutes:
        print(f"[compare] WARNING: training took {total:.1f} min in all, over --max-train-minutes "
              f"{args.max_train_minutes}", flush=True)
    summary = dict(models=results, total_train_minutes=total, threads=args.threads, data_dir=data_dir,
                   num_train=args.num_train, num_test=args.num_test)
    if args.tesseract_num > 0:
        import torch
        torch.set_num_threads(args.threads)
        summary["tesseract"] = tesseract_comparison(results, data_dir, args.tesseract_num, args.models)
    with open(osp.join(work_dir, "results.json"), "w") as f:
        json.dump(summary, f, indent=1)
    table = format_table(summary)
    with open(osp.join(work_dir, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
