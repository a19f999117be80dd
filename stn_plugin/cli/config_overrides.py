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
  :func:`rescale_schedule` scales the scheduler points proportionally and keeps
  "validate / save at the end" at the new end.

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


def _scale(value: int, factor: float) -> int:
    return int(round(value * factor))


def _named_schedulers(schedulers) -> List[tuple]:
    """``[(dotted index, scheduler config)]`` of a ``param_scheduler``: one config, a list,
    or (several optimizers) a dict ``{optimizer name: config or list}``."""
    if not schedulers:
        return []
    if isinstance(schedulers, Mapping) and "type" not in schedulers:
        named = []
        for group, value in schedulers.items():
            named += [(f"{group}.{i}", s) for i, s in _named_schedulers(value)]
        return named
    if isinstance(schedulers, Mapping):
        return [("0", schedulers)]
    return [(str(i), s) for i, s in enumerate(schedulers)]


def rescale_schedule(cfg, before_train_cfg: Optional[Mapping], cfg_options: Mapping[str, Any]) -> List[str]:
    """Scale the schedule to an overridden ``train_cfg.max_iters`` / ``train_cfg.max_epochs``.

    ``param_scheduler`` entries on the same timeline (``by_epoch=False`` for
    ``max_iters``, ``True`` for ``max_epochs``) get ``begin``, ``end``, ``T_max`` and
    ``milestones`` multiplied by new / old length (rounded, each scheduler kept at
    least one step long); ``train_cfg.val_interval`` and
    ``default_hooks.checkpoint.interval`` that equalled the old length (evaluate /
    save at the end) follow the new one. When ``cfg_options`` also sets any
    ``param_scheduler`` key, the schedule is the user's and is not scaled. Keys given
    in ``cfg_options`` are never changed. Returns the dotted keys changed (also logged)."""
    if not before_train_cfg or "train_cfg" not in cfg:
        return []
    changed: List[str] = []
    for length_key, by_epoch in (("max_iters", False), ("max_epochs", True)):
        option = f"train_cfg.{length_key}"
        old, new = before_train_cfg.get(length_key), cfg.train_cfg.get(length_key)
        if option not in cfg_options or not old or not new or old == new:
            continue
        factor = new / old
        schedulers = _named_schedulers(cfg.get("param_scheduler"))
        if any(k == "param_scheduler" or k.startswith("param_scheduler.") for k in cfg_options):
            schedulers = []  # the command line gave the schedule: it is the user's
        for i, sched in schedulers:
            if bool(sched.get("by_epoch", True)) != by_epoch:
                continue
            for key in SCHEDULE_POINT_KEYS:
                value = sched.get(key)
                if isinstance(value, int) and value < _OPEN_END and _scale(value, factor) != value:
                    sched[key] = _scale(value, factor)
                    changed.append(f"param_scheduler.{i}.{key}")
            if isinstance(sched.get("end"), int) and sched["end"] < _OPEN_END:
                sched["end"] = max(sched["end"], sched.get("begin", 0) + 1)
            if "T_max" in sched and isinstance(sched["T_max"], int):
                sched["T_max"] = max(sched["T_max"], 1)
            if sched.get("milestones"):
                sched["milestones"] = [_scale(m, factor) for m in sched["milestones"]]
                changed.append(f"param_scheduler.{i}.milestones")
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
                 + (f"; param_scheduler is now {cfg.param_scheduler}" if schedulers else ""))
    return changed
