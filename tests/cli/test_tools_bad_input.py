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


def _error_of(tool, argv) -> str:
    """The one line a tool ends with (``sys.exit('error: ...')``)."""
    with pytest.raises(SystemExit) as exc:
        tool.main(argv)
    message = str(exc.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_partial_or_empty_checkpoint_is_one_error_line(tmp_path, tools, damage):
    train, test = tools
    ckpt = _checkpoint_of("configs/mnist/cnn_r.py", tmp_path / "model.pth")
    data = ckpt.read_bytes()
    ckpt.write_bytes(b"" if damage == "empty" else data[:len(data) // 2])
    expected = "the file is empty" if damage == "empty" else "truncated or not a PyTorch checkpoint"
    message = _error_of(test, ["configs/mnist/cnn_r.py", str(ckpt), "--work-dir", str(tmp_path / "test"),
                               "--cfg-options", *SMALL])
    assert f"checkpoint {ckpt} cannot be loaded" in message and expected in message
    message = _error_of(train, ["configs/mnist/cnn_r.py", "--work-dir", str(tmp_path / "train"), "--resume", str(ckpt),
                                "--cfg-options", *SMALL])
    assert f"checkpoint {ckpt} cannot be loaded" in message and expected in message


def test_config_with_a_syntax_error_is_one_error_line(tmp_path, tools):
    train, test = tools
    config = tmp_path / "broken.py"
    config.write_text("_base_ = ['%s']\nmodel = dict(type='DigitClassifier'\n" % (REPO / "configs/mnist/cnn_r.py"))
    for tool, argv in ((train, [str(config)]), (test, [str(config), str(config)])):
        message = _error_of(tool, argv + ["--work-dir", str(tmp_path / "work")])
        assert message.startswith(f"error: config {config}, line 2: SyntaxError: ")
    # the error is in a base config: that file is named
    child = tmp_path / "child.py"
    child.write_text("_base_ = ['./broken.py']\n")
    message = _error_of(train, [str(child), "--work-dir", str(tmp_path / "work")])
    assert message.startswith(f"error: config {tmp_path}/broken.py, line 2: SyntaxError: ")


def test_unknown_model_key_in_cfg_options_is_one_error_line(tmp_path, tools):
    train, test = tools
    ckpt = _checkpoint_of("configs/mnist/cnn_r.py", tmp_path / "model.pth")
    for tool, argv in ((train, ["configs/mnist/cnn_r.py"]), (test, ["configs/mnist/cnn_r.py", str(ckpt)])):
        message = _error_of(tool, argv + ["--work-dir", str(tmp_path / "work"), "--cfg-options", *SMALL,
                                          "model.classifier.chanels=[8,8]"])
        assert "DigitCNN" in message and "unexpected keyword argument 'chanels'" in message
        assert "it comes from --cfg-options model.classifier.chanels" in message


DIGITS = "configs/digits/faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py"
TEXT = "configs/textrecog/crnn-tps_synthetic-words.py"


def test_missing_data_names_the_path_and_the_generator(tmp_path, tools):
    train, test = tools
    digits = tmp_path / "digit_scenes"
    message = _error_of(train, [DIGITS, "--work-dir", str(tmp_path / "work"), "--cfg-options",
                                f"data_root={digits}/"])
    assert message.startswith(f"error: train_dataloader: the data {digits}/ does not exist")
    assert f"make it with: python tools/dataset/make_digit_scenes.py {digits} " in message
    # the folder is there, an annotation file is not
    (digits / "annotations").mkdir(parents=True)
    (digits / "annotations" / "train.json").write_text("{}")
    message = _error_of(train, [DIGITS, "--work-dir", str(tmp_path / "work"), "--cfg-options",
                                f"data_root={digits}/"])
    assert f"val_dataloader: the data {digits}/annotations/val.json does not exist" in message
    assert not (tmp_path / "work").exists() or not list((tmp_path / "work").iterdir())
    # the text configs' data: the split's own command; tools/test.py reads the test split
    words = tmp_path / "synth_words"
    message = _error_of(train, [TEXT, "--work-dir", str(tmp_path / "work"), "--cfg-options", f"synth_root={words}"])
    assert f"python tools/dataset/make_synthetic_words.py {words} --split train --num 20000 --seed 0" in message
    ckpt = tmp_path / "any.pth"
    ckpt.write_bytes(b"")
    message = _error_of(test, [TEXT, str(ckpt), "--work-dir", str(tmp_path / "work"), "--cfg-options",
                               f"synth_root={words}"])
    assert message.startswith(f"error: test_dataloader: the data {words} does not exist")
    assert "--split test_curved --num 1000 --seed 1 --distortions curve arc perspective" in message


def test_missing_data_ends_tools_train_with_one_line_and_no_traceback(tmp_path):
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "tools/train.py", DIGITS, "--work-dir", str(tmp_path / "work"),
                           "--cfg-options", f"data_root={tmp_path / 'digit_scenes'}/"],
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: train_dataloader: the data") and "make_digit_scenes.py" in last
