"""stn_plugin.apis.init_model: one loader for every model; a checkpoint of another model
is refused with the keys that do not match."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from stn_plugin.apis import init_model

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mnist"
ST_CNN = CONFIGS / "st-cnn-affine_rts.py"
CNN = CONFIGS / "cnn_rts.py"


def _save(model, path, **meta):
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return str(path)


def test_loads_its_own_checkpoint_in_eval_mode_with_config_and_dataset_meta(tmp_path):
    source = init_model(ST_CNN)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.1)
    ckpt = _save(source, tmp_path / "m.pth", dataset_meta={"CLASSES": list("0123456789")})
    model = init_model(str(ST_CNN), ckpt)
    assert not model.training and model.cfg.model.type == "DigitClassifier"
    assert model.dataset_meta == {"classes": list("0123456789")}
    for (name, a), b in zip(source.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_another_models_checkpoint_is_refused_naming_the_keys(tmp_path):
    ckpt = _save(init_model(CNN), tmp_path / "cnn.pth")
    with pytest.raises(ValueError) as err:
        init_model(ST_CNN, ckpt)
    msg = str(err.value)
    assert f"checkpoint {ckpt} does not fit the DigitClassifier of {ST_CNN}" in msg
    assert "missing keys (in the model, not in the checkpoint)" in msg and "stn.loc_net." in msg
    # strict=False loads what matches and leaves the rest as initialised
    model = init_model(ST_CNN, ckpt, strict=False)
    assert not model.training


def test_unexpected_and_reshaped_keys_are_named(tmp_path):
    state = init_model(ST_CNN).state_dict()
    name = next(k for k, v in state.items() if v.dim() == 2)
    state[name] = torch.zeros(3, 3)
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(dict(state_dict=state), path)
    with pytest.raises(ValueError, match=r"1 unexpected keys \(in the checkpoint, not in the model\): "
                                         r"extra\.weight.*1 keys of another shape") as err:
        init_model(ST_CNN, str(path))
    assert f"{name} (3, 3) vs" in str(err.value)


def test_config_path_or_object_and_cfg_options(tmp_path):
    cfg = Config.fromfile(str(CNN))
    model = init_model(cfg, cfg_options={"model.classifier.channels": (8, 8)})
    assert model.cfg.model.classifier.channels == (8, 8)
    assert cfg.model.classifier.channels == (16, 16), "the caller's Config is not changed"
    widths = {p.shape[0] for n, p in model.named_parameters() if n.endswith("weight") and p.dim() == 4}
    assert widths == {8}
    assert init_model(CNN).cfg.model.classifier.channels == (16, 16)


def test_bad_arguments():
    with pytest.raises(FileNotFoundError, match="config file not found: nowhere.py"):
        init_model("nowhere.py")
    with pytest.raises(FileNotFoundError, match="checkpoint not found: nowhere.pth"):
        init_model(CNN, "nowhere.pth")
    with pytest.raises(TypeError, match="config must be a config file path or an mmengine Config, got dict"):
        init_model(dict(model=dict(type="DigitClassifier")))
