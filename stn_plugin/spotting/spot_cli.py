"""Logic of ``tools/spot_text.py``: find and read the words of scene images with a trained
text spotter.

    python tools/spot_text.py CONFIG CHECKPOINT IMAGES [--score-thr 0.5] [--out-dir DIR]

``IMAGES`` is an image file or a folder of them. Writes into ``--out-dir`` (default: a
new ``work_dirs/spot_text/<timestamp>`` below the current folder; an existing non-empty folder is refused unless
``--overwrite``, which first deletes what an earlier run wrote there: ``vis/*.png`` and
``results.json``): ``vis/<name>.png``, each image with every word's polygon and reading
drawn (``a.jpg`` -> ``vis/a.png``; images that share a name but for the extension keep
it: ``vis/a_jpg.png``, ``vis/a_png.png``), and ``results.json``, ``{image file: [{"bbox",
"score", "text", "text_score", "polygon"}, ...]}`` in image pixels (see
:mod:`stn_plugin.spotting.inference`). Unreadable images are skipped with a warning and
counted; a bad argument or a drawing that cannot be written ends the tool with one
``error:`` line. ``CHECKPOINT`` may be ``none`` to run a config's untrained model (to
try the pipeline out).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Optional, Sequence

from ..cli.argument_types import finite_float
from ..cli.errors import config_syntax_named, exit_on_bad_input

__all__ = ["parse_args", "main", "spot"]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Find and read words with a text spotter; draw them and write JSON")
    p.add_argument("config", help="spotting config (configs/spotting/...)")
    p.add_argument("checkpoint", help="trained weights (.pth), or 'none' for the config's initialisation")
    p.add_argument("images", help="an image file or a folder of images")
    p.add_argument("--score-thr", type=finite_float, default=0.5,
                   help="minimum detection score of a word, in [0, 1] (default 0.5)")
    p.add_argument("--out-dir", default=None,
                   help="output folder (default: work_dirs/spot_text/<timestamp>)")
    p.add_argument("--overwrite", action="store_true",
                   help="write into an existing non-empty --out-dir (an earlier run's vis/*.png and results.json "
                        "are deleted first)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = p.parse_args(argv)
    if not 0.0 <= args.score_thr <= 1.0:
        p.error(f"argument --score-thr: expected a number in [0, 1], got {args.score_thr}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    with exit_on_bad_input(), config_syntax_named(args.config):
        return spot(args)


def spot(args: argparse.Namespace) -> dict:
    import cv2

    from ..apis import init_model
    from ..cli.paths import image_files
    from ..datasets.output_folders import check_output_dir, remove_earlier_outputs, unique_output_names
    from .inference import check_spotter, draw_words, spot_text

    out_dir = args.out_dir or osp.join("work_dirs", "spot_text", time.strftime("%Y%m%d_%H%M%S"))
    check_output_dir(out_dir, args.overwrite, "--out-dir")
    try:
        files = image_files(args.images)
    except ValueError as err:
        raise ValueError(f"images: {err}") from None
    if not files:
        raise ValueError(f"images: no image files in {args.images!r}")
    names = unique_output_names(files, args.images if osp.isdir(args.images) else "")
    checkpoint = None if args.checkpoint.lower() == "none" else args.checkpoint
    model = check_spotter(init_model(args.config, checkpoint, args.device), args.config)
    if args.overwrite:
        remove_earlier_outputs(out_dir, ["vis/**/*.png", "results.json"])
    os.makedirs(osp.join(out_dir, "vis"), exist_ok=True)
    results, unreadable = {}, 0
    for k, path in enumerate(files, 1):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            print(f"warning: cannot read {path}; skipped", file=sys.stderr)
            unreadable += 1
            continue
        words = spot_text(model, [image], args.score_thr)[0]
        results[osp.basename(path)] = words
        target = osp.join(out_dir, "vis", names[k - 1])
        if not cv2.imwrite(target, draw_words(image, words)):
            raise OSError(f"could not write {target}")
        print(f"[{k}/{len(files)}] {osp.basename(path)}: {len(words)} words: "
              + " ".join(w["text"] or "?" for w in words[:12]) + (" ..." if len(words) > 12 else ""), flush=True)
    with open(osp.join(out_dir, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, ensure_ascii=False)
    print(f"wrote {len(results)} images to {osp.join(out_dir, 'vis')} and results.json"
          + (f"; {unreadable} unreadable skipped" if unreadable else ""))
    return results

