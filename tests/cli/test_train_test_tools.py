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

REPO = Path(__file__).resolve().parents[2]

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


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dist_train_and_test_scripts_run_two_cpu_processes(tmp_path):
    """tools/dist_train.sh / dist_test.sh: torchrun, mmengine's pytorch launcher, gloo on CPU."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the CPU (gloo) path is what is tested here")
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS="1")
    small = [o for o in SMALL if not o.startswith("train_cfg")] + ["train_cfg.max_iters=4", "train_cfg.val_interval=4",
                                                                    "default_hooks.checkpoint.interval=4"]
    work = tmp_path / "work"
    proc = subprocess.run(["bash", "tools/dist_train.sh", "configs/mnist/cnn_r.py", "2", "--work-dir", str(work),
                           "--cfg-options", *small], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert (work / "iter_4.pth").exists(), log[-4000:]
    run_log = "".join(p.read_text() for p in work.glob("2*/2*.log"))
    # mmengine's environment report: two processes in one gloo process group
    assert "Distributed training: True" in run_log and "GPU number: 2" in run_log, run_log[:3000]
    assert "'backend': 'gloo'" in run_log
    proc = subprocess.run(["bash", "tools/dist_test.sh", "configs/mnist/cnn_r.py", str(work / "iter_4.pth"), "2",
                           "--work-dir", str(tmp_path / "test"), "--cfg-options", *small],
                          cwd=REPO, env=dict(env, PORT=str(_free_port())), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "mnist/error" in proc.stdout + proc.stderr


def test_dist_scripts_check_their_arguments():
    for script, args in (("dist_train.sh", ["configs/mnist/cnn_r.py"]), ("dist_test.sh", ["a.py", "b.pth"])):
        proc = subprocess.run(["bash", f"tools/{script}", *args], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 2 and "usage:" in proc.stderr
    proc = subprocess.run(["bash", "tools/dist_train.sh", "configs/mnist/cnn_r.py", "two"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "positive integer" in proc.stderr
