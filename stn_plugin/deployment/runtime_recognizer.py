"""Evaluating an exported text recognizer: the ONNX file in mmengine's test loop.

:class:`OnnxRuntimeTextRecognizer` is an mmengine model (registered in mmdet's
``MODELS``) whose network is an ONNX file exported by
:func:`~stn_plugin.deployment.model_export.export_model` (pixels in, CTC logits out) and
whose dictionary and decoding come from the recognizer config it was exported from.
:func:`evaluate_onnx_recognizer` runs a config's test dataloader and evaluator on it,
so the ONNX file's word accuracy is computed by the same pipeline, metric and decoding
as ``tools/test.py`` computes the checkpoint's.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

from torch import Tensor

from .onnxruntime_parity import OnnxRuntimeModel

# OnnxRuntimeTextRecognizer is registered into mmdet's MODELS by _register(), not exported.
__all__ = ["evaluate_onnx_recognizer", "recognizer_data_preprocessor"]


def recognizer_data_preprocessor(cfg: Optional[dict]) -> dict:
    """The recognizer's data preprocessor without what the exported graph does itself
    (channel swap and ``(x - mean) / std``): batching stays, normalising moves into
    the graph."""
    cfg = dict(cfg or dict(type="ImgDataPreprocessor"))
    for key in ("mean", "std", "bgr_to_rgb", "rgb_to_bgr"):
        cfg.pop(key, None)
    return cfg


def _register():
    from mmdet.registry import MODELS
    from mmengine.model import BaseModel
    from mmengine.structures import LabelData

    class OnnxRuntimeTextRecognizer(BaseModel):
        """A CTC text recognizer run from an ONNX file in ONNX Runtime (CPU).

        Args:
            onnx_file: the exported recognizer (input ``images``: pixels ``(N, C, H, W)``;
                output ``logits (N, T, num_classes)``).
            recognizer: the config of the ``CTCTextRecognizer`` it was exported from;
                its dictionary, decoding and data preprocessor are used, its weights
                are not.
            num_threads: ONNX Runtime threads (default: torch's).
        """

        def __init__(self, onnx_file: str, recognizer: dict, num_threads: Optional[int] = None,
                     init_cfg=None) -> None:
            recognizer = dict(recognizer)
            super().__init__(data_preprocessor=recognizer_data_preprocessor(recognizer.get("data_preprocessor")),
                             init_cfg=init_cfg)
            self.recognizer = MODELS.build(recognizer)
            self.runtime = OnnxRuntimeModel(onnx_file, num_threads)

        def forward(self, inputs: Tensor, data_samples: Optional[List] = None, mode: str = "predict"):
            if mode == "loss":
                raise ValueError("an ONNX Runtime recognizer cannot be trained; mode='loss' is not available")
            logits = self.runtime(inputs)[0]
            if mode == "tensor":
                return logits
            if mode != "predict":
                raise ValueError(f"mode must be 'predict' or 'tensor', got {mode!r}")
            if data_samples is None:
                from stn_plugin.textrecog.structures import TextRecogDataSample

                data_samples = [TextRecogDataSample() for _ in range(inputs.shape[0])]
            for sample, (text, score) in zip(data_samples, self.recognizer.decode_logits(logits)):
                sample.pred_text = LabelData(item=text, score=score)
            return list(data_samples)

    if MODELS.get("OnnxRuntimeTextRecognizer") is None:
        MODELS.register_module(module=OnnxRuntimeTextRecognizer)
    return MODELS.get("OnnxRuntimeTextRecognizer")


def __getattr__(name: str):
    # the class needs mmdet / mmengine, so it is made (and registered) on first access
    if name == "OnnxRuntimeTextRecognizer":
        return _register()
    raise AttributeError(name)


def evaluate_onnx_recognizer(config: str, onnx_file: str, work_dir: Optional[str] = None,
                             cfg_options: Optional[dict] = None,
                             num_threads: Optional[int] = None) -> Dict[str, float]:
    """Run ``config``'s test dataloader and evaluator on ``onnx_file``; returns the metrics.

    ``config`` is the recognizer's training / test config (the one the file was exported
    from); ``cfg_options`` override it as ``--cfg-options`` do.
    """
    from mmengine.config import Config
    from mmengine.runner import Runner

    import stn_plugin.textrecog  # noqa: F401  (registers the recognizer, dataset, metric)

    if not os.path.isfile(onnx_file):
        raise FileNotFoundError(f"ONNX file not found: {onnx_file}")
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.get("type") != "CTCTextRecognizer":
        raise ValueError(f"{config}: evaluating an ONNX file needs a CTCTextRecognizer config, "
                         f"got model type {cfg.model.get('type')!r}")
    _register()
    cfg.model = dict(type="OnnxRuntimeTextRecognizer", onnx_file=os.path.abspath(onnx_file),
                     recognizer=cfg.model.to_dict(), num_threads=num_threads)
    cfg.load_from = None
    cfg.launcher = "none"
    cfg.work_dir = work_dir or cfg.get("work_dir") or os.path.join(
        "./work_dirs", os.path.splitext(os.path.basename(config))[0] + "_onnxruntime")
    return Runner.from_cfg(cfg).test()
