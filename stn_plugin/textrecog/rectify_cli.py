"""Logic of ``tools/rectify_text.py``: rectify text for OCR -- word crops with a learned
rectifier, or scene images with text polygons geometrically -- and show what was done.

Word crops, with the shipped rectifier (no config or checkpoint needed)::

    python tools/rectify_text.py path/to/crops [--ocr tesseract|rapidocr] [--out-dir work_dirs/rectified_text]
        [--keep-flat]

``--keep-flat`` passes crops that the rectifier judges flat through untouched (the
outline rectifiers predict it).

Word crops, with a trained recognizer (its rectifier rectifies, it reads the crops)::

    python tools/rectify_text.py configs/textrecog/crnn-tps-warp_synthetic-words.py \\
        work_dirs/crnn-tps-warp/iter_9000.pth path/to/crops [--ocr tesseract]

Scene images + text regions (no learning: a perspective transform for quadrilaterals,
a thin-plate spline fitted to the top and bottom edges for curved polygons)::

    python tools/rectify_text.py path/to/images --annotations path/to/gt --format icdar2015 \\
        [--refine] [--ocr tesseract]

``--format``: ``icdar2015`` (``gt_img_1.txt`` per image), ``totaltext``, ``ctw1500``
(``.txt`` / ``.xml``) or ``mmocr`` (a textdet JSON; ``--annotations`` is the file and
the positional argument the image root). ``--refine`` also runs the learned rectifier
on each geometric crop (the scene is still sampled once).

Writes into ``--out-dir``: ``rectified/<name>.png`` (each crop sampled once, at the
word's own height and length), ``figures/<name>.png`` (the input with the sampled
region drawn | the flat crop, with the readings), ``predictions.tsv``,
``textrecog.json`` (mmocr textrecog layout: the rectified crops with their labels,
ready for a recognizer's dataset) and, with labels, ``scores.json``.

``--ocr``: ``tesseract`` (Tesseract 5, ``--psm 7``) or ``rapidocr`` (PP-OCRv4's
recognizer through ``rapidocr_onnxruntime``, ``pip install 'stn_plugin[ocr]'``) reads
the raw crops and the rectified ones (:func:`stn_plugin.rectify.read_text`); the
readings are the columns ``<engine>_raw`` and ``<engine>``.
``--device cuda`` rectifies on the GPU; a device this machine lacks is an error.

Output names: a word crop keeps its file name with ``.png`` (``w1.jpg`` ->
``w1.png``); a scene image's regions are ``<image>_<k>.png`` with ``<image>`` the
image's path below the image folder without extension (an mmocr ``img_path``
``a/x.png`` gives ``rectified/a/x_000.png``). Inputs that share a name but for the
extension keep it in the name (``a.jpg`` -> ``a_jpg.png``, ``a.png`` -> ``a_png.png``).
Two outputs never share a file.

An existing non-empty ``--out-dir`` is refused unless ``--overwrite``; then the files
an earlier run wrote there (``rectified/**/*.png``, ``figures/**/*.png``,
``predictions.tsv``, ``textrecog.json``, ``scores.json``) are deleted first and any
other file is kept. Labels come from the annotations or ``--labels`` (an mmocr
textrecog JSON whose ``img_path`` base names match the files, or a ``name<TAB>text``
file; UTF-8, a byte-order mark accepted), read and checked before any work starts: a
labels file that names none of the images is an error. Unreadable images and
degenerate regions are skipped with a warning and counted. Every bad input (an
argument, a malformed annotation or labels file, an image that cannot be written)
ends the tool with one ``error:`` line naming it.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import warnings
from typing import Dict, List, Optional, Sequence

from ..cli.argument_types import positive_int
from ..cli.errors import exit_on_bad_input
from ..cli.paths import IMAGE_EXTS, image_files
from ..cli.devices import check_device
from ..datasets.output_folders import check_output_dir, remove_earlier_outputs, unique_output_names
from ..rectify.rectifier_file import DEFAULT_RECTIFIER
from ..rectify.ocr_engines import ENGINES, engine_missing_reason, read_text
from .region_annotations import ANNOTATION_FORMATS, read_json

__all__ = ["parse_args", "main", "read_labels", "OUTPUT_PATTERNS"]

#: What a run writes into ``--out-dir`` (``Path.glob`` patterns); ``--overwrite`` deletes these first.
OUTPUT_PATTERNS = ("rectified/**/*.png", "figures/**/*.png", "predictions.tsv", "textrecog.json", "scores.json")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rectify_text.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="[CONFIG CHECKPOINT] INPUT",
                   help="a folder of word crops or one image; or a recognizer's config and checkpoint, then that; "
                        "with --annotations: the folder of scene images (or the image root of an mmocr JSON)")
    p.add_argument("--out-dir", default="work_dirs/rectified_text", help="output folder")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out-dir, deleting the files an earlier run wrote there")
    p.add_argument("--rectifier", default=DEFAULT_RECTIFIER,
                   help="shipped rectifier name or rectifier file, used without CONFIG CHECKPOINT "
                        f"(default {DEFAULT_RECTIFIER})")
    p.add_argument("--keep-flat", action="store_true",
                   help="pass crops the rectifier judges flat through untouched (rectifiers that predict flatness)")
    p.add_argument("--annotations", help="text-region annotations of scene images (a file or folder of --format)")
    p.add_argument("--format", choices=ANNOTATION_FORMATS, help="format of --annotations")
    p.add_argument("--refine", action="store_true",
                   help="with --annotations: refine each geometric crop with the learned rectifier")
    p.add_argument("--keep-ignored", action="store_true",
                   help="with --annotations: also rectify regions marked do-not-care (###)")
    p.add_argument("--labels", help="mmocr textrecog JSON or 'name<TAB>text' file with ground truth of the crops")
    p.add_argument("--out-height", type=positive_int, default=None,
                   help="height of the rectified crops (default: each word's own height)")
    p.add_argument("--max-images", type=positive_int, default=None, help="only the first N images")
    p.add_argument("--no-figures", action="store_true", help="skip the side-by-side figures")
    p.add_argument("--ocr", choices=["none", *ENGINES], default="none",
                   help="also read the crops with an OCR engine: tesseract (Tesseract 5) or rapidocr (PP-OCRv4)")
    p.add_argument("--tesseract-cmd", default="tesseract", help="the Tesseract executable")
    p.add_argument("--ocr-size", choices=["crop", "text"], default="text",
                   help="word crops: size of the rectified crops the OCR engine reads: 'text' (default) the sampled "
                        "region's own height and length, so a flattened word keeps its proportions; 'crop' the raw "
                        "crop's size")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    p.add_argument("--batch-size", type=positive_int, default=64, help="crops per rectifier batch")
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if len(args.inputs) not in (1, 3):
        p.error(f"expected INPUT or CONFIG CHECKPOINT INPUT, got {len(args.inputs)} positional arguments")
    args.config, args.checkpoint = (args.inputs[0], args.inputs[1]) if len(args.inputs) == 3 else (None, None)
    args.input = args.inputs[-1]
    if args.annotations and not args.format:
        p.error("--annotations needs --format (one of " + ", ".join(ANNOTATION_FORMATS) + ")")
    if args.format and not args.annotations:
        p.error("--format needs --annotations")
    if args.refine and not args.annotations:
        p.error("--refine applies to --annotations (geometric crops); word crops use the rectifier anyway")
    if args.labels and args.annotations:
        p.error("--labels applies to word crops; scene regions take their labels from --annotations")
    return args


def read_labels(path: str) -> Dict[str, str]:
    """``{image base name: text}`` of an mmocr textrecog JSON or a ``name<TAB>text`` file
    (UTF-8, a byte-order mark accepted). Raises ``ValueError`` naming the file and the
    entry or line that is malformed, or that gives one name two different texts."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"--labels file not found: {path}")
    labels: Dict[str, str] = {}
    where_of: Dict[str, str] = {}

    def add(name: str, text: str, where: str) -> None:
        key = osp.basename(name)
        if key in labels and labels[key] != text:
            raise ValueError(f"{where}: {key!r} is labelled {text!r} here but {labels[key]!r} at {where_of[key]} "
                             "(labels are matched by base name)")
        labels[key], where_of[key] = text, where

    if path.lower().endswith(".json"):
        expected = "an mmocr textrecog JSON {'data_list': [{'img_path': ..., 'instances': [{'text': ...}]}]}"
        doc = read_json(path, expected)
        if not isinstance(doc, dict) or not isinstance(doc.get("data_list"), list):
            raise ValueError(f"{path}: no 'data_list' list; expected {expected}")
        for i, entry in enumerate(doc["data_list"]):
            where = f"{path}: data_list[{i}]"
            try:
                name, text = entry["img_path"], entry["instances"][0]["text"]
            except (KeyError, IndexError, TypeError):
                raise ValueError(f"{where}: expected {{'img_path': ..., 'instances': [{{'text': ...}}]}}, "
                                 f"got {str(entry)[:200]}") from None
            if not isinstance(name, str) or not name or not isinstance(text, str):
                raise ValueError(f"{where}: expected a file name and a text string, got {name!r} and {text!r}")
            add(name, text, where)
        return labels
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
                         "expected 'name<TAB>text' lines") from None
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{path}:{n}: expected 'name<TAB>text', got {line!r}")
        name, text = line.split("\t", 1)
        if not name.strip():
            raise ValueError(f"{path}:{n}: expected 'name<TAB>text', got an empty name")
        add(name.strip(), text, f"{path}:{n}")
    return labels


def _check_labels_name_inputs(labels: Dict[str, str], labels_path: str, files: Sequence[str]) -> None:
    """Raise when ``labels`` is empty or names none of ``files``; warn (stderr) about
    inputs it leaves unlabelled (they are left out of ``textrecog.json``)."""
    names = [osp.basename(f) for f in files]
    if not labels:
        raise ValueError(f"--labels {labels_path} holds no labels")
    missing = [n for n in names if n not in labels]
    if len(missing) == len(names):
        raise ValueError(f"--labels {labels_path} names none of the {len(names)} input images (e.g. {names[0]!r}); "
                         f"its names are e.g. {sorted(labels)[:3]} (labels are matched by file base name)")
    if missing:
        print(f"warning: --labels {labels_path} has no label for {len(missing)} of the {len(names)} images "
              f"(e.g. {missing[0]!r}); they are left out of textrecog.json", file=sys.stderr)


def progress(items, description: str, enabled: bool):
    """Iterate ``items`` with a progress bar on stderr (rich, an mmengine dependency)."""
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import track
    yield from track(items, description=description, total=len(items), console=Console(stderr=True),
                     transient=False)


def read_image(path: str, grey: bool = False):
    """RGB ``(H, W, 3)`` (or ``(H, W, 1)``) uint8, or None with a warning if unreadable."""
    import cv2
    try:
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        warnings.warn(f"skipped unreadable image {path!r} (empty, corrupt or not an image)", stacklevel=2)
        return None
    return img[..., None] if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def save_image(path: str, img) -> None:
    """Write RGB (or one-channel) ``img`` to ``path``; ``OSError`` naming it when that fails."""
    import cv2
    import numpy as np
    img = np.ascontiguousarray(img)
    try:
        ok = cv2.imwrite(path, img[..., 0] if img.ndim == 3 and img.shape[2] == 1
                         else cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    except cv2.error as err:
        raise OSError(f"could not write {path}: {err}") from None
    if not ok:
        raise OSError(f"could not write {path} (OpenCV's imwrite failed: full disk, no permission or a bad path?)")


def _load_rectifier(args, **kwargs):
    """The learned rectifier: the recognizer's (CONFIG CHECKPOINT) or ``--rectifier``'s;
    a file that cannot be loaded as one raises ``ValueError`` naming it."""
    import pickle

    from .text_rectifier import TextRectifier
    if getattr(args, "keep_flat", False):
        kwargs["keep_flat"] = True
    try:
        if args.config:
            return TextRectifier(args.config, args.checkpoint, device=args.device, **kwargs)
        return TextRectifier.from_pretrained(args.rectifier, device=args.device, **kwargs)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as err:
        source = f"{args.config} {args.checkpoint}" if args.config else f"--rectifier {args.rectifier}"
        raise ValueError(f"{source} (--device {args.device}): cannot be loaded as a rectifier "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None


def load_word_crop_models(args) -> tuple:
    """``(model, cfg, model_name, rectifier, channels)`` of word-crop mode: the
    recognizer and its rectifier (CONFIG CHECKPOINT), or ``--rectifier`` alone."""
    from ..apis import init_model
    from .text_rectifier import TextRectifier

    if args.config:
        model = init_model(args.config, args.checkpoint, device=args.device)
        cfg = model.cfg
        model_name = osp.splitext(osp.basename(args.config))[0]
        rectifier = (TextRectifier.from_recognizer(model, cfg, name=model_name, device=args.device,
                                                   batch_size=args.batch_size)
                     if model.preprocessor is not None else None)
        return model, cfg, model_name, rectifier, model.in_channels
    rectifier = _load_rectifier(args, batch_size=args.batch_size)
    return None, None, None, rectifier, rectifier.in_channels


def word_crops(args, files: List[str], labels: Dict[str, str], models: tuple, writer: "Outputs") -> None:
    """Mode (a): a folder of word crops, rectified by a learned rectifier."""
    from .rectify import draw_rectification, model_input_size, recognize_crops

    root = args.input if osp.isdir(args.input) else ""
    out_names = dict(zip(files, unique_output_names(files, root)))
    model, cfg, model_name, rectifier, channels = models
    if model is not None and rectifier is None:
        print("note: this model has no preprocessor (rectifier); the 'rectified' crops are the inputs")
    print(f"rectifier: {rectifier!r}" if rectifier is not None else "rectifier: none")

    names, crops = [], []
    for f in progress(files, "reading", not args.no_progress):
        img = read_image(f, grey=channels == 1)
        if img is None:
            writer.skipped_files += 1
            continue
        names.append(f)
        crops.append(img)
    if not crops:
        raise ValueError(f"input: none of the {len(files)} images in {args.input!r} could be read")

    out_size = "text"
    if args.out_height:
        pre_h, pre_w = (rectifier.module.out_size if rectifier is not None else None) or (32, 100)
        out_size = (args.out_height, round(args.out_height * pre_w / pre_h))
    texts = [("", 0.0)] * len(crops)
    if model is not None:
        input_size = model_input_size(cfg)
        texts = []
        for start in progress(range(0, len(crops), args.batch_size), "recognizing", not args.no_progress):
            texts += recognize_crops(model, crops[start:start + args.batch_size], input_size)
    rectified, details = [], []
    for start in progress(range(0, len(crops), args.batch_size), "rectifying", not args.no_progress):
        chunk = crops[start:start + args.batch_size]
        if rectifier is None:
            rectified += [c.copy() for c in chunk]
            details += [None] * len(chunk)
            continue
        res = rectifier(chunk, out_size=out_size, return_details=True)
        rectified += [r.image for r in res]
        details += res

    ocr_raw = ocr_rect = None
    if args.ocr != "none":
        for_ocr = rectified
        if rectifier is not None and args.ocr_size != "text":
            for_ocr = rectifier(crops, out_size=args.ocr_size)
        if args.out_height and rectifier is not None and args.ocr_size == "text":
            for_ocr = rectifier(crops, out_size="text")
        print(f"{args.ocr} reads {len(crops)} raw and {len(crops)} rectified crops ...", file=sys.stderr)
        ocr_raw = read_text(crops, args.ocr, **ocr_options(args))
        ocr_rect = read_text(for_ocr, args.ocr, **ocr_options(args))

    for i, f in enumerate(progress(names, "writing", not args.no_progress)):
        parts = [f"{model_name}: {texts[i][0]}"] if model_name else []
        if ocr_raw is not None:
            parts += [f"{args.ocr} raw: {ocr_raw[i]}", f"{args.ocr} rect: {ocr_rect[i]}"]
        t = details[i].transform if details[i] is not None else None
        writer.add(out_names[f], rectified[i], label=labels.get(osp.basename(f)), source=f,
                   recognizer=texts[i][0] if model_name else None,
                   **({f"{args.ocr}_raw": ocr_raw[i], args.ocr: ocr_rect[i]} if ocr_raw is not None else {}),
                   figure=None if args.no_figures else (lambda c=crops[i], r=rectified[i], t=t, cap=" | ".join(parts):
                                                       draw_rectification(c, r, t, cap)))


def annotated_images(args) -> Dict[str, list]:
    """``{image path: regions}`` of ``--annotations`` for the input (all images of a
    folder, or the one image given), at most ``--max-images``; raises if none."""
    from .region_annotations import read_annotations, regions_by_image

    image_dir = args.input if osp.isdir(args.input) else osp.dirname(args.input)
    if not osp.exists(args.input):
        raise FileNotFoundError(f"input not found: {args.input}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = regions_by_image(read_annotations(args.annotations, args.format, image_dir=image_dir,
                                                  missing_image="warn"))
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if not osp.isdir(args.input):  # one image: only its regions
        items = {k: v for k, v in items.items() if osp.abspath(k) == osp.abspath(args.input)}
    images = sorted(items)[:args.max_images] if args.max_images else sorted(items)
    if not images:
        raise ValueError(f"no annotated images found for {args.input!r} in {args.annotations!r}")
    return {k: items[k] for k in images}


def scene_output_prefixes(args, images: Sequence[str]) -> Dict[str, str]:
    """``{image path: output name prefix}``: the path below the image folder without
    extension (distinct, see :func:`unique_output_names`)."""
    image_dir = args.input if osp.isdir(args.input) else osp.dirname(args.input)
    return dict(zip(images, unique_output_names(images, image_dir, suffix="")))


def scene_regions(args, items: Dict[str, list], prefixes: Dict[str, str], refiner, writer: "Outputs") -> None:
    """Mode (b): scene images + text-region annotations, rectified geometrically
    (``refiner``: the learned rectifier of ``--refine``, or None)."""
    import numpy as np
    from .geometric_rectification import rectify_regions
    from .rectify import draw_region_rectification

    images = list(items)
    if refiner is not None:
        print(f"refining with {refiner!r}")
    ocr_inputs = []
    for path in progress(images, "rectifying", not args.no_progress):
        img = read_image(path)
        if img is None:
            writer.skipped_files += 1
            continue
        regions = [r for r in items[path] if args.keep_ignored or not r.ignore]
        if not regions:
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            flat = rectify_regions(img, regions, on_error="warn", height=args.out_height, device=args.device,
                                   refiner=refiner.refine_transforms if refiner is not None else None)
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        for k, (region, crop) in enumerate(zip(regions, flat)):
            if crop is None:
                writer.skipped_regions += 1
                continue
            name = f"{prefixes[path]}_{k:03d}.png"
            ocr_inputs.append((name, crop))
            writer.add(name, crop, label=None if region.ignore else region.text, source=path, region=region.name,
                       polygon=np.round(region.points, 2).flatten().tolist(),
                       figure=None if args.no_figures else (lambda img=img, pts=region.points, c=crop, cap=region.text:
                                                           draw_region_rectification(img, pts, c, cap)))
    if args.ocr != "none" and ocr_inputs:
        print(f"{args.ocr} reads {len(ocr_inputs)} rectified crops ...", file=sys.stderr)
        readings = read_text([c for _, c in ocr_inputs], args.ocr, **ocr_options(args))
        writer.set_column(args.ocr, dict(zip([n for n, _ in ocr_inputs], readings)))


class Outputs:
    """Collects the crops and writes crops, figures, the TSV, the textrecog JSON and scores.

    Every output name is written once: a second crop under one name is an error (it
    would replace the first and mislabel the training set)."""

    COLUMNS = ("name", "source", "region", "recognizer", *(c for e in ENGINES for c in (f"{e}_raw", e)), "label")
    #: The columns that hold a reading of the crop (scored against the labels).
    READINGS = tuple(c for c in COLUMNS if c not in ("name", "source", "region", "label"))

    def __init__(self, out_dir: str, figures: bool) -> None:
        self.out_dir = out_dir
        self.figures = figures
        self.rows = []
        self.names = set()
        self.skipped_files = 0
        self.skipped_regions = 0
        os.makedirs(osp.join(out_dir, "rectified"), exist_ok=True)
        if figures:
            os.makedirs(osp.join(out_dir, "figures"), exist_ok=True)

    def add(self, name: str, crop, figure=None, **fields) -> None:
        if name in self.names:
            raise ValueError(f"two crops would both be written as rectified/{name} "
                             f"(the second from {fields.get('source')!r}); nothing is replaced")
        self.names.add(name)
        for folder, image in (("rectified", crop), ("figures", figure() if figure is not None else None)):
            if image is None:
                continue
            path = osp.join(self.out_dir, folder, name)
            os.makedirs(osp.dirname(path), exist_ok=True)
            save_image(path, image)
        self.rows.append(dict(name=name, **fields))

    def set_column(self, key: str, values: dict) -> None:
        for row in self.rows:
            row[key] = values.get(row["name"])

    def finish(self) -> None:
        from .metrics import text_recognition_scores
        from .text_formats import write_textrecog_json

        cols = [c for c in self.COLUMNS if c == "name" or any(r.get(c) is not None for r in self.rows)]
        with open(osp.join(self.out_dir, "predictions.tsv"), "w", encoding="utf-8") as fh:
            fh.write("\t".join(cols) + "\n")
            for r in self.rows:
                fh.write("\t".join(str(r.get(c) or "").replace("\t", " ").replace("\n", " ") for c in cols) + "\n")
        # the recognizer dataset lists the crops with a label (a training sample needs its text)
        items = []
        for r in self.rows:
            if not r.get("label"):
                continue
            extra = {k: r[k] for k in ("source", "region", "polygon", *ENGINES, "recognizer") if r.get(k) is not None}
            items.append(dict(img_path=f"rectified/{r['name']}", text=r["label"], **extra))
        write_textrecog_json(osp.join(self.out_dir, "textrecog.json"), items)
        print(f"wrote {len(self.rows)} rectified crops to {osp.join(self.out_dir, 'rectified')}, predictions.tsv"
              + (", figures" if self.figures else "")
              + f" and textrecog.json ({len(items)} labelled crops)")
        if self.skipped_files:
            print(f"skipped {self.skipped_files} unreadable image file(s)")
        if self.skipped_regions:
            print(f"skipped {self.skipped_regions} degenerate region(s)")
        labelled = [r for r in self.rows if r.get("label")]
        if not labelled:
            if any(r.get(e) is not None for r in self.rows for e in ENGINES):
                print("no labels: the readings are in predictions.tsv (no accuracy without labels)")
            return
        gts = [r["label"] for r in labelled]
        report = {}
        for key in self.READINGS:
            if any(r.get(key) is not None for r in labelled):
                report[key] = text_recognition_scores([r.get(key) or "" for r in labelled], gts)
        if report:
            print(f"{len(labelled)} labelled crops; word accuracy (standard protocol) / 1-NED:")
            for k, s in report.items():
                print(f"  {k:20s} {s['word_acc_ignore_case_symbol']:.3f} / {s['one_minus_ned']:.3f}")
            with open(osp.join(self.out_dir, "scores.json"), "w") as fh:
                json.dump(report, fh, indent=1)


def ocr_options(args) -> dict:
    """The options of ``--ocr``'s engine from the command line."""
    if args.ocr == "tesseract":
        return dict(cmd=args.tesseract_cmd)
    if args.ocr == "rapidocr" and args.threads:
        return dict(threads=args.threads)
    return {}


def _short_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def prepare_out_dir(out_dir: str, overwrite: bool) -> None:
    """Refuse a non-empty ``out_dir`` without ``overwrite``; with it, delete what an
    earlier run wrote (:data:`OUTPUT_PATTERNS`); create the folder (an error names it
    when it cannot be created)."""
    check_output_dir(out_dir, overwrite, "--out-dir")
    if overwrite:
        remove_earlier_outputs(out_dir, OUTPUT_PATTERNS)
    os.makedirs(out_dir, exist_ok=True)


def run(args: argparse.Namespace) -> None:
    """The tool's work: every input is read and checked before the output folder is
    touched, so a bad input leaves it as it was."""
    check_device(args.device)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.ocr != "none":
        missing = engine_missing_reason(args.ocr, **ocr_options(args))
        if missing:
            raise FileNotFoundError(f"--ocr {args.ocr}: {missing}")
    check_output_dir(args.out_dir, args.overwrite, "--out-dir")
    if args.annotations:
        items = annotated_images(args)
        prefixes = scene_output_prefixes(args, list(items))
        refiner = _load_rectifier(args) if args.refine else None
        prepare_out_dir(args.out_dir, args.overwrite)
        writer = Outputs(args.out_dir, figures=not args.no_figures)
        scene_regions(args, items, prefixes, refiner, writer)
    else:
        labels = read_labels(args.labels) if args.labels else {}
        try:
            files = image_files(args.input)
        except ValueError as err:
            raise ValueError(f"input: {err}") from None
        files = files[:args.max_images] if args.max_images else files
        if not files:
            raise ValueError(f"input: no images ({', '.join(IMAGE_EXTS)}) in {args.input!r}")
        if args.labels:
            _check_labels_name_inputs(labels, args.labels, files)
        unique_output_names(files, args.input if osp.isdir(args.input) else "")
        models = load_word_crop_models(args)
        prepare_out_dir(args.out_dir, args.overwrite)
        writer = Outputs(args.out_dir, figures=not args.no_figures)
        word_crops(args, files, labels, models, writer)
    writer.finish()


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    warnings.formatwarning = _short_warning  # a CLI's warnings, not code locations
    with exit_on_bad_input():
        run(args)
