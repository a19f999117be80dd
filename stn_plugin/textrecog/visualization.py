"""``tools/test.py --show-dir`` for text recognizers: crop, rectified crop, prediction, ground truth."""
from __future__ import annotations

import os.path as osp
from typing import Any, List, Optional, Sequence

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import mkdir_or_exist
from torch import Tensor

from .rectify import draw_rectification


def _pixels(images: Tensor, data_preprocessor) -> List[np.ndarray]:
    """Normalised ``(N, C, H, W)`` model inputs -> uint8 ``(H, W, C)`` images, undoing
    the data preprocessor's normalisation when it has one."""
    images = images.detach().float().cpu()
    if getattr(data_preprocessor, "_enable_normalize", False):
        images = images * data_preprocessor.std.detach().cpu() + data_preprocessor.mean.detach().cpu()
    return list(images.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy())


def recognition_panel(crops: Sequence[np.ndarray], rectified: Sequence[np.ndarray], transform,
                      predictions: Sequence[str], ground_truths: Sequence[Optional[str]],
                      height: int = 64) -> np.ndarray:
    """One RGB image, a row per sample: the crop (with the region the rectifier sampled
    drawn on it), the rectified crop, and a caption ``pred '...' | gt '...'`` marked
    ``ok`` or ``WRONG`` (case-insensitive comparison).

    ``crops`` and ``rectified`` are uint8 ``(H, W, C)`` images; ``transform`` the
    batched transform that produced ``rectified`` from ``crops`` (None without a
    rectifier: the crop is shown twice)."""
    rows = []
    for i, (crop, rect, pred) in enumerate(zip(crops, rectified, predictions)):
        gt = ground_truths[i] if i < len(ground_truths) else None
        mark = "" if gt is None else ("ok   " if pred.lower() == gt.lower() else "WRONG ")
        caption = f"{mark}pred '{pred}'" + ("" if gt is None else f" | gt '{gt}'")
        one = None if transform is None else transform.select(torch.tensor([i], device=transform.device))
        rows.append(draw_rectification(crop, rect, one, caption=caption, height=height))
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(padded, 0)


@HOOKS.register_module()
class TextRecogVisualizationHook(Hook):
    """Draws test (and validation) batches of a :class:`CTCTextRecognizer`: for each
    crop, what the rectifier sampled, the rectified crop, the prediction and the
    ground truth (see :func:`recognition_panel`).

    Same switches as mmdet's ``DetVisualizationHook``, so ``tools/test.py``'s
    ``--show`` / ``--show-dir`` work unchanged: ``draw`` turns it on; during test,
    ``test_out_dir`` (relative to ``work_dir/timestamp``, as in mmdet) receives one PNG
    per ``interval`` batches and ``show`` displays them for ``wait_time`` seconds;
    without either, and during validation, the panels go to the runner's visualizer
    (its ``vis_backends``: local files, TensorBoard, ...).
    """

    priority = "NORMAL"

    def __init__(self, draw: bool = False, interval: int = 1, max_per_batch: int = 16, show: bool = False,
                 wait_time: float = 0.0, test_out_dir: Optional[str] = None, height: int = 64) -> None:
        if interval < 1 or max_per_batch < 1 or height < 8:
            raise ValueError(f"TextRecogVisualizationHook: interval and max_per_batch must be >= 1 and height >= 8, "
                             f"got {interval}, {max_per_batch}, {height}")
        self.draw, self.interval, self.max_per_batch, self.height = draw, interval, max_per_batch, height
        self.show, self.wait_time, self.test_out_dir = show, wait_time, test_out_dir
        self._out_dir: Optional[str] = None

    def _panel(self, runner, data_batch: Any, outputs: Optional[Sequence]) -> np.ndarray:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, "rectify"):
            raise TypeError(f"TextRecogVisualizationHook needs a text recognizer with rectify(), "
                            f"got {type(model).__name__}")
        k = self.max_per_batch
        with torch.no_grad():
            data = model.data_preprocessor(data_batch, False)
            inputs = data["inputs"][:k]
            rectified, transform = model.rectify(inputs)
        samples = list(outputs or data["data_samples"])[:k]
        preds = [s.pred_text.item if hasattr(s, "pred_text") else "" for s in samples]
        gts = [s.gt_text.item if hasattr(s, "gt_text") else None for s in samples]
        crops = _pixels(inputs, model.data_preprocessor)
        return recognition_panel(crops, _pixels(rectified, model.data_preprocessor), transform, preds, gts,
                                 self.height)

    def after_val_iter(self, runner, batch_idx: int, data_batch: Any = None,
                       outputs: Optional[Sequence] = None) -> None:
        if self.draw and batch_idx % self.interval == 0:
            runner.visualizer.add_image(f"val_textrecog_batch{batch_idx}", self._panel(runner, data_batch, outputs),
                                        step=runner.iter)

    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None,
                        outputs: Optional[Sequence] = None) -> None:
        if not self.draw or batch_idx % self.interval:
            return
        panel = self._panel(runner, data_batch, outputs)
        if self.show:
            runner.visualizer.show(panel, win_name=f"batch {batch_idx}", wait_time=self.wait_time)
        if self.test_out_dir is not None:
            import cv2

            if self._out_dir is None:
                self._out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
                mkdir_or_exist(self._out_dir)
            cv2.imwrite(osp.join(self._out_dir, f"batch_{batch_idx:05d}.png"), panel[..., ::-1])
        if not self.show and self.test_out_dir is None:
            runner.visualizer.add_image(f"test_textrecog_batch{batch_idx}", panel, step=batch_idx)
