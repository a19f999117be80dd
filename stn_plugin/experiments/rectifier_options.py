"""The ``--rectifier`` and ``--device`` options of the drivers that run a learned text
rectifier, and the rectifier they name.

Without ``--rectifier`` a driver runs the package's default shipped rectifier
(:meth:`TextRectifier.from_pretrained() <stn_plugin.rectify.TextRectifier.from_pretrained>`
called without a name), so a new default reaches every driver without an edit.
"""
from __future__ import annotations

import argparse

__all__ = ["add_rectifier_arguments", "load_rectifier"]


def add_rectifier_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--rectifier`` (a shipped rectifier's name or a rectifier file; default: the
    shipped default) and ``--device`` (a torch device, default ``cpu``)."""
    parser.add_argument("--rectifier", default=None,
                        help="shipped rectifier name or rectifier file (default: the package's default shipped one)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")


def load_rectifier(args: argparse.Namespace, **kwargs):
    """The :class:`~stn_plugin.rectify.TextRectifier` that ``args.rectifier`` names, on
    ``args.device``; ``kwargs`` go to its constructor (``batch_size``, ``out_size``, ...)."""
    from ..rectify import TextRectifier

    name = [args.rectifier] if args.rectifier else []
    return TextRectifier.from_pretrained(*name, device=args.device, **kwargs)
