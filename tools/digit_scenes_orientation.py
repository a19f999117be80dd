"""How far a trained RoI rectifier turns the digits of digit scenes upright.

    python tools/digit_scenes_orientation.py CONFIG CHECKPOINT --data data/digit_scenes_any-orientation_test

The logic and all options: :mod:`stn_plugin.experiments.rectifier_orientation` (``--help``).
"""
from stn_plugin.experiments.rectifier_orientation import main

if __name__ == "__main__":
    main()
