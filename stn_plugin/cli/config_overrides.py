"""What a ``--cfg-options`` override implies beyond the one key it names.

mmengine applies ``--cfg-options key=value`` to exactly ``key``. Two overrides that
users expect to act on the whole config do not, because a config copies their value
into other keys when it is parsed:

* a data root: ``data_root`` (also ``synth_root``, ``ic13_textrecog_data_root``, ...:
  any top-level variable whose name ends in ``root``) is copied into every
  dataloader's ``dataset.data_root`` and into evaluators' ``ann_file``
  (``data_root + 'annotations/...'``). :func:`follow_data_roots` rewrites every string
  under the dataloaders and evaluators that is the old root or a path below it.
* the schedule length: ``train_cfg.max_iters`` (or ``max_epochs``) is copied into the
  ``param_scheduler`` entries' ``begin`` / ``end`` / ``milestones`` / ``T_max`` and
  usually into ``train_cfg.val_interval`` and the checkpoint hook's ``interval``.
  :func:`rescale_schedule` scales the scheduler points proportionally, keeps every
  warm-up long enough to reach the base learning rate (or switches it off in a run
  too short for one) and keeps "validate / save at the end" at the new end.

Keys the user overrides explicitly are never rewritten.
"""
from __future__ import annotations

import logging
import posixpath
from typing import Any, Dict, List, Mapping, Optional

# where a config copies its data root
DATA_KEYS = ("train_dataloader", "val_dataloader", "test_dataloader", "val_evaluator", "test_evaluator")
# scheduler fields that are positions on the training timeline
SCHEDULE_POINT_KEYS = ("begin", "end", "T_max")
# mmengine's default ``end`` of a scheduler: "until training ends" (not a point to scale)
_OPEN_END = 1_000_000_000
# mmengine's LinearLR sets its start factor at the first step and reaches its end factor
# at step ``end - begin - 1``; ConstantLR restores the base value at that step: a warm-up
# needs ``end - begin >= 2``, else the run stays at the start factor
MIN_WARMUP_STEPS = 2


def _log(message: str, level: int = logging.INFO) -> None:
    from mmengine.logging import print_log

    print_log(message, logger="current", level=level)


def root_variables(cfg: Mapping, cfg_options: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """The current values of the top-level ``*root`` variables ``cfg_options`` overrides
    (call before merging the options)."""
    return {key: cfg[key] for key in (cfg_options or {})
            if "." not in key and key.endswith("root") and isinstance(cfg.get(key), str) and cfg[key]}


def _below(path: str, root: str) -> Optional[str]:
    """``path`` relative to ``root`` if it is ``root`` or lies below it, else None."""
    base = root.rstrip("/")
    if path == root or path == base:
        return ""
    if base and path.startswith(base + "/"):
        return path[len(base) + 1:]
    return None


def _rewrite(node: Any, dotted: str, old: str, new: str, explicit: set, changed: List[str]) -> Any:
    if isinstance(node, dict):
        for key in list(node.keys()):
            child = f"{dotted}.{key}"
            if child not in explicit:
                node[key] = _rewrite(node[key], child, old, new, explicit, changed)
        return node
    if isinstance(node, (list, tuple)):
        return type(node)(_rewrite(v, f"{dotted}.{i}", old, new, explicit, changed) for i, v in enumerate(node))
    if isinstance(node, str):
        rest = _below(node, old)
        if rest is not None:
            changed.append(dotted)
            return new if rest == "" else posixpath.join(new, rest)
    return node


def follow_data_roots(cfg, before: Mapping[str, str], cfg_options: Mapping[str, Any]) -> List[str]:
    """Rewrite, under :data:`DATA_KEYS`, every path that started with an overridden root.

    Args:
        cfg: the mmengine ``Config`` after ``cfg_options`` were merged.
        before: :func:`root_variables` taken before the merge.
        cfg_options: the ``--cfg-options`` dict.

    Returns the dotted keys rewritten (also logged)."""
    explicit = set(cfg_options)
    changed: List[str] = []
    for var, old in before.items():
        new = cfg.get(var)
        if not isinstance(new, str) or new == old:
            continue
        for top in DATA_KEYS:
            if top in cfg and top not in explicit and cfg[top] is not None:
                _rewrite(cfg[top], top, old, new, explicit, changed)
    if changed:
        _log(f"--cfg-options {', '.join(f'{k}={cfg[k]}' for k in before)}: also set {', '.join(changed)}")
    return changed


def _named_groups(schedulers) -> List[tuple]:
    """``[(dotted prefix, list of scheduler configs)]`` of a ``param_scheduler``: one
    config, a list, or (several optimizers) a dict ``{optimizer name: config or list}``.
    Each group is one optimizer's chain; the lists are the config's own (edited in place)."""
    if not schedulers:
        return []
    if isinstance(schedulers, Mapping) and "type" not in schedulers:
        named = []
        for name, value in schedulers.items():
            if isinstance(value, Mapping):  # one scheduler: make it a list to edit in place
                schedulers[name] = value = [value]
            named += [(f"{name}.{prefix}" if prefix else name, group) for prefix, group in _named_groups(value)]
        return named
    return [("", schedulers)]


def _warmup_factor_key(sched: Mapping) -> Optional[str]:
    """The key of a warm-up's reduced factor: a scheduler that starts the run at a
    reduced value and ramps (``Linear*``, ending at factor 1) or jumps (``Constant*``)
    back to the base value when it ends. None for any other scheduler."""
    kind = str(sched.get("type", ""))
    if (sched.get("begin", 0) != 0 or not isinstance(sched.get("end"), int) or sched["end"] >= _OPEN_END
            or sched.get("convert_to_iter_based", False)):
        return None
    if kind.startswith("Linear") and sched.get("end_factor", 1.0) == 1.0:
        return "start_factor"
    if kind.startswith("Constant"):
        return "factor"
    return None


def _fit_warmups(group: list, prefix: str, factor: float, length: int, by_epoch: bool,
                 notes: List[str], changed: List[str]) -> Dict[int, int]:
    """Fit the warm-ups of one scheduler chain on the ``by_epoch`` timeline to a run of ``length``.

    A warm-up scaled to fewer than :data:`MIN_WARMUP_STEPS` steps is lengthened to that
    many when the run has room for it (at most half of ``length``), else switched off
    (factor 1: it stays in the list, so a resumed run's scheduler states still line up).
    Returns ``{old end: new end}`` of the lengthened warm-ups; appends what it did to
    ``notes`` and the factors it switched off to ``changed``."""
    new_ends: Dict[int, int] = {}
    unit = "epochs" if by_epoch else "iterations"
    for i, sched in enumerate(group):
        key = _warmup_factor_key(sched) if bool(sched.get("by_epoch", True)) == by_epoch else None
        if key is None or _scale(sched["end"], factor) >= MIN_WARMUP_STEPS:
            continue
        name = f"param_scheduler.{prefix}{i} ({sched['type']}, {sched['end']} {unit})"
        scaled = _scale(sched["end"], factor)
        if 2 * MIN_WARMUP_STEPS <= length:
            new_ends[sched["end"]] = MIN_WARMUP_STEPS
            notes.append(f"{name}: warm-up of {scaled} {unit} lengthened to {MIN_WARMUP_STEPS}, since mmengine's "
                         f"{sched['type']} needs {MIN_WARMUP_STEPS} steps to reach the base value")
        elif sched.get(key, 1.0) != 1.0:
            notes.append(f"{name}: warm-up switched off ({key} {sched[key]} -> 1.0): a run of {length} {unit} "
                         f"has no room for one of {MIN_WARMUP_STEPS}, and a shorter one would leave the whole "
                         f"run at {key} x the base value")
            sched[key] = 1.0
            changed.append(f"param_scheduler.{prefix}{i}.{key}")
    return new_ends


def _scale(value: int, factor: float) -> int:
    return int(round(value * factor))


def rescale_schedule(cfg, before_train_cfg: Optional[Mapping], cfg_options: Mapping[str, Any]) -> List[str]:
    """Scale the schedule to an overridden ``train_cfg.max_iters`` / ``train_cfg.max_epochs``.

    ``param_scheduler`` entries on the same timeline (``by_epoch=False`` for
    ``max_iters``, ``True`` for ``max_epochs``) get ``begin``, ``end``, ``T_max`` and
    ``milestones`` multiplied by new / old length (rounded, each scheduler kept at
    least one step long). A warm-up (a ``Linear*`` or ``Constant*`` scheduler from
    step 0) always ends at the base value: scaled to fewer than
    :data:`MIN_WARMUP_STEPS` steps, which mmengine's schedulers need to get back to
    it, it is lengthened to that many, or switched off (factor 1) when the run is
    shorter than twice that; points of the same optimizer's schedule that coincided
    with a warm-up's end (e.g. where a decay begins) move with it. ``train_cfg.val_interval`` and
    ``default_hooks.checkpoint.interval`` that equalled the old length (evaluate /
    save at the end) follow the new one. When ``cfg_options`` also sets any
    ``param_scheduler`` key, the schedule is the user's and is not scaled. Keys given
    in ``cfg_options`` are never changed. Returns the dotted keys changed (also logged,
    with every warm-up lengthened or switched off)."""
    if not before_train_cfg or "train_cfg" not in cfg:
        return []
    changed: List[str] = []
    for length_key, by_epoch in (("max_iters", False), ("max_epochs", True)):
        option = f"train_cfg.{length_key}"
        old, new = before_train_cfg.get(length_key), cfg.train_cfg.get(length_key)
        if option not in cfg_options or not old or not new or old == new:
            continue
        factor = new / old
        if isinstance(cfg.get("param_scheduler"), Mapping) and "type" in cfg.param_scheduler:
            cfg.param_scheduler = [cfg.param_scheduler]  # one scheduler: a list to edit in place
        groups = _named_groups(cfg.get("param_scheduler"))
        if any(k == "param_scheduler" or k.startswith("param_scheduler.") for k in cfg_options):
            groups = []  # the command line gave the schedule: it is the user's
        notes: List[str] = []
        for prefix, group in groups:
            prefix = f"{prefix}." if prefix else ""
            warmup_ends = _fit_warmups(group, prefix, factor, new, by_epoch, notes, changed)

            def point(value: int) -> int:
                return warmup_ends[value] if value in warmup_ends else _scale(value, factor)

            for i, sched in enumerate(group):
                if bool(sched.get("by_epoch", True)) != by_epoch:
                    continue
                for key in SCHEDULE_POINT_KEYS:
                    value = sched.get(key)
                    if isinstance(value, int) and value < _OPEN_END:
                        scaled = _scale(value, factor) if key == "T_max" else point(value)
                        if scaled != value:
                            sched[key] = scaled
                            changed.append(f"param_scheduler.{prefix}{i}.{key}")
                if isinstance(sched.get("end"), int) and sched["end"] < _OPEN_END:
                    sched["end"] = max(sched["end"], sched.get("begin", 0) + 1)
                if "T_max" in sched and isinstance(sched["T_max"], int):
                    sched["T_max"] = max(sched["T_max"], 1)
                if sched.get("milestones"):
                    sched["milestones"] = [point(m) for m in sched["milestones"]]
                    changed.append(f"param_scheduler.{prefix}{i}.milestones")
        if cfg.train_cfg.get("val_interval") == old and "train_cfg.val_interval" not in cfg_options:
            cfg.train_cfg.val_interval = new
            changed.append("train_cfg.val_interval")
        checkpoint = (cfg.get("default_hooks") or {}).get("checkpoint")
        if (checkpoint and checkpoint.get("interval") == old and "default_hooks.checkpoint.interval" not in cfg_options
                and bool(checkpoint.get("by_epoch", True)) == by_epoch):
            checkpoint["interval"] = new
            changed.append("default_hooks.checkpoint.interval")
        if changed:
            _log(f"--cfg-options {option}={new} (was {old}): scaled by {factor:.4g}: " + ", ".join(changed)
                 + (f"; param_scheduler is now {cfg.param_scheduler}" if groups else ""))
        for note in notes:
            _log(f"--cfg-options {option}={new}: {note}", logging.WARNING)
    return changed
