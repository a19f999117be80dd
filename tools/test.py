"""Test (and evaluate) a checkpoint (mmdet's arguments); the logic is :mod:`stn_plugin.cli.test`.

    python tools/test.py --help
"""
from stn_plugin.cli.test import *  # noqa: F401,F403  (parse_args, build_config, ... for scripts and tests)
from stn_plugin.cli.test import main

if __name__ == "__main__":
    main()
