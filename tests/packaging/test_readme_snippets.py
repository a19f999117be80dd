"""The README's Python snippets that are marked to run do run, as written.

A snippet is marked by an HTML comment on the line before its fence:
``<!-- readme-test -->`` runs it as is; ``<!-- readme-test: without-openmmlab -->``
runs it with every mmengine / mmcv / mmdet import failing, proving the README's
"no OpenMMLab needed". Each runs in a fresh interpreter from the repository root."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNIPPET = re.compile(r"^<!-- readme-test(?P<mode>: without-openmmlab)? -->\n```python\n(?P<code>.*?)^```",
                     re.MULTILINE | re.DOTALL)
BLOCK_OPENMMLAB = textwrap.dedent("""
    import sys

    class _NoOpenMMLab:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("mmengine", "mmcv", "mmdet"):
                raise ImportError(f"{name} is blocked: the README says this runs without OpenMMLab")
            return None

    sys.meta_path.insert(0, _NoOpenMMLab())
""")


def _snippets():
    text = (REPO / "README.md").read_text()
    return [(m["code"], bool(m["mode"]), text[: m.start()].count("\n") + 1) for m in SNIPPET.finditer(text)]


def test_the_readme_has_marked_snippets():
    snippets = _snippets()
    assert snippets, "no <!-- readme-test --> snippet found in README.md"
    assert any(without for _, without, _ in snippets), "the plain-PyTorch snippet is not marked without-openmmlab"


@pytest.mark.parametrize("code, without_openmmlab, line", _snippets(),
                         ids=lambda v: f"line{v}" if isinstance(v, int) else None)
def test_readme_snippet_runs(code, without_openmmlab, line):
    program = (BLOCK_OPENMMLAB if without_openmmlab else "") + code
    proc = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"README.md snippet at line {line} failed:\n{proc.stderr[-3000:]}"
