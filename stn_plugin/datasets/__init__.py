"""Plain data generation and file formats (no OpenMMLab imports).

:mod:`.distorted_mnist` builds the distorted-MNIST variants of the STN paper from
real digits; :mod:`.idx` reads and writes the IDX format of the MNIST release.
Registered mmengine datasets that wrap them live in :mod:`stn_plugin.integration`.
"""
from .distorted_mnist import (EMBEDDED_TRAIN_PER_CLASS, VARIANTS, DistortedDigits, MNISTSource,
                              generate_distorted_mnist, load_distorted_mnist, load_mnist_source,
                              render_distortion, sample_distortion_parameters)
from .idx import load_mnist_idx, read_idx, write_idx

__all__ = [name for name in dir() if not name.startswith("_")]
