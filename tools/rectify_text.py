#!/usr/bin/env python
"""Rectify a folder of text crops with a trained recognizer's rectifier, and show it.

    python tools/rectify_text.py configs/textrecog/crnn-tps_synthetic-words.py \
        work_dirs/crnn-tps/iter_2000.pth path/to/crops --out-dir work_dirs/rectified [--ocr tesseract]

Writes ``<out-dir>/rectified/<name>.png`` (the crop resampled once, at its own height,
by the predicted transform), ``<out-dir>/figures/<name>.png`` (crop with the sampled
region and the TPS control points drawn | rectified crop with the target control
points, and the recognizer's reading), and ``<out-dir>/predictions.tsv``.

Labels, if you have them, come from ``--labels`` (an mmocr textrecog JSON whose
``img_path`` basenames match the files, or a ``name<TAB>text`` file); with
``--ocr tesseract`` the script runs Tesseract on the raw crops and on the crops rectified
at the raw crops' own sizes (so only the geometry differs) and reports both readings
(and both accuracies when labels are given).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="the recognizer's config file")
    p.add_argument("checkpoint", help="trained checkpoint (.pth)")
    p.add_argument("crops", help="folder of text crops (or one image file)")
    p.add_argument("--out-dir", default="work_dirs/rectified_text")
    p.add_argument("--labels", help="mmocr textrecog JSON or 'name<TAB>text' file with ground truth")
    p.add_argument("--out-height", type=int, default=None,
                   help="height of the rectified crops (default: each crop's own height)")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--ocr", choices=["none", "tesseract"], default="none")
    p.add_argument("--tesseract-cmd", default="tesseract")
    p.add_argument("--ocr-size", choices=["crop", "text"], default="text",
                   help="size of the rectified crops Tesseract reads: 'text' (default) the sampled region's own "
                        "height and length, so a flattened word keeps its proportions; 'crop' the raw crop's size")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    return p.parse_args(argv)


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


def main(argv=None):
    args = parse_args(argv)
    import cv2
    import numpy as np
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from stn_plugin.textrecog.metrics import text_recognition_scores
    from stn_plugin.textrecog.rectify import (TESSERACT_HELP, draw_rectification, load_recognizer,
                                                          model_input_size, rectify_crops, run_tesseract,
                                                          tesseract_available)
    if args.ocr == "tesseract" and not tesseract_available(args.tesseract_cmd):
        sys.exit(f"--ocr tesseract: {TESSERACT_HELP}")
    if osp.isdir(args.crops):
        files = sorted(f for f in glob.glob(osp.join(args.crops, "*")) if f.lower().endswith(IMAGE_EXTS))
    elif osp.isfile(args.crops):
        files = [args.crops]
    else:
        sys.exit(f"crops: {args.crops!r} is neither a folder nor an image file")
    if args.max_images:
        files = files[:args.max_images]
    if not files:
        sys.exit(f"crops: no images ({', '.join(IMAGE_EXTS)}) in {args.crops!r}")

    model, cfg = load_recognizer(args.config, args.checkpoint)
    if model.preprocessor is None:
        print("note: this model has no preprocessor (rectifier); the 'rectified' crops are the inputs")
    input_size = model_input_size(cfg)
    channels = model.in_channels
    crops = []
    for f in files:
        img = cv2.imread(f, cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"cannot read image {f!r}")
        crops.append(img[..., None] if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB))

    out_size = None
    if args.out_height:
        pre_h, pre_w = (model.preprocessor.out_size if model.preprocessor is not None else None) or input_size
        out_size = (args.out_height, round(args.out_height * pre_w / pre_h))
    rectified, transforms, texts = rectify_crops(model, crops, input_size, out_size)

    labels = read_labels(args.labels) if args.labels else {}
    tess_raw = tess_rect = None
    if args.ocr == "tesseract":
        # Tesseract reads the raw crops as they are and the rectified ones at --ocr-size, both
        # at the text's own pixel scale
        for_ocr = (rectify_crops(model, crops, input_size, args.ocr_size)[0] if model.preprocessor is not None
                   else crops)
        tess_raw = run_tesseract(crops, cmd=args.tesseract_cmd)
        tess_rect = run_tesseract(for_ocr, cmd=args.tesseract_cmd)

    for sub in ("rectified",) + (() if args.no_figures else ("figures",)):
        os.makedirs(osp.join(args.out_dir, sub), exist_ok=True)
    rows = ["name\trecognizer\ttesseract_raw\ttesseract_rectified\tlabel"]

    def save(path, img):
        img = np.ascontiguousarray(img)
        cv2.imwrite(path, img[..., 0] if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR))

    for i, f in enumerate(files):
        name = osp.splitext(osp.basename(f))[0] + ".png"
        save(osp.join(args.out_dir, "rectified", name), rectified[i])
        caption = f"CRNN: {texts[i][0]}"
        if tess_raw is not None:
            caption += f" | tess raw: {tess_raw[i]} | tess rect: {tess_rect[i]}"
        if not args.no_figures:
            save(osp.join(args.out_dir, "figures", name),
                 draw_rectification(crops[i], rectified[i], transforms[i], caption))
        rows.append("\t".join([name, texts[i][0], tess_raw[i] if tess_raw else "", tess_rect[i] if tess_rect else "",
                               labels.get(osp.basename(f), "")]))
    with open(osp.join(args.out_dir, "predictions.tsv"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(rows) + "\n")
    print(f"wrote {len(files)} rectified crops to {osp.join(args.out_dir, 'rectified')}"
          + ("" if args.no_figures else f" and figures to {osp.join(args.out_dir, 'figures')}"))

    if labels:
        keyed = [(i, labels[osp.basename(f)]) for i, f in enumerate(files) if osp.basename(f) in labels]
        gts = [g for _, g in keyed]
        report = {"recognizer": text_recognition_scores([texts[i][0] for i, _ in keyed], gts)}
        if tess_raw is not None:
            report["tesseract_raw"] = text_recognition_scores([tess_raw[i] for i, _ in keyed], gts)
            report["tesseract_rectified"] = text_recognition_scores([tess_rect[i] for i, _ in keyed], gts)
        print(f"{len(keyed)} labelled crops; word accuracy (standard protocol) / 1-NED:")
        for k, s in report.items():
            print(f"  {k:20s} {s['word_acc_ignore_case_symbol']:.3f} / {s['one_minus_ned']:.3f}")
        with open(osp.join(args.out_dir, "scores.json"), "w") as fh:
            json.dump(report, fh, indent=1)
    elif tess_raw is not None:
        print("no --labels given: Tesseract readings are in predictions.tsv (no accuracy without labels)")


if __name__ == "__main__":
    main()
