"""Write generated scenes in the standard COCO layout (no OpenMMLab import at module level).

The synthetic benchmarks (digit scenes for detection, word scenes for text spotting)
render images one by one and annotate them; this module owns what they share: the
refusal to write into a user's non-empty folder, the folder layout, image and
annotation ids, the progress bar and the JSON files::

    <out_dir>/<split>/000000.png ...      <out_dir>/annotations/<split>.json

Example::

    >>> import numpy as np, tempfile
    >>> def scenes():
    ...     for i in range(2):
    ...         yield GeneratedScene(np.zeros((8, 8, 3), np.uint8),
    ...                              [dict(category_id=1, bbox=[1, 1, 2, 2], area=4, iscrowd=0)])
    >>> out = tempfile.mkdtemp() + '/scenes'
    >>> out = prepare_coco_dir(out, ['train'], overwrite=False)  # refuses a non-empty folder
    >>> coco = write_coco_split(out, 'train', scenes(), categories=[dict(id=1, name='x')], info={},
    ...                         count=2, progress=False)
    >>> [a['id'] for a in coco['annotations']], coco['images'][1]['file_name']
    ([1, 2], '000001.png')
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Dict, Iterable, List, Union

import cv2
import numpy as np

from .output_folders import check_output_dir, check_split_name, remove_earlier_outputs
from .provenance import library_versions

__all__ = ["GeneratedScene", "check_output_dir", "prepare_coco_dir", "write_coco_split"]


@dataclass
class GeneratedScene:
    """One rendered image and its annotations.

    ``image``: ``(H, W, 3)`` uint8, **RGB**. ``annotations``: COCO annotation dicts
    without ``id`` / ``image_id`` (the writer numbers them). ``image_fields``: extra keys
    of the image record (written after ``id, file_name, width, height``).
    """

    image: np.ndarray
    annotations: List[Dict]
    image_fields: Dict = field(default_factory=dict)


def prepare_coco_dir(out_dir: Union[str, PathLike], splits: Iterable[str], overwrite: bool) -> Path:
    """Check ``out_dir`` before scenes of ``splits`` are written into it.

    An existing non-empty folder is refused unless ``overwrite``; with ``overwrite`` the
    files an earlier run wrote for these splits (``<split>/*.png`` and
    ``annotations/<split>.json``) are deleted first, so a shorter new run leaves no
    stale images; other files are kept. Split names must be plain folder names
    (:func:`check_split_name`). Returns ``out_dir`` as a Path."""
    splits = [check_split_name(s) for s in splits]
    out = check_output_dir(out_dir, overwrite)
    if overwrite:
        remove_earlier_outputs(out, [p for s in splits for p in (f"{s}/*.png", f"annotations/{s}.json")])
    return out


def write_coco_split(out_dir: Union[str, PathLike], split: str, scenes: Iterable[GeneratedScene],
                     categories: List[Dict], info: Dict, count: int, progress: bool = True,
                     name: str = "scenes", object_noun: str = "objects") -> Dict:
    """Write ``scenes`` as ``<out_dir>/<split>/NNNNNN.png`` and ``annotations/<split>.json``.

    Images are numbered from 0 in order (``id`` = index, ``file_name`` = ``f'{id:06d}.png'``),
    annotations from 1 across the split. ``count``: how many scenes ``scenes`` yields
    (for the progress bar, mmengine's; a mismatch is an error). ``name`` /
    ``object_noun`` label the progress lines. Returns the COCO dict that was written.
    """
    check_split_name(split)
    if count < 0:
        raise ValueError(f"count of the {split!r} split must be >= 0, got {count}")
    out = Path(out_dir)
    (out / split).mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    bar = None
    if progress and count:
        from mmengine.utils import ProgressBar  # imported lazily: this layer needs no OpenMMLab

        print(f"[{name}] {split}: {count} images -> {out / split}", flush=True)
        bar = ProgressBar(count)
    images: List[Dict] = []
    annotations: List[Dict] = []
    for i, scene in enumerate(scenes):
        image = np.asarray(scene.image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"scene {i} of {split!r}: image must be (H, W, 3) uint8 RGB, "
                             f"got {image.shape} {image.dtype}")
        file_name = f"{i:06d}.png"
        if not cv2.imwrite(str(out / split / file_name), np.ascontiguousarray(image[..., ::-1])):
            raise OSError(f"could not write {out / split / file_name}")
        h, w = image.shape[:2]
        images.append(dict(id=i, file_name=file_name, width=w, height=h, **scene.image_fields))
        for ann in scene.annotations:
            annotations.append(dict(id=len(annotations) + 1, image_id=i, **ann))
        if bar is not None:
            bar.update()
    if len(images) != count:
        raise ValueError(f"the {split!r} split yielded {len(images)} scenes, expected count={count}")
    if bar is not None:
        bar.file.write(f"\n[{name}] {split}: {count} images, {len(annotations)} {object_noun}\n")
    coco = dict(images=images, annotations=annotations, categories=list(categories),
                info={**info, "generated_with": library_versions()})
    (out / "annotations" / f"{split}.json").write_text(json.dumps(coco))
    return coco
