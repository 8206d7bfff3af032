"""`gradlint explain`: what autograd will do, statement by statement, before running anything."""

from __future__ import annotations

import json
from typing import Dict, List, Optional

from gradlint.analysis.values import NNModule, Optimizer, Tensor, Unknown

TRI = {True: "yes", False: "no", None: "unknown"}


def explain_source(text: str, path: str = "<string>", settings=None) -> dict:
    """The facts as plain data: {"path", "statements": [...], "findings": [...]}."""
    from gradlint.analysis.interp import Interpreter
    from gradlint.analysis.record import Recorder
    from gradlint.config import Settings
    from gradlint.linter import lint_source
    from gradlint.rules.positions import Positions

    from gradlint.guard import guarded_parse

    settings = settings or Settings()
    module = guarded_parse(text, settings.file_timeout)
    interp = Interpreter(module, settings.backward_functions, settings.clear_grad_functions,
                         source_length=len(text))
    interp.recorder = recorder = Recorder()
    interp.run()
    positions = Positions(module, text, interp.owners, interp.raw_code)
    findings = lint_source(text, path, settings)
    back_lines = {}
    for site in recorder.sites:
        span = positions.span(interp.nodes[site])
        back_lines[site] = span[0] if span else None
    statements = []
    for sid, slot in recorder.facts.items():
        node = recorder.statements[sid]
        span = positions.span(node)
        if span is None:
            continue
        values = [_describe(fact, recorder, back_lines, sid) for fact in slot.values()]
        values = [v for v in values if v is not None]
        if not values:
            continue
        related = [d for d in findings
                   if d.line == span[0] or any(r.line == span[0] for r in d.related)]
        loop = recorder.headers.get(sid)
        code = interp.code(node)
        if loop is not None:  # a loop's variables: shown with their header
            code = f"for {code} in {interp.code(loop.iter)}"
        statements.append({
            "line": span[0], "end_line": span[2], "code": code,
            "grad_mode": {True: "on", False: "off", None: "unknown"}[
                next(iter(slot.values())).grad_mode],
            "values": values,
            "findings": [{"code": d.code, "line": d.line, "message": d.message} for d in related],
        })
    statements.sort(key=lambda s: (s["line"], s["code"]))
    return {"path": path, "statements": statements,
            "findings": [d.to_json() for d in findings]}


def _describe(fact, recorder, back_lines, sid) -> Optional[dict]:
    value = fact.value
    out = {"name": fact.name, "inputs": list(fact.inputs)}
    if isinstance(value, Tensor):
        freed = sorted({back_lines[b] for n in value.graph for b in recorder.freed_by.get(n, ())
                        if back_lines.get(b)})
        out.update(kind="tensor", requires_grad=value.requires_grad, is_leaf=value.leaf,
                   retains_grad=value.retains_grad, grad=_grad(value, recorder, back_lines),
                   freed_by_backward_at=freed,
                   cut_by_no_grad=any(c.site == sid for c in value.cuts))
        return out
    if isinstance(value, NNModule):
        out.update(kind="module", parameters_require_grad=value.trainable)
        return out
    if isinstance(value, Optimizer):
        out.update(kind="optimizer")
        return out
    if isinstance(value, Unknown):
        # it may be a tensor: every fact unknown, never guessed
        out.update(kind="unknown", requires_grad=None, is_leaf=None, retains_grad=None,
                   grad="unknown", freed_by_backward_at=[], cut_by_no_grad=False)
        return out
    return None


def _grad(value: Tensor, recorder, back_lines) -> str:
    """What `.grad` of this tensor holds after the backward passes of the file."""
    if value.requires_grad is False:
        # (a flag set later may make it require grad: its .grad is that statement's to say)
        return "unknown" if value.ident in recorder.flagged else "None (does not require grad)"
    if value.requires_grad is None or value.leaf is None:
        return "unknown"
    if value.ident in recorder.turned_off or value.ident in recorder.hooked:
        return "unknown"  # it may stop requiring grad, or a hook may clear .grad
    if not value.leaf:
        if value.retains_grad or value.ident in recorder.retained:
            return "populated (retain_grad)" if recorder.backwards else "None (no backward runs)"
        return "None (not a leaf)"
    if not recorder.backwards:
        return "None (no backward runs)"
    if value.ident in recorder.reached:
        lines = sorted({back_lines[b] for b in recorder.reached[value.ident] if back_lines.get(b)})
        if not lines:
            return "populated"
        return (f"populated after the backward at line {lines[0]}" if len(lines) == 1 else
                f"populated after the backwards at lines {', '.join(map(str, lines))}")
    return "unknown" if recorder.open_backward else "None (no backward reaches it)"


# -- renderers ------------------------------------------------------------------------------
def _summary(v: dict) -> str:
    if v["kind"] == "module":
        return f"{v['name']}: module, parameters require grad: {TRI[v['parameters_require_grad']]}"
    if v["kind"] == "optimizer":
        return f"{v['name']}: optimizer"
    if v["kind"] == "unknown":
        return f"{v['name']}: unknown (comes from code gradlint does not follow)"
    parts = [f"requires_grad={TRI[v['requires_grad']]}", f"leaf={TRI[v['is_leaf']]}",
             f".grad {v['grad']}"]
    if v["cut_by_no_grad"]:
        parts.append("graph cut here (grad mode off)")
    if v["freed_by_backward_at"]:
        parts.append("graph freed by backward at line " + ", ".join(map(str, v["freed_by_backward_at"])))
    return f"{v['name']}: " + ", ".join(parts)


def render_text(data: dict, source: str, color: bool = False, nb=None) -> str:
    """The source, each line with what is known after it. `nb`: the notebook `source`
    was joined from; its cells are shown as written, with lines counted per cell."""
    import click

    def style(text, **kw):
        return click.style(text, **kw) if color else text

    by_line: Dict[int, List[dict]] = {}
    for s in data["statements"]:
        by_line.setdefault(s["line"], []).append(s)
    lines = source.splitlines()
    labels = [str(n) for n in range(1, len(lines) + 1)]
    if nb is not None:
        lines, labels = _cell_lines(nb, lines)
    width = min(max((len(line) for line in lines), default=0), 60) + 2
    out = []
    for number, (line, label) in enumerate(zip(lines, labels), start=1):
        if label is None:  # a cell's header
            out.append(style(line, bold=True))
            continue
        notes = []
        for s in by_line.get(number, []):
            mode = "" if s["grad_mode"] == "on" else f"[grad mode {s['grad_mode']}] "
            notes.extend(mode + _summary(v) for v in s["values"])
            notes.extend(style(f"{f['code']} (line {f['line']})", fg="red", bold=True)
                         for f in s["findings"] if f["line"] == number)
        if nb is not None:
            notes = [_in_cells(nb, note) for note in notes]
        gutter = style(f"{label:>5} ", dim=True)
        if not notes:
            out.append(gutter + line if line else style(f"{label:>5}", dim=True))
            continue
        # (a line longer than the column keeps two spaces before its annotation)
        out.append(gutter + (line.ljust(width) if len(line) + 2 <= width else line + "  ")
                   + style("# " + notes[0], fg="cyan"))
        for note in notes[1:]:
            out.append(" " * 6 + " " * width + style("# " + note, fg="cyan"))
    return "\n".join(out) + "\n"


def _cell_lines(nb, joined: List[str]):
    """The lines to show for a notebook, and each one's number in its cell (None: a
    cell's header): the cells' own text (magics as written), not the joined program."""
    from gradlint.notebook import NotebookError, cell_source

    shown, labels, cells = [], [], {}
    for number, _ in enumerate(joined, start=1):
        cell, line = nb.line_map[number - 1] if number <= len(nb.line_map) else (None, 0)
        if cell is None:
            shown.append(joined[number - 1])
            labels.append(str(number))
        elif line == 0:
            shown.append(f"cell {cell}:")
            labels.append(None)
        else:
            if cell not in cells:
                try:
                    cells[cell] = cell_source(nb.text, cell).splitlines()
                except NotebookError:
                    cells[cell] = []
            own = cells[cell]
            shown.append(own[line - 1] if line <= len(own) else joined[number - 1])
            labels.append(str(line))
    return shown, labels


def _in_cells(nb, text: str) -> str:
    """`line N` of the joined program as `line L of cell C`."""
    import re

    def one(number: int) -> str:
        cell, line = nb.line_map[number - 1] if 0 < number <= len(nb.line_map) else (None, number)
        return f"line {line} of cell {cell}" if cell is not None else f"line {number}"

    def many(match):
        numbers = [int(n) for n in re.findall(r"\d+", match.group(0))]
        return ", ".join(one(n) for n in numbers).replace(", line ", ", ")

    return re.sub(r"\blines? \d+(?:, \d+)*", many, text)


def syntax_error(text: str, path: str, nb=None) -> Optional[str]:
    """What `check` says about a file that does not parse (GL000), or None."""
    from gradlint.config import Settings
    from gradlint.linter import lint_source

    found = [d for d in lint_source(text, path, Settings(select=("GL000",)), parse_always=True)
             if d.code == "GL000"]
    if not found:
        return None
    d = found[0]
    if nb is not None:
        from gradlint.notebook import map_diagnostic

        d = map_diagnostic(nb, d)
    return f"{d.location}:{d.line}:{d.column}: {d.code} {d.message}"


def render_line(data: dict, line: int) -> str:
    chosen = [s for s in data["statements"] if s["line"] <= line <= s["end_line"]]
    if not chosen:
        return f"line {line}: no statement that makes or changes a tensor\n"
    out = []
    for s in chosen:
        out.append(f"line {s['line']}: {s['code']}")
        out.append(f"  grad mode: {s['grad_mode']}")
        for v in s["values"]:
            out.append("  " + _summary(v))
            for name in v.get("inputs", []):
                source = _latest(data, name, s["line"])
                out.append("    input " + (_summary(source) if source else f"{name}: unknown"))
        for f in s["findings"]:
            out.append(f"  {f['code']} at line {f['line']}: {f['message']}")
    return "\n".join(out) + "\n"


def _latest(data, name, before) -> Optional[dict]:
    found = None
    for s in data["statements"]:
        if s["line"] >= before:
            break
        for v in s["values"]:
            if v["name"] == name:
                found = v
    return found


def render_json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_dot(data: dict) -> str:
    def q(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    out = ["digraph autograd {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];']
    latest: Dict[str, str] = {}
    for i, s in enumerate(data["statements"]):
        for j, v in enumerate(s["values"]):
            if v["kind"] not in ("tensor",):
                continue
            ident = f"n{i}_{j}"
            leaf = v["is_leaf"] is True
            attrs = {
                "label": q(f"{v['name']} (line {s['line']})\nrequires_grad={TRI[v['requires_grad']]}"
                           f"\n.grad {v['grad']}"),
                "shape": "ellipse" if leaf else "box",
                "style": "filled",
                "fillcolor": "lightblue" if leaf else ("white" if v["requires_grad"] else "lightgrey"),
            }
            if v["freed_by_backward_at"]:
                attrs["style"] = '"filled,dotted"'
            if s["findings"]:
                attrs.update(color="red", penwidth="2")
            out.append(f"  {ident} [" + ", ".join(f"{k}={val}" for k, val in attrs.items()) + "];")
            for name in v["inputs"]:
                if name in latest:
                    edge = ' [color=red, style=dashed, label="no_grad cut"]' if v["cut_by_no_grad"] else ""
                    out.append(f"  {latest[name]} -> {ident}{edge};")
            latest[v["name"]] = ident
    out.append("}")
    return "\n".join(out) + "\n"
