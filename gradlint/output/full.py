"""Ruff's `full` format: each finding with the source lines around it, a caret under
what it names, then its notes and help; the summary of `text`.

The source is read again from disk (a fixed file: as it now is, which the remaining
findings describe); standard input's text is handed in by the caller."""

from __future__ import annotations

from typing import Dict, List, Optional

from gradlint.output.text import fixes_applied, footer, headline, styler, summary

CONTEXT = 2  # lines shown before and after the finding's first line, as Ruff


def render(diagnostics, files: int, color: bool, quiet: bool, fixed=None, unsafe: bool = False,
           failed: bool = False, sources: Optional[Dict[str, str]] = None, fixes=None) -> str:
    style = styler(color)
    read = _Reader(sources or {})
    blocks = []
    for d in diagnostics:
        lines = [headline(d, style, unsafe, name=False)]
        lines.extend(_snippet(d, read(d.path, d.cell), style))
        for r in d.related:
            where = f"line {r.line}" if r.path == d.path and r.cell == d.cell else \
                f"{r.location}:{r.line}"
            lines.append(f"  {style('= note', fg='cyan')}: {where}: {r.message}")
        lines.extend(f"  = {label}: {text}" for label, text in footer(d, style, unsafe))
        blocks.append("\n".join(lines) + "\n")
    out = "\n".join(blocks)
    if fixes:
        out += ("\n" if blocks else "") + "".join(line + "\n" for line in fixes_applied(fixes))
    if not quiet:
        tail = summary(diagnostics, files, style, fixed, unsafe, failed)
        out += ("\n" if blocks and tail else "") + "".join(line + "\n" for line in tail)
    return out


def _snippet(d, source: Optional[List[str]], style) -> List[str]:
    if not source or not 0 < d.line <= len(source):
        return []
    first = max(1, d.line - CONTEXT)
    last = min(len(source), d.line + CONTEXT)
    while first < d.line and not source[first - 1].strip():
        first += 1
    while last > d.line and not source[last - 1].strip():
        last -= 1
    width = len(str(last))
    bar = style("|", fg="blue", bold=True)
    gutter = " " * (width + 1) + bar
    out = [gutter]
    for number in range(first, last + 1):
        text = source[number - 1].expandtabs(4)
        out.append(f"{style(str(number).rjust(width), fg='blue', bold=True)} {bar} {text}".rstrip())
        if number == d.line:
            line = source[number - 1]
            start = len(line[:d.column - 1].expandtabs(4))
            end = (len(line[:d.end_column - 1].expandtabs(4)) if d.end_line == d.line
                   else len(line.rstrip().expandtabs(4)))
            carets = style("^" * max(1, end - start), fg="red", bold=True)
            out.append(f"{gutter} {' ' * start}{carets} {style(d.code, fg='red', bold=True)}")
    out.append(gutter)
    return out


class _Reader:
    """The lines of each file (or notebook cell) once, `None` where they cannot be had."""

    def __init__(self, sources: Dict[str, str]):
        self.sources = sources
        self.files: Dict[str, Optional[str]] = {}

    def __call__(self, path: str, cell: Optional[int]) -> Optional[List[str]]:
        if path not in self.files:
            self.files[path] = self.sources.get(path, None) if path in self.sources \
                else _read(path)
        text = self.files[path]
        if text is None:
            return None
        if cell is not None:
            text = _cell(text, cell)
            if text is None:
                return None
        from gradlint.fixes import python_lines

        return [line.rstrip("\r\n") for line in python_lines(text)]


def _read(path: str) -> Optional[str]:
    from gradlint.files import read_source

    return read_source(path).text


def _cell(text: str, number: int) -> Optional[str]:
    from gradlint.notebook import NotebookError, cell_source

    try:
        return cell_source(text, number)
    except NotebookError:
        return None
