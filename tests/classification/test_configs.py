"""Every shipped distorted-MNIST config builds its dataset and model, and runs a loss
step (with gradients reaching the spatial transformer) and a predict step scored by
the metric."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet")

import stn_plugin  # noqa: E402,F401  (registers)
from mmdet.registry import DATASETS, METRICS, MODELS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402

register_all_modules(init_default_scope=True)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "mnist"
CONFIGS = sorted(p for p in CONFIG_DIR.glob("*.py"))


def test_configs_are_shipped():
    names = {p.stem for p in CONFIGS}
    for model in ("cnn", "fcn", "st-cnn-affine", "st-cnn-projective", "st-cnn-tps", "st-fcn-affine",
                  "st-fcn-projective", "st-fcn-tps"):
        for variant in ("r", "rts", "p", "e"):
            assert f"{model}_{variant}" in names
    assert {"cnn_tc", "st-cnn-affine_tc", "fcn_tc", "st-fcn-affine_tc"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds_and_steps(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == "mmdet"
    assert cfg.custom_imports == dict(imports=["stn_plugin"], allow_failed_imports=False)
    ds_cfg = dict(cfg.train_dataloader.dataset, num_samples=4)
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 4
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]), True)
    assert data["inputs"].shape[-2:] == tuple(cfg.model.input_size)
    assert float(data["inputs"].max()) <= 1.0
    losses = model(**data, mode="loss")
    assert torch.isfinite(losses["loss_cls"])
    total = sum(v for k, v in losses.items() if "loss" in k)
    total.backward()
    if model.stn is not None:
        grads = [p.grad for p in model.stn.loc_net.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), "no gradient reached the loc net"
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]), False)
        preds = model(**data, mode="predict")
        logits = model(**data, mode="tensor")
    assert logits.shape == (4, 10)
    assert all(0 <= int(p.pred_label) < 10 and p.pred_score.shape == (10,) for p in preds)
    metric = METRICS.build(cfg.val_evaluator)
    metric.process(None, [p.to_dict() for p in preds])
    res = metric.evaluate(4)
    assert 0.0 <= res["mnist/error"] <= 100.0
    assert abs(res["mnist/error"] + res["mnist/accuracy"] - 100.0) < 1e-9


def test_fresh_spatial_transformer_is_identity_resampling():
    cfg = Config.fromfile(str(CONFIG_DIR / "st-cnn-affine_r.py"))
    model = MODELS.build(cfg.model)
    x = torch.rand(2, 1, 28, 28)
    out, transform = model.rectify(x)
    assert torch.allclose(out, x, atol=1e-5)


def test_metric_counts_errors():
    metric = METRICS.build(dict(type="ClassificationErrorMetric"))
    samples = [dict(pred_label=torch.tensor(p), gt_label=torch.tensor(g)) for p, g in
               [(1, 1), (2, 3), (4, 4), (5, 5)]]
    metric.process(None, samples)
    assert metric.evaluate(4) == {"mnist/error": 25.0, "mnist/accuracy": 75.0, "mnist/num_samples": 4}


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="model.classifier.input_size"):
        MODELS.build(dict(type="DigitClassifier", input_size=(42, 42),
                          classifier=dict(type="DigitCNN", input_size=(42, 42)),
                          stn=dict(family="affine", out_size=(28, 28))))
    model = MODELS.build(dict(type="DigitClassifier", input_size=(28, 28), classifier=dict(type="DigitFCN")))
    with pytest.raises(ValueError, match="model.input_size"):
        model(torch.rand(2, 1, 42, 42))
    with pytest.raises(ValueError, match="variant"):
        DATASETS.build(dict(type="DistortedMNISTDataset", variant="RST"))
