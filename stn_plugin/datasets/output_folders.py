"""Output folders of the generators and tools: a user's files are never replaced silently.

* :func:`check_output_dir`: an existing non-empty folder (or a file) is refused
  unless the caller was told to overwrite.
* :func:`remove_earlier_outputs`: with overwrite granted, what an earlier run wrote
  (the files matching the writer's own patterns, e.g. ``'train/*.png'``) is deleted
  before the new run writes, so no stale image of a longer earlier run stays beside
  the new ones; any other file in the folder is kept.
* :func:`check_split_name`: a split name becomes a folder and a file name inside the
  output folder, so it must be one plain path component.
* :func:`unique_output_names`: one output name per input file, distinct even where
  inputs share a stem (``a.jpg`` and ``a.png``).

Plain Python (no OpenMMLab import).
"""
from __future__ import annotations

import os
import re
from os import PathLike
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_output_dir(out_dir: Union[str, PathLike], overwrite: bool, argument: Optional[str] = None) -> Path:
    """Refuse an existing ``out_dir`` that is a file or a non-empty folder unless ``overwrite``.

    A user's data are never replaced silently. ``argument``: the tool's option that
    named the folder (e.g. ``'--out-dir'``), for the message. Returns ``out_dir`` as a Path.
    """
    out = Path(out_dir)
    named = f"{argument} {out}" if argument else str(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{named} exists and is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        how = "--overwrite" if argument else "overwrite=True (--overwrite)"
        raise FileExistsError(f"{named} exists and is not empty; pass {how} to replace it")
    return out


def remove_earlier_outputs(out_dir: Union[str, PathLike], patterns: Iterable[str]) -> List[Path]:
    """Delete the files under ``out_dir`` that match ``patterns`` (``Path.glob`` patterns
    relative to ``out_dir``, e.g. ``'train/*.png'``, ``'rectified/**/*.png'``,
    ``'results.json'``), then the folders those patterns name that are left empty.

    Only files are deleted, never a folder with anything else in it. Returns the
    deleted files."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    removed: List[Path] = []
    folders = set()
    for pattern in patterns:
        for path in sorted(out.glob(pattern)):
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed.append(path)
                folders.update(p for p in path.parents if out in p.parents)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def check_split_name(split: str, what: str = "split") -> str:
    """``split`` if it is one plain path component (letters, digits, ``_ . -``, not
    starting with ``.``); otherwise ``ValueError`` naming it: a split becomes
    ``<out>/<split>/`` and ``<split>.json``, and ``../x`` would write outside ``<out>``."""
    if not isinstance(split, str) or not _SPLIT_NAME.match(split):
        raise ValueError(f"{what} name must be letters, digits, '_', '.' or '-' (one folder name, not starting "
                         f"with '.'), got {split!r}")
    return split


def unique_output_names(paths: Sequence[str], root: str = "", suffix: str = ".png") -> List[str]:
    """One output name per input path, in order: its path relative to ``root`` (or its
    base name when it is not below ``root``) with the extension replaced by ``suffix``,
    e.g. ``'sub/a.jpg'`` -> ``'sub/a.png'``. Inputs that would share a name keep their
    extension in it (``a.jpg`` -> ``a_jpg.png``, ``a.png`` -> ``a_png.png``); a name
    still shared raises ``ValueError`` naming the inputs."""
    rels = []
    for path in paths:
        rel = os.path.relpath(path, root) if root else os.path.basename(path)
        if rel.startswith(os.pardir) or os.path.isabs(rel):
            rel = os.path.basename(path)
        rels.append(Path(rel).as_posix())
    plain = [os.path.splitext(r)[0] + suffix for r in rels]
    counts: dict = {}
    for name in plain:
        counts[name] = counts.get(name, 0) + 1
    names = []
    for rel, name in zip(rels, plain):
        stem, ext = os.path.splitext(rel)
        names.append(f"{stem}_{ext.lstrip('.')}{suffix}" if counts[name] > 1 and ext else name)
    seen: dict = {}
    for path, name in zip(paths, names):
        if name in seen:
            raise ValueError(f"inputs {seen[name]!r} and {path!r} would both be written as {name!r}; "
                             "rename one of them")
        seen[name] = path
    return names


def check_output_file(path: Union[str, PathLike], argument: str) -> Path:
    """Raise naming ``argument`` when ``path`` cannot be written as a file: it is a
    folder, or its folder does not exist or is not writable. Creates nothing."""
    out = Path(path)
    if out.is_dir():
        raise IsADirectoryError(f"{argument} {out} is a folder; expected a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{argument} {out}: its folder {parent} does not exist (or is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{argument} {out}: its folder {parent} is not writable")
    return out
