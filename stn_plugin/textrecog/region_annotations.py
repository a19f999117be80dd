"""Readers of the standard scene-text annotation formats into :class:`TextRegion` s
(plain Python + numpy, no mm* import).

* ICDAR 2015 (``gt_img_1.txt`` for ``img_1.jpg``): one region per line,
  ``x1,y1,x2,y2,x3,y3,x4,y4,transcription`` (UTF-8, often with a BOM; the
  transcription may contain commas; ``###`` = do not care).
* Total-Text (``gt_img1.txt`` / ``poly_gt_img1.txt``): ``x: [[x1 x2 ...]], y: [[y1 y2 ...]],
  ornt: [u'c'], transcriptions: [u'text']``, one region per record (a record may wrap
  onto following lines; ``#`` = do not care).
* CTW1500: the test ``.txt`` (``x1,y1,...,x14,y14,####text``), the training ``.xml``
  (``<box><label>text</label><segs>x1,y1,...</segs></box>``) and the original
  ``.txt`` (``xmin,ymin,xmax,ymax`` then 28 offsets from ``(xmin, ymin)``).
* mmocr 1.x textdet / textspotting JSON (``data_list[*].instances[*].polygon``, with
  ``ignore`` and, for spotting, ``text``): all images at once.

Every reader returns regions whose ``name`` is ``'<file>:<line or index>'``, for
error messages. Malformed lines raise ``ValueError`` naming the file and line.
"""
from __future__ import annotations

import glob
import json
import os.path as osp
import re
import warnings
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

import numpy as np

from .text_regions import TextRegion

ANNOTATION_FORMATS = ("icdar2015", "totaltext", "ctw1500", "mmocr")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".JPG", ".PNG")


def _numbers(tokens: List[str], where: str) -> List[float]:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        raise ValueError(f"{where}: expected numbers, got {tokens!r}") from None


def read_icdar2015(path: str, ignore: str = "###") -> List[TextRegion]:
    """Regions of one ICDAR 2015 ground-truth file."""
    regions = []
    base = osp.basename(path)
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(",", 8)
            if len(parts) < 8:
                raise ValueError(f"{path}:{n}: expected 'x1,y1,x2,y2,x3,y3,x4,y4,transcription', got {line!r}")
            pts = _numbers(parts[:8], f"{path}:{n}")
            text = parts[8] if len(parts) > 8 else ""
            regions.append(TextRegion(np.reshape(pts, (4, 2)), text, text == ignore, f"{base}:{n}"))
    return regions


_TT_FIELD = {k: re.compile(k + r"\s*:\s*\[\[([^\]]*)\]\]") for k in ("x", "y")}
_TT_TEXT = re.compile(r"transcriptions\s*:\s*\[\s*u?(['\"])(.*)\1\s*\]")
_TT_ORNT = re.compile(r"ornt\s*:\s*\[\s*u?['\"]([^'\"]*)['\"]\s*\]")


def read_totaltext(path: str, ignore: str = "#") -> List[TextRegion]:
    """Regions of one Total-Text ``.txt`` ground-truth file."""
    records: List[Tuple[int, str]] = []
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("x:") or not records:
                records.append((n, line))
            else:  # a record wrapped onto the next line
                records[-1] = (records[-1][0], records[-1][1] + " " + line)
    base = osp.basename(path)
    regions = []
    for n, rec in records:
        xs, ys = _TT_FIELD["x"].search(rec), _TT_FIELD["y"].search(rec)
        if xs is None or ys is None:
            raise ValueError(f"{path}:{n}: expected 'x: [[...]], y: [[...]], ornt: [...], transcriptions: [...]', "
                             f"got {rec[:120]!r}")
        x = _numbers(xs.group(1).replace(",", " ").split(), f"{path}:{n}")
        y = _numbers(ys.group(1).replace(",", " ").split(), f"{path}:{n}")
        if len(x) != len(y):
            raise ValueError(f"{path}:{n}: {len(x)} x but {len(y)} y coordinates")
        m = _TT_TEXT.search(rec)
        text = m.group(2) if m else ""
        ornt = _TT_ORNT.search(rec)
        ignored = text == ignore or (ornt is not None and ornt.group(1) == "#")
        regions.append(TextRegion(np.stack([x, y], 1), text, ignored, f"{base}:{n}",
                                  extra={"orientation": ornt.group(1) if ornt else ""}))
    return regions


def read_ctw1500(path: str, ignore: str = "###") -> List[TextRegion]:
    """Regions of one CTW1500 file: test ``.txt`` (absolute points, ``####text``),
    original training ``.txt`` (box + 28 offsets) or training ``.xml``."""
    base = osp.basename(path)
    if path.lower().endswith(".xml"):
        regions = []
        root = ET.parse(path).getroot()
        boxes = root.iter("box")
        for i, box in enumerate(boxes):
            segs = box.find("segs")
            if segs is None or not (segs.text or "").strip():
                raise ValueError(f"{path}: box {i} has no <segs> points")
            pts = _numbers(segs.text.strip().split(","), f"{path}: box {i}")
            label = box.find("label")
            text = (label.text or "") if label is not None else ""
            regions.append(TextRegion(np.reshape(pts, (-1, 2)), text, text == ignore, f"{base}:box{i}"))
        return regions
    regions = []
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            coords, sep, text = line.partition("####")
            tokens = [t for t in coords.strip().rstrip(",").split(",") if t.strip()]
            nums = _numbers(tokens, f"{path}:{n}")
            if not sep and len(nums) == 32:  # original format: box, then offsets from its corner
                x0, y0 = nums[0], nums[1]
                pts = np.reshape(nums[4:], (-1, 2)) + np.array([x0, y0])
            elif len(nums) >= 8 and len(nums) % 2 == 0:
                pts = np.reshape(nums, (-1, 2))
            else:
                raise ValueError(f"{path}:{n}: expected 'x1,y1,...,xn,yn,####text' or the 32-number box + "
                                 f"offsets format, got {len(nums)} numbers")
            regions.append(TextRegion(pts, text, text == ignore, f"{base}:{n}"))
    return regions


def read_mmocr_textdet(path: str, image_root: Optional[str] = None) -> List[Tuple[str, List[TextRegion]]]:
    """``[(image path, regions)]`` of an mmocr 1.x textdet or textspotting JSON file;
    image paths are joined to ``image_root`` (default: the JSON file's folder)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or "data_list" not in doc:
        raise ValueError(f"{path}: not an mmocr annotation file (no 'data_list')")
    root = osp.dirname(osp.abspath(path)) if image_root is None else image_root
    base = osp.basename(path)
    out = []
    for i, entry in enumerate(doc["data_list"]):
        if "img_path" not in entry or "instances" not in entry:
            raise ValueError(f"{path}: data_list[{i}] needs 'img_path' and 'instances', got keys {sorted(entry)}")
        regions = []
        for j, inst in enumerate(entry["instances"]):
            name = f"{base}:data_list[{i}].instances[{j}]"
            if "polygon" in inst:
                pts = np.reshape(np.asarray(inst["polygon"], dtype=np.float64), (-1, 2))
            elif "bbox" in inst:  # an axis-aligned box as a quadrilateral
                x1, y1, x2, y2 = inst["bbox"]
                pts = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
            else:
                raise ValueError(f"{name}: needs a 'polygon' (or a 'bbox'), got keys {sorted(inst)}")
            regions.append(TextRegion(pts, inst.get("text", ""), bool(inst.get("ignore", False)), name))
        out.append((osp.join(root, entry["img_path"]), regions))
    return out


_READERS = {"icdar2015": read_icdar2015, "totaltext": read_totaltext, "ctw1500": read_ctw1500}


def _image_for(ann: str, image_dir: str) -> Optional[str]:
    stem = osp.splitext(osp.basename(ann))[0]
    candidates = [stem]
    for prefix in ("poly_gt_", "gt_"):
        if stem.startswith(prefix):
            candidates.append(stem[len(prefix):])
    for c in candidates:
        for ext in IMAGE_EXTS:
            p = osp.join(image_dir, c + ext)
            if osp.isfile(p):
                return p
    return None


def read_annotations(path: str, fmt: str, image_dir: Optional[str] = None,
                     missing_image: str = "raise") -> List[Tuple[str, List[TextRegion]]]:
    """``[(image path, regions)]`` for an annotation file or folder of one format.

    ``fmt``: one of :data:`ANNOTATION_FORMATS`. For the per-image formats ``path`` is a
    file or a folder of them, and each file's image is looked up in ``image_dir``
    (default: beside it) by its name with ``gt_`` / ``poly_gt_`` dropped
    (``gt_img_1.txt`` -> ``img_1.jpg``). An annotation whose image is missing raises
    ``FileNotFoundError`` (``missing_image='raise'``) or is left out with a warning
    (``'warn'``).
    """
    if missing_image not in ("raise", "warn"):
        raise ValueError(f"missing_image must be 'raise' or 'warn', got {missing_image!r}")
    if fmt not in ANNOTATION_FORMATS:
        raise ValueError(f"annotation format must be one of {ANNOTATION_FORMATS}, got {fmt!r}")
    if fmt == "mmocr":
        return read_mmocr_textdet(path, image_dir)
    if osp.isdir(path):
        exts = (".txt", ".xml") if fmt == "ctw1500" else (".txt",)
        files = sorted(f for f in glob.glob(osp.join(path, "*")) if f.lower().endswith(exts))
        if not files:
            raise FileNotFoundError(f"no {'/'.join(exts)} annotation files in {path!r}")
    elif osp.isfile(path):
        files = [path]
    else:
        raise FileNotFoundError(f"annotation path not found: {path!r}")
    out = []
    for ann in files:
        img_dir = image_dir or osp.dirname(ann)
        img = _image_for(ann, img_dir)
        if img is None:
            msg = (f"no image for {ann!r} in {img_dir!r} (looked for {osp.splitext(osp.basename(ann))[0]} "
                   "with gt_/poly_gt_ dropped)")
            if missing_image == "raise":
                raise FileNotFoundError(msg)
            warnings.warn(f"skipped: {msg}", stacklevel=2)
            continue
        out.append((img, _READERS[fmt](ann)))
    return out


def regions_by_image(items: List[Tuple[str, List[TextRegion]]]) -> Dict[str, List[TextRegion]]:
    """``{image path: regions}`` (regions of repeated paths are joined)."""
    out: Dict[str, List[TextRegion]] = {}
    for img, regs in items:
        out.setdefault(img, []).extend(regs)
    return out
