"""tools/train.py and tools/test.py on bad input: they end with one clear line, lose no
data and use no checkpoint that does not belong to the config's model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet")

import stn_plugin  # noqa: E402,F401  (registers)
from mmengine.config import Config  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SMALL = ["train_dataloader.dataset.num_samples=64", "val_dataloader.dataset.num_samples=32",
         "test_dataloader.dataset.num_samples=32", "train_cfg.max_iters=2", "train_cfg.val_interval=2"]


@pytest.fixture(scope="module")
def tools():
    """The logic behind tools/train.py and tools/test.py (the scripts are thin wrappers)."""
    from stn_plugin.cli import test, train
    return train, test


def _checkpoint_of(config: str, path: Path) -> Path:
    model = MODELS.build(Config.fromfile(REPO / config).model)
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return path


def test_rerun_into_a_work_dir_with_checkpoints_is_refused(tmp_path, tools):
    train, _ = tools
    (tmp_path / "iter_2.pth").write_bytes(b"an earlier run's weights")
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_2.pth"))
    with pytest.raises(SystemExit) as exc:
        train.main(["configs/mnist/cnn_r.py", "--work-dir", str(tmp_path), "--cfg-options", *SMALL])
    message = str(exc.value.code)
    assert message.startswith("error:") and "iter_2.pth" in message and "--overwrite" in message
    assert "--resume" in message
    assert (tmp_path / "iter_2.pth").read_bytes() == b"an earlier run's weights"
    # --overwrite is the explicit way through (checked up to the config, not trained here)
    args = train.parse_args(["configs/mnist/cnn_r.py", "--work-dir", str(tmp_path), "--overwrite"])
    assert train.build_config(args).work_dir == str(tmp_path)


def test_uncreatable_work_dir_names_it(tmp_path, tools):
    train, _ = tools
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exc:
        train.main(["configs/mnist/cnn_r.py", "--work-dir", str(blocker / "sub")])
    message = str(exc.value.code)
    assert message.startswith("error: work dir") and "a_file" in message and "not a directory" in message


def test_cfg_options_without_equals_is_a_usage_error(tools, capsys):
    train, test = tools
    for tool, argv in ((train, ["configs/mnist/cnn_r.py"]), (test, ["configs/mnist/cnn_r.py", "x.pth"])):
        with pytest.raises(SystemExit) as exc:
            tool.parse_args(argv + ["--cfg-options", "train_cfg.max_iters"])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "key=value" in err and "'train_cfg.max_iters'" in err and "Traceback" not in err


def test_test_tool_refuses_another_models_checkpoint(tmp_path, tools):
    _, test = tools
    ckpt = _checkpoint_of("configs/mnist/st-cnn-tps_r.py", tmp_path / "tps.pth")
    with pytest.raises(SystemExit) as exc:
        test.main(["configs/mnist/st-cnn-affine_r.py", str(ckpt), "--work-dir", str(tmp_path / "test"),
                   "--cfg-options", *SMALL])
    message = str(exc.value.code)
    assert message.startswith("error: checkpoint") and "does not match" in message
    assert "another shape" in message or "not in it" in message


def test_resume_from_another_family_is_refused_before_training(tmp_path, tools):
    train, _ = tools
    ckpt = _checkpoint_of("configs/mnist/st-cnn-tps_r.py", tmp_path / "tps.pth")
    with pytest.raises(SystemExit) as exc:
        train.main(["configs/mnist/st-cnn-affine_r.py", "--work-dir", str(tmp_path / "work"), "--resume",
                    str(ckpt), "--cfg-options", *SMALL])
    message = str(exc.value.code)
    assert message.startswith("error: --resume") and "does not match" in message and "load_from" in message
    assert not list((tmp_path / "work").glob("*.pth"))


def test_load_from_a_checkpoint_with_no_fitting_weight_is_refused(tmp_path, tools):
    train, _ = tools
    ckpt = tmp_path / "other.pth"
    torch.save(dict(state_dict={"something.else.weight": torch.zeros(3)}), ckpt)
    with pytest.raises(SystemExit) as exc:
        train.main(["configs/mnist/cnn_r.py", "--work-dir", str(tmp_path / "work"), "--cfg-options",
                    f"load_from={ckpt}", *SMALL])
    assert "none of the model's" in str(exc.value.code)
