"""An mmengine Runner saves a checkpoint and a second Runner resumes from it.

Runs under torch's own ``weights_only=True`` default (mmengine 0.10.7 passes no
``weights_only``); only stn_plugin's allow-list makes the Runner's checkpoint load.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import Dataset

pytest.importorskip("mmengine")

import stn_plugin  # noqa: E402,F401  (enables safe checkpoint loading)
from mmengine.hooks import Hook  # noqa: E402
from mmengine.model import BaseModel  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


class ToyDataset(Dataset):
    """y = 2x - 1 on 8 fixed points; ``metainfo`` is saved into checkpoints as dataset_meta."""

    metainfo = dict(classes=("a", "b"), palette=[(0, 0, 0), (255, 0, 0)])

    def __init__(self) -> None:
        self.x = torch.linspace(-1, 1, 8).unsqueeze(1)
        self.y = 2 * self.x - 1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        return dict(inputs=self.x[idx], targets=self.y[idx])


class ToyModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(1, 1)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None, mode: str = "tensor") -> Any:
        out = self.fc(inputs)
        if mode == "loss":
            return dict(loss=torch.nn.functional.mse_loss(out, targets))
        return out


class Recorder(Hook):
    """Records where training (re)starts and which iterations run."""

    def __init__(self) -> None:
        self.start_iter: int | None = None
        self.loss_history_len: int | None = None
        self.start_lr: float | None = None
        self.start_weight: torch.Tensor | None = None
        self.iters: list[int] = []

    def before_train(self, runner: Runner) -> None:
        self.start_iter = runner.iter
        hub = runner.message_hub
        losses = hub.log_scalars.get("train/loss")
        self.loss_history_len = 0 if losses is None else len(losses.data[0])
        self.start_lr = runner.optim_wrapper.get_lr()["lr"][0]
        self.start_weight = runner.model.fc.weight.detach().clone()

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None) -> None:
        self.iters.append(runner.iter)


def make_runner(work_dir: Path, max_iters: int, recorder: Recorder, **kwargs: Any) -> Runner:
    torch.manual_seed(0)
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f"resume-{uuid.uuid4().hex[:8]}",
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type="DefaultSampler", shuffle=False),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
        # explicit end: mmengine would otherwise store end=max_iters of the first run
        param_scheduler=dict(type="MultiStepLR", milestones=[3], gamma=0.1, by_epoch=False, begin=0, end=4),
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=2, by_epoch=False),
            logger=dict(type="LoggerHook", interval=1),
        ),
        custom_hooks=[recorder],
        # None: do not create a new DefaultScope instance (it would stay the current
        # scope for later tests); mmengine's own registries are found from any scope
        default_scope=None,
        log_level="WARNING",
        **kwargs,
    )


def test_runner_saves_and_resumes_under_weights_only(tmp_path: Path) -> None:
    work_dir = tmp_path / "work"
    first = Recorder()
    make_runner(work_dir, max_iters=2, recorder=first).train()
    assert first.iters == [0, 1]
    ckpt = work_dir / "iter_2.pth"
    assert ckpt.is_file()

    # What the Runner writes: only tensors, containers, HistoryBuffer and numpy data.
    with zipfile.ZipFile(ckpt) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        ops = list(pickletools.genops(io.BytesIO(zf.read(name))))
    # (protocol 2 writes Python 2 module names, e.g. ``__builtin__ getattr``)
    globals_ = {
        arg.replace(" ", ".").replace("__builtin__.", "builtins.") for op, arg, _ in ops if op.name == "GLOBAL"
    }
    assert "builtins.getattr" not in globals_
    assert "mmengine.logging.history_buffer.HistoryBuffer" in globals_
    # (Counter: MultiStepLR's milestones; _codecs.encode: bytes in numpy data)
    unexpected = {g for g in globals_ if not g.startswith(("torch.", "numpy"))}
    unexpected -= {
        "mmengine.logging.history_buffer.HistoryBuffer",
        "_codecs.encode",
        "collections.OrderedDict",
        "collections.Counter",
    }
    assert not unexpected, f"the Runner wrote unexpected globals {unexpected}"

    # the default is still weights_only=True: this loads only thanks to the allow-list
    state = torch.load(ckpt, map_location="cpu")
    assert state["meta"]["iter"] == 2
    with pytest.raises(pickle.UnpicklingError):
        _load_blocked(ckpt)

    second = Recorder()
    runner = make_runner(work_dir, max_iters=4, recorder=second, resume=True, load_from=str(ckpt))
    runner.train()
    assert second.start_iter == 2
    assert second.iters == [2, 3]
    assert second.loss_history_len == 2  # message hub history of the first run came back
    torch.testing.assert_close(second.start_weight, state["state_dict"]["fc.weight"])
    assert second.start_lr == pytest.approx(0.1)
    assert runner.iter == 4
    assert runner.param_schedulers[0]._global_step == 4
    assert runner.optim_wrapper.get_lr()["lr"][0] == pytest.approx(0.01)  # milestone 3 passed
    assert len(runner.message_hub.get_scalar("train/loss").data[0]) == 4
    assert (work_dir / "iter_4.pth").is_file()

    # auto-resume: no load_from, the Runner finds work_dir/last_checkpoint (iter_4)
    third = Recorder()
    make_runner(work_dir, max_iters=5, recorder=third, resume=True).train()
    assert third.start_iter == 4 and third.iters == [4]
    assert third.loss_history_len == 4


def _load_blocked(path: Path) -> None:
    """Load ``path`` with torch's built-in allow-list only (our entries removed)."""
    ours = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        torch.load(path, map_location="cpu")
    finally:
        torch.serialization.add_safe_globals(ours)
