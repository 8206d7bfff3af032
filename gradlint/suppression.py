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
        # (a file-wide directive does not hide GL900: one that suppresses nothing would
        # otherwise hide its own report)
        if self.file is not None and code != "GL900" and _covers(self.file, code):
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
        if file_match and not own_line(tok):
            continue  # on a line with code it is no file-wide directive (as in Ruff)
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


def own_line(tok) -> bool:
    """Is the comment `tok` alone on its line (no code before it)?"""
    return not tok.line[:tok.start[1]].strip()


def misplaced_file_noqa(source: str) -> list:
    """Lines where `# gradlint: noqa` follows code: it does not silence the file there."""
    if "gradlint" not in source or "noqa" not in source.lower():
        return []
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        return [tok.start[0] for tok in tokens if tok.type == tokenize.COMMENT
                and _FILE_NOQA.search(tok.string) and not own_line(tok)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []


def unused(source: str, path: str, diagnostics, enabled) -> list:
    """GL900: `noqa` codes that suppress nothing. A code of a rule that is not selected
    is left alone (its findings were not looked for), and so are codes of other tools
    (not `GL...`) and a bare `# noqa`, which may serve another linter; a code that names
    no gradlint rule is reported as unknown."""
    from gradlint.diagnostics import Diagnostic, Edit, Fix
    from gradlint.rules import REGISTRY

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    by_line: Dict[int, set] = {}
    for d in diagnostics:
        by_line.setdefault(d.line, set()).add(d.code)
    # a noqa at the end of a multi-line string covers the string's lines
    spans = {tok.end[0]: range(tok.start[0], tok.end[0] + 1) for tok in tokens
             if tok.type == tokenize.STRING and tok.start[0] != tok.end[0]}
    everywhere = {d.code for d in diagnostics}
    lines = source.splitlines(keepends=True)
    out = []
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        file_level = _FILE_NOQA.search(tok.string) if own_line(tok) else None
        match = file_level or _NOQA.search(tok.string)
        if match is None or not match.group("codes"):
            if file_level is not None and not everywhere:
                out.append(("the file-wide `# gradlint: noqa` suppresses nothing", tok, match, []))
            continue
        line = tok.start[0]
        seen = everywhere if file_level else set().union(
            *(by_line.get(n, set()) for n in spans.get(line, (line,))))
        written = [c for c in re.split(r"[,\s]+", match.group("codes")) if c]
        dropped, reasons = [], []
        for code in written:
            upper = code.upper()
            if not upper.startswith("GL"):
                continue
            if not any(c.startswith(upper) for c in REGISTRY):
                dropped.append(code)
                reasons.append(f"{code} is not a gradlint rule")
            elif not any(c.startswith(upper) for c in seen) and any(
                    c.startswith(upper) for c in enabled if c != "GL900"):
                dropped.append(code)
                reasons.append(f"no {code} finding {'in the file' if file_level else 'on this line'}")
        if dropped:
            out.append(("; ".join(reasons), tok, match, [c for c in written if c not in dropped]))
    found = []
    for reason, tok, match, kept in out:
        line, col = tok.start
        start, end = col + match.start(), col + match.end()
        text = lines[line - 1]
        if kept:
            codes_at = col + match.start("codes")
            edit = Edit(line, codes_at + 1, line, col + match.end("codes") + 1, ", ".join(kept))
        elif match.end() == len(tok.string.rstrip()) and match.start() == 0:
            # the whole comment goes, with the spaces before it (or the line, if alone)
            before = len(text[:start].rstrip())
            edit = (Edit(line, 1, line + 1, 1, "") if before == 0 else
                    Edit(line, before + 1, line, col + len(tok.string) + 1, ""))
        else:
            edit = None
        fix = None if edit is None else Fix(
            "safe", "Remove the unused codes" if kept else "Remove the `noqa` comment", (edit,))
        found.append(Diagnostic("GL900", "unused-noqa", f"unused `noqa`: {reason}", path, line,
                                start + 1, line, end + 1, fix=fix))
    return found


def add_noqa(lint):
    """A lint function for `--add-noqa`: each line with findings gets one fix that adds
    `# noqa: CODES` (into the line's own `noqa` comment where it has one), applied by the
    fix engine like any fix (bytes, line endings and the parse check included).
    Findings on a line that cannot take a comment (a line continued by a backslash) are
    left as they are; GL000, GL900 and GL999 are never suppressed this way."""
    from gradlint.diagnostics import Edit, Fix
    from gradlint.fixes import python_lines

    def with_fixes(text):
        found = lint(text)
        wanted = [d for d in found if d.code not in ("GL000", "GL900", "GL999")]
        if not wanted:
            return []
        lines = python_lines(text)
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError, IndentationError):
            return []
        string_end = {}
        for tok in tokens:
            if tok.type == tokenize.STRING and tok.start[0] != tok.end[0]:
                for n in range(tok.start[0], tok.end[0]):
                    string_end[n] = tok.end[0]
        comments = {tok.start[0]: tok for tok in tokens if tok.type == tokenize.COMMENT}
        by_line: Dict[int, list] = {}
        for d in wanted:
            by_line.setdefault(string_end.get(d.line, d.line), []).append(d)
        out = []
        for line, ds in sorted(by_line.items()):
            body = lines[line - 1].rstrip("\r\n")
            if body.rstrip().endswith("\\"):
                continue
            codes = sorted({d.code for d in ds})
            tok = comments.get(line)
            match = _NOQA.search(tok.string) if tok is not None else None
            if match is not None and match.group("codes"):
                have = [c for c in re.split(r"[,\s]+", match.group("codes")) if c]
                merged = ", ".join(have + [c for c in codes if c not in {h.upper() for h in have}])
                start = tok.start[1] + match.start("codes") + 1
                edit = Edit(line, start, line, tok.start[1] + match.end("codes") + 1, merged)
            else:
                end = len(body.rstrip()) + 1
                edit = Edit(line, end, line, len(body) + 1, f"  # noqa: {', '.join(codes)}")
            fix = Fix("safe", "Add `noqa`", (edit,))
            out.extend(_with_fix(d, fix if i == 0 else None) for i, d in enumerate(ds))
        return out

    return with_fixes


def _with_fix(diagnostic, fix):
    from dataclasses import replace

    return replace(diagnostic, fix=fix)
