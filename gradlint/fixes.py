"""Applying fixes: edits only, pass by pass, never code that does not parse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from gradlint.diagnostics import Diagnostic, Edit

MAX_PASSES = 10


@dataclass
class FixResult:
    source: str
    fixed: int = 0  # findings whose fix was applied
    remaining: List[Diagnostic] = field(default_factory=list)
    error: Optional[str] = None  # a fix produced code that does not parse: nothing applied


def newline_of(source: str) -> str:
    crlf = source.count("\r\n")
    lf = source.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


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


def apply_edits(source: str, fixes) -> Tuple[str, int]:
    """Apply non-overlapping fixes (each all-or-nothing); returns the text and how many."""
    starts = _line_starts(source)
    nl = newline_of(source)
    chosen: List[Tuple[int, int, str]] = []
    applied = 0
    taken: List[Tuple[int, int]] = []
    for fix in fixes:
        spans = []
        for edit in fix.edits:
            a = _offset(starts, len(source), edit.line, edit.column)
            b = _offset(starts, len(source), edit.end_line, edit.end_column)
            spans.append((a, b, edit.content.replace("\n", nl) if nl != "\n" else edit.content))
        if any(_overlaps(a, b, x, y) for a, b, _ in spans for x, y in taken):
            continue  # waits for the next pass
        taken.extend((a, b) for a, b, _ in spans)
        chosen.extend(spans)
        applied += 1
    for a, b, text in sorted(chosen, key=lambda s: (s[0], s[1]), reverse=True):
        source = source[:a] + text + source[b:]
    return source, applied


def _overlaps(a: int, b: int, x: int, y: int) -> bool:
    if a == b and x == y:
        return a == x  # two insertions at one point: their order would be arbitrary
    if a == b:
        return x < a < y
    if x == y:
        return a < x < b
    return a < y and x < b


def fix_source(source: str, lint: Callable[[str], List[Diagnostic]], unsafe: bool) -> FixResult:
    """Lint, apply the fixes allowed, re-lint the new text; until nothing more applies."""
    import libcst as cst

    fixed = 0
    diagnostics = lint(source)
    for _ in range(MAX_PASSES):
        fixes = [d.fix for d in diagnostics if d.fix is not None
                 and (d.fix.applicability == "safe" or unsafe)]
        if not fixes:
            break
        fixes.sort(key=lambda f: (f.edits[0].line, f.edits[0].column))
        new_source, applied = apply_edits(source, fixes)
        if applied == 0 or new_source == source:
            break
        try:
            cst.parse_module(new_source)
        except Exception as exc:  # a bug in a fix: keep the last good text
            codes = sorted({d.code for d in diagnostics if d.fix is not None})
            return FixResult(source, fixed, diagnostics,
                             f"a fix for {', '.join(codes)} produced code that does not parse "
                             f"({str(exc).splitlines()[0]}); this is a gradlint bug, please "
                             f"report it. The file was left unchanged by that fix.")
        source = new_source
        fixed += applied
        diagnostics = lint(source)
    return FixResult(source, fixed, diagnostics)


__all__ = ["apply_edits", "fix_source", "FixResult", "Edit", "newline_of"]
