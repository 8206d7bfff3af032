"""Many files: discover, read, lint (and fix), collect in path order."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import List, Optional

from gradlint.config import Settings
from gradlint.diagnostics import Diagnostic
from gradlint.files import WriteError, discover, read_source, write_atomic
from gradlint.linter import lint_source


@dataclass
class RunResult:
    diagnostics: List[Diagnostic] = field(default_factory=list)
    files: int = 0
    paths: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)  # paths that could not be used or written
    fixed: int = 0
    diffs: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class FixMode:
    fix: bool = False
    unsafe: bool = False
    diff: bool = False

    @property
    def active(self) -> bool:
        return self.fix or self.diff


def lint_paths(paths: List[str], settings: Optional[Settings] = None, prefilter: bool = True,
               verbose: bool = False, mode: FixMode = FixMode(),
               force_exclude: bool = False) -> RunResult:
    settings = settings or Settings()
    files, errors = discover(list(paths), settings, force_exclude)
    result = RunResult(errors=errors)
    for path in files:
        result.files += 1
        result.paths.append(path)
        source = read_source(path)
        enabled = settings.enabled_codes(path)
        if source.text is None:
            if "GL000" in enabled:
                result.diagnostics.append(Diagnostic("GL000", "syntax-error", source.error, path,
                                                     1, 1, 1, 1))
            continue

        def lint(text, path=path, enabled=enabled):
            return lint_source(text, path, settings, enabled, prefilter=prefilter,
                               verbose=verbose)

        if not mode.active:
            result.diagnostics.extend(lint(source.text))
            continue
        fix_one(path, source, lint, mode, result)
    result.diagnostics.sort(key=Diagnostic.sort_key)
    return result


def fix_one(path, source, lint, mode: FixMode, result: RunResult) -> None:
    from gradlint.fixes import fix_source

    outcome = fix_source(source.text, lint, mode.unsafe)
    if outcome.error:
        result.errors.append(f"{path}: {outcome.error}")
    if outcome.source != source.text:
        if mode.diff:
            result.diffs.append(unified_diff(path, source.text, outcome.source))
        else:
            try:
                write_atomic(path, outcome.source, source.encoding)
            except WriteError as exc:
                result.errors.append(str(exc))
                # nothing was written: the findings of the original text still stand
                result.diagnostics.extend(lint(source.text))
                return
        result.fixed += outcome.fixed
    result.diagnostics.extend(outcome.remaining)


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=path, tofile=path)
    out = []
    for line in lines:
        out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)
