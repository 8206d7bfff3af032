"""Many files: discover, read, lint, collect (in path order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from gradlint.config import Settings
from gradlint.diagnostics import Diagnostic
from gradlint.files import discover, read_source
from gradlint.linter import lint_source


@dataclass
class RunResult:
    diagnostics: List[Diagnostic] = field(default_factory=list)
    files: int = 0
    errors: List[str] = field(default_factory=list)  # paths that could not be used


def lint_paths(paths: List[str], settings: Optional[Settings] = None,
               prefilter: bool = True, verbose: bool = False) -> RunResult:
    settings = settings or Settings()
    files, errors = discover(list(paths), settings)
    result = RunResult(errors=errors)
    for path in files:
        result.files += 1
        source = read_source(path)
        enabled = settings.enabled_codes(path)
        if source.text is None:
            if "GL000" in enabled:
                result.diagnostics.append(Diagnostic("GL000", "syntax-error", source.error, path,
                                                     1, 1, 1, 1))
            continue
        result.diagnostics.extend(lint_source(source.text, path, settings, enabled,
                                              prefilter=prefilter, verbose=verbose))
    result.diagnostics.sort(key=Diagnostic.sort_key)
    return result
