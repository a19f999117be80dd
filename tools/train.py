"""Train a model from an mmengine config (mmdet's arguments); the logic is :mod:`stn_plugin.cli.train`.

    python tools/train.py --help
"""
# the steps, for scripts and tests that load this file
from stn_plugin.cli.train import build_config, build_runner, check_checkpoints, main, parse_args  # noqa: F401

if __name__ == "__main__":
    main()
