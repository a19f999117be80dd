"""The distorted-MNIST comparison of the STN paper, run end to end with mmengine.

Used by ``tools/compare_mnist.py`` (CNN vs ST-CNN Aff / Proj / TPS on R, RTS, P, E)
and ``tools/mnist_rts_job.py`` (RTS, CNN vs ST-CNN Aff). For each variant it writes the
train / test splits with the data generator (deterministic for the seed), then for
each model builds the shipped config ``configs/mnist/<model>_<variant>.py``,
points it at those files, sets the shared iteration budget, trains with mmengine's
Runner (evaluating once at the end), and collects the test error. It writes a
markdown table next to the paper's numbers and a figure of test digits beside
what each spatial transformer makes of them.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch

from ..datasets.mnist_source import load_mnist_source
from ..classification.distorted_mnist import VARIANTS, generate_distorted_mnist, load_distorted_mnist
from ..classification.visualization import save_rectification_figure

__all__ = ["PAPER_ERRORS", "PAPER_TC_ERRORS", "MODEL_LABELS", "paper_error", "RunResult", "ExperimentResult",
           "config_path", "set_iterations", "fresh_epochs_for", "train_one", "format_table", "run_experiment"]

# The paper's Table 1 (left), % test error on distorted MNIST (full MNIST training set).
PAPER_ERRORS: Dict[str, Dict[str, float]] = {
    "fcn": dict(R=2.1, RTS=5.2, P=3.1, E=3.2),
    "cnn": dict(R=1.2, RTS=0.8, P=1.5, E=1.4),
    "st-fcn-affine": dict(R=1.2, RTS=0.8, P=1.5, E=2.7),
    "st-fcn-projective": dict(R=1.3, RTS=0.9, P=1.4, E=2.6),
    "st-fcn-tps": dict(R=1.1, RTS=0.8, P=1.4, E=2.4),
    "st-cnn-affine": dict(R=0.7, RTS=0.5, P=0.8, E=1.2),
    "st-cnn-projective": dict(R=0.8, RTS=0.6, P=0.8, E=1.3),
    "st-cnn-tps": dict(R=0.7, RTS=0.5, P=0.8, E=1.1),
}
# Translated-cluttered 60x60 (the paper's Table 1, right column).
PAPER_TC_ERRORS = {"fcn": 13.2, "cnn": 3.5, "st-fcn-affine": 2.0, "st-cnn-affine": 1.7}

MODEL_LABELS = {
    "fcn": "FCN", "cnn": "CNN",
    "st-fcn-affine": "ST-FCN Aff", "st-fcn-projective": "ST-FCN Proj", "st-fcn-tps": "ST-FCN TPS",
    "st-cnn-affine": "ST-CNN Aff", "st-cnn-projective": "ST-CNN Proj", "st-cnn-tps": "ST-CNN TPS",
}


def paper_error(model: str, variant: str) -> Optional[float]:
    """The paper's test error (%) for ``model`` on ``variant``, or None if it has none."""
    if variant == "TC":
        return PAPER_TC_ERRORS.get(model)
    return PAPER_ERRORS.get(model, {}).get(variant)


@dataclass
class RunResult:
    """One trained and evaluated (model, variant)."""

    model: str
    variant: str
    error: float
    iterations: int
    batch_size: int
    train_seconds: float
    total_seconds: float
    work_dir: str
    checkpoint: Optional[str]
    paper_error: Optional[float]


@dataclass
class ExperimentResult:
    results: List[RunResult] = field(default_factory=list)
    data_seconds: float = 0.0
    total_seconds: float = 0.0
    table_path: Optional[str] = None
    figure_path: Optional[str] = None
    table: str = ""

    def print_report(self, seconds: float, notes: Sequence[str] = (), figure_note: str = "") -> None:
        """The lines that end a command line's run: the table, ``notes`` under it, where
        the table and the figure (with ``figure_note``) were written, and ``seconds`` as
        the total time."""
        print()
        print(self.table)
        for line in notes:
            print(line)
        print(f"table:  {self.table_path}")
        print(f"figure: {self.figure_path}{figure_note}")
        print(f"total time: {seconds / 60:.1f} min")


def config_path(configs_dir: Path, model: str, variant: str) -> Path:
    """``configs/mnist/<model>_<variant lower>.py``; raises if it is not shipped."""
    path = Path(configs_dir) / f"{model}_{variant.lower()}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no config for model {model!r} on variant {variant!r}: {path} does not exist")
    return path


def set_iterations(cfg, max_iters: int) -> None:
    """Set the training budget: ``train_cfg.max_iters``, one evaluation at the end, and
    every iteration-based scheduler's ``begin`` / ``end`` scaled by the same factor
    (so warm-up and decay keep their share of training). A scheduler that shrinks
    to nothing is dropped."""
    if max_iters < 1:
        raise ValueError(f"max_iters must be >= 1, got {max_iters}")
    old = int(cfg.train_cfg.max_iters)
    cfg.train_cfg.max_iters = int(max_iters)
    cfg.train_cfg.val_interval = int(max_iters)
    kept = []
    for sched in cfg.get("param_scheduler", None) or []:
        if sched.get("by_epoch", True):
            raise ValueError("set_iterations expects iteration-based schedulers (by_epoch=False) in "
                             f"param_scheduler, got {sched}")
        begin = round(int(sched.get("begin", 0)) * max_iters / old)
        end = round(min(int(sched.get("end", old)), old) * max_iters / old)
        if end > begin:
            sched["begin"], sched["end"] = begin, end
            kept.append(sched)
    if "param_scheduler" in cfg:
        cfg.param_scheduler = kept


def _write_data(variant: str, data_dir: Path, num_train: int, num_test: int, seed: int, source: str,
                log: Callable[[str], None], splits: Sequence[str] = ("train", "test")) -> Dict[str, Path]:
    paths = {}
    for split, num in (("train", num_train), ("test", num_test)):
        if split not in splits:
            continue
        path = data_dir / f"{variant}_{split}.npz"
        if path.exists():
            data = load_distorted_mnist(path)
            meta_ok = (data.meta.get("seed") == seed and len(data) == num and data.variant == variant)
            if meta_ok:
                log(f"  data {variant} {split}: reusing {path}")
                paths[split] = path
                continue
            raise FileExistsError(f"{path} exists with other settings; remove it or use another work dir")
        t0 = time.perf_counter()
        data = generate_distorted_mnist(variant, split, source, num, seed)
        data.save(path)
        log(f"  data {variant} {split}: {len(data)} samples ({time.perf_counter() - t0:.1f} s) -> {path}")
        paths[split] = path
    return paths


def fresh_epochs_for(max_iters: int, batch_size: int, num_digits: int) -> int:
    """Epochs of fresh distortions that ``max_iters`` batches read (at least one)."""
    return max(1, -(-int(max_iters) * int(batch_size) // int(num_digits)))


def train_one(config: Path, work_dir: Path, data: Dict[str, Path], max_iters: int, log_interval: int,
              quiet: bool = True, fresh: Optional[Dict[str, object]] = None):
    """Build the config's Runner pointed at ``data`` with ``max_iters`` and train it.

    ``fresh``: train on fresh distortions every epoch instead of ``data['train']``:
    ``dict(seed=..., source=..., num_digits=...)`` of the generator (the test split
    still comes from ``data['test']``). Returns ``(runner, test error %)``.
    """
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(work_dir)
    for loader, split in (("train_dataloader", "train"), ("val_dataloader", "test"), ("test_dataloader", "test")):
        ds = cfg[loader]["dataset"]
        ds["data_root"] = None
        if split == "train" and fresh is not None:
            epochs = fresh_epochs_for(max_iters, cfg[loader]["batch_size"], fresh["num_digits"])
            ds.update(ann_file=None, num_samples=None, fresh_epochs=epochs, seed=fresh["seed"],
                      source=fresh["source"])
            # each epoch is rendered once, in order; its samples are already shuffled
            cfg[loader]["sampler"] = dict(type="InfiniteSampler", shuffle=False)
            continue
        ds["ann_file"] = str(data[split])
    set_iterations(cfg, max_iters)
    if quiet:
        cfg.log_level = "WARNING"
    cfg.default_hooks.logger.interval = log_interval
    cfg.custom_hooks = list(cfg.get("custom_hooks", None) or []) + [
        dict(type="ProgressPrinterHook", interval=log_interval, prefix="    ")]
    runner = Runner.from_cfg(cfg)
    runner.train()
    error = runner.message_hub.get_scalar("val/mnist/error").current()
    return runner, float(error)


def format_table(results: Sequence[RunResult], variants: Sequence[str], models: Sequence[str],
                 num_train_digits: int) -> str:
    """Markdown: rows = models, columns = variants, cells ``ours (paper)`` in % test error."""
    by_key = {(r.model, r.variant): r for r in results}
    head = "| model | " + " | ".join(variants) + " |"
    sep = "|---|" + "---|" * len(variants)
    lines = [head, sep]
    for m in models:
        cells = []
        for v in variants:
            r = by_key.get((m, v))
            p = paper_error(m, v)
            ours = "--" if r is None else f"{r.error:.2f}"
            cells.append(ours + ("" if p is None else f" ({p})"))
        lines.append(f"| {MODEL_LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"% test error, ours (paper). Ours: {num_train_digits} training digits, equal iteration "
                 "budget per model; the paper trained on full MNIST (60,000 digits) to convergence.")
    return "\n".join(lines)


def _figure(runs: Dict[str, Dict[str, object]], variants: Sequence[str], data: Dict[str, Dict[str, Path]],
            path: Path, num_digits: int = 10) -> Optional[Path]:
    """Inputs beside each spatial transformer's output, one block per variant, in one PNG."""
    blocks = []
    for v in variants:
        st_models = [(m, r) for m, r in runs.get(v, {}).items() if getattr(r.model, "stn", None) is not None]
        if not st_models:
            continue
        test = load_distorted_mnist(data[v]["test"])
        imgs = torch.from_numpy(test.images[:num_digits]).float()[:, None]
        rows = []
        for m, runner in st_models:
            model = runner.model
            model.eval()
            with torch.no_grad():
                x = model.data_preprocessor(dict(inputs=[i.to(torch.uint8) for i in imgs], data_samples=None),
                                            False)["inputs"]
                out, _ = model.rectify(x)
            rows.append((MODEL_LABELS.get(m, m), out))
        blocks.append((v, imgs, test.labels[:num_digits], rows))
    if not blocks:
        return None
    return save_rectification_figure(
        path, blocks, title="Distorted MNIST test digits (label above) and the spatial transformers' outputs")


def run_experiment(variants: Sequence[str], models: Sequence[str], work_dir: Path, max_iters: int,
                   configs_dir: Path, num_train: int = 40000, num_test: int = 5000, seed: int = 0,
                   source: str = "embedded", log_interval: int = 100, title: str = "Distorted MNIST",
                   log: Callable[[str], None] = print, fresh_distortions: bool = False) -> ExperimentResult:
    """Generate data, train and evaluate every (variant, model), write table and figure.

    Args:
        variants: e.g. ``['R', 'RTS', 'P', 'E']``.
        models: config stems, e.g. ``['cnn', 'st-cnn-affine']``.
        work_dir: a fresh folder for data, runs, table and figure (created).
        max_iters: the training budget of every model (iterations of the configs' batch).
        configs_dir: where ``<model>_<variant>.py`` configs live (``configs/mnist``).
        num_train / num_test: samples per split (distinct distortions).
        fresh_distortions: train on new distortions of every training digit each epoch
            (generated as training reads them; ``num_train`` is then unused) instead of
            a fixed set of ``num_train``.
    """
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"unknown variant {v!r}; choose from {list(VARIANTS)}")
    configs = {(m, v): config_path(configs_dir, m, v) for v in variants for m in models}
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    out = ExperimentResult()
    if fresh_distortions:
        log(f"[data] generating {', '.join(variants)} ({num_test} test samples each, seed {seed}); training "
            "draws fresh distortions every epoch")
        splits = ("test",)
    else:
        log(f"[data] generating {', '.join(variants)} ({num_train} train / {num_test} test samples each, "
            f"seed {seed})")
        splits = ("train", "test")
    data = {v: _write_data(v, work_dir / "data", num_train, num_test, seed, source, log, splits) for v in variants}
    out.data_seconds = time.perf_counter() - t_start
    num_train_digits = len(load_mnist_source(source, "train"))
    fresh = dict(seed=seed, source=source, num_digits=num_train_digits) if fresh_distortions else None
    runs: Dict[str, Dict[str, object]] = {}
    total = len(configs)
    for i, ((m, v), cfg_path) in enumerate(configs.items(), 1):
        log(f"[{i}/{total}] {MODEL_LABELS.get(m, m)} on {v}: {max_iters} iterations ({cfg_path})")
        t0 = time.perf_counter()
        run_dir = work_dir / f"{m}_{v.lower()}"
        runner, error = train_one(cfg_path, run_dir, data[v], max_iters, log_interval, fresh=fresh)
        dt = time.perf_counter() - t0
        train_s = runner.message_hub.get_info("train_seconds") or dt
        ckpts = sorted(run_dir.glob("iter_*.pth"))
        res = RunResult(m, v, error, max_iters, int(runner.train_dataloader.batch_size), float(train_s), dt,
                        str(run_dir),
                        str(ckpts[-1]) if ckpts else None, paper_error(m, v))
        out.results.append(res)
        runs.setdefault(v, {})[m] = runner
        log(f"[{i}/{total}] {MODEL_LABELS.get(m, m)} on {v}: test error {error:.2f}% "
            f"(paper {res.paper_error}) in {dt:.0f} s; elapsed {time.perf_counter() - t_start:.0f} s")
    fig = _figure(runs, variants, data, work_dir / "rectification.png")
    out.figure_path = None if fig is None else str(fig)
    out.total_seconds = time.perf_counter() - t_start
    table = format_table(out.results, variants, models, num_train_digits)
    batches = sorted({r.batch_size for r in out.results})
    info = (f"\nBudget: {max_iters} iterations x batch {'/'.join(map(str, batches))} per model; measured total time "
            f"{out.total_seconds / 60:.1f} min (data {out.data_seconds:.0f} s) on "
            f"{torch.get_num_threads()} CPU thread(s), {platform.processor() or platform.machine()}.")
    out.table = f"## {title}\n\n{table}\n{info}\n"
    (work_dir / "results.md").write_text(out.table)
    (work_dir / "results.json").write_text(json.dumps(dict(
        results=[asdict(r) for r in out.results], data_seconds=out.data_seconds,
        total_seconds=out.total_seconds, max_iters=max_iters, variants=list(variants), models=list(models),
        num_train=None if fresh_distortions else num_train, fresh_distortions=fresh_distortions,
        num_test=num_test, seed=seed, source=source), indent=2))
    out.table_path = str(work_dir / "results.md")
    return out
