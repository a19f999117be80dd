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
  ``.txt`` (``xmin,ymin,xmax,ymax`` then 28 offsets from ``(xmin, ymin)``, every one
  inside the box: that is how a line of 32 numbers without ``####`` is told from an
  absolute 16-point polygon, which needs ``####``).
* mmocr 1.x textdet / textspotting JSON (``data_list[*].instances[*].polygon``, with
  ``ignore`` and, for spotting, ``text``): all images at once.

Every reader returns regions whose ``name`` is ``'<file>:<line or index>'``, for
error messages. A malformed file raises ``ValueError`` naming the file, the line (or
entry) and what was expected: text that is not UTF-8, a line of another format (an
ICDAR 2015 line with more than 8 numbers, two Total-Text records on one line), an
odd number of coordinates, XML or JSON that does not parse. A UTF-8 byte-order mark
is accepted everywhere.
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
        values = [float(t) for t in tokens]
    except ValueError:
        raise ValueError(f"{where}: expected numbers, got {tokens!r}") from None
    bad = [t for t, v in zip(tokens, values) if not np.isfinite(v)]
    if bad:
        raise ValueError(f"{where}: expected finite numbers, got {bad!r}")
    return values


def _points(values: List[float], where: str) -> np.ndarray:
    """``(P, 2)`` points of the flat ``x1, y1, x2, y2, ...``; an odd count or fewer than
    3 points raise naming ``where``."""
    if len(values) % 2 or len(values) < 6:
        raise ValueError(f"{where}: expected an even number (>= 6) of coordinates x1,y1,x2,y2,..., "
                         f"got {len(values)}")
    return np.reshape(np.asarray(values, dtype=np.float64), (-1, 2))


def _text_lines(path: str) -> List[Tuple[int, str]]:
    """``[(line number, stripped line)]`` of the UTF-8 text file ``path`` (a byte-order
    mark dropped, blank lines left out); bytes that are not UTF-8 raise naming the line."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}:{n}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column "
                             f"{err.start + 1}); annotation files must be UTF-8") from None
        if line:
            lines.append((n, line))
    return lines


def read_icdar2015(path: str, ignore: str = "###") -> List[TextRegion]:
    """Regions of one ICDAR 2015 ground-truth file.

    A transcription made only of comma-separated numbers (``...,y4,12,40``) is taken
    for extra coordinates and refused: an ICDAR 2015 region is a quadrilateral."""
    regions = []
    base = osp.basename(path)
    for n, line in _text_lines(path):
        parts = line.split(",", 8)
        if len(parts) < 8:
            raise ValueError(f"{path}:{n}: expected 'x1,y1,x2,y2,x3,y3,x4,y4,transcription', got {line!r}")
        pts = _numbers(parts[:8], f"{path}:{n}")
        text = parts[8] if len(parts) > 8 else ""
        extra = text.split(",")
        if len(extra) > 1 and all(_is_number(t) for t in extra):
            raise ValueError(f"{path}:{n}: expected 8 coordinates (a quadrilateral) then the transcription, "
                             f"got {8 + len(extra)} numbers; polygons with more points are the totaltext or "
                             "ctw1500 format")
        regions.append(TextRegion(np.reshape(pts, (4, 2)), text, text == ignore, f"{base}:{n}"))
    return regions


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


_TT_FIELD = {k: re.compile(r"(?<![A-Za-z_])" + k + r"\s*:\s*\[\[([^\]]*)\]\]") for k in ("x", "y")}
_TT_TEXT = re.compile(r"transcriptions\s*:\s*\[\s*u?(['\"])(.*)\1\s*\]")
_TT_ORNT = re.compile(r"ornt\s*:\s*\[\s*u?['\"]([^'\"]*)['\"]\s*\]")
_TT_EXPECTED = "'x: [[...]], y: [[...]], ornt: [...], transcriptions: [...]'"


def read_totaltext(path: str, ignore: str = "#") -> List[TextRegion]:
    """Regions of one Total-Text ``.txt`` ground-truth file (one record per line; a
    record may wrap onto following lines that do not start with ``x:``)."""
    records: List[Tuple[int, str]] = []
    for n, line in _text_lines(path):
        if line.startswith("x:") or not records:
            records.append((n, line))
        else:  # a record wrapped onto the next line
            records[-1] = (records[-1][0], records[-1][1] + " " + line)
    base = osp.basename(path)
    regions = []
    for n, rec in records:
        xs, ys = _TT_FIELD["x"].findall(rec), _TT_FIELD["y"].findall(rec)
        if not xs or not ys:
            raise ValueError(f"{path}:{n}: expected {_TT_EXPECTED}, got {rec[:120]!r}")
        if len(xs) > 1 or len(ys) > 1:
            raise ValueError(f"{path}:{n}: {max(len(xs), len(ys))} records on one line; expected one "
                             f"{_TT_EXPECTED} record per line")
        x = _numbers(xs[0].replace(",", " ").split(), f"{path}:{n}")
        y = _numbers(ys[0].replace(",", " ").split(), f"{path}:{n}")
        if len(x) != len(y) or len(x) < 3:
            raise ValueError(f"{path}:{n}: expected as many x as y coordinates (>= 3 points), "
                             f"got {len(x)} x and {len(y)} y")
        m = _TT_TEXT.search(rec)
        text = m.group(2) if m else ""
        ornt = _TT_ORNT.search(rec)
        ignored = text == ignore or (ornt is not None and ornt.group(1) == "#")
        regions.append(TextRegion(np.stack([x, y], 1), text, ignored, f"{base}:{n}",
                                  extra={"orientation": ornt.group(1) if ornt else ""}))
    return regions


def _ctw1500_box_points(nums: List[float], where: str) -> np.ndarray:
    """The 14 points of an original-format line ``xmin,ymin,xmax,ymax`` + 28 offsets
    from ``(xmin, ymin)``; refused unless every offset lies inside the box (1 px slack)."""
    x0, y0, x1, y1 = nums[:4]
    offsets = np.reshape(nums[4:], (-1, 2))
    slack = 1.0
    inside = (x1 > x0 and y1 > y0 and (offsets >= -slack).all()
              and (offsets[:, 0] <= x1 - x0 + slack).all() and (offsets[:, 1] <= y1 - y0 + slack).all())
    if not inside:
        raise ValueError(f"{where}: 32 numbers without '####' are read as CTW1500's box xmin,ymin,xmax,ymax "
                         f"+ 28 offsets inside it, but ({x0:g}, {y0:g}, {x1:g}, {y1:g}) does not contain the "
                         "offsets; an absolute polygon needs '####' and its text after the coordinates "
                         "('x1,y1,...,####text')")
    return offsets + np.array([x0, y0])


def read_ctw1500(path: str, ignore: str = "###") -> List[TextRegion]:
    """Regions of one CTW1500 file: test ``.txt`` (absolute points, ``####text``),
    original training ``.txt`` (box + 28 offsets) or training ``.xml``."""
    base = osp.basename(path)
    if path.lower().endswith(".xml"):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as err:
            line, column = err.position
            raise ValueError(f"{path}:{line}: not well-formed XML (column {column + 1}): {err.msg}; expected "
                             "CTW1500's <box><label>text</label><segs>x1,y1,...</segs></box>") from None
        regions = []
        for i, box in enumerate(root.iter("box")):
            segs = box.find("segs")
            if segs is None or not (segs.text or "").strip():
                raise ValueError(f"{path}: box {i} has no <segs> points")
            where = f"{path}: box {i} <segs>"
            pts = _points(_numbers(segs.text.strip().rstrip(",").split(","), where), where)
            label = box.find("label")
            text = (label.text or "") if label is not None else ""
            regions.append(TextRegion(pts, text, text == ignore, f"{base}:box{i}"))
        return regions
    regions = []
    for n, line in _text_lines(path):
        coords, sep, text = line.partition("####")
        tokens = [t for t in coords.strip().rstrip(",").split(",") if t.strip()]
        where = f"{path}:{n}"
        nums = _numbers(tokens, where)
        if not sep and len(nums) == 32:  # original format: box, then offsets from its corner
            pts = _ctw1500_box_points(nums, where)
        elif len(nums) >= 8 and len(nums) % 2 == 0:
            pts = np.reshape(nums, (-1, 2))
        else:
            raise ValueError(f"{where}: expected 'x1,y1,...,xn,yn,####text' (an even number >= 8 of "
                             f"coordinates) or the 32-number box + offsets format, got {len(nums)} numbers")
        regions.append(TextRegion(pts, text, text == ignore, f"{base}:{n}"))
    return regions


def read_json(path: str, expected: str):
    """The JSON document of ``path`` (UTF-8, a byte-order mark accepted); text that is
    not UTF-8 or not JSON raises ``ValueError`` naming the file, the line and ``expected``."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
                         f"expected {expected}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not JSON (column {err.colno}: {err.msg}); "
                         f"expected {expected}") from None


def read_mmocr_textdet(path: str, image_root: Optional[str] = None) -> List[Tuple[str, List[TextRegion]]]:
    """``[(image path, regions)]`` of an mmocr 1.x textdet or textspotting JSON file;
    image paths are joined to ``image_root`` (default: the JSON file's folder)."""
    expected = "an mmocr textdet JSON {'data_list': [{'img_path': ..., 'instances': [{'polygon': [...]}]}]}"
    doc = read_json(path, expected)
    if not isinstance(doc, dict) or not isinstance(doc.get("data_list"), list):
        raise ValueError(f"{path}: not an mmocr annotation file (no 'data_list' list); expected {expected}")
    root = osp.dirname(osp.abspath(path)) if image_root is None else image_root
    base = osp.basename(path)
    out = []
    for i, entry in enumerate(doc["data_list"]):
        where = f"{path}: data_list[{i}]"
        if not isinstance(entry, dict) or "img_path" not in entry or "instances" not in entry:
            got = f"keys {sorted(entry)}" if isinstance(entry, dict) else type(entry).__name__
            raise ValueError(f"{where} needs 'img_path' and 'instances', got {got}")
        if not isinstance(entry["img_path"], str) or not entry["img_path"]:
            raise ValueError(f"{where}.img_path: expected a file name, got {entry['img_path']!r}")
        if not isinstance(entry["instances"], list):
            raise ValueError(f"{where}.instances: expected a list, got {type(entry['instances']).__name__}")
        regions = []
        for j, inst in enumerate(entry["instances"]):
            name = f"{base}:data_list[{i}].instances[{j}]"
            at = f"{where}.instances[{j}]"
            if not isinstance(inst, dict):
                raise ValueError(f"{at}: expected an object with a 'polygon', got {type(inst).__name__}")
            if "polygon" in inst:
                pts = _points(_json_numbers(inst["polygon"], f"{at}.polygon"), f"{at}.polygon")
            elif "bbox" in inst:  # an axis-aligned box as a quadrilateral
                box = _json_numbers(inst["bbox"], f"{at}.bbox")
                if len(box) != 4:
                    raise ValueError(f"{at}.bbox: expected [x1, y1, x2, y2], got {len(box)} numbers")
                x1, y1, x2, y2 = box
                pts = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
            else:
                raise ValueError(f"{at}: needs a 'polygon' (or a 'bbox'), got keys {sorted(inst)}")
            text = inst.get("text", "")
            if not isinstance(text, str):
                raise ValueError(f"{at}.text: expected a string, got {text!r}")
            regions.append(TextRegion(pts, text, bool(inst.get("ignore", False)), name))
        out.append((osp.join(root, entry["img_path"]), regions))
    return out


def _json_numbers(values, where: str) -> List[float]:
    """The JSON list ``values`` (flat, or of ``[x, y]`` pairs) as floats; anything else raises."""
    if isinstance(values, list) and values and all(isinstance(v, list) for v in values):
        values = [v for pair in values for v in pair]
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in values):
        raise ValueError(f"{where}: expected a list of numbers, got {str(values)[:200]}")
    bad = [v for v in values if not np.isfinite(v)]
    if bad:
        raise ValueError(f"{where}: expected finite numbers, got {bad!r}")
    return [float(v) for v in values]


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
