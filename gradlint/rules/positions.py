"""Positions of the few nodes a file's findings name, without libcst's metadata pass.

libcst's PositionProvider regenerates the whole file to count positions, which costs
about as much as the parse. An expression or simple statement whose text is one line
and occurs once in the whole file is placed where it occurs (libcst is lossless: a
node's text is the text it was parsed from). Otherwise, statement positions come from
CPython's own parser (`ast`, in C), matched to libcst's statements in source order (a
loop, `with` or `if` named by its line alone is first looked for by its header's text); a
node inside a statement is placed by its own text when that occurs once in the
statement, otherwise by regenerating only that statement. Whenever anything does not
line up (a syntax CPython cannot parse, a node outside its recorded statement), the
caller falls back to the full metadata pass.
"""

from __future__ import annotations

import ast
import bisect
import re
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider


Span = Tuple[int, int, int, int]  # 1-based line, column; end line, end column
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+\Z")
# statements whose CPython span covers all of their own text
_WHOLE_SPAN = (cst.BaseSmallStatement, cst.For, cst.While, cst.With, cst.If)
# exact types: isinstance on libcst's abstract classes is slow. (Found by their MROs:
# `issubclass` on an abstract class fills negative caches in all its subclasses for
# every class asked about, 3 MB for these two sets.)
_EXPRESSIONS = frozenset(
    kind for kind in vars(cst).values()
    if isinstance(kind, type) and cst.BaseExpression in kind.__mro__)
_SMALL_STATEMENTS = frozenset(
    kind for kind in vars(cst).values()
    if isinstance(kind, type) and cst.BaseSmallStatement in kind.__mro__)
# the compound statements placed by their header (`start`, `_header_only`)
_HEADED = frozenset((cst.For, cst.While, cst.With, cst.If))
_STUB_BODY = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])])
# whole-file searches per file: on a 1.5 MB module, CPython's parse took as long as 2,800
# searches for a node's text (two each), so these stay under a tenth of one parse
_SEARCHES = 200


def _cst_statements(body, out: List[cst.CSTNode]) -> None:
    for stmt in body:
        kind = type(stmt)  # exact types: isinstance on libcst's classes is slow
        if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
            out.extend(stmt.body)
            continue
        out.append(stmt)
        for block in _blocks(stmt):
            _cst_statements(block.body if type(block) is not cst.SimpleStatementSuite else [block],
                            out)


def _blocks(stmt) -> list:
    out = []
    if isinstance(stmt, cst.If):
        out.append(stmt.body)
        if isinstance(stmt.orelse, cst.If):
            out.append(cst.IndentedBlock(body=[stmt.orelse]))
        elif stmt.orelse is not None:
            out.append(stmt.orelse.body)
        return out
    if isinstance(stmt, (cst.Try, cst.TryStar)):
        out.append(stmt.body)
        out.extend(h.body for h in stmt.handlers)
        if stmt.orelse is not None:
            out.append(stmt.orelse.body)
        if stmt.finalbody is not None:
            out.append(stmt.finalbody.body)
        return out
    if isinstance(stmt, cst.Match):
        return [case.body for case in stmt.cases]
    body = getattr(stmt, "body", None)
    if body is not None:
        out.append(body)
    orelse = getattr(stmt, "orelse", None)
    if orelse is not None:
        out.append(orelse.body)
    return out


def _ast_statements(body, out: List[ast.stmt]) -> None:
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, ast.If):
            _ast_statements(stmt.body, out)
            _ast_statements(stmt.orelse, out)
        elif isinstance(stmt, (ast.Try,) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())):
            _ast_statements(stmt.body, out)
            for handler in stmt.handlers:
                _ast_statements(handler.body, out)
            _ast_statements(stmt.orelse, out)
            _ast_statements(stmt.finalbody, out)
        elif hasattr(ast, "Match") and isinstance(stmt, ast.Match):
            for case in stmt.cases:
                _ast_statements(case.body, out)
        else:
            _ast_statements(getattr(stmt, "body", []) or [], out)
            _ast_statements(getattr(stmt, "orelse", []) or [], out)


class Positions:
    def __init__(self, module: cst.Module, source: str, owners: Dict[int, cst.CSTNode],
                 text_of: Optional[Callable[[cst.CSTNode], str]] = None):
        self.module = module
        self.source = source
        self.owners = owners
        # a node's text; the interpreter's `raw_code` generates each node's only once
        self.text_of = text_of or module.code_for_node
        self._starts: Optional[List[int]] = None
        self._searches = _SEARCHES
        self._statements: Optional[Dict[int, Span]] = None
        self._tiny: Dict[int, object] = {}
        self._full = None
        # Python's own line ends only (str.splitlines also splits at form feeds and others)
        self._lines = _LINE.findall(source)

    def span(self, node: cst.CSTNode, within: Optional[cst.CSTNode] = None) -> Optional[Span]:
        """`within`: a node known to contain `node` (whose statement is then used)."""
        try:
            found = self._fast(node, within)
        except Exception:  # anything unexpected: the exact, slower way
            found = None
        return found if found is not None else self._slow(node)

    def start(self, node: cst.CSTNode, within: Optional[cst.CSTNode] = None
              ) -> Optional[Tuple[int, int]]:
        """Where `node` starts (line, column). Findings often name a loop or a `with` block
        by its first line alone: those are found by their header's text, which spares
        the file CPython's parse (a loop's whole span needs it)."""
        if type(node) in _HEADED:
            try:
                found = self._header(node)
            except Exception:  # anything unexpected: the usual way below
                found = None
            if found is not None:
                return found
        span = self.span(node, within)
        return None if span is None else span[:2]

    # -- the fast way -------------------------------------------------------------------
    def _statement_spans(self) -> Dict[int, Span]:
        if self._statements is None:
            self._statements = {}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse(self.source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return self._statements
            mine: List[cst.CSTNode] = []
            theirs: List[ast.stmt] = []
            _cst_statements(self.module.body, mine)
            _ast_statements(tree.body, theirs)
            if len(mine) != len(theirs):
                return self._statements
            for node, stmt in zip(mine, theirs):
                if _kind(node) != type(stmt).__name__:
                    self._statements = {}
                    return self._statements
                self._statements[id(node)] = (
                    stmt.lineno, self._column(stmt.lineno, stmt.col_offset),
                    stmt.end_lineno, self._column(stmt.end_lineno, stmt.end_col_offset))
        return self._statements

    def _column(self, line: int, byte_offset: int) -> int:
        text = self._lines[line - 1] if line - 1 < len(self._lines) else ""
        if text.isascii():  # CPython counts UTF-8 bytes; in ASCII, bytes are characters
            return min(byte_offset, len(text)) + 1
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace")) + 1

    def _unique(self, node) -> Optional[Span]:
        """An expression or a simple statement by its text, when that is one line and
        occurs once in the file. (Not an expression with parentheses of its own: its
        position is inside them; not a statement with a semicolon, which is outside.
        Not after a byte order mark, which libcst drops from the text it parses.)"""
        if self._searches <= 0 or self.source.startswith("\ufeff"):
            return None
        kind = type(node)
        if kind is cst.SimpleStatementLine and len(node.body) == 1:
            node = node.body[0]  # the line's position is its one statement's
            kind = type(node)
        if kind in _EXPRESSIONS:
            if node.lpar:
                return None
        elif kind not in _SMALL_STATEMENTS or node.semicolon is not cst.MaybeSentinel.DEFAULT:
            return None
        code = self.text_of(node)
        if not code or "\n" in code or "\r" in code or code != code.strip():
            return None
        found = self._once(code)
        return None if found is None else (found[0], found[1], found[0], found[1] + len(code))

    def _header(self, node) -> Optional[Tuple[int, int]]:
        """A loop, `with` or `if` by the first line of its header: regenerated with a
        stub for a body, that line is the start of the statement's own text. If it occurs
        once in the file, and only indentation comes before it on its line, it is there.
        (An `elif` regenerates as `if`, which occurs inside the `elif`: the test of what
        comes before rules it out.)"""
        if self._searches <= 0 or self.source.startswith("\ufeff"):
            return None
        first = self.module.code_for_node(_header_only(node)).split("\n", 1)[0].rstrip("\r")
        if not first or "\r" in first or first != first.strip():
            return None
        found = self._once(first)
        if found is None or self._lines[found[0] - 1][:found[1] - 1].strip(" \t\f"):
            return None
        return found

    def _once(self, code: str) -> Optional[Tuple[int, int]]:
        """(line, column) of `code` when it occurs exactly once in the file."""
        self._searches -= 1
        at = self.source.find(code)
        if at < 0 or self.source.find(code, at + 1) >= 0:
            return None
        if self._starts is None:
            self._starts = [0]
            for text in self._lines:
                self._starts.append(self._starts[-1] + len(text))
        line = bisect.bisect_right(self._starts, at) - 1
        return line + 1, at - self._starts[line] + 1

    def _fast(self, node, within=None) -> Optional[Span]:
        found = self._unique(node)
        if found is not None:
            return found
        if self._statements is None:  # (CPython's parse of the file not needed so far)
            found = self._in_unique_statement(node)
            if found is not None:
                return found
        spans = self._statement_spans()
        if not spans:
            return None
        if id(node) in spans and not isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return spans[id(node)]
        if isinstance(node, cst.SimpleStatementLine) and node.body:
            first, last = spans.get(id(node.body[0])), spans.get(id(node.body[-1]))
            if first and last:
                return (first[0], first[1], last[2], last[3])
            return None
        owner = self.owners.get(id(node))
        if owner is None and within is not None:
            owner = within if id(within) in spans else self.owners.get(id(within))
        if owner is None or id(owner) not in spans:
            return None
        return self._in_statement(node, owner, spans[id(owner)])

    def _in_unique_statement(self, node) -> Optional[Span]:
        """A node inside a one-line simple statement whose text occurs once in the file,
        placed within that statement: that spares the file CPython's parse (37 of the 77
        generated scripts that needed it needed it only for this)."""
        owner = self.owners.get(id(node))
        if type(owner) not in _SMALL_STATEMENTS:
            return None
        span = self._unique(owner)
        if span is None:
            return None
        return self._in_statement(node, owner, span)

    def _in_statement(self, node, owner, span: Span) -> Optional[Span]:
        """`node` inside `owner`, the statement at `span`."""
        # (not for a def or class: CPython's span starts below its decorators)
        if isinstance(owner, _WHOLE_SPAN):
            found = self._by_text(node, span)
            if found is not None:
                return found
        cached = self._tiny.get(id(owner))
        if cached is None:
            cached = self._tiny[id(owner)] = self._regenerate(owner, span)
        if cached is None:
            return None
        positions, line, shift, col = cached
        rel = positions.get(node)
        if rel is None:
            return None
        if shift:
            return (line + rel.start.line - shift, rel.start.column + 1,
                    line + rel.end.line - shift, rel.end.column + 1)
        # a statement after another on its line: only single-line nodes are placed here
        if rel.start.line != 1 or rel.end.line != 1:
            return None
        return (line, col + rel.start.column, line, col + rel.end.column)

    def _by_text(self, node, statement: Span) -> Optional[Span]:
        """libcst is lossless: a node's own code is the exact text it was parsed from. When
        that text occurs once in its statement's lines, that occurrence is the node (the
        statement's first line is searched from the statement's start)."""
        code = self.text_of(node)
        line, col, end_line, _ = statement
        if not code or end_line - line > 200 or code != code.strip():
            return None
        if getattr(node, "lpar", None):
            return None  # its text has the parentheses, its position does not
        first = self._lines[line - 1][col - 1:]
        text = first + "".join(self._lines[line:end_line])
        if "\r" in text.replace("\r\n", ""):  # old Mac line ends: counted below as one line
            return None
        at = text.find(code)
        if at < 0 or text.find(code, at + 1) >= 0:
            return None
        before = text.count("\n", 0, at)
        start_col = (at - text.rfind("\n", 0, at)) if before else col + at
        inner = code.count("\n")
        end_col = (len(code) - code.rfind("\n")) if inner else start_col + len(code)
        return (line + before, start_col, line + before + inner, end_col)

    def _regenerate(self, owner, span: Span):
        """Positions of every node of one statement, regenerated on its own (once)."""
        line, col, _, _ = span
        if isinstance(owner, cst.BaseSmallStatement):
            stmt = cst.SimpleStatementLine(body=[owner])
        elif type(owner) in _HEADED:
            stmt = _header_only(owner)
        else:
            return None
        prefix = self._lines[line - 1][:col - 1] if line - 1 < len(self._lines) else ""
        if prefix.strip() == "":
            # regenerate the statement inside a block with its real indentation, so that
            # continuation lines (which repeat the block's indentation) come out as in the file
            if prefix:
                tiny = cst.Module(body=[cst.If(test=cst.Name("x"), body=cst.IndentedBlock(
                    body=[stmt], indent=prefix))])
                shift = 2
            else:
                tiny = cst.Module(body=[stmt])
                shift = 1
        else:
            tiny, shift = cst.Module(body=[stmt]), 0
        return _positions_of(tiny), line, shift, col

    # -- the exact way ------------------------------------------------------------------
    def _slow(self, node) -> Optional[Span]:
        if self._full is None:
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._full = wrapper.resolve(PositionProvider)
        rng = self._full.get(node)
        if rng is None:
            return None
        return (rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)


def _header_only(node):
    """A loop, `with` or `if` with a `pass` for a body, and without its leading lines and
    its `else`: its text starts as the statement's own does."""
    changes = {"body": _STUB_BODY, "leading_lines": ()}
    if hasattr(node, "orelse"):
        changes["orelse"] = None
    return node.with_changes(**changes)


class _Ranges:
    """Stands in for the provider that PositionProvider's codegen state writes into."""

    def __init__(self):
        self._computed = {}


def _positions_of(module: cst.Module):
    """PositionProvider's ranges for a small module, by running its codegen directly:
    MetadataWrapper.resolve would also walk the tree once for batchable providers, which
    cost as much again on these one-statement modules."""
    try:
        from libcst.metadata.position_provider import PositionProvidingCodegenState

        ranges = _Ranges()
        state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                              default_newline=module.default_newline,
                                              provider=ranges)
        module._codegen(state)
        return ranges._computed
    except (ImportError, AttributeError, TypeError):  # a libcst without these internals
        return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


_KINDS = {
    "SimpleStatementLine": None, "Expr": "Expr", "Assign": "Assign", "AnnAssign": "AnnAssign",
    "AugAssign": "AugAssign", "Return": "Return", "Pass": "Pass", "Break": "Break",
    "Continue": "Continue", "Raise": "Raise", "Import": "Import", "ImportFrom": "ImportFrom",
    "Del": "Delete", "Assert": "Assert", "Global": "Global", "Nonlocal": "Nonlocal",
    "If": "If", "While": "While", "Try": "Try", "TryStar": "TryStar", "Match": "Match",
    "ClassDef": "ClassDef", "TypeAlias": "TypeAlias",
}


def _kind(node) -> str:
    name = type(node).__name__
    if name == "For":
        return "AsyncFor" if node.asynchronous else "For"
    if name == "With":
        return "AsyncWith" if node.asynchronous else "With"
    if name == "FunctionDef":
        return "AsyncFunctionDef" if node.asynchronous else "FunctionDef"
    return _KINDS.get(name, name)
