"""gradlint's rule API: everything a rule package or a project's own rules may use.

Version `API_VERSION`. A rule module declares the version it was written for
(`GRADLINT_API = 1`); gradlint loads it only when that is the version it offers. The
version goes up when something here changes in a way that could break a rule; what
is not in this module is private and may change in any release.

A rule module holds `GRADLINT_API` and `RULES`, a sequence of `Rule`. A check gets a
`Context` and yields `Diagnostic`s made with `Context.report`. See
`docs/writing-rules.md`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

import libcst as cst

from gradlint.analysis.facts import (
    BackwardCall, Clear, Facts, GradRead, Step, TensorFacts,
)
from gradlint.diagnostics import Diagnostic, Edit, Fix
from gradlint.rules.base import Rule as _BaseRule
from gradlint.rules.base import RuleDocs

API_VERSION = 1

__all__ = [
    "API_VERSION", "Rule", "RuleDocs", "Context", "Facts", "TensorFacts", "BackwardCall",
    "Step", "Clear", "GradRead", "Diagnostic", "Fix", "Edit",
]


@dataclass(frozen=True)
class Rule(_BaseRule):
    """A rule of a plugin or of a project: `code` is the plugin's prefix (one to three
    capital letters, not `GL`) and three digits; `check(ctx)` yields diagnostics.

    `default`: on without being selected (a plugin's rules are off until selected
    otherwise). `needs`: words that must all occur in a file for the rule to report on it
    (a file that has none of the words a selected rule needs is not parsed); leave it
    empty to see every file. `url`: the rule's documentation page."""

    default: bool = False
    url: Optional[str] = None
    origin: str = ""  # set by gradlint when it loads the rule: the package or file

    def __post_init__(self):
        object.__setattr__(self, "default_on", self.default)


class Context:
    """One file, as a check sees it."""

    def __init__(self, rule: Rule, inner, facts: Facts):
        self._rule = rule
        self._inner = inner  # gradlint's own rule context
        self.facts = facts

    @property
    def path(self) -> str:
        return self._inner.path

    @property
    def module(self) -> cst.Module:
        """The file's libcst tree, as parsed (read it; never change it)."""
        return self._inner.module

    @property
    def source(self) -> str:
        return self._inner.src.code

    def span(self, node: cst.CSTNode) -> Tuple[int, int, int, int]:
        """(line, column, end line, end column) of `node`, 1-based, the end exclusive."""
        return self._inner.span_of(node)

    def code(self, node: cst.CSTNode) -> str:
        """The source text of `node`."""
        return self.module.code_for_node(node).strip()

    def report(self, node: cst.CSTNode, message: str, help: Optional[str] = None,
               fix: Optional[Fix] = None,
               related: Iterable[Tuple[cst.CSTNode, str]] = ()) -> Diagnostic:
        """A finding of this rule at `node`: `message` says what goes wrong, `help` why and
        what to write instead; `related` places other nodes with a note each."""
        from gradlint.diagnostics import Related

        line, col, end_line, end_col = self.span(node)
        notes = tuple(Related(self.path, *self.span(n)[:2], note) for n, note in related)
        return Diagnostic(self._rule.code, self._rule.name, message, self.path, line, col,
                          end_line, end_col, notes, fix, help=help)

    # -- edits for fixes ------------------------------------------------------------------
    def replace(self, node: cst.CSTNode, text: str) -> Edit:
        """An edit that puts `text` where `node` is."""
        line, col, end_line, end_col = self.span(node)
        return Edit(line, col, end_line, end_col, text)

    def insert_before(self, statement: cst.CSTNode, lines: Sequence[str]) -> Edit:
        """New statements before the (small or compound) statement, at its indentation."""
        from gradlint.rules.edits import insert_statement_before

        return insert_statement_before(self._inner.src, self.span(statement), list(lines))

    def insert_after(self, statement: cst.BaseSmallStatement, line: str) -> Optional[Edit]:
        """A new statement after a small statement (None where that cannot be written)."""
        from gradlint.rules.edits import insert_statement_after

        return insert_statement_after(self._inner.src, self.span(statement), line)
