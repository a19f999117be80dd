"""Does a text rectifier help the OCR engines people use, on text it never saw?

    python tools/evaluate_text_rectifiers.py [--num-per-kind 100] [--seed 7] \\
        [--rectifiers tps-words ...] [--engines tesseract rapidocr] [--work-dir work_dirs/text_rectifiers]

Data: text crops as a detector gives them (:func:`stn_plugin.datasets.text_crops.make_text_crop`)
in the **held-out** font families and photos (``crop_style('held_out')``: no family or
photo the rectifiers were trained on), ``--num-per-kind`` crops of each kind of
:data:`EVALUATED_KINDS` (flat and warped words and text lines), drawn with ``--seed``
(default 7; the rectifiers' training data use seed 0). Crop ``i`` of a kind is sample
``KIND_INDEX_STRIDE * k + i`` of the seed, ``k`` the kind's place in
:data:`~stn_plugin.datasets.text_crops.KINDS`, so kinds hold different texts and a
crop does not change when other kinds are (de)selected.

Each crop is read by each engine (:func:`stn_plugin.rectify.read_text`: ``tesseract``,
Tesseract 5 ``--psm 7``; ``rapidocr``, PP-OCRv4's recognizer) four ways:

* ``raw``: the box crop as it is;
* one per ``--rectifiers`` name or file (default: every shipped one): ``TextRectifier.from_pretrained(name)(crops,
  out_size='text')``, the text at its own size;
* ``geometric``: flattened from the **true** outline (its top and bottom edges, exact
  from the generator) by :func:`stn_plugin.textrecog.geometric_rectification.rectify_regions`
  (a thin-plate spline through the two edges, sampled at the text's natural size): the
  upper bound a rectifier can reach.

Scores (the standard protocol, :func:`stn_plugin.textrecog.metrics.text_recognition_scores`):
word accuracy ``word_acc_ignore_case_symbol`` (case-insensitive, letters and digits
only; a line counts only when the whole line matches) with its standard error
``sqrt(p (1 - p) / n)``, and 1 - normalised edit distance with the standard error of
its mean, per kind x engine x method and over all kinds (``all``).

Writes into ``--work-dir``: ``results.json`` (settings, times, scores, every reading),
``results.md`` (one table per engine, ready for the README / docs) and
``figures/<kind>_<i>.png`` (raw, each rectifier and geometric, top to bottom, with the
readings) for the first ``--figures`` crops of flat_line, curled_line and
perspective_line. An existing non-empty work dir is refused unless ``--overwrite``
(then only the files a run writes are replaced). Every bad argument is one
``error:`` line.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from ..cli.argument_types import non_negative_int, positive_int
from .measurement import standard_error_of_mean

__all__ = ["EVALUATED_KINDS", "FIGURE_KINDS", "KIND_INDEX_STRIDE", "OUTPUT_PATTERNS", "TRAINING_SEED",
           "evaluation_crops", "main", "markdown_tables", "parse_args", "run", "score_readings"]

#: The kinds evaluated by default (the wave kind is a training augmentation, not a target).
EVALUATED_KINDS = ("flat_word", "flat_line", "rotated", "rotated_line", "perspective", "arc", "strong_arc",
                   "curled_line", "perspective_line", "arc_line")
#: Kinds drawn as before / after figures.
FIGURE_KINDS = ("flat_line", "curled_line", "perspective_line")
#: Crop ``i`` of the ``k``-th kind is sample ``KIND_INDEX_STRIDE * k + i`` of the seed.
KIND_INDEX_STRIDE = 1_000_000
#: The seed of the rectifiers' training data; evaluating on it is allowed but noted.
TRAINING_SEED = 0
#: What a run writes (``Path.glob`` patterns); ``--overwrite`` deletes these first.
OUTPUT_PATTERNS = ("results.json", "results.md", "figures/*.png")
ENGINE_LABELS = {"tesseract": "Tesseract 5 (--psm 7)", "rapidocr": "PP-OCRv4 (rapidocr_onnxruntime)"}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from ..datasets.text_crops import KINDS
    from ..rectify.ocr_engines import ENGINES
    from ..rectify.rectifier_file import PRETRAINED

    p = argparse.ArgumentParser(prog="evaluate_text_rectifiers.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="work_dirs/text_rectifiers", help="where results and figures go")
    p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier run in --work-dir")
    p.add_argument("--num-per-kind", type=positive_int, default=100, help="crops of each kind (default 100)")
    p.add_argument("--seed", type=non_negative_int, default=7,
                   help="seed of the held-out crops (default 7; the rectifiers were trained on seed 0)")
    p.add_argument("--kinds", nargs="+", choices=tuple(KINDS), default=list(EVALUATED_KINDS), metavar="KIND",
                   help="kinds of text to evaluate (default: " + " ".join(EVALUATED_KINDS) + ")")
    p.add_argument("--rectifiers", nargs="*", default=list(PRETRAINED), metavar="NAME",
                   help="shipped rectifier names or rectifier files (default: every shipped one, "
                        f"{' '.join(PRETRAINED)}; none: raw and geometric only)")
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES), metavar="ENGINE",
                   help="OCR engines: " + ", ".join(ENGINES) + " (default all)")
    p.add_argument("--keep-flat", action="store_true",
                   help="rectifiers that predict flatness pass crops they judge flat through untouched")
    p.add_argument("--device", default="cpu", help="torch device of the rectifiers and the geometric warps")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch and onnxruntime threads (default: the libraries' own)")
    p.add_argument("--tesseract-cmd", default="tesseract", help="the Tesseract executable")
    p.add_argument("--figures", type=non_negative_int, default=4,
                   help="figures of the first N crops of each of " + ", ".join(FIGURE_KINDS) + " (default 4)")
    args = p.parse_args(argv)
    args.kinds = list(dict.fromkeys(args.kinds))
    args.engines = list(dict.fromkeys(args.engines))
    return args


def evaluation_crops(kinds: Sequence[str], num_per_kind: int, seed: int, style=None) -> list:
    """The held-out :class:`~stn_plugin.datasets.text_crops.TextCropSample` s, kind by kind
    (``num_per_kind`` each, see the module docstring for the indices)."""
    from ..datasets.text_crops import KINDS, crop_style, make_text_crop

    style = crop_style("held_out") if style is None else style
    order = list(KINDS)
    return [make_text_crop(seed, KIND_INDEX_STRIDE * order.index(kind) + i, kinds=(kind,), fonts=style.fonts,
                           photos=style.photos)
            for kind in kinds for i in range(num_per_kind)]


def _outline_polygon(sample):
    """The true outline as a clockwise polygon: the top edge, then the bottom edge back."""
    import numpy as np
    return np.concatenate([sample.top, sample.bottom[::-1]]).astype(np.float64)


def geometric_crops(samples: list, device: str = "cpu") -> tuple:
    """Each crop flattened from its true outline at the text's natural size; a region the
    geometry checks reject keeps its raw crop. Returns ``(crops, indices of those rejected)``."""
    import warnings
    from ..textrecog.geometric_rectification import rectify_regions

    out, failed = [], []
    for i, s in enumerate(samples):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flat = rectify_regions(s.image, [_outline_polygon(s)], on_error="warn", device=device)[0]
        if flat is None:
            failed.append(i)
            flat = s.image
        out.append(flat)
    return out, failed


def score_readings(readings: Sequence[str], texts: Sequence[str]) -> Dict[str, float]:
    """``n``, ``word_acc`` (standard protocol) and ``word_acc_se`` (``sqrt(p (1 - p) / n)``),
    ``one_minus_ned`` and ``one_minus_ned_se`` (standard error of the mean)."""
    from ..textrecog.metrics import text_recognition_scores

    n = len(texts)
    if n == 0:
        return dict(n=0, word_acc=float("nan"), word_acc_se=float("nan"), one_minus_ned=float("nan"),
                    one_minus_ned_se=float("nan"))
    acc = text_recognition_scores(readings, texts)["word_acc_ignore_case_symbol"]
    ned = [text_recognition_scores([r], [t])["one_minus_ned"] for r, t in zip(readings, texts)]
    return dict(n=n, word_acc=acc, word_acc_se=math.sqrt(acc * (1 - acc) / n), one_minus_ned=sum(ned) / n,
                one_minus_ned_se=standard_error_of_mean(ned) if n > 1 else 0.0)


def markdown_tables(scores: dict, methods: Sequence[str], groups: Sequence[str], header_note: str = "") -> str:
    """One markdown table per engine: a row per kind (and ``all``), a column per method,
    cells ``word accuracy ± standard error``; last row: 1 - NED over all kinds."""
    out = [header_note] if header_note else []
    for engine, by_method in scores.items():
        out.append(f"**{ENGINE_LABELS.get(engine, engine)}**, word accuracy ± standard error:\n")
        out.append("| kind (n) | " + " | ".join(methods) + " |")
        out.append("|---|" + "---|" * len(methods))
        for g in groups:
            n = by_method[methods[0]][g]["n"]
            cells = [f"{by_method[m][g]['word_acc']:.3f} ± {by_method[m][g]['word_acc_se']:.3f}" for m in methods]
            name = f"**all** ({n})" if g == "all" else f"{g} ({n})"
            out.append(f"| {name} | " + " | ".join(f"**{c}**" if g == "all" else c for c in cells) + " |")
        out.append("| 1 - NED, all | " + " | ".join(
            f"{by_method[m]['all']['one_minus_ned']:.3f} ± {by_method[m]['all']['one_minus_ned_se']:.3f}"
            for m in methods) + " |")
        out.append("")
    return "\n".join(out)


def _engine_versions(engines: Sequence[str], tesseract_cmd: str) -> Dict[str, str]:
    versions = {}
    for e in engines:
        if e == "tesseract":
            proc = subprocess.run([tesseract_cmd, "--version"], capture_output=True, text=True)
            versions[e] = (proc.stdout or proc.stderr).splitlines()[0].strip() if (proc.stdout or proc.stderr) else "?"
        elif e == "rapidocr":
            from importlib.metadata import version
            versions[e] = f"rapidocr_onnxruntime {version('rapidocr_onnxruntime')}, onnxruntime {version('onnxruntime')}"
    return versions


def _figure(panels: List[tuple], height: int = 48):
    """RGB figure: each ``(label, crop)`` scaled to ``height``, stacked top to bottom, a
    caption bar above each."""
    import cv2
    import numpy as np

    rows = []
    for label, crop in panels:
        img = cv2.resize(crop, (max(1, round(crop.shape[1] * height / crop.shape[0])), height),
                         interpolation=cv2.INTER_LINEAR)
        rows.append((label.encode("ascii", "replace").decode(), img))
    font, font_scale = cv2.FONT_HERSHEY_SIMPLEX, 0.42
    width = max([img.shape[1] for _, img in rows]
                + [cv2.getTextSize(label, font, font_scale, 1)[0][0] + 6 for label, _ in rows])
    parts = []
    for label, img in rows:
        bar = np.full((20, width, 3), 255, np.uint8)
        cv2.putText(bar, label, (3, 14), font, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        pad = np.full((height, width - img.shape[1], 3), 255, np.uint8)
        parts += [bar, np.concatenate([img, pad], 1), np.full((6, width, 3), 255, np.uint8)]
    return np.concatenate(parts, 0)


class _Progress:
    """Progress lines with the elapsed time and an ETA: the work left of each kind
    (``plan``: units per category) at the rate measured so far for that category, or
    at ``guess`` (seconds per unit) before it has run."""

    def __init__(self, plan: Dict[str, int], guess: Dict[str, float]) -> None:
        self.plan, self.guess, self.t0 = dict(plan), dict(guess), time.time()
        self.done = {c: 0 for c in plan}
        self.spent = {c: 0.0 for c in plan}

    def step(self, category: str, units: int, seconds: float, what: str) -> None:
        self.done[category] += units
        self.spent[category] += seconds
        eta = sum((self.plan[c] - self.done[c]) * (self.spent[c] / self.done[c] if self.done[c] else self.guess[c])
                  for c in self.plan)
        elapsed = time.time() - self.t0
        print(f"[{100 * elapsed / max(elapsed + eta, 1e-9):5.1f} %] {what}; {elapsed:.0f} s elapsed, "
              f"ETA {eta:.0f} s", flush=True)


#: First guesses of the seconds per crop of each step (one CPU thread), until measured.
_GUESS = {"draw": 0.005, "rectify": 0.003, "geometric": 0.04, "tesseract": 0.13, "rapidocr": 0.03}


def _method_names(rectifiers: Sequence[str]) -> List[str]:
    names = []
    for r in rectifiers:
        name = r if not osp.isfile(r) else osp.splitext(osp.basename(r))[0]
        if name in ("raw", "geometric") or name in names:
            raise ValueError(f"--rectifiers: {r!r} would be named {name!r}, which "
                             + ("is taken by another rectifier" if name in names else "is a built-in method"))
        names.append(name)
    return names


def run(args: argparse.Namespace) -> dict:
    """The evaluation (see the module docstring); returns what ``results.json`` holds."""
    import torch

    from ..cli.devices import check_device
    from ..datasets.output_folders import check_output_dir, remove_earlier_outputs
    from ..datasets.text_crops import crop_style
    from ..rectify import TextRectifier
    from ..rectify.ocr_engines import engine_missing_reason, read_text

    t_start = time.time()
    check_device(args.device)
    options = {}
    for e in args.engines:
        options[e] = dict(cmd=args.tesseract_cmd) if e == "tesseract" else (
            dict(threads=args.threads) if args.threads else {})
        missing = engine_missing_reason(e, **options[e])
        if missing:
            raise FileNotFoundError(f"--engines {e}: {missing}")
    names = _method_names(args.rectifiers)
    check_output_dir(args.work_dir, args.overwrite, "--work-dir")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.seed == TRAINING_SEED:
        print(f"note: --seed {args.seed} is the rectifiers' training seed; the fonts and photos are held out "
              "all the same", file=sys.stderr)
    rectifiers = {}
    for name, source in zip(names, args.rectifiers):
        rectifiers[name] = TextRectifier.from_pretrained(source, device=args.device)
        print(f"rectifier {name}: {rectifiers[name]!r}", flush=True)
    if args.overwrite:
        remove_earlier_outputs(args.work_dir, OUTPUT_PATTERNS)
    os.makedirs(args.work_dir, exist_ok=True)
    methods = ["raw", *names, "geometric"]
    n_all = args.num_per_kind * len(args.kinds)
    plan = {"draw": n_all, "geometric": n_all, **{f"rectify {n}": n_all for n in names},
            **{e: n_all * len(methods) for e in args.engines}}
    progress = _Progress(plan, {c: _GUESS[c.split()[0]] for c in plan})

    times: Dict[str, float] = {}
    style = crop_style("held_out")
    samples = []
    for kind in args.kinds:
        t0 = time.time()
        samples += evaluation_crops([kind], args.num_per_kind, args.seed, style)
        progress.step("draw", args.num_per_kind, time.time() - t0, f"drew {args.num_per_kind} {kind} crops")
    times["draw_crops_s"] = sum(progress.spent.values())
    texts = [s.text for s in samples]
    kinds = [s.kind for s in samples]
    crops: Dict[str, list] = {"raw": [s.image for s in samples]}
    for name, rectifier in rectifiers.items():
        t0 = time.time()
        keep = args.keep_flat and getattr(rectifier.module, "keeps_aspect", False)
        crops[name] = rectifier(crops["raw"], out_size="text", **({"keep_flat": True} if keep else {}))
        times[f"rectify_{name}_s"] = time.time() - t0
        progress.step(f"rectify {name}", n_all, times[f"rectify_{name}_s"], f"rectified {n_all} crops with {name}")
    t0 = time.time()
    crops["geometric"], failed = geometric_crops(samples, args.device)
    times["rectify_geometric_s"] = time.time() - t0
    progress.step("geometric", n_all, times["rectify_geometric_s"], f"rectified {n_all} crops from their true outlines"
                  + (f" ({len(failed)} rejected by the geometry checks: raw crop kept)" if failed else ""))

    readings: Dict[str, Dict[str, List[str]]] = {}
    for engine in args.engines:
        readings[engine] = {}
        t0 = time.time()
        for method in methods:
            got: List[str] = []
            for kind in args.kinds:
                idx = [i for i, k in enumerate(kinds) if k == kind]
                t1 = time.time()
                got += read_text([crops[method][i] for i in idx], engine, **options[engine])
                progress.step(engine, len(idx), time.time() - t1, f"{engine} read {len(idx)} {kind} crops ({method})")
            readings[engine][method] = got
        times[f"read_{engine}_s"] = time.time() - t0

    groups = [*args.kinds, "all"]
    scores = {e: {m: {} for m in methods} for e in args.engines}
    for e in args.engines:
        for m in methods:
            for g in groups:
                idx = [i for i, k in enumerate(kinds) if g in ("all", k)]
                scores[e][m][g] = score_readings([readings[e][m][i] for i in idx], [texts[i] for i in idx])
    times["total_s"] = time.time() - t_start

    command = "python tools/evaluate_text_rectifiers.py " + " ".join(
        [f"--num-per-kind {args.num_per_kind}", f"--seed {args.seed}", " ".join(["--rectifiers", *args.rectifiers]),
         "--engines " + " ".join(args.engines)]
        + (["--kinds " + " ".join(args.kinds)] if list(args.kinds) != list(EVALUATED_KINDS) else [])
        + (["--keep-flat"] if args.keep_flat else []))
    versions = _engine_versions(args.engines, args.tesseract_cmd)
    from ..datasets.text_rendering import TEXT_HELD_OUT_FAMILIES
    note = (f"Held-out text crops (font families {', '.join(TEXT_HELD_OUT_FAMILIES)}; held-out photos), "
            f"{args.num_per_kind} per kind, seed {args.seed}. Word accuracy, standard protocol (case and symbols "
            "ignored; a line must match whole). `raw`: the box crop; "
            + "".join(f"`{n}`: rectified by {n}; " for n in names)
            + "`geometric`: flattened from the true outline (upper bound).\n"
            f"Command: `{command}`\n")
    tables = markdown_tables(scores, methods, groups, note)
    results = dict(command=command, num_per_kind=args.num_per_kind, seed=args.seed, kinds=list(args.kinds),
                   engines=versions, rectifiers={n: repr(r) for n, r in rectifiers.items()}, methods=methods,
                   font_families=list(TEXT_HELD_OUT_FAMILIES), num_fonts=len(style.fonts),
                   num_photos=len(style.photos), device=args.device, threads=torch.get_num_threads(),
                   geometric_rejected=failed, times=times, scores=scores, texts=texts, sample_kinds=kinds,
                   readings=readings)
    with open(osp.join(args.work_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    with open(osp.join(args.work_dir, "results.md"), "w", encoding="utf-8") as f:
        f.write(tables)
    if args.figures:
        from ..textrecog.rectify_cli import save_image
        os.makedirs(osp.join(args.work_dir, "figures"), exist_ok=True)
        for kind in (k for k in FIGURE_KINDS if k in args.kinds):
            idx = [i for i, k in enumerate(kinds) if k == kind][:args.figures]
            for j, i in enumerate(idx):
                panels = [(f"{m}: " + " / ".join(f"{e} '{readings[e][m][i]}'" for e in args.engines), crops[m][i])
                          for m in methods]
                panels[0] = (f"truth '{texts[i]}' | " + panels[0][0], panels[0][1])
                save_image(osp.join(args.work_dir, "figures", f"{kind}_{j}.png"), _figure(panels))
    print(tables)
    shown = ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in times.items() if k != "total_s")
    print(f"total {times['total_s']:.1f} s ({shown}); results in {args.work_dir}", flush=True)
    return results


def main(argv: Optional[Sequence[str]] = None) -> None:
    from ..cli.errors import exit_on_bad_input

    args = parse_args(argv)
    with exit_on_bad_input(ImportError):
        run(args)


if __name__ == "__main__":
    main()
