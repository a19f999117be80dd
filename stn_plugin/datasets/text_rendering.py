"""Text rendering shared by every text generator (numpy / PIL / OpenCV, no mm* import).

One place owns how a word becomes pixels before a generator warps and places it:

* fonts: :func:`find_training_fonts` (DejaVu faces, what the recognisers train on) and
  :func:`find_held_out_fonts` (Liberation and GNU FreeFont faces, kept for evaluation
  on fonts never seen in training; the two sets share no face); :func:`load_font`;
* the flat word: :func:`render_text` draws it as a float coverage mask ``(h, w)`` in
  [0, 1] with ``pad`` empty pixels around the font's text box; :func:`flat_word` also
  gives its outline box, the box around the ink (every pixel with coverage > 0) widened
  on each side by :data:`WORD_MARGIN` ink heights, at least :data:`MIN_MARGIN_PX`;
* :func:`word_outline`: that box as a clockwise polygon from the word's start, the one
  "straight" rule: 4 corners for the warps that keep straight lines straight
  (:data:`STRAIGHT_DISTORTIONS`), else :data:`POLYGON_EDGE_POINTS` points along the top
  edge then as many back along the bottom;
* colour: :func:`luminance` (ITU-R BT.601 weights) and :func:`contrasting_colour`;
* :func:`background_photos`: one loader of the photographs shipped inside scikit-image
  and scikit-learn (no download), by named set (:data:`PHOTO_SETS`).

Coordinates: the masks are ``(h, w)`` arrays indexed ``[row, column]``; boxes and
outlines are ``(x, y)`` in **index coordinates** (pixel centres on integers, OpenCV's
convention, the one the generators' warps map points in), so pixel ``(i, j)`` spans
``[j - 0.5, j + 0.5] x [i - 0.5, i + 0.5]``. The package's continuous pixel
coordinates (pixel centres at ``j + 0.5``) are these plus 0.5
(:func:`stn_plugin.geometry.coords.index_to_continuous_matrix`).

>>> mask = np.zeros((10, 20), np.float32)
>>> mask[3:7, 5:15] = 1.0                     # ink: rows 3-6, columns 5-14
>>> ink_box(mask, margin=0.5)                 # ink height 4 px, margin 2 px
(2.5, 0.5, 16.5, 8.5)
>>> ink_box(mask, margin=0.2)                 # 0.8 px raised to MIN_MARGIN_PX
(3.0, 1.0, 16.0, 8.0)
>>> word_outline((3.0, 1.0, 16.0, 8.0), "rotate").tolist()
[[3.0, 1.0], [16.0, 1.0], [16.0, 8.0], [3.0, 8.0]]
>>> word_outline((3.0, 1.0, 16.0, 8.0), "arc").shape
(16, 2)
>>> round(luminance(np.array([255.0, 0.0, 0.0])), 3)
76.245
"""
from __future__ import annotations

import glob
import math
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "FONT_PACKAGES", "FONT_ROOT", "HELD_OUT_FONT_DIRS", "MIN_MARGIN_PX", "PHOTO_SETS", "POLYGON_EDGE_POINTS",
    "STRAIGHT_DISTORTIONS", "TEXT_HELD_OUT_FAMILIES", "TEXT_TRAINING_FAMILIES", "TRAINING_FONT_DIRS", "WORD_MARGIN",
    "background_photos", "contrasting_colour", "find_font_families", "find_held_out_fonts", "find_training_fonts",
    "flat_word", "ink_box", "load_font", "luminance", "render_text", "synthetic_background", "word_outline",
]

#: Margin of a word's outline around its ink, in ink heights, on each side.
WORD_MARGIN = 0.2
#: Least margin in pixels, so that the outline of a small word stays off its ink.
MIN_MARGIN_PX = 1.5
#: Points along each long edge of a bent word's outline.
POLYGON_EDGE_POINTS = 8
#: The text generators' warps that map straight lines to straight lines (rotations and
#: homographies): a quadrilateral describes their image of the flat box.
STRAIGHT_DISTORTIONS = ("none", "rotate", "perspective")

#: Debian's ``fonts-dejavu-core`` folder; matplotlib's own DejaVu copy is the fallback.
TRAINING_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)
_TRAINING_FAMILY = "DejaVu"
#: DejaVu faces left out of training (light, math and display faces).
_TRAINING_EXCLUDE = ("ExtraLight", "MathTeXGyre", "Display")
#: Font folders of Debian's ``fonts-liberation`` and ``fonts-freefont-ttf``.
HELD_OUT_FONT_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2",
                      "/usr/share/fonts/truetype/freefont")
#: Monospaced faces read differently from the training faces; left out for a like-for-like set.
_HELD_OUT_EXCLUDE = ("Mono",)

#: Named photo sets, each photo as ``<package>.<name>``: ``skimage.<function of
#: skimage.data>`` or ``sklearn.<file of load_sample_images>``. ``held_out_words``: the
#: colour photographs the held-out word set lies in; ``word_scenes``: the spotting
#: scenes' wider set (grey pictures included); pictures holding text of their own
#: (``text``, ``page``, ``logo``) are in none; ``text_crops_training``: the photographs the
#: text-crop rectifiers train on (none of ``held_out_words``).
PHOTO_SETS: Dict[str, Tuple[str, ...]] = {
    "held_out_words": ("skimage.astronaut", "skimage.coffee", "skimage.chelsea", "skimage.rocket"),
    "text_crops_training": ("skimage.camera", "skimage.brick", "skimage.grass", "skimage.gravel", "skimage.coins",
                            "sklearn.china.jpg", "sklearn.flower.jpg"),
    "word_scenes": ("skimage.astronaut", "skimage.coffee", "skimage.chelsea", "skimage.rocket", "skimage.camera",
                    "skimage.brick", "skimage.grass", "skimage.gravel", "skimage.coins",
                    "sklearn.china.jpg", "sklearn.flower.jpg"),
}


def _default_training_dirs() -> List[str]:
    dirs = list(TRAINING_FONT_DIRS)
    try:
        import matplotlib
        dirs.append(osp.join(osp.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf"))
    except ImportError:
        pass
    return dirs


def find_training_fonts(font_dirs: Optional[Sequence[str]] = None) -> List[str]:
    """Sorted DejaVu ``.ttf`` paths from the first folder of ``font_dirs`` that has any
    (default: :data:`TRAINING_FONT_DIRS`, then matplotlib's copy).

    Raises ``FileNotFoundError`` naming the folders searched when none is found.
    """
    dirs = _default_training_dirs() if font_dirs is None else list(font_dirs)
    for d in dirs:
        fonts = sorted(f for f in glob.glob(osp.join(d, f"{_TRAINING_FAMILY}*.ttf"))
                       if not any(x in osp.basename(f) for x in _TRAINING_EXCLUDE))
        if fonts:
            return fonts
    raise FileNotFoundError(f"no DejaVu fonts found in {dirs}; install fonts-dejavu-core "
                            "or matplotlib, or pass font_dirs")


def find_held_out_fonts(font_dirs: Sequence[str] = HELD_OUT_FONT_DIRS) -> List[str]:
    """Sorted Liberation / FreeFont ``.ttf`` paths in ``font_dirs`` (monospaced faces
    left out), faces the training fonts never include.

    Raises ``FileNotFoundError`` with the install command when none is found, and
    ``ValueError`` when ``font_dirs`` holds a training (DejaVu) face.
    """
    fonts = sorted({f for d in font_dirs for f in glob.glob(osp.join(d, "*.ttf"))
                    if not any(x in osp.basename(f) for x in _HELD_OUT_EXCLUDE)})
    if not fonts:
        raise FileNotFoundError(f"no Liberation / FreeFont fonts in {list(font_dirs)}: install them with "
                                "`apt-get install -y fonts-liberation fonts-freefont-ttf` (or `make setup`)")
    training = [f for f in fonts if osp.basename(f).startswith(_TRAINING_FAMILY)]
    if training:
        raise ValueError(f"font_dirs {list(font_dirs)} hold training faces ({osp.basename(training[0])}); "
                         "the held-out set must not use DejaVu")
    return fonts


#: Font families of the text-crop generator (:mod:`stn_plugin.datasets.text_crops`):
#: family -> file-name patterns below :data:`FONT_ROOT`, from Debian's font packages
#: (:data:`FONT_PACKAGES`). The rectifiers train on the first set; the second is kept for
#: evaluation (no face is in both).
TEXT_TRAINING_FAMILIES: Dict[str, Tuple[str, ...]] = {
    "DejaVu": ("DejaVuSans*.ttf", "DejaVuSerif*.ttf"), "Roboto": ("Roboto-*.ttf",), "Open Sans": ("OpenSans-*.ttf",),
    "Lato": ("Lato-*.ttf",), "EB Garamond": ("EBGaramond*.otf",), "Cantarell": ("Cantarell-*.otf",),
    "Carlito": ("Carlito-*.ttf",), "Nimbus Sans": ("NimbusSans-*.otf", "NimbusSansNarrow-*.otf"),
    "Nimbus Roman": ("NimbusRoman-*.otf",), "C059": ("C059-*.otf",), "P052": ("P052-*.otf",),
    "URW Bookman": ("URWBookman-*.otf",), "URW Gothic": ("URWGothic-*.otf",),
}
TEXT_HELD_OUT_FAMILIES: Dict[str, Tuple[str, ...]] = {
    "Liberation": ("Liberation*.ttf",), "FreeFont": ("FreeSans*.ttf", "FreeSerif*.ttf"), "Caladea": ("Caladea-*.ttf",),
}
#: Where the families are looked for (recursively).
FONT_ROOT = "/usr/share/fonts"
#: The Debian packages that hold the families above.
FONT_PACKAGES = ("fonts-dejavu-core", "fonts-roboto-unhinted", "fonts-open-sans", "fonts-lato", "fonts-ebgaramond",
                 "fonts-cantarell", "fonts-crosextra-carlito", "fonts-urw-base35", "fonts-liberation",
                 "fonts-freefont-ttf", "fonts-crosextra-caladea")
#: Faces left out of every family: monospaced, hairline and display faces read unlike text.
_FAMILY_EXCLUDE = ("Mono", "Thin", "ExtraLight", "Hairline", "Display", "Condensed")


def find_font_families(families: Dict[str, Sequence[str]], root: str = FONT_ROOT) -> Dict[str, List[str]]:
    """family -> sorted font paths below ``root`` for each of ``families`` (family ->
    file-name patterns, e.g. :data:`TEXT_TRAINING_FAMILIES`).

    Raises ``FileNotFoundError`` naming the missing families and the packages to install
    (:data:`FONT_PACKAGES`) when any family has no face.
    """
    found = {}
    for family, patterns in families.items():
        paths = {p for pattern in patterns for p in glob.glob(osp.join(root, "**", pattern), recursive=True)}
        found[family] = sorted(p for p in paths if not any(x in osp.basename(p) for x in _FAMILY_EXCLUDE))
    missing = [f for f, paths in found.items() if not paths]
    if missing:
        raise FileNotFoundError(f"font families {missing} not found below {root}: install them with "
                                f"`apt-get install -y {' '.join(FONT_PACKAGES)}` (or `make setup`)")
    return found


@lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """The font at ``path`` at ``size`` pixels (cached)."""
    return ImageFont.truetype(path, int(size))


def render_text(text: str, font: ImageFont.FreeTypeFont, pad: int) -> np.ndarray:
    """``text`` drawn flat: float32 coverage ``(h, w)`` in [0, 1], the font's text box
    of ``text`` with ``pad`` empty pixels on each side (at least 1 x 1)."""
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    img = Image.new("L", (max(w, 1), max(h, 1)), 0)
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def ink_box(mask: np.ndarray, margin: float = WORD_MARGIN) -> Tuple[float, float, float, float]:
    """``(left, top, right, bottom)``: the outer edges of the pixels of ``mask`` ``(h, w)``
    with coverage > 0, widened on each side by ``margin`` ink heights (at least
    :data:`MIN_MARGIN_PX`), in index coordinates. Raises ``ValueError`` when there is
    no ink."""
    ys, xs = np.nonzero(mask > 0)
    if len(ys) == 0:
        raise ValueError("the mask has no ink")
    m = max(MIN_MARGIN_PX, margin * float(ys.max() - ys.min() + 1))
    return (float(xs.min() - 0.5 - m), float(ys.min() - 0.5 - m), float(xs.max() + 0.5 + m),
            float(ys.max() + 0.5 + m))


def flat_word(text: str, font: ImageFont.FreeTypeFont,
              margin: float = WORD_MARGIN) -> Tuple[np.ndarray, Tuple[float, float, float, float]]:
    """``text`` drawn flat with room around it for its outline and a warp's spill:
    the coverage mask ``(h, w)`` (:func:`render_text`) and its :func:`ink_box`.

    Raises ``ValueError`` (naming the text and size) when ``text`` is empty or draws no ink.
    """
    if not text:
        raise ValueError("text must be a non-empty string")
    size = font.size
    pad = int(math.ceil(0.3 * size + 2 * margin * size)) + 2
    mask = render_text(text, font, pad)
    if not (mask > 0).any():
        raise ValueError(f"rendering {text!r} at {size} px produced no ink")
    return mask, ink_box(mask, margin)


def word_outline(box: Tuple[float, float, float, float], distortion: str,
                 points_per_edge: int = POLYGON_EDGE_POINTS) -> np.ndarray:
    """The flat box ``(left, top, right, bottom)`` as a float64 ``(P, 2)`` polygon,
    clockwise on screen from its top-left corner (the word's start): ``P = 4`` corners
    when ``distortion`` is in :data:`STRAIGHT_DISTORTIONS`, else ``points_per_edge``
    along the top edge left to right then as many along the bottom right to left, for
    a warp to bend."""
    left, top, right, bottom = box
    if distortion in STRAIGHT_DISTORTIONS:
        return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float64)
    xs = np.linspace(left, right, points_per_edge)
    return np.concatenate([np.stack([xs, np.full_like(xs, top)], 1),
                           np.stack([xs[::-1], np.full_like(xs, bottom)], 1)], 0)


def luminance(rgb: np.ndarray) -> float:
    """Luma of one RGB colour ``(3,)`` (0-255): ``0.299 R + 0.587 G + 0.114 B``."""
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def contrasting_colour(under: float, rng: np.random.Generator, min_contrast: float = 100.0,
                       tries: int = 30) -> np.ndarray:
    """A text colour ``(3,)`` float64: the first of up to ``tries`` uniform RGB draws from
    ``rng`` whose :func:`luminance` differs from ``under`` (a luminance) by more than
    ``min_contrast``; black on a light ground or white on a dark one if none does."""
    for _ in range(tries):
        fg = rng.uniform(0, 255, 3)
        if abs(luminance(fg) - under) > min_contrast:
            return fg
    return np.zeros(3) if under > 127 else np.full(3, 255.0)


def synthetic_background(h: int, w: int, rng: np.random.Generator) -> Tuple[np.ndarray, float]:
    """A drawn background ``(h, w, 3)`` float32 in [0, 255] and its mean luminance: a flat
    colour, a linear gradient, a smooth blotchy texture (paper) or stripes, drawn from ``rng``."""
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


@lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    package, _, item = name.partition(".")
    if package == "skimage":
        try:
            from skimage import data as skdata
        except ImportError as e:
            raise ImportError(f"photo {name!r} needs scikit-image: pip install scikit-image") from e
        if not callable(getattr(skdata, item, None)):
            raise ValueError(f"photo {name!r}: this scikit-image's skimage.data has no {item!r}")
        img = np.asarray(getattr(skdata, item)())
    elif package == "sklearn":
        try:
            from sklearn.datasets import load_sample_images
        except ImportError as e:
            raise ImportError(f"photo {name!r} needs scikit-learn: pip install scikit-learn") from e
        ds = load_sample_images()
        found = [img for f, img in zip(ds.filenames, ds.images) if osp.basename(f) == item]
        if not found:
            raise ValueError(f"photo {name!r}: scikit-learn's sample images are "
                             f"{[osp.basename(f) for f in ds.filenames]}")
        img = found[0]
    else:
        raise ValueError(f"photo {name!r} must be named 'skimage.<name>' or 'sklearn.<file>'")
    img = np.repeat(img[..., None], 3, 2) if img.ndim == 2 else img[..., :3]
    return np.ascontiguousarray(img, dtype=np.uint8)


def background_photos(photo_set: str) -> Tuple[Tuple[str, np.ndarray], ...]:
    """``(name, (H, W, 3) uint8 RGB)`` for every photo of :data:`PHOTO_SETS`
    ``[photo_set]``, in its order (grey pictures as 3 equal channels).

    A set is exactly what it names, whatever else is installed: a photo that cannot be
    loaded raises (``ImportError`` naming the package to install), never shrinks the set.
    """
    if photo_set not in PHOTO_SETS:
        raise ValueError(f"photo_set must be one of {sorted(PHOTO_SETS)}, got {photo_set!r}")
    return tuple((name, _photo(name)) for name in PHOTO_SETS[photo_set])
