"""Evaluate an exported text recognizer in ONNX Runtime; the logic is :mod:`stn_plugin.deployment.evaluate_cli`.

    python tools/deploy/test_onnx.py --help
"""
from stn_plugin.deployment.evaluate_cli import main

if __name__ == "__main__":
    main()
