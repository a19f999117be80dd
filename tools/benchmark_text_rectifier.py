"""Throughput of the learned text rectifier on word crops of mixed sizes.

    python tools/benchmark_text_rectifier.py [--num 512] [--threads 2] [--device cpu] [--rectifier tps-words]

The logic and all options: :mod:`stn_plugin.experiments.text_rectifier_benchmark` (``--help``).
"""
from stn_plugin.experiments.text_rectifier_benchmark import main

if __name__ == "__main__":
    main()
