"""The learned rectifier's API under its text-recognition name: it lives in
:mod:`stn_plugin.rectify` (torch, numpy and OpenCV; no OpenMMLab), its scores on the
fixed synthetic set in :mod:`.rectifier_scores`."""
from ..rectify.rectifier_file import PRETRAINED, PRETRAINED_DIR, load_rectifier_file
from ..rectify.text_rectifier import Rectification, TextRectifier
from .rectifier_scores import fixed_set_scores

__all__ = ["PRETRAINED", "PRETRAINED_DIR", "Rectification", "TextRectifier", "fixed_set_scores",
           "load_rectifier_file"]
