"""One file (or standard input): read, lint, fix, write."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

from gradlint.config import Settings
from gradlint.diagnostics import Diagnostic
from gradlint.files import WriteError, read_source, write_atomic
from gradlint.linter import lint_source


@dataclass
class RunResult:
    diagnostics: List[Diagnostic] = field(default_factory=list)
    files: int = 0
    paths: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)  # paths that could not be used or written
    notices: List[str] = field(default_factory=list)  # things skipped, worth saying (exit 0)
    fixed: int = 0
    diffs: List[str] = field(default_factory=list)
    fixes: Dict[str, Dict[str, int]] = field(default_factory=dict)  # path -> code -> fixed

    def merge(self, other: "RunResult") -> None:
        self.diagnostics.extend(other.diagnostics)
        self.files += other.files
        self.paths.extend(other.paths)
        self.errors.extend(other.errors)
        self.notices.extend(other.notices)
        self.fixed += other.fixed
        self.diffs.extend(other.diffs)
        self.fixes.update(other.fixes)


@dataclass(frozen=True)
class FixMode:
    fix: bool = False
    unsafe: bool = False
    diff: bool = False
    add_noqa: bool = False  # write `# noqa: CODE` on every line with a finding

    @property
    def active(self) -> bool:
        return self.fix or self.diff or self.add_noqa


def lint_file(path: str, settings: Settings, prefilter: bool, verbose: bool, mode: FixMode,
              source=None, named: bool = False) -> RunResult:
    """One file's result: read (unless `source` is given), linted, fixed if asked.
    `named`: named on the command line, so parsed even where no rule needs its words."""
    result = RunResult(files=1, paths=[path])
    enabled = settings.enabled_codes(path)
    if path.endswith(".ipynb"):
        lint_notebook(path, settings, enabled, prefilter, verbose, mode, result, named)
        return result
    source = source or read_source(path)
    if source.text is None:
        if "GL000" in enabled:
            result.diagnostics.append(Diagnostic("GL000", "syntax-error", source.error, path,
                                                 1, 1, 1, 1))
        return result

    def lint(text):
        return lint_source(text, path, settings, enabled, prefilter=prefilter, verbose=verbose,
                           parse_always=named)

    from gradlint.suppression import misplaced_file_noqa

    result.notices.extend(
        f"{path}:{line}: `# gradlint: noqa` after code does not silence the file; put it on a "
        f"line of its own (or use `# noqa` for this line)" for line in misplaced_file_noqa(source.text))
    if mode.add_noqa:
        from gradlint.suppression import add_noqa

        fix_one(path, source, add_noqa(lint), mode, result)
    elif mode.active:
        fix_one(path, source, lint, mode, result)
    else:
        result.diagnostics.extend(lint(source.text))
    return result


def lint_stdin(data: bytes, path: str, settings: Settings, prefilter: bool = True,
               verbose: bool = False, mode: FixMode = FixMode()) -> Tuple[RunResult, Optional[bytes]]:
    """Lint bytes from standard input named `path`; with --fix also the fixed bytes: the
    input itself where nothing was fixed, else the fixed text in the input's encoding
    (BOM and coding cookie kept)."""
    import os
    import tempfile

    from gradlint.files import decode

    result = RunResult(files=1, paths=[path])
    enabled = settings.enabled_codes(path)
    if path.endswith(".ipynb"):
        # notebooks go through the same code as files, on a private copy
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "stdin.ipynb")
            with open(copy, "wb") as handle:
                handle.write(data)
            lint_notebook(copy, settings, enabled, prefilter, verbose,
                          FixMode(fix=mode.fix, unsafe=mode.unsafe), result)
            with open(copy, "rb") as handle:
                fixed = handle.read()
        result.diagnostics = [replace(d, path=path, related=tuple(
            replace(r, path=path) for r in d.related)) for d in result.diagnostics]
        result.errors = [e.replace(copy, path) for e in result.errors]
        return result, fixed if mode.fix else None
    source = decode(path, data)
    if source.text is None:
        result.diagnostics.append(Diagnostic("GL000", "syntax-error", source.error, path, 1, 1, 1, 1))
        return result, data if mode.fix else None

    def lint(text):
        return lint_source(text, path, settings, enabled, prefilter=prefilter, verbose=verbose,
                           parse_always=True)  # (standard input is named: `-`)

    if not mode.fix:
        result.diagnostics = lint(source.text)
        return result, None
    from gradlint.fixes import fix_source

    outcome = fix_source(source.text, lint, mode.unsafe)
    if outcome.error:
        result.errors.append(f"{path}: {outcome.error}")
    if outcome.source == source.text:
        return _fixed_stdin(result, outcome), data
    try:
        if source.encoding is None:
            raise LookupError("its encoding does not give its bytes back unchanged")
        fixed = outcome.source.encode(source.encoding)
    except (UnicodeEncodeError, LookupError) as exc:
        result.errors.append(f"{path}: not fixed: {exc}")
        result.diagnostics = lint(source.text)
        return result, data
    return _fixed_stdin(result, outcome), fixed


def _fixed_stdin(result: RunResult, outcome) -> RunResult:
    result.diagnostics = outcome.remaining
    result.fixed = outcome.fixed
    if outcome.by_code:
        result.fixes[result.paths[0] if result.paths else "-"] = outcome.by_code
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
                write_atomic(path, outcome.source, source)
            except WriteError as exc:
                result.errors.append(str(exc))
                # nothing was written: the findings of the original text still stand
                result.diagnostics.extend(lint(source.text))
                return
        result.fixed += outcome.fixed
        result.fixes[path] = outcome.by_code
    result.diagnostics.extend(outcome.remaining)


def lint_notebook(path, settings, enabled, prefilter, verbose, mode: FixMode,
                  result: RunResult, named: bool = False) -> None:
    from gradlint import notebook
    from gradlint.fixes import fix_source

    def report(message):
        if "GL000" in enabled:
            result.diagnostics.append(Diagnostic("GL000", "syntax-error", message, path, 1, 1, 1, 1))

    source = read_source(path)
    if source.text is None:
        report(source.error)
        return
    try:
        nb = notebook.load(source.text)
    except notebook.NotebookError as exc:
        report(str(exc))
        return

    def lint(text):
        return lint_source(text, path, settings, enabled, prefilter=prefilter, verbose=verbose,
                           parse_always=named)

    if not mode.active or mode.add_noqa:  # (`--add-noqa` leaves notebooks as they are)
        result.diagnostics.extend(notebook.map_diagnostic(nb, d) for d in lint(nb.joined))
        return
    outcome = fix_source(nb.joined, lint, mode.unsafe, nb.protected)
    if outcome.error:
        result.errors.append(f"{path}: {outcome.error}")
    remaining = [notebook.map_diagnostic(nb, d) for d in outcome.remaining]
    if outcome.source != nb.joined:
        if not notebook.layout_kept(nb):
            result.errors.append(f"{path}: not fixed: its JSON layout cannot be written back "
                                 f"unchanged (re-save it with Jupyter first)")
            result.diagnostics.extend(notebook.map_diagnostic(nb, d) for d in lint(nb.joined))
            return
        new_text = notebook.write_back(nb, outcome.source, outcome.protected)
        if mode.diff:
            result.diffs.append(unified_diff(path, source.text, new_text))
        else:
            try:
                write_atomic(path, new_text, source)
            except WriteError as exc:
                result.errors.append(str(exc))
                result.diagnostics.extend(notebook.map_diagnostic(nb, d) for d in lint(nb.joined))
                return
        # cells and lines of the remaining findings refer to the fixed notebook
        remaining = [notebook.map_diagnostic(notebook.load(new_text), d)
                     for d in outcome.remaining]
        result.fixed += outcome.fixed
        result.fixes[path] = outcome.by_code
    result.diagnostics.extend(remaining)


def unified_diff(path: str, before: str, after: str) -> str:
    import difflib

    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=path, tofile=path)
    out = []
    for line in lines:
        out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)
