"""Rectify text crops with a learned rectifier: the inference API.

    from stn_plugin.rectify import TextRectifier
    rectifier = TextRectifier.from_pretrained()   # the default, 'text-lines'
    flat = rectifier(crops)          # list of (h, w, 3) uint8: the text flattened

A :class:`TextRectifier` holds only a rectifying module and the input normalisation it
was trained with: a :class:`~stn_plugin.rectify.outline_net.TextOutlineNet` (predicts
the text's top and bottom edges on the crop at its own aspect; ``'text-lines'``), or a
recognizer's *preprocessor* (e.g. the warp-supervised TPS spatial transformer of
``'tps-words'``, on the crop shrunk to 32x100). No recognizer is needed, so its output
can feed any OCR engine. It takes any number of crops of any sizes, predicts all
transforms in batches (crops of similar aspect batched together), then samples each *original*
crop once through its transform at the text's own size (``out_size='text'``: the height
and length of the region the transform samples, :mod:`stn_plugin.geometry.frames`, so
the flattened text keeps its proportions and pixel scale), ``'crop'`` (the crop's size),
``'model'`` (the rectifier's trained output size), a fixed ``(h, w)``, or one ``(h, w)``
per image. ``'text'`` and ``'crop'`` sizes longer than ``max_side`` shrink with their
aspect ratio kept.

Runs on torch, numpy and OpenCV alone; only ``TextRectifier(config, checkpoint)`` (a
trained recognizer's mmengine config) needs OpenMMLab.
"""
from __future__ import annotations

import copy
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from ..geometry.coords import normalized_to_pixel
from ..geometry.frames import (MAX_SIDE, MIN_SIDE, auto_sampling_ratio, bounded_size, frame_outline, frame_sizes,
                               region_sizes)
from ..geometry.interpolated_grid import interpolated_grid_transforms
from ..geometry.outline import outline_tps
from ..geometry.transforms import TPSTransform, Transform, compose_transforms
from ..ops.warp import warp
from .images import ImageLike, TextCrop, model_input, padded_batch, read_crop
from .outline_net import outline_input
from .preprocessor import build_preprocessor
from .rectifier_file import DEFAULT_RECTIFIER, load_rectifier_file, pretrained_path, rectifier_spec, save_rectifier_file

__all__ = ["OUT_SIZES", "Rectification", "TextRectifier", "check_out_size"]

OUT_SIZES = ("text", "crop", "model")


@dataclass
class Rectification:
    """One rectified crop and how it was made.

    Attributes:
        image: the rectified crop (same kind as the input: ``(h, w[, C])`` numpy or
            ``(C, h, w)`` tensor).
        transform: batch-1 transform, normalised output -> normalised crop coordinates.
        outline: ``(10, 33, 2)`` pixel coordinates (x, y; continuous, pixel centres at
            ``+0.5``) in the crop of the output frame's boundary and inner lines
            (:func:`~stn_plugin.geometry.frames.frame_outline`): the sampled region.
        control_points: ``(K, 2)`` TPS source points in crop pixels (None for other
            families).
        size: ``(h, w)`` of ``image``.
        flatness: the rectifier's probability that the crop needed no rectification
            (None for rectifiers that do not predict it).
        kept: True when ``keep_flat`` passed the crop through untouched.
    """

    image: Union[np.ndarray, Tensor]
    transform: Transform
    outline: np.ndarray
    control_points: Optional[np.ndarray]
    size: Tuple[int, int]
    flatness: Optional[float] = None
    kept: bool = False


def _check_size(size, what: str) -> Tuple[int, int]:
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or any(isinstance(s, bool) or int(s) != s or s < 1 for s in size)):
        raise ValueError(f"{what} must be one of {OUT_SIZES}, two positive ints (h, w) or one (h, w) per "
                         f"image, got {size!r}")
    return int(size[0]), int(size[1])


def check_out_size(out_size) -> Union[str, Tuple[int, int], List[Tuple[int, int]]]:
    """``out_size`` checked: a mode of :data:`OUT_SIZES`, ``(h, w)`` or a list of them."""
    if isinstance(out_size, str):
        if out_size not in OUT_SIZES:
            raise ValueError(f"out_size must be one of {OUT_SIZES} or (h, w), got {out_size!r}")
        return out_size
    if isinstance(out_size, (list, tuple)) and out_size and all(isinstance(s, (list, tuple)) for s in out_size):
        return [_check_size(s, f"out_size[{i}]") for i, s in enumerate(out_size)]
    return _check_size(out_size, "out_size")


class TextRectifier:
    """Learned text rectification for crops of any size (CPU or CUDA).

    Args:
        config: a recognizer's mmengine config file (with ``checkpoint``, its trained
            weights; needs OpenMMLab), or None with ``checkpoint`` a rectifier file
            (:meth:`save`).
        checkpoint: see ``config``.
        device: ``'cpu'``, ``'cuda'``, ...
        out_size: default output size: ``'text'`` (the text's own size), ``'crop'``,
            ``'model'`` or ``(h, w)``.
        sampling_ratio: sub-samples per output pixel and axis (anti-aliasing), or
            ``'auto'``: per crop, ``ceil`` of how many region pixels one output pixel
            spans, at most 4 (:func:`~stn_plugin.geometry.frames.auto_sampling_ratio`;
            1 at the text's own size), and at most ``max_side ** 2`` sub-samples.
        batch_size: crops per localization-net batch.
        channel_order: of numpy / tensor inputs with 3 or 4 channels, ``'rgb'`` (PIL,
            scikit-image) or ``'bgr'`` (``cv2.imread``); outputs keep it. Paths are
            read with OpenCV.
        grid_stride: the sampling grid is computed exactly every ``grid_stride``
            sub-samples and interpolated in between
            (:class:`~stn_plugin.geometry.interpolated_grid.InterpolatedGridTransform`);
            1 computes every sample exactly.
        max_side: the longest side of a ``'text'`` or ``'crop'`` output; longer ones
            shrink with their aspect ratio kept (and are anti-aliased by ``'auto'``).
        keep_flat: pass crops that the rectifier judges flat (flatness above
            ``flat_threshold``) through untouched; only for rectifiers that predict
            flatness (``TextOutlineNet``).
        flat_threshold: see ``keep_flat``.

    Inputs (:mod:`stn_plugin.rectify.images`): uint8, uint16 (16-bit scale), float
    (``[0, 1]`` when at most 1, else ``[0, 255]``); 4-channel crops are composited over
    white and come out with 3 channels.
    """

    def __init__(self, config: Optional[str] = None, checkpoint: Optional[str] = None,
                 device: Union[str, torch.device] = "cpu", out_size: Union[str, Sequence[int]] = "text",
                 sampling_ratio: Union[int, str] = "auto", batch_size: int = 64, channel_order: str = "rgb",
                 grid_stride: int = 4, max_side: int = MAX_SIDE, keep_flat: bool = False,
                 flat_threshold: float = 0.5) -> None:
        if config is None and checkpoint is None:
            raise ValueError("TextRectifier needs a config + checkpoint of a recognizer, a rectifier file as "
                             "checkpoint, or use TextRectifier.from_pretrained() (the shipped default)")
        if config is not None:
            # the recognizer's config is an mmengine one: this path needs OpenMMLab
            from ..apis import init_model
            model = init_model(config, checkpoint)
            cfg = model.cfg
            meta = dict(name=osp.splitext(osp.basename(config))[0], config=config, checkpoint=checkpoint or "")
            module, spec = self._from_model(model, cfg, None, meta)
        else:
            spec = load_rectifier_file(checkpoint)
            module = build_preprocessor(spec["preprocessor"], int(spec["in_channels"]))
            missing, unexpected = module.load_state_dict(spec["state_dict"], strict=False)
            if missing or unexpected:
                raise KeyError(f"rectifier weights of {checkpoint!r} do not fit its config: missing {missing}, "
                               f"unexpected {unexpected}")
        self._setup(module, spec, device, out_size, sampling_ratio, batch_size, channel_order, grid_stride,
                    max_side, keep_flat, flat_threshold)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name_or_path: str = DEFAULT_RECTIFIER, device: Union[str, torch.device] = "cpu",
                        **kwargs) -> "TextRectifier":
        """A shipped rectifier by name (:data:`~stn_plugin.rectify.rectifier_file.PRETRAINED`;
        default :data:`~stn_plugin.rectify.rectifier_file.DEFAULT_RECTIFIER`) or a
        rectifier file's path."""
        return cls(None, pretrained_path(name_or_path), device=device, **kwargs)

    @classmethod
    def from_recognizer(cls, model: nn.Module, cfg=None, name: str = "rectifier",
                        input_size: Optional[Sequence[int]] = None, **kwargs) -> "TextRectifier":
        """The rectifier of an already built recognizer ``model`` (a copy of its
        preprocessor, with its input normalisation). ``input_size``: ``(h, w)`` of the
        localization net's input, by default read from ``cfg``'s test pipeline; ``cfg``
        also gives the preprocessor's config, without which :meth:`save` refuses."""
        self = cls.__new__(cls)
        module, spec = cls._from_model(model, cfg, input_size, dict(name=name))
        self._setup(module, spec, **kwargs)
        return self

    @staticmethod
    def _from_model(model: nn.Module, cfg, input_size, meta: dict) -> Tuple[nn.Module, dict]:
        if hasattr(model, "rectifier_spec"):  # a model that is a rectifier (an outline net's trainer)
            return copy.deepcopy(model.net), model.rectifier_spec(meta)
        if getattr(model, "preprocessor", None) is None:
            raise ValueError(f"the model {meta.get('name', '')!r} has no preprocessor (rectifier) to use")
        if input_size is None:
            if cfg is None:
                raise ValueError("from_recognizer needs the model's config or its input_size (h, w)")
            from ..textrecog.rectify import model_input_size
            input_size = model_input_size(cfg)
        dp = model.data_preprocessor
        spec = rectifier_spec(None if cfg is None else cfg.model.preprocessor, model.in_channels,
                              dp.mean.flatten().tolist(), dp.std.flatten().tolist(), input_size, meta=meta)
        return copy.deepcopy(model.preprocessor), spec

    def _setup(self, module: nn.Module, spec: dict, device: Union[str, torch.device] = "cpu",
               out_size: Union[str, Sequence[int]] = "text", sampling_ratio: Union[int, str] = "auto",
               batch_size: int = 64, channel_order: str = "rgb", grid_stride: int = 4,
               max_side: int = MAX_SIDE, keep_flat: bool = False, flat_threshold: float = 0.5) -> None:
        self.spec = {k: v for k, v in spec.items() if k != "state_dict"}
        self.in_channels = int(spec["in_channels"])
        self.input_size = tuple(int(s) for s in spec["input_size"])
        self.name = str(spec.get("meta", {}).get("name", "rectifier"))
        self.module = module
        self.mean = torch.tensor(spec["mean"], dtype=torch.float32).reshape(1, -1, 1, 1)
        self.std = torch.tensor(spec["std"], dtype=torch.float32).reshape(1, -1, 1, 1)
        self.module.eval()
        self.to(device)
        opts = dict(getattr(self.module, "warp_options", {}))
        opts.pop("sampling_ratio", None)
        self.warp_options = opts
        self.out_size = check_out_size(out_size)
        if isinstance(self.out_size, list):
            raise ValueError("the default out_size must be a mode or one (h, w); give per-image sizes per call")
        if sampling_ratio != "auto" and (not isinstance(sampling_ratio, int) or sampling_ratio < 1):
            raise ValueError(f"sampling_ratio must be a positive int or 'auto', got {sampling_ratio!r}")
        self.sampling_ratio = sampling_ratio
        for value, what in ((batch_size, "batch_size"), (grid_stride, "grid_stride"), (max_side, "max_side")):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{what} must be a positive int, got {value!r}")
        if max_side < MIN_SIDE:
            raise ValueError(f"max_side must be at least {MIN_SIDE}, got {max_side}")
        self.batch_size, self.grid_stride, self.max_side = batch_size, grid_stride, max_side
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        self.channel_order = channel_order
        self._check_keep_flat(keep_flat)
        if not 0.0 <= float(flat_threshold) <= 1.0:
            raise ValueError(f"flat_threshold must be within [0, 1], got {flat_threshold!r}")
        self.keep_flat, self.flat_threshold = bool(keep_flat), float(flat_threshold)

    def _check_keep_flat(self, keep_flat: bool) -> bool:
        if keep_flat and not getattr(self.module, "keeps_aspect", False):
            raise ValueError(f"keep_flat needs a rectifier that predicts flatness; {self.name!r} does not")
        return bool(keep_flat)

    def save(self, path: str, **meta) -> None:
        """Write this rectifier as a rectifier file (``meta`` joins its ``meta``)."""
        spec = dict(self.spec)
        spec["meta"] = {**spec.get("meta", {}), **meta}
        save_rectifier_file(spec, self.module, path)

    def to(self, device: Union[str, torch.device]) -> "TextRectifier":
        self.device = torch.device(device)
        self.module.to(self.device)
        self.mean, self.std = self.mean.to(self.device), self.std.to(self.device)
        return self

    def __repr__(self) -> str:
        return (f"TextRectifier(name={self.name!r}, family={self.module.family.name!r}, "
                f"input_size={self.input_size}, device={str(self.device)!r}, out_size={self.out_size!r})")

    # -- the work ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict_transforms(self, crops: Sequence[Union[np.ndarray, TextCrop]]) -> Transform:
        """The batched transform (normalised output -> normalised crop coordinates) for
        crops (:class:`~stn_plugin.rectify.images.TextCrop` s or ``(H, W, C)`` arrays in
        RGB order), one localization-net pass on inputs shrunk to the model's size (or,
        for a net that keeps the aspect, to its height)."""
        return self._predict(crops)[0]

    def _predict(self, crops) -> Tuple[Transform, Optional[List[float]]]:
        """The transforms and, for a net that predicts it, each crop's flatness."""
        crops = [c if isinstance(c, TextCrop) else read_crop(c, f"crops[{i}]") for i, c in enumerate(crops)]
        if not getattr(self.module, "keeps_aspect", False):
            batch = np.stack([model_input(c, self.input_size, self.in_channels) for c in crops])
            x = torch.from_numpy(batch).to(self.device)
            return self.module.predict_transform((x - self.mean) / self.std), None
        mean, std = self.mean.cpu().numpy()[0], self.std.cpu().numpy()[0]
        x, widths = padded_batch([outline_input(c, self.module.height, self.module.max_width, mean, std)
                                  for c in crops])
        x, widths = torch.from_numpy(x).to(self.device), torch.from_numpy(widths).to(self.device)
        prediction = self.module(x, widths)
        aspects = torch.tensor([c.size[1] / c.size[0] for c in crops], device=self.device)
        top, bottom = self.module.outline_points(prediction, self.module.edge_points, aspects)
        flatness = torch.sigmoid(prediction.flat_logit).tolist()
        return outline_tps(top, bottom, self.module.rows), flatness

    def _sizes(self, regions, crop_sizes, out_size) -> List[Tuple[int, int]]:
        if out_size == "text":
            return [bounded_size(h, w, MIN_SIDE, self.max_side) for h, w in regions]
        if out_size == "crop":
            return [bounded_size(h, w, 1, self.max_side) for h, w in crop_sizes]
        if out_size == "model":
            return [tuple(self.module.out_size or self.input_size)] * len(crop_sizes)
        if isinstance(out_size, list):
            return list(out_size)
        return [tuple(out_size)] * len(crop_sizes)

    @torch.no_grad()
    def __call__(self, images: Union[ImageLike, Sequence[ImageLike]], out_size=None,
                 return_details: bool = False, keep_flat: Optional[bool] = None) -> Union[list, object]:
        """Rectify one image or a list of them.

        ``images``: ``(H, W)`` / ``(H, W, C)`` numpy arrays, ``(C, H, W)`` tensors or
        image paths, of any sizes (a 4-D array or tensor is a batch of equal-sized
        ones). ``out_size``: this call's output size (see the class), or a list of one
        ``(h, w)`` per image. Returns the rectified crops (a list for a list, one for
        one), each like its input (numpy ``(h, w[, C])`` in the input's dtype and value
        scale, ``(C, h, w)`` tensor on the input's device, paths give RGB uint8 arrays);
        with ``return_details`` :class:`Rectification` s. ``keep_flat``: this call's
        choice (default: the rectifier's), see the class.
        """
        keep_flat = self.keep_flat if keep_flat is None else self._check_keep_flat(keep_flat)
        batched = isinstance(images, (Tensor, np.ndarray)) and images.ndim == 4  # (N, C, H, W) / (N, H, W, C)
        single = not (batched or isinstance(images, (list, tuple)))
        items = [images] if single else list(images)
        out_size = self.out_size if out_size is None else check_out_size(out_size)
        if isinstance(out_size, list) and len(out_size) != len(items):
            raise ValueError(f"out_size has {len(out_size)} sizes for {len(items)} images")
        order = self._batching_order(items)
        results = [None] * len(items)
        for start in range(0, len(items), self.batch_size):
            indices = order[start:start + self.batch_size]
            chunk = [items[j] for j in indices]
            crops = [read_crop(img, f"images[{j}]", self.channel_order) for j, img in zip(indices, chunk)]
            transform, flatness = self._predict(crops)
            crop_sizes = [c.size for c in crops]
            regions = region_sizes(transform, crop_sizes)
            sizes = self._sizes(regions, crop_sizes, [out_size[j] for j in indices]
                                if isinstance(out_size, list) else out_size)
            ratios = ([auto_sampling_ratio(r, s, self.max_side ** 2) for r, s in zip(regions, sizes)]
                      if self.sampling_ratio == "auto" else [self.sampling_ratio] * len(sizes))
            outlines = frame_outline(transform, crop_sizes) if return_details else None
            samplers = interpolated_grid_transforms(transform, sizes, ratios, stride=self.grid_stride)
            for i, (img, crop, size) in enumerate(zip(chunk, crops, sizes)):
                p_flat = None if flatness is None else flatness[i]
                kept = keep_flat and p_flat is not None and p_flat > self.flat_threshold
                if kept:
                    out = img.clone() if isinstance(img, Tensor) else (
                        np.array(img) if isinstance(img, np.ndarray) else self._like_input(
                            torch.from_numpy(crop.pixels.transpose(2, 0, 1).astype(np.float32)), img, 1.0))
                else:
                    out = self._like_input(self._sample(crop, samplers[i], size, ratios[i]), img, crop.scale)
                if not return_details:
                    results[indices[i]] = out
                    continue
                t = transform.select(slice(i, i + 1))
                cps = None
                if isinstance(t, TPSTransform):
                    cps = normalized_to_pixel(t.control_points[0].double().cpu(), crop.size).numpy()
                results[indices[i]] = Rectification(out, t, outlines[i], cps, tuple(crop.size if kept else size),
                                                    p_flat, kept)
        return results[0] if single else results

    def _batching_order(self, items: Sequence[ImageLike]) -> List[int]:
        """The order crops go through the localization net in: for a net that sees crops
        at their own aspect, by aspect ratio when every size is known without reading a
        file, so that a batch pads little; else as given. Results keep the input order."""
        if not getattr(self.module, "keeps_aspect", False) or len(items) <= 1:
            return list(range(len(items)))
        aspects = []
        for img in items:
            if isinstance(img, Tensor) and img.dim() == 3:
                aspects.append(img.shape[2] / max(img.shape[1], 1))
            elif isinstance(img, np.ndarray) and img.ndim in (2, 3):
                aspects.append(img.shape[1] / max(img.shape[0], 1))
            else:
                return list(range(len(items)))
        return sorted(range(len(items)), key=aspects.__getitem__)

    def _sample(self, crop: TextCrop, transform: Transform, size: Sequence[int], sampling_ratio: int) -> Tensor:
        """``(C, h, w)`` float32 in ``[0, 255]`` on the device: ``crop`` sampled once by a
        batch-1 ``transform``; one float copy of the crop is made."""
        src = np.ascontiguousarray(crop.pixels.transpose(2, 0, 1), dtype=np.float32)
        if crop.scale != 1:
            src *= np.float32(crop.scale)
        src = torch.from_numpy(src)[None].to(self.device)
        return warp(src, transform, tuple(size), sampling_ratio=sampling_ratio, **self.warp_options)[0]

    def _like_input(self, flat: Tensor, original: ImageLike, scale: float):
        """``flat`` (``(C, h, w)`` in ``[0, 255]``) in the kind, dtype and value scale of
        ``original``."""
        if isinstance(original, Tensor):
            out = flat if scale == 1 else flat / scale
            if out.shape[0] == 3 and self.channel_order == "bgr":
                out = out.flip(0)
            if not original.is_floating_point():
                out = (out + 0.5).floor().clamp(0, 255 / scale)
            return out.to(device=original.device, dtype=original.dtype)
        arr = flat.permute(1, 2, 0).cpu().numpy()
        if not isinstance(original, np.ndarray):  # a path: RGB uint8
            return np.clip(arr + 0.5, 0, 255).astype(np.uint8)
        if arr.shape[2] == 3 and self.channel_order == "bgr":
            arr = arr[..., ::-1]
        if scale != 1:
            arr = arr / np.float32(scale)
        if original.dtype.kind in "iu":
            info = np.iinfo(original.dtype)
            arr = np.clip(arr + 0.5, max(info.min, 0), info.max).astype(original.dtype)
        else:
            arr = arr.astype(original.dtype)
        if original.ndim == 2:
            return arr[..., 0]
        return np.ascontiguousarray(arr)

    # -- refining a geometric crop ------------------------------------------------------------
    @torch.no_grad()
    def refine_transforms(self, crops: Sequence[Tensor], transforms: Sequence[Transform],
                          sizes: Sequence[Sequence[int]]) -> Tuple[List[Transform], List[Tuple[int, int]]]:
        """For :func:`~stn_plugin.textrecog.geometric_rectification.rectify_regions`:
        predict the learned transform on each geometric crop (``(C, h, w)`` float
        tensors in ``[0, 255]``, in ``channel_order``) and compose it after the geometric one, so the
        scene image is still sampled once; the output keeps the geometric crop's size
        (``out_size='text'`` re-measures it through the learned transform)."""
        arrays = [c.permute(1, 2, 0).cpu().numpy() for c in crops]
        if self.channel_order == "bgr":
            arrays = [a[..., ::-1] if a.shape[2] == 3 else a for a in arrays]
        learned = self.predict_transforms([TextCrop(a, 1.0) for a in arrays])
        new_sizes = (frame_sizes(learned, [tuple(s) for s in sizes], max_side=self.max_side)
                     if self.out_size == "text" else [tuple(s) for s in sizes])
        out = [compose_transforms(t, learned.select(slice(i, i + 1))) for i, t in enumerate(transforms)]
        return out, new_sizes
