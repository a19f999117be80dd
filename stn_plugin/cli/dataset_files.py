"""Does the data a config reads exist? Checked before a tool builds anything.

Without this, a config whose data was not generated yet fails when its dataloader is
first built, after the model, with a 30-line ``FileNotFoundError`` from inside the
dataset. :func:`check_dataset_files` names the missing annotation file (or data
root) of each dataloader a tool uses and, for the data sets this project generates,
the command that makes them (:data:`GENERATORS`, keyed by the name of the data
folder the shipped configs use; a folder named otherwise gets no command).
"""
from __future__ import annotations

import os.path as osp
import re
from typing import Iterator, Mapping, Optional, Sequence, Tuple

# folder name prefix -> the command that writes such a folder ({root}: the folder,
# {split}: the split the annotation file is of); the longest matching prefix wins
GENERATORS = {
    "digit_scenes": "python tools/dataset/make_digit_scenes.py {root} --num-train 800 --num-val 200 --seed 0",
    "word_scenes": "python tools/dataset/make_word_scenes.py {root}",
    "word_scene_crops": "python tools/dataset/make_word_crops.py data/word_scenes {root}",
    "synth_words": "python tools/dataset/make_synthetic_words.py {root} --split {split} {options}",
    "distorted_mnist": "python tools/dataset/make_distorted_mnist.py --out-dir {root}",
    "coco": "download COCO 2017 from https://cocodataset.org into {root} (annotations/, train2017/, val2017/)",
}
# the synthetic-words splits the text configs read, as docs/textrecog.md makes them
_SYNTH_WORDS_OPTIONS = {
    "train": "--num 20000 --seed 0",
    "test_curved": "--num 1000 --seed 1 --distortions curve arc perspective",
}


def _is_remote(path: str) -> bool:
    return "://" in path


def _leaf_datasets(dataset: Mapping) -> Iterator[Mapping]:
    """The datasets that read files, below dataset wrappers (``dataset`` / ``datasets``)."""
    if "dataset" in dataset and isinstance(dataset["dataset"], Mapping):
        yield from _leaf_datasets(dataset["dataset"])
    elif "datasets" in dataset:
        for child in dataset["datasets"]:
            if isinstance(child, Mapping):
                yield from _leaf_datasets(child)
    else:
        yield dataset


def _split_of(ann_file: str) -> str:
    """``train`` of ``annotations/train.json``, ``textrecog_train.json`` or ``RTS_train.npz``."""
    stem = osp.splitext(osp.basename(ann_file.rstrip("/")))[0]
    return re.sub(r"^(textrecog_|textspotting_|[A-Z]+_)", "", stem)


def generator_command(root: str, ann_file: str = "") -> Optional[str]:
    """The command that makes the data folder ``root`` (None if this project has none for it)."""
    name = osp.basename(osp.normpath(root)) if root else ""
    matches = [prefix for prefix in GENERATORS if name.startswith(prefix)]
    if not matches:
        return None
    template = GENERATORS[max(matches, key=len)]
    split = _split_of(ann_file) if ann_file else "train"
    command = template.format(root=osp.normpath(root), split=split, options=_SYNTH_WORDS_OPTIONS.get(split, ""))
    return command.strip()


def missing_dataset_files(cfg, dataloaders: Sequence[str]) -> Iterator[Tuple[str, str, Optional[str]]]:
    """``(dataloader, missing path, command that makes it or None)`` for every local
    annotation file or data root that the datasets of ``cfg[dataloaders]`` name and that
    does not exist."""
    for key in dataloaders:
        loader = cfg.get(key)
        if not isinstance(loader, Mapping) or not isinstance(loader.get("dataset"), Mapping):
            continue
        for dataset in _leaf_datasets(loader["dataset"]):
            root = dataset.get("data_root") or ""
            ann_file = dataset.get("ann_file") or ""
            if not isinstance(root, str) or not isinstance(ann_file, str) or _is_remote(root + ann_file):
                continue
            if root and not osp.exists(root):
                yield key, root, generator_command(root, ann_file)
            elif ann_file:
                path = ann_file if osp.isabs(ann_file) or not root else osp.join(root, ann_file)
                if not osp.exists(path):
                    yield key, path, generator_command(root or osp.dirname(path), ann_file)


def check_dataset_files(cfg, dataloaders: Sequence[str]) -> None:
    """Raise ``FileNotFoundError`` naming the first missing data file of ``dataloaders``
    (e.g. ``('train_dataloader', 'val_dataloader')``) and how to make it."""
    for key, path, command in missing_dataset_files(cfg, dataloaders):
        how = (f"; make it with: {command}" if command and not command.startswith("download")
               else f"; {command}" if command
               else "; point the config's data_root at your copy (--cfg-options data_root=...)")
        raise FileNotFoundError(f"{key}: the data {path} does not exist{how}")
