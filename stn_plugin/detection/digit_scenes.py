"""Digit scenes: a small COCO-format detection / instance-segmentation benchmark.

Each image is a cluttered canvas holding a few real MNIST digits, each rotated,
scaled and perspective-distorted, with its instance mask and box (and, in each annotation,
``digit_to_canvas``: the 3x3 map from the digit's pixels to the canvas). Axis-aligned
RoIs of such objects contain rotated content -- what RoI rectifiers are for. The
data are generated deterministically from a seed, from the embedded MNIST digits
(or full MNIST from IDX files), and written in the standard COCO layout::

    <out_dir>/train/000000.png ...      <out_dir>/annotations/train.json
    <out_dir>/val/000000.png ...        <out_dir>/annotations/val.json

so mmdet's ``CocoDataset`` and ``CocoMetric`` read them unchanged. No OpenMMLab
import here.

:data:`SCENE_PRESETS` names the variants of the benchmark: ``'default'`` (digits
rotated by up to 75 degrees) and ``'any-orientation'`` (digits in every orientation,
up to 180 degrees either way, without the 6 and the 9: a half-turned 6 is a 9, so with
them the label of a digit would not be defined by its pixels). There the head sees each
glyph in every orientation, and a rectifier that turns the digits upright hands it one
canonical view -- the benchmark where orientation must be undone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import cv2
import numpy as np
import torch

from ..datasets.coco_writer import GeneratedScene, prepare_coco_dir, write_coco_split
from ..datasets.mnist_source import MNISTSource, load_mnist_source
from ..geometry.coords import index_to_continuous_matrix

CLASSES = tuple(str(d) for d in range(10))
SPLIT_SOURCES = {"train": "train", "val": "test"}  # val scenes use held-out source digits


@dataclass
class SceneOptions:
    """How scenes are drawn (sizes in pixels, angles in degrees)."""

    image_size: int = 128
    min_digits: int = 1
    max_digits: int = 3
    digit_size: tuple = (26.0, 44.0)   # side of the 28x28 digit after scaling
    max_rotation: float = 75.0
    perspective: float = 0.25          # max corner displacement, fraction of the digit size
    num_clutter: int = 6               # unannotated digit fragments
    clutter_size: int = 10
    noise_std: float = 8.0
    mask_threshold: float = 64.0       # digit intensity (0..255) that counts as object
    digits: Optional[Tuple[int, ...]] = None  # classes of the annotated digits (and clutter); None: all ten

    def changed(self) -> Dict[str, object]:
        """The fields that differ from the defaults (recorded in the annotations' ``info``)."""
        default = SceneOptions()
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()
                if v != getattr(default, k)}


# The benchmark's scene variants (see the module docstring).
SCENE_PRESETS: Dict[str, SceneOptions] = {
    "default": SceneOptions(),
    "any-orientation": SceneOptions(max_rotation=180.0, digits=(0, 1, 2, 3, 4, 5, 7, 8)),
}


def scene_options(preset: str) -> SceneOptions:
    """A fresh copy of the :data:`SCENE_PRESETS` entry ``preset``."""
    if preset not in SCENE_PRESETS:
        raise KeyError(f"unknown digit-scenes preset {preset!r}; allowed values: {sorted(SCENE_PRESETS)}")
    return SceneOptions(**vars(SCENE_PRESETS[preset]))


def _select_digits(source: MNISTSource, digits: Optional[Tuple[int, ...]]) -> MNISTSource:
    """The source restricted to the classes ``digits`` (``None``: unchanged)."""
    if digits is None:
        return source
    wanted = sorted(set(int(d) for d in digits))
    if not wanted or not set(wanted) <= set(range(10)):
        raise ValueError(f"SceneOptions.digits must be a non-empty subset of 0..9, got {digits!r}")
    keep = np.isin(source.labels, wanted)
    return MNISTSource(source.images[keep], source.labels[keep], source.name, source.split)


def _digit_to_canvas(rng: np.random.Generator, opts: SceneOptions, centre: np.ndarray) -> np.ndarray:
    """Random 3x3 map from digit pixels (continuous, 28x28) to canvas pixels."""
    size = rng.uniform(*opts.digit_size)
    angle = math.radians(rng.uniform(-opts.max_rotation, opts.max_rotation))
    src = np.array([[0, 0], [28, 0], [28, 28], [0, 28]], np.float64)
    unit = (src - 14.0) / 28.0 * size
    unit += rng.uniform(-opts.perspective, opts.perspective, size=(4, 2)) * size
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = unit @ rot.T + centre
    # OpenCV's solve, not geometry.matrices.homography_from_points: the two differ in the last
    # bits, and the default scenes' bytes are pinned (the benchmark data must not change)
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)


_INDEX_TO_CONTINUOUS = index_to_continuous_matrix(dtype=torch.float64).numpy()


def _render(digit: np.ndarray, digit_to_canvas: np.ndarray, size: int) -> np.ndarray:
    """Warp a 28x28 uint8 digit onto a ``size x size`` float canvas (0 outside).

    OpenCV does the drawing (data generation needs no gradient, and OpenCV's warp is
    much faster than the torch path); its matrices act on index coordinates, hence the
    conversion.
    """
    c = _INDEX_TO_CONTINUOUS
    m = np.linalg.inv(c) @ digit_to_canvas @ c
    return cv2.warpPerspective(digit.astype(np.float32), m, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float64)


def render_scene(rng: np.random.Generator, source: MNISTSource, opts: SceneOptions) -> Dict[str, object]:
    """One scene: ``image`` (H, W, 3) uint8 and ``objects`` (label, mask, box, matrix)."""
    s = opts.image_size
    canvas = np.zeros((s, s), np.float64)
    occupied = np.zeros((s, s), bool)
    objects = []
    want = rng.integers(opts.min_digits, opts.max_digits + 1)
    for _ in range(20 * want):  # rejection sampling against overlaps
        if len(objects) == want:
            break
        idx = rng.integers(len(source))
        margin = opts.digit_size[1] * 0.5
        centre = rng.uniform(margin, s - margin, size=2)
        m = _digit_to_canvas(rng, opts, centre)
        layer = _render(source.images[idx], m, s)
        mask = layer >= opts.mask_threshold
        if mask.sum() < 20 or (mask & occupied).any():
            continue
        dilated = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        occupied |= dilated
        canvas = np.maximum(canvas, layer)
        ys, xs = np.nonzero(mask)
        box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
        objects.append(dict(label=int(source.labels[idx]), mask=mask, box=box, matrix=m.tolist()))
    for _ in range(opts.num_clutter):  # fragments of other digits, not annotated
        idx = rng.integers(len(source))
        y0, x0 = rng.integers(0, 28 - opts.clutter_size, size=2)
        frag = np.zeros((28, 28), np.uint8)
        frag[y0:y0 + opts.clutter_size, x0:x0 + opts.clutter_size] = \
            source.images[idx][y0:y0 + opts.clutter_size, x0:x0 + opts.clutter_size]
        layer = _render(frag, _digit_to_canvas(rng, opts, rng.uniform(0, s, size=2)), s)
        layer[occupied] = 0  # clutter never touches an annotated object
        canvas = np.maximum(canvas, 0.6 * layer)
    tint = rng.uniform(0.6, 1.0, size=3)
    image = canvas[..., None] * tint + rng.normal(0, opts.noise_std, size=(s, s, 3)) + 20
    return dict(image=np.clip(image, 0, 255).astype(np.uint8), objects=objects)


def _coco_record(obj: dict) -> dict:
    """COCO annotation of one rendered digit, without ``id`` / ``image_id`` (the writer's)."""
    from pycocotools import mask as mask_utils  # ships with mmdet; imported lazily

    rle = mask_utils.encode(np.asfortranarray(obj["mask"].astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    x1, y1, x2, y2 = obj["box"]
    return dict(category_id=obj["label"] + 1, segmentation=rle,
                area=float(obj["mask"].sum()), bbox=[x1, y1, x2 - x1, y2 - y1], iscrowd=0,
                digit_to_canvas=obj["matrix"])


def generate_digit_scenes(out_dir: Union[str, PathLike], num_train: int = 800, num_val: int = 200, seed: int = 0,
                          source: Union[str, PathLike] = "embedded", options: Optional[SceneOptions] = None,
                          overwrite: bool = False, progress: bool = True) -> Path:
    """Write train and val scenes with COCO annotations under ``out_dir``.

    Refuses to touch an existing non-empty ``out_dir`` unless ``overwrite=True``
    (a user's data are never replaced silently), which first deletes the images and
    annotations an earlier run wrote (:func:`~stn_plugin.datasets.coco_writer.prepare_coco_dir`).
    ``progress``: show a progress bar (mmengine's) per split. Returns ``out_dir``.
    """
    if num_train < 0 or num_val < 0 or num_train + num_val == 0:
        raise ValueError(f"num_train and num_val must be >= 0 and not both 0, got {num_train} and {num_val}")
    opts = options or SceneOptions()
    out = prepare_coco_dir(out_dir, ("train", "val"), overwrite)
    for split, count in (("train", num_train), ("val", num_val)):
        src = _select_digits(load_mnist_source(source, SPLIT_SOURCES[split]), opts.digits)
        rng = np.random.default_rng(np.random.SeedSequence([seed, ("train", "val").index(split)]))
        scenes = (_generated(render_scene(rng, src, opts)) for _ in range(count))
        info = dict(description="stn_plugin digit scenes", seed=seed, source=str(source))
        if opts.changed():  # the default scenes' annotations stay exactly as they were
            info["options"] = opts.changed()
        write_coco_split(out, split, scenes, categories=[dict(id=k + 1, name=c) for k, c in enumerate(CLASSES)],
                         info=info, count=count, progress=progress, name="digit scenes")
    return out


def _generated(scene: dict) -> GeneratedScene:
    return GeneratedScene(scene["image"], [_coco_record(obj) for obj in scene["objects"]])
