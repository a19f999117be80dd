"""Export a model given by an mmengine config and checkpoint, and check it in ONNX Runtime.

What :func:`export_model` writes depends on the model:

* ``CTCTextRecognizer`` (any preprocessor: TPS, affine, projective, none) and
  ``DigitClassifier``: one graph, pixels ``images (N, C, H, W)`` in (the data
  preprocessor's normalisation is in the graph), ``logits`` out. Dynamic: the batch,
  and for a recognizer the width (the height too; a classifier's size is fixed by
  its layers).
* a two-stage detector (Faster R-CNN with or without an RoI rectifier): the
  ``features`` and ``roi_stage`` graphs of :mod:`.two_stage_detector`, with mmdet's
  post-processing run by :class:`~.two_stage_detector.OnnxRuntimeTwoStageDetector`.

:func:`check_exported` compares the files with the PyTorch model on inputs of another
batch size (and width, where dynamic) than the traced ones -- random pixels, or for a
detector the first images of the config's test set when it can be read -- and times
both side by side.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from .export_adapters import ModelTensorGraph
from .onnx_export import export_onnx
from .onnxruntime_parity import OnnxRuntimeModel, compare_with_pytorch, measure_latency

__all__ = ["model_kind", "input_size", "export_model", "check_exported", "CheckResult",
           "detector_batch"]

KINDS = ("recognizer", "classifier", "two_stage_detector")


def model_kind(model: nn.Module) -> str:
    """``'recognizer'``, ``'classifier'`` or ``'two_stage_detector'``; raises for others."""
    names = {cls.__name__ for cls in type(model).__mro__}
    if "CTCTextRecognizer" in names:
        return "recognizer"
    if "DigitClassifier" in names:
        return "classifier"
    if "TwoStageDetector" in names and hasattr(model.roi_head, "_bbox_forward"):
        return "two_stage_detector"
    raise ValueError(f"cannot export a {type(model).__name__}: supported are CTCTextRecognizer, DigitClassifier "
                     "and two-stage detectors with a standard RoI head (Faster R-CNN, with or without an "
                     "RoI rectifier)")


def _pipeline_scale(cfg, transform_type: str) -> Optional[Tuple[int, int]]:
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        return None
    for step in pipeline:
        if step.get("type") == transform_type and "scale" in step:
            scale = step["scale"]
            return (scale, scale) if isinstance(scale, int) else tuple(scale)
    return None


def input_size(model: nn.Module, cfg) -> Tuple[int, int]:
    """``(H, W)`` of the images the model receives at test time, read from the config."""
    kind = model_kind(model)
    if kind == "classifier":
        return tuple(model.input_size)
    if kind == "recognizer":
        size = _pipeline_scale(cfg, "ResizeTextCrop")
    else:  # mmdet's Resize takes (w, h); digit scenes are square
        size = _pipeline_scale(cfg, "Resize")
        size = None if size is None else (size[1], size[0])
    if size is None:
        raise ValueError("cannot read the input size from the config's test pipeline; pass it explicitly")
    return size


def detector_batch(model: nn.Module, images: Tensor):
    """Run mmdet's data preprocessor on uint8-range images ``(B, 3, H, W)``: the
    preprocessed (normalised, padded) batch and the data samples ``predict`` takes."""
    from mmdet.structures import DetDataSample

    samples = []
    for img in images:
        h, w = img.shape[-2:]
        samples.append(DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0))))
    data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), False)
    return data["inputs"], data["data_samples"]


def _random_images(batch: int, channels: int, size: Tuple[int, int], seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, channels, *size), generator=gen).float()


def export_model(model: nn.Module, cfg, out: Union[str, os.PathLike], opset: int = 16, sampler: str = "gridsample",
                 dynamic: bool = True, size: Optional[Tuple[int, int]] = None) -> List[Path]:
    """Export ``model`` (from :func:`stn_plugin.apis.init_model`) to ``out``; returns the files written."""
    kind = model_kind(model)
    size = tuple(size) if size is not None else input_size(model, cfg)
    if kind == "two_stage_detector":
        from .two_stage_detector import export_two_stage_detector

        batch_inputs, samples = detector_batch(model, _random_images(1, 3, size, 0))
        with torch.no_grad():
            feats = model.extract_feat(batch_inputs)
            proposals = model.rpn_head.predict(feats, samples, rescale=False)
        from mmdet.structures.bbox import bbox2roi

        rois = bbox2roi([p.bboxes for p in proposals])
        return list(export_two_stage_detector(model, batch_inputs, rois, out, opset, sampler, dynamic))
    axes = {0: "batch"}
    if kind == "recognizer":
        axes.update({2: "height", 3: "width"})
    path = export_onnx(ModelTensorGraph(model), (_random_images(1, model.in_channels, size, 0),), out,
                       input_names=["images"], output_names=["logits"],
                       dynamic_axes={"images": axes, "logits": {0: "batch", 1: "frames"} if kind == "recognizer"
                                     else {0: "batch"}} if dynamic else None, opset=opset, sampler=sampler)
    return [path]


@dataclass
class CheckResult:
    """What :func:`check_exported` measured."""

    kind: str
    input_shape: Tuple[int, ...]
    max_abs_diff: float
    ort_ms: float
    torch_ms: float
    details: Dict[str, object] = field(default_factory=dict)


def check_exported(model: nn.Module, cfg, files: List[Path], dynamic: bool = True,
                   size: Optional[Tuple[int, int]] = None, repeats: int = 10) -> CheckResult:
    """Compare the exported ``files`` with ``model`` in ONNX Runtime (CPU), at another
    batch size (and, for a dynamic recognizer, width) than traced; time both."""
    kind = model_kind(model)
    size = tuple(size) if size is not None else input_size(model, cfg)
    if kind == "two_stage_detector":
        return _check_detector(model, cfg, files, size, dynamic, repeats)
    batch = 4 if dynamic else 1
    check_size = (size[0], size[1] + 16) if dynamic and kind == "recognizer" else size
    images = _random_images(batch, model.in_channels, check_size, 1)
    graph, runtime = ModelTensorGraph(model).eval(), OnnxRuntimeModel(files[0])
    report = compare_with_pytorch(graph, runtime, [images])
    with torch.no_grad():
        ort_ms, torch_ms = measure_latency(lambda: runtime(images), lambda: graph(images), repeats=repeats)
    return CheckResult(kind, tuple(images.shape), report.worst, ort_ms, torch_ms, dict(report=str(report)))


def _dataset_batch(model: nn.Module, cfg, batch: int):
    """The first ``batch`` images of the config's test set, preprocessed, or None when the
    data cannot be read (then the check uses random images)."""
    from mmdet.registry import DATASETS

    try:
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        items = [dataset[i] for i in range(min(batch, len(dataset)))]
    except (FileNotFoundError, OSError, KeyError, AttributeError, IndexError):
        return None
    if not items:
        return None
    data = model.data_preprocessor(dict(inputs=[it["inputs"] for it in items],
                                        data_samples=[it["data_samples"] for it in items]), False)
    return data["inputs"], data["data_samples"]


def _check_detector(model, cfg, files, size, dynamic, repeats) -> CheckResult:
    from .two_stage_detector import OnnxRuntimeTwoStageDetector

    batch = 2 if dynamic else 1
    data = _dataset_batch(model, cfg, batch)
    if data is None:  # random pixels, at another size than traced when dynamic
        check_size = (size[0] + 32, size[1]) if dynamic else size
        data = detector_batch(model, _random_images(batch, 3, check_size, 1))
    batch_inputs, samples = data
    runtime = OnnxRuntimeTwoStageDetector(model, *files)
    with torch.no_grad():
        want = model.predict(batch_inputs, [s.clone() for s in samples])
    got = runtime.predict(batch_inputs, [s.clone() for s in samples])
    diff, labels_equal, counts = 0.0, True, []
    for w, g in zip(want, got):
        wi, gi = w.pred_instances, g.pred_instances
        counts.append((len(wi), len(gi)))
        if len(wi) != len(gi) or not torch.equal(wi.labels, gi.labels):
            labels_equal = False
            continue
        if len(wi):
            diff = max(diff, float((wi.bboxes - gi.bboxes).abs().max()), float((wi.scores - gi.scores).abs().max()))
    with torch.no_grad():
        ort_ms, torch_ms = measure_latency(lambda: runtime.predict(batch_inputs, [s.clone() for s in samples]),
                                           lambda: model.predict(batch_inputs, [s.clone() for s in samples]),
                                           repeats=repeats)
    images = "test set" if all(s.metainfo.get("img_path") for s in samples) else "random pixels"
    return CheckResult("two_stage_detector", tuple(batch_inputs.shape), diff if labels_equal else float("inf"),
                       ort_ms, torch_ms, dict(labels_equal=labels_equal, detections=counts, images=images))
