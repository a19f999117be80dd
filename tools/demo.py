#!/usr/bin/env python
"""The demo (``make demo``): the shipped text rectifier under Tesseract on fonts it never
saw, then Faster R-CNN with and without the TPS RoI rectifier beside the recorded full
comparison; the logic is :mod:`stn_plugin.experiments.demo`.

    python tools/demo.py --help
"""
from stn_plugin.experiments.demo import main

if __name__ == "__main__":
    main()
