"""Checkpoints that survive a crash while they are written.

mmengine 0.10.7's ``CheckpointHook`` (with ``max_keep_ckpts``) first deletes the
oldest checkpoint it keeps, then writes the new one in place (``open(path, 'wb')``),
then rewrites ``last_checkpoint``. A process killed during the write leaves a partial
file, the previous checkpoint already gone and ``last_checkpoint`` naming the
deleted file: nothing is left to resume from.

:class:`AtomicCheckpointHook` saves in the order that keeps a complete checkpoint on
disk at every moment:

1. the checkpoint is written to a hidden temporary file in the same folder
   (``.iter_N.pth.partial-<pid>``), flushed to disk (``fsync``) and renamed to its
   name (``os.replace``: atomic within one file system);
2. ``last_checkpoint`` is written the same way, so it names either the previous
   checkpoint or the new, complete one, never a partial file;
3. only then is the checkpoint that ``max_keep_ckpts`` drops deleted.

A killed write leaves at most the hidden temporary file, which the next run in the
work dir removes (:meth:`AtomicCheckpointHook.before_train`; the work-dir lock of
:mod:`stn_plugin.cli.work_dir_lock` guarantees no other run is writing it). Remote
storage backends (``out_dir`` on a URL) keep mmengine's own behaviour. Everything
else (intervals, ``save_last``, ``save_best``, resuming the kept list) is mmengine's.

It is registered in mmengine's root ``HOOKS`` registry, so configs of every scope
(``mmdet``, ``mmocr``, none) find it; ``tools/train.py`` runs it in place of a config's
``CheckpointHook`` (:func:`use_atomic_checkpoints`).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, Callable, Optional

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

PARTIAL_MARK = ".partial-"


def _fsync_dir(path: str) -> None:
    """Persist a rename in ``path`` (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def partial_name(path: str) -> str:
    """The hidden temporary file ``path`` is written to before it is renamed."""
    folder, name = osp.split(path)
    return osp.join(folder, f".{name}{PARTIAL_MARK}{os.getpid()}")


def replace_atomically(path: str, write: Callable[[str], Any]) -> None:
    """Make ``path`` appear complete or not at all: ``write(temporary path)``, then fsync
    and rename it over ``path``. The temporary file is removed if ``write`` fails."""
    tmp = partial_name(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(osp.dirname(path) or ".")


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`replace_atomically`."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    replace_atomically(path, write)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` whose checkpoints and ``last_checkpoint`` are written
    atomically, the dropped checkpoint deleted only after the new one is complete (see
    the module docstring). Takes ``CheckpointHook``'s arguments."""

    def _local(self) -> bool:
        return isinstance(getattr(self, "file_backend", None), LocalBackend)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not (self._local() and is_main_process() and osp.isdir(self.out_dir)):
            return
        for name in sorted(os.listdir(self.out_dir)):
            if name.startswith(".") and PARTIAL_MARK in name:
                os.remove(osp.join(self.out_dir, name))
                print_log(f"removed {osp.join(self.out_dir, name)}, a checkpoint an earlier run did not "
                          "finish writing", logger="current")

    def _save_checkpoint_with_step(self, runner, step: int, meta: Optional[dict]) -> None:
        if not self._local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        dropped = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)

        def save(name: str) -> None:
            runner.save_checkpoint(self.out_dir, name, self.file_client_args, save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)

        if not is_main_process():
            save(filename)  # Runner.save_checkpoint writes on the main process only
            return
        replace_atomically(self.last_ckpt, lambda tmp: save(osp.basename(tmp)))
        write_text_atomically(osp.join(runner.work_dir, "last_checkpoint"), self.last_ckpt)
        if dropped is not None and dropped != step:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(dropped))
            if osp.isfile(old):
                os.remove(old)


def use_atomic_checkpoints(cfg) -> bool:
    """Run ``cfg``'s checkpoint hook as :class:`AtomicCheckpointHook` when it is mmengine's
    plain ``CheckpointHook`` (same arguments); returns True if it did."""
    hook = (cfg.get("default_hooks") or {}).get("checkpoint")
    if not hook or hook.get("type") not in ("CheckpointHook", "mmengine.CheckpointHook", CheckpointHook):
        return False
    hook["type"] = "AtomicCheckpointHook"
    return True
