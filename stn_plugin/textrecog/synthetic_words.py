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

import math
import os
import os.path as osp
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.output_folders import check_split_name, remove_earlier_outputs
from ..datasets.provenance import library_versions
from ..datasets.text_rendering import contrasting_colour, find_training_fonts, load_font, luminance, render_text
from ..geometry.matrices import homography_from_points
from .text_formats import write_textrecog_json

DISTORTIONS = ("none", "rotate", "perspective", "curve", "arc")
WORD_SOURCES = ("mixed", "english", "pseudo")

#: A small embedded English word list (no download needed).
ENGLISH_WORDS = tuple("""
about above across after again against almost alone along already always among animal answer
around asked away back became because become before began behind being below better between
black board body book both bread bring brother brown build built business called came cannot
carry center change children church circle city class clear close coffee cold color common
complete could country course cover cross dance dark daughter develop different distance doctor
done door down draw dream drive during early earth east eight energy enough even evening every
example face fact family farm father feel field figure final find fine fire first fish five floor
follow food foot force forest form found four free friend front full game garden gave general
girl give glass gold good great green ground group grow half hand happy hard head hear heard heart
heavy help here high hold home horse hotel hour house human hundred idea inside island just keep
kind king know land language large last late laugh learn leave left letter life light line list
listen little live long look love machine made main make many market matter mean measure meet
might mile mind minute money month moon more morning most mother mountain move much music must
name nation near need never next night north nothing notice number ocean office often open order
other paper park party pass people period person picture piece place plan plant play point police
power press problem produce public pull question quick rain reach read ready real record river
road rock room round rule run said same school science score second sentence seven shape ship
shop short should show side simple since sing size sleep small snow song soon sound south space
speak special spring square stand star start station stay step still stone stop store story
street strong study such summer sure surface table take talk teacher tell test than that their
there these thing think three through time today together took total tower town travel tree true
under until usual valley very voice walk wall warm watch water wave week weight west what wheel
where which while white whole wind window winter with without woman wonder wood word work world
would write year yellow young zone
""".split())

_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "ch", "cl", "dr", "fr", "gr", "pl", "pr", "sh", "st", "th", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "y")
_CODAS = ("", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng", "x")

def sample_word(rng: np.random.Generator, source: str = "mixed") -> str:
    """A word: English (45%), pronounceable pseudo-word (45%) or number (10%) for
    ``source='mixed'``; cased lower (70%), Capitalised (20%) or UPPER (10%)."""
    if source not in WORD_SOURCES:
        raise ValueError(f"word source must be one of {WORD_SOURCES}, got {source!r}")
    u = rng.random()
    if source == "english" or (source == "mixed" and u < 0.45):
        word = ENGLISH_WORDS[rng.integers(len(ENGLISH_WORDS))]
    elif source == "pseudo" or u < 0.9:
        word = "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                       for _ in range(rng.integers(1, 4)))
        word += _CODAS[rng.integers(len(_CODAS))]
        word = word[:10]
    else:
        word = str(rng.integers(0, 10 ** rng.integers(2, 6)))
    c = rng.random()
    return word.upper() if c < 0.1 else (word.capitalize() if c < 0.3 else word)


def _remap(mask: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(mask, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


#: A map from the flat word's pixel coordinates to the distorted image's, ``(N, 2) -> (N, 2)``
#: (x, y; OpenCV's convention: pixel centres at integers).
PointMap = Callable[[np.ndarray], np.ndarray]


def _affine_map(m: np.ndarray) -> PointMap:
    return lambda p: p @ m[:, :2].T + m[:, 2]


def _rotate(mask: np.ndarray, angle_deg: float) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    a = math.radians(angle_deg)
    nw = int(math.ceil(abs(w * math.cos(a)) + abs(h * math.sin(a)))) + 2
    nh = int(math.ceil(abs(w * math.sin(a)) + abs(h * math.cos(a)))) + 2
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    m[0, 2] += (nw - w) / 2
    m[1, 2] += (nh - h) / 2
    return cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0), _affine_map(m)


def _perspective(mask: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    # One side shrinks vertically (viewed at an angle), plus independent corner jitter.
    dst = src.copy()
    squeeze = rng.uniform(0.15, 0.4) * h
    if rng.random() < 0.5:   # right side farther away
        dst[1, 1] += squeeze; dst[2, 1] -= squeeze
    else:                    # left side farther away
        dst[0, 1] += squeeze; dst[3, 1] -= squeeze
    dst[:, 0] += rng.uniform(-0.08, 0.08, 4) * w
    dst[:, 1] += rng.uniform(-0.12, 0.12, 4) * h
    if rng.random() < 0.5:   # horizontal shear of the top edge
        dst[[0, 1], 0] += rng.uniform(-0.25, 0.25) * h
    for top, bottom in ((0, 3), (1, 2)):  # keep each side at least 0.4 h tall (no fold)
        short = 0.4 * h - (dst[bottom, 1] - dst[top, 1])
        if short > 0:
            dst[top, 1] -= short / 2
            dst[bottom, 1] += short / 2
    dst -= dst.min(0)
    nw, nh = int(math.ceil(dst[:, 0].max())) + 1, int(math.ceil(dst[:, 1].max())) + 1
    m = homography_from_points(src, dst.astype(np.float32)).numpy()

    def forward(p: np.ndarray) -> np.ndarray:
        q = p @ m[:, :2].T + m[:, 2]
        return q[:, :2] / q[:, 2:]

    return cv2.warpPerspective(mask, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0), forward


def _curve(mask: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    depth = rng.uniform(0.35, 0.9) * h * (1 if rng.random() < 0.5 else -1)
    pad = int(math.ceil(abs(depth))) + 1
    ys, xs = np.mgrid[0:h + pad, 0:w].astype(np.float32)
    top = pad if depth < 0 else 0

    def offset(x):                                     # 0 at the middle, depth at the ends
        return depth * ((2 * x - w) / w) ** 2

    def forward(p: np.ndarray) -> np.ndarray:
        return np.stack([p[:, 0], p[:, 1] + top + offset(p[:, 0])], 1)

    return _remap(mask, xs, ys - top - offset(xs)), forward


def _arc(mask: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    h, w = mask.shape
    span = rng.uniform(0.5, 1.3)                       # radians covered by the word
    radius = w / span                                  # of the text's centre line
    up = rng.random() < 0.5                            # convex up (centre below the text)
    outer = radius + h / 2
    nw = int(math.ceil(2 * outer * math.sin(min(span / 2 + h / (2 * radius), math.pi / 2)))) + 4
    nh = int(math.ceil(outer - (radius - h / 2) * math.cos(span / 2 + h / (2 * radius)))) + 4
    # polar frame: angle theta from the vertical through the centre, radius r
    centre_y = (outer + 2) if up else (nh - 2 - outer)
    sign = -1.0 if up else 1.0                         # the text lies above (up) or below the centre
    ys, xs = np.mgrid[0:nh, 0:nw].astype(np.float64)
    dx, dy = xs - nw / 2, ys - centre_y
    r = np.hypot(dx, dy)
    theta = np.arctan2(dx, sign * dy)
    src_x = w / 2 + theta * radius
    src_y = h / 2 + sign * (r - radius)

    def forward(p: np.ndarray) -> np.ndarray:
        th = (p[:, 0] - w / 2) / radius
        rr = radius + sign * (p[:, 1] - h / 2)
        return np.stack([nw / 2 + rr * np.sin(th), centre_y + sign * rr * np.cos(th)], 1)

    return _remap(mask, src_x, src_y), forward


def distort_mask(mask: np.ndarray, distortion: str, rng: np.random.Generator) -> Tuple[np.ndarray, PointMap]:
    """Apply one of :data:`DISTORTIONS` to a float text mask ``(H, W)`` in [0, 1].

    Returns the distorted mask and the map of points from ``mask``'s pixel coordinates
    to the distorted mask's.
    """
    if distortion == "none":
        return _rotate(mask, rng.uniform(-3, 3))
    if distortion == "rotate":
        return _rotate(mask, rng.uniform(8, 30) * (1 if rng.random() < 0.5 else -1))
    if distortion == "perspective":
        return _perspective(mask, rng)
    if distortion == "curve":
        return _curve(mask, rng)
    if distortion == "arc":
        return _arc(mask, rng)
    raise ValueError(f"distortion must be one of {DISTORTIONS}, got {distortion!r}")


def _background(h: int, w: int, rng: np.random.Generator) -> Tuple[np.ndarray, float]:
    kind = rng.integers(4)
    base = rng.uniform(0, 255, 3)
    if kind == 0:        # flat colour
        bg = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    elif kind == 1:      # linear gradient between two related colours
        other = np.clip(base + rng.uniform(-90, 90, 3), 0, 255)
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h, dtype=np.float32)
        t = t[None, :, None] if t.shape[0] == w else t[:, None, None]
        bg = (base * (1 - t) + other * t).astype(np.float32)
        bg = np.broadcast_to(bg, (h, w, 3)).copy()
    elif kind == 2:      # smooth blotchy texture
        small = rng.uniform(-60, 60, (rng.integers(2, 6), rng.integers(3, 10), 3)).astype(np.float32)
        bg = np.clip(base + cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255)
    else:                # stripes / bricks-like pattern
        period = rng.uniform(4, 16)
        ys, xs = np.mgrid[0:h, 0:w]
        ang = rng.uniform(0, math.pi)
        pattern = np.sin((xs * math.cos(ang) + ys * math.sin(ang)) * 2 * math.pi / period)
        bg = np.clip(base + pattern[..., None] * rng.uniform(10, 40), 0, 255).astype(np.float32)
    bg = bg.astype(np.float32)
    return bg, luminance(bg.reshape(-1, 3).mean(0))


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

    bg, bg_lum = _background(h, w, rng)
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
