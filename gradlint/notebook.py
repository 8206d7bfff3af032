"""Jupyter notebooks: code cells joined into one program, magics masked, results mapped
back to cells; fixes written back into the cells with the notebook's JSON layout kept."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

from gradlint.diagnostics import Diagnostic

# cell magics whose body is still Python that runs
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}


class NotebookError(Exception):
    pass


@dataclass
class Notebook:
    """The program the analysis sees, and where each part of it came from.

    Positions, never marker text, tie the program to the cells: a cell's own lines may
    say anything (`# gradlint-cell 1` included). `protected` holds, as offsets into
    `joined`, each cell's header line and each masked magic; a fix may not touch them,
    and `fixes.fix_source` says where they are after its edits."""

    data: dict
    text: str  # the file as read
    indent: Optional[int]
    joined: str  # the program the analysis sees
    line_map: List[Tuple[int, int]]  # joined line (0-based) -> (cell number, line in cell)
    magics: List[str]  # the original text of each masked line, in order
    cells: List[Tuple[int, bool]]  # (cell number, its source ended with a line ending)
    protected: Tuple[Tuple[int, int], ...]  # headers (one per cell), then masks (one per magic)


def _cell_source(cell, number: int) -> str:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        return "".join(source)
    if isinstance(source, str):
        return source
    raise NotebookError(f"not a valid notebook: the source of cell {number} is not text")


def cell_source(text: str, number: int) -> str:
    """The source of cell `number` (counting every cell from 1, as findings do)."""
    try:
        cells = json.loads(text).get("cells")
        cell = cells[number - 1]
    except (ValueError, RecursionError, AttributeError, TypeError, IndexError):
        raise NotebookError(f"not a valid notebook, or no cell {number}") from None
    if not isinstance(cell, dict):
        raise NotebookError(f"cell {number} is not a cell")
    return _cell_source(cell, number)


def load(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not a valid notebook: invalid JSON ({exc})") from None
    except RecursionError:
        raise NotebookError("not a valid notebook: its JSON is nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a valid notebook: no list of cells")
    from gradlint.fixes import python_lines

    indent = _indent_of(text)
    parts, line_map, magics, cells = [], [], [], []
    headers, masks = [], []
    offset = 0
    for number, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _cell_source(cell, number)
        header = f"# cell {number}\n"
        headers.append((offset, offset + len(header)))
        parts.append(header)
        offset += len(header)
        line_map.append((number, 0))
        cells.append((number, source.endswith(("\n", "\r"))))
        lines = python_lines(source)
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        for i, (line, masked) in enumerate(_mask(lines, magics), start=1):
            body = line.rstrip("\r\n")
            if masked:
                masks.append((offset, offset + len(body)))
            parts.append(line)
            offset += len(line)
            line_map.append((number, i))
    return Notebook(data, text, indent, "".join(parts), line_map, magics, cells,
                    tuple(headers + masks))


def _mask(lines: List[str], magics: List[str]):
    """(line, masked) for each line with its ending: an IPython magic (`%`, `%%`, `!`,
    `x = !cmd`, `obj?`) becomes `pass` at its indentation, its text kept in `magics`."""
    whole_cell = False
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        stripped = body.strip()
        indent = body[:len(body) - len(body.lstrip())]
        if i == 0 and stripped.startswith("%%"):
            name = stripped[2:].split()[0] if len(stripped) > 2 else ""
            whole_cell = name not in _PYTHON_CELL_MAGICS
        magic = whole_cell or stripped.startswith(("%", "!")) or (
            stripped.endswith("?") and not stripped.startswith("#")) or re.match(
            r"^[\w., ]+=\s*[!%]", stripped)
        if magic:
            magics.append(body)
            yield f"{indent if not whole_cell else ''}pass{ending}", True
        else:
            yield line, False


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
                   related=related, fix=fix, message=re.sub(r"\bline (\d+)", say, d.message),
                   help=d.help and re.sub(r"\bline (\d+)", say, d.help))


def write_back(nb: Notebook, fixed_joined: str, protected: Tuple[Tuple[int, int], ...]) -> str:
    """The notebook's text with the fixed program split back into its cells.
    `protected`: where `nb.protected` (headers, then masks) is in `fixed_joined`."""
    count = len(nb.cells)
    headers, masks = protected[:count], protected[count:]
    # the magics back in place, from the last (offsets before it stay valid)
    text = fixed_joined
    # (no fix touched a masked line: each is still its indentation and `pass`)
    for (start, end), original in sorted(zip(masks, nb.magics), reverse=True):
        text = text[:start] + original + text[end:]
        delta = len(original) - (end - start)
        headers = tuple((a + delta, b + delta) if a > start else (a, b) for a, b in headers)
    sources = {}
    for k, ((number, ended), (_, body_start)) in enumerate(zip(nb.cells, headers)):
        body_end = headers[k + 1][0] if k + 1 < count else len(text)
        new = text[body_start:body_end]
        if not ended and new.endswith("\n"):
            new = new[:-1]  # (the line ending the join added)
        sources[number] = new
    data = json.loads(nb.text)
    for number, cell in enumerate(data["cells"], start=1):
        if number not in sources:
            continue
        old = _cell_source(cell, number)
        new = sources[number]
        if new == old:
            continue
        if isinstance(cell.get("source"), list):
            from gradlint.fixes import python_lines

            cell["source"] = python_lines(new)
        else:
            cell["source"] = new
    return dump(nb, data)


def dump(nb: Notebook, data: dict) -> str:
    text = json.dumps(data, indent=nb.indent, ensure_ascii=False)
    return text + ("\n" if nb.text.endswith("\n") else "")


def layout_kept(nb: Notebook) -> bool:
    """Can the notebook be written back byte for byte apart from edited cells?"""
    return dump(nb, json.loads(nb.text)) == nb.text
