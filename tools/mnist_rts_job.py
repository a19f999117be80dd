"""Image-level STN demo: distorted MNIST RTS, CNN vs ST-CNN (affine), end to end.

    python tools/mnist_rts_job.py [--max-iters N] [--work-dir work_dirs/mnist_rts_job]

The logic and all options: :mod:`stn_plugin.experiments.mnist_rts` (``--help``).
"""
from stn_plugin.experiments.mnist_rts import main

if __name__ == "__main__":
    main()
