"""--device checked before any work: a device this machine lacks is one clear message."""
import pytest
import torch

from stn_plugin.cli.devices import check_device


def test_cpu_passes_and_bad_names_are_named():
    assert check_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="--device 'gpu': not a torch device; expected cpu, cuda"):
        check_device("gpu")
    with pytest.raises(ValueError, match="--ocr-device xla: expected cpu, cuda"):
        check_device("xla", "--ocr-device")


def test_cuda_without_a_gpu_and_a_missing_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="--device cuda: CUDA is not available on this machine: .*use --device cpu"):
        check_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device("cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match=r"--device cuda:3: this machine has 1 CUDA device\(s\)"):
        check_device("cuda:3")
