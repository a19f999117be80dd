"""Export a model to ONNX and check it in ONNX Runtime; the logic is :mod:`stn_plugin.deployment.export_cli`.

    python tools/deploy/export_onnx.py --help
"""
import sys

from stn_plugin.deployment.export_cli import main

if __name__ == "__main__":
    sys.exit(main())
