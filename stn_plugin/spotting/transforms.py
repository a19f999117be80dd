"""Pipeline transforms that carry each word's transcription beside its box and polygon.

* ``LoadTextSpottingAnnotations``: mmdet's ``LoadAnnotations`` (boxes, labels, polygon
  masks and ignore flags, by default) plus ``gt_texts``: the instances' ``text``, a
  list aligned with the boxes.
* ``PackTextSpottingInputs``: mmdet's ``PackDetInputs`` plus ``texts`` in
  ``gt_instances`` and ``ignored_instances``, split by ``gt_ignore_flags`` as the boxes.

Transcriptions do not follow a transform that drops instances (mmdet's ``RandomCrop``,
``FilterAnnotations``, ...) nor a flip (a mirrored word is no longer that word):
spotting pipelines leave them out, and ``PackTextSpottingInputs`` raises if the
transcriptions no longer match the boxes one to one.
"""
from __future__ import annotations

from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadTextSpottingAnnotations(LoadAnnotations):
    """``LoadAnnotations`` with ``with_bbox``, ``with_mask`` (polygons kept as
    ``PolygonMasks``: ``poly2mask=False``) and ``with_text`` on by default."""

    def __init__(self, with_bbox: bool = True, with_mask: bool = True, poly2mask: bool = False,
                 with_text: bool = True, **kwargs) -> None:
        super().__init__(with_bbox=with_bbox, with_mask=with_mask, poly2mask=poly2mask, **kwargs)
        self.with_text = with_text

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        if self.with_text:
            results["gt_texts"] = [str(inst.get("text", "")) for inst in results.get("instances", [])]
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", with_text={self.with_text})"


@TRANSFORMS.register_module()
class PackTextSpottingInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``gt_texts`` as ``gt_instances.texts`` and
    ``ignored_instances.texts`` (lists of str)."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if "gt_texts" not in results:
            return packed
        texts = list(results["gt_texts"])
        flags = results.get("gt_ignore_flags")
        count = len(flags) if flags is not None else len(results.get("gt_bboxes", []))
        if len(texts) != count:
            raise ValueError(f"PackTextSpottingInputs: {len(texts)} gt_texts for {count} boxes; a transform "
                             "dropped or added instances without their transcriptions (leave instance-filtering "
                             "transforms such as RandomCrop or FilterAnnotations out of spotting pipelines)")
        sample = packed["data_samples"]
        if flags is None:
            sample.gt_instances.texts = texts
        else:
            sample.gt_instances.texts = [t for t, f in zip(texts, flags) if not f]
            sample.ignored_instances.texts = [t for t, f in zip(texts, flags) if f]
        return packed
