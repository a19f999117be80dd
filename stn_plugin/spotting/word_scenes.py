"""Word scenes: a small COCO-format text spotting set (numpy / PIL / OpenCV, no mm* import).

Each scene is a patch of a real photograph (shipped inside scikit-image and
scikit-learn, no download) with a few geometric clutter shapes and several words
laid on it. Every word comes from the synthetic word generator of
:mod:`stn_plugin.textrecog.synthetic_words` (its word list, DejaVu faces and its
``none`` / ``rotate`` / ``perspective`` / ``curve`` / ``arc`` warps), rendered
straight at the scene's text size, so its outline is known exactly: the flat word's
box (its ink plus a margin) carried through the same warp. Fonts, the flat word, its
outline, the photographs and the text colour come from
:mod:`stn_plugin.datasets.text_rendering`.

Per word, the COCO annotation holds

* ``segmentation``: one polygon ``[x1, y1, x2, y2, ...]``, listed clockwise on screen
  from the word's start: the top edge in reading order, then the bottom edge back
  (Total-Text's order, the one :mod:`stn_plugin.textrecog.text_regions` expects);
  4 points for ``none`` / ``rotate`` / ``perspective`` words (straight edges stay
  straight), ``2 * POLYGON_EDGE_POINTS`` (16) for ``curve`` / ``arc`` words;
* ``bbox``: ``[x, y, w, h]``, the polygon's bounds; ``area``: the polygon's area;
* ``text``: the transcription; ``###`` for a don't-care word (rendered too small to
  read), which also has ``iscrowd = 1`` so mmdet's ``CocoDataset`` flags it ignored;
* ``render``: how the word was drawn (``word``, ``font``, ``font_size``,
  ``distortion``, ``seed``, ``colour``, ``origin``): :func:`render_word_layer` with
  these reproduces its pixels.

Coordinates are **continuous pixel coordinates** (pixel ``(i, j)`` covers
``[j, j + 1) x [i, i + 1)``): COCO's convention (pycocotools rasterises polygons so)
and the package's. The text annotation readers' index coordinates (ICDAR, Total-Text:
pixel centres on integers) are these minus 0.5.

:func:`generate_word_scenes` writes the standard COCO layout::

    <out_dir>/train/000000.png ...      <out_dir>/annotations/train.json
    <out_dir>/val/000000.png ...        <out_dir>/annotations/val.json

A scene depends only on ``(seed, split, index)`` and the options.
"""
from __future__ import annotations

import math
import os.path as osp
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from ..datasets.coco_writer import GeneratedScene, prepare_coco_dir, write_coco_split
from ..datasets.text_rendering import (WORD_MARGIN, background_photos, contrasting_colour, find_training_fonts,
                                       flat_word, load_font, luminance, word_outline)
from ..geometry.coords import index_to_continuous_matrix
from ..textrecog.synthetic_words import DISTORTIONS, WORD_SOURCES, distort_mask, sample_word

SPLITS = ("train", "val")
DONT_CARE_TEXT = "###"
#: The photographs scenes are cut from (:data:`stn_plugin.datasets.text_rendering.PHOTO_SETS`;
#: grey ones are shown tinted).
PHOTO_SET = "word_scenes"
CATEGORIES = ({"id": 1, "name": "text"},)

_INDEX_TO_CONTINUOUS = index_to_continuous_matrix(dtype=torch.float64).numpy()


@dataclass
class WordSceneOptions:
    """How scenes are drawn (sizes in pixels).

    ``size_range``: each scene's height and width are drawn from it; ``num_words``: words
    per scene (fewer when they do not fit); ``font_size``: of legible words;
    ``distortions``: the synthetic word generator's warps words are drawn with, uniformly
    or with ``distortion_weights`` (one per warp, normalised);
    ``dont_care_prob``: chance that a word is drawn at ``dont_care_font_size`` and
    annotated ``###``; ``num_clutter``: lines, boxes, ellipses and polylines drawn
    under the words; ``gap``: least distance between two words' polygons;
    ``blur_prob`` / ``max_noise_std``: degradation of the finished scene.
    """

    size_range: Tuple[int, int] = (256, 320)
    num_words: Tuple[int, int] = (2, 6)
    font_size: Tuple[int, int] = (14, 32)
    distortions: Tuple[str, ...] = DISTORTIONS
    distortion_weights: Optional[Tuple[float, ...]] = None
    word_source: str = "mixed"
    dont_care_prob: float = 0.1
    dont_care_font_size: Tuple[int, int] = (7, 10)
    num_clutter: Tuple[int, int] = (2, 8)
    gap: int = 3
    blur_prob: float = 0.3
    max_noise_std: float = 5.0
    margin: float = WORD_MARGIN  # of the ink height, around the flat word's ink, before warping

    def __post_init__(self) -> None:
        for name in ("size_range", "num_words", "font_size", "dont_care_font_size", "num_clutter"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"WordSceneOptions.{name} must be (low, high) with 0 <= low <= high, "
                                 f"got {getattr(self, name)}")
        if self.size_range[0] < 32:
            raise ValueError(f"WordSceneOptions.size_range must start at >= 32 px, got {self.size_range}")
        if min(self.font_size[0], self.dont_care_font_size[0]) < 4:
            raise ValueError("WordSceneOptions.font_size and dont_care_font_size must be >= 4 px")
        bad = [d for d in self.distortions if d not in DISTORTIONS]
        if bad or not self.distortions:
            raise ValueError(f"WordSceneOptions.distortions must be a non-empty subset of {DISTORTIONS}, "
                             f"got {list(self.distortions)}")
        if self.distortion_weights is not None:
            weights = np.asarray(self.distortion_weights, dtype=np.float64)
            if (weights.shape != (len(self.distortions),) or not np.isfinite(weights).all() or (weights < 0).any()
                    or weights.sum() <= 0):
                raise ValueError(f"WordSceneOptions.distortion_weights must hold {len(self.distortions)} finite "
                                 f"weights >= 0 (one per distortion) with a positive sum, "
                                 f"got {self.distortion_weights}")
        if self.word_source not in WORD_SOURCES:
            raise ValueError(f"WordSceneOptions.word_source must be one of {WORD_SOURCES}, got {self.word_source!r}")
        for name in ("dont_care_prob", "blur_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"WordSceneOptions.{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.max_noise_std < 0 or self.gap < 0 or self.margin < 0:
            raise ValueError("WordSceneOptions.max_noise_std, gap and margin must be >= 0")


#: Named sets of options: ``default`` (every warp equally likely) and ``curved`` (four
#: words in five curved or arc-shaped, the rest rotated, in perspective or flat: a
#: Total-Text-like mix).
WORD_SCENE_PRESETS: Dict[str, WordSceneOptions] = {
    "default": WordSceneOptions(),
    "curved": WordSceneOptions(distortions=("curve", "arc", "rotate", "perspective", "none"),
                               distortion_weights=(0.4, 0.4, 0.1, 0.05, 0.05)),
}


def word_scene_options(preset: str = "default", **changes) -> WordSceneOptions:
    """A fresh copy of the :data:`WORD_SCENE_PRESETS` entry ``preset``, with ``changes``
    (``WordSceneOptions`` fields) applied."""
    if preset not in WORD_SCENE_PRESETS:
        raise KeyError(f"unknown word-scenes preset {preset!r}; allowed values: {sorted(WORD_SCENE_PRESETS)}")
    return WordSceneOptions(**dict(asdict(WORD_SCENE_PRESETS[preset]), **changes))


@dataclass
class WordLayer:
    """One rendered word, before it is placed in a scene.

    Attributes:
        alpha: ``(h, w)`` float32 coverage in [0, 1] of the word's ink.
        polygon: ``(P, 2)`` float64 outline in ``alpha``'s index coordinates (pixel
            centres on integers), clockwise from the word's start, top edge first.
    """

    alpha: np.ndarray
    polygon: np.ndarray


@dataclass
class SceneWord:
    """A word placed in a scene: its polygon ``(P, 2)`` in the scene's continuous pixel
    coordinates, its transcription (``###`` when don't care), its alpha layer and where
    that layer's top-left pixel sits (``origin``, index ``(x, y)``), and how it was drawn."""

    polygon: np.ndarray
    text: str
    ignore: bool
    alpha: np.ndarray
    origin: Tuple[int, int]
    render: Dict = field(default_factory=dict)

    @property
    def bbox(self) -> List[float]:
        """``[x1, y1, x2, y2]``: the polygon's bounds."""
        (x1, y1), (x2, y2) = self.polygon.min(0), self.polygon.max(0)
        return [float(x1), float(y1), float(x2), float(y2)]


def render_word_layer(text: str, font_path: str, font_size: int, distortion: str, rng: np.random.Generator,
                      margin: float = WORD_MARGIN) -> WordLayer:
    """Render ``text`` with the synthetic word generator's ``distortion`` (its random
    parameters drawn from ``rng``) as an alpha layer with its outline.

    The outline is :func:`~stn_plugin.datasets.text_rendering.word_outline` of the flat
    word's ink box (``margin`` ink heights, at least 1.5 px, on each side), mapped
    through the same warp as the ink.
    The layer is cut to the bounds of its ink and outline. Same arguments and ``rng``
    state, same layer.
    """
    flat, box = flat_word(text, load_font(font_path, int(font_size)), margin)
    warped, to_warped = distort_mask(flat, distortion, rng)
    warped = np.clip(warped, 0.0, 1.0)
    polygon = to_warped(word_outline(box, distortion))
    ys, xs = np.nonzero(warped > 0)
    if len(ys) == 0:
        raise ValueError(f"the {distortion!r} warp of {text!r} left no ink")
    x0 = int(math.floor(min(xs.min(), polygon[:, 0].min())))
    y0 = int(math.floor(min(ys.min(), polygon[:, 1].min())))
    x1 = int(math.ceil(max(xs.max(), polygon[:, 0].max()))) + 1
    y1 = int(math.ceil(max(ys.max(), polygon[:, 1].max()))) + 1
    # the polygon may reach past the warped image (its margin): pad with empty alpha
    padded = np.pad(warped, ((max(0, -y0), max(0, y1 - warped.shape[0])), (max(0, -x0), max(0, x1 - warped.shape[1]))))
    oy, ox = max(0, -y0), max(0, -x0)
    alpha = padded[y0 + oy:y1 + oy, x0 + ox:x1 + ox]
    return WordLayer(np.ascontiguousarray(alpha, dtype=np.float32), polygon - np.array([x0, y0], np.float64))


def _photo_patch(rng: np.random.Generator, h: int, w: int,
                 photos: Sequence[Tuple[str, np.ndarray]]) -> Tuple[np.ndarray, str]:
    name, photo = photos[rng.integers(len(photos))]
    ph, pw = photo.shape[:2]
    least = max(h / ph, w / pw)
    scale = least * rng.uniform(1.0, max(1.0, 1.6 / least))   # zoom in up to ~1.6x the photo's own size
    size = (max(w, int(round(pw * scale))), max(h, int(round(ph * scale))))
    img = cv2.resize(photo, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y0, x0 = int(rng.integers(0, size[1] - h + 1)), int(rng.integers(0, size[0] - w + 1))
    patch = img[y0:y0 + h, x0:x0 + w].astype(np.float32)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if (patch[..., 0] == patch[..., 1]).all() and (patch[..., 1] == patch[..., 2]).all():  # grey: tint it
        patch = patch * rng.uniform(0.6, 1.0, 3)
    return np.ascontiguousarray(patch), name


def _draw_clutter(img: np.ndarray, rng: np.random.Generator, count: int) -> None:
    """Lines, rectangles, ellipses and polylines (no glyphs), blended in place."""
    h, w = img.shape[:2]
    for _ in range(count):
        layer = img.copy()
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        thick = int(rng.integers(1, 5))
        kind = rng.integers(4)
        p = rng.uniform([0, 0], [w, h], (4, 2)).astype(np.int32)
        if kind == 0:
            cv2.line(layer, tuple(map(int, p[0])), tuple(map(int, p[1])), colour, thick, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(layer, tuple(map(int, p[0])), tuple(map(int, p[1])), colour,
                          -1 if rng.random() < 0.3 else thick, cv2.LINE_AA)
        elif kind == 2:
            axes = tuple(int(a) for a in rng.uniform(4, max(5, min(h, w) / 4), 2))
            cv2.ellipse(layer, tuple(map(int, p[0])), axes, float(rng.uniform(0, 180)), 0, 360, colour,
                        -1 if rng.random() < 0.3 else thick, cv2.LINE_AA)
        else:
            cv2.polylines(layer, [p.reshape(-1, 1, 2)], False, colour, thick, cv2.LINE_AA)
        a = rng.uniform(0.4, 1.0)
        img[:] = img * (1 - a) + layer * a


def _polygon_mask(polygon_index: np.ndarray, h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon_index * 16).astype(np.int32).reshape(-1, 1, 2)], 1, cv2.LINE_8, shift=4)
    return mask.astype(bool)


def index_to_continuous(points: np.ndarray) -> np.ndarray:
    """``(P, 2)`` points from index coordinates (pixel centres on integers) to continuous
    pixel coordinates (:func:`stn_plugin.geometry.coords.index_to_continuous_matrix`)."""
    pts = np.asarray(points, np.float64)
    return pts @ _INDEX_TO_CONTINUOUS[:2, :2].T + _INDEX_TO_CONTINUOUS[:2, 2]


def _draw_distortion(rng: np.random.Generator, opts: WordSceneOptions) -> str:
    if opts.distortion_weights is None:  # uniform, the draw the default scenes were made with
        return opts.distortions[rng.integers(len(opts.distortions))]
    weights = np.asarray(opts.distortion_weights, dtype=np.float64)
    return opts.distortions[rng.choice(len(opts.distortions), p=weights / weights.sum())]


def _draw_word(rng: np.random.Generator, opts: WordSceneOptions, fonts: Sequence[str], dont_care: bool) -> Dict:
    """Everything random about one word, drawn from ``rng``; the warp's own parameters come
    from a generator seeded by ``seed`` so that the word can be re-rendered alone."""
    sizes = opts.dont_care_font_size if dont_care else opts.font_size
    return dict(word=sample_word(rng, opts.word_source), font_path=fonts[rng.integers(len(fonts))],
                font_size=int(rng.integers(sizes[0], sizes[1] + 1)),
                distortion=_draw_distortion(rng, opts),
                seed=int(rng.integers(2 ** 31)))


def render_word_scene(seed: int, index: int, split: str = "train", options: Optional[WordSceneOptions] = None,
                      fonts: Optional[Sequence[str]] = None, degrade: bool = True) -> Dict:
    """Scene ``index`` of ``split`` for ``seed``.

    Returns ``image`` ``(H, W, 3)`` uint8 RGB, ``background`` (the photograph patch and
    clutter before the words, same shape, uint8), ``words``: a list of
    :class:`SceneWord`, and ``photo`` (the photograph's name). ``degrade=False`` leaves
    out the final blur and noise, so that ``image`` equals ``background`` wherever no word
    has ink.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    opts = options or WordSceneOptions()
    fonts = list(fonts) if fonts is not None else find_training_fonts()
    rng = np.random.default_rng([int(seed), SPLITS.index(split), int(index)])
    h, w = (int(v) for v in rng.integers(opts.size_range[0], opts.size_range[1] + 1, 2))
    canvas, photo = _photo_patch(rng, h, w, background_photos(PHOTO_SET))
    _draw_clutter(canvas, rng, int(rng.integers(opts.num_clutter[0], opts.num_clutter[1] + 1)))
    canvas = np.clip(canvas + 0.5, 0, 255).astype(np.uint8).astype(np.float32)  # the background as stored
    background = canvas.astype(np.uint8)
    occupied = np.zeros((h, w), bool)
    words: List[SceneWord] = []
    want = int(rng.integers(opts.num_words[0], opts.num_words[1] + 1))
    for _ in range(12 * want):  # rejection sampling against words that do not fit or overlap
        if len(words) == want:
            break
        dont_care = rng.random() < opts.dont_care_prob
        spec = _draw_word(rng, opts, fonts, dont_care)
        layer = render_word_layer(spec["word"], spec["font_path"], spec["font_size"], spec["distortion"],
                                  np.random.default_rng(spec["seed"]), opts.margin)
        lh, lw = layer.alpha.shape
        if lh > h - 2 or lw > w - 2:
            continue
        x0, y0 = int(rng.integers(1, w - lw)), int(rng.integers(1, h - lh))
        polygon = layer.polygon + np.array([x0, y0])
        region = _polygon_mask(polygon, h, w)
        region[y0:y0 + lh, x0:x0 + lw] |= layer.alpha > 0
        if (region & occupied).any():
            continue
        occupied |= cv2.dilate(region.astype(np.uint8), np.ones((2 * opts.gap + 1,) * 2, np.uint8)).astype(bool)
        a = layer.alpha[..., None]
        patch = canvas[y0:y0 + lh, x0:x0 + lw]
        under = patch[layer.alpha > 0.5].mean(0) if (layer.alpha > 0.5).any() else patch.reshape(-1, 3).mean(0)
        colour = np.round(contrasting_colour(luminance(under), rng, min_contrast=100, tries=30))
        canvas[y0:y0 + lh, x0:x0 + lw] = patch * (1 - a) + colour * a
        render = dict(word=spec["word"], font=osp.basename(spec["font_path"]), font_size=spec["font_size"],
                      distortion=spec["distortion"], seed=spec["seed"], colour=[int(c) for c in colour],
                      origin=[x0, y0])
        words.append(SceneWord(index_to_continuous(polygon), DONT_CARE_TEXT if dont_care else spec["word"],
                               dont_care, layer.alpha, (x0, y0), render))
    if degrade:
        if rng.random() < opts.blur_prob:
            canvas = cv2.GaussianBlur(canvas, (0, 0), sigmaX=rng.uniform(0.3, 0.9))
        canvas = canvas + rng.normal(0, rng.uniform(0, opts.max_noise_std), canvas.shape).astype(np.float32)
    image = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return dict(image=image, background=background, words=words, photo=photo)


def polygon_area(polygon: np.ndarray) -> float:
    """Unsigned shoelace area of a ``(P, 2)`` polygon."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def coco_annotation(word: SceneWord) -> Dict:
    """The COCO record of ``word`` (see the module docstring for the fields), without
    ``id`` / ``image_id`` (the writer numbers them)."""
    x1, y1, x2, y2 = word.bbox
    return dict(category_id=CATEGORIES[0]["id"],
                segmentation=[np.round(word.polygon, 3).ravel().tolist()],
                bbox=[round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
                area=round(polygon_area(word.polygon), 3), iscrowd=int(word.ignore), text=word.text,
                render=word.render)


def generate_word_scenes(out_dir: Union[str, PathLike], num_train: int = 200, num_val: int = 50, seed: int = 0,
                         options: Optional[WordSceneOptions] = None, overwrite: bool = False,
                         progress: bool = True) -> Path:
    """Write train and val scenes with COCO annotations under ``out_dir`` (layout in
    the module docstring); returns ``out_dir``.

    Refuses to touch an existing non-empty ``out_dir`` unless ``overwrite=True``, which
    first deletes the images and annotations an earlier run wrote
    (:func:`~stn_plugin.datasets.coco_writer.prepare_coco_dir`). ``progress``: show a
    progress bar (mmengine's) per split.
    """
    if num_train < 0 or num_val < 0 or num_train + num_val == 0:
        raise ValueError(f"num_train and num_val must be >= 0 and not both 0, got {num_train} and {num_val}")
    opts = options or WordSceneOptions()
    out = prepare_coco_dir(out_dir, SPLITS, overwrite)
    fonts = find_training_fonts()
    for split, count in zip(SPLITS, (num_train, num_val)):
        scenes = (_generated(render_word_scene(seed, i, split, opts, fonts)) for i in range(count))
        write_coco_split(out, split, scenes, categories=list(CATEGORIES),
                         info=dict(description="stn_plugin word scenes", seed=seed, split=split,
                                   options=asdict(opts)),
                         count=count, progress=progress, name="word scenes", object_noun="words")
    return out


def _generated(scene: Dict) -> GeneratedScene:
    return GeneratedScene(scene["image"], [coco_annotation(w) for w in scene["words"]],
                          image_fields=dict(photo=scene["photo"]))
