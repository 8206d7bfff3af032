"""`# noqa` comments (flake8 semantics) and file-wide `# gradlint: noqa`."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Optional

_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)
_FILE_NOQA = re.compile(
    r"#\s*gradlint\s*:\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)
ALL = frozenset(["*"])


@dataclass
class Suppressions:
    lines: Dict[int, FrozenSet[str]] = field(default_factory=dict)
    file: Optional[FrozenSet[str]] = None

    def suppressed(self, code: str, line: int) -> bool:
        if self.file is not None and _covers(self.file, code):
            return True
        codes = self.lines.get(line)
        return codes is not None and _covers(codes, code)


def _covers(codes: FrozenSet[str], code: str) -> bool:
    return codes is ALL or "*" in codes or any(code.startswith(c) for c in codes)


def _codes(match) -> FrozenSet[str]:
    raw = match.group("codes")
    if not raw:
        return ALL
    return frozenset(c.upper() for c in re.split(r"[,\s]+", raw) if c)


def parse(source: str) -> Suppressions:
    out = Suppressions()
    if "noqa" not in source and "NOQA" not in source.upper():
        return out
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return out
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        file_match = _FILE_NOQA.search(tok.string)
        if file_match:
            codes = _codes(file_match)
            out.file = ALL if codes is ALL or out.file is ALL else (out.file or frozenset()) | codes
            continue
        match = _NOQA.search(tok.string)
        if match:
            out.lines[tok.start[0]] = _codes(match)
    # a noqa at the end of a multi-line string covers the string's lines, as in flake8
    for tok in tokens:
        if tok.type == tokenize.STRING and tok.start[0] != tok.end[0] and tok.end[0] in out.lines:
            for line in range(tok.start[0], tok.end[0]):
                out.lines.setdefault(line, out.lines[tok.end[0]])
    return out
