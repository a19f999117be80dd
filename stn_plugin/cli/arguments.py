"""Command-line argument types the train and test tools share."""
from __future__ import annotations

import os

from mmengine.config import DictAction


class CfgOptionsAction(DictAction):
    """``--cfg-options`` as mmengine's ``DictAction``, but an item without ``=`` is a usage
    error naming it instead of a traceback from inside ``DictAction``."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values or []:
            if "=" not in item:
                parser.error(f"{option_string} takes key=value pairs, got {item!r} (e.g. train_cfg.max_iters=100)")
        super().__call__(parser, namespace, values, option_string)


def add_local_rank_argument(parser) -> None:
    """``--local_rank`` / ``--local-rank``, which ``torch.distributed.launch`` passes (torchrun
    sets ``LOCAL_RANK`` instead); :func:`export_local_rank` hands it to mmengine."""
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0,
                        help="set by torch.distributed.launch (torchrun sets LOCAL_RANK instead)")


def export_local_rank(args) -> None:
    """Set ``LOCAL_RANK`` from ``args.local_rank`` unless the launcher already set it."""
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
