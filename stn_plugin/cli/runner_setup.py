"""What ``tools/train.py`` and ``tools/test.py`` share beyond mmdet's own logic.

* :func:`load_tool_config`: the config with the arguments both tools take applied
  (``--launcher``, ``--cfg-options``, ``--work-dir`` or mmdet's default work dir).
* :func:`tool_setup`: the process set-up both tools do first, and a context in which
  a bad argument or config ends the tool with a one-line message naming it.
* :func:`read_config` / :func:`build_tool_runner`: a config that cannot be parsed, or
  names an argument a module does not take, is such an error too.
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
import re
from contextlib import contextmanager
from typing import Iterator, Optional

import torch

from . import errors
from .work_dir_lock import WorkDirInUseError


def load_tool_config(config: str, launcher: str, cfg_options: Optional[dict], work_dir: Optional[str]):
    """Load ``config`` and apply the arguments the train and test tools share.

    ``cfg_options`` also reach the keys a config copied them into: an overridden
    ``data_root`` (any top-level ``*root``) moves every dataloader and evaluator path
    below it, and an overridden ``train_cfg.max_iters`` / ``max_epochs`` scales the
    ``param_scheduler`` (see :mod:`stn_plugin.cli.config_overrides`)."""
    from .. import register_all_modules

    # the tools import stn_plugin before mmengine, so a config's
    # custom_imports=['stn_plugin'] finds it imported and registers nothing: register here
    register_all_modules()
    if not os.path.isfile(config):
        raise FileNotFoundError(f"config file not found: {config}")
    cfg = read_config(config)
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


def read_config(config: str):
    """``Config.fromfile(config)``; a config that cannot be parsed or run raises
    ``ValueError`` naming the file and the reason in one line."""
    from mmengine.config import Config

    try:
        return Config.fromfile(config)
    except SyntaxError as err:
        where = _syntax_error_in(config) or f"config {config}"
        raise ValueError(f"{where}: SyntaxError: {err.msg}; the config cannot be loaded") from err
    except (NameError, AttributeError, TypeError, ImportError, AssertionError) as err:
        raise ValueError(f"config {config} cannot be loaded: {type(err).__name__}: {_one_line(str(err))}") from err


def _syntax_error_in(config: str, seen: Optional[set] = None) -> Optional[str]:
    """``'config FILE, line N'`` of the first file with a syntax error among ``config``
    and its local ``_base_`` files (mmengine's own error does not say which)."""
    import ast

    seen = set() if seen is None else seen
    if config in seen or not os.path.isfile(config):
        return None
    seen.add(config)
    with open(config, encoding="utf-8") as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=config)
    except SyntaxError as err:
        return f"config {config}, line {err.lineno}"
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_base_" for t in node.targets):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                return None
            for base in [bases] if isinstance(bases, str) else bases:
                if isinstance(base, str) and "::" not in base:
                    found = _syntax_error_in(os.path.normpath(os.path.join(os.path.dirname(config), base)), seen)
                    if found:
                        return found
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
    """Inside: our argument, config, file-system, launcher, work-dir lock and checkpoint
    errors end the tool with ``error: <message>`` (exit status 1) instead of a traceback
    (:func:`stn_plugin.cli.errors.exit_on_bad_input`)."""
    return errors.exit_on_bad_input(LauncherError, WorkDirInUseError)


# what Python says when a config passes an argument a class does not take, or omits one
_ARGUMENT_ERROR = re.compile(r"unexpected keyword argument '(\w+)'|missing \d+ required [\w-]+ arguments?: '(\w+)'")
# some mmengine versions prefix each nested build's error with the class it built
_BUILT_CLASS = re.compile(r"class `\w+` in [^:]+: ")


def build_tool_runner(cfg, cfg_options: Optional[dict] = None):
    """mmengine's Runner of ``cfg`` (or ``cfg.runner_type`` from the registry).

    A module argument that the config or ``--cfg-options`` gives and the module does
    not take (a misspelt or unknown key) raises ``ValueError`` in one line, naming the
    class, the argument and the ``--cfg-options`` entry it came from, instead of the
    ``TypeError`` that mmengine nests once per enclosing module."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    adapt_distributed_to_cpu(cfg)
    try:
        return Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
    except TypeError as err:
        match = _ARGUMENT_ERROR.search(str(err))
        if match is None:
            raise
        raise ValueError(_explain_argument_error(str(err), match.group(1) or match.group(2), cfg_options)) from err


def _explain_argument_error(message: str, argument: str, cfg_options: Optional[dict]) -> str:
    reason = _one_line(_BUILT_CLASS.sub("", message))  # "DigitCNN.__init__() got an unexpected ..."
    given = [key for key in (cfg_options or {}) if key.rsplit(".", 1)[-1] == argument]
    source = f"--cfg-options {', '.join(given)}" if given else "the config"
    return f"a module of the config cannot be built: {reason}; it comes from {source}: check the key's spelling and place"


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
