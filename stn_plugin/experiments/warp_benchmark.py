"""Side-by-side timing of image-level affine warping on the CPU (or CUDA).

Compares, in one run on the same inputs:
  * stn_plugin ``warp`` with an affine family transform,
  * ``F.affine_grid`` + ``F.grid_sample`` (PyTorch's own path),
  * OpenCV ``cv2.warpAffine`` (INTER_LINEAR, forward only, per image, uint8-free float32),
and prints median times and the ratios ours / PyTorch. Usage::

    python tools/benchmark_warp.py [--batch 32] [--size 224] [--channels 3] [--repeats 20]
"""
from __future__ import annotations

import argparse
import statistics
from typing import Optional, Sequence

import cv2
import torch
import torch.nn.functional as F
from torch.utils import benchmark

from ..geometry import build_family, index_to_continuous_matrix, normalized_matrix_to_pixel
from ..ops.warp import warp

__all__ = ["timed", "main"]


def timed(fns, repeats: int) -> list:
    """Median milliseconds of each function over ``repeats`` runs, timed by
    ``torch.utils.benchmark`` (which synchronises CUDA); the functions run interleaved,
    so a load change on the machine affects all of them alike."""
    timers = [benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads()) for fn in fns]
    for timer in timers:
        timer.timeit(1)  # warm-up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for timer, acc in zip(timers, times):
            acc.append(timer.timeit(1).median)
    return [statistics.median(t) * 1e3 for t in times]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="images per batch")
    parser.add_argument("--size", type=int, default=224, help="image height = width, input and output")
    parser.add_argument("--channels", type=int, default=3, help="image channels")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per method (the median is printed)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="'cpu' or 'cuda' (default: cuda when available)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    n, c, s, dev = args.batch, args.channels, args.size, args.device
    x = torch.randn(n, c, s, s, device=dev)
    fam = build_family("affine")
    raw = (fam.identity_params(device=dev) + 0.1 * torch.randn(n, 6, device=dev))

    def ours(backward: bool):
        xi = x.detach().requires_grad_(backward)
        r = raw.detach().requires_grad_(backward)
        out = warp(xi, fam.build(r), (s, s))
        if backward:
            out.sum().backward()

    def torch_ref(backward: bool):
        xi = x.detach().requires_grad_(backward)
        r = raw.detach().requires_grad_(backward)
        th = fam.to_matrix(r)[:, :2]  # same parameterisation, so both do the same work
        out = F.grid_sample(xi, F.affine_grid(th, [n, c, s, s], align_corners=False), align_corners=False)
        if backward:
            out.sum().backward()

    print(f"device={dev} batch={n} channels={c} size={s}x{s} repeats={args.repeats} "
          f"threads={torch.get_num_threads()}")
    rows = []
    for label, bw in [("forward", False), ("forward+backward", True)]:
        t_ours, t_ref = timed([lambda: ours(bw), lambda: torch_ref(bw)], args.repeats)
        rows.append((label, t_ours, t_ref))
    t_cv = None
    if dev == "cpu":
        imgs = x.permute(0, 2, 3, 1).contiguous().numpy()
        c2i = index_to_continuous_matrix(dtype=torch.float64)
        pix = normalized_matrix_to_pixel(fam.to_matrix(raw).double(), (s, s), (s, s))
        mats = (torch.linalg.inv(c2i) @ pix @ c2i)[:, :2].numpy()
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

        def opencv():
            for img, m in zip(imgs, mats):
                cv2.warpAffine(img, m, (s, s), flags=flags)

        t_cv = timed([opencv], args.repeats)[0]
    print()
    print("| pass | stn_plugin warp (ms) | affine_grid + grid_sample (ms) | ratio ours/torch | cv2.warpAffine (ms) |")
    print("|---|---|---|---|---|")
    for label, t_ours, t_ref in rows:
        cv = f"{t_cv:.2f}" if (t_cv is not None and label == "forward") else "-"
        print(f"| {label} | {t_ours:.2f} | {t_ref:.2f} | {t_ours / t_ref:.3f} | {cv} |")


if __name__ == "__main__":
    main()
