#!/usr/bin/env python
"""Find and read the words of scene images with a trained text spotter; draw them and
write JSON. The logic is :mod:`stn_plugin.spotting.spot_cli`.

    python tools/spot_text.py CONFIG CHECKPOINT IMAGES [--score-thr 0.5] [--out-dir DIR]
"""
from stn_plugin.spotting.spot_cli import main

if __name__ == "__main__":
    main()
