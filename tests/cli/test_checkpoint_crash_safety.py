"""Checkpoints survive a crash while saving, and a work dir takes one training process.

A toy mmengine Runner saves every 2 iterations with ``max_keep_ckpts=1`` (the text
configs' setting, where mmengine deletes the previous checkpoint before writing the
next); the second save is made to fail half-way: in this process (the writer raises),
and in a child process killed with SIGKILL while it writes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("mmengine")

import stn_plugin  # noqa: E402,F401  (registers; safe checkpoint loading)
import mmengine.runner.runner as runner_module  # noqa: E402
from mmengine.model import BaseModel  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from stn_plugin.cli.checkpoint_hook import AtomicCheckpointHook  # noqa: E402
from stn_plugin.cli.work_dir_lock import LOCK_NAME, WorkDirInUseError, lock_work_dir, unlock_work_dirs  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()
PARTIAL = b"PK\x03\x04 the first bytes of a checkpoint, and nothing more"
WRITING = "child: half of the checkpoint written:"


class LineModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, inputs: torch.Tensor, targets: Any = None, mode: str = "tensor") -> Any:
        out = self.fc(inputs)
        return dict(loss=(out - targets).square().mean()) if mode == "loss" else out


def toy_runner(work_dir: Path, max_iters: int = 4, resume: bool = False) -> Runner:
    """A CPU Runner on 16 points that saves every 2 iterations and keeps one checkpoint."""
    torch.manual_seed(0)
    x = torch.randn(16, 2)
    return Runner(
        model=LineModel(), work_dir=str(work_dir), experiment_name=f"crash-{uuid.uuid4().hex[:8]}",
        train_dataloader=dict(dataset=[dict(inputs=a, targets=a.sum(0, keepdim=True)) for a in x],
                              sampler=dict(type="DefaultSampler", shuffle=False), batch_size=4,
                              collate_fn=dict(type="default_collate")),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        default_hooks=dict(checkpoint=dict(type=AtomicCheckpointHook, interval=2, by_epoch=False,
                                           max_keep_ckpts=1)),
        default_scope=None, log_level="WARNING", resume=resume)


def _assert_resumable(work_dir: Path, step: int) -> None:
    """``last_checkpoint`` names ``iter_<step>.pth``, which is complete (it loads)."""
    last = (work_dir / "last_checkpoint").read_text()
    assert last == str(work_dir / f"iter_{step}.pth")
    checkpoint = torch.load(last, map_location="cpu")  # torch's default: weights_only=True
    assert checkpoint["meta"]["iter"] == step and "fc.weight" in checkpoint["state_dict"]


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    seen_mid_write = {}
    real_save = runner_module.save_checkpoint

    def save_and_fail_the_second(checkpoint, filename, **kwargs):
        if checkpoint["meta"]["iter"] < 4:
            return real_save(checkpoint, filename, **kwargs)
        with open(filename, "wb") as f:
            f.write(PARTIAL)
        # what a kill at this moment would leave
        seen_mid_write["files"] = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
        seen_mid_write["last"] = (tmp_path / "last_checkpoint").read_text()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner_module, "save_checkpoint", save_and_fail_the_second)
    with pytest.raises(OSError, match="No space left"):
        toy_runner(tmp_path).train()
    assert "iter_2.pth" in seen_mid_write["files"] and "iter_4.pth" not in seen_mid_write["files"]
    assert seen_mid_write["last"] == str(tmp_path / "iter_2.pth")
    _assert_resumable(tmp_path, 2)
    # the partial write was removed
    assert [p.name for p in tmp_path.glob("*.pth")] == ["iter_2.pth"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_a_finished_run_keeps_max_keep_ckpts_and_resumes(tmp_path):
    toy_runner(tmp_path).train()
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == ["iter_4.pth"]
    _assert_resumable(tmp_path, 4)
    runner = toy_runner(tmp_path, max_iters=6, resume=True)
    runner.train()
    assert runner.iter == 6 and sorted(p.name for p in tmp_path.glob("*.pth")) == ["iter_6.pth"]


KILLED_MID_SAVE = textwrap.dedent("""
    import importlib.util, sys, time
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("crash_test", {this!r})
    crash_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crash_test)
    import mmengine.runner.runner as runner_module
    real_save = runner_module.save_checkpoint

    def save_and_hang_in_the_second(checkpoint, filename, **kwargs):
        if checkpoint["meta"]["iter"] < 4:
            return real_save(checkpoint, filename, **kwargs)
        with open(filename, "wb") as f:
            f.write(crash_test.PARTIAL)
        print({writing!r}, filename, flush=True)
        time.sleep(120)

    runner_module.save_checkpoint = save_and_hang_in_the_second
    crash_test.toy_runner(Path({work_dir!r})).train()
""")


def test_kill_9_while_saving_leaves_a_checkpoint_to_resume_from(tmp_path):
    code = KILLED_MID_SAVE.format(this=str(THIS), work_dir=str(tmp_path), writing=WRITING)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    output = []
    try:
        # until the second save is half-written (or the child ended without getting there)
        while not output or not (output[-1].startswith(WRITING) or output[-1] == ""):
            output.append(proc.stdout.readline())
        assert output[-1].startswith(WRITING), "".join(output)[-3000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = [p for p in tmp_path.iterdir() if p.name.startswith(".iter_4.pth.partial-")]
    assert len(partial) == 1 and partial[0].read_bytes() == PARTIAL
    assert not (tmp_path / "iter_4.pth").exists()
    _assert_resumable(tmp_path, 2)
    # the next run resumes from it, and removes the unfinished write
    runner = toy_runner(tmp_path, resume=True)
    runner.train()
    assert runner.iter == 4 and not partial[0].exists()
    _assert_resumable(tmp_path, 4)


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from stn_plugin.cli.work_dir_lock import lock_work_dir
    lock_work_dir(sys.argv[1])
    print("locked", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def other_process_holding(tmp_path):
    """A live process that holds the lock of ``tmp_path / 'work'``."""
    work = tmp_path / "work"
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(work)], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.readline().strip() == "locked"
    yield work, proc
    proc.kill()
    proc.wait(timeout=30)


def test_second_training_process_is_refused_with_the_first_ones_pid(other_process_holding):
    pytest.importorskip("mmdet")
    from stn_plugin.cli import train

    work, other = other_process_holding
    with pytest.raises(SystemExit) as exc:
        train.main(["configs/mnist/cnn_r.py", "--work-dir", str(work), "--cfg-options",
                    "train_dataloader.dataset.num_samples=64", "train_cfg.max_iters=2"])
    message = str(exc.value.code)
    assert message.startswith("error: work dir") and f"process {other.pid}" in message and "in use" in message
    assert "--work-dir" in message and not list(work.glob("*.pth"))
    # the refused run did not take the lock from the live one
    assert (work / LOCK_NAME).read_text().strip() == str(other.pid)


def test_a_killed_runs_lock_is_taken_over_with_a_warning(other_process_holding):
    work, other = other_process_holding
    with pytest.raises(WorkDirInUseError, match=f"process {other.pid}"):
        lock_work_dir(str(work))
    other.kill()
    other.wait(timeout=30)
    assert (work / LOCK_NAME).read_text().strip() == str(other.pid)  # left behind by SIGKILL
    try:
        with pytest.warns(UserWarning, match=f"took over the lock of process {other.pid}"):
            lock_work_dir(str(work))
        assert (work / LOCK_NAME).read_text().strip() == str(os.getpid())
    finally:
        unlock_work_dirs()
    assert not (work / LOCK_NAME).exists()  # a clean release removes the file


def test_other_ranks_of_a_distributed_run_do_not_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert lock_work_dir(str(tmp_path), "pytorch") is None and not (tmp_path / LOCK_NAME).exists()


def test_train_tool_runs_its_checkpoint_hook_atomically(tmp_path):
    pytest.importorskip("mmdet")
    from stn_plugin.cli import train

    args = train.parse_args(["configs/mnist/cnn_r.py", "--work-dir", str(tmp_path)])
    try:
        cfg = train.build_config(args)
    finally:
        unlock_work_dirs()
    assert cfg.default_hooks.checkpoint.type == "AtomicCheckpointHook"
    assert cfg.default_hooks.checkpoint.save_last is True  # the config's own arguments are kept


def test_lock_wait_is_short_when_no_pid_was_written(tmp_path):
    """A lock file whose holder has not written its PID yet still gives an answer quickly."""
    import fcntl

    (tmp_path / LOCK_NAME).write_text("")
    fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        start = time.monotonic()
        with pytest.raises(WorkDirInUseError, match="another process"):
            lock_work_dir(str(tmp_path))
        assert time.monotonic() - start < 5
    finally:
        os.close(fd)
