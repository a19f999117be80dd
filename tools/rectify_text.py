#!/usr/bin/env python
"""Rectify text for OCR: word crops with a learned rectifier, or scene images with text
polygons geometrically, and show what was done; the logic is
:mod:`stn_plugin.textrecog.rectify_cli`.

    python tools/rectify_text.py --help
"""
from stn_plugin.textrecog.rectify_cli import main

if __name__ == "__main__":
    main()
