"""Text spotting benchmark: detect-then-read pipelines against end-to-end spotters.

Four ways to find and read the words of the word scenes, on the same data and the
same budget, scored by :class:`~stn_plugin.spotting.TextSpottingMetric` (polygon IoU
>= 0.5, transcriptions compared case- and punctuation-insensitively):

* ``crop-crnn``: the word detector's boxes, cropped (RoIAlign from the image, 32x100)
  and read by a CRNN trained on word crops;
* ``crop-crnn-tps``: the same crops read by a CRNN with its own TPS rectifier (ASTER's
  20 control points), trained on the same crops;
* ``e2e-crnn``: one model, trained end to end: the recognizer reads axis-aligned RoI
  samples of the detector's proposals;
* ``e2e-tps``: the same with a TPS RoI rectifier between the RoIs and the recognizer,
  trained by the recognition loss; its polygons follow the rectified words;
* ``e2e-tps-outline``: ``e2e-tps`` with its outline supervised by the annotated
  polygons (``loss_outline``) and the recognizer also reading every word flattened
  along its annotated polygon (``recog_geometry='both'``);
* ``e2e-affine-outline``: the same with an affine RoI rectifier (its four crop corners
  supervised);
* ``outline-crop-crnn``: detect-then-read on outlines: ``e2e-tps-outline``'s detector
  and rectifier predict each word's polygon, flattened geometrically and read by the
  crop CRNN (``predict_crops='polygons'``).

The budget, with ``--iters T`` (default 2000): the detector trains ``T`` iterations
(4 scenes each), the crop recognizers ``T`` iterations (64 crops each). The two
end-to-end models start from the detector's and the crop CRNN's checkpoints at ``T/2``
and train ``T/2`` more iterations together (detector SGD + recognition-branch Adam,
up to 16 word RoIs per scene, so up to 64 crops per step), so every variant's detector
has seen ``T`` iterations and every recognizer ``T`` steps of up to 64 words.
``outline-crop-crnn`` joins ``e2e-tps-outline``'s final weights with the crop CRNN at
``T``. ``--recog-boxes refined`` trains the end-to-end models with an RoI rectifier on
the box head's refined boxes instead of the proposals (``e2e-crnn``, whose RoIAlign has
no gradient for the boxes, keeps the proposals).

``--preset curved`` generates (and reads) the curved word scenes, four words in five
curved or arc-shaped (:data:`~stn_plugin.spotting.word_scenes.WORD_SCENE_PRESETS`);
``--variants`` runs a subset (the models the chosen variants need are trained).

Stages (a stage whose final checkpoint, or test result newer than its checkpoint, is
in ``--out`` is reused, so an interrupted run continues; ``--out`` remembers the
settings and refuses others):

1. data: ``--data`` word scenes (generated unless present) and their word crops
   (exact boxes and one jittered copy, ``tools/dataset/make_word_crops.py``);
2. the word detector and the two crop recognizers (``--parallel``: the detector in one
   process, the recognizers one after the other in another);
3. the end-to-end models, from the composed ``T/2`` checkpoints
   (:func:`~stn_plugin.spotting.checkpoints.compose_spotter_checkpoint`);
4. every variant tested on the val scenes with ``tools/test.py``;
5. the seconds per training iteration of the detector, the crop recognizers and the
   end-to-end models, and per test image of every variant, measured side by side in
   one process with the trained weights on the same batch (the logs' times depend on
   what else ran); the table is printed and written to ``<out>/results_<time>.md`` /
   ``.json``.

    python tools/spotting_benchmark.py [--iters 2000] [--parallel] [--num-train 2000] [--num-val 300]
        [--preset default|curved] [--seed 0] [--recog-boxes proposals|refined] [--variants ...]
        [--data data/word_scenes_2k] [--out work_dirs/spotting_benchmark]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from ..cli.paths import config_path
from ..cli.tool_process import ToolProcess

__all__ = ["DETECTOR_CONFIG", "CROP_CONFIGS", "VARIANTS", "tool_job", "run_lanes", "detector_job", "crop_job",
           "e2e_config", "e2e_job", "variant_checkpoint", "compose_e2e_start", "compose_detect_then_read",
           "compose_outline_readers", "selected_variants", "needed_crop_recognizers", "test_job", "step_times", "test_scores", "rows_of", "format_table", "check_settings", "ensure_data",
           "parse_args", "main"]

DETECTOR_CONFIG = "spotting/faster-rcnn_r18_fpn_word-scenes_detection.py"
CROP_CONFIGS = {"crnn": "textrecog/crnn_synthetic-words.py", "crnn-tps": "textrecog/crnn-tps_synthetic-words.py"}
VARIANTS = {
    "crop-crnn": dict(config="spotting/faster-rcnn_r18_fpn_crnn_word-scenes.py", recognizer="crnn",
                      what="detector boxes cropped, read by the crop CRNN"),
    "crop-crnn-tps": dict(config="spotting/faster-rcnn_r18_fpn_crnn-tps-crop_word-scenes.py", recognizer="crnn-tps",
                          what="detector boxes cropped, read by the crop CRNN + TPS"),
    "e2e-crnn": dict(config="spotting/faster-rcnn_r18_fpn_crnn_word-scenes.py", recognizer=None,
                     what="end to end, axis-aligned RoI samples"),
    "e2e-tps": dict(config="spotting/faster-rcnn_r18_fpn_tps-crnn_word-scenes.py", recognizer=None,
                    what="end to end, TPS RoI rectifier", rectifier=True),
    "e2e-tps-outline": dict(config="spotting/faster-rcnn_r18_fpn_tps-crnn_word-scenes_outline.py", recognizer=None,
                            what="end to end, TPS RoI rectifier, outline supervised, recognizer also on GT outlines",
                            rectifier=True),
    "e2e-affine-outline": dict(config="spotting/faster-rcnn_r18_fpn_affine-crnn_word-scenes_outline.py",
                               recognizer=None, rectifier=True,
                               what="end to end, affine RoI rectifier, corners supervised, recognizer also on GT "
                                    "outlines"),
    "outline-crop-crnn": dict(config="spotting/faster-rcnn_r18_fpn_tps-outline-crop-crnn_word-scenes.py",
                              recognizer="crnn", outlines_from="e2e-tps-outline",
                              what="e2e-tps-outline's outlines flattened, read by the crop CRNN"),
}
CROP_BATCH = 64


def _is_e2e(variant: str) -> bool:
    return VARIANTS[variant]["recognizer"] is None


def _refines(variant: str, args) -> bool:
    """Whether ``variant`` trains on the refined boxes (``--recog-boxes refined`` and an RoI rectifier)."""
    return getattr(args, "recog_boxes", "proposals") == "refined" and bool(VARIANTS[variant].get("rectifier"))


def selected_variants(args) -> List[str]:
    """``--variants`` in the table's order (all by default)."""
    chosen = getattr(args, "variants", None) or list(VARIANTS)
    return [v for v in VARIANTS if v in chosen]


def needed_crop_recognizers(args) -> List[str]:
    """The crop recognizers the selected variants need: their own, and the CRNN every
    end-to-end model starts from."""
    variants = selected_variants(args)
    names = {VARIANTS[v]["recognizer"] for v in variants if not _is_e2e(v)}
    if any(_is_e2e(v) for v in variants):
        names.add("crnn")
    return [n for n in CROP_CONFIGS if n in names]


def log(msg: str) -> None:
    print(f"[spotting benchmark] {msg}", flush=True)


def tool_job(name: str, cmd: List[str], threads: Optional[int]) -> ToolProcess:
    """One training or test process of the plugin's tools; its progress lines are
    forwarded with a prefix, its last lines shown if it fails."""
    return ToolProcess(name, cmd, threads, forward=("Iter(train)", "spotting/", "word_acc"), tag="spotting benchmark")


def run_lanes(lanes: Sequence[Sequence[ToolProcess]]) -> None:
    """Run each lane's jobs one after the other, the lanes at the same time."""
    errors: List[BaseException] = []

    def lane_main(jobs):
        try:
            for job in jobs:
                job.run()
        except BaseException as err:  # SystemExit from a failed job: re-raised below
            errors.append(err)

    threads = [threading.Thread(target=lane_main, args=(lane,)) for lane in lanes if lane]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _train(config: str, work: Path, options: Sequence[str]) -> List[str]:
    # --overwrite: a stage re-run into its folder (its final checkpoint was missing) starts anew
    return [sys.executable, "-m", "stn_plugin.cli.train", config, "--work-dir", str(work), "--overwrite",
            "--cfg-options", *options]


def detector_job(args, threads) -> Optional[ToolProcess]:
    work = args.out / "detector"
    if (work / f"iter_{args.iters}.pth").exists():
        log(f"reusing the detector in {work}")
        return None
    return tool_job("detector", _train(str(config_path(DETECTOR_CONFIG)), work, [
        f"data_root={args.data.resolve()}/", f"train_cfg.max_iters={args.iters}",
        f"default_hooks.checkpoint.interval={args.iters // 2}", f"randomness.seed={args.train_seed}"]), threads)


def crop_job(name: str, args, threads) -> Optional[ToolProcess]:
    work = args.out / f"crop-{name}"
    if (work / f"iter_{args.iters}.pth").exists():
        log(f"reusing the crop recognizer {name} in {work}")
        return None
    # synth_root (the crop configs' data root) moves every dataloader's root (--cfg-options)
    options = [f"synth_root={args.crops.resolve()}/", f"train_cfg.max_iters={args.iters}",
               f"train_dataloader.batch_size={CROP_BATCH}", f"default_hooks.checkpoint.interval={args.iters // 2}",
               "default_hooks.checkpoint.max_keep_ckpts=2", f"randomness.seed={args.train_seed}",
               "train_dataloader.dataset.ann_file=textrecog_train.json",
               "val_dataloader.dataset.ann_file=textrecog_val.json", "test_dataloader.dataset.ann_file=textrecog_val.json"]
    return tool_job(f"crop-{name}", _train(str(config_path(CROP_CONFIGS[name])), work, options), threads)


def e2e_config(variant: str, args) -> Path:
    """A config for the end-to-end phase: the variant's config, started from the composed
    half-way checkpoint, with the second half of the detector's and the crop
    recognizer's schedules (learning-rate steps of the detector at 75 % and 90 % of
    ``T``, the recognizer's decay over the last 20 %)."""
    half = args.iters // 2
    work = args.out / variant
    work.mkdir(parents=True, exist_ok=True)
    path = work / "e2e_config.py"
    steps = [int(args.iters * 0.75) - half, int(args.iters * 0.9) - half]
    warmup = max(1, min(20, half))
    decay = max(0, half - max(1, int(args.iters * 0.2)))
    refined = "model = dict(roi_head=dict(recog_boxes='refined'))\n" if _refines(variant, args) else ""
    path.write_text(
        "# written by tools/spotting_benchmark.py: the second half of the schedule, end to end\n"
        f"_base_ = {str(config_path(VARIANTS[variant]['config']))!r}\n"
        f"load_from = {str(args.out.resolve() / 'e2e_init.pth')!r}\n"
        f"{refined}"
        f"train_cfg = dict(max_iters={half}, val_interval={half})\n"
        f"default_hooks = dict(checkpoint=dict(interval={half}))\n"
        "param_scheduler = dict(\n    _delete_=True,\n"
        f"    default=[dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end={warmup}),\n"
        f"             dict(type='MultiStepLR', by_epoch=False, begin=0, end={half}, milestones={steps}, gamma=0.1)],\n"
        f"    recognition=[dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end={warmup}),\n"
        f"                 dict(type='LinearLR', start_factor=1.0, end_factor=0.05, by_epoch=False,"
        f" begin={decay}, end={half})])\n")
    return path


def e2e_job(variant: str, args, threads) -> Optional[ToolProcess]:
    work = args.out / variant
    if variant_checkpoint(variant, args).exists():
        log(f"reusing the end-to-end model {variant} in {work}")
        return None
    return tool_job(variant, _train(str(e2e_config(variant, args)), work, [
        f"data_root={args.data.resolve()}/", f"randomness.seed={args.train_seed}"]), threads)


def variant_checkpoint(variant: str, args) -> Path:
    if _is_e2e(variant):
        return args.out / variant / f"iter_{args.iters // 2}.pth"
    return args.out / f"{variant}.pth"


def _compose(detector: Path, recognizer: Path, out: Path, keep_rectifier: bool = False) -> None:
    """Join the two checkpoints into ``out`` unless it is newer than both."""
    from ..spotting.checkpoints import compose_spotter_checkpoint

    if out.exists() and out.stat().st_mtime >= max(detector.stat().st_mtime, recognizer.stat().st_mtime):
        return
    compose_spotter_checkpoint(str(detector), str(recognizer), str(out), overwrite=True,
                               keep_recog_roi_extractor=keep_rectifier)


def compose_e2e_start(args) -> None:
    """The end-to-end models' start: the detector and the crop CRNN at ``T/2``."""
    half = args.iters // 2
    _compose(args.out / "detector" / f"iter_{half}.pth", args.out / "crop-crnn" / f"iter_{half}.pth",
             args.out / "e2e_init.pth")


def compose_detect_then_read(args) -> None:
    """The detect-then-read variants' weights: the detector and a crop recognizer at ``T``."""
    for variant in selected_variants(args):
        spec = VARIANTS[variant]
        if spec["recognizer"] is not None and "outlines_from" not in spec:
            _compose(args.out / "detector" / f"iter_{args.iters}.pth",
                     args.out / f"crop-{spec['recognizer']}" / f"iter_{args.iters}.pth",
                     variant_checkpoint(variant, args))


def compose_outline_readers(args) -> None:
    """The outline detect-then-read variants' weights: an end-to-end outline spotter's
    final weights (detector and RoI rectifier) with a crop recognizer at ``T``."""
    for variant in selected_variants(args):
        spec = VARIANTS[variant]
        if "outlines_from" in spec:
            _compose(variant_checkpoint(spec["outlines_from"], args),
                     args.out / f"crop-{spec['recognizer']}" / f"iter_{args.iters}.pth",
                     variant_checkpoint(variant, args), keep_rectifier=True)


def test_job(variant: str, args, threads) -> Optional[ToolProcess]:
    """``tools/test.py`` of a variant on the val scenes, unless a result newer than its
    checkpoint is there."""
    result = _test_result(variant, args)
    if result is not None and result.stat().st_mtime > variant_checkpoint(variant, args).stat().st_mtime:
        log(f"reusing the test result of {variant}: {result}")
        return None
    return tool_job(f"test {variant}", [
        sys.executable, "-m", "stn_plugin.cli.test", str(config_path(VARIANTS[variant]["config"])),
        str(variant_checkpoint(variant, args)), "--work-dir", str(args.out / variant / "test"),
        "--cfg-options", f"data_root={args.data.resolve()}/"], threads)


def _trained_model(config: str, checkpoint: Path, args, batch_size: int, split: str, refined: bool = False):
    """The model of ``config`` with ``checkpoint``'s weights and a batch of ``batch_size``
    samples of its ``split`` ('train' or 'test') data; ``refined``: its recognition
    crops trained on the refined boxes."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import load_checkpoint

    cfg = Config.fromfile(str(config_path(config)))
    dataset_cfg = cfg[f"{split}_dataloader"].dataset
    if config in CROP_CONFIGS.values():
        dataset_cfg.update(data_root=f"{args.crops.resolve()}/", ann_file="textrecog_train.json")
    else:
        dataset_cfg.update(data_root=f"{args.data.resolve()}/")
    dataset = DATASETS.build(dataset_cfg)
    if refined:
        cfg.model.roi_head.recog_boxes = "refined"
    model = MODELS.build(cfg.model)
    load_checkpoint(model, str(checkpoint), map_location="cpu", logger="silent")
    model.train(split == "train")
    return cfg, model, pseudo_collate([dataset[i % len(dataset)] for i in range(batch_size)])


def _best_times(steps: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, float]:
    """Best seconds of each step, the steps interleaved, after one warm-up round."""
    import torch

    best = {name: float("inf") for name in steps}
    for r in range(repeats + 1):
        for name, step in steps.items():
            torch.manual_seed(r)
            t0 = time.perf_counter()
            step()
            if r:
                best[name] = min(best[name], time.perf_counter() - t0)
    return best


def step_times(args, repeats: int = 5) -> Dict[str, float]:
    """Seconds per training iteration of every model the variants train, and per test
    image of every variant, measured side by side in this process with the trained
    weights (a fresh RPN finds few words, so its recognition branch would do little):
    the same batch every time (4 scenes; 64 word crops for the crop recognizers), the
    models' steps interleaved, the best of ``repeats``. Keys: ``'detector'``,
    ``'crop <name>'``, the end-to-end variants (training) and ``'test <variant>'``
    (seconds per image)."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    init_default_scope("mmdet")
    if args.threads:
        torch.set_num_threads(args.threads)
    full = args.iters
    train = {"detector": (DETECTOR_CONFIG, args.out / "detector" / f"iter_{full}.pth", 4)}
    train.update({f"crop {n}": (c, args.out / f"crop-{n}" / f"iter_{full}.pth", CROP_BATCH)
                  for n, c in CROP_CONFIGS.items() if n in needed_crop_recognizers(args)})
    train.update({v: (VARIANTS[v]["config"], variant_checkpoint(v, args), 4) for v in selected_variants(args)
                  if _is_e2e(v)})
    steps = {}
    for name, (config, ckpt, batch_size) in train.items():
        refined = name in VARIANTS and _refines(name, args)
        cfg, model, batch = _trained_model(config, ckpt, args, batch_size, "train", refined)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        steps[name] = lambda m=model, o=optim, b=batch: m.train_step(b, o)
    val_batch = 4
    for v in selected_variants(args):
        _, model, batch = _trained_model(VARIANTS[v]["config"], variant_checkpoint(v, args), args, val_batch, "test")
        steps[f"test {v}"] = lambda m=model, b=batch: m.test_step(b)
    with torch.no_grad():
        best = _best_times({k: f for k, f in steps.items() if k.startswith("test ")}, repeats)
    best = {k: t / val_batch for k, t in best.items()}
    best.update(_best_times({k: f for k, f in steps.items() if not k.startswith("test ")}, repeats))
    log("seconds per training iteration / test image, side by side: "
        + ", ".join(f"{k} {v:.3f}" for k, v in best.items()))
    return best


def _test_result(variant: str, args) -> Optional[Path]:
    work = args.out / variant / "test"
    runs = sorted(p for p in work.glob("2*") if (p / f"{p.name}.json").exists())
    return runs[-1] / f"{runs[-1].name}.json" if runs else None


def test_scores(variant: str, args) -> dict:
    result = _test_result(variant, args)
    if result is None:
        raise SystemExit(f"[spotting benchmark] no test result of {variant} in {args.out / variant / 'test'}")
    return json.loads(result.read_text())


def rows_of(args, times: Dict[str, float]) -> List[dict]:
    half, full = args.iters // 2, args.iters
    rows = []
    for variant in selected_variants(args):
        spec = VARIANTS[variant]
        scores = test_scores(variant, args)
        if "outlines_from" in spec:  # the outline spotter's training, then a crop recognizer's
            phases = [("detector", half, times["detector"]), ("crop crnn", half, times["crop crnn"]),
                      (f"end to end ({spec['outlines_from']})", half, times[spec["outlines_from"]]),
                      (f"crop {spec['recognizer']}", full - half, times[f"crop {spec['recognizer']}"])]
        elif spec["recognizer"] is not None:
            phases = [("detector", full, times["detector"]),
                      (f"crop {spec['recognizer']}", full, times[f"crop {spec['recognizer']}"])]
        else:
            phases = [("detector", half, times["detector"]), ("crop crnn", half, times["crop crnn"]),
                      ("end to end", half, times[variant])]
        rows.append(dict(
            variant=variant, what=spec["what"],
            e2e_precision=scores.get("spotting/e2e_precision", 0.0), e2e_recall=scores.get("spotting/e2e_recall", 0.0),
            e2e_hmean=scores.get("spotting/e2e_hmean", 0.0), det_hmean=scores.get("spotting/det_hmean", 0.0),
            phases=[dict(phase=p, iters=n, s_per_iter=t) for p, n, t in phases],
            train_minutes=sum(n * t for _, n, t in phases) / 60,
            s_per_image=times[f"test {variant}"]))
    return rows


def format_table(rows: Sequence[dict]) -> str:
    lines = ["| variant | end-to-end P / R | **end-to-end Hmean** | detection Hmean | training: iterations x s/iter "
             "| training min | test s / image |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        phases = " + ".join(f"{p['phase']} {p['iters']} x {p['s_per_iter']:.2f}" for p in r["phases"])
        lines.append(f"| {r['variant']} ({r['what']}) | {r['e2e_precision']:.3f} / {r['e2e_recall']:.3f} | "
                     f"**{r['e2e_hmean']:.3f}** | {r['det_hmean']:.3f} | {phases} | {r['train_minutes']:.1f} | "
                     + f"{r['s_per_image']:.3f} |")
    return "\n".join(lines)


def check_settings(args) -> None:
    """``--out`` keeps what it was made with; another setting needs another folder."""
    settings = dict(iters=args.iters, data=str(args.data.resolve()), num_train=args.num_train, num_val=args.num_val,
                    seed=args.seed, train_seed=args.train_seed, crop_batch=CROP_BATCH)
    # added later, written only when not the default, so older folders keep matching
    settings.update({k: v for k, v in (("preset", args.preset), ("recog_boxes", args.recog_boxes))
                     if v != {"preset": "default", "recog_boxes": "proposals"}[k]})
    path = args.out / "settings.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old != settings:
            raise SystemExit(f"[spotting benchmark] {args.out} holds a run with other settings ({old}); "
                             f"give another --out or remove it yourself")
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1))


def _preset_of(annotations: dict) -> Optional[str]:
    """The word-scenes preset whose warps (and their weights) a set was written with."""
    from ..spotting.word_scenes import WORD_SCENE_PRESETS

    options = annotations.get("info", {}).get("options", {})
    weights = options.get("distortion_weights")
    warps = (list(options.get("distortions", [])), None if weights is None else list(weights))
    for name, preset in WORD_SCENE_PRESETS.items():
        weights = None if preset.distortion_weights is None else list(preset.distortion_weights)
        if warps == (list(preset.distortions), weights):
            return name
    return None


def ensure_data(args) -> None:
    from ..spotting.word_crops import export_word_crops
    from ..spotting.word_scenes import generate_word_scenes, word_scene_options

    notes = args.data / "annotations"
    if (notes / "train.json").exists() and (notes / "val.json").exists():
        sets = [json.loads((notes / f"{s}.json").read_text()) for s in ("train", "val")]
        found = tuple(len(a["images"]) for a in sets)
        if found != (args.num_train, args.num_val):
            raise SystemExit(f"[spotting benchmark] {args.data} holds {found[0]} train / {found[1]} val scenes, not "
                             f"{args.num_train} / {args.num_val}; give another --data or remove it yourself")
        presets = {_preset_of(a) for a in sets}
        other = sorted(p for p in presets if p is not None and p != args.preset)
        if other:
            raise SystemExit(f"[spotting benchmark] {args.data} holds word scenes of the preset(s) {other}, not "
                             f"{args.preset!r}; give another --data or remove it yourself")
        if None in presets:
            log(f"{args.data} was written with warps of no preset (its own options); using it as it is")
        log(f"using the word scenes in {args.data}")
    else:
        generate_word_scenes(str(args.data), args.num_train, args.num_val, args.seed,
                             options=word_scene_options(args.preset))
    for split in ("train", "val"):
        if (args.crops / f"textrecog_{split}.json").exists():
            log(f"using the {split} word crops in {args.crops}")
            continue
        export_word_crops(str(notes / f"{split}.json"), str(args.data / split), str(args.crops), split=split,
                          jittered_copies=1 if split == "train" else 0, seed=args.seed, overwrite=True)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=2000,
                   help="iterations of the detector and of the crop recognizers; the end-to-end models "
                        "train the second half of them end to end (even number >= 2)")
    p.add_argument("--data", type=Path, default=None,
                   help="word scenes folder (default: data/word_scenes_2k, data/word_scenes_2k_<preset> for another "
                        "--preset)")
    p.add_argument("--preset", default="default", choices=("default", "curved"),
                   help="word scenes to generate and test on: 'default' (every warp equally likely) or 'curved' "
                        "(four words in five curved or arc-shaped)")
    p.add_argument("--recog-boxes", default="proposals", choices=("proposals", "refined"),
                   help="boxes the end-to-end models with an RoI rectifier sample their training crops on: the "
                        "proposals, or the box head's refined boxes (the recognition loss then trains the box "
                        "regression too)")
    p.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS), metavar="VARIANT",
                   help=f"variants to run (default: all): {', '.join(VARIANTS)}")
    p.add_argument("--crops", type=Path, default=None, help="word crops folder (default: <data>_crops)")
    p.add_argument("--num-train", type=int, default=2000, help="training scenes (when generating)")
    p.add_argument("--num-val", type=int, default=300, help="val scenes, the test set of the table")
    p.add_argument("--seed", type=int, default=0, help="data seed")
    p.add_argument("--train-seed", type=int, default=0, help="training seed")
    p.add_argument("--parallel", action="store_true",
                   help="two processes at a time with --threads torch threads each (default 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--timing-repeats", type=int, default=5,
                   help="training steps per model in the side-by-side timing (the best counts)")
    p.add_argument("--out", type=Path, default=Path("work_dirs/spotting_benchmark"), help="output folder")
    args = p.parse_args(argv)
    if args.timing_repeats < 1:
        p.error(f"--timing-repeats must be >= 1, got {args.timing_repeats}")
    if args.iters < 2 or args.iters % 2:
        p.error(f"--iters must be an even number >= 2, got {args.iters}")
    for variant in args.variants or ():
        base = VARIANTS[variant].get("outlines_from")
        if base and base not in args.variants:
            p.error(f"--variants {variant} reads the outlines of {base}: add {base}")
    if args.data is None:
        args.data = Path("data/word_scenes_2k" + ("" if args.preset == "default" else f"_{args.preset}"))
    if args.crops is None:
        args.crops = Path(f"{str(args.data).rstrip('/')}_crops")
    return args


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    t0 = time.time()
    check_settings(args)
    ensure_data(args)
    threads = args.threads or (1 if args.parallel else None)
    variants = selected_variants(args)
    detector = detector_job(args, threads)
    crops = [j for j in (crop_job(n, args, threads) for n in needed_crop_recognizers(args)) if j is not None]
    run_lanes([[detector] if detector else [], crops] if args.parallel else [([detector] if detector else []) + crops])
    e2e = [v for v in variants if _is_e2e(v)]
    if e2e:
        compose_e2e_start(args)
    compose_detect_then_read(args)
    second = [j for j in (e2e_job(v, args, threads) for v in e2e) if j]
    # two at a time with --parallel, as the first stage
    run_lanes([second[0::2], second[1::2]] if args.parallel else [second])
    compose_outline_readers(args)
    run_lanes([[j for j in (test_job(v, args, threads) for v in variants) if j]])
    rows = rows_of(args, step_times(args, args.timing_repeats))
    setting = (f"word scenes ({args.preset}): {args.num_train} train / {args.num_val} val scenes (seed {args.seed}), "
               f"--iters {args.iters}, training seed {args.train_seed}, recognition crops trained on "
               f"{args.recog_boxes} (RoI rectifiers), "
               + (f"{threads} torch thread(s) per process, " if threads else "")
               + ("two processes at a time" if args.parallel else "one process at a time"))
    lines = [setting, "", format_table(rows)]
    stamp = time.strftime("%Y%m%d_%H%M%S")
    (args.out / f"results_{stamp}.md").write_text("\n".join(lines) + "\n")
    (args.out / f"results_{stamp}.json").write_text(json.dumps(rows, indent=1))
    print("\n" + "\n".join(lines))
    log(f"total {time.time() - t0:.0f} s; results in {args.out / f'results_{stamp}.md'}")
    return rows
