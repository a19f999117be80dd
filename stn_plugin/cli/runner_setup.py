"""What ``tools/train.py`` and ``tools/test.py`` share beyond mmdet's own logic.

* :func:`load_tool_config`: the config with the arguments both tools take applied
  (``--launcher``, ``--cfg-options``, ``--work-dir`` or mmdet's default work dir).
* :func:`tool_setup`: the process set-up both tools do first, and a context in which
  a bad argument or config ends the tool with a one-line message naming it.
* :func:`check_amp_available`: ``--amp`` fails early with a clear message on a
  machine without CUDA (mmengine's ``AmpOptimWrapper`` would assert deep inside).
* :func:`adapt_distributed_to_cpu`: mmengine 0.10.7's launchers call
  ``torch.cuda.set_device`` and wrap models with ``device_ids=[LOCAL_RANK]``, so
  ``--launcher pytorch`` (torchrun, ``tools/dist_train.sh``) cannot run on CPU-only
  machines. On such a machine this switches the process group to ``gloo``,
  initialises it from torchrun's environment (``init_method='env://'``: RANK,
  WORLD_SIZE, MASTER_ADDR, MASTER_PORT) before the Runner would, and wraps the
  model in ``MMDistributedDataParallel`` without device ids. Nothing changes where
  CUDA is available: mmengine's own path runs.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

import torch

from . import errors


def load_tool_config(config: str, launcher: str, cfg_options: Optional[dict], work_dir: Optional[str]):
    """Load ``config`` and apply the arguments the train and test tools share.

    ``cfg_options`` also reach the keys a config copied them into: an overridden
    ``data_root`` (any top-level ``*root``) moves every dataloader and evaluator path
    below it, and an overridden ``train_cfg.max_iters`` / ``max_epochs`` scales the
    ``param_scheduler`` (see :mod:`stn_plugin.cli.config_overrides`)."""
    from mmengine.config import Config

    from .. import register_all_modules

    # the tools import stn_plugin before mmengine, so a config's
    # custom_imports=['stn_plugin'] finds it imported and registers nothing: register here
    register_all_modules()
    if not os.path.isfile(config):
        raise FileNotFoundError(f"config file not found: {config}")
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        from .config_overrides import follow_data_roots, rescale_schedule, root_variables

        roots = root_variables(cfg, cfg_options)
        train_cfg = dict(cfg.get("train_cfg") or {})
        cfg.merge_from_dict(cfg_options)
        follow_data_roots(cfg, roots, cfg_options)
        rescale_schedule(cfg, train_cfg, cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get("work_dir", None) is None:
        cfg.work_dir = os.path.join("./work_dirs", os.path.splitext(os.path.basename(config))[0])
    return cfg


class LauncherError(RuntimeError):
    """A launcher / device combination that cannot work here."""


@contextmanager
def tool_setup() -> Iterator[None]:
    """What a tool's ``main`` does before building its runner, as mmdet's tools do.

    Limits torch.compile's cache as mmdet does; inside the ``with`` block, the
    errors our config and argument checks raise (a missing file, an unknown key, a
    bad value, a launcher that cannot work here) exit with ``error: <message>``
    instead of a traceback."""
    try:
        from mmdet.utils import setup_cache_size_limit_of_dynamo

        setup_cache_size_limit_of_dynamo()
    except ImportError:  # pragma: no cover - mmdet is a dependency
        pass
    with exit_on_bad_input():
        yield


def exit_on_bad_input():
    """Inside: our argument, config, file-system, launcher and checkpoint errors end the
    tool with ``error: <message>`` (exit status 1) instead of a traceback
    (:func:`stn_plugin.cli.errors.exit_on_bad_input`)."""
    return errors.exit_on_bad_input(LauncherError)


def check_work_dir(work_dir: str) -> None:
    """Raise if ``work_dir`` cannot be (or is not) a writable directory; creates nothing."""
    path = os.path.abspath(work_dir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"work dir {work_dir!r} exists and is not a directory")
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise NotADirectoryError(f"work dir {work_dir!r} cannot be created: {parent!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        what = "is not writable" if parent == path else f"cannot be created: {parent!r} is not writable"
        raise PermissionError(f"work dir {work_dir!r} {what}")


def earlier_checkpoints(work_dir: str) -> list:
    """Checkpoint files an earlier run left in ``work_dir`` (what mmengine's
    ``CheckpointHook`` writes there: ``*.pth`` and ``last_checkpoint``), sorted."""
    if not os.path.isdir(work_dir):
        return []
    return sorted(name for name in os.listdir(work_dir)
                  if name == "last_checkpoint" or (name.endswith(".pth") and os.path.isfile(
                      os.path.join(work_dir, name))))


def close_process_group() -> None:
    """Close the distributed process group, if any, once a tool's work is done.

    Left to interpreter shutdown, a gloo process group can abort a rank there
    ("terminate called without an active exception") after all the work is done,
    turning a finished run into a failed one; the barrier first keeps a rank that
    finished early from tearing down while another still talks to it."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def check_amp_available() -> None:
    """Raise :class:`LauncherError` when ``--amp`` cannot work (no CUDA device)."""
    if not torch.cuda.is_available():
        raise LauncherError("--amp needs a CUDA GPU (mmengine's AmpOptimWrapper runs on CUDA devices only), "
                            "but torch.cuda.is_available() is False on this machine; run without --amp")


def adapt_distributed_to_cpu(cfg) -> bool:
    """Make ``cfg.launcher='pytorch'`` work on a CPU-only machine; returns True if it did anything.

    ``cfg`` is an mmengine ``Config`` whose ``launcher`` is set. Raises
    :class:`LauncherError` for ``slurm`` / ``mpi`` on CPU (mmengine needs CUDA there)
    and when torchrun's environment variables are missing.
    """
    launcher = cfg.get("launcher", "none")
    if launcher == "none" or torch.cuda.is_available():
        return False
    if launcher != "pytorch":
        raise LauncherError(f"--launcher {launcher} needs CUDA devices with mmengine 0.10.7 (it calls "
                            "torch.cuda.set_device); on a CPU-only machine use --launcher pytorch "
                            "(tools/dist_train.sh) or --launcher none")
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise LauncherError(f"--launcher pytorch expects torchrun's environment; missing {missing}. "
                            "Start it with tools/dist_train.sh / dist_test.sh (torchrun)")
    env_cfg = cfg.setdefault("env_cfg", {})
    dist_cfg = env_cfg.setdefault("dist_cfg", {})
    dist_cfg["backend"] = "gloo"
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", init_method="env://")
    wrapper = cfg.get("model_wrapper_cfg") or dict(type="MMDistributedDataParallel")
    wrapper.setdefault("device_ids", None)
    cfg.model_wrapper_cfg = wrapper
    return True
