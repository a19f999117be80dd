"""Word crops cut from a text spotting set: the training data of a crop-level recognizer.

A two-step text reader (detect the words, then read each box) needs a recognizer
trained on crops like the detector's boxes. :func:`export_word_crops` cuts every
cared-for word (not ``###`` / ``iscrowd``) of a word-scenes COCO file out of its scene:
its axis-aligned box, and optionally ``jittered_copies`` more crops whose sides are
moved by up to ``jitter`` times the box's width / height (boxes as a detector finds
them: a little loose or tight). It writes the crops as PNG files and an mmocr textrecog
JSON file, the format ``TextRecogJSONDataset`` reads::

    <out_dir>/<split>/<image id>_<annotation id>_<copy>.png
    <out_dir>/textrecog_<split>.json

Boxes are COCO's ``[x, y, w, h]`` in continuous pixel coordinates; a crop holds the
pixels whose centres lie inside the (jittered) box, at least one pixel per side.
Deterministic: the same ``seed`` gives the same crops.

Example::

    from stn_plugin.spotting.word_crops import export_word_crops
    export_word_crops('data/word_scenes/annotations/train.json', 'data/word_scenes/train',
                      'data/word_scene_crops', split='train', jittered_copies=1)
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import List, Optional

import numpy as np

from ..datasets.output_folders import check_split_name, remove_earlier_outputs
from ..textrecog.text_formats import write_textrecog_json
from .word_scenes import DONT_CARE_TEXT

__all__ = ["export_word_crops", "crop_box"]


def crop_box(image: np.ndarray, box_xyxy) -> np.ndarray:
    """The pixels of ``image (H, W, ...)`` whose centres lie in ``box_xyxy`` (continuous
    coordinates), clipped to the image, at least one pixel per side."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    if not (np.isfinite([x1, y1, x2, y2]).all() and x2 > x1 and y2 > y1):
        raise ValueError(f"box must be finite with x2 > x1 and y2 > y1, got {box_xyxy!r}")
    c1 = min(max(int(np.ceil(x1 - 0.5)), 0), w - 1)
    r1 = min(max(int(np.ceil(y1 - 0.5)), 0), h - 1)
    c2 = min(max(int(np.ceil(x2 - 0.5)), c1 + 1), w)
    r2 = min(max(int(np.ceil(y2 - 0.5)), r1 + 1), h)
    return image[r1:r2, c1:c2]


def export_word_crops(ann_file: str, image_dir: str, out_dir: str, split: str = "train",
                      jittered_copies: int = 0, jitter: float = 0.1, seed: int = 0,
                      overwrite: bool = False, progress: bool = True) -> str:
    """Write the crops of ``ann_file``'s cared-for words (see the module docstring);
    returns the annotation file's path.

    Args:
        ann_file: word-scenes COCO file (annotations with ``bbox`` and ``text``).
        image_dir: folder of its images (``file_name`` is relative to it).
        out_dir: output folder; ``<out_dir>/<split>/`` must not hold files unless ``overwrite``.
        split: name of the split (folder and JSON file name).
        jittered_copies: crops per word besides the exact box, each side moved by a
            uniform ``[-jitter, jitter]`` times the box's width (x) or height (y).
        jitter: see ``jittered_copies``; in ``[0, 0.5)``.
        seed: seed of the jitter.
        overwrite: replace an existing split: its earlier crops (``<split>/*.png``) and
            annotation file are deleted first; other files are kept.
        progress: print mmengine's progress bar when it is installed.
    """
    import cv2

    check_split_name(split)
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f"ann_file not found: {ann_file}")
    if not isinstance(jittered_copies, int) or jittered_copies < 0:
        raise ValueError(f"jittered_copies must be an int >= 0, got {jittered_copies!r}")
    if not 0.0 <= jitter < 0.5:
        raise ValueError(f"jitter must be in [0, 0.5), got {jitter!r}")
    crop_dir = osp.join(out_dir, split)
    if osp.isdir(crop_dir) and os.listdir(crop_dir) and not overwrite:
        raise FileExistsError(f"{crop_dir} already holds files; pass overwrite=True (--overwrite) to replace them")
    try:
        with open(ann_file, encoding="utf-8") as f:
            coco = json.load(f)
        images = {im["id"]: im for im in coco["images"]}
        annotations = coco["annotations"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{ann_file} is not a COCO file with 'images' and 'annotations': {err}") from err
    by_image = {}
    for ann in annotations:
        if ann.get("iscrowd", 0) or ann.get("text", DONT_CARE_TEXT) == DONT_CARE_TEXT:
            continue
        if ann["image_id"] not in images:
            raise ValueError(f"{ann_file}: annotation {ann.get('id')} refers to unknown image_id {ann['image_id']}")
        by_image.setdefault(ann["image_id"], []).append(ann)
    if overwrite:
        remove_earlier_outputs(out_dir, [f"{split}/*.png", f"textrecog_{split}.json"])
    os.makedirs(crop_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    bar = _progress_bar(len(by_image)) if progress else None
    items: List[dict] = []
    for image_id in sorted(by_image):
        path = osp.join(image_dir, images[image_id]["file_name"])
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read image {path} (missing or corrupt)")
        for ann in by_image[image_id]:
            x, y, w, h = (float(v) for v in ann["bbox"])
            boxes = [(x, y, x + w, y + h)]
            for _ in range(jittered_copies):
                d = rng.uniform(-jitter, jitter, 4) * np.array([w, h, w, h])
                boxes.append((x + d[0], y + d[1], x + w + d[2], y + h + d[3]))
            for copy, box in enumerate(boxes):
                name = f"{image_id}_{ann['id']}_{copy}.png"
                if not cv2.imwrite(osp.join(crop_dir, name), crop_box(image, box)):
                    raise OSError(f"could not write {osp.join(crop_dir, name)}")
                items.append(dict(img_path=f"{split}/{name}", text=ann["text"]))
        if bar is not None:
            bar.update()
    if bar is not None:
        print(flush=True)
    out = osp.join(out_dir, f"textrecog_{split}.json")
    write_textrecog_json(out, items, source=osp.abspath(ann_file), jittered_copies=jittered_copies, jitter=jitter)
    return out


def _progress_bar(total: int) -> Optional[object]:
    try:
        from mmengine.utils import ProgressBar
    except ImportError:
        return None
    return ProgressBar(total)
