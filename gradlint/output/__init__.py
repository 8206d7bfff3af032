"""Output formats: each module renders a run's diagnostics as text."""

from __future__ import annotations

import importlib

FORMATS = ("text", "concise", "json", "json-lines", "sarif", "github", "gitlab", "junit")
_MODULES = {
    "text": "text", "concise": "concise", "json": "json_format", "json-lines": "json_lines",
    "sarif": "sarif", "github": "github", "gitlab": "gitlab", "junit": "junit",
}


def render(fmt: str, diagnostics, files, color: bool = False, statistics: bool = False,
           quiet: bool = False, fixed=None, unsafe: bool = False) -> str:
    """`files`: the paths that were checked (a count is accepted for the text formats)."""
    module = importlib.import_module(f"gradlint.output.{_MODULES[fmt]}")
    if fmt == "text":
        count = files if isinstance(files, int) else len(files)
        return module.render(diagnostics, count, color=color, statistics=statistics,
                             quiet=quiet, fixed=fixed, unsafe=unsafe)
    if fmt == "junit":
        return module.render(diagnostics, [] if isinstance(files, int) else files)
    return module.render(diagnostics)
