"""Fixtures shared by the packaging tests."""
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory) -> Path:
    """The files a build reads, copied, so that building writes nothing into the checkout."""
    tree = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "stn_plugin", tree / "stn_plugin", symlinks=True, ignore=ignore)
    shutil.copytree(REPO / "configs", tree / "configs", ignore=ignore)
    return tree
