"""String-keyed tables of classes, and the one builder that turns a config into an
instance of one of them.

The geometry and modules layers know nothing of mmengine registries; where a config
names a family, a localization net or a regulariser, a plain ``{name: class}`` table
and :func:`build_from_table` stand in for one, with the same error messages
everywhere.

Conventions: a config is a name, or ``dict(type=name, **options)``; the options are the
keyword arguments of the class's constructor.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Optional, Tuple, Type, Union

__all__ = ["build_from_table"]


def build_from_table(cfg: Any, table: Mapping[str, Callable], what: str, *args: Any,
                     default_type: Optional[str] = None,
                     instance_of: Union[None, Type, Tuple[Type, ...]] = None) -> Any:
    """Build ``table[name](*args, **options)`` from ``cfg``.

    Args:
        cfg: a name, ``dict(type=name, **options)``, or an instance of ``instance_of``
            (returned as it is).
        table: ``{name: class or factory}``.
        what: what is built, for the error messages (e.g. ``'transform family'``).
        args: positional arguments every entry takes first (e.g. ``in_channels``).
        default_type: the name used when ``cfg`` has no ``'type'`` key.

    Raises:
        TypeError: ``cfg`` is of another kind, or its options do not fit the
            constructor (checked against its signature before calling it, so an error
            raised inside the constructor is never mistaken for a bad option).
        KeyError: the name is not in ``table``; the message lists the allowed values.

    >>> table = {"pair": lambda a, b=0: (a, b)}
    >>> build_from_table(dict(type="pair", b=2), table, "pair maker", 1)
    (1, 2)
    >>> build_from_table("triple", table, "pair maker", 1)
    Traceback (most recent call last):
    ...
    KeyError: "unknown pair maker type='triple'; allowed values: ['pair']"
    >>> build_from_table(dict(type="pair", c=3), table, "pair maker", 1)
    Traceback (most recent call last):
    ...
    TypeError: bad options for pair maker 'pair': got an unexpected keyword argument 'c'
    """
    if instance_of is not None and isinstance(cfg, instance_of):
        return cfg
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    if not isinstance(cfg, Mapping):
        kinds = "a name or a dict with a 'type' key"
        if instance_of is not None:
            names = [c.__name__ for c in (instance_of if isinstance(instance_of, tuple) else (instance_of,))]
            kinds = f"a name, a dict with a 'type' key or a {' / '.join(names)}"
        raise TypeError(f"{what} must be {kinds}, got {cfg!r}")
    options = dict(cfg)
    name = options.pop("type", default_type)
    if name not in table:
        raise KeyError(f"unknown {what} type={name!r}; allowed values: {sorted(table)}")
    factory = table[name]
    try:
        inspect.signature(factory).bind(*args, **options)
    except TypeError as err:
        raise TypeError(f"bad options for {what} {name!r}: {err}") from None
    return factory(*args, **options)
