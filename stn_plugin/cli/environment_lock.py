"""The lock of the repository's set-up: the exact versions the two commands install.

``requirements/lock.txt`` is a pip constraints file (``name==version`` a line, ``#``
comments). ``tools/setup_env.sh`` installs with ``-c requirements/lock.txt``, so a
fresh machine gets the set the suite was last run on, not whatever the newest
releases are that day. ``pyproject.toml`` keeps its ranges for people who install
into an environment of their own.

The lock is written from an environment, not by hand: ``make lock`` sets up
``.venv-latest`` with the newest releases inside pyproject's ranges and writes what
is installed there (:func:`write_lock`). ``make test-latest`` runs the suite in that
environment and prints how it drifts from the lock (:func:`lock_drift`).

>>> parse_lock(["# comment", "", "Torch==2.14.1  # why", "opencv_python==4.14.0.94"])
{'torch': '2.14.1', 'opencv-python': '4.14.0.94'}
>>> lock_drift({'torch': '2.14.1', 'numpy': '2.4.6'}, {'torch': '2.14.1', 'numpy': '2.3.0'})
['numpy: locked 2.4.6, installed 2.3.0']
"""
from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

__all__ = ["LOCK_FILE", "canonical_name", "parse_lock", "read_lock", "installed_versions", "lock_drift",
           "write_lock", "main"]

LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements" / "lock.txt"

# Installed by the set-up but not part of what it resolves: the package itself
# (editable) and the installer.
_NOT_LOCKED = {"stn-plugin", "pip"}
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(?P<version>[^\s;#]+)\s*(#.*)?$")


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: lower case, runs of ``-_.`` as ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(lines: Iterable[str], source: str = "lock") -> Dict[str, str]:
    """``{canonical name: version}`` from the lines of a constraints file of ``==`` pins.

    Raises ``ValueError`` naming ``source`` and the line for anything else, so that a
    hand-edited lock cannot silently stop pinning a package."""
    pins: Dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"{source}:{number}: expected 'name==version', got {line!r}")
        name = canonical_name(match["name"])
        if name in pins:
            raise ValueError(f"{source}:{number}: {name} is pinned twice")
        pins[name] = match["version"]
    return pins


def read_lock(path: Path = LOCK_FILE) -> Dict[str, str]:
    """The pins of the lock file at ``path`` (see :func:`parse_lock`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no lock file; write one with 'make lock'")
    return parse_lock(path.read_text().splitlines(), source=str(path))


def installed_versions() -> Dict[str, str]:
    """``{canonical name: version}`` of every distribution this interpreter sees."""
    versions: Dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonical_name(name), dist.version)
    return versions


def lock_drift(locked: Dict[str, str], installed: Dict[str, str]) -> List[str]:
    """One line per locked package that is missing or at another version, sorted by name."""
    drift = []
    for name in sorted(locked):
        have = installed.get(name)
        if have is None:
            drift.append(f"{name}: locked {locked[name]}, not installed")
        elif have != locked[name]:
            drift.append(f"{name}: locked {locked[name]}, installed {have}")
    return drift


def write_lock(path: Path, installed: Optional[Dict[str, str]] = None) -> int:
    """Write the lock of ``installed`` (default: this environment) to ``path``; returns
    the number of pins. The previous file is replaced only once the new one is whole."""
    installed = installed_versions() if installed is None else installed
    pins = {name: version for name, version in installed.items() if name not in _NOT_LOCKED}
    lines = ["# The versions `make setup` / `make test` install (pip constraints).",
             "# Written by `make lock` from the newest releases inside pyproject.toml's ranges;",
             "# do not edit by hand. Python " + ".".join(map(str, sys.version_info[:3])) + ".",
             *(f"{name}=={pins[name]}" for name in sorted(pins))]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)
    return len(pins)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Write the set-up's lock from this environment, or show how "
                                                 "this environment drifts from it.")
    parser.add_argument("--lock", type=Path, default=LOCK_FILE, help="the lock file (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the lock from this environment")
    mode.add_argument("--diff", action="store_true", help="print the packages that differ from the lock "
                                                          "(exit 0 either way)")
    args = parser.parse_args(argv)
    if args.write:
        count = write_lock(args.lock)
        print(f"wrote {count} pins to {args.lock}")
        return 0
    try:
        drift = lock_drift(read_lock(args.lock), installed_versions())
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(drift)} package(s) differ from {args.lock}" + (":" if drift else ""))
    for line in drift:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
