"""Every code block of the README runs as written, or has its command line checked.

``python`` blocks: every one runs, in a fresh interpreter, in a temporary folder that
links the repository's ``docs/``, ``configs/`` and ``tools/`` (so the README's relative
paths resolve and what the blocks write stays out of the checkout). A block after
``<!-- readme-test: without-openmmlab -->`` runs with every mmengine / mmcv / mmdet
import failing, proving the README's "no OpenMMLab needed". A block whose first line is
``# NAME.py`` is a config file: it is written to ``NAME.py``, loaded with mmengine's
``Config`` and its model is built in mmdet's registry.

``bash`` blocks: every command line is checked, in the way its cost allows:

* ``python tools/rectify_text.py`` on files of the repository runs in full (seconds);
* any other ``python tools/X.py ...`` (data generation, training, testing: minutes to
  hours) is parsed by the tool's own argparse parser, in the tool's own ``__main__``,
  which stops right after the parse; the paths it names under ``configs/``, ``tools/``
  or ``docs/`` must exist, and a ``tools/test.py CONFIG WORK_DIR/iter_N.pth`` line must
  name the checkpoint that the README's ``tools/train.py CONFIG --work-dir WORK_DIR``
  line writes last (the config trains N iterations and saves at N);
* ``make TARGET``: the Makefile has the target (``make -n``, which runs nothing);
* ``pip install PATH[EXTRAS]``: every extra is one of pyproject.toml's.

A command of any other kind fails the test, so that a new one gets a check here.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
LINKED = ("docs", "configs", "tools")
# the tools whose README lines are cheap enough to run in full
RUN_IN_FULL = {"tools/rectify_text.py"}
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```\n", re.MULTILINE | re.DOTALL)
WITHOUT_OPENMMLAB = "<!-- readme-test: without-openmmlab -->"
CONFIG_FILE = re.compile(r"^# (?P<name>[\w.-]+\.py)\n")
# an argument the reader replaces (IMAGES, GT, CHECKPOINT): the line can only be parsed
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]+$")
BLOCK_OPENMMLAB = textwrap.dedent("""
    import sys

    class _NoOpenMMLab:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("mmengine", "mmcv", "mmdet"):
                raise ImportError(f"{name} is blocked: the README says this runs without OpenMMLab")
            return None

    sys.meta_path.insert(0, _NoOpenMMLab())
""")
BUILD_CONFIG = textwrap.dedent("""
    import sys
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules()
    cfg = Config.fromfile(sys.argv[1])
    model = MODELS.build(cfg.model)
    extractor = model.roi_head.bbox_roi_extractor
    assert type(extractor).__name__ == cfg.model.roi_head.bbox_roi_extractor.type, type(extractor)
""")
# Runs each tool's __main__ with argparse stopped right after a successful parse; prints
# one JSON result per line: 'parsed', or the exit code and message of a refused line.
PARSE_ONLY = textwrap.dedent("""
    import argparse, contextlib, io, json, runpy, sys

    class _Parsed(Exception):
        pass

    _parse_args = argparse.ArgumentParser.parse_args

    def _stop_after_parse(self, args=None, namespace=None):
        _parse_args(self, args, namespace)
        raise _Parsed

    argparse.ArgumentParser.parse_args = _stop_after_parse
    results = []
    for argv in json.loads(sys.argv[1]):
        sys.argv = list(argv)
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                runpy.run_path(argv[0], run_name="__main__")
            results.append(dict(ok=False, why="the tool never called ArgumentParser.parse_args"))
        except _Parsed:
            results.append(dict(ok=True))
        except SystemExit as exit:
            results.append(dict(ok=False, why=f"exit {exit.code}: {err.getvalue()[-2000:]}"))
    print("RESULTS " + json.dumps(results))
""")


def _blocks():
    """(language, code, line number, preceded by the without-openmmlab marker) of every fenced block."""
    text = README.read_text()
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        out.append((m["lang"], m["code"], text[: m.start()].count("\n") + 1, before.strip() == WITHOUT_OPENMMLAB))
    return out


def _commands():
    """(line number, argv) of every command in the bash blocks; continuations joined, comments dropped."""
    out = []
    for lang, code, line, _ in _blocks():
        if lang != "bash":
            continue
        for offset, logical in _logical_lines(code):
            argv = shlex.split(logical, comments=True)
            if argv:
                out.append((line + 1 + offset, argv))
    return out


def _logical_lines(code):
    lines, start, current = [], 0, ""
    for i, physical in enumerate(code.splitlines()):
        if not current:
            start = i
        if physical.rstrip().endswith("\\"):
            current += physical.rstrip()[:-1] + " "
            continue
        lines.append((start, current + physical))
        current = ""
    return lines


def _python_blocks():
    return [(code, line, without) for lang, code, line, without in _blocks() if lang == "python"]


def _kind(argv):
    if argv[0] == "python" and len(argv) > 1 and argv[1].startswith("tools/"):
        placeholders = any(PLACEHOLDER.match(a) for a in argv[2:])
        return "run" if argv[1] in RUN_IN_FULL and not placeholders else "parse"
    if argv[0] == "make":
        return "make"
    if argv[:2] == ["pip", "install"]:
        return "pip"
    return "unknown"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A temporary folder that sees the repository's docs/, configs/ and tools/."""
    path = tmp_path_factory.mktemp("readme")
    for name in LINKED:
        (path / name).symlink_to(REPO / name, target_is_directory=True)
    return path


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


class _Launched:
    """A child process started at once, its output in files; ``result()`` waits for it."""

    def __init__(self, argv, cwd, name):
        self.out, self.err = cwd / f"_{name}.out", cwd / f"_{name}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=_env(), stdout=out, stderr=err, text=True)

    def result(self, timeout=600):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, self.out.read_text(), self.err.read_text()


@pytest.fixture(scope="module")
def launched(workdir):
    """Every Python block, cheap command and the parse-only run, started side by side (they
    spend most of their time importing): {("block" | "command", line) or "parse": _Launched}."""
    runs = {}
    for code, line, without_openmmlab in _python_blocks():
        config = CONFIG_FILE.match(code)
        if config:
            (workdir / config["name"]).write_text(code)
            argv = [sys.executable, "-c", BUILD_CONFIG, config["name"]]
        else:
            argv = [sys.executable, "-c", (BLOCK_OPENMMLAB if without_openmmlab else "") + code]
        runs["block", line] = _Launched(argv, workdir, f"block{line}")
    for line, argv in _commands():
        if _kind(argv) == "run":
            runs["command", line] = _Launched([sys.executable] + argv[1:], workdir, f"command{line}")
    argvs = [argv[1:] for _, argv in _commands() if _kind(argv) == "parse"]
    runs["parse"] = _Launched([sys.executable, "-c", PARSE_ONLY, json.dumps(argvs)], workdir, "parse")
    yield runs
    for run in runs.values():
        run.result()


def test_the_readme_has_its_blocks():
    langs = {lang for lang, *_ in _blocks()}
    assert langs <= {"python", "bash", "text"}, f"a code block the suite does not run: {langs}"
    python = _python_blocks()
    assert len(python) >= 4, "the README's quickstarts lost their Python blocks"
    assert any(without for *_, without in python), f"no Python block is marked {WITHOUT_OPENMMLAB}"
    assert any(CONFIG_FILE.match(code) for code, *_ in python), "no config block (first line '# NAME.py')"
    unknown = [(line, argv) for line, argv in _commands() if _kind(argv) == "unknown"]
    assert not unknown, f"bash commands this test cannot check (add a check): {unknown}"


def test_the_readme_is_a_front_door():
    lines = README.read_text().count("\n")
    assert lines <= 250, f"README.md has {lines} lines; details belong in docs/"


def test_the_tested_checkpoint_is_the_one_training_writes(launched):  # the children start first
    from mmengine.config import Config

    commands = [argv for _, argv in _commands()]
    trains = {(a[2], a[a.index("--work-dir") + 1]) for a in commands if a[1:2] == ["tools/train.py"]
              and "--work-dir" in a}
    tests = [a for a in commands if a[1:2] == ["tools/test.py"]]
    assert trains and tests, "the README's train-and-test quickstart is gone"
    for argv in tests:
        config, checkpoint = argv[2], Path(argv[3])
        assert (config, str(checkpoint.parent)) in trains, f"{checkpoint} is not in a work dir the README trains"
        iters = int(re.fullmatch(r"iter_(\d+)\.pth", checkpoint.name)[1])
        cfg = Config.fromfile(str(REPO / config))
        assert cfg.train_cfg.max_iters == iters, f"{config} trains {cfg.train_cfg.max_iters} iterations, not {iters}"
        assert iters % cfg.default_hooks.checkpoint.interval == 0, f"{config} does not save at iteration {iters}"


def test_generated_data_is_where_the_config_reads_it(launched):
    from mmengine.config import Config

    commands = [argv for _, argv in _commands()]
    made = {a[2].rstrip("/") for a in commands if a[1:2] == ["tools/dataset/make_digit_scenes.py"]}
    configs = {a[2] for a in commands if a[1:2] == ["tools/train.py"] and a[2].startswith("configs/digits/")}
    for config in configs:
        assert Config.fromfile(str(REPO / config)).data_root.rstrip("/") in made, \
            f"{config} reads data that no README line generates"


@pytest.mark.parametrize("code, line, without_openmmlab", _python_blocks(), ids=lambda v: f"line{v}"
                         if isinstance(v, int) and not isinstance(v, bool) else None)
def test_python_block_runs(code, line, without_openmmlab, launched):
    returncode, _, stderr = launched["block", line].result()
    assert returncode == 0, f"README.md block at line {line} failed:\n{stderr[-3000:]}"


@pytest.mark.parametrize("line, argv", [c for c in _commands() if _kind(c[1]) == "run"],
                         ids=lambda v: f"line{v}" if isinstance(v, int) else None)
def test_cheap_command_runs_in_full(line, argv, launched):
    returncode, _, stderr = launched["command", line].result()
    assert returncode == 0, f"README.md line {line} failed: {' '.join(argv)}\n{stderr[-3000:]}"


@pytest.fixture(scope="module")
def parsed(launched):
    """Every parse-only command line, parsed by its tool in one interpreter: {line: result}."""
    lines = [line for line, argv in _commands() if _kind(argv) == "parse"]
    _, stdout, stderr = launched["parse"].result()
    found = [ln for ln in stdout.splitlines() if ln.startswith("RESULTS ")]
    assert found, f"the parse-only run failed:\n{stderr[-3000:]}"
    return dict(zip(lines, json.loads(found[-1][len("RESULTS "):])))


@pytest.mark.parametrize("line, argv", [c for c in _commands() if _kind(c[1]) == "parse"],
                         ids=lambda v: f"line{v}" if isinstance(v, int) else None)
def test_long_command_line_parses(line, argv, parsed):
    result = parsed[line]
    assert result["ok"], f"README.md line {line}: {' '.join(argv)}\n{result['why']}"
    missing = [a for a in argv[1:] if a.split("/")[0] in LINKED and not (REPO / a).exists()]
    assert not missing, f"README.md line {line} names files that do not exist: {missing}"


@pytest.mark.parametrize("line, argv", [c for c in _commands() if _kind(c[1]) == "make"],
                         ids=lambda v: f"line{v}" if isinstance(v, int) else None)
def test_make_target_exists(line, argv):
    proc = subprocess.run(["make", "-n", "-C", str(REPO)] + argv[1:], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"README.md line {line}: {' '.join(argv)}\n{proc.stderr}"


@pytest.mark.parametrize("line, argv", [c for c in _commands() if _kind(c[1]) == "pip"],
                         ids=lambda v: f"line{v}" if isinstance(v, int) else None)
def test_pip_extras_exist(line, argv):
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    for target in argv[2:]:
        assert not target.startswith("-"), f"README.md line {line}: check the option {target} here"
        m = re.fullmatch(r"\.(?:\[(?P<extras>[\w,-]+)\])?", target)
        assert m, f"README.md line {line}: installs {target!r}, not this checkout"
        unknown = set((m["extras"] or "").split(",")) - extras - {""}
        assert not unknown, f"README.md line {line}: no such extra {unknown} (pyproject.toml has {sorted(extras)})"
