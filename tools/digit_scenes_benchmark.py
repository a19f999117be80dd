"""Digit-scenes detection benchmark: Faster R-CNN with and without RoI rectifiers.

    python tools/digit_scenes_benchmark.py [--iters 1500] [--variants baseline affine tps]
        [--parallel] [--train-seed 0] [--num-test 2000]

The logic and all options: :mod:`stn_plugin.experiments.digit_scenes_benchmark` (``--help``).
"""
from stn_plugin.experiments.digit_scenes_benchmark import main

if __name__ == "__main__":
    main()
