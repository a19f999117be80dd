"""Test (and evaluate) a checkpoint (mmdet's arguments); the logic is :mod:`stn_plugin.cli.test`.

    python tools/test.py --help
"""
# the steps, for scripts and tests that load this file
from stn_plugin.cli.test import build_config, main, parse_args  # noqa: F401

if __name__ == "__main__":
    main()
