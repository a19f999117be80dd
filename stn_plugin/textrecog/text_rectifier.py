"""Rectify word crops with a learned rectifier: the inference API.

    from stn_plugin.textrecog import TextRectifier
    rectifier = TextRectifier.from_pretrained('tps-words')
    flat = rectifier(crops)          # list of (h, w, 3) uint8: the words flattened

A :class:`TextRectifier` holds only a recognizer's *preprocessor* (e.g. the
warp-supervised TPS spatial transformer) and the input normalisation it was trained
with; no recognizer is needed, so its output can feed any OCR engine. It takes any
number of crops of any sizes, predicts all transforms in batches on the model-sized
input (each crop resized to e.g. 32x100, as in training), then samples each
*original* crop once through its transform at the word's own size (``out_size='text'``:
the height and length of the region the transform samples, so the flattened word keeps
its proportions and pixel scale), ``'crop'`` (the crop's size), ``'model'`` (the
rectifier's trained output size) or a fixed ``(h, w)``.

Sources: :meth:`TextRectifier.from_pretrained` (a rectifier shipped in
``stn_plugin/textrecog/pretrained`` by name, or a rectifier file written by
:meth:`TextRectifier.save`), or ``TextRectifier(config, checkpoint)`` for a trained
recognizer's mmengine config + checkpoint.

A rectifier file is a ``torch.save`` dict of plain types and tensors (loaded with
``weights_only=True``): ``format``, ``version``, ``preprocessor`` (the module's
config), ``in_channels``, ``mean``, ``std``, ``input_size``, ``state_dict`` and
``meta`` (how it was made).
"""
from __future__ import annotations

import copy
import math
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import modules as stn_modules
from ..geometry.coords import normalized_to_pixel, sample_positions_1d
from ..geometry.transforms import TPSTransform, Transform, WrappingTransform, compose_transforms
from ..geometry.validation import check_size2
from ..ops.warp import warp
from .transforms import resize_text_crop

PRETRAINED_DIR = osp.join(osp.dirname(osp.abspath(__file__)), "pretrained")
#: Rectifiers shipped with the package: name -> file in :data:`PRETRAINED_DIR`.
PRETRAINED = {"tps-words": "tps-words.pt"}
FILE_FORMAT = "stn_plugin.text_rectifier"
FILE_VERSION = 1
OUT_SIZES = ("text", "crop", "model")

ImageLike = Union[np.ndarray, Tensor, str]


@dataclass
class Rectification:
    """One rectified crop and how it was made.

    Attributes:
        image: the rectified crop (same kind as the input: ``(h, w[, C])`` numpy or
            ``(C, h, w)`` tensor).
        transform: batch-1 transform, normalised output -> normalised crop coordinates.
        outline: ``(L, P, 2)`` pixel coordinates (x, y; continuous, pixel centres at
            ``+0.5``) in the crop of the output frame's boundary and inner lines
            (:func:`frame_outline`): the sampled region.
        control_points: ``(K, 2)`` TPS source points in crop pixels (None for other
            families).
        size: ``(h, w)`` of ``image``.
    """

    image: Union[np.ndarray, Tensor]
    transform: Transform
    outline: np.ndarray
    control_points: Optional[np.ndarray]
    size: Tuple[int, int]


def _frame_lines(lines: int, per_line: int) -> Tensor:
    """``(2 * lines, per_line, 2)`` normalised output points: ``lines`` horizontal and
    ``lines`` vertical lines, alternating, the first horizontal one at the top."""
    s = torch.linspace(-1, 1, per_line, dtype=torch.float64)
    polys = []
    for v in torch.linspace(-1, 1, lines, dtype=torch.float64):
        polys.append(torch.stack([s, torch.full_like(s, v)], -1))
        polys.append(torch.stack([torch.full_like(s, v), s], -1))
    return torch.stack(polys)


@torch.no_grad()
def frame_outline(transform: Transform, sizes: Sequence[Sequence[int]], lines: int = 5,
                  per_line: int = 33) -> List[np.ndarray]:
    """Per batch entry, ``(2 * lines, per_line, 2)`` pixel coordinates in its crop of
    ``sizes[i] = (H, W)`` of the output frame's horizontal / vertical lines (alternating;
    with ``lines=3`` the horizontal ones are the top edge, centre line and bottom edge).
    One ``map_points`` call for the whole batch."""
    pts = _frame_lines(lines, per_line)
    mapped = transform.map_points(pts.reshape(1, -1, 2).to(transform.dtype)).double().cpu()
    mapped = mapped.reshape(transform.batch_size, *pts.shape)
    return [normalized_to_pixel(mapped[i], tuple(sizes[i])).numpy() for i in range(transform.batch_size)]


def frame_sizes(transform: Transform, sizes: Sequence[Sequence[int]], min_side: int = 8,
                max_side: int = 4096) -> List[Tuple[int, int]]:
    """Per batch entry, ``(h, w)`` in pixels of the region the transform samples from a
    crop of ``sizes[i]``: ``h`` the mean distance between where the output's top and
    bottom edges land, ``w`` the length of where its centre line lands."""
    out = []
    for lines in frame_outline(transform, sizes, lines=3, per_line=33):
        top, centre, bottom = lines[0::2]
        h = float(np.linalg.norm(bottom - top, axis=-1).mean())
        w = float(np.linalg.norm(np.diff(centre, axis=0), axis=-1).sum())
        if not (math.isfinite(h) and math.isfinite(w)):
            raise ValueError("the transform maps the output frame to non-finite points")
        out.append((int(min(max_side, max(min_side, round(h)))), int(min(max_side, max(min_side, round(w))))))
    return out


def _node_layout(out_size: Sequence[int], sampling_ratio: int, align_corners: bool, stride: int,
                 dtype: torch.dtype, device) -> Tuple[Tensor, Tuple[int, int], Tuple[int, int]]:
    """Normalised output positions ``(gh * gw, 2)`` of the exact nodes of an
    :class:`InterpolatedGridTransform` grid, the node counts ``(gh, gw)`` and the dense
    sub-sample counts ``(h * r, w * r)``.

    Sub-sample positions are linear in their index, so nodes evenly spaced from the
    first to the last sub-sample are positions too, and ``align_corners=True``
    interpolation between them lands back on every sub-sample."""
    axes = [sample_positions_1d(n, sampling_ratio, align_corners, dtype=dtype, device=device)
            for n in check_size2(out_size, "out_size")]
    dense = tuple(len(a) for a in axes)
    nodes = tuple(min(n, max(2, -(-(n - 1) // stride) + 1)) if n > 1 else 1 for n in dense)
    ys, xs = [torch.linspace(float(a[0]), float(a[-1]), g, dtype=dtype, device=device) for a, g in zip(axes, nodes)]
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], -1).reshape(-1, 2), nodes, dense


class InterpolatedGridTransform(WrappingTransform):
    """A smooth transform whose sampling grid is evaluated exactly at nodes every
    ``stride`` output sub-samples (and at the last one) and linearly interpolated in
    between.

    A TPS grid costs a ``(P, K)`` kernel evaluation for every one of the ``P``
    sub-samples, recomputed for every new output size -- with crops of many sizes that
    dominated rectification (exact grids were 7x slower than nodes every 4 sub-samples
    in ``tools/benchmark_text_rectifier.py``). The learned rectifier's warp is smooth at
    that scale: with nodes 4 sub-samples apart, samples of the shipped rectifier move by
    0.02 px on average and at most about 0.5 px, next to its control points
    (tests/textrecog/test_text_rectifier.py bounds it); affine maps come out exactly.
    ``map_points`` is the wrapped transform's. ``nodes``: the mapped nodes
    ``(1, gh, gw, 2)`` when already computed (:func:`interpolated_grid_transforms`).
    """

    def __init__(self, transform: Transform, stride: int = 4, nodes: Optional[Tensor] = None,
                 layout: Optional[tuple] = None) -> None:
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be a positive int, got {stride!r}")
        super().__init__(transform)
        self.stride = stride
        # precomputed (nodes, (out_size, sampling_ratio, align_corners, dense size)) of one grid
        self.nodes, self.layout = nodes, layout

    def map_points(self, points: Tensor) -> Tensor:
        return self.transform.map_points(points)

    def select(self, index) -> "InterpolatedGridTransform":
        return InterpolatedGridTransform(self.transform.select(index), self.stride)

    def grid(self, out_size: Sequence[int], sampling_ratio: int = 1, align_corners: bool = False) -> Tensor:
        dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        key = (tuple(out_size), sampling_ratio, align_corners)
        if self.nodes is not None and self.layout is not None and self.layout[0] == key:
            coarse, dense = self.nodes, self.layout[1]
            nodes = tuple(coarse.shape[1:3])
        else:
            pts, nodes, dense = _node_layout(out_size, sampling_ratio, align_corners, self.stride, dtype, self.device)
            coarse = self.transform.map_points(pts[None].to(self.dtype)).reshape(-1, *nodes, 2)
        coarse = coarse.to(dtype)
        if nodes == dense:
            return coarse
        return F.interpolate(coarse.permute(0, 3, 1, 2), size=dense, mode="bilinear",
                             align_corners=True).permute(0, 2, 3, 1)


def interpolated_grid_transforms(transform: Transform, out_sizes: Sequence[Sequence[int]],
                                 sampling_ratios: Union[int, Sequence[int]] = 1, align_corners: bool = False,
                                 stride: int = 4) -> List[InterpolatedGridTransform]:
    """Per batch entry ``i``, its :class:`InterpolatedGridTransform` for ``out_sizes[i]``
    (and ``sampling_ratios[i]``), with the nodes of all entries mapped at once (one TPS
    basis evaluation; other families: one ``map_points`` call padded to the largest
    node count): a batch of crops of different sizes costs one kernel evaluation."""
    dtype = torch.float64 if transform.dtype == torch.float64 else torch.float32
    ratios = [sampling_ratios] * len(out_sizes) if isinstance(sampling_ratios, int) else list(sampling_ratios)
    layouts = [_node_layout(s, r, align_corners, stride, dtype, transform.device) for s, r in zip(out_sizes, ratios)]
    counts = [p.shape[0] for p, _, _ in layouts]
    if isinstance(transform, TPSTransform):
        # the TPS basis depends on the points only: one evaluation for all nodes, then each
        # entry's rows times its own control points
        basis = transform.spline.basis(torch.cat([p for p, _, _ in layouts]))
        rows = torch.split(basis.to(transform.dtype), counts)
        mapped = [r @ transform.control_points[i] for i, r in enumerate(rows)]
    else:
        padded = torch.stack([F.pad(p, (0, 0, 0, max(counts) - n)) for (p, _, _), n in zip(layouts, counts)])
        full = transform.map_points(padded.to(transform.dtype))
        mapped = [full[i, :n] for i, n in enumerate(counts)]
    return [InterpolatedGridTransform(transform.select(slice(i, i + 1)), stride, m.reshape(1, *nodes, 2),
                                      ((tuple(size), r, align_corners), dense))
            for i, (m, size, r, (_, nodes, dense)) in enumerate(zip(mapped, out_sizes, ratios, layouts))]


def _pretrained_path(name_or_path: str) -> str:
    if name_or_path in PRETRAINED:
        path = osp.join(PRETRAINED_DIR, PRETRAINED[name_or_path])
        if not osp.isfile(path):
            raise FileNotFoundError(f"the shipped rectifier {name_or_path!r} is missing: {path}")
        return path
    if osp.isfile(name_or_path):
        return name_or_path
    raise FileNotFoundError(f"no shipped rectifier named {name_or_path!r} (known: {sorted(PRETRAINED)}) "
                            "and no such file")


def build_preprocessor(cfg: dict, in_channels: int) -> nn.Module:
    """A plain :mod:`stn_plugin.modules` spatial transformer from its config dict
    (``type`` = class name; the training-only ``regularizers`` are dropped)."""
    cfg = copy.deepcopy(dict(cfg))
    name = cfg.pop("type", "SpatialTransformer")
    cls = getattr(stn_modules, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise KeyError(f"preprocessor type {name!r} is not a module of stn_plugin.modules")
    cfg.pop("regularizers", None)
    cfg.setdefault("in_channels", in_channels)
    return cls(**cfg)


def _to_plain(value):
    """Config values (mmengine ConfigDict, tuples) as plain dicts / lists / tuples."""
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(v) for v in value) if isinstance(value, tuple) else [_to_plain(v) for v in value]
    return value


class TextRectifier:
    """Learned text rectification for crops of any size (CPU or CUDA).

    Args:
        config: a recognizer's mmengine config file (with ``checkpoint``, its trained
            weights), or None with ``checkpoint`` a rectifier file (:meth:`save`).
        checkpoint: see ``config``.
        device: ``'cpu'``, ``'cuda'``, ...
        out_size: default output size: ``'text'`` (the word's own size), ``'crop'``,
            ``'model'`` or ``(h, w)``.
        sampling_ratio: sub-samples per output pixel and axis (anti-aliasing), or
            ``'auto'``: per crop, 1 when the output keeps the sampled region's pixel
            scale (``'text'``: nothing to anti-alias), else ``ceil`` of how many region
            pixels one output pixel spans (at most 4).
        batch_size: crops per localization-net batch.
        channel_order: of numpy / tensor inputs with 3 channels, ``'rgb'`` (PIL,
            scikit-image) or ``'bgr'`` (``cv2.imread``); outputs keep it. Paths are
            read with OpenCV.
        grid_stride: the sampling grid is computed exactly every ``grid_stride``
            sub-samples and interpolated in between (:class:`InterpolatedGridTransform`);
            1 computes every sample exactly.
    """

    def __init__(self, config: Optional[str] = None, checkpoint: Optional[str] = None,
                 device: Union[str, torch.device] = "cpu", out_size: Union[str, Sequence[int]] = "text",
                 sampling_ratio: Union[int, str] = "auto", batch_size: int = 64, channel_order: str = "rgb",
                 grid_stride: int = 4) -> None:
        if config is None and checkpoint is None:
            raise ValueError("TextRectifier needs a config + checkpoint of a recognizer, a rectifier file as "
                             "checkpoint, or use TextRectifier.from_pretrained('tps-words')")
        spec = self._spec_from_recognizer(config, checkpoint) if config is not None else load_rectifier_file(checkpoint)
        self._setup(spec, device, out_size, sampling_ratio, batch_size, channel_order, grid_stride)

    def _setup(self, spec: dict, device: Union[str, torch.device] = "cpu", out_size: Union[str, Sequence[int]] = "text",
               sampling_ratio: Union[int, str] = "auto", batch_size: int = 64, channel_order: str = "rgb",
               grid_stride: int = 4) -> None:
        self._init_from_spec(spec, device)
        self.out_size = self._check_out_size(out_size)
        if sampling_ratio != "auto" and (not isinstance(sampling_ratio, int) or sampling_ratio < 1):
            raise ValueError(f"sampling_ratio must be a positive int or 'auto', got {sampling_ratio!r}")
        self.sampling_ratio = sampling_ratio
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        if not isinstance(grid_stride, int) or grid_stride < 1:
            raise ValueError(f"grid_stride must be a positive int, got {grid_stride!r}")
        self.grid_stride = grid_stride
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        self.channel_order = channel_order

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name_or_path: str = "tps-words", device: Union[str, torch.device] = "cpu",
                        **kwargs) -> "TextRectifier":
        """A shipped rectifier by name (:data:`PRETRAINED`) or a rectifier file's path."""
        return cls(None, _pretrained_path(name_or_path), device=device, **kwargs)

    @classmethod
    def from_recognizer(cls, model: nn.Module, cfg, name: str = "rectifier", **kwargs) -> "TextRectifier":
        """The rectifier of an already built recognizer ``model`` (its config ``cfg``
        gives the preprocessor's config and the input size); the weights are copied."""
        self = cls.__new__(cls)
        spec = cls._spec_from_model(model, cfg, dict(name=name))
        self._setup(spec, **kwargs)
        return self

    @staticmethod
    def _spec_from_model(model: nn.Module, cfg, meta: dict) -> dict:
        from .rectify import model_input_size
        if getattr(model, "preprocessor", None) is None:
            raise ValueError(f"the model {meta.get('name', '')!r} has no preprocessor (rectifier) to use")
        dp = model.data_preprocessor
        return dict(format=FILE_FORMAT, version=FILE_VERSION, preprocessor=_to_plain(cfg.model.preprocessor),
                    in_channels=int(model.in_channels), mean=dp.mean.flatten().tolist(),
                    std=dp.std.flatten().tolist(), input_size=list(model_input_size(cfg)),
                    state_dict={k: v.detach().cpu().clone() for k, v in model.preprocessor.state_dict().items()},
                    meta=meta)

    @classmethod
    def _spec_from_recognizer(cls, config: str, checkpoint: Optional[str]) -> dict:
        from .rectify import load_recognizer
        model, cfg = load_recognizer(config, checkpoint)
        return cls._spec_from_model(model, cfg, dict(name=osp.splitext(osp.basename(config))[0], config=config,
                                                     checkpoint=checkpoint or ""))

    def _init_from_spec(self, spec: dict, device) -> None:
        self.spec = {k: v for k, v in spec.items() if k != "state_dict"}
        self.in_channels = int(spec["in_channels"])
        self.input_size = tuple(int(s) for s in spec["input_size"])
        self.module = build_preprocessor(spec["preprocessor"], self.in_channels)
        missing, unexpected = self.module.load_state_dict(spec["state_dict"], strict=False)
        if missing or unexpected:
            raise KeyError(f"rectifier weights do not fit its config: missing {missing}, unexpected {unexpected}")
        self.device = torch.device(device)
        self.module.to(self.device).eval()
        self.mean = torch.tensor(spec["mean"], dtype=torch.float32, device=self.device).reshape(1, -1, 1, 1)
        self.std = torch.tensor(spec["std"], dtype=torch.float32, device=self.device).reshape(1, -1, 1, 1)
        self.name = str(spec.get("meta", {}).get("name", "rectifier"))
        opts = dict(getattr(self.module, "warp_options", {}))
        opts.pop("sampling_ratio", None)
        self.warp_options = opts

    def save(self, path: str, **meta) -> None:
        """Write this rectifier as a rectifier file (``meta`` joins its ``meta``)."""
        spec = dict(self.spec)
        spec["meta"] = {**spec.get("meta", {}), **meta}
        spec["state_dict"] = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        torch.save(spec, path)

    def to(self, device: Union[str, torch.device]) -> "TextRectifier":
        self.device = torch.device(device)
        self.module.to(self.device)
        self.mean, self.std = self.mean.to(self.device), self.std.to(self.device)
        return self

    @staticmethod
    def _check_out_size(out_size):
        if isinstance(out_size, str):
            if out_size not in OUT_SIZES:
                raise ValueError(f"out_size must be one of {OUT_SIZES} or (h, w), got {out_size!r}")
            return out_size
        if (len(out_size) != 2 or any(int(s) != s or s < 1 for s in out_size)):
            raise ValueError(f"out_size must be one of {OUT_SIZES} or two positive ints (h, w), got {out_size!r}")
        return (int(out_size[0]), int(out_size[1]))

    def __repr__(self) -> str:
        return (f"TextRectifier(name={self.name!r}, family={self.module.family.name!r}, "
                f"input_size={self.input_size}, device={str(self.device)!r}, out_size={self.out_size!r})")

    # -- inputs ---------------------------------------------------------------------------
    def _as_hwc(self, image: ImageLike, index: int) -> np.ndarray:
        """One input as an ``(H, W, C)`` array in the model's RGB order (uint8 or float)."""
        if isinstance(image, str):
            arr = cv2.imread(image, cv2.IMREAD_COLOR)
            if arr is None:
                raise ValueError(f"images[{index}]: cannot read image file {image!r}")
            return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
        if isinstance(image, Tensor):
            if image.dim() != 3:
                raise ValueError(f"images[{index}]: expected a (C, H, W) tensor, got shape {tuple(image.shape)}")
            arr = image.detach().cpu().permute(1, 2, 0).numpy()
        elif isinstance(image, np.ndarray):
            arr = image
        else:
            raise TypeError(f"images[{index}]: expected a numpy array, a tensor or a path, got {type(image).__name__}")
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
            raise ValueError(f"images[{index}]: expected (H, W), (H, W, 1|3|4) or (C, H, W), got shape {arr.shape}")
        if arr.shape[2] == 4:
            arr = arr[..., :3]
        if arr.shape[2] == 3 and self.channel_order == "bgr":
            arr = arr[..., ::-1]
        return np.ascontiguousarray(arr)

    def _model_input(self, crops: Sequence[np.ndarray]) -> Tensor:
        """``(N, C, h, w)`` normalised model input: each crop resized as in training."""
        batch = []
        for c in crops:
            c = c if c.dtype == np.uint8 else np.clip(c, 0, 255).astype(np.float32)
            if c.shape[2] != self.in_channels:
                c = np.repeat(c, self.in_channels, 2) if c.shape[2] == 1 else c.mean(2, keepdims=True)
            batch.append(resize_text_crop(c, self.input_size).transpose(2, 0, 1))
        x = torch.from_numpy(np.stack(batch).astype(np.float32)).to(self.device)
        return (x - self.mean) / self.std

    # -- the work ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict_transforms(self, crops: Sequence[np.ndarray]) -> Transform:
        """The batched transform (normalised output -> normalised crop coordinates) for
        ``(H, W, C)`` crops (RGB order), one localization-net pass."""
        return self.module.predict_transform(self._model_input(crops))

    def _sizes(self, transform: Transform, crop_sizes, out_size) -> List[Tuple[int, int]]:
        if out_size == "text":
            return frame_sizes(transform, crop_sizes)
        if out_size == "crop":
            return [tuple(s) for s in crop_sizes]
        if out_size == "model":
            size = tuple(self.module.out_size or self.input_size)
            return [size] * len(crop_sizes)
        return [tuple(out_size)] * len(crop_sizes)

    @torch.no_grad()
    def __call__(self, images: Union[ImageLike, Sequence[ImageLike]], out_size=None,
                 return_details: bool = False) -> Union[list, object]:
        """Rectify one image or a list of them.

        ``images``: ``(H, W)`` / ``(H, W, C)`` numpy arrays (uint8 or float in
        [0, 255]), ``(C, H, W)`` tensors or image paths, of any sizes (a 4-D array or
        tensor is a batch of equal-sized ones). Returns the
        rectified crops (a list for a list, one for one), each like its input (numpy
        ``(h, w[, C])`` in the input dtype, ``(C, h, w)`` tensor on the input's device,
        paths give RGB uint8 arrays); with ``return_details`` :class:`Rectification` s.
        """
        batched = isinstance(images, (Tensor, np.ndarray)) and images.ndim == 4  # (N, C, H, W) / (N, H, W, C)
        single = not (batched or isinstance(images, (list, tuple)))
        items = [images] if single else list(images)
        out_size = self.out_size if out_size is None else self._check_out_size(out_size)
        results = []
        for start in range(0, len(items), self.batch_size):
            chunk = items[start:start + self.batch_size]
            crops = [self._as_hwc(img, start + i) for i, img in enumerate(chunk)]
            transform = self.predict_transforms(crops)
            crop_sizes = [c.shape[:2] for c in crops]
            sizes = self._sizes(transform, crop_sizes, out_size)
            outlines = frame_outline(transform, crop_sizes) if return_details else None
            ratios = self._sampling_ratios(transform, crop_sizes, sizes, out_size)
            samplers = interpolated_grid_transforms(transform, sizes, ratios, stride=self.grid_stride)
            for i, (img, crop, size) in enumerate(zip(chunk, crops, sizes)):
                t = transform.select(slice(i, i + 1))
                flat = self._sample(crop, samplers[i], size, ratios[i])
                flat = self._like_input(flat, img)
                if not return_details:
                    results.append(flat)
                    continue
                cps = None
                if isinstance(t, TPSTransform):
                    cps = normalized_to_pixel(t.control_points[0].double().cpu(), crop.shape[:2]).numpy()
                results.append(Rectification(flat, t, outlines[i], cps, tuple(size)))
        return results[0] if single else results

    def _sampling_ratios(self, transform: Transform, crop_sizes, sizes, out_size) -> List[int]:
        if self.sampling_ratio != "auto":
            return [self.sampling_ratio] * len(sizes)
        if out_size == "text":
            return [1] * len(sizes)
        region = frame_sizes(transform, crop_sizes, min_side=1)
        return [int(min(4, max(1, math.ceil(max(rh / h, rw / w) - 0.25)))) for (rh, rw), (h, w) in zip(region, sizes)]

    def _sample(self, crop: np.ndarray, transform: Transform, size: Sequence[int], sampling_ratio: int) -> Tensor:
        """``(C, h, w)`` float32 on the device: ``crop`` sampled once by a batch-1 ``transform``."""
        src = torch.from_numpy(crop.transpose(2, 0, 1).astype(np.float32, copy=False)).to(self.device)[None]
        return warp(src, transform, tuple(size), sampling_ratio=sampling_ratio, **self.warp_options)[0]

    def _like_input(self, flat: Tensor, original: ImageLike):
        if isinstance(original, Tensor):
            out = flat
            if out.shape[0] == 3 and self.channel_order == "bgr":
                out = out.flip(0)
            if not original.is_floating_point():
                out = out.round().clamp(0, 255)
            return out.to(device=original.device, dtype=original.dtype)
        arr = flat.permute(1, 2, 0).cpu().numpy()
        if isinstance(original, np.ndarray):
            if arr.shape[2] == 3 and self.channel_order == "bgr":
                arr = arr[..., ::-1]
            if original.dtype == np.uint8:
                arr = np.clip(arr + 0.5, 0, 255).astype(np.uint8)
            else:
                arr = arr.astype(original.dtype)
            if original.ndim == 2:
                return arr[..., 0]
            return np.ascontiguousarray(arr)
        return np.clip(arr + 0.5, 0, 255).astype(np.uint8)  # a path: RGB uint8

    # -- refining a geometric crop ------------------------------------------------------------
    @torch.no_grad()
    def refine_transforms(self, crops: Sequence[Tensor], transforms: Sequence[Transform],
                          sizes: Sequence[Sequence[int]]) -> Tuple[List[Transform], List[Tuple[int, int]]]:
        """For :func:`~stn_plugin.textrecog.geometric_rectification.rectify_regions`:
        predict the learned transform on each geometric crop (``(C, h, w)`` float
        tensors) and compose it after the geometric one, so the scene image is still
        sampled once; the output keeps the geometric crop's size (``out_size='text'``
        re-measures it through the learned transform)."""
        arrays = [c.permute(1, 2, 0).cpu().numpy() for c in crops]
        arrays = [a if a.shape[2] == 1 or self.channel_order == "rgb" else a[..., ::-1] for a in arrays]
        learned = self.predict_transforms(arrays)
        new_sizes = (frame_sizes(learned, [tuple(s) for s in sizes]) if self.out_size == "text"
                     else [tuple(s) for s in sizes])
        out = [compose_transforms(t, learned.select(slice(i, i + 1))) for i, t in enumerate(transforms)]
        return out, new_sizes


@torch.no_grad()
def fixed_set_scores(rectifier: TextRectifier, seed: int = 1, num: int = 64,
                     distortions: Sequence[str] = ("curve", "arc", "perspective"), tesseract_num: int = 0,
                     tesseract_cmd: str = "tesseract") -> Dict[str, float]:
    """A rectifier's scores on the synthetic generator's first ``num`` crops for ``seed``:

    * ``warp_error``: mean L1 distance (normalised crop coordinates, the training
      ``loss_warp``) between where the transform sends the flat word's 33 reference
      points and where the generator really put them; ``identity_warp_error`` the
      same for no rectification;
    * with ``tesseract_num > 0``: Tesseract's word accuracy (standard protocol) on the
      first ``tesseract_num`` raw crops and on the rectified ones (``'text'`` size).
    """
    from .synthetic_words import WARP_POINTS, make_sample
    samples = [make_sample(seed, i, distortions, with_warp=True) for i in range(num)]
    crops = [s[0] for s in samples]
    targets = torch.from_numpy(np.stack([s[3] for s in samples])).double()
    points = torch.from_numpy(WARP_POINTS).double()[None]
    transform = rectifier.predict_transforms(crops)
    mapped = transform.map_points(points.to(transform.device, transform.dtype)).double().cpu()
    scores = dict(num=num, seed=seed, warp_error=float((mapped - targets).abs().mean()),
                  identity_warp_error=float((points - targets).abs().mean()))
    if tesseract_num:
        from .metrics import text_recognition_scores
        from .rectify import run_tesseract
        words = [s[1] for s in samples[:tesseract_num]]
        raw = run_tesseract(crops[:tesseract_num], cmd=tesseract_cmd)
        flat = run_tesseract(rectifier(crops[:tesseract_num], out_size="text"), cmd=tesseract_cmd)
        scores.update(tesseract_num=tesseract_num,
                      tesseract_raw_word_acc=text_recognition_scores(raw, words)["word_acc_ignore_case_symbol"],
                      tesseract_rectified_word_acc=text_recognition_scores(flat, words)["word_acc_ignore_case_symbol"])
    return scores


def load_rectifier_file(path: str) -> Dict:
    """Read a rectifier file (``weights_only`` loading: no code runs) and check its format."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"rectifier file not found: {path!r}")
    spec = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(spec, dict) or spec.get("format") != FILE_FORMAT:
        raise ValueError(f"{path!r} is not a rectifier file (expected format {FILE_FORMAT!r}); for a recognizer "
                         "checkpoint pass its config too: TextRectifier(config, checkpoint)")
    if int(spec.get("version", 0)) > FILE_VERSION:
        raise ValueError(f"{path!r} has rectifier file version {spec['version']}, this code reads up to {FILE_VERSION}")
    for key in ("preprocessor", "in_channels", "mean", "std", "input_size", "state_dict"):
        if key not in spec:
            raise KeyError(f"rectifier file {path!r} lacks {key!r}")
    return spec
