"""Checking a rule's marked fixtures, as gradlint checks its own (part of the rule API).

A fixture is a Python file whose lines that must be reported end with a marker,
`# error: TL001` (several codes: `# error: TL001, TL002`). Every other line must not
be. Where `name.fixed.py` sits next to `name.py`, applying every fix (safe and unsafe)
to `name.py` must give that file's text, byte for byte.

    from gradlint.testing import check_fixtures

    def test_fixtures():
        check_fixtures("tests/fixtures", select=["TL"])
"""

from __future__ import annotations

import os
import re
from typing import Iterable, List, Set, Tuple

MARKER = re.compile(r"#\s*error:\s*([A-Z]{1,3}[0-9]{3}(?:\s*,\s*[A-Z]{1,3}[0-9]{3})*)")


def expected_findings(text: str) -> Set[Tuple[int, str]]:
    """(line, code) pairs marked in a fixture."""
    out = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            out.update((number, code) for code in re.split(r"\s*,\s*", match.group(1)))
    return out


def fixture_problems(path: str, select: Iterable[str], settings=None) -> List[str]:
    """What is wrong with one fixture's findings (empty: nothing)."""
    from gradlint import plugins
    from gradlint.config import Settings
    from gradlint.fixes import fix_source
    from gradlint.linter import lint_source

    settings = (settings or Settings()).with_overrides(select=tuple(select))
    plugins.ensure(settings)
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    chosen = settings.enabled_codes(path)
    if not chosen:
        raise AssertionError(f"select={list(select)!r} selects no rule: is the plugin "
                             f"installed, or the local-rules folder configured?")
    expected = {(line, code) for line, code in expected_findings(text) if code in chosen}

    def lint(source: str):
        return lint_source(source, path, settings, parse_always=True)

    found = lint(text)
    problems = [f"{path}:{d.line}: {d.code} {d.message}" for d in found if d.code == "GL999"]
    got = {(d.line, d.code) for d in found if d.code in chosen}
    problems += [f"{path}:{line}: {code} expected, not reported" for line, code in
                 sorted(expected - got)]
    problems += [f"{path}:{line}: {code} reported, not marked" for line, code in
                 sorted(got - expected)]
    fixed_path = path[:-3] + ".fixed.py"
    if os.path.exists(fixed_path):
        with open(fixed_path, encoding="utf-8", newline="") as handle:
            want = handle.read()
        outcome = fix_source(text, lint, unsafe=True)
        if outcome.error is not None:
            problems.append(f"{path}: the fixes failed: {outcome.error}")
        elif outcome.source != want:
            problems.append(f"{path}: the fixed text differs from {fixed_path}")
    return problems


def check_fixtures(folder: str, select: Iterable[str], settings=None) -> int:
    """Check every fixture under `folder` (`*.py`, not `*.fixed.py`); raise
    AssertionError listing every difference. Returns how many fixtures were checked."""
    paths = sorted(os.path.join(top, name) for top, _, names in os.walk(folder)
                   for name in names if name.endswith(".py") and not name.endswith(".fixed.py"))
    if not paths:
        raise AssertionError(f"no fixtures under {folder}")
    problems: List[str] = []
    for path in paths:
        problems.extend(fixture_problems(path, select, settings))
    if problems:
        raise AssertionError("\n".join(problems))
    return len(paths)

