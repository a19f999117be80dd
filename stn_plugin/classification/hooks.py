"""``tools/test.py --show-dir`` for digit classifiers: inputs beside rectified outputs."""
from __future__ import annotations

import os.path as osp
import time
from typing import Any, Optional, Sequence

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import mkdir_or_exist

from .visualization import rectification_tiles


@HOOKS.register_module()
class DigitVisualizationHook(Hook):
    """Draws test batches of a :class:`DigitClassifier`: each input beside what its
    spatial transformer makes of it (the input itself without one), labelled
    ``true/predicted``.

    Same switches as mmdet's ``DetVisualizationHook``, so ``tools/test.py``'s
    ``--show`` / ``--show-dir`` work unchanged: ``draw`` turns it on;
    ``test_out_dir`` (relative to ``work_dir/timestamp``, as in mmdet) receives one
    PNG per ``interval`` test batches; ``show`` displays them through the runner's
    visualizer for ``wait_time`` seconds.
    """

    def __init__(self, draw: bool = False, interval: int = 1, max_per_batch: int = 32, show: bool = False,
                 wait_time: float = 0.0, test_out_dir: Optional[str] = None) -> None:
        if interval < 1 or max_per_batch < 1:
            raise ValueError(f"DigitVisualizationHook: interval and max_per_batch must be >= 1, got "
                             f"{interval}, {max_per_batch}")
        self.draw, self.interval, self.max_per_batch = draw, interval, max_per_batch
        self.show, self.wait_time, self.test_out_dir = show, wait_time, test_out_dir
        self._out_dir: Optional[str] = None

    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None,
                        outputs: Optional[Sequence] = None) -> None:
        if not self.draw or batch_idx % self.interval:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, "rectify"):
            raise TypeError(f"DigitVisualizationHook needs a model with rectify(), got {type(model).__name__}")
        k = self.max_per_batch
        with torch.no_grad():
            data = model.data_preprocessor(data_batch, False)
            inputs = data["inputs"][:k]
            rectified, _ = model.rectify(inputs)
        gts = [int(s.gt_label) for s in outputs[:k]] if outputs else None
        preds = [int(s.pred_label) for s in outputs[:k]] if outputs else None
        image = rectification_tiles(inputs, rectified, gts, preds)
        if self.show:
            runner.visualizer.show(image[..., ::-1], win_name=f"batch {batch_idx}", wait_time=self.wait_time)
        if self.test_out_dir is not None:
            import cv2

            if self._out_dir is None:
                self._out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
                mkdir_or_exist(self._out_dir)
            cv2.imwrite(osp.join(self._out_dir, f"batch_{batch_idx:05d}.png"), image)


@HOOKS.register_module()
class ProgressPrinterHook(Hook):
    """Prints one short line every ``interval`` training iterations (``print``, not the
    logger, so it shows even with ``log_level='WARNING'``) and records the training
    time in the message hub as info ``train_seconds`` at the last iteration."""

    priority = "LOW"

    def __init__(self, interval: int = 100, prefix: str = "") -> None:
        if interval < 1:
            raise ValueError(f"ProgressPrinterHook: interval must be >= 1, got {interval}")
        self.interval, self.prefix = interval, prefix
        self._t0 = 0.0

    def before_train(self, runner) -> None:
        self._t0 = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        it, total = runner.iter + 1, runner.max_iters
        if it % self.interval and it != total:
            return
        elapsed = time.perf_counter() - self._t0
        eta = elapsed / it * (total - it)
        values = "  ".join(f"{k} {float(v.detach() if hasattr(v, 'detach') else v):.3f}"
                           for k, v in (outputs or {}).items() if k in ("loss", "acc") or k.startswith("loss_stn"))
        print(f"{self.prefix}iter {it}/{total}  {values}  ({elapsed:.0f} s, eta {eta:.0f} s)", flush=True)
        if it == total:
            runner.message_hub.update_info("train_seconds", elapsed)
