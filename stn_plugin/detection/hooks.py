"""Hooks that make RoI rectification visible: statistics with collapse warnings, and
drawings of what each rectifier samples.
"""
from __future__ import annotations

import math
from typing import Iterator, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS

from ..geometry.coords import roi_frame_to_pixel
from ..geometry.regularizers import roi_transform_statistics
from ..geometry.transforms import TPSTransform
from ..ops.roi_sample import roi_sample
from .roi_rectifiers import RoIRectifierExtractor


def iter_rectifiers(model) -> Iterator[Tuple[str, RoIRectifierExtractor]]:
    """``(name, extractor)`` for every RoI rectifier in a (possibly wrapped) model."""
    if is_model_wrapper(model):
        model = model.module
    for name, module in model.named_modules():
        if isinstance(module, RoIRectifierExtractor):
            yield name, module


def _image_size(data_batch) -> Tuple[int, int]:
    samples = data_batch.get("data_samples") if isinstance(data_batch, dict) else None
    if samples:
        meta = samples[0].metainfo
        return tuple(meta.get("batch_input_shape", meta.get("img_shape")))[:2]
    inputs = data_batch["inputs"]
    return tuple(inputs[0].shape[-2:])


@HOOKS.register_module()
class RectifierStatsHook(Hook):
    """Log transform statistics of every RoI rectifier and warn when one collapses.

    Every ``interval`` training iterations, for each rectifier, logs
    ``stn/<name>/{identity_distance, area_scale, min_area_scale, mirrored_fraction,
    outside_fraction}`` (see
    :func:`~stn_plugin.geometry.regularizers.roi_transform_statistics`; the area scale
    is unsigned, mirroring is its own number) and warns when the mean area scale falls
    below ``collapse_area`` or more than ``max_outside`` of the samples fall outside the
    image.

    Priority ``NORMAL`` runs it before mmengine's ``LoggerHook`` (``BELOW_NORMAL``) in
    ``after_train_iter``, so the statistics are in the message hub when the logger
    prints that iteration's line.
    """

    priority = "NORMAL"

    def __init__(self, interval: int = 50, collapse_area: float = 0.05, max_outside: float = 0.5) -> None:
        self.interval = interval
        self.collapse_area = collapse_area
        self.max_outside = max_outside

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        for name, ext in iter_rectifiers(runner.model):
            if ext.last_params is None or ext.last_rois is None:
                continue
            stats = roi_transform_statistics(ext.transform_of_last(),
                                             ext.last_rois[:, 1:].detach(), _image_size(data_batch))
            for key, value in stats.items():
                # the "train/" prefix makes the LoggerHook print and write them
                runner.message_hub.update_scalar(f"train/stn/{name}/{key}", value)
            if stats:
                self._warn(runner, name, stats)

    def _warn(self, runner, name: str, stats: dict) -> None:
        """One warning per unhealthy rectifier, with the advice that fits the symptom."""
        problems, advice = [], []
        if stats["area_scale"] < self.collapse_area:
            problems.append(f"may be collapsing: mean area scale {stats['area_scale']:.3g} (warn below "
                            f"{self.collapse_area})")
            advice.append("bound the family's scale (its scale limits) or weight AreaBoundLoss more")
        if stats["outside_fraction"] > self.max_outside:
            problems.append(f"samples outside the image: outside fraction {stats['outside_fraction']:.3g} "
                            f"(warn above {self.max_outside})")
            # the rectifier's transforms live in the RoI frame, so OutsideSamplingLoss bounds them
            # by the box; that keeps them in the image (boxes are) but also stops looking past the box
            advice.append("bound the family's translation and scale, or add OutsideSamplingLoss, which on an "
                          "RoI rectifier keeps the samples inside the RoI box (stricter than the image)")
        if problems:
            runner.logger.warning(f"RoI rectifier '{name}' at iter {runner.iter + 1} " + "; ".join(problems)
                                  + ". Consider: " + "; ".join(advice) + ".")


def _outline_points(transform, boxes: torch.Tensor, tps_lines: int = 5, per_edge: int = 16):
    """Polylines (image pixels) per RoI: the sampled quadrilateral / curved outline,
    plus inner grid lines for TPS."""
    t = torch.linspace(-1, 1, per_edge)
    one = torch.ones_like(t)
    edges = [torch.stack([t, -one], -1), torch.stack([one, t], -1), torch.stack([t.flip(0), one], -1),
             torch.stack([-one, t.flip(0)], -1)]
    lines = [torch.cat(edges)]
    if isinstance(transform, TPSTransform):
        for v in torch.linspace(-1, 1, tps_lines)[1:-1]:
            lines += [torch.stack([t, v * one], -1), torch.stack([v * one, t], -1)]
    out = []
    for line in lines:
        pts = transform.map_points(line[None].to(transform.dtype).to(transform.device))
        out.append(roi_frame_to_pixel(pts, boxes).cpu().numpy())
    return out  # list of (N, P, 2)


def _display_zoom(image_width: int, strip_width: int, max_zoom: int = 4) -> int:
    """Integer factor that makes an image about as wide as the crop strip under it."""
    return int(min(max_zoom, max(1, math.ceil(strip_width / max(image_width, 1)))))


@HOOKS.register_module()
class RectifierVisualizationHook(Hook):
    """Draw, during validation / test, what each RoI rectifier samples.

    For the first ``max_images`` images of every ``interval``-th batch, it draws the
    first ``max_rois`` RoIs the rectifier saw (RPN proposals come sorted by score)
    as their sampled quadrilaterals (TPS: curved outlines and inner grid lines), and
    a strip of the rectified crops of the input image. Images go through mmengine's
    visualizer, so ``vis_backends`` decide where they land (local files,
    TensorBoard, ...).
    """

    priority = "LOW"

    def __init__(self, interval: int = 50, max_images: int = 1, max_rois: int = 8, crop_size: int = 48) -> None:
        self.interval = interval
        self.max_images = max_images
        self.max_rois = max_rois
        self.crop_size = crop_size

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._draw(runner, batch_idx, data_batch, "val")

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._draw(runner, batch_idx, data_batch, "test")

    def _draw(self, runner, batch_idx: int, data_batch, mode: str) -> None:
        if batch_idx % self.interval or data_batch is None:
            return
        visualizer = runner.visualizer
        for name, ext in iter_rectifiers(runner.model):
            if ext.last_params is None:
                continue
            rois = ext.last_rois.detach().cpu().float()
            params = ext.last_params.detach().cpu().float()
            for img_idx, img in enumerate(data_batch["inputs"][: self.max_images]):
                sel = (rois[:, 0] == img_idx).nonzero().squeeze(1)[: self.max_rois]
                if sel.numel() == 0:
                    continue
                transform = ext.family.build(params[sel])
                boxes = rois[sel, 1:]
                image = img.detach().cpu().permute(1, 2, 0).numpy()[..., ::-1].copy()  # BGR -> RGB
                # Small images are enlarged (nearest, integer factor) so the drawing is as wide
                # as the crop strip; pixel (i, j) covers [j, j+1) x [i, i+1), so an integer
                # nearest upscale maps continuous coordinates by a plain multiplication.
                zoom = _display_zoom(image.shape[1], len(sel) * self.crop_size)
                visualizer.set_image(np.repeat(np.repeat(image, zoom, 0), zoom, 1))
                for line in _outline_points(transform, boxes):
                    for poly in line * zoom:  # the visualizer draws segments: (start, end) per row
                        xs = np.stack([poly[:-1, 0], poly[1:, 0]], 1)
                        ys = np.stack([poly[:-1, 1], poly[1:, 1]], 1)
                        visualizer.draw_lines(xs, ys, colors="lime", line_widths=1)
                drawn = visualizer.get_image()
                size = (self.crop_size, self.crop_size)
                src = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
                crop_rois = torch.cat([torch.zeros(len(sel), 1), boxes], 1)
                crops = roi_sample(src, crop_rois, transform, size, 1.0, 2, "zeros")
                strip = crops.clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
                strip = np.concatenate(list(strip), axis=1)
                canvas = np.zeros((drawn.shape[0] + strip.shape[0], max(drawn.shape[1], strip.shape[1]), 3), np.uint8)
                canvas[: drawn.shape[0], : drawn.shape[1]] = drawn
                canvas[drawn.shape[0]:, : strip.shape[1]] = strip
                step = runner.iter if mode == "val" else batch_idx
                # no "/" in the name: the local backend writes it as one file name
                visualizer.add_image(f"{mode}_rectifier_{name}_img{img_idx}_batch{batch_idx}", canvas, step=step)
