"""Text spotting benchmark: detector boxes read by crop-level CRNNs (with and without
TPS) against end-to-end spotters (with and without a TPS RoI rectifier).

    python tools/spotting_benchmark.py [--iters 2000] [--parallel] [--data data/word_scenes_2k]
        [--out work_dirs/spotting_benchmark]

The logic and all options: :mod:`stn_plugin.experiments.spotting_benchmark` (``--help``).
"""
from stn_plugin.experiments.spotting_benchmark import main

if __name__ == "__main__":
    main()
