"""Train a model from an mmengine config (mmdet's arguments); the logic is :mod:`stn_plugin.cli.train`.

    python tools/train.py --help
"""
from stn_plugin.cli.train import *  # noqa: F401,F403  (parse_args, build_config, ... for scripts and tests)
from stn_plugin.cli.train import main

if __name__ == "__main__":
    main()
