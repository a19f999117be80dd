"""roi_sample on the FPN RoI-extraction case, side by side with mmdet's
SingleRoIExtractor (mmcv RoIAlign) and the naive per-RoI grid_sample.

    python tools/benchmark_roi_sample.py            # CPU (and CUDA if available)
    python tools/benchmark_roi_sample.py --quick    # fewer repeats, smaller images
    python tools/benchmark_roi_sample.py --distribution-only   # only the RoI-distribution case

The logic and all options: :mod:`stn_plugin.experiments.roi_sample_benchmark` (``--help``).
"""
from stn_plugin.experiments.roi_sample_benchmark import main

if __name__ == "__main__":
    main()
