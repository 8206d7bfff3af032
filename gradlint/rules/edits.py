"""Helpers the rules use to build fixes as text edits."""

from __future__ import annotations

import re
from typing import List, Optional

import libcst as cst

from gradlint.diagnostics import Edit
from gradlint.fixes import python_lines

_INDENT = re.compile(r"[ \t]*")


class SourceText:
    def __init__(self, code: str):
        self.code = code
        self.lines: List[str] = python_lines(code)

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column); the line after the last is the end."""
        if line > len(self.lines):
            return len(self.code)
        return sum(len(x) for x in self.lines[:line - 1]) + column - 1

    def position(self, offset: int):
        total = 0
        for number, text in enumerate(self.lines, start=1):
            if offset < total + len(text):
                return number, offset - total + 1
            total += len(text)
        return len(self.lines) + 1, 1

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def indent(self, number: int) -> str:
        return _INDENT.match(self.line(number)).group(0)

    def rest_of_line_is_blank(self, line: int, column: int) -> bool:
        """Only whitespace or a comment after (line, column)?"""
        rest = self.line(line)[column - 1:].strip()
        return rest == "" or rest.startswith("#")

    def starts_line(self, line: int, column: int) -> bool:
        return self.line(line)[:column - 1].strip() == ""


def insert(line: int, column: int, text: str) -> Edit:
    return Edit(line, column, line, column, text)


def insert_statement_after(src: SourceText, span, statement: str) -> Optional[Edit]:
    """A new statement right after the small statement at `span`."""
    line, col, end_line, end_col = span
    if src.starts_line(line, col) and src.rest_of_line_is_blank(end_line, end_col):
        indent = src.indent(line)
        last = src.line(end_line)
        if last.endswith(("\n", "\r")):
            return insert(end_line + 1, 1, f"{indent}{statement}\n")
        return insert(end_line, len(last) + 1, f"\n{indent}{statement}")
    return insert(end_line, end_col, f"; {statement}")


def insert_statement_before(src: SourceText, span, statements) -> Edit:
    """New statements right before the statement at `span`, one per line, with its indentation."""
    if isinstance(statements, str):
        statements = [statements]
    line, col, _, _ = span
    if src.starts_line(line, col):
        indent = src.indent(line)
        return insert(line, col, "".join(f"{s}\n{indent}" for s in statements))
    return insert(line, col, "".join(f"{s}; " for s in statements))


def replace(src: SourceText, span, text: str) -> Edit:
    line, col, end_line, end_col = span
    return Edit(line, col, end_line, end_col, text)


def whole_lines(first: int, last: int) -> tuple:
    """The span of lines first..last, newlines included."""
    return (first, 1, last + 1, 1)


def dedent_lines(src: SourceText, first: int, last: int, old: str, new: str) -> Optional[str]:
    out = []
    for number in range(first, last + 1):
        text = src.line(number)
        if text.strip() == "":
            out.append(text)
        elif text.startswith(old):
            out.append(new + text[len(old):])
        else:
            return None
    return "".join(out)


def rewrite_tensor_call(ctx, nid: int, method: str, what: str):
    """`f(t)` / `f(t, requires_grad=True|False)` -> `t.<method>()` (+ `.requires_grad_()`).

    No fix for any other argument (dtype, device, ...): their meaning would be lost.
    """
    from gradlint.analysis.exprs import literal_bool
    from gradlint.diagnostics import Fix

    args = list(ctx.node(nid).args)
    if not args or args[0].keyword is not None or args[0].star:
        return None
    flag = False
    for arg in args[1:]:
        if arg.keyword is None or arg.keyword.value != "requires_grad":
            return None
        flag = literal_bool(arg.value)
        if flag is None:
            return None
    source = ctx.interp.code(args[0].value)
    if not isinstance(args[0].value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        source = f"({source})"
    text = f"{source}.{method}()" + (".requires_grad_()" if flag else "")
    return Fix("safe", f"Use `{text}` ({what})", (replace(ctx.src, ctx.span(nid), text),))


def wrap_in_no_grad(ctx, statement: cst.CSTNode, applicability: str):
    """A fix that puts `statement` (starting its line) inside `with torch.no_grad():`.

    None when `torch` is not imported under that name, or when a line of the statement
    is not indented at least as its first line (a multi-line string or a continuation
    line: re-indenting it would change the program).
    """
    from gradlint.analysis.values import Ref
    from gradlint.diagnostics import Fix

    torch = next((k for k, v in ctx.interp.module_env.items()
                  if isinstance(v, Ref) and v.qualname == "torch" and "." not in k), None)
    if torch is None:
        return None
    src = ctx.src
    first, col, last, _ = ctx.span_of(statement)
    if not src.starts_line(first, col):
        return None
    indent = src.indent(first)
    lines = [src.line(n) for n in range(first, last + 1)]
    if any(text.strip() and not text.startswith(indent) for text in lines):
        return None
    if "\"\"\"" in "".join(lines) or "'''" in "".join(lines):
        return None
    step = "\t" if "\t" in indent else "    "
    body = "".join(step + text if text.strip() else text for text in lines)
    # (a statement on the file's last line, without a line ending, stays without one)
    text = f"{indent}with {torch}.no_grad():\n{body}"
    return Fix(applicability, f"Wrap it in `with {torch}.no_grad():`",
               (replace(src, whole_lines(first, last), text),))


def is_plain_name(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*", text))


def assigned_names(node: cst.CSTNode) -> set:
    """Root names bound anywhere inside `node` (assignment targets, loop targets, ...)."""
    from gradlint.analysis.walk import iter_tree

    out = set()
    for current in iter_tree(node):
        # exact types (none of these has subclasses): isinstance on libcst's classes is slow
        field = _BINDING_FIELD.get(type(current))
        if field is not None:
            for sub in iter_tree(getattr(current, field)):
                if type(sub) is cst.Name:
                    out.add(sub.value)
    return out


# node class -> the field holding the target it binds
_BINDING_FIELD = {
    cst.AssignTarget: "target", cst.AugAssign: "target", cst.AnnAssign: "target",
    cst.For: "target", cst.CompFor: "target", cst.AsName: "name", cst.NamedExpr: "target",
}


def holder_in_block(ctx, nid: int, block):
    """The index, in `block`'s body, of the statement that holds node `nid` (the node's
    own statement, or a loop or branch around it); None if none does."""
    parents = ctx.statement_parents()
    holder = ctx.interp.owners.get(nid)
    while holder is not None and parents.get(id(holder)) is not block:
        holder = parents.get(id(holder))
    body = list(getattr(block, "body", ()))
    return next((i for i, b in enumerate(body) if b is holder), None)


def move_call_line(ctx, nid: int, anchor: int, after: bool, before_it=None):
    """Edits that move the statement line of call `nid` (a call that is the whole
    statement) to just after / before the statement of the same block that holds
    `anchor` (the anchor itself, or a loop or branch around it). `after` only moves a line
    forward; `before` moves it from either side. `before_it`: a node whose statement must
    also come before the anchor's in that block. None where that is not a plain move: not
    a line of its own, not in one block, or already there."""
    parents = ctx.statement_parents()
    small = ctx.interp.owners.get(nid)
    if not (isinstance(small, cst.Expr) and small.value is ctx.node(nid)):
        return None
    line = parents.get(id(small))
    block = parents.get(id(line))
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or block is None:
        return None
    body = list(getattr(block, "body", ()))
    at = holder_in_block(ctx, anchor, block)
    here = next((i for i, b in enumerate(body) if b is line), None)
    if at is None or here is None or (after and at < here) or (
            abs(at - here) < 2 and (at > here) != after):
        return None  # (already there, or moving it after would move it backwards)
    if before_it is not None:
        other = holder_in_block(ctx, before_it, block)
        if other is None or other >= at or other == here:
            return None
    holder = body[at]
    first, col, last, end = ctx.span_of(line)
    if not ctx.src.starts_line(first, col) or not ctx.src.rest_of_line_is_blank(last, end):
        return None
    moved = "".join(ctx.src.line(n) for n in range(first, last + 1))  # (its comment too)
    start, _, stop, _ = ctx.span_of(holder)
    if not moved.endswith(("\n", "\r")) or not ctx.src.line(stop).endswith(("\n", "\r")):
        return None
    return (replace(ctx.src, whole_lines(first, last), ""),
            insert(stop + 1 if after else start, 1, moved))
