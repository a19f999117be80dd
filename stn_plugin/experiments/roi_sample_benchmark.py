"""Benchmark roi_sample on the realistic FPN RoI-extraction case, side by side with
mmdet's SingleRoIExtractor (mmcv RoIAlign: the floor) and the naive approach
(expand the feature map per RoI + F.grid_sample).

    python tools/benchmark_roi_sample.py            # CPU (and CUDA if available)
    python tools/benchmark_roi_sample.py --quick    # fewer repeats, smaller images
    python tools/benchmark_roi_sample.py --distribution-only   # only the case below
    python tools/benchmark_roi_sample.py --count    # launches and tensor ops per call

--count prints, per forward+backward of one roi_sample call on a 4-level FPN (small
maps: the counts do not depend on sizes), the Triton kernel launches and the other
tensor operations (:func:`stn_plugin.ops.profiling.count_ops`) of the one-launch
:func:`~stn_plugin.ops.roi_sample_levels` and of the per-level loop of roi_sample
calls (:func:`roi_sample_fpn`), on CUDA or, without a GPU, on the CPU through
triton's interpreter (TRITON_INTERPRET=1 is set before triton is imported).

A second case compares the same RoIs (--num-rois, one stride-16 level of a batch of 8)
spread evenly over the 8 images and all on the first one: roi_sample's time and memory
must not depend on the distribution (target: uneven within 1.3x of even).

Case (defaults): 2 images of 800 x 1216, 256 channels, FPN strides 4/8/16/32, 512 RoIs
(256 per image, sqrt(area) log-uniform in [16, 640] px, aspect ratio in [1/3, 3],
clipped to the image), mmdet's level mapping (finest_scale=56: level =
floor(log2(sqrt(w*h) / 56 + 1e-6)) clamped to [0, 3]), 7x7 output, sampling_ratio 2.
roi_sample gets random near-identity affine transforms that require a gradient (as a
localization net's output would), so its forward+backward also computes the transform
gradient; SingleRoIExtractor computes no RoI gradient at all.

Memory: on the CPU "peak MB" is the growth of the process's peak resident set size
(VmHWM, reset through /proc/self/clear_refs) during one forward+backward over the RSS
just before it: outputs, autograd buffers, temporaries, and the gradients of the
feature maps and transforms (they start as None). For this phase only (after all
timings) glibc is told to serve and return blocks >= 64 KiB with mmap, so freed tensors
leave the RSS at once and the figure follows live memory. On CUDA it is
torch.cuda.max_memory_allocated() over the allocation before the step.

Times are the best of --repeats runs (other processes on a shared machine only ever add
time). Under heavy load from other processes, multi-threaded runs suffer most (every
parallel region waits for a descheduled thread); compare with --threads 1 there.

The naive method's backward would materialise one feature-map-sized gradient per RoI
(e.g. 256 RoIs on the stride-4 level x 62 MB = 16 GB), so its forward+backward runs
in chunks of --naive-chunk RoIs (per level and image), each chunk's backward right
after its forward: the same arithmetic and per-RoI gradient buffers, with bounded
memory. Its time is therefore a lower bound, its peak memory that of the chunked run;
the full-batch requirement is printed beside it.
"""
from __future__ import annotations

import argparse
import math
import os
from contextlib import nullcontext
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..geometry.coords import feature_index_to_normalized
from ..ops import roi_sample
from ..ops.profiling import OpCount, count_ops
from ..ops.roi_sample_levels import roi_sample_levels
from ..ops.roi_sample_torch import roi_sample_index_points
from .measurement import peak_mb, time_ms, tune_malloc_for_rss

__all__ = ["STRIDES", "FINEST_SCALE", "make_case", "map_roi_levels", "torchvision_extractor", "roi_sample_fpn",
           "naive_fpn", "naive_full_grad_bytes", "run", "run_distribution", "count_case", "count_calls",
           "run_count", "main"]

STRIDES = (4, 8, 16, 32)
FINEST_SCALE = 56


# ----------------------------------------------------------------------------- the case

def make_case(num_images: int, img_h: int, img_w: int, channels: int, num_rois: int,
              device: torch.device, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    feats = [torch.randn(num_images, channels, math.ceil(img_h / s), math.ceil(img_w / s), generator=gen)
             for s in STRIDES]
    per = num_rois // num_images
    rows = []
    for b in range(num_images):
        n = per if b < num_images - 1 else num_rois - per * (num_images - 1)
        side = torch.exp(torch.empty(n).uniform_(math.log(16), math.log(640), generator=gen))
        aspect = torch.exp(torch.empty(n).uniform_(math.log(1 / 3), math.log(3), generator=gen))
        w, h = side * aspect.sqrt(), side / aspect.sqrt()
        cx = torch.rand(n, generator=gen) * img_w
        cy = torch.rand(n, generator=gen) * img_h
        x1, x2 = (cx - w / 2).clamp(0, img_w), (cx + w / 2).clamp(0, img_w)
        y1, y2 = (cy - h / 2).clamp(0, img_h), (cy + h / 2).clamp(0, img_h)
        rows.append(torch.stack([torch.full((n,), float(b)), x1, y1, x2, y2], 1))
    rois = torch.cat(rows)
    mats = torch.eye(3).repeat(num_rois, 1, 1)
    mats[:, :2] += 0.05 * torch.randn(num_rois, 2, 3, generator=gen)  # near-identity affine
    grad_out = torch.randn(num_rois, channels, 7, 7, generator=gen)
    return ([f.to(device) for f in feats], rois.to(device), mats.to(device), grad_out.to(device))


def map_roi_levels(rois: torch.Tensor, num_levels: int) -> torch.Tensor:
    """mmdet SingleRoIExtractor.map_roi_levels (finest_scale=56)."""
    scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    lvls = torch.floor(torch.log2(scale / FINEST_SCALE + 1e-6))
    return lvls.clamp(min=0, max=num_levels - 1).long()


# ----------------------------------------------------------------------------- methods

def torchvision_extractor() -> Optional[Callable]:
    """SingleRoIExtractor's arithmetic with torchvision's ``roi_align(aligned=True)``
    (mmcv's RoIAlign formula, also with sampling_ratio 2), or None without torchvision."""
    try:
        from torchvision.ops import roi_align
    except Exception as err:
        print(f"  (torchvision roi_align unavailable: {type(err).__name__}: {err})")
        return None

    def extract(feats, rois):
        levels = map_roi_levels(rois, len(feats))
        out = feats[0].new_zeros(rois.shape[0], feats[0].shape[1], 7, 7)
        for i, (feat, stride) in enumerate(zip(feats, STRIDES)):
            idx = torch.nonzero(levels == i).squeeze(1)
            if idx.numel():
                out[idx] = roi_align(feat, rois[idx], 7, 1.0 / stride, 2, aligned=True)
        return out
    return extract


def roi_sample_fpn(feats, rois, mats, backend="auto"):
    """What a RoI rectifier does: level mapping as mmdet, one roi_sample per level."""
    levels = map_roi_levels(rois, len(feats))
    out = feats[0].new_zeros(rois.shape[0], feats[0].shape[1], 7, 7)
    for i, f in enumerate(feats):
        inds = torch.nonzero(levels == i).squeeze(1)
        if inds.numel():
            out[inds] = roi_sample(f, rois[inds], mats[inds], (7, 7), 1.0 / STRIDES[i], 2, backend=backend)
    return out


def naive_fpn(feats, rois, mats, grad_out=None, chunk: Optional[int] = None):
    """Expand the level's feature map per RoI (a view, no copy) and grid_sample each RoI's
    own 14x14 grid, then 2x2 average. With ``grad_out``: backward per chunk of RoIs."""
    levels = map_roi_levels(rois, len(feats))
    out = feats[0].new_zeros(rois.shape[0], feats[0].shape[1], 7, 7)
    for i, f in enumerate(feats):
        for b in range(f.shape[0]):
            inds = torch.nonzero((levels == i) & (rois[:, 0] == b)).squeeze(1)
            step = chunk or max(int(inds.numel()), 1)
            for c0 in range(0, inds.numel(), step):
                ci = inds[c0:c0 + step]
                pts = roi_sample_index_points(rois[ci], mats[ci], (7, 7), 1.0 / STRIDES[i], 2)
                grid = feature_index_to_normalized(pts, f.shape[-2:])
                inp = f[b:b + 1].expand(ci.numel(), -1, -1, -1)
                res = F.avg_pool2d(F.grid_sample(inp, grid, align_corners=False), 2)
                if grad_out is not None:
                    res.backward(grad_out[ci])
                else:
                    out[ci] = res
    return out


def naive_full_grad_bytes(feats, rois) -> int:
    """Bytes of the per-RoI input gradients an unchunked naive backward materialises."""
    levels = map_roi_levels(rois, len(feats))
    return sum(int((levels == i).sum()) * f[0].numel() * f.element_size() for i, f in enumerate(feats))


# ----------------------------------------------------------------------------- counts

def count_case(device: torch.device, channels: int = 4, seed: int = 0):
    """A tiny 4-level FPN case with RoIs on every level (2 images of 128 x 160)."""
    gen = torch.Generator().manual_seed(seed)
    feats = [torch.randn(2, channels, math.ceil(128 / s), math.ceil(160 / s), generator=gen) for s in STRIDES]
    sides = torch.tensor([20.0, 60.0, 130.0, 300.0, 40.0, 90.0, 200.0, 500.0])
    xy = torch.rand(8, 2, generator=gen) * 100
    rois = torch.cat([torch.arange(8.0)[:, None] % 2, xy, xy + sides[:, None]], 1)
    mats = torch.eye(3).repeat(8, 1, 1)
    mats[:, :2] += 0.05 * torch.randn(8, 2, 3, generator=gen)
    return [f.to(device) for f in feats], rois.to(device), mats.to(device)


def count_calls(device: torch.device, method: str = "levels") -> OpCount:
    """Launches and tensor ops of one forward+backward through the Triton backend:
    ``'levels'`` (:func:`roi_sample_levels`) or ``'loop'`` (:func:`roi_sample_fpn`).
    Everything from the call to the gradients of features and transforms is counted,
    the upstream gradient's creation not."""
    feats, rois, mats = count_case(device)
    feats = [f.requires_grad_() for f in feats]
    mats = mats.requires_grad_()
    # a warm-up call: triton's first launch and one-off set-up are not what a step costs
    for counting in (False, True):
        for f in feats + [mats]:
            f.grad = None
        grad_out = torch.ones(rois.shape[0], feats[0].shape[1], 7, 7, device=device)
        with (count_ops() if counting else nullcontext(OpCount())) as count:
            if method == "levels":
                # value checks off, as on CUDA by default (there they would cost a host sync)
                out = roi_sample_levels(feats, rois, mats, (7, 7), STRIDES, FINEST_SCALE, 2, backend="triton",
                                        check_values=False)
            else:
                out = roi_sample_fpn(feats, rois, mats, "triton")
            out.backward(grad_out)
    return count


def run_count(device: torch.device) -> dict:
    """Print and return the counts of both methods."""
    print(f"\n== launches and tensor ops per forward+backward, 4-level FPN, affine, triton backend on {device.type}"
          + (" (triton's interpreter)" if device.type == "cpu" else ""))
    counts = {}
    for method, name in (("levels", "roi_sample_levels (one call)"), ("loop", "roi_sample per level (loop)")):
        counts[method] = count_calls(device, method)
        print(f"  {name:<30} {counts[method].summary()}")
    return counts


# ----------------------------------------------------------------------------- driver

def run(device: torch.device, args) -> None:
    img_h, img_w = args.image_size
    feats, rois, mats, grad_out = make_case(args.num_images, img_h, img_w, args.channels, args.num_rois, device)
    levels = map_roi_levels(rois, len(feats))
    per_level = [int((levels == i).sum()) for i in range(len(feats))]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n== {device.type.upper()}  ({torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {load:.1f} at start: timings are only fair on an idle machine)  features "
          + ", ".join("x".join(map(str, f.shape)) for f in feats)
          + f"; {rois.shape[0]} RoIs per level {per_level}; 7x7, sampling_ratio 2, fp32")

    def clear():
        for f in feats:
            f.grad = None

    def with_grad(fn, mats_grad=True):
        def step():
            clear()  # like zero_grad(set_to_none=True); a no-op under peak_mb, which clears first
            fs = [f.requires_grad_() for f in feats]
            m = mats.detach().clone().requires_grad_(mats_grad)
            fn(fs, rois, m).backward(grad_out)
        return step

    def no_grad(fn):
        def step():
            with torch.no_grad():
                fn([f.detach() for f in feats], rois, mats)
        return step

    methods = []
    extractor = None
    try:
        from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
        extractor = SingleRoIExtractor(
            roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=2, aligned=True),
            out_channels=args.channels, featmap_strides=list(STRIDES), finest_scale=FINEST_SCALE).to(device)
        assert torch.equal(extractor.map_roi_levels(rois, len(feats)), levels)
    except Exception as err:  # mmdet / mmcv ops missing, or no kernel for this device
        print(f"  (SingleRoIExtractor unavailable: {type(err).__name__}: {err})")
    if extractor is not None:
        methods.append(("SingleRoIExtractor (mmcv RoIAlign)", lambda fs, r, m: extractor(fs, r), False))
    else:
        floor_fn = torchvision_extractor()
        if floor_fn is not None:
            extractor = floor_fn  # the same floor, where mmcv has no ops (e.g. a GPU machine without mmcv)
            methods.append(("same levels, torchvision roi_align", lambda fs, r, m: floor_fn(fs, r), False))
    if device.type == "cuda":
        methods.append(("roi_sample_levels affine, triton (one call)",
                        lambda fs, r, m: roi_sample_levels(fs, r, m, (7, 7), STRIDES, FINEST_SCALE, 2,
                                                           backend="triton"), True))
        methods.append(("roi_sample affine, triton", lambda fs, r, m: roi_sample_fpn(fs, r, m, "triton"), True))
        methods.append(("roi_sample affine, torch path", lambda fs, r, m: roi_sample_fpn(fs, r, m, "torch"), True))
    else:
        methods.append(("roi_sample affine", roi_sample_fpn, True))
        methods.append(("roi_sample affine, no transform grad", roi_sample_fpn, False))

    def naive_fb():
        clear()
        fs = [f.requires_grad_() for f in feats]
        naive_fpn(fs, rois, mats.detach().clone().requires_grad_(), grad_out, chunk=args.naive_chunk)

    naive_name = f"naive expand+grid_sample (bwd in chunks of {args.naive_chunk})"
    # (name, forward step, forward+backward step, timed repeats of the latter)
    steps = [(name, no_grad(fn), with_grad(fn, mats_grad), args.repeats) for name, fn, mats_grad in methods]
    steps.append((naive_name, no_grad(lambda fs, r, m: naive_fpn(fs, r, m)), naive_fb, max(1, args.naive_repeats)))

    # times first, with the process's default malloc; then memory, with malloc tuned so
    # that the RSS follows live memory (the tuning makes every large allocation a fresh
    # mmap, which would slow down allocation-heavy methods in the timings)
    rows = []
    for name, fwd_step, fb_step, reps in steps:
        try:
            fwd = time_ms(fwd_step, device, args.repeats)
            fb = time_ms(fb_step, device, reps, warmup=1 if reps > 1 else 0)
        except Exception as err:  # e.g. mmcv built without ops for this device
            print(f"  {name} failed: {type(err).__name__}: {err}")
            if name.startswith("SingleRoIExtractor"):
                extractor = None  # no floor to compare with
            continue
        rows.append([name, fwd, fb, None])
        print(f"  timed {name}", flush=True)
    clear()
    if device.type == "cpu":
        tune_malloc_for_rss()
    for row in rows:
        fb_step = next(st[2] for st in steps if st[0] == row[0])
        row[3] = peak_mb(fb_step, device, clear)
    clear()

    floor = rows[0] if extractor is not None else None
    print(f"\n  best of {args.repeats} (naive fwd+bwd: {max(1, args.naive_repeats)}) runs; x = ratio to the first row")
    print(f"  {'method':<52} {'fwd ms':>9} {'fwd+bwd ms':>11} {'peak MB':>9} "
          f"{'fwd x':>7} {'f+b x':>7} {'mem x':>7}")
    for name, fwd, fb, mem in rows:
        mem_s = "n/a" if mem is None else f"{mem:9.0f}"
        if floor is not None:
            ratios = (f"{fwd / floor[1]:7.2f} {fb / floor[2]:7.2f} "
                      + ("    n/a" if mem is None or floor[3] is None else f"{mem / floor[3]:7.2f}"))
        else:
            ratios = ""
        print(f"  {name:<52} {fwd:9.1f} {fb:11.1f} {mem_s:>9} {ratios}")
    print(f"  (an unchunked naive backward would allocate {naive_full_grad_bytes(feats, rois) / 2 ** 30:.1f} GiB "
          "of per-RoI input gradients)")
    ours = rows[1] if floor is not None else rows[0]
    naive = rows[-1]
    print(f"  naive / roi_sample: fwd {naive[1] / ours[1]:.2f}x, fwd+bwd {naive[2] / ours[2]:.2f}x")


def run_distribution(device: torch.device, args) -> None:
    """The same RoIs all on one image of the batch vs spread evenly over it: the cost of
    roi_sample must not depend on how RoIs are distributed over the images."""
    num_images, num_rois = 8, args.num_rois
    img_h, img_w = args.image_size
    stride = 16
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(num_images, args.channels, math.ceil(img_h / stride), math.ceil(img_w / stride),
                        generator=gen).to(device)
    _, rois, mats, grad_out = make_case(1, img_h, img_w, 1, num_rois, torch.device("cpu"))
    rois, mats = rois.to(device), mats.to(device)
    grad_out = torch.randn(num_rois, args.channels, 7, 7, generator=gen).to(device)
    layouts = {"even (64 per image)" if num_rois == 512 else "even": torch.arange(num_rois) % num_images,
               "uneven (all on image 0)": torch.zeros(num_rois)}
    backends = ["triton", "torch"] if device.type == "cuda" else ["torch"]
    print(f"\n== {device.type.upper()} RoI distribution: {num_rois} RoIs over a batch of {num_images}, features "
          + "x".join(map(str, feats.shape)) + " (stride 16), 7x7, sampling_ratio 2, affine, fwd+bwd")

    def clear():
        feats.grad = None

    for backend in backends:
        rows = {}
        for name, bidx in layouts.items():
            r = rois.clone()
            r[:, 0] = bidx.to(device, r.dtype)

            def step(r=r):
                clear()
                m = mats.detach().clone().requires_grad_()
                roi_sample(feats.requires_grad_(), r, m, (7, 7), 1.0 / stride, 2, backend=backend).backward(grad_out)

            rows[name] = [time_ms(step, device, args.repeats), None, step]
        if device.type == "cpu":
            tune_malloc_for_rss()
        for row in rows.values():
            row[1] = peak_mb(row[2], device, clear)
        clear()
        (even_name, even), (uneven_name, uneven) = rows.items()
        for name, (ms, mb, _) in rows.items():
            print(f"  {backend:<7} {name:<26} fwd+bwd {ms:9.1f} ms   peak {'n/a' if mb is None else f'{mb:7.0f} MB'}")
        t_ratio = uneven[0] / even[0]
        m_ratio = None if uneven[1] is None or even[1] is None or even[1] <= 0 else uneven[1] / even[1]
        ok = t_ratio <= 1.3 and (m_ratio is None or m_ratio <= 1.3)
        print(f"  {backend:<7} uneven / even: time {t_ratio:.2f}x, memory "
              + ("n/a" if m_ratio is None else f"{m_ratio:.2f}x")
              + f"; target <= 1.3x: {'met' if ok else 'MISSED'}")


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 repeats, 400x608 images, 256 RoIs")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (the best is kept); default 5, quick 2")
    p.add_argument("--naive-repeats", type=int, default=1, help="timed repeats of the slow naive fwd+bwd")
    p.add_argument("--naive-chunk", type=int, default=16, help="RoIs per naive backward chunk")
    p.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                   help="'all': CPU, and CUDA when available")
    p.add_argument("--num-images", type=int, default=2, help="images in the batch")
    p.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="image size; the FPN levels (strides 4-32) follow (default 800 1216, quick 400 608)")
    p.add_argument("--channels", type=int, default=256, help="feature channels of every FPN level")
    p.add_argument("--num-rois", type=int, default=None, help="RoIs in all (default 512, quick 256)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--distribution-only", action="store_true",
                   help="run only the uneven-vs-even RoI distribution case")
    p.add_argument("--count", action="store_true",
                   help="only count Triton launches and tensor ops per call (CUDA, or CPU through triton's "
                        "interpreter)")
    args = p.parse_args(argv)
    if args.count:
        cuda = torch.cuda.is_available() and args.device != "cpu"
        if not cuda:  # must precede triton's first import
            os.environ.setdefault("TRITON_INTERPRET", "1")
        run_count(torch.device("cuda" if cuda else "cpu"))
        return
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.image_size = args.image_size or ([400, 608] if args.quick else [800, 1216])
    args.num_rois = args.num_rois or (256 if args.quick else 512)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}; peak memory: growth of peak RSS (VmHWM) on CPU, "
          "max_memory_allocated on CUDA")
    devices = []
    if args.device in ("cpu", "all"):
        devices.append(torch.device("cpu"))
    if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    for d in devices:
        if not args.distribution_only:
            run(d, args)
        run_distribution(d, args)


if __name__ == "__main__":
    main()
