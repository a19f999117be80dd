"""Synthetic word crops for text recognition (plain numpy / PIL / OpenCV, no mm* import).

Words (an embedded English list, pronounceable pseudo-words and numbers) are rendered
with DejaVu fonts on varied backgrounds, then distorted geometrically:

* ``none``: nearly straight (rotation within +-3 degrees);
* ``rotate``: rotated by 8-30 degrees;
* ``perspective``: the word's rectangle mapped to a random quadrilateral (SVTP-like);
* ``curve``: the baseline bent along a parabola (0.35-0.9 text heights deep);
* ``arc``: the word laid along a circular arc spanning 0.5-1.3 rad (CUTE80-like),
  convex up or down;

then cropped with a random margin, rescaled to a random height (20-64 px), blurred
and noised. Each sample draws from its own ``numpy`` generator seeded by
``(seed, index)``, so a set is identical for a seed whatever the number of workers.

:func:`generate_synthetic_words` writes the standard layout: ``<out>/<split>/000000.png``
... and the mmocr textrecog annotation file ``<out>/textrecog_<split>.json`` whose
``img_path`` entries are relative to ``<out>``.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.output_folders import check_split_name, remove_earlier_outputs
from ..datasets.provenance import library_versions
from ..datasets.text_rendering import (contrasting_colour, find_training_fonts, load_font, render_text,
                                      synthetic_background)
from ..datasets.text_warps import DISTORTIONS, distort_mask
from ..datasets.words import WORD_SOURCES, sample_word
from .text_formats import write_textrecog_json

__all__ = ["DISTORTIONS", "WARP_POINTS", "WORD_SOURCES", "WordSample", "distort_mask", "generate_synthetic_words",
           "make_sample", "render_word_with_warp", "sample_word"]








#: Points of the rectified output frame (normalised x, y in [-1, 1]: the flat word's
#: rendering, padding included) whose positions in each distorted crop the generator
#: records: 3 rows (top edge, centre line, bottom edge) of 11.
WARP_POINTS = np.stack(np.meshgrid(np.linspace(-1, 1, 11), np.array([-1.0, 0.0, 1.0])), -1).reshape(-1, 2)


def render_word_with_warp(word: str, rng: np.random.Generator, distortion: str = "none",
                          fonts: Optional[Sequence[str]] = None,
                          height_range: Tuple[int, int] = (20, 64)) -> Tuple[np.ndarray, np.ndarray]:
    """Render ``word`` as a distorted crop: ``(H, W, 3)`` uint8 RGB, ``H`` in ``height_range``,
    and where :data:`WARP_POINTS` of the flat word land in it, ``(33, 2)`` normalised
    crop coordinates (x, y; ``-1`` / ``1`` are the crop's outer pixel edges, as in the
    package's coordinate contract). Everything random is drawn from ``rng``.
    """
    fonts = fonts or find_training_fonts()
    font = load_font(fonts[rng.integers(len(fonts))], int(rng.integers(28, 44)))
    mask = render_text(word, font, pad=int(rng.integers(2, 6)))
    flat_h, flat_w = mask.shape
    distorted, to_distorted = distort_mask(mask, distortion, rng)
    distorted = np.clip(distorted, 0, 1)
    ys, xs = np.nonzero(distorted > 0.05)
    if len(ys) == 0:  # a degenerate warp: keep the straight word rather than fail
        distorted, to_distorted = mask, (lambda p: p)
        ys, xs = np.nonzero(distorted > 0.05)
    if len(ys) == 0:
        raise ValueError(f"rendering {word!r} produced an empty image")
    mask = distorted
    text_h = max(ys.max() - ys.min(), 8)
    margins = (rng.uniform(0.02, 0.25, 4) * text_h).astype(int) + 1
    y0, y1 = max(ys.min() - margins[0], 0), ys.max() + 1 + margins[1]
    x0, x1 = max(xs.min() - margins[2], 0), xs.max() + 1 + margins[3]
    mask = mask[y0:y1, x0:x1]
    pad_y, pad_x = max(0, (y1 - y0) - mask.shape[0]), max(0, (x1 - x0) - mask.shape[1])
    if pad_y or pad_x:
        mask = np.pad(mask, ((0, pad_y), (0, pad_x)))
    h, w = mask.shape
    # output frame -> flat pixel centres -> distorted pixel centres -> crop, normalised by
    # its edges; the final resize keeps normalised coordinates.
    flat = (WARP_POINTS + 1) / 2 * np.array([flat_w, flat_h]) - 0.5
    warp = (to_distorted(flat) - np.array([x0, y0]) + 0.5) / np.array([w, h]) * 2 - 1

    bg, bg_lum = synthetic_background(h, w, rng)
    fg = contrasting_colour(bg_lum, rng, min_contrast=100, tries=20)
    m = mask[..., None]
    img = bg * (1 - m) + fg.astype(np.float32) * m

    target_h = int(rng.integers(height_range[0], height_range[1] + 1))
    target_w = max(4, int(round(w * target_h / h)))
    img = cv2.resize(img, (target_w, target_h), interpolation=cv2.INTER_AREA if target_h < h else cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=rng.uniform(0.3, 1.2))
    noise_std = rng.uniform(0, 12)
    img = img + rng.normal(0, noise_std, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), warp.astype(np.float32)


class WordSample(NamedTuple):
    """One sample of the synthetic-words set."""

    image: np.ndarray       # (H, W, 3) uint8 RGB
    word: str
    distortion: str         # one of DISTORTIONS
    warp: np.ndarray        # (33, 2) float32: where the flat word's WARP_POINTS went, crop pixels


def make_sample(seed: int, index: int, distortions: Sequence[str] = DISTORTIONS, word_source: str = "mixed",
                fonts: Optional[Sequence[str]] = None) -> WordSample:
    """Sample ``index`` of the set for ``seed`` (see :class:`WordSample`; the warp is
    that of :func:`render_word_with_warp`). Depends only on ``(seed, index)`` and the arguments.
    """
    rng = np.random.default_rng([int(seed), int(index)])
    word = sample_word(rng, word_source)
    distortion = distortions[rng.integers(len(distortions))]
    img, warp = render_word_with_warp(word, rng, distortion, fonts)
    return WordSample(img, word, distortion, warp)


def _write_one(args) -> dict:
    out_dir, split, seed, index, distortions, word_source, fonts = args
    img, word, distortion, warp = make_sample(seed, index, distortions, word_source, fonts)
    rel = f"{split}/{index:06d}.png"
    if not cv2.imwrite(osp.join(out_dir, rel), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {osp.join(out_dir, rel)}")
    return dict(img_path=rel, text=word, distortion=distortion, warp=np.round(warp, 4).tolist())


def generate_synthetic_words(out_dir: str, num_samples: int, seed: int = 0, split: str = "train",
                             distortions: Sequence[str] = DISTORTIONS, word_source: str = "mixed",
                             workers: int = 1, progress: bool | Callable[[int, int], None] = True,
                             overwrite: bool = False) -> str:
    """Write ``num_samples`` crops to ``<out_dir>/<split>/`` and the mmocr annotation
    file ``<out_dir>/textrecog_<split>.json``; returns the annotation file's path.

    Refuses to touch a split that exists (its annotation file, or a non-empty
    ``<split>/`` folder) unless ``overwrite=True``, which first deletes the split's
    earlier images (``<split>/*.png``) and annotation file; other splits and files in
    ``out_dir`` are never touched. ``split`` must be a plain folder name
    (:func:`~stn_plugin.datasets.output_folders.check_split_name`).

    Args:
        distortions: which of :data:`DISTORTIONS` to draw from (uniformly).
        word_source: ``'mixed'``, ``'english'`` or ``'pseudo'``.
        workers: processes (the result does not depend on it).
        progress: show a progress bar (mmengine's), or call ``progress(done, total)``.
    """
    check_split_name(split)
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    bad = [d for d in distortions if d not in DISTORTIONS]
    if bad or not distortions:
        raise ValueError(f"distortions must be a non-empty subset of {DISTORTIONS}, got {list(distortions)}")
    if word_source not in WORD_SOURCES:
        raise ValueError(f"word_source must be one of {WORD_SOURCES}, got {word_source!r}")
    ann = osp.join(out_dir, f"textrecog_{split}.json")
    split_dir = osp.join(out_dir, split)
    if not overwrite and (osp.exists(ann) or (osp.isdir(split_dir) and os.listdir(split_dir))):
        raise FileExistsError(f"split {split!r} exists in {out_dir} ({ann} or {split_dir}/); pass "
                              "overwrite=True (--overwrite) to replace it")
    if overwrite:
        remove_earlier_outputs(out_dir, [f"{split}/*.png", f"textrecog_{split}.json"])
    fonts = tuple(find_training_fonts())
    os.makedirs(split_dir, exist_ok=True)
    jobs = [(out_dir, split, seed, i, tuple(distortions), word_source, fonts) for i in range(num_samples)]
    bar = None
    if progress and not callable(progress):
        from mmengine.utils import ProgressBar

        print(f"[synthetic words] {split}: {num_samples} crops -> {osp.join(out_dir, split)}", flush=True)
        bar = ProgressBar(num_samples)

    def report(done):
        if callable(progress):
            progress(done, num_samples)
        elif bar is not None:
            bar.update()

    items = []
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            for done, res in enumerate(pool.imap(_write_one, jobs, chunksize=32), 1):
                items.append(res)
                report(done)
    else:
        for done, job in enumerate(jobs, 1):
            items.append(_write_one(job))
            report(done)
    if bar is not None:
        bar.file.write("\n")
    write_textrecog_json(ann, items, warp_points=WARP_POINTS.tolist(), generated_with=library_versions())
    return ann
