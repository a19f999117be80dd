"""Data sample of text recognition (mmocr-compatible field names)."""
from __future__ import annotations

from mmengine.structures import BaseDataElement, LabelData


class TextRecogDataSample(BaseDataElement):
    """One text crop's annotation and prediction.

    Fields (as in mmocr 1.x): ``gt_text`` and ``pred_text`` are
    :class:`~mmengine.structures.LabelData` whose ``item`` is the string
    (``pred_text`` also carries ``score``). Metainfo: ``img_path``, ``ori_shape``
    ``(h, w)`` of the crop as loaded, ``img_shape`` ``(h, w)`` after resizing.
    """

    @property
    def gt_text(self) -> LabelData:
        return self._gt_text

    @gt_text.setter
    def gt_text(self, value: LabelData) -> None:
        self.set_field(value, "_gt_text", dtype=LabelData)

    @gt_text.deleter
    def gt_text(self) -> None:
        del self._gt_text

    @property
    def pred_text(self) -> LabelData:
        return self._pred_text

    @pred_text.setter
    def pred_text(self, value: LabelData) -> None:
        self.set_field(value, "_pred_text", dtype=LabelData)

    @pred_text.deleter
    def pred_text(self) -> None:
        del self._pred_text
