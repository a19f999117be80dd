#!/usr/bin/env python
"""Extract a trained recognizer's rectifier, or a trained outline rectifier, into a
small rectifier file (and ``--onnx`` an ONNX Runtime file); the logic is
:mod:`stn_plugin.textrecog.rectifier_export_cli`.

    python tools/export_text_rectifier.py --help
"""
from stn_plugin.textrecog.rectifier_export_cli import main

if __name__ == "__main__":
    main()
