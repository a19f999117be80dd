"""Text recognition with rectification (issue 7), registered into mmdet's registries.

* ``MODELS``: :class:`CTCTextRecognizer` (+ ``CRNNBackbone``, ``BiLSTMCTCHead``)
* ``DATASETS``: :class:`TextRecogJSONDataset` (mmocr JSON), :class:`TextRecogLMDBDataset`
  (deep-text-recognition-benchmark LMDB)
* ``TRANSFORMS``: ``LoadTextCrop``, ``ResizeTextCrop``, ``PackTextRecogInputs``
* ``METRICS``: :class:`TextRecogMetric`
"""
from .datasets import TextRecogJSONDataset, TextRecogLMDBDataset
from .metrics import METRIC_NAMES, TextRecogMetric, edit_distance, normalize_text, text_recognition_scores
from .recognizer import CTCTextRecognizer
from .structures import TextRecogDataSample
from .transforms import LoadTextCrop, PackTextRecogInputs, ResizeTextCrop, decode_text_crop, resize_text_crop

__all__ = [name for name in dir() if not name.startswith("_")]
