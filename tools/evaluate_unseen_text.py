#!/usr/bin/env python
"""Does rectification help an OCR engine on text the rectifier never saw?

    python tools/evaluate_unseen_text.py [--work-dir work_dirs/unseen_text] [--num 300] [--seed 0]

1. writes (unless present) the unseen-font set (:mod:`stn_plugin.textrecog.scene_words`):
   perspective, curved and arc words in Liberation / FreeFont faces (the rectifier was
   trained on DejaVu only) laid into real photographs, with ground-truth polygons;
2. reads every word with Tesseract (``--psm 7``) four ways: the raw box crop, the
   shipped rectifier's output on that crop, the geometric rectification of the scene
   from the ground-truth polygon (perspective for the 4-point quads, TPS for the
   curved polygons), and that geometric crop refined by the learned rectifier;
3. prints the table (word accuracy, standard protocol: case-insensitive, alphanumerics
   only; and 1 - normalised edit distance) per distortion and overall, and writes
   ``results.json`` / ``results.md`` and a few figures into the work dir.

Words and lines of every kind, read by Tesseract and PP-OCRv4, with standard errors:
``tools/evaluate_text_rectifiers.py``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
import sys
import time

from stn_plugin.experiments.rectifier_options import add_rectifier_arguments, load_rectifier

METHODS = (("raw", "raw box crop"), ("learned", "shipped rectifier on the crop"),
           ("geometric", "geometric, from the ground-truth polygon"),
           ("geometric+learned", "geometric, refined by the shipped rectifier"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="work_dirs/unseen_text", help="where the set, figures and results go")
    p.add_argument("--num", type=int, default=300, help="words in the set")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated word set")
    add_rectifier_arguments(p)
    p.add_argument("--tesseract-cmd", default="tesseract", help="the Tesseract executable")
    p.add_argument("--figures", type=int, default=8, help="side-by-side figures of the first N words")
    return p.parse_args(argv)


def _std_err(acc: float, n: int) -> float:
    return math.sqrt(max(acc * (1 - acc), 1e-12) / max(n, 1))


def main(argv=None):
    args = parse_args(argv)
    import cv2
    import numpy as np
    from stn_plugin.textrecog.geometric_rectification import rectify_regions
    from stn_plugin.textrecog.metrics import text_recognition_scores
    from stn_plugin.textrecog.rectify import TESSERACT_HELP, run_tesseract, tesseract_available
    from stn_plugin.textrecog.scene_words import write_scene_words

    if not tesseract_available(args.tesseract_cmd):
        sys.exit(TESSERACT_HELP)
    data = osp.join(args.work_dir, f"data_seed{args.seed}_n{args.num}")
    det_json = osp.join(data, "textdet_scenes.json")
    if not osp.isfile(det_json):
        t0 = time.time()
        write_scene_words(data, args.num, seed=args.seed)
        print(f"wrote the unseen-font set ({args.num} words) to {data} in {time.time() - t0:.0f} s")
    with open(det_json, encoding="utf-8") as f:
        entries = json.load(f)["data_list"]

    def read(path):
        return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    rectifier = load_rectifier(args)
    words = [e["instances"][0]["text"] for e in entries]
    kinds = [e["distortion"] for e in entries]
    raw, geometric, refined = [], [], []
    t0 = time.time()
    for e in entries:
        scene = read(osp.join(data, e["img_path"]))
        x0, y0, x1, y1 = e["instances"][0]["bbox"]
        raw.append(scene[y0:y1, x0:x1].copy())
        poly = np.reshape(e["instances"][0]["polygon"], (-1, 2))
        geometric.append(rectify_regions(scene, [poly])[0])
        refined.append(rectify_regions(scene, [poly], refiner=rectifier.refine_transforms)[0])
    learned = rectifier(raw)
    rect_s = time.time() - t0
    inputs = dict(raw=raw, learned=learned, geometric=geometric, **{"geometric+learned": refined})
    readings = {}
    t0 = time.time()
    for key, crops in inputs.items():
        readings[key] = run_tesseract(crops, cmd=args.tesseract_cmd)
    tess_s = time.time() - t0

    groups = [("all", list(range(len(words))))] + [
        (k, [i for i, d in enumerate(kinds) if d == k]) for k in ("perspective", "curve", "arc")]
    results = dict(num=len(words), seed=args.seed, rectifier=repr(rectifier), fonts=sorted({e["font"] for e in entries}),
                   backgrounds=sorted({e["background"] for e in entries}), rectify_seconds=rect_s,
                   tesseract_seconds=tess_s, scores={})
    for key, _ in METHODS:
        results["scores"][key] = {}
        for g, idx in groups:
            s = text_recognition_scores([readings[key][i] for i in idx], [words[i] for i in idx])
            results["scores"][key][g] = dict(n=len(idx), word_acc=s["word_acc_ignore_case_symbol"],
                                             one_minus_ned=s["one_minus_ned"])
    counts = {g: len(idx) for g, idx in groups}
    head = ("| input to Tesseract | " + " | ".join(f"{g} ({counts[g]})" for g, _ in groups) + " | 1-NED (all) |")
    lines = [head, "|" + "---|" * (len(groups) + 2)]
    for key, label in METHODS:
        sc = results["scores"][key]
        lines.append(f"| {label} | " + " | ".join(f"{sc[g]['word_acc']:.3f}" for g, _ in groups)
                     + f" | {sc['all']['one_minus_ned']:.3f} |")
    n = len(words)
    acc = results["scores"]["raw"]["all"]["word_acc"]
    note = (f"Word accuracy (standard protocol) of Tesseract, {n} words, seed {args.seed}; standard error of one "
            f"accuracy about {100 * _std_err(acc, n):.1f} points.")
    table = "\n".join(lines)
    print(table)
    print(note)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, "results.json"), "w") as f:
        json.dump(dict(results, readings=readings, words=words, distortions=kinds), f, indent=1)
    with open(osp.join(args.work_dir, "results.md"), "w") as f:
        f.write(table + "\n\n" + note + "\n")
    if args.figures:
        fig_dir = osp.join(args.work_dir, "figures")
        os.makedirs(fig_dir, exist_ok=True)
        h = 64
        for i in range(min(args.figures, n)):
            row = []
            for key, _ in METHODS:
                c = inputs[key][i]
                row.append(cv2.resize(c, (max(1, round(c.shape[1] * h / c.shape[0])), h)))
                row.append(np.full((h, 6, 3), 255, np.uint8))
            fig = np.concatenate(row, 1)
            cap = " | ".join(f"{k}: {readings[k][i]}" for k, _ in METHODS) + f"  (gt {words[i]})"
            bar = np.full((20, fig.shape[1], 3), 255, np.uint8)
            cv2.putText(bar, cap, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            cv2.imwrite(osp.join(fig_dir, f"{i:03d}.png"), cv2.cvtColor(np.concatenate([fig, bar], 0),
                                                                       cv2.COLOR_RGB2BGR))
    print(f"rectification {rect_s:.1f} s, Tesseract {tess_s:.1f} s; results in {args.work_dir}")


if __name__ == "__main__":
    main()
