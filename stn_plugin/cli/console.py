"""Console entry points of the installed package: ``stn-train`` and ``stn-test``.

They are ``tools/train.py`` and ``tools/test.py`` for an installation without the
repository (same arguments as MMDetection's tools). The shipped configs are inside
the installed package, in ``stn_plugin/.mim/configs/`` (as OpenMMLab packages ship
theirs); :func:`stn_plugin.cli.paths.config_path` finds one by its relative name.
A console script exits with its function's return value, so these return None.
"""
from __future__ import annotations


def train() -> None:
    """``stn-train CONFIG [--work-dir DIR] [--resume [PATH]] [--amp] [--cfg-options ...] [--launcher ...]``"""
    from .train import main

    main()


def test() -> None:
    """``stn-test CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl] [--show-dir DIR] [--cfg-options ...]``"""
    from .test import main

    main()
