"""Applying fixes: edits only, pass by pass, never code that does not parse."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from gradlint.diagnostics import Diagnostic, Edit, Fix

MAX_PASSES = 10


@dataclass
class FixResult:
    source: str
    fixed: int = 0  # findings whose fix was applied
    by_code: Dict[str, int] = field(default_factory=dict)  # of those, how many per rule
    remaining: List[Diagnostic] = field(default_factory=list)
    error: Optional[str] = None  # a fix produced code that does not parse: nothing applied
    protected: Tuple[Tuple[int, int], ...] = ()  # where the protected spans ended up


_ENDINGS = re.compile(r"\r\n|\r|\n")
# a newline a rule wrote: "\n" not after "\r" (text a fix copies from the file keeps the
# file's own endings, "\r\n" or "\r", and is left as it is)
_BARE_LF = re.compile(r"(?<!\r)\n")


def newline_of(source: str) -> str:
    """The file's most common line ending (Python's three: LF, CRLF, CR)."""
    crlf = source.count("\r\n")
    cr = source.count("\r") - crlf
    lf = source.count("\n") - crlf
    return max((lf, "\n"), (crlf, "\r\n"), (cr, "\r"))[1] if crlf or cr else "\n"


def python_lines(source: str) -> List[str]:
    """The lines of a source as Python counts them, each with its ending: only LF, CRLF
    and CR end a line (`str.splitlines` also splits at form feeds and other characters
    that Python treats as white space, which would shift every position after them)."""
    lines = []
    start = 0
    for match in _ENDINGS.finditer(source):
        lines.append(source[start:match.end()])
        start = match.end()
    if start < len(source):
        lines.append(source[start:])
    return lines


def _ending_near(source: str, starts: List[int], line: int, default: str) -> str:
    """The line ending of `line` (1-based), else of the line before it: what a new line
    written there should end with, in a file of mixed endings too."""
    for number in (line, line - 1):
        if 1 <= number < len(starts):
            end = starts[number]
            if source[end - 2:end] == "\r\n":
                return "\r\n"
            return source[end - 1]
    return default


def _line_starts(source: str) -> List[int]:
    starts = [0]
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "\r":
            i += 2 if i + 1 < n and source[i + 1] == "\n" else 1
            starts.append(i)
            continue
        i += 1
        if ch == "\n":
            starts.append(i)
    return starts


def _offset(starts: List[int], length: int, line: int, column: int) -> int:
    if line > len(starts) or (line == len(starts) and starts[-1] == length and column == 1):
        return length
    return min(starts[line - 1] + column - 1, length)


def apply_edits(source: str, fixes, protected: Tuple[Tuple[int, int], ...] = ()
                ) -> Tuple[str, int]:
    """Apply non-overlapping fixes (each all-or-nothing); returns the text and how many.
    A fix that touches a `protected` span (offsets; inserting at either end is allowed)
    is left out."""
    text, applied, _ = apply_edits_tracked(source, fixes, protected)
    return text, len(applied)


def apply_edits_tracked(source: str, fixes, protected: Tuple[Tuple[int, int], ...] = ()
                        ) -> Tuple[str, List[Fix], Tuple[Tuple[int, int], ...]]:
    """`apply_edits` (with the fixes applied, not their number), and where the protected
    spans are in the new text."""
    starts = _line_starts(source)
    nl = newline_of(source)
    # a rule writes "\n" for a new line; in a file with no LF ending that is converted to
    # the ending of the line it goes to. Where LF endings occur, a "\n" in an edit may be
    # one copied from the file, so every "\n" stays as it is (and is one of its endings)
    has_lf = _BARE_LF.search(source) is not None
    chosen: List[Tuple[int, int, str]] = []
    applied: List[Fix] = []
    taken: List[Tuple[int, int]] = list(protected)

    def span_of(edit: Edit) -> Tuple[int, int, str]:
        a = _offset(starts, len(source), edit.line, edit.column)
        b = _offset(starts, len(source), edit.end_line, edit.end_column)
        content = edit.content
        if "\n" in content and not has_lf:
            ending = _ending_near(source, starts, edit.line, nl)
            if ending != "\n":
                content = _BARE_LF.sub(ending, content)
        if a > 0 and source[a - 1] == "\r" and source[a:a + 1] != "\n" and (
                content or source[b:b + 1]).startswith("\n"):
            # a bare CR then an LF would join into one CRLF ending, and a line would
            # be lost: the CR before becomes a CRLF (the one ending that cannot stay)
            a, content = a - 1, "\r\n" + content
        return a, b, content

    carried = {}  # a shared edit -> how many of the fixes applied carry it, of how many
    for fix in fixes:
        spans = [span_of(edit) for edit in fix.edits]
        if any(_overlaps(a, b, x, y) for a, b, _ in spans for x, y in taken):
            continue  # waits for the next pass (or, against a protected span, never runs)
        taken.extend((a, b) for a, b, _ in spans)
        chosen.extend(spans)
        applied.append(fix)
        for edit in getattr(fix, "shared", ()):
            count, needed = carried.get(edit, (0, fix.sharers))
            carried[edit] = (count + 1, needed)
    for edit, (count, needed) in carried.items():
        # a fix left out (suppressed, not selected, waiting for a pass) may still need it
        a, b, content = span_of(edit)
        if count == needed and not any(_overlaps(a, b, x, y) for x, y in taken):
            taken.append((a, b))
            chosen.append((a, b, content))
    chosen.sort(key=lambda s: (s[0], s[1]))
    moved = tuple((_moved(x, chosen), _moved(x, chosen) + (y - x)) for x, y in protected)
    for a, b, text in reversed(chosen):
        source = source[:a] + text + source[b:]
    return source, applied, moved


def _moved(offset: int, chosen: List[Tuple[int, int, str]]) -> int:
    """Where `offset` (the start of a protected span) is after the edits: text inserted
    at the offset itself goes before it."""
    shift = 0
    for a, b, text in chosen:
        if b <= offset:
            shift += len(text) - (b - a)
    return offset + shift


def _overlaps(a: int, b: int, x: int, y: int) -> bool:
    if a == b and x == y:
        return a == x  # two insertions at one point: their order would be arbitrary
    if a == b:
        return x < a < y
    if x == y:
        return a < x < b
    return a < y and x < b


def python_parses(source: str) -> Optional[str]:
    """None if CPython (the judge of what runs) accepts `source`, else why not."""
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except SyntaxError as exc:
        return f"{exc.msg} at line {exc.lineno}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def fix_source(source: str, lint: Callable[[str], List[Diagnostic]], unsafe: bool,
               protected: Tuple[Tuple[int, int], ...] = ()) -> FixResult:
    """Lint, apply the fixes allowed, re-lint the new text; until nothing more applies.
    `protected`: spans (offsets) no fix may touch; the result says where they ended up."""
    from gradlint.guard import parse_error

    fixed = 0
    by_code: Dict[str, int] = {}
    diagnostics = lint(source)
    # CPython checks the result too, unless it refuses the original already (syntax newer
    # than the Python running gradlint): libcst then decides alone
    by_python = None
    for _ in range(MAX_PASSES):
        code_of = {id(d.fix): d.code for d in diagnostics if d.fix is not None
                   and (d.fix.applicability == "safe" or unsafe)}
        fixes = [d.fix for d in diagnostics if id(d.fix) in code_of]
        if not fixes:
            break
        fixes.sort(key=lambda f: (f.edits[0].line, f.edits[0].column))
        new_source, applied, moved = apply_edits_tracked(source, fixes, protected)
        if not applied or new_source == source:
            break
        if by_python is None:
            by_python = python_parses(source) is None

        def problem_in(text):
            return parse_error(text) or (python_parses(text) if by_python else None)

        problem = problem_in(new_source)
        if problem is not None and len(applied) > 1:
            # fixes that are each right can clash (two statements moved out of one block
            # leave it empty): then one at a time, re-linting in between
            new_source, applied, moved = apply_edits_tracked(source, fixes[:1], protected)
            problem = problem_in(new_source)
        if problem is not None:  # a bug in a fix: keep the last good text
            codes = sorted({d.code for d in diagnostics if d.fix is not None})
            return FixResult(source, fixed, by_code, diagnostics,
                             f"a fix for {', '.join(codes)} produced code that does not parse "
                             f"({problem.splitlines()[0] if problem else problem}); this is a "
                             f"gradlint bug, please report it. The file was left unchanged by "
                             f"that fix.", protected)
        source, protected = new_source, moved
        fixed += len(applied)
        for fix in applied:
            by_code[code_of[id(fix)]] = by_code.get(code_of[id(fix)], 0) + 1
        diagnostics = lint(source)
    return FixResult(source, fixed, by_code, diagnostics, None, protected)


__all__ = ["apply_edits", "fix_source", "FixResult", "Edit", "newline_of", "python_lines"]
