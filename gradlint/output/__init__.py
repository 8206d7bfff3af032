"""Output formats: each module renders a run's diagnostics as text."""

from __future__ import annotations

import importlib

FORMATS = ("full", "text", "concise", "json", "json-lines", "sarif", "github", "gitlab", "junit",
           "pylint", "rdjson")
_MODULES = {
    "full": "full", "text": "text", "concise": "concise", "json": "json_format",
    "json-lines": "json_lines", "sarif": "sarif", "github": "github", "gitlab": "gitlab",
    "junit": "junit", "pylint": "pylint", "rdjson": "rdjson",
}


def render(fmt: str, diagnostics, files, color: bool = False, quiet: bool = False, fixed=None,
           unsafe: bool = False, failed: bool = False, sources=None, fixes=None) -> str:
    """`files`: the paths that were checked (a count is accepted for the text formats).
    `quiet`: the findings without the summary; `failed`: a path could not be used (so
    the summary does not say that all checks passed); `sources`: path -> text of what
    was not read from a file (standard input), for `full`; `fixes`: path -> rule -> how
    many were fixed, listed by the text formats (`--show-fixes`)."""
    module = importlib.import_module(f"gradlint.output.{_MODULES[fmt]}")
    if fmt in ("text", "full"):
        count = files if isinstance(files, int) else len(files)
        extra = {"sources": sources} if fmt == "full" else {}
        return module.render(diagnostics, count, color=color, quiet=quiet, fixed=fixed,
                             unsafe=unsafe, failed=failed, fixes=fixes, **extra)
    if fmt == "junit":
        return module.render(diagnostics, [] if isinstance(files, int) else files)
    return module.render(diagnostics)
