"""What a RoI rectifier costs in a whole detector step, side by side with mmdet's plain head.

For each config, the detector is built twice: as shipped (with its RoI rectifiers)
and as its *baseline* -- the same model dict with every rectifier extractor replaced
by mmdet's ``SingleRoIExtractor`` (same ``roi_layer``, channels, strides and
``finest_scale``) and the rectifying head by the mmdet head it extends
(``StandardRoIHead`` / ``CascadeRoIHead``). Configs whose baselines are the same
model share one baseline. Every model is built from the same seed and then given the
baseline's weights for every module they share (backbone, neck, RPN, heads), so the
only difference is the RoI extraction. No pretrained weights are loaded (the
backbone's ``init_cfg`` is dropped).

All models get the same batch (:func:`mmdet.testing.demo_mm_inputs`: seeded random
images and boxes, masks for mask heads) and, before every step, the same torch seed,
so their samplers draw the same RoIs: the proposals and RoIs their extractors see are
identical (checked, and reported). Measured per model:

* training step: ``model.train_step`` (data preprocessing, forward, loss, backward,
  optimizer step through the config's optim wrapper, gradient clipping included). The
  learning rate is set to 0, so the weights, proposals and RoIs stay the same from
  repeat to repeat; the update costs the same whatever the rate;
* inference: ``model.test_step`` under ``torch.no_grad()`` (proposals, RoI head, NMS,
  rescaling to the original image);
* peak memory of both (:func:`stn_plugin.experiments.measurement.peak_mb`: on the CPU the growth
  of the peak RSS over the RSS before the step, gradients dropped first; measured
  after all timings, with malloc tuned so the RSS follows live memory; the smallest of
  ``memory_rounds`` interleaved measurements, :data:`MEMORY_ROUNDS` by default).

Times are the best of ``repeats``, the models' repeats interleaved (baseline,
variant, variant, baseline, ...) so that load from other processes hits all alike.
:func:`profile_rectifier` attributes a rectifier's extra time to its stages
(torch.profiler ranges of :mod:`stn_plugin.ops.profiling`, the backward matched
to its forward stage by autograd sequence number).
"""
from __future__ import annotations

import copy
import gc
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from .measurement import peak_mb, tune_malloc_for_rss
from ..detection.roi_rectifiers import RoIRectifierExtractor

__all__ = ["CASES", "StepModel", "StepResult", "baseline_model_config", "load_step_config", "batch_shape_of",
           "build_step_models", "make_batch", "train_step_fn", "infer_step_fn", "run_step_benchmark",
           "same_inputs", "format_results", "profile_rectifier", "profiled_extractor", "format_profile",
           "describe_machine", "main"]

DEFAULT_IMAGE_SIZE = (800, 1216)  # COCO's usual padded training size (a 1333 x 800 resize)
_BASE_HEADS = {"RectifyingRoIHead": "StandardRoIHead", "RectifyingCascadeRoIHead": "CascadeRoIHead"}


# ----------------------------------------------------------------------------- configs

def _is_rectifier(cfg) -> bool:
    from mmdet.registry import MODELS

    cls = MODELS.get(cfg.get("type")) if isinstance(cfg, dict) else None
    return isinstance(cls, type) and issubclass(cls, RoIRectifierExtractor)


def _plain_extractor(cfg: dict, sampling_ratio: Optional[int]) -> dict:
    keep = ("roi_layer", "out_channels", "featmap_strides", "finest_scale")
    plain = dict(type="SingleRoIExtractor", **{k: copy.deepcopy(cfg[k]) for k in keep if k in cfg})
    if sampling_ratio is not None:
        plain["roi_layer"]["sampling_ratio"] = sampling_ratio
    return plain


def baseline_model_config(model_cfg: dict, sampling_ratio: Optional[int] = None) -> dict:
    """``model_cfg`` with mmdet's ``SingleRoIExtractor`` for every RoI rectifier and
    mmdet's head for a rectifying head (a plain dict; the input is not changed).

    ``sampling_ratio``: the baseline's ``RoIAlign`` sampling ratio; ``None`` keeps the
    config's ``roi_layer`` (mmdet's default is 0: adaptive, ``ceil(bin size)`` samples
    per bin and axis, usually more than the rectifiers' fixed ratio of 2)."""
    cfg = copy.deepcopy(_to_dict(model_cfg))
    head = cfg.get("roi_head")
    if not isinstance(head, dict):
        raise ValueError("model has no roi_head: the step benchmark compares two-stage detectors' RoI heads")
    head["type"] = _BASE_HEADS.get(head.get("type"), head.get("type"))
    for key in ("bbox_roi_extractor", "mask_roi_extractor"):
        ext = head.get(key)
        if isinstance(ext, (list, tuple)):
            head[key] = [_plain_extractor(e, sampling_ratio) if _is_rectifier(e) else e for e in ext]
        elif isinstance(ext, dict) and _is_rectifier(ext):
            head[key] = _plain_extractor(ext, sampling_ratio)
    return cfg


def _to_dict(cfg):
    from mmengine.config import ConfigDict

    if isinstance(cfg, ConfigDict):
        return cfg.to_dict()
    return cfg


def load_step_config(path: str):
    """The config at ``path`` with the backbone's pretrained ``init_cfg`` dropped."""
    from mmengine.config import Config

    from .. import register_all_modules

    register_all_modules()
    _quiet_mmengine()
    cfg = Config.fromfile(path)
    backbone = cfg.model.get("backbone")
    if isinstance(backbone, dict):
        backbone["init_cfg"] = None  # no download; every model starts from the same seed
    return cfg


def _quiet_mmengine() -> None:
    """Keep mmengine's per-parameter initialisation report out of the benchmark's output."""
    import logging

    from mmengine.logging import MMLogger

    MMLogger.get_current_instance().setLevel(logging.WARNING)


def batch_shape_of(cfg, image_size: Optional[Sequence[int]] = None,
                   batch_size: Optional[int] = None) -> Tuple[int, int, int]:
    """``(batch size, H, W)``: the config's training batch size and its ``image_size``
    variable (square) if it has one, else 800 x 1216; arguments override."""
    if batch_size is None:
        batch_size = int(cfg.get("train_dataloader", {}).get("batch_size", 2))
    if image_size is None:
        side = cfg.get("image_size")
        image_size = (side, side) if isinstance(side, int) else DEFAULT_IMAGE_SIZE
    h, w = image_size
    return batch_size, int(h), int(w)


def make_batch(cfg, batch_size: int, height: int, width: int, boxes_per_image: int = 8) -> dict:
    """A seeded training / test batch for the model of ``cfg`` (uint8 images, boxes,
    labels, and masks when the RoI head has a mask branch), as a dataloader yields it."""
    from mmdet.testing import demo_mm_inputs

    head = cfg.model.roi_head
    bbox_head = head.bbox_head[0] if isinstance(head.bbox_head, (list, tuple)) else head.bbox_head
    return demo_mm_inputs(batch_size, (3, height, width), num_items=[boxes_per_image] * batch_size,
                          num_classes=int(bbox_head.num_classes), with_mask=bool(head.get("mask_head")))


# ----------------------------------------------------------------------------- models

@dataclass
class StepModel:
    """One detector under test: ``name``, the model, its optim wrapper (learning rate
    0), and what its first RoI extractor saw (``roi_inputs``: count and checksum of the
    RoIs, checksum of the images) in its last training step."""
    name: str
    model: torch.nn.Module
    optim_wrapper: object
    roi_inputs: dict = field(default_factory=dict)


def _zero_lr(optim_cfg) -> dict:
    cfg = copy.deepcopy(_to_dict(optim_cfg))
    cfg.setdefault("optimizer", {})["lr"] = 0.0
    return cfg


def _build(name: str, model_cfg: dict, optim_cfg, seed: int) -> StepModel:
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict
    from mmengine.optim import build_optim_wrapper

    torch.manual_seed(seed)
    model = MODELS.build(ConfigDict(copy.deepcopy(model_cfg)))
    model.init_weights()
    step_model = StepModel(name, model, build_optim_wrapper(model, _zero_lr(optim_cfg)))
    _watch_inputs(step_model)
    return step_model


def _watch_inputs(step_model: StepModel) -> None:
    """Record what the backbone and the (first) bbox RoI extractor get, so that a run can
    show that every model saw the same batch and the same RoIs."""
    model, seen = step_model.model, step_model.roi_inputs

    def on_backbone(_module, args):
        seen["images"] = (tuple(args[0].shape), float(args[0].double().sum()))

    def on_extractor(_module, args):
        if "rois" not in seen:  # the first call of a step: the bbox branch
            rois = args[1]
            seen["rois"] = (int(rois.shape[0]), float(rois.double().sum()))

    model.backbone.register_forward_pre_hook(on_backbone)
    ext = model.roi_head.bbox_roi_extractor
    ext = ext[0] if isinstance(ext, torch.nn.ModuleList) else ext
    ext.register_forward_pre_hook(on_extractor)


def build_step_models(configs: Sequence[Tuple[str, object]], seed: int = 0,
                      baseline_sampling_ratio: Optional[int] = None) -> List[List[StepModel]]:
    """Groups of models ``[baseline, variant, ...]`` for ``configs`` ``[(name, cfg), ...]``:
    configs whose baselines are the same model share one group (and one baseline).

    Every variant gets the baseline's weights for the modules they share; the
    rectifiers' own modules keep their (identity) initialisation.
    ``baseline_sampling_ratio``: see :func:`baseline_model_config`."""
    groups: Dict[str, List] = {}
    for name, cfg in configs:
        base_cfg = baseline_model_config(cfg.model, baseline_sampling_ratio)
        key = repr(sorted(_flatten(base_cfg)))
        groups.setdefault(key, [base_cfg, cfg.optim_wrapper, []])[2].append((name, cfg))
    result = []
    for base_cfg, optim_cfg, members in groups.values():
        ratio = "as configured" if baseline_sampling_ratio is None else f"sampling_ratio={baseline_sampling_ratio}"
        baseline = _build(f"baseline (SingleRoIExtractor, {ratio})", base_cfg, optim_cfg, seed)
        state = baseline.model.state_dict()
        models = [baseline]
        for name, cfg in members:
            variant = _build(name, _to_dict(cfg.model), cfg.optim_wrapper, seed)
            missing, unexpected = variant.model.load_state_dict(state, strict=False)
            if unexpected or any(".rectifier." not in k for k in missing):
                foreign = [k for k in missing if ".rectifier." not in k]
                raise RuntimeError(f"{name}: the baseline's weights do not fit the shared modules "
                                   f"(unexpected {unexpected[:3]}, missing {foreign[:3]})")
            models.append(variant)
        result.append(models)
    return result


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, repr(obj)


# ----------------------------------------------------------------------------- steps

def train_step_fn(step_model: StepModel, batch: dict, seed: int) -> Callable[[], None]:
    """One training iteration of ``step_model`` on ``batch``, from the torch seed ``seed``."""
    def step():
        step_model.roi_inputs.pop("rois", None)
        step_model.model.train()
        torch.manual_seed(seed)
        step_model.model.train_step(batch, step_model.optim_wrapper)
    return step


def infer_step_fn(step_model: StepModel, batch: dict) -> Callable[[], None]:
    """One inference of ``step_model`` on ``batch`` (no gradients)."""
    def step():
        step_model.model.eval()
        with torch.no_grad():
            step_model.model.test_step(batch)
    return step


def _drop_grads(step_model: StepModel) -> Callable[[], None]:
    return lambda: step_model.optim_wrapper.zero_grad(set_to_none=True)


@dataclass
class StepResult:
    """Best times (s) and peak memory growths (MiB, None where not measurable)."""
    name: str
    train_s: float
    infer_s: float
    train_peak_mb: Optional[float]
    infer_peak_mb: Optional[float]
    roi_inputs: dict


# Peak-memory measurements per model, the smallest kept: a step's peak RSS varies from run to
# run (by up to a quarter on the small digit-scenes detector) with when the threads'
# allocations meet, while the smallest peak is what the step cannot do without.
MEMORY_ROUNDS = 3


def run_step_benchmark(models: List[StepModel], batch: dict, repeats: int = 3, seed: int = 0,
                       measure_memory: bool = True, log: Callable[[str], None] = print,
                       memory_rounds: int = MEMORY_ROUNDS) -> List[StepResult]:
    """Time ``models`` (baseline first) side by side on ``batch``: a warm-up step each,
    then ``repeats`` rounds of one training step and one inference per model, the
    order of the models reversed every other round; then peak memory (the smallest of
    ``memory_rounds`` interleaved measurements, :data:`MEMORY_ROUNDS` by default)."""
    train = {m.name: [] for m in models}
    infer = {m.name: [] for m in models}
    for m in models:
        t0 = time.perf_counter()
        train_step_fn(m, batch, seed)()
        infer_step_fn(m, batch)()
        log(f"  warm-up {m.name}: {time.perf_counter() - t0:.1f} s")
    for r in range(repeats):
        order = models if r % 2 == 0 else models[::-1]
        for m in order:
            _drop_grads(m)()
            gc.collect()
            t0 = time.perf_counter()
            train_step_fn(m, batch, seed)()
            train[m.name].append(time.perf_counter() - t0)
            gc.collect()
            t0 = time.perf_counter()
            infer_step_fn(m, batch)()
            infer[m.name].append(time.perf_counter() - t0)
        log(f"  round {r + 1}/{repeats}: " + ", ".join(
            f"{m.name} train {train[m.name][-1]:.2f} s / infer {infer[m.name][-1]:.2f} s" for m in models))
    peaks = {m.name: (None, None) for m in models}
    if measure_memory:
        tune_malloc_for_rss()
        seen = {m.name: ([], []) for m in models}
        for _ in range(memory_rounds):
            for m in models:
                tr = peak_mb(train_step_fn(m, batch, seed), "cpu", _drop_grads(m))
                inf = peak_mb(infer_step_fn(m, batch), "cpu", _drop_grads(m))
                if tr is not None and inf is not None:
                    seen[m.name][0].append(tr)
                    seen[m.name][1].append(inf)
        for m in models:
            tr, inf = seen[m.name]
            if tr:
                peaks[m.name] = (min(tr), min(inf))
                log(f"  memory {m.name}: train {' / '.join(f'{x:.0f}' for x in tr)} MiB, "
                    f"infer {' / '.join(f'{x:.0f}' for x in inf)} MiB (the smallest is kept)")
    results = [StepResult(m.name, min(train[m.name]), min(infer[m.name]), *peaks[m.name], dict(m.roi_inputs))
               for m in models]
    return results


def same_inputs(results: Sequence[StepResult]) -> bool:
    """Whether every model's backbone saw the same images and its extractor the same RoIs."""
    first = results[0].roi_inputs
    return bool(first) and all(r.roi_inputs == first for r in results[1:])


def format_results(title: str, results: Sequence[StepResult], repeats: int) -> str:
    """A table of ``results`` (baseline first) with every row's ratios to the baseline."""
    base = results[0]

    def ratio(a, b):
        return "   n/a" if a is None or b is None or b <= 0 else f"{a / b:6.3f}"

    def mb(v):
        return "     n/a" if v is None else f"{v:8.0f}"

    rois = base.roi_inputs.get("rois", (0, 0))[0]
    width = max(len(r.name) for r in results)
    lines = [f"== {title}",
             f"   best of {repeats} interleaved repeats; {torch.get_num_threads()} threads; "
             f"{rois} RoIs per training step; same images and RoIs for all: "
             f"{'yes' if same_inputs(results) else 'NO'}",
             f"   {'model':<{width}} {'train s':>8} {'infer s':>8} {'train MB':>8} {'infer MB':>8}"
             f" {'train x':>7} {'infer x':>7} {'mem x':>6}"]
    for r in results:
        lines.append(f"   {r.name:<{width}} {r.train_s:8.3f} {r.infer_s:8.3f} {mb(r.train_peak_mb)} "
                     f"{mb(r.infer_peak_mb)}  {ratio(r.train_s, base.train_s)}  {ratio(r.infer_s, base.infer_s)} "
                     f"{ratio(r.train_peak_mb, base.train_peak_mb)}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- profile

def profile_rectifier(models: List[StepModel], batch: dict, seed: int = 0, inference: bool = False) -> dict:
    """Where a training step's (or an inference's) time goes, per model.

    Runs one step of each model under ``torch.profiler`` and returns
    ``{model name: {stage: ms}}``: the forward ranges of
    :mod:`stn_plugin.ops.profiling` (``rectifier.*``, ``roi_sample.*``; nested ranges count in
    the innermost one), ``rectifier.*.backward`` for the autograd nodes whose forward op
    ran inside that range, ``step`` for the whole step, ``roi_extractor`` /
    ``roi_extractor.backward`` for the rest of the extractors' calls (all of mmdet's
    extractor in the baseline) and ``roi_extractor (all)`` / ``(all).backward`` for
    the whole RoI extraction, rectifier stages included.
    """
    from torch.profiler import ProfilerActivity, profile

    out = {}
    for m in models:
        fn = infer_step_fn(m, batch) if inference else train_step_fn(m, batch, seed)
        fn()  # warm
        _drop_grads(m)()
        with profiled_extractor(m.model):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                t0 = time.perf_counter()
                fn()
                total = time.perf_counter() - t0
        stages = _stage_times(prof.events())
        stages["step"] = total * 1e3
        out[m.name] = stages
    return out


@contextmanager
def profiled_extractor(model: torch.nn.Module) -> Iterator[None]:
    """Mark every call of ``model``'s RoI extractors as a ``roi_extractor`` profiler
    range (mmdet's extractors have no ranges of their own)."""
    from mmdet.models.roi_heads.roi_extractors import BaseRoIExtractor

    open_ranges: List = []

    def enter(_module, _args):
        rf = torch.autograd.profiler.record_function("roi_extractor")
        rf.__enter__()
        open_ranges.append(rf)

    def leave(_module, _args, _output):
        open_ranges.pop().__exit__(None, None, None)

    handles = []
    for module in model.modules():
        if isinstance(module, BaseRoIExtractor):
            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _stage_times(events) -> Dict[str, float]:
    """Self-exclusive ms per ``rectifier.*`` / ``roi_sample.*`` / ``roi_extractor`` range,
    and the backward time of the autograd nodes created inside each range."""
    ranges = [e for e in events if e.name.startswith(("rectifier.", "roi_sample.", "roi_extractor"))]
    times: Dict[str, float] = defaultdict(float)
    # forward: a range's time minus the time of ranges nested in it
    for r in ranges:
        inner = sum(o.time_range.elapsed_us() for o in ranges
                    if o is not r and o.thread == r.thread and _contains(r, o) and
                    not any(p is not r and p is not o and _contains(r, p) and _contains(p, o) for p in ranges))
        times[r.name] += (r.time_range.elapsed_us() - inner) / 1e3
        if r.name == "roi_extractor":  # and inclusive: the whole RoI extraction
            times["roi_extractor (all)"] += r.time_range.elapsed_us() / 1e3
    # backward: an autograd node has the sequence number of the op that created it, the
    # last op recorded with that number (ops that create no node share the next one)
    backward = [e for e in events if e.name.startswith("autograd::engine::evaluate_function")]
    backward_start = min((e.time_range.start for e in backward), default=float("inf"))
    forward_ops = {}
    for e in events:
        if e.sequence_nr >= 0 and e.time_range.start < backward_start and not e.name.startswith("autograd::"):
            key = (e.thread, e.sequence_nr)
            if key not in forward_ops or forward_ops[key].time_range.start < e.time_range.start:
                forward_ops[key] = e
    for e in backward:
        fwd = forward_ops.get((e.fwd_thread, e.sequence_nr))
        if fwd is None:
            continue
        owner = None
        for r in ranges:
            if r.thread == fwd.thread and _contains(r, fwd) and (owner is None or _contains(owner, r)):
                owner = r
        if owner is not None:
            times[owner.name + ".backward"] += e.time_range.elapsed_us() / 1e3
            if any(r.name == "roi_extractor" and r.thread == fwd.thread and _contains(r, fwd) for r in ranges):
                times["roi_extractor (all).backward"] += e.time_range.elapsed_us() / 1e3
    return dict(times)


def _contains(outer, inner) -> bool:
    a, b = outer.time_range, inner.time_range
    return a.start <= b.start and b.end <= a.end


def format_profile(title: str, profiles: Dict[str, Dict[str, float]]) -> str:
    """Per-stage ms of every model, side by side."""
    names = list(profiles)
    stages = sorted({s for p in profiles.values() for s in p} - {"step"})
    width = max(len(n) for n in names)
    lines = [f"== profile: {title} (ms, one step under torch.profiler, which slows small ops down)",
             "   " + f"{'stage':<36}" + "".join(f" {n:>{width}}" for n in names)]
    for s in ["step"] + stages:
        lines.append("   " + f"{s:<36}" + "".join(
            f" {profiles[n][s]:{width}.1f}" if s in profiles[n] else f" {'-':>{width}}" for n in names))
    return "\n".join(lines)


def describe_machine() -> str:
    """One line: torch version, threads, cores and the load average (timings are only
    comparable on an idle machine)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"torch {torch.__version__}, {torch.get_num_threads()} threads on {os.cpu_count()} cores, "
            f"load average {load:.2f} at start (timings are only fair on an idle machine)")


# ----------------------------------------------------------------------------- command line

CASES = {
    "coco": ("rcnn/faster-rcnn_r50_fpn_affine-rectifier_1x_coco.py",
             "rcnn/faster-rcnn_r50_fpn_tps-rectifier_1x_coco.py"),
    "digits": ("digits/faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py",
               "digits/faster-rcnn_r18_fpn_digit-scenes_tps-rectifier.py"),
}


def main(argv: Optional[Sequence[str]] = None) -> List[List[StepResult]]:
    """Command line of ``tools/benchmark_detector_step.py``; returns the result tables."""
    import argparse

    from ..cli.paths import config_path

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", choices=sorted(CASES), default=["coco", "digits"],
                   help="shipped config pairs to measure (default: both)")
    p.add_argument("--configs", nargs="+", default=None,
                   help="config files to measure instead of --cases (each against its own baseline)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds; the best of each model is kept")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="image size (default: the config's image_size, else 800 1216)")
    p.add_argument("--batch-size", type=int, default=None, help="images per batch (default: the config's)")
    p.add_argument("--boxes-per-image", type=int, default=8, help="ground-truth boxes per image")
    p.add_argument("--baseline-sampling-ratio", type=int, default=None,
                   help="RoIAlign sampling_ratio of the baseline (default: the config's roi_layer, mmdet's 0 = "
                        "adaptive; 2 = the rectifiers' ratio, the same sampling work)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and of every step")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument("--memory-rounds", type=int, default=MEMORY_ROUNDS,
                   help=f"peak-memory measurements per model, the smallest kept (default {MEMORY_ROUNDS})")
    p.add_argument("--profile", action="store_true",
                   help="also print where the rectifiers' time goes (one profiled step per model)")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.threads < 1 or args.memory_rounds < 1:
        p.error("--repeats, --threads and --memory-rounds must be >= 1")
    torch.set_num_threads(args.threads)
    paths = args.configs or [str(config_path(c)) for case in args.cases for c in CASES[case]]
    print(describe_machine(), flush=True)
    configs = []
    for path in paths:
        if not os.path.isfile(path):
            p.error(f"--configs: no such file: {path}")
        configs.append((os.path.splitext(os.path.basename(path))[0], load_step_config(path)))
    tables = []
    for group in _groups_by_batch(configs, args):
        shape, members = group
        print(f"\n[build] {', '.join(n for n, _ in members)}: batch {shape[0]} x {shape[1]}x{shape[2]}", flush=True)
        for models in build_step_models(members, args.seed, args.baseline_sampling_ratio):
            batch = make_batch(members[0][1], *shape, boxes_per_image=args.boxes_per_image)
            results = run_step_benchmark(models, batch, args.repeats, args.seed, not args.no_memory,
                                         log=lambda s: print(s, flush=True), memory_rounds=args.memory_rounds)
            title = f"{', '.join(m.name for m in models[1:])} vs baseline; batch {shape[0]} x {shape[1]}x{shape[2]}"
            print("\n" + format_results(title, results, args.repeats), flush=True)
            tables.append(results)
            if args.profile:
                for inference in (False, True):
                    prof = profile_rectifier(models, batch, args.seed, inference)
                    print("\n" + format_profile(f"{'inference' if inference else 'training step'}; {title}", prof),
                          flush=True)
    return tables


def _groups_by_batch(configs, args):
    groups: Dict[Tuple[int, int, int], list] = {}
    for name, cfg in configs:
        groups.setdefault(batch_shape_of(cfg, args.image_size, args.batch_size), []).append((name, cfg))
    return list(groups.items())
