"""One training process per work dir.

Two ``tools/train.py`` runs on one ``--work-dir`` would write the same
``iter_N.pth`` and ``last_checkpoint``: the later run's checkpoints silently replace
the earlier one's. :func:`lock_work_dir` takes an exclusive lock on
``<work dir>/train.lock`` (``fcntl.flock``) and writes the process id into it; a
second process is refused with an error naming that PID. The kernel releases the
lock when its process ends, however it ends, so a lock file that a killed run left
behind is taken over (with a warning naming the dead PID). A finished run removes the
file.

Only rank 0 of a distributed run locks (the ranks share the work dir on purpose);
the rank is read from the launchers' environment (``RANK``, ``SLURM_PROCID``,
``OMPI_COMM_WORLD_RANK``), as the lock is taken before the process group exists.
"""
from __future__ import annotations

import atexit
import errno
import os
import os.path as osp
import time
from typing import Dict, Optional

LOCK_NAME = "train.lock"
_RANK_VARIABLES = {"pytorch": "RANK", "slurm": "SLURM_PROCID", "mpi": "OMPI_COMM_WORLD_RANK"}


class WorkDirInUseError(RuntimeError):
    """Another live process trains in the work dir."""


class WorkDirLock:
    """The held lock of one work dir (see the module docstring)."""

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> Optional[int]:
        """Take the lock; returns the PID named by a stale lock file it took over, else None.

        Raises :class:`WorkDirInUseError` naming the other process's PID when it is held."""
        import fcntl

        os.makedirs(self.work_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise WorkDirInUseError(self._in_use_message()) from None
            # the holder before us may have removed the file between our open and our lock:
            # then we locked a file nobody else sees; start over on the current one
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read_pid(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return previous if previous not in (None, os.getpid()) else None

    def _in_use_message(self) -> str:
        pid = None
        for _ in range(20):  # the holder writes its PID right after locking
            pid = _read_pid_from(self.path)
            if pid is not None:
                break
            time.sleep(0.05)
        who = f"process {pid}" if pid is not None else "another process"
        return (f"work dir {self.work_dir} is in use: {who} is training in it (lock file {self.path}). "
                "Wait for it to finish, stop it, or pass another --work-dir")

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)  # closing releases the flock
        self._fd = None


def _read_pid(fd: int) -> Optional[int]:
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def _read_pid_from(path: str) -> Optional[int]:
    try:
        with open(path, "rb") as f:
            text = f.read(64).decode(errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def is_main_rank(launcher: str) -> bool:
    """Whether this process is rank 0 of ``launcher``'s job (always, for ``none``)."""
    variable = _RANK_VARIABLES.get(launcher)
    return variable is None or os.environ.get(variable, "0") == "0"


# the locks this process holds, by real path: a tool may configure the same work dir twice
_HELD: Dict[str, WorkDirLock] = {}


def lock_work_dir(work_dir: str, launcher: str = "none") -> Optional[WorkDirLock]:
    """Hold ``work_dir``'s lock for this process (rank 0 only; None on other ranks).

    Holding it already is fine. A lock file left by a process that no longer runs is
    taken over with a warning. Raises :class:`WorkDirInUseError` when another process
    holds it."""
    if not is_main_rank(launcher):
        return None
    key = osp.realpath(work_dir)
    lock = _HELD.get(key)
    if lock is not None and lock.held:
        return lock
    lock = WorkDirLock(work_dir)
    stale = lock.acquire()
    _HELD[key] = lock
    if stale is not None:
        import warnings

        warnings.warn(f"work dir {work_dir}: took over the lock of process {stale}, which no longer runs "
                      "(a run that was killed?)", stacklevel=2)
    return lock


def unlock_work_dirs() -> None:
    """Release every work-dir lock this process holds (also run at interpreter exit)."""
    while _HELD:
        _HELD.popitem()[1].release()


atexit.register(unlock_work_dirs)
