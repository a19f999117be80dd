"""Fresh distortions every epoch: each epoch is its own reproducible random stream, a
shuffled pass over every source digit; the dataset renders epochs as training reads
them, and the MNIST experiment trains on them when asked."""
from __future__ import annotations

import json

import numpy as np
import pytest

from stn_plugin.classification.distorted_mnist import generate_distorted_mnist
from stn_plugin.datasets import write_idx

N_TRAIN, N_TEST = 12, 10


@pytest.fixture
def mnist_dir(tmp_path):
    """A tiny full-MNIST directory (standard IDX names) with ink in the middle."""
    rng = np.random.default_rng(0)
    for stem, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = (rng.random((n, 28, 28)) < 0.1).astype(np.uint8) * 255
        images[:, 9:19, 11:17] = 255
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte", images)
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return tmp_path


@pytest.mark.parametrize("variant", ["RTS", "E"])
def test_each_epoch_is_a_new_reproducible_pass_over_all_digits(mnist_dir, variant):
    fixed = generate_distorted_mnist(variant, "train", str(mnist_dir), seed=3)
    e0 = generate_distorted_mnist(variant, "train", str(mnist_dir), seed=3, epoch=0)
    e1 = generate_distorted_mnist(variant, "train", str(mnist_dir), seed=3, epoch=1)
    again = generate_distorted_mnist(variant, "train", str(mnist_dir), seed=3, epoch=1)
    for data in (e0, e1):
        # one sample per source digit, in a shuffled order, labelled as its digit
        assert sorted(data.source_index.tolist()) == list(range(N_TRAIN))
        np.testing.assert_array_equal(data.labels, data.source_index % 10)
    np.testing.assert_array_equal(e1.images, again.images)
    assert e1.meta["epoch"] == 1 and "epoch" not in fixed.meta
    # epoch 0 is not the fixed set (numpy pads seeds with zeros: a trailing 0 would collide)
    for a, b in ((fixed, e0), (e0, e1)):
        key = "matrix" if variant == "RTS" else "control_offsets"
        assert not np.allclose(a.params[key], b.params[key])
    with pytest.raises(ValueError, match="epoch"):
        generate_distorted_mnist(variant, "train", str(mnist_dir), epoch=-1)


def test_dataset_renders_the_epoch_an_index_falls_in(mnist_dir):
    pytest.importorskip("mmdet")
    from stn_plugin.classification.dataset import DistortedMNISTDataset

    ds = DistortedMNISTDataset("RTS", "train", source=str(mnist_dir), seed=5, fresh_epochs=3)
    assert len(ds) == 3 * N_TRAIN
    e2 = generate_distorted_mnist("RTS", "train", str(mnist_dir), seed=5, epoch=2)
    item = ds[2 * N_TRAIN + 4]
    np.testing.assert_array_equal(item["inputs"][0].numpy(), e2.images[4])
    assert int(item["data_samples"].gt_label) == int(e2.labels[4])
    assert item["data_samples"].sample_idx == 2 * N_TRAIN + 4
    e0 = generate_distorted_mnist("RTS", "train", str(mnist_dir), seed=5, epoch=0)
    np.testing.assert_array_equal(ds[1]["inputs"][0].numpy(), e0.images[1])
    with pytest.raises(IndexError):
        ds[3 * N_TRAIN]
    for bad in (dict(fresh_epochs=0), dict(fresh_epochs=True), dict(fresh_epochs=2, num_samples=50)):
        with pytest.raises(ValueError, match="fresh_epochs"):
            DistortedMNISTDataset("RTS", "train", source=str(mnist_dir), lazy_init=True, **bad)


def test_experiment_trains_on_fresh_distortions(mnist_dir, tmp_path):
    pytest.importorskip("mmdet")
    import stn_plugin  # noqa: F401  (registers the classification modules)
    from stn_plugin.experiments.mnist_experiment import fresh_epochs_for, run_experiment
    from stn_plugin.cli.paths import config_path
    from stn_plugin.registration import register_all_modules

    register_all_modules()
    out = tmp_path / "run"
    result = run_experiment(["RTS"], ["cnn"], out, max_iters=2, configs_dir=config_path("mnist/cnn_rts.py").parent, num_test=N_TEST,
                            source=str(mnist_dir), log_interval=1, log=lambda s: None, fresh_distortions=True)
    assert 0.0 <= result.results[0].error <= 100.0
    assert not (out / "data" / "RTS_train.npz").exists() and (out / "data" / "RTS_test.npz").exists()
    record = json.loads((out / "results.json").read_text())
    assert record["fresh_distortions"] is True and record["num_train"] is None
    # 2 iterations x batch 64 over 12 digits read 11 epochs
    assert fresh_epochs_for(2, 64, N_TRAIN) == 11
    assert record["max_iters"] == 2
    # the config the Runner dumped into the run's folder holds the dataset it built
    logged = next((out / "cnn_rts").rglob("*.py")).read_text()
    assert "fresh_epochs=11" in logged and "shuffle=False" in logged
