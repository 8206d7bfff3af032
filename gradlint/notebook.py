"""Jupyter notebooks: code cells joined into one program, magics masked, results mapped
back to cells; fixes written back into the cells with the notebook's JSON layout kept."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

from gradlint.diagnostics import Diagnostic

_SEPARATOR = re.compile(r"^# gradlint-cell (\d+)\r?$")
_MASKED = re.compile(r"^([ \t]*)pass  # gradlint-magic-(\d+)\r?$")
# cell magics whose body is still Python that runs
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}


class NotebookError(Exception):
    pass


@dataclass
class Notebook:
    data: dict
    text: str  # the file as read
    indent: Optional[int]
    joined: str  # the program the analysis sees
    line_map: List[Tuple[int, int]]  # joined line (0-based) -> (cell number, line in cell)
    magics: List[str]


def _cell_source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def load(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not a valid notebook: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a valid notebook: no list of cells")
    indent = _indent_of(text)
    parts, line_map, magics = [], [], []
    for number, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        lines = _cell_source(cell).splitlines()
        masked = _mask(lines, magics)
        parts.append(f"# gradlint-cell {number}\n")
        line_map.append((number, 0))
        for i, line in enumerate(masked, start=1):
            parts.append(line + "\n")
            line_map.append((number, i))
    return Notebook(data, text, indent, "".join(parts), line_map, magics)


def _mask(lines: List[str], magics: List[str]) -> List[str]:
    out = []
    whole_cell = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        if i == 0 and stripped.startswith("%%"):
            name = stripped[2:].split()[0] if len(stripped) > 2 else ""
            whole_cell = name not in _PYTHON_CELL_MAGICS
        magic = whole_cell or stripped.startswith(("%", "!")) or (
            stripped.endswith("?") and not stripped.startswith("#")) or re.match(
            r"^[\w., ]+=\s*[!%]", stripped)
        if magic:
            magics.append(line)
            out.append(f"{indent if not whole_cell else ''}pass  # gradlint-magic-{len(magics) - 1}")
        else:
            out.append(line)
    return out


def _indent_of(text: str) -> Optional[int]:
    match = re.search(r"\n( +)\S", text)
    return len(match.group(1)) if match else None


def _where(nb: Notebook, line: int):
    return nb.line_map[line - 1] if 0 < line <= len(nb.line_map) else (None, line)


def map_diagnostic(nb: Notebook, d: Diagnostic) -> Diagnostic:
    """From the joined program's lines to cells and lines within them (messages too)."""
    cell, line = _where(nb, d.line)
    end_cell, end_line = _where(nb, d.end_line)
    related = tuple(replace(r, line=_where(nb, r.line)[1], cell=_where(nb, r.line)[0])
                    for r in d.related)

    def say(match):
        c, n = _where(nb, int(match.group(1)))
        return f"line {n} of cell {c}" if c is not None else match.group(0)

    fix = d.fix
    if fix is not None:
        edits = []
        for e in fix.edits:
            (c1, l1), (c2, l2) = _where(nb, e.line), _where(nb, e.end_line)
            if c1 is None or c1 != cell or c2 not in (c1, None):
                edits = None
                break
            edits.append(replace(e, line=l1, end_line=l2 if c2 == c1 else l1 + 1))
        fix = replace(fix, edits=tuple(edits)) if edits else None
    return replace(d, line=line, end_line=end_line if end_cell == cell else line, cell=cell,
                   related=related, fix=fix, message=re.sub(r"\bline (\d+)", say, d.message))


def write_back(nb: Notebook, fixed_joined: str) -> str:
    """The notebook's text with the fixed program split back into its cells."""
    sources = {}
    current = None
    for line in fixed_joined.splitlines(keepends=True):
        match = _SEPARATOR.match(line)
        if match:
            current = int(match.group(1))
            sources[current] = []
            continue
        if current is None:
            raise NotebookError("a fix moved code before the first cell")
        masked = _MASKED.match(line)
        if masked:
            original = nb.magics[int(masked.group(2))]
            line = original + ("\n" if line.endswith("\n") else "")
        sources[current].append(line)
    data = json.loads(nb.text)
    for number, cell in enumerate(data["cells"], start=1):
        if number not in sources:
            continue
        old = _cell_source(cell)
        new = "".join(sources[number])
        if not old.endswith("\n") and new.endswith("\n"):
            new = new[:-1]
        if new == old:
            continue
        if isinstance(cell.get("source"), list):
            cell["source"] = new.splitlines(keepends=True)
        else:
            cell["source"] = new
    return dump(nb, data)


def dump(nb: Notebook, data: dict) -> str:
    text = json.dumps(data, indent=nb.indent, ensure_ascii=False)
    return text + ("\n" if nb.text.endswith("\n") else "")


def layout_kept(nb: Notebook) -> bool:
    """Can the notebook be written back byte for byte apart from edited cells?"""
    return dump(nb, json.loads(nb.text)) == nb.text
