"""Plain data that flows from the analysis to every output format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

# each rule's page, generated from its docs into docs/rules/ (tests/test_docs.py)
RULE_URL = "https://github.com/gradlint/gradlint/blob/main/docs/rules/{code}.md"


EXTRA_URLS: dict = {}  # a plugin rule's code -> its page (gradlint.plugins fills it)


def rule_url(code: str) -> Optional[str]:
    """The rule's documentation page (None for a plugin's rule that names none)."""
    if code.startswith("GL"):
        return RULE_URL.format(code=code)
    return EXTRA_URLS.get(code)


@dataclass(frozen=True)
class Related:
    """A second location that explains a finding (where a tensor was made, ...)."""

    path: str
    line: int
    column: int
    message: str
    cell: Optional[int] = None  # notebooks: the cell, and `line` counts within it

    @property
    def location(self) -> str:
        return self.path if self.cell is None else f"{self.path}:cell {self.cell}"


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, column) to (end_line, end_column), 1-based, end exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str

    def to_json(self) -> dict:
        return {"line": self.line, "column": self.column, "end_line": self.end_line,
                "end_column": self.end_column, "content": self.content}


@dataclass(frozen=True)
class Fix:
    applicability: str  # "safe" | "unsafe"
    message: str
    edits: Tuple[Edit, ...]
    # edits that several fixes carry alike (an import that their calls are the only uses
    # of): applied once, and only in a pass that applies all `sharers` fixes carrying them
    shared: Tuple[Edit, ...] = ()
    sharers: int = 0

    def to_json(self) -> dict:
        out = {"applicability": self.applicability, "message": self.message,
               "edits": [e.to_json() for e in self.edits]}
        if self.shared:
            out["shared"] = {"edits": [e.to_json() for e in self.shared],
                             "sharers": self.sharers}
        return out


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    message: str
    path: str
    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    end_column: int
    related: Tuple[Related, ...] = field(default=())
    fix: Optional[Fix] = None
    cell: Optional[int] = None  # notebooks: the cell, and `line` counts within it
    # the why and what to write instead (the message says what goes wrong)
    help: Optional[str] = None

    def sort_key(self):
        # (the message too: two findings of one rule at one place, such as two layers cut
        # off by one no_grad, come out in the same order in every run)
        return (self.path, self.cell or 0, self.line, self.column, self.code, self.message)

    @property
    def location(self) -> str:
        """`path` or, in a notebook, `path:cell N`."""
        return self.path if self.cell is None else f"{self.path}:cell {self.cell}"

    def to_json(self) -> dict:
        out = {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "help": self.help,
            "url": rule_url(self.code),
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "related": [_related_json(r) for r in self.related],
            "fix": self.fix.to_json() if self.fix is not None else None,
        }
        if self.cell is not None:
            out["cell"] = self.cell
        return out


def _related_json(r: Related) -> dict:
    out = {"path": r.path, "line": r.line, "column": r.column, "message": r.message}
    if r.cell is not None:
        out["cell"] = r.cell
    return out
