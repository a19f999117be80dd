"""Every command-line flag of every tool says what it does in ``--help``."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

REPO = Path(__file__).resolve().parents[2]
# every script, the thin ones included (their parser is built by the package module they call)
TOOLS = sorted(p for p in (REPO / "tools").rglob("*.py") if "__main__" in p.read_text())


class _Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__("parser captured")
        self.parser = parser


# the logic of the thin tools/ scripts that hold no parser themselves
PACKAGE_CLIS = ["stn_plugin.textrecog.rectify_cli", "stn_plugin.deployment.export_cli",
                "stn_plugin.deployment.evaluate_cli"]


def _parser_of(path) -> argparse.ArgumentParser:
    """The tool's parser, captured when the tool first asks it to parse (nothing else runs);
    ``path``: a tool's file or a package CLI module's name."""
    if isinstance(path, str):
        module = importlib.import_module(path)
    else:
        spec = importlib.util.spec_from_file_location(f"_tool_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    entry = getattr(module, "parse_args", None) or module.main

    def capture(self, *args, **kwargs):
        raise _Parsed(self)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = capture
    try:
        entry([])
    except _Parsed as parsed:
        return parsed.parser
    except TypeError:  # a main() without an argv parameter
        try:
            entry()
        except _Parsed as parsed:
            return parsed.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    raise AssertionError(f"{path} did not build an argument parser")


def test_tools_were_found():
    assert len(TOOLS) >= 10, [p.name for p in TOOLS]


@pytest.mark.parametrize("path", TOOLS + PACKAGE_CLIS,
                         ids=lambda p: p if isinstance(p, str) else str(p.relative_to(REPO / "tools")))
def test_every_flag_has_help(path):
    parser = _parser_of(path)
    missing = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
               if not isinstance(a, argparse._HelpAction) and not a.help]
    assert not missing, f"{path}: flags without help text: {missing}"
