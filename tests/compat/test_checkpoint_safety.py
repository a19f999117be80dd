"""stn_plugin.compat: mmengine checkpoints load with weights_only=True, attacks do not."""
from __future__ import annotations

import io
import os
import pickle
import pickletools
import subprocess
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("mmengine")

import stn_plugin  # noqa: E402,F401  (enables safe checkpoint loading)
from mmengine.logging.history_buffer import HistoryBuffer  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint  # noqa: E402

from stn_plugin.compat import (  # noqa: E402
    LEGACY_STATISTIC_METHODS,
    enable_safe_checkpoint_loading,
    is_history_buffer_patched,
    legacy_history_buffer_getattr,
)


def pickled_globals(path: Path) -> set[str]:
    """The ``module.name`` of every GLOBAL opcode in a torch.save file's data.pkl."""
    with zipfile.ZipFile(path) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        data = zf.read(name)
    # protocol 2 writes Python 2 module names, e.g. ``__builtin__ getattr``
    return {
        arg.replace(" ", ".").replace("__builtin__.", "builtins.")
        for op, arg, _ in pickletools.genops(io.BytesIO(data))
        if op.name == "GLOBAL"
    }


def _unpatched_getstate(self: HistoryBuffer) -> dict:
    """mmengine 0.10.7's original ``HistoryBuffer.__getstate__``, verbatim."""
    self.__dict__.update(statistics_methods=self._statistics_methods)
    return self.__dict__


class Point:
    """An arbitrary user class: weights-only loading must refuse to rebuild it."""

    def __init__(self, x: int) -> None:
        self.x = x


class RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"echo pwned > {self.marker}",))


class RunsSubprocess:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (subprocess.call, (["touch", str(self.marker)],))


class GetattrOn:
    def __init__(self, target: object, name: str) -> None:
        self.target, self.name = target, name

    def __reduce__(self):  # noqa: ANN204
        return (getattr, (self.target, self.name))


class TinyModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)


def make_buffer() -> HistoryBuffer:
    buf = HistoryBuffer()
    for value in (1.0, 2.0, 6.0):
        buf.update(value)
    return buf


# --------------------------------------------------------------------------- defaults


def test_weights_only_default_is_untouched(tmp_path: Path) -> None:
    assert os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() not in {"1", "y", "yes", "true"}
    path = tmp_path / "point.pth"
    torch.save({"p": Point(3)}, path)
    with pytest.raises(pickle.UnpicklingError, match="Point"):
        torch.load(path)
    # the file itself is fine: an explicit, trusted opt-out still works
    assert torch.load(path, weights_only=False)["p"].x == 3
    # and builtins.getattr is not allow-listed as the real getattr
    allowed = [g[0] if isinstance(g, tuple) else g for g in torch.serialization.get_safe_globals()]
    assert getattr not in allowed


def test_enable_is_idempotent() -> None:
    before = set(torch.serialization.get_safe_globals())
    getstate = HistoryBuffer.__getstate__
    enable_safe_checkpoint_loading()
    enable_safe_checkpoint_loading()
    assert set(torch.serialization.get_safe_globals()) == before
    assert HistoryBuffer.__getstate__ is getstate
    assert is_history_buffer_patched()


# --------------------------------------------------------------------------- good files


def test_new_history_buffer_pickles_without_functions(tmp_path: Path) -> None:
    buf = make_buffer()
    path = tmp_path / "hub.pth"
    torch.save({"log_scalars": OrderedDict(loss=buf)}, path)
    globals_ = pickled_globals(path)
    assert "builtins.getattr" not in globals_
    assert globals_ <= {
        "collections.OrderedDict",
        "mmengine.logging.history_buffer.HistoryBuffer",
        "numpy._core.multiarray._reconstruct",
        "numpy.ndarray",
        "numpy.dtype",
        "_codecs.encode",
    }
    assert "statistics_methods" not in buf.__dict__  # pickling no longer mutates the buffer
    loaded = torch.load(path, map_location="cpu")["log_scalars"]["loss"]
    assert isinstance(loaded, HistoryBuffer)
    np.testing.assert_array_equal(loaded.data[0], [1.0, 2.0, 6.0])
    assert loaded.mean() == 3.0 and loaded.max() == 6.0 and loaded.current() == 6.0
    assert loaded.statistics("min") == 1.0


def test_checkpoint_written_before_the_fix_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = TinyModel()
    buf = make_buffer()
    checkpoint = {
        "meta": {"iter": 3, "epoch": 0, "seed": np.int64(7)},
        "state_dict": model.state_dict(),
        "message_hub": {
            "log_scalars": OrderedDict([("train/loss", buf), ("train/lr", make_buffer())]),
            "runtime_info": OrderedDict(iter=3, max_iters=10, lr_arr=np.array([0.1, 0.01], np.float32)),
            "resumed_keys": OrderedDict([("train/loss", True), ("iter", True)]),
        },
    }
    path = tmp_path / "legacy.pth"
    with monkeypatch.context() as m:
        m.setattr(HistoryBuffer, "__getstate__", _unpatched_getstate)
        torch.save(checkpoint, path)
    globals_ = pickled_globals(path)
    assert "builtins.getattr" in globals_, "the simulation must reproduce the legacy getattr pickles"
    assert "numpy._core.multiarray.scalar" in globals_

    for loaded in (
        torch.load(path, map_location="cpu"),
        _load_checkpoint(str(path), map_location="cpu"),
    ):
        hub = loaded["message_hub"]
        restored = hub["log_scalars"]["train/loss"]
        assert isinstance(restored, HistoryBuffer)
        assert "statistics_methods" not in restored.__dict__
        assert restored.mean() == 3.0 and restored.statistics("max") == 6.0
        assert loaded["meta"]["seed"] == 7 and isinstance(loaded["meta"]["seed"], np.int64)
        np.testing.assert_allclose(hub["runtime_info"]["lr_arr"], [0.1, 0.01])
        assert hub["runtime_info"]["lr_arr"].dtype == np.float32
        torch.testing.assert_close(loaded["state_dict"]["fc.weight"], model.fc.weight)
    # the class-wide registry still maps names to HistoryBuffer's own methods
    for name in LEGACY_STATISTIC_METHODS:
        assert HistoryBuffer._statistics_methods[name] is getattr(HistoryBuffer, name)

    fresh = TinyModel()
    load_checkpoint(fresh, str(path), map_location="cpu")
    torch.testing.assert_close(fresh.fc.weight, model.fc.weight)


def test_legacy_getattr_only_answers_history_buffer_statistics() -> None:
    for name in sorted(LEGACY_STATISTIC_METHODS):
        assert legacy_history_buffer_getattr(HistoryBuffer, name) is getattr(HistoryBuffer, name)
    for target, name in [
        (HistoryBuffer, "register_statistics"),
        (HistoryBuffer, "__init__"),
        (OrderedDict, "fromkeys"),
        (np.ndarray, "tofile"),
        (make_buffer(), "mean"),
    ]:
        with pytest.raises(pickle.UnpicklingError, match="disallowed global: builtins.getattr"):
            legacy_history_buffer_getattr(target, name)
    with pytest.raises(pickle.UnpicklingError):
        legacy_history_buffer_getattr(HistoryBuffer, "mean", None)


# --------------------------------------------------------------------------- attacks


def _assert_refused(path: Path, *patterns: str) -> None:
    """torch.load and both mmengine entry points refuse ``path`` naming the global."""
    loaders = (
        lambda: torch.load(path),
        lambda: torch.load(path, map_location="cpu"),
        lambda: _load_checkpoint(str(path), map_location="cpu"),
        lambda: load_checkpoint(TinyModel(), str(path), map_location="cpu"),
    )
    for load in loaders:
        with pytest.raises(pickle.UnpicklingError) as info:
            load()
        message = str(info.value)
        assert "Weights only load failed" in message
        for pattern in patterns:
            assert pattern in message, message


@pytest.mark.parametrize(
    "kind, pickled_as, refused",
    [
        # os.system pickles as posix.system; torch blocks the whole module
        ("os.system", f"{os.system.__module__}.system", f"GLOBAL {os.system.__module__}.system whose module"),
        # protocol 2 writes subprocess.call under its Python 2 name, commands.call
        ("subprocess.call", "commands.call", "GLOBAL commands.call was not an allowed global"),
    ],
)
def test_code_running_checkpoint_is_refused(tmp_path: Path, kind: str, pickled_as: str, refused: str) -> None:
    marker = tmp_path / "pwned"
    payload = RunsShell(marker) if kind == "os.system" else RunsSubprocess(marker)
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": TinyModel().state_dict(), "meta": {"x": payload}}, path)
    assert pickled_as in pickled_globals(path)
    _assert_refused(path, refused)
    assert not marker.exists(), "the payload ran"
    # proof that the payload is live: an explicit weights_only=False load runs it
    # (only done for the harmless `touch` payload)
    if kind == "subprocess.call":
        torch.load(path, weights_only=False)
        assert marker.exists()


@pytest.mark.parametrize(
    "target, name, shown",
    [
        (OrderedDict, "fromkeys", "class collections.OrderedDict with attribute 'fromkeys'"),
        (HistoryBuffer, "register_statistics", "HistoryBuffer with attribute 'register_statistics'"),
    ],
)
def test_getattr_on_anything_else_is_refused(tmp_path: Path, target: object, name: str, shown: str) -> None:
    path = tmp_path / "evil_getattr.pth"
    torch.save({"meta": {"x": GetattrOn(target, name)}}, path)
    assert "builtins.getattr" in pickled_globals(path)
    _assert_refused(path, "disallowed global: builtins.getattr", shown)


def test_history_buffer_state_cannot_replace_registered_methods(tmp_path: Path) -> None:
    """A crafted state may not swap the process-wide 'mean' for another allowed callable."""

    class Forged:
        def __reduce__(self):  # noqa: ANN204
            return (HistoryBuffer, (), {"statistics_methods": {"mean": OrderedDict}, "max_length": 5,
                                        "_log_history": np.array([1.0]), "_count_history": np.array([1.0])})

    path = tmp_path / "forged.pth"
    torch.save({"hb": Forged()}, path)
    with pytest.warns(UserWarning, match="ignored"):
        loaded = torch.load(path)["hb"]
    assert HistoryBuffer._statistics_methods["mean"] is HistoryBuffer.mean
    assert loaded.statistics("mean") == 1.0


def test_url_checkpoints_are_loaded_weights_only(tmp_path: Path) -> None:
    """mmengine's http(s)/torchvision:// loader (torch.hub, default weights_only=False)."""
    from mmengine.runner.checkpoint import load_from_http

    model_dir = tmp_path / "hub"
    model_dir.mkdir()
    marker = tmp_path / "pwned"
    torch.save({"meta": {"x": RunsSubprocess(marker)}}, model_dir / "evil.pth")
    good = {"state_dict": TinyModel().state_dict(), "message_hub": {"loss": make_buffer()}}
    torch.save(good, model_dir / "good.pth")
    # the files are already "cached" in model_dir, so nothing is downloaded
    with pytest.raises(pickle.UnpicklingError, match="call was not an allowed global"):
        load_from_http("https://example.invalid/evil.pth", map_location="cpu", model_dir=str(model_dir))
    assert not marker.exists(), "the payload ran"
    loaded = load_from_http("https://example.invalid/good.pth", map_location="cpu", model_dir=str(model_dir))
    torch.testing.assert_close(loaded["state_dict"]["fc.weight"], good["state_dict"]["fc.weight"])
    assert loaded["message_hub"]["loss"].mean() == 3.0


IMPORT_STN_PLUGIN_FIRST = """
import os, pickle, subprocess, sys
import torch
import stn_plugin
assert not any(m.split(".")[0] == "mmengine" for m in sys.modules), "stn_plugin imported mmengine"
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import load_checkpoint, load_from_http

# what a Runner writes: the message hub's HistoryBuffers, numpy data
hub = MessageHub.get_instance("import-order")
hub.update_scalar("train/loss", 1.5)
model = torch.nn.Linear(2, 1)
path = os.path.join(sys.argv[1], "runner.pth")
torch.save({"state_dict": model.state_dict(), "message_hub": hub.state_dict()}, path)
target = torch.nn.Linear(2, 1)
loaded = load_checkpoint(target, path, map_location="cpu")   # torch's default: weights_only=True
assert loaded["message_hub"]["log_scalars"]["train/loss"].current() == 1.5
assert torch.equal(target.weight, model.weight)

class RunsShell:
    def __reduce__(self):
        return (subprocess.call, (["touch", os.path.join(sys.argv[1], "pwned")],))

evil = os.path.join(sys.argv[1], "evil.pth")
torch.save({"meta": {"x": RunsShell()}}, evil)
try:
    load_checkpoint(target, evil, map_location="cpu")
except pickle.UnpicklingError as err:
    assert "call was not an allowed global" in str(err), err
else:
    raise AssertionError("the malicious checkpoint was loaded")
assert not os.path.exists(os.path.join(sys.argv[1], "pwned")), "the payload ran"
# mmengine's URL loader got the weights_only default too, though imported after stn_plugin
hub_dir = os.path.join(sys.argv[1], "hub")
os.makedirs(hub_dir)
os.replace(evil, os.path.join(hub_dir, "evil.pth"))
try:
    load_from_http("https://example.invalid/evil.pth", map_location="cpu", model_dir=hub_dir)
except pickle.UnpicklingError:
    pass
else:
    raise AssertionError("the malicious URL checkpoint was loaded")
assert not os.path.exists(os.path.join(sys.argv[1], "pwned")), "the payload ran"
print("ok")
"""


def test_import_stn_plugin_before_mmengine_enables_safe_loading(tmp_path: Path) -> None:
    """``import stn_plugin`` first, mmengine afterwards (a fresh interpreter)."""
    import sys

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", IMPORT_STN_PLUGIN_FIRST, str(tmp_path)], cwd=repo,
                          env=dict(os.environ, PYTHONPATH=str(repo)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("\nok"), proc.stdout[-2000:] + proc.stderr[-3000:]
