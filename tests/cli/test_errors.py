"""The one-line ``error:`` exit the tools share (stn_plugin.cli.errors)."""
from __future__ import annotations

import pytest

from stn_plugin.cli.errors import config_syntax_named, error_message, exit_on_bad_input


def test_messages_name_the_file_not_only_the_codec_or_errno(tmp_path):
    try:
        b"caf\xe9".decode("utf-8")
    except UnicodeDecodeError as err:
        assert "can't decode byte 0xe9" in error_message(err)  # args[0] would be just 'utf-8'
    try:
        open(tmp_path / "missing.txt")
    except OSError as err:
        assert "No such file or directory" in error_message(err) and "missing.txt" in error_message(err)
    assert error_message(KeyError("model.x is not a key")) == "model.x is not a key"  # no quotes


def test_exit_on_bad_input_ends_with_one_line_and_lets_bugs_through():
    with pytest.raises(SystemExit) as info:
        with exit_on_bad_input():
            raise ValueError("--labels x.tsv:3: expected 'name<TAB>text'")
    assert info.value.code == "error: --labels x.tsv:3: expected 'name<TAB>text'"
    with pytest.raises(SystemExit, match="error: bad syntax"):
        with exit_on_bad_input(SyntaxError):
            raise SyntaxError("bad syntax")
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        with exit_on_bad_input():
            1 / 0


def test_a_config_syntax_error_names_the_config_and_line():
    with pytest.raises(ValueError, match=r"config my\.py:3: not valid Python \(invalid syntax\)"):
        with config_syntax_named("my.py"):
            compile("a = 1\nb = 2\nc = = 3\n", "<unknown>", "exec")
