"""Text spotting datasets: words with polygons and transcriptions as mmdet instances.

:class:`TextSpottingDataset` reads the word scenes' COCO files (or any COCO file whose
annotations carry a ``text``) and the real benchmarks' own formats through
:func:`stn_plugin.textrecog.region_annotations.read_annotations`: ICDAR 2015,
Total-Text, CTW1500 and mmocr's textdet / textspotting JSON. Every format becomes the
same instances, so one pipeline trains on all of them::

    dict(bbox=[x1, y1, x2, y2], bbox_label=0, mask=[[x1, y1, x2, y2, ...]],
         ignore_flag=0 or 1, text='word')

in **continuous pixel coordinates** (pixel ``(i, j)`` covers ``[j, j + 1) x [i, i + 1)``,
COCO's and the package's convention): the readers' index coordinates are shifted by
half a pixel. The polygon keeps the readers' order (clockwise from the word's start,
top edge first); the box is its bounds. Don't-care words (``###``, or flagged by the
format) get ``ignore_flag = 1``, so mmdet's ``PackDetInputs`` puts them into
``ignored_instances``.
"""
from __future__ import annotations

import json
import os.path as osp
import warnings
from typing import List, Optional

import numpy as np
from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from PIL import Image

from ..textrecog.region_annotations import read_annotations
from .word_scenes import DONT_CARE_TEXT, index_to_continuous

ANN_FORMATS = ("coco", "icdar2015", "totaltext", "ctw1500", "mmocr")
INVALID_REGION_POLICIES = ("raise", "skip")


def _instance(points: np.ndarray, text: str, ignore: bool) -> dict:
    x1, y1 = points.min(0)
    x2, y2 = points.max(0)
    return dict(bbox=[float(x1), float(y1), float(x2), float(y2)], bbox_label=0,
                mask=[points.ravel().astype(float).tolist()],
                ignore_flag=int(bool(ignore) or text == DONT_CARE_TEXT), text=text)


def _usable(points, name: str, policy: str) -> Optional[np.ndarray]:
    """``points`` as ``(P, 2)`` if they form a polygon mmdet can rasterise, else raise or
    (``policy='skip'``) warn and return None."""
    pts = np.asarray(points, np.float64).reshape(-1, 2) if np.size(points) % 2 == 0 else None
    problem = None
    if pts is None:
        problem = f"an odd number of coordinates ({np.size(points)})"
    elif len(pts) < 3:
        problem = f"{len(pts)} points (a polygon needs at least 3)"
    elif not np.isfinite(pts).all():
        problem = "non-finite coordinates"
    if problem is None:
        return pts
    if policy == "raise":
        raise ValueError(f"{name}: {problem}; fix the annotation or pass invalid_regions='skip'")
    warnings.warn(f"skipped {name}: {problem}", stacklevel=3)
    return None


@DATASETS.register_module()
class TextSpottingDataset(BaseDetDataset):
    """Words with polygons and transcriptions (one class, ``text``).

    Args:
        ann_format: one of :data:`ANN_FORMATS`. ``'coco'``: ``ann_file`` is a COCO JSON
            whose annotations have ``segmentation`` polygons (or only a ``bbox``) in
            continuous pixel coordinates, ``text`` and ``iscrowd`` (1 = don't care);
            images are ``file_name`` under ``data_prefix['img']``. ``'mmocr'``:
            ``ann_file`` is mmocr's JSON; its ``img_path`` entries are relative to
            ``data_prefix['img']``. ``'icdar2015'`` / ``'totaltext'`` / ``'ctw1500'``:
            ``ann_file`` is a folder of per-image ground-truth files (or one file),
            each image found in ``data_prefix['img']`` by its name with ``gt_`` /
            ``poly_gt_`` dropped.
        invalid_regions: ``'raise'`` (default) on a polygon that cannot be a mask
            (fewer than 3 points, non-finite coordinates), naming it, or ``'skip'`` it
            with a warning.

    Other arguments are mmdet's ``BaseDetDataset``'s (``data_root``, ``data_prefix``,
    ``pipeline``, ``filter_cfg``, ``test_mode``, ...).
    """

    METAINFO = dict(classes=("text",), palette=[(220, 20, 60)])

    def __init__(self, *args, ann_format: str = "coco", invalid_regions: str = "raise", **kwargs) -> None:
        if ann_format not in ANN_FORMATS:
            raise ValueError(f"TextSpottingDataset ann_format must be one of {ANN_FORMATS}, got {ann_format!r}")
        if invalid_regions not in INVALID_REGION_POLICIES:
            raise ValueError(f"TextSpottingDataset invalid_regions must be one of {INVALID_REGION_POLICIES}, "
                             f"got {invalid_regions!r}")
        self.ann_format = ann_format
        self.invalid_regions = invalid_regions
        super().__init__(*args, **kwargs)

    def filter_data(self) -> List[dict]:
        """With ``filter_cfg=dict(filter_empty_gt=True, min_size=...)`` outside test mode,
        drop images without a cared-for word or smaller than ``min_size`` (as mmdet's
        ``CocoDataset`` does)."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        empty = self.filter_cfg.get("filter_empty_gt", False)
        min_size = self.filter_cfg.get("min_size", 0)
        return [d for d in self.data_list
                if min(d["width"], d["height"]) >= min_size
                and not (empty and all(inst["ignore_flag"] for inst in d["instances"]))]

    def _image_dir(self) -> str:
        return self.data_prefix.get("img", "") or self.data_root or ""

    def load_data_list(self) -> List[dict]:
        if not osp.exists(self.ann_file):
            raise FileNotFoundError(f"TextSpottingDataset ann_file not found: {self.ann_file!r}")
        if self.ann_format == "coco":
            return self._load_coco()
        items = read_annotations(self.ann_file, self.ann_format, self._image_dir() or None)
        data_list = []
        for img_id, (img_path, regions) in enumerate(items):
            instances = []
            for region in regions:
                pts = _usable(region.points, region.name or img_path, self.invalid_regions)
                if pts is not None:
                    instances.append(_instance(index_to_continuous(pts), region.text, region.ignore))
            with Image.open(img_path) as im:   # reads the header only
                width, height = im.size
            data_list.append(dict(img_path=img_path, img_id=img_id, height=height, width=width,
                                  instances=instances))
        return data_list

    def _load_coco(self) -> List[dict]:
        with open(self.ann_file, encoding="utf-8") as f:
            coco = json.load(f)
        for key in ("images", "annotations"):
            if key not in coco:
                raise ValueError(f"{self.ann_file}: not a COCO file (no {key!r})")
        by_image = {im["id"]: [] for im in coco["images"]}
        for k, ann in enumerate(coco["annotations"]):
            if ann.get("image_id") not in by_image:
                raise ValueError(f"{self.ann_file}: annotations[{k}] refers to unknown image_id "
                                 f"{ann.get('image_id')!r}")
            by_image[ann["image_id"]].append((k, ann))
        data_list = []
        for im in coco["images"]:
            instances = []
            for k, ann in by_image[im["id"]]:
                name = f"{osp.basename(self.ann_file)}:annotations[{k}]"
                seg = ann.get("segmentation")
                if isinstance(seg, list) and seg:
                    points = max(seg, key=len)   # a word is one polygon; keep the largest part
                elif "bbox" in ann:
                    x, y, w, h = ann["bbox"]
                    points = [x, y, x + w, y, x + w, y + h, x, y + h]
                else:
                    raise ValueError(f"{name}: needs a polygon 'segmentation' or a 'bbox'")
                pts = _usable(points, name, self.invalid_regions)
                if pts is not None:
                    instances.append(_instance(pts, str(ann.get("text", "")), bool(ann.get("iscrowd", 0))))
            data_list.append(dict(img_path=osp.join(self._image_dir(), im["file_name"]), img_id=im["id"],
                                  height=im["height"], width=im["width"], instances=instances))
        return data_list
