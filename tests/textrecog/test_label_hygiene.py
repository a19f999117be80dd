"""Text labels and crops that would silently train the wrong thing: a null text, a label
longer than the CTC output, characters outside the dictionary, an empty label, a
zero-byte crop, and a synthetic dataset generated over an existing one."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import stn_plugin.textrecog  # noqa: F401  (registers)
from mmdet.registry import MODELS
from stn_plugin.textrecog.structures import data_samples_from_texts as _samples
from stn_plugin.textrecog.datasets import TextRecogJSONDataset
from stn_plugin.textrecog.synthetic_words import generate_synthetic_words
from stn_plugin.textrecog.transforms import LoadTextCrop

REPO = Path(__file__).resolve().parents[2]
TINY = dict(backbone=dict(type="CRNNBackbone", channels=(4, 8, 8, 8, 8)),
            decoder=dict(type="BiLSTMCTCHead", hidden_size=8, num_layers=1, dropout=0.0))


def _model():
    torch.manual_seed(0)
    # eval: batch norm on running statistics, so a sample's logits do not depend on the batch
    return MODELS.build(dict(type="CTCTextRecognizer", **TINY)).eval()


def _loss(model, x, texts):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = model(x, _samples(texts), mode="loss")["loss_ctc"]
    return loss, [str(w.message) for w in caught]


def test_null_text_is_an_error_naming_the_entry(tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"metainfo": {}, "data_list": [
        {"img_path": "a.png", "instances": [{"text": "ok"}]},
        {"img_path": "b.png", "instances": [{"text": None}]}]}))
    with pytest.raises(ValueError, match=r"ann\.json.*b\.png.*text"):
        TextRecogJSONDataset(ann_file=str(ann), pipeline=[])


@pytest.mark.parametrize("bad, reason", [("x" * 60, "longer"), ("", "empty"), ("%%", "empty")])
def test_unlearnable_labels_are_skipped_with_a_counted_warning(bad, reason):
    model = _model()
    x = torch.rand(2, 3, 32, 100) * 2 - 1
    alone, _ = _loss(model, x[:1], ["hello"])
    mixed, caught = _loss(model, x, ["hello", bad])
    torch.testing.assert_close(mixed, alone)  # the bad sample neither adds nor dilutes
    assert any(reason in m and "1 " in m for m in caught), caught
    only_bad, _ = _loss(model, x[1:], [bad])
    assert only_bad.item() == 0.0 and only_bad.requires_grad
    only_bad.backward()


def test_out_of_dictionary_characters_are_dropped_with_a_warning_naming_them():
    model = _model()
    x = torch.rand(1, 3, 32, 100) * 2 - 1
    dropped, caught = _loss(model, x, ["h€llo"])
    plain, _ = _loss(model, x, ["hllo"])
    torch.testing.assert_close(dropped, plain)
    assert any("€" in m and "dictionary" in m for m in caught), caught


def test_zero_byte_crop_names_the_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.png"):
        LoadTextCrop()(dict(img_path=str(empty)))
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="garbage.png"):
        LoadTextCrop()(dict(img_path=str(garbage)))


def test_synthetic_words_refuse_an_existing_split(tmp_path):
    ann = generate_synthetic_words(str(tmp_path), 2, seed=0, split="train", progress=False)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_synthetic_words(str(tmp_path), 3, seed=1, split="train", progress=False)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    # another split beside it is fine, and overwrite=True replaces the split
    generate_synthetic_words(str(tmp_path), 1, seed=0, split="test", progress=False)
    generate_synthetic_words(str(tmp_path), 3, seed=1, split="train", progress=False, overwrite=True)
    assert len(json.loads(Path(ann).read_text())["data_list"]) == 3

    proc = subprocess.run([sys.executable, "tools/dataset/make_synthetic_words.py", str(tmp_path), "--split",
                           "test", "--num", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error:") and "--overwrite" in proc.stderr
