"""A child process of the plugin's tools (training, testing) run by a benchmark driver.

The benchmarks train several models, side by side or one after the other, each in
its own process so that each can be pinned to a number of threads. This class is
what they share: the thread environment, forwarding the child's progress lines with
a prefix (so interleaved lines say whose they are), keeping its last lines, and a
clear error with those lines when it fails.

Example::

    >>> import sys
    >>> p = ToolProcess("demo", [sys.executable, "-c", "print('Iter(train) 1'); print('noise')"],
    ...                 threads=1, forward=("Iter(",), tag="example")
    >>> p.start().wait()  # doctest: +NORMALIZE_WHITESPACE
      [demo] Iter(train) 1
    >>> p.tail
    ['Iter(train) 1', 'noise']
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

TAIL_LINES = 30


def thread_env(threads: Optional[int]) -> Dict[str, str]:
    """This process's environment with ``threads`` OpenMP / MKL threads (torch's default if None)."""
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


class ToolProcess:
    """One child process; lines containing any of ``forward`` are printed as ``  [name] line``.

    ``tag`` names the driver in the error raised (``SystemExit``) when the child fails;
    ``where`` (e.g. its work dir) is added to that message. ``seconds`` is the wall
    time from :meth:`start` to the end of :meth:`wait`.
    """

    def __init__(self, name: str, cmd: Sequence[str], threads: Optional[int], forward: Sequence[str],
                 tag: str, where: Optional[str] = None, width: int = 180) -> None:
        self.name, self.cmd, self.forward = name, list(cmd), tuple(forward)
        self.tag, self.where, self.width = tag, where, width
        self.env = thread_env(threads)
        self.tail: List[str] = []
        self.seconds: Optional[float] = None
        self._t0 = 0.0
        self._proc: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None

    def start(self) -> "ToolProcess":
        self._t0 = time.time()
        self._proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for line in self._proc.stdout:
            self.tail = (self.tail + [line.rstrip()])[-TAIL_LINES:]
            if any(key in line for key in self.forward):
                print(f"  [{self.name}] {line.strip()[:self.width]}", flush=True)

    def wait(self) -> None:
        """Wait for the child; print its last lines and raise ``SystemExit`` if it failed."""
        if self._proc is None:
            raise RuntimeError(f"{self.name}: wait() before start()")
        code = self._proc.wait()
        self._reader.join()
        self.seconds = time.time() - self._t0
        if code != 0:
            print("\n".join(self.tail), file=sys.stderr)
            where = f"; its log is in {self.where}" if self.where else ""
            raise SystemExit(f"[{self.tag}] {self.name} failed (exit {code}): {' '.join(self.cmd)}{where}")

    def run(self) -> None:
        """:meth:`start`, then :meth:`wait`."""
        self.start().wait()
