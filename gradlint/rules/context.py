"""What a rule's check gets: the observations, and a way to turn node ids into places."""

from __future__ import annotations

import re
from typing import Iterable, Optional, Tuple

import libcst as cst

from gradlint.diagnostics import Diagnostic, Fix, Related
from gradlint.rules.edits import SourceText
from gradlint.rules.positions import Positions


_BACKTICKED = re.compile(r"`([^`]+)`")
BRIEF = 32  # longer code in a headline has its argument lists elided


def brief(code: str, limit: int = BRIEF) -> str:
    """`code` as a headline quotes it: the longest argument lists elided, `f(...)`, until
    it fits in `limit` (what is left of the code is never cut)."""
    while len(code) > limit:
        groups, depth, start, quote = [], 0, 0, ""
        for i, char in enumerate(code):
            if quote:
                quote = "" if char == quote and code[i - 1] != "\\" else quote
            elif char in "'\"":
                quote = char
            elif char in "([{":
                depth += 1
                if depth == 1:
                    start = i
            elif char in ")]}" and depth:
                depth -= 1
                if depth == 0 and i - start - 1 > 3:
                    groups.append((i - start - 1, start, i))
        if not groups or depth:
            break
        _, start, end = max(groups)
        code = code[:start + 1] + "..." + code[end:]
    return code


class RuleContext:
    def __init__(self, path: str, module: cst.Module, interp, source: str,
                 selected: frozenset = frozenset()):
        self.path = path
        self.selected = selected  # the codes of the rules run on this file
        self.module = module
        self.interp = interp
        self.obs = interp.obs
        self._positions = None
        self._parents = self._names = None
        self.src = SourceText(source)

    def node(self, nid: int) -> cst.CSTNode:
        return self.interp.nodes[nid]

    def code(self, nid: int) -> str:
        return self.interp.code(self.node(nid))

    def span(self, nid: int) -> Tuple[int, int, int, int]:
        return self._placer().span(self.node(nid)) or (1, 1, 1, 1)

    def line(self, nid: int) -> int:
        return self.start(nid)[0]

    def start(self, nid: int) -> Tuple[int, int]:
        """(line, column): less work than the whole span for a loop or a `with`."""
        return self._placer().start(self.node(nid)) or (1, 1)

    def start_of(self, node: cst.CSTNode, within: Optional[int] = None) -> Tuple[int, int]:
        hint = self.interp.nodes.get(within) if within is not None else None
        return self._placer().start(node, hint) or (1, 1)

    def diagnostic(self, rule, nid: int, message: str,
                   related: Iterable[Tuple[int, str]] = (), fix: Optional[Fix] = None,
                   help: Optional[str] = None) -> Diagnostic:
        """`message`: what goes wrong, one sentence naming the code and lines; `help`:
        why, and what to write instead."""
        line, col, end_line, end_col = self.span(nid)
        message = _BACKTICKED.sub(lambda m: f"`{brief(m.group(1))}`", message)
        notes = []
        for rid, note in related:
            if rid is None or rid not in self.interp.nodes:
                continue
            rl, rc = self.start(rid)
            notes.append(Related(self.path, rl, rc, note))
        return Diagnostic(rule.code, rule.name, message, self.path, line, col, end_line, end_col,
                          tuple(notes), fix, help=help)

    def span_of(self, node: cst.CSTNode, within: Optional[int] = None) -> Tuple[int, int, int, int]:
        """The span of any node; `within`: the id of a recorded node that contains it."""
        hint = self.interp.nodes.get(within) if within is not None else None
        return self._placer().span(node, hint) or (1, 1, 1, 1)

    def _placer(self) -> Positions:
        # positions are resolved only for the nodes that findings name
        if self._positions is None:
            self._positions = Positions(self.module, self.src.code, self.interp.owners,
                                        self.interp.raw_code)
        return self._positions

    def parent_map(self):
        """Child node id -> parent node, built on demand (only for rules that need it).
        The same walk indexes every `Name` by its text, for `names`."""
        if self._parents is None:
            from gradlint.analysis.walk import index_tree

            self._parents, self._names = index_tree(self.module)
        return self._parents

    def names(self, text: str):
        """Every `Name` node spelled `text`, anywhere in the file."""
        self.parent_map()
        return self._names.get(text, ())

    def statement_parents(self):
        """Parent of every statement, statement line and block, without entering
        expressions: a small part of `parent_map`'s walk, for fixes that move statements."""
        if getattr(self, "_statement_parents", None) is None:
            from gradlint.analysis.walk import is_node

            parents = self._statement_parents = {}
            stack = [self.module]
            while stack:
                node = stack.pop()
                for name in ("body", "orelse", "handlers", "finalbody", "cases"):
                    value = getattr(node, name, None)
                    for child in value if isinstance(value, (tuple, list)) else (value,):
                        if child is not None and is_node(child):
                            parents[id(child)] = node
                            stack.append(child)
        return self._statement_parents

    def enclosing_loop_line(self, nid: Optional[int]) -> Optional[int]:
        return None if nid is None else self.line(nid)
