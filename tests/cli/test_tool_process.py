import doctest
import os
import sys

import pytest

from stn_plugin.cli import tool_process
from stn_plugin.cli.tool_process import ToolProcess, thread_env


def test_docstring_example_runs():
    assert doctest.testmod(tool_process).failed == 0


def test_forwards_matching_lines_with_the_name_and_keeps_the_tail(capsys):
    lines = "; ".join(f"print('line {i}')" for i in range(40))
    p = ToolProcess("job-a", [sys.executable, "-c", f"{lines}; print('Iter(train) done')"], threads=None,
                    forward=("Iter(",), tag="bench")
    p.run()
    assert capsys.readouterr().out == "  [job-a] Iter(train) done\n"
    assert len(p.tail) == tool_process.TAIL_LINES and p.tail[-1] == "Iter(train) done" and p.tail[0] == "line 11"
    assert p.seconds is not None and p.seconds > 0


def test_a_failing_child_names_itself_and_shows_its_last_lines(capsys):
    p = ToolProcess("job-b", [sys.executable, "-c", "print('why it broke'); raise SystemExit(3)"], threads=None,
                    forward=(), tag="bench", where="work_dirs/x")
    with pytest.raises(SystemExit, match=r"\[bench\] job-b failed \(exit 3\).*its log is in work_dirs/x"):
        p.run()
    assert "why it broke" in capsys.readouterr().err


def test_threads_reach_the_child():
    p = ToolProcess("t", [sys.executable, "-c", "import os; print('n=' + os.environ['OMP_NUM_THREADS'])"],
                    threads=3, forward=("n=",), tag="bench")
    p.run()
    assert p.tail == ["n=3"]
    assert thread_env(None).get("OMP_NUM_THREADS") == os.environ.get("OMP_NUM_THREADS")


def test_wait_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="before start"):
        ToolProcess("t", [sys.executable, "-c", "pass"], None, (), "bench").wait()
