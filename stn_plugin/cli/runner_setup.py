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
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

import torch


def load_tool_config(config: str, launcher: str, cfg_options: Optional[dict], work_dir: Optional[str]):
    """Load ``config`` and apply the arguments the train and test tools share."""
    from mmengine.config import Config

    if not os.path.isfile(config):
        raise FileNotFoundError(f"config file not found: {config}")
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
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
    try:
        yield
    except (LauncherError, FileNotFoundError, KeyError, ValueError) as err:
        sys.exit(f"error: {err.args[0] if err.args else err}")


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
