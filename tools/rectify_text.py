#!/usr/bin/env python
"""Rectify text for OCR: word crops with a learned rectifier, or scene images with text
polygons geometrically, and show what was done.

Word crops, with the shipped rectifier (no config or checkpoint needed):

    python tools/rectify_text.py path/to/crops [--ocr tesseract] [--out-dir work_dirs/rectified_text]

Word crops, with a trained recognizer (its rectifier rectifies, it reads the crops):

    python tools/rectify_text.py configs/textrecog/crnn-tps-warp_synthetic-words.py \
        work_dirs/crnn-tps-warp/iter_9000.pth path/to/crops [--ocr tesseract]

Scene images + text regions (no learning: a perspective transform for quadrilaterals,
a thin-plate spline fitted to the top and bottom edges for curved polygons):

    python tools/rectify_text.py path/to/images --annotations path/to/gt --format icdar2015 \
        [--refine] [--ocr tesseract]

``--format``: ``icdar2015`` (``gt_img_1.txt`` per image), ``totaltext``, ``ctw1500``
(``.txt`` / ``.xml``) or ``mmocr`` (a textdet JSON; ``--annotations`` is the file and
the positional argument the image root). ``--refine`` also runs the learned rectifier
on each geometric crop (the scene is still sampled once).

Writes into ``--out-dir``: ``rectified/<name>.png`` (each crop sampled once, at the
word's own height and length), ``figures/<name>.png`` (the input with the sampled
region drawn | the flat crop, with the readings), ``predictions.tsv``,
``textrecog.json`` (mmocr textrecog layout: the rectified crops with their labels,
ready for a recognizer's dataset) and, with labels, ``scores.json``. Labels come from
the annotations or ``--labels`` (an mmocr textrecog JSON whose ``img_path`` basenames
match the files, or a ``name<TAB>text`` file). With ``--ocr tesseract`` Tesseract reads
the raw crops and the rectified ones. Unreadable images and degenerate regions are
skipped with a warning and counted.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import warnings

from stn_plugin.cli.paths import IMAGE_EXTS, image_files

FORMATS = ("icdar2015", "totaltext", "ctw1500", "mmocr")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="[CONFIG CHECKPOINT] INPUT",
                   help="a folder of word crops or one image; or a recognizer's config and checkpoint, then that; "
                        "with --annotations: the folder of scene images (or the image root of an mmocr JSON)")
    p.add_argument("--out-dir", default="work_dirs/rectified_text", help="output folder")
    p.add_argument("--rectifier", default="tps-words",
                   help="shipped rectifier name or rectifier file, used without CONFIG CHECKPOINT (default tps-words)")
    p.add_argument("--annotations", help="text-region annotations of scene images (a file or folder of --format)")
    p.add_argument("--format", choices=FORMATS, help="format of --annotations")
    p.add_argument("--refine", action="store_true",
                   help="with --annotations: refine each geometric crop with the learned rectifier")
    p.add_argument("--keep-ignored", action="store_true",
                   help="with --annotations: also rectify regions marked do-not-care (###)")
    p.add_argument("--labels", help="mmocr textrecog JSON or 'name<TAB>text' file with ground truth of the crops")
    p.add_argument("--out-height", type=int, default=None,
                   help="height of the rectified crops (default: each word's own height)")
    p.add_argument("--max-images", type=int, default=None, help="only the first N images")
    p.add_argument("--no-figures", action="store_true", help="skip the side-by-side figures")
    p.add_argument("--ocr", choices=["none", "tesseract"], default="none", help="also read the crops with an OCR engine")
    p.add_argument("--tesseract-cmd", default="tesseract", help="the Tesseract executable")
    p.add_argument("--ocr-size", choices=["crop", "text"], default="text",
                   help="word crops: size of the rectified crops Tesseract reads: 'text' (default) the sampled "
                        "region's own height and length, so a flattened word keeps its proportions; 'crop' the raw "
                        "crop's size")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    p.add_argument("--batch-size", type=int, default=64, help="crops per rectifier batch")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if len(args.inputs) not in (1, 3):
        p.error(f"expected INPUT or CONFIG CHECKPOINT INPUT, got {len(args.inputs)} positional arguments")
    args.config, args.checkpoint = (args.inputs[0], args.inputs[1]) if len(args.inputs) == 3 else (None, None)
    args.input = args.inputs[-1]
    if args.annotations and not args.format:
        p.error("--annotations needs --format (one of " + ", ".join(FORMATS) + ")")
    if args.format and not args.annotations:
        p.error("--format needs --annotations")
    if args.refine and not args.annotations:
        p.error("--refine applies to --annotations (geometric crops); word crops use the rectifier anyway")
    return args


def read_labels(path: str) -> dict:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return {osp.basename(d["img_path"]): d["instances"][0]["text"] for d in doc["data_list"]}
    labels = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if "\t" not in line:
                raise ValueError(f"{path}:{n}: expected 'name<TAB>text', got {line!r}")
            name, text = line.split("\t", 1)
            labels[osp.basename(name)] = text
    return labels


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
    import cv2
    import numpy as np
    img = np.ascontiguousarray(img)
    cv2.imwrite(path, img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def word_crops(args, writer) -> None:
    """Mode (a): a folder of word crops, rectified by a learned rectifier."""
    from stn_plugin.apis import init_model
    from stn_plugin.textrecog.rectify import draw_rectification, model_input_size, recognize_crops
    from stn_plugin.textrecog.text_rectifier import TextRectifier

    try:
        files = image_files(args.input)
    except ValueError as err:
        sys.exit(f"input: {err}")
    if args.max_images:
        files = files[:args.max_images]
    if not files:
        sys.exit(f"input: no images ({', '.join(IMAGE_EXTS)}) in {args.input!r}")

    model = cfg = None
    if args.config:
        model = init_model(args.config, args.checkpoint, device=args.device)
        cfg = model.cfg
        model_name = osp.splitext(osp.basename(args.config))[0]
        if model.preprocessor is None:
            print("note: this model has no preprocessor (rectifier); the 'rectified' crops are the inputs")
        rectifier = (TextRectifier.from_recognizer(model, cfg, name=model_name, device=args.device,
                                                   batch_size=args.batch_size)
                     if model.preprocessor is not None else None)
        channels = model.in_channels
    else:
        rectifier = TextRectifier.from_pretrained(args.rectifier, device=args.device, batch_size=args.batch_size)
        model_name, channels = None, rectifier.in_channels
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
        sys.exit(f"input: none of the {len(files)} images in {args.input!r} could be read")

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

    tess_raw = tess_rect = None
    if args.ocr == "tesseract":
        from stn_plugin.textrecog.rectify import run_tesseract
        for_ocr = rectified
        if rectifier is not None and args.ocr_size != "text":
            for_ocr = rectifier(crops, out_size=args.ocr_size)
        if args.out_height and rectifier is not None and args.ocr_size == "text":
            for_ocr = rectifier(crops, out_size="text")
        print(f"Tesseract reads {len(crops)} raw and {len(crops)} rectified crops ...", file=sys.stderr)
        tess_raw = run_tesseract(crops, cmd=args.tesseract_cmd)
        tess_rect = run_tesseract(for_ocr, cmd=args.tesseract_cmd)

    labels = read_labels(args.labels) if args.labels else {}
    for i, f in enumerate(progress(names, "writing", not args.no_progress)):
        name = osp.splitext(osp.basename(f))[0] + ".png"
        parts = [f"{model_name}: {texts[i][0]}"] if model_name else []
        if tess_raw is not None:
            parts += [f"tess raw: {tess_raw[i]}", f"tess rect: {tess_rect[i]}"]
        t = details[i].transform if details[i] is not None else None
        writer.add(name, rectified[i], label=labels.get(osp.basename(f)), source=f,
                   recognizer=texts[i][0] if model_name else None,
                   tesseract_raw=tess_raw[i] if tess_raw else None, tesseract=tess_rect[i] if tess_rect else None,
                   figure=None if args.no_figures else (lambda c=crops[i], r=rectified[i], t=t, cap=" | ".join(parts):
                                                       draw_rectification(c, r, t, cap)))


def scene_regions(args, writer) -> None:
    """Mode (b): scene images + text-region annotations, rectified geometrically."""
    import numpy as np
    from stn_plugin.textrecog.geometric_rectification import rectify_regions
    from stn_plugin.textrecog.region_annotations import read_annotations, regions_by_image
    from stn_plugin.textrecog.rectify import draw_region_rectification

    image_dir = args.input if osp.isdir(args.input) else osp.dirname(args.input)
    items = regions_by_image(read_annotations(args.annotations, args.format, image_dir=image_dir,
                                              missing_image="warn"))
    if not osp.isdir(args.input):  # one image: only its regions
        items = {k: v for k, v in items.items() if osp.abspath(k) == osp.abspath(args.input)}
    images = sorted(items)
    if args.max_images:
        images = images[:args.max_images]
    if not images:
        sys.exit(f"no annotated images found for {args.input!r} in {args.annotations!r}")
    refiner = None
    if args.refine:
        from stn_plugin.textrecog.text_rectifier import TextRectifier
        if args.config:
            refiner = TextRectifier(args.config, args.checkpoint, device=args.device)
        else:
            refiner = TextRectifier.from_pretrained(args.rectifier, device=args.device)
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
        stem = osp.splitext(osp.basename(path))[0]
        for k, (region, crop) in enumerate(zip(regions, flat)):
            if crop is None:
                writer.skipped_regions += 1
                continue
            name = f"{stem}_{k:03d}.png"
            ocr_inputs.append((name, crop))
            writer.add(name, crop, label=None if region.ignore else region.text, source=path, region=region.name,
                       polygon=np.round(region.points, 2).flatten().tolist(),
                       figure=None if args.no_figures else (lambda img=img, pts=region.points, c=crop, cap=region.text:
                                                           draw_region_rectification(img, pts, c, cap)))
    if args.ocr == "tesseract" and ocr_inputs:
        from stn_plugin.textrecog.rectify import run_tesseract
        print(f"Tesseract reads {len(ocr_inputs)} rectified crops ...", file=sys.stderr)
        readings = run_tesseract([c for _, c in ocr_inputs], cmd=args.tesseract_cmd)
        writer.set_column("tesseract", dict(zip([n for n, _ in ocr_inputs], readings)))


class Outputs:
    """Collects the crops and writes crops, figures, the TSV, the textrecog JSON and scores."""

    COLUMNS = ("name", "source", "region", "recognizer", "tesseract_raw", "tesseract", "label")

    def __init__(self, out_dir: str, figures: bool) -> None:
        self.out_dir = out_dir
        self.rows = []
        self.skipped_files = 0
        self.skipped_regions = 0
        os.makedirs(osp.join(out_dir, "rectified"), exist_ok=True)
        if figures:
            os.makedirs(osp.join(out_dir, "figures"), exist_ok=True)

    def add(self, name, crop, figure=None, **fields) -> None:
        save_image(osp.join(self.out_dir, "rectified", name), crop)
        if figure is not None:
            save_image(osp.join(self.out_dir, "figures", name), figure())
        self.rows.append(dict(name=name, **fields))

    def set_column(self, key: str, values: dict) -> None:
        for row in self.rows:
            row[key] = values.get(row["name"])

    def finish(self) -> None:
        from stn_plugin.textrecog.metrics import text_recognition_scores
        from stn_plugin.textrecog.text_formats import write_textrecog_json

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
            extra = {k: r[k] for k in ("source", "region", "polygon", "tesseract", "recognizer") if r.get(k) is not None}
            items.append(dict(img_path=f"rectified/{r['name']}", text=r["label"], **extra))
        write_textrecog_json(osp.join(self.out_dir, "textrecog.json"), items)
        print(f"wrote {len(self.rows)} rectified crops to {osp.join(self.out_dir, 'rectified')}, predictions.tsv"
              + (", figures" if osp.isdir(osp.join(self.out_dir, 'figures')) else "")
              + f" and textrecog.json ({len(items)} labelled crops)")
        if self.skipped_files:
            print(f"skipped {self.skipped_files} unreadable image file(s)")
        if self.skipped_regions:
            print(f"skipped {self.skipped_regions} degenerate region(s)")
        labelled = [r for r in self.rows if r.get("label")]
        if not labelled:
            if any(r.get("tesseract") is not None for r in self.rows):
                print("no labels: the readings are in predictions.tsv (no accuracy without labels)")
            return
        gts = [r["label"] for r in labelled]
        report = {}
        for key in ("recognizer", "tesseract_raw", "tesseract"):
            if any(r.get(key) is not None for r in labelled):
                report[key] = text_recognition_scores([r.get(key) or "" for r in labelled], gts)
        if report:
            print(f"{len(labelled)} labelled crops; word accuracy (standard protocol) / 1-NED:")
            for k, s in report.items():
                print(f"  {k:20s} {s['word_acc_ignore_case_symbol']:.3f} / {s['one_minus_ned']:.3f}")
            with open(osp.join(self.out_dir, "scores.json"), "w") as fh:
                json.dump(report, fh, indent=1)


def _short_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def main(argv=None):
    args = parse_args(argv)
    warnings.formatwarning = _short_warning  # a CLI's warnings, not code locations
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from stn_plugin.textrecog.rectify import TESSERACT_HELP, tesseract_available
    if args.ocr == "tesseract" and not tesseract_available(args.tesseract_cmd):
        sys.exit(f"--ocr tesseract: {TESSERACT_HELP}")
    writer = Outputs(args.out_dir, figures=not args.no_figures)
    if args.annotations:
        scene_regions(args, writer)
    else:
        word_crops(args, writer)
    writer.finish()


if __name__ == "__main__":
    main()
