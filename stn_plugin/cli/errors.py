"""The one-line ``error:`` exit every command-line tool gives on bad input.

A tool's ``main`` runs its work inside :func:`exit_on_bad_input`; the package's
argument, file, format and checkpoint checks raise ``ValueError`` / ``KeyError`` /
``OSError`` with a message naming the argument, the file and entry, and what was
expected, and the tool ends with ``error: <that message>`` (exit status 1) instead
of a traceback. A bug (any other exception) still shows its traceback.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


class ToolInputError(ValueError):
    """Bad input of a tool: an argument, a file or an entry of one, named in the message."""


def error_message(err: BaseException) -> str:
    """The text after ``error:`` for ``err``: its own message, with the path an
    ``OSError`` names and without the quotes ``KeyError`` adds."""
    if isinstance(err, OSError) and err.errno is not None:
        return str(err)  # "[Errno 13] Permission denied: 'path'", not the bare errno
    if isinstance(err, UnicodeDecodeError):
        return str(err)  # args[0] is only the codec's name
    return str(err.args[0]) if err.args else type(err).__name__


@contextmanager
def exit_on_bad_input(*also: type) -> Iterator[None]:
    """Inside: argument, config, file-system, format and checkpoint errors (``OSError``,
    ``KeyError``, ``ValueError`` and the exception types ``also``) end the tool with
    ``error: <message>`` (exit status 1) instead of a traceback."""
    try:
        yield
    except (OSError, KeyError, ValueError, *also) as err:
        sys.exit(f"error: {error_message(err)}")


@contextmanager
def config_syntax_named(config: str) -> Iterator[None]:
    """Inside: a ``SyntaxError`` (which mmengine raises for a config that is not valid
    Python, without its file name) becomes a ``ValueError`` naming ``config`` and the line."""
    try:
        yield
    except SyntaxError as err:
        raise ValueError(f"config {config}:{err.lineno}: not valid Python ({err.msg})") from None
