"""Shared pieces of the spotting tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def spotting_batch():
    """A factory of training batches: ``(config path, scenes root, side=160, count=2)`` ->
    the first ``count`` training samples of the word scenes under ``root`` through the
    config's training pipeline (resized to ``side``), collated (not preprocessed)."""
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    def build(config, root, side: int = 160, count: int = 2):
        cfg = Config.fromfile(str(config))
        cfg.train_dataloader.dataset.data_root = str(root) + "/"
        for t in cfg.train_dataloader.dataset.pipeline:
            if t.type == "Resize":
                t.scale = (side, side)
        train = DATASETS.build(cfg.train_dataloader.dataset)
        return pseudo_collate([train[i] for i in range(count)])

    return build
