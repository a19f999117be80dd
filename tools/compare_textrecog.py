"""End-to-end comparison: does TPS rectification help text recognition?

    python tools/compare_textrecog.py --work-dir work_dirs/compare_textrecog --parallel [--iters 9000]

The logic and all options: :mod:`stn_plugin.experiments.textrecog_comparison` (``--help``).
"""
from stn_plugin.experiments.textrecog_comparison import main

if __name__ == "__main__":
    main()
