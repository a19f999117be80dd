"""The IDX reader on small files written byte by byte in the test (the MNIST format)."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from stn_plugin.classification.distorted_mnist import generate_distorted_mnist
from stn_plugin.datasets import load_mnist_idx, read_idx, write_idx


def _idx_bytes(array: np.ndarray, type_code: int, big_endian_dtype: str) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


def _write_mnist_dir(root, n_train=12, n_test=5, gz=False):
    rng = np.random.default_rng(0)
    files = {}
    for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        images[:, 10:18, 10:18] = 255  # some ink in the middle
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, arr, nd in (("images", images, 3), ("labels", labels, 1)):
            name = f"{stem}-{kind}-idx{nd}-ubyte"
            data = _idx_bytes(arr, 0x08, "u1")
            if gz:
                (root / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (root / name).write_bytes(data)
        files[split] = (images, labels)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx_reads_standard_files(tmp_path, gz):
    files = _write_mnist_dir(tmp_path, gz=gz)
    for split in ("train", "test"):
        images, labels = load_mnist_idx(tmp_path, split)
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        assert np.array_equal(images, files[split][0]) and np.array_equal(labels, files[split][1])


def test_read_idx_multibyte_types(tmp_path):
    a = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    (tmp_path / "a.idx").write_bytes(_idx_bytes(a, 0x0C, ">i4"))
    assert np.array_equal(read_idx(tmp_path / "a.idx"), a)
    f = np.linspace(-1, 1, 10, dtype=np.float32).reshape(2, 5)
    (tmp_path / "f.idx").write_bytes(_idx_bytes(f, 0x0D, ">f4"))
    out = read_idx(tmp_path / "f.idx")
    assert out.dtype == np.float32 and np.array_equal(out, f)


def test_write_idx_round_trip(tmp_path):
    for arr in (np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([1.5, -2.0], np.float64),
                np.array([[-3, 7]], np.int16)):
        for name in ("x.idx", "x.idx.gz"):
            path = write_idx(tmp_path / name, arr)
            back = read_idx(path)
            assert back.dtype == arr.dtype and np.array_equal(back, arr)
    # writer output is byte-identical to the hand-built format
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert write_idx(tmp_path / "y.idx", arr).read_bytes() == _idx_bytes(arr, 0x08, "u1")


def test_bad_idx_files_raise_clear_errors(tmp_path):
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes(_idx_bytes(np.zeros(10, np.uint8), 0x08, "u1")[:-3])
    with pytest.raises(ValueError, match="payload"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "type.idx").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="type code"):
        read_idx(tmp_path / "type.idx")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist_idx(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist_idx(tmp_path, "validation")


def test_generation_from_an_idx_directory(tmp_path):
    files = _write_mnist_dir(tmp_path)
    data = generate_distorted_mnist("RTS", "test", source=str(tmp_path), num_samples=7, seed=0)
    assert len(data) == 7 and data.images.shape == (7, 42, 42)
    assert np.array_equal(data.labels, files["test"][1][data.source_index].astype(np.int64))
    assert data.meta["source"] == str(tmp_path) and data.meta["num_source_digits"] == 5
