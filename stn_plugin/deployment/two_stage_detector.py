"""A two-stage mmdet detector (e.g. Faster R-CNN with an RoI rectifier) in ONNX Runtime.

A whole detector does not go through ``torch.onnx.export`` as one graph: its
post-processing is data-dependent Python (per-image loops, score thresholds, NMS,
empty-result branches), which a trace freezes at the traced image's values. OpenMMLab's
own tool for this, mmdeploy, rewrites those parts, but mmdeploy 1.3.1 cannot be used
beside this stack (see docs/deployment.md). So the detector is split
where the data-dependent parts are:

* ``features`` graph: the preprocessed batch ``(B, 3, H, W)`` -> the FPN levels and the
  RPN head's raw outputs (per level: class scores and box deltas);
* ``roi_stage`` graph: the FPN levels the RoI extractor reads and ``rois (N, 5)`` ->
  the box head's ``cls_score (N, K+1)`` and ``bbox_pred (N, 4K)``; the RoI rectifier
  (localization net, transform, per-RoI sampling) is inside, with a dynamic ``N``.

Between and after them, :class:`OnnxRuntimeTwoStageDetector` runs mmdet's own
post-processing code in PyTorch (anchor decoding and NMS of the RPN, box decoding and
per-class NMS of the box head): code without weights, so the only numbers that
differ from PyTorch are the two graphs', and the detections match PyTorch's.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from .onnx_export import export_onnx
from .onnxruntime_parity import OnnxRuntimeModel

__all__ = ["DetectorFeatureGraph", "RoIStageGraph", "export_two_stage_detector", "OnnxRuntimeTwoStageDetector",
           "split_paths"]


class DetectorFeatureGraph(nn.Module):
    """``batch_inputs (B, 3, H, W)`` -> ``(*fpn_levels, *rpn_cls_scores, *rpn_bbox_preds)``."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        feats = self.detector.extract_feat(batch_inputs)
        cls_scores, bbox_preds = self.detector.rpn_head(feats)
        return (*feats, *cls_scores, *bbox_preds)


class RoIStageGraph(nn.Module):
    """``(feat_0 .. feat_{L-1}, rois (N, 5))`` -> ``(cls_score (N, K+1), bbox_pred (N, 4K))``:
    the RoI extractor (an RoI rectifier) and the box head of a ``StandardRoIHead``."""

    def __init__(self, roi_head: nn.Module) -> None:
        super().__init__()
        self.roi_head = roi_head

    def forward(self, *inputs: Tensor) -> Tuple[Tensor, Tensor]:
        *feats, rois = inputs
        results = self.roi_head._bbox_forward(tuple(feats), rois)
        return results["cls_score"], results["bbox_pred"]


def split_paths(out: Union[str, os.PathLike]) -> Tuple[Path, Path]:
    """``model.onnx`` -> ``(model.features.onnx, model.roi_stage.onnx)``."""
    out = Path(out)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    return out.with_name(stem + ".features.onnx"), out.with_name(stem + ".roi_stage.onnx")


def _num_levels(detector: nn.Module, batch_inputs: Tensor) -> Tuple[int, int]:
    with torch.no_grad():
        num_levels = len(detector.extract_feat(batch_inputs[:1]))
    return num_levels, int(detector.roi_head.bbox_roi_extractor.num_inputs)


def export_two_stage_detector(detector: nn.Module, batch_inputs: Tensor, rois: Tensor,
                              out: Union[str, os.PathLike], opset: int = 16, sampler: str = "gridsample",
                              dynamic: bool = True) -> Tuple[Path, Path]:
    """Export the ``features`` and ``roi_stage`` graphs of ``detector``.

    Args:
        detector: an mmdet ``TwoStageDetector`` with a ``StandardRoIHead``-style head
            (``RectifyingRoIHead`` included), in eval mode.
        batch_inputs: a preprocessed batch ``(B, 3, H, W)`` to trace with.
        rois: ``(N, 5)`` RoIs to trace the RoI stage with (e.g. RPN proposals).
        out: ``model.onnx`` names the pair ``model.features.onnx`` / ``model.roi_stage.onnx``.
        opset, sampler: as in :func:`~stn_plugin.deployment.export_onnx`.
        dynamic: leave batch size, image size and the number of RoIs dynamic.
    """
    features_path, roi_path = split_paths(out)
    num_levels, roi_levels = _num_levels(detector, batch_inputs)
    level_names = [f"feat_{i}" for i in range(num_levels)]
    cls_names = [f"rpn_cls_{i}" for i in range(num_levels)]
    reg_names = [f"rpn_reg_{i}" for i in range(num_levels)]
    image_axes = {0: "batch", 2: "height", 3: "width"}
    dyn = {"images": image_axes, **{n: {0: "batch", 2: f"h{i}", 3: f"w{i}"} for names in
                                    (level_names, cls_names, reg_names) for i, n in enumerate(names)}}
    export_onnx(DetectorFeatureGraph(detector), (batch_inputs,), features_path, input_names=["images"],
                output_names=level_names + cls_names + reg_names, dynamic_axes=dyn if dynamic else None,
                opset=opset, sampler=sampler)
    with torch.no_grad():
        feats = detector.extract_feat(batch_inputs)[:roi_levels]
    roi_dyn = {**{n: {0: "batch", 2: f"h{i}", 3: f"w{i}"} for i, n in enumerate(level_names[:roi_levels])},
               "rois": {0: "num_rois"}, "cls_score": {0: "num_rois"}, "bbox_pred": {0: "num_rois"}}
    export_onnx(RoIStageGraph(detector.roi_head), (*feats, rois), roi_path,
                input_names=level_names[:roi_levels] + ["rois"], output_names=["cls_score", "bbox_pred"],
                dynamic_axes=roi_dyn if dynamic else None, opset=opset, sampler=sampler)
    return features_path, roi_path


class OnnxRuntimeTwoStageDetector:
    """``predict`` of an mmdet two-stage detector with its two graphs in ONNX Runtime.

    ``detector`` supplies the configuration and mmdet's weight-free post-processing
    (anchors, box coders, NMS); its weights are not used. Takes the preprocessed batch
    and data samples that ``detector.predict`` takes, returns the data samples with
    ``pred_instances``.
    """

    def __init__(self, detector: nn.Module, features_onnx: Union[str, os.PathLike],
                 roi_stage_onnx: Union[str, os.PathLike], num_threads: Optional[int] = None) -> None:
        self.detector = detector
        self.features = OnnxRuntimeModel(features_onnx, num_threads)
        self.roi_stage = OnnxRuntimeModel(roi_stage_onnx, num_threads)
        self.num_levels = sum(name.startswith("feat_") for name in self.features.output_names)

    @torch.no_grad()
    def predict(self, batch_inputs: Tensor, batch_data_samples: Sequence, rescale: bool = True) -> List:
        from mmdet.structures.bbox import bbox2roi

        outputs = self.features(batch_inputs)
        n = self.num_levels
        feats, cls_scores, bbox_preds = outputs[:n], outputs[n:2 * n], outputs[2 * n:3 * n]
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        rpn_results = self.detector.rpn_head.predict_by_feat(cls_scores, bbox_preds,
                                                              batch_img_metas=batch_img_metas, rescale=False)
        roi_head = self.detector.roi_head
        proposals = [r.bboxes for r in rpn_results]
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            raise RuntimeError("the RPN proposed no boxes; nothing to run the RoI stage on")
        cls_score, bbox_pred = self.roi_stage(*feats[:self.roi_stage_levels], rois)
        per_image = tuple(len(p) for p in proposals)
        results = roi_head.bbox_head.predict_by_feat(
            rois=rois.split(per_image, 0), cls_scores=cls_score.split(per_image, 0),
            bbox_preds=bbox_pred.split(per_image, 0), batch_img_metas=batch_img_metas,
            rcnn_test_cfg=roi_head.test_cfg, rescale=rescale)
        return self.detector.add_pred_to_datasample(list(batch_data_samples), results)

    @property
    def roi_stage_levels(self) -> int:
        return len(self.roi_stage.input_names) - 1
