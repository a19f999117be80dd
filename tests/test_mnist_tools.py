"""tools/train.py and tools/test.py on distorted-MNIST configs: a short CPU training run
lowers the loss, and testing the checkpoint it saved reproduces the metric written
at the end of training (the CLI run as a subprocess)."""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet")

import stn_plugin  # noqa: E402,F401  (registers)
from mmengine.dataset import pseudo_collate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# a small, fast set-up: few samples, 20 iterations, a constant learning rate
SMALL = ["train_dataloader.dataset.num_samples=640", "val_dataloader.dataset.num_samples=200",
         "test_dataloader.dataset.num_samples=200", "train_cfg.max_iters=20", "train_cfg.val_interval=20",
         "param_scheduler=None", "optim_wrapper.optimizer.lr=0.003", "default_hooks.logger.interval=10"]


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"stn_tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_tool():
    return _load_tool("train")


def _mean_loss(model, dataset, n=256):
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(n)]), False)
        logits = model(data["inputs"], mode="tensor")
        labels = torch.stack([s.gt_label for s in data["data_samples"]])
    model.train()
    return torch.nn.functional.cross_entropy(logits, labels).item()


def test_twenty_iterations_lower_the_loss(tmp_path, train_tool):
    args = train_tool.parse_args(["configs/mnist/st-cnn-affine_r.py", "--work-dir", str(tmp_path),
                                  "--cfg-options", *SMALL])
    cfg = train_tool.build_config(args)
    cfg.log_level = "WARNING"
    runner = train_tool.build_runner(cfg)
    dataset = runner.train_dataloader.dataset
    before = _mean_loss(runner.model, dataset)
    runner.train()
    after = _mean_loss(runner.model, dataset)
    assert runner.iter == 20
    assert after < before - 0.1, (before, after)


def test_test_tool_reproduces_the_final_training_metric(tmp_path, train_tool):
    work = tmp_path / "train"
    config = "configs/mnist/cnn_r.py"
    runner = train_tool.main([config, "--work-dir", str(work), "--cfg-options", *SMALL])
    final = runner.message_hub.get_scalar("val/mnist/error").current()
    checkpoint = work / "iter_20.pth"
    assert checkpoint.is_file()
    # the metric as written to disk at the end of training
    scalars = [json.loads(line) for p in work.glob("*/vis_data/scalars.json") for line in p.read_text().splitlines()]
    written = [s["mnist/error"] for s in scalars if "mnist/error" in s]
    assert written and written[-1] == pytest.approx(final)

    out = tmp_path / "preds.pkl"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "tools/test.py", config, str(checkpoint), "--work-dir",
                           str(tmp_path / "test"), "--out", str(out), "--show-dir", "show", "--cfg-options", *SMALL],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tested = [json.loads(line) for p in (tmp_path / "test").glob("*/*.json") for line in p.read_text().splitlines()]
    errors = [t["mnist/error"] for t in tested if "mnist/error" in t]
    assert errors and errors[-1] == pytest.approx(final, abs=1e-9)
    with open(out, "rb") as f:
        preds = pickle.load(f)
    assert len(preds) == 200 and {"pred_label", "gt_label", "distortion"} <= set(preds[0])
    wrong = sum(int(p["pred_label"]) != int(p["gt_label"]) for p in preds)
    assert 100.0 * wrong / len(preds) == pytest.approx(final)
    assert list((tmp_path / "test").glob("*/show/batch_*.png"))


def test_amp_on_cpu_fails_clearly(train_tool, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit) as exc:
        train_tool.main(["configs/mnist/cnn_r.py", "--amp", "--work-dir", "/nonexistent/never-created"])
    assert "--amp needs a CUDA GPU" in str(exc.value.code)


def test_bad_paths_fail_clearly(train_tool):
    with pytest.raises(SystemExit, match="config file not found"):
        train_tool.main(["configs/mnist/no_such_config.py"])
    with pytest.raises(SystemExit, match="--resume: checkpoint not found"):
        train_tool.main(["configs/mnist/cnn_r.py", "--resume", "/nonexistent/iter_1.pth"])
    with pytest.raises(SystemExit, match="auto_scale_lr"):
        train_tool.main(["configs/mnist/cnn_r.py", "--auto-scale-lr", "--cfg-options", "auto_scale_lr=None"])
