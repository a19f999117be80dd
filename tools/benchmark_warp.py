"""Side-by-side timing of image-level affine warping: stn_plugin's ``warp``, PyTorch's
``affine_grid`` + ``grid_sample`` and OpenCV's ``warpAffine``.

    python tools/benchmark_warp.py [--batch 32] [--size 224] [--channels 3] [--repeats 20]

The logic and all options: :mod:`stn_plugin.experiments.warp_benchmark` (``--help``).
"""
from stn_plugin.experiments.warp_benchmark import main

if __name__ == "__main__":
    main()
