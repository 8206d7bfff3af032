"""The parse of a file that could crash or hang the process, tried in a child first.

libcst's native parser kills its process on some valid Python (a 10,000-term `and`
chain; CPython compiles up to about 7,000 terms in one expression and more) and is
quadratic on long operator chains (a 4,000-term `+` chain takes 5 s, 10,000 over 200 s).
A crash in the process that runs the linter would lose the whole run's output, the
language server, or flake8. Such files are rare and recognisable from their text: very
deep brackets, thousands of operators in one statement, a very large file. Those are parsed first in a
child process, with `file-timeout` as its time limit; only when the child got through is
the file parsed here. Every other file is parsed directly: the scan costs a small
fraction of a parse.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Optional

RISKY_CHARS = 2_000_000  # the parse is linear in size: about 10-15 s here for 2 MB, then 20 s is near
RISKY_OPERATORS = 2_000  # operators in one top-level statement: 2,000 `+` take 1 s to parse
RISKY_DEPTH = 100  # brackets opened one inside the other (CPython refuses 200)
SMALL = 4_000  # characters: too few for either
DEEP_RECURSION = 20000 if sys.version_info >= (3, 11) else 4000
# an upper bound on a text's operators, from counts that cost almost nothing
_OPERATOR_CHARS = ("+", "-", "*", "/", "%", "&", "|", "^", "@", " and", " or")
_OPERATORS = re.compile(r"\band\b|\bor\b|<<|>>|\*\*|//"
                        r"|(?<![=!<>*/+\-%&|^@])[-+*/%&|^@](?![=*/])")
# a top-level statement starts a line with something other than white space, a comment
# or a closing bracket
_TOP_LEVEL = re.compile(r"\n(?=[^\s#)\]}])")
# 100 opening brackets, each within 40 characters of the last on one line: how deep nesting
# is written (and what crashes the parser at 1,000 or more)
_DEEP = re.compile(r"[(\[{](?:[^()\[\]{}\n]{0,40}[(\[{]){%d}" % (RISKY_DEPTH - 1))
_CHILD_OK, _CHILD_REFUSED = 0, 3


class ParseAborted(Exception):
    """The parse crashed or ran out of time in the child: the message says which."""


def risky(source: str) -> bool:
    """Whether the parse of `source` could crash or run for long. Over-approximated
    (operators in strings and comments count too), which only costs a child process: on
    the standard library and site-packages, 16 files of 16,286 (0.1%); the scan costs
    about 1% of their parse."""
    if len(source) > RISKY_CHARS:
        return True
    if len(source) < SMALL:
        return False
    if _DEEP.search(source):
        return True
    if sum(source.count(c) for c in _OPERATOR_CHARS) < RISKY_OPERATORS:
        return False
    if len(_OPERATORS.findall(source)) < RISKY_OPERATORS:
        return False
    return any(len(statement) >= RISKY_OPERATORS and
               len(_OPERATORS.findall(statement)) >= RISKY_OPERATORS
               for statement in _TOP_LEVEL.split(source))


def check_in_child(source: str, timeout: float) -> None:
    """Parse `source` in a child process; raise ParseAborted if that crashed or did not
    end within `timeout` seconds. A syntax error is not reported here: the parse in this
    process gives it, with its position, once it is known to be safe."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [package_parent] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "from gradlint.guard import _child; _child()"],
            input=source.encode("utf-8", "surrogatepass"), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ParseAborted(f"skipped: the parse took longer than {timeout:g} s (the "
                           f"file-timeout setting) and was stopped") from None
    except OSError as exc:
        raise ParseAborted(f"skipped: the parse could not be started in a child process "
                           f"({exc.strerror or exc})") from None
    if proc.returncode in (_CHILD_OK, _CHILD_REFUSED):
        return
    if proc.returncode < 0:
        import signal

        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        why = f"crashed ({name})"
    else:
        why = f"failed (exit status {proc.returncode})"
    raise ParseAborted(f"skipped: libcst's parser {why} on this file, which is probably "
                       f"too deeply nested or has a very long expression")


def parse_module(source: str):
    """libcst's parse, as it is."""
    import libcst

    return libcst.parse_module(source)


def guarded_parse(source: str, timeout: float = 20.0):
    """The libcst module of `source`, parsed here once it is known to be safe.
    Raises what the parse raises (`libcst.ParserSyntaxError`, ...) and ParseAborted."""
    if risky(source):
        check_in_child(source, timeout)
    return parse_module(source)


def _child() -> None:
    """The child's side: parse standard input; exit 0 if it parsed, 3 if it was refused
    (the parent parses again to say why); a crash is the parent's answer too."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), DEEP_RECURSION))
    source = sys.stdin.buffer.read().decode("utf-8", "surrogatepass")
    try:
        parse_module(source)
    except BaseException:  # noqa: B902 - any refusal: the parent finds out which
        os._exit(_CHILD_REFUSED)
    os._exit(_CHILD_OK)


def parse_error(source: str) -> Optional[str]:
    """None if `source` parses (libcst, guarded), else why not, in one line."""
    try:
        guarded_parse(source)
    except ParseAborted as exc:
        return str(exc)
    except Exception as exc:  # syntax errors, the native parser's others, RecursionError
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None
