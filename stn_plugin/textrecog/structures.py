"""Data sample of text recognition (mmocr-compatible field names)."""
from __future__ import annotations

from mmengine.structures import BaseDataElement, LabelData


class TextRecogDataSample(BaseDataElement):
    """One text crop's annotation and prediction.

    Fields (as in mmocr 1.x): ``gt_text`` and ``pred_text`` are
    :class:`~mmengine.structures.LabelData` whose ``item`` is the string
    (``pred_text`` also carries ``score``). Metainfo: ``img_path``, ``ori_shape``
    ``(h, w)`` of the crop as loaded, ``img_shape`` ``(h, w)`` after resizing.

    Optional ``gt_warp`` (synthetic data only): LabelData with ``points (P, 2)``, points
    of the rectified output frame, and ``targets (P, 2)``, where they lie in the crop;
    both normalised ``[-1, 1]`` (x, y), so any resize of the whole crop keeps them.
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

    @property
    def gt_warp(self) -> LabelData:
        return self._gt_warp

    @gt_warp.setter
    def gt_warp(self, value: LabelData) -> None:
        self.set_field(value, "_gt_warp", dtype=LabelData)

    @gt_warp.deleter
    def gt_warp(self) -> None:
        del self._gt_warp


def data_samples_from_texts(texts) -> list:
    """One :class:`TextRecogDataSample` per string of ``texts``, with ``gt_text`` set --
    what a recognizer's ``loss`` needs besides the images.

    >>> [s.gt_text.item for s in data_samples_from_texts(["ab", "c"])]
    ['ab', 'c']
    """
    samples = []
    for text in texts:
        sample = TextRecogDataSample()
        sample.gt_text = LabelData(item=text)
        samples.append(sample)
    return samples
