"""Support for the command-line tools (``tools/``): what they share beyond mmdet's own logic."""
