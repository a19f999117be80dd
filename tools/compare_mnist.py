"""Reproduce the STN paper's distorted-MNIST table on the embedded data.

    python tools/compare_mnist.py [--variants R RTS P E] [--models cnn st-cnn-affine ...]
        [--max-iters N] [--work-dir work_dirs/compare_mnist] [--source embedded | DIR]
        [--fresh-distortions]

The logic and all options: :mod:`stn_plugin.experiments.mnist_comparison` (``--help``).
"""
from stn_plugin.experiments.mnist_comparison import main

if __name__ == "__main__":
    main()
