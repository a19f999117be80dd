"""Command-line argument types the train and test tools share."""
from __future__ import annotations

from mmengine.config import DictAction


class CfgOptionsAction(DictAction):
    """``--cfg-options`` as mmengine's ``DictAction``, but an item without ``=`` is a usage
    error naming it instead of a traceback from inside ``DictAction``."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values or []:
            if "=" not in item:
                parser.error(f"{option_string} takes key=value pairs, got {item!r} (e.g. train_cfg.max_iters=100)")
        super().__call__(parser, namespace, values, option_string)
