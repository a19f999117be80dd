"""Rectify text crops for any OCR engine with a learned rectifier, on torch, numpy and
OpenCV alone (``pip install 'stn_plugin[rectify]'``; no OpenMMLab)::

    from stn_plugin.rectify import TextRectifier
    rectifier = TextRectifier.from_pretrained()      # 'text-lines': words and text lines
    flat = rectifier(crops)

:mod:`.text_rectifier` (the API), :mod:`.images` (what inputs are accepted and how),
:mod:`.outline_net` (the net that predicts a text's outline at the crop's own aspect),
:mod:`.rectifier_file` (the file format and the shipped rectifiers),
:mod:`.preprocessor` (the module built from a file), :mod:`.ocr_engines` (``read_text``:
the crops read by Tesseract or PP-OCRv4). :mod:`stn_plugin.textrecog`
re-exports :class:`TextRectifier` and adds the recognizer side (training, export).
"""
from .images import read_crop, resize_text_crop
from .ocr_engines import read_text
from .rectifier_file import PRETRAINED, load_rectifier_file
from .text_rectifier import OUT_SIZES, Rectification, TextRectifier

__all__ = ["OUT_SIZES", "PRETRAINED", "Rectification", "TextRectifier", "load_rectifier_file", "read_crop",
           "read_text", "resize_text_crop"]
