"""Text recognition with rectification: CRNN + CTC with a spatial-transformer preprocessor.

Importing this package registers, into mmdet's registries (and the core modules,
see :func:`stn_plugin.registration.register_core_modules`):

* ``MODELS``: :class:`CTCTextRecognizer` (+ ``CRNNBackbone``, ``BiLSTMCTCHead``), :class:`TextOutlineRectifier`
* ``DATASETS``: :class:`TextRecogJSONDataset` (mmocr JSON), :class:`TextCropOutlineDataset`, :class:`TextRecogLMDBDataset`
  (deep-text-recognition-benchmark LMDB)
* ``TRANSFORMS``: ``LoadTextCrop``, ``ResizeTextCrop``, ``PackTextRecogInputs``
* ``METRICS``: :class:`TextRecogMetric`, :class:`TextOutlineMetric`
* ``HOOKS``: :class:`TextRecogVisualizationHook` (``tools/test.py --show-dir``)

and provides rectification of word crops for any OCR engine: :class:`TextRectifier`
(a learned rectifier, shipped ones by name) and :func:`rectify_regions` (flat crops
from quadrilaterals / curved polygons of scene images, no learning).
"""
from ..registration import register_core_modules

register_core_modules()

from .crnn import BiLSTMCTCHead, CRNNBackbone  # noqa: E402
from .datasets import TextRecogJSONDataset, TextRecogLMDBDataset  # noqa: E402
from .metrics import METRIC_NAMES, TextRecogMetric, edit_distance, normalize_text, text_recognition_scores  # noqa: E402
from .recognizer import CTCTextRecognizer  # noqa: E402
from .structures import TextRecogDataSample  # noqa: E402
from .transforms import LoadTextCrop, PackTextRecogInputs, ResizeTextCrop, decode_text_crop, resize_text_crop  # noqa: E402
from .visualization import TextRecogVisualizationHook  # noqa: E402
# rectification for any OCR engine: learned (shipped weights) and geometric (from polygons)
from .geometric_rectification import rectify_regions, region_geometry  # noqa: E402
from .region_annotations import read_annotations  # noqa: E402
from ..rectify import TextRectifier  # noqa: E402
from .text_regions import DegenerateRegionError, TextRegion  # noqa: E402
from .outline_rectifier import TextCropOutlineDataset, TextOutlineMetric, TextOutlineRectifier  # noqa: E402

__all__ = ["BiLSTMCTCHead", "CRNNBackbone", "TextRecogJSONDataset", "TextRecogLMDBDataset", "METRIC_NAMES",
           "TextRecogMetric", "edit_distance", "normalize_text", "text_recognition_scores",
           "CTCTextRecognizer", "TextRecogDataSample", "LoadTextCrop", "PackTextRecogInputs",
           "ResizeTextCrop", "decode_text_crop", "resize_text_crop", "TextRecogVisualizationHook",
           "rectify_regions", "region_geometry", "read_annotations", "TextRectifier",
           "DegenerateRegionError", "TextRegion", "TextCropOutlineDataset", "TextOutlineMetric",
           "TextOutlineRectifier"]
