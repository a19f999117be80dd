"""The numpy globals a weights-only ``torch.load`` needs for mmengine checkpoints.

mmengine checkpoints hold numpy data: every ``HistoryBuffer`` in the message hub
keeps two ``np.ndarray`` histories, and logged values / runtime info can be numpy
scalars. With ``torch.save``'s pickle protocol 2 these appear as:

* ``numpy._core.multiarray._reconstruct`` + ``numpy.ndarray`` (arrays; BUILD then
  calls ``ndarray.__setstate__``), with the raw data as ``_codecs.encode`` bytes
  (already allowed by torch);
* ``numpy._core.multiarray.scalar`` (numpy scalars);
* ``numpy.dtype`` (called to make the dtype), and then BUILD on the *dtype's own
  class* (``numpy.dtypes.Float64DType`` ... since numpy 1.25), which torch's
  unpickler only permits for allow-listed types.

numpy < 2 writes the module as ``numpy.core.multiarray``; both spellings are mapped
to the installed functions, so checkpoints written with numpy 1.x load under 2.x.
Only fixed-width numeric and bool dtype classes are allowed (no object, string or
void dtypes): numeric dtypes carry no code, and any logged number fits one of them.
"""
from __future__ import annotations

from typing import Callable, Union

SafeGlobal = Union[Callable[..., object], tuple[Callable[..., object], str]]

# Scalar types whose dtype classes may be rebuilt (BUILD) from a checkpoint.
_NUMERIC_SCALAR_TYPES: tuple[str, ...] = (
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "longdouble",
    "complex64",
    "complex128",
)


def numpy_safe_globals() -> list[SafeGlobal]:
    """Return the entries for ``torch.serialization.add_safe_globals`` covering numpy.

    Returns:
        list: classes/functions, and ``(function, "module.name")`` pairs for the
        names under which numpy 1.x and 2.x pickle ``_reconstruct`` and ``scalar``.
    """
    import numpy as np

    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]

    entries: list[SafeGlobal] = [np.ndarray, np.dtype]
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        entries.append((_reconstruct, f"{module}._reconstruct"))
        entries.append((scalar, f"{module}.scalar"))
    seen: set[type] = set()
    for name in _NUMERIC_SCALAR_TYPES:
        dtype_cls = type(np.dtype(getattr(np, name)))
        if dtype_cls is not np.dtype and dtype_cls not in seen:  # numpy < 1.25: plain np.dtype
            seen.add(dtype_cls)
            entries.append(dtype_cls)
    return entries
