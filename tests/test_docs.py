"""The rule docs and the README are checked against the code."""

import re
from pathlib import Path

import pytest

from conftest import ROOT
from gradlint.config import Settings
from gradlint.linter import lint_source
from gradlint.rules import REGISTRY

CHECKED = [r for r in REGISTRY.values() if r.check is not None]


@pytest.mark.parametrize("rule", CHECKED, ids=lambda r: r.code)
def test_docs_example_is_flagged(rule):
    found = lint_source(rule.docs.example, "example.py", Settings(select=("ALL",)))
    assert rule.code in {d.code for d in found}


@pytest.mark.parametrize("rule", CHECKED, ids=lambda r: r.code)
def test_docs_use_instead_is_clean(rule):
    found = lint_source(rule.docs.use_instead, "use_instead.py", Settings(select=("ALL",)))
    assert found == []


@pytest.mark.parametrize("rule", list(REGISTRY.values()), ids=lambda r: r.code)
def test_docs_have_every_section(rule):
    text = rule.render_docs()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead",
                    "## Fix safety"):
        assert heading in text
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)


def test_readme_rules_table_matches_registry():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `?(GL\d{3})`? \| `([a-z-]+)` \| (.+?) \| (yes|no) \| (on|off) \|$",
                      readme, re.M)
    table = {code: (name, fixable, default) for code, name, _, fixable, default in rows}
    expected = {r.code: (r.name, "yes" if r.fixable else "no", "on" if r.default_on else "off")
                for r in REGISTRY.values()}
    assert table == expected


def test_readme_states_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[test]' && pytest" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pytest" in ci


def _cli_sections():
    """docs/cli.md split at its `## ` headings: heading -> text."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    return {part.splitlines()[0]: part for part in parts[1:]}


def test_cli_docs_cover_every_command_and_option():
    import click

    from gradlint.cli import main

    sections = _cli_sections()
    for name, command in main.commands.items():
        heading = next((h for h in sections if h.startswith((f"`gradlint {name}`",
                                                             f"`gradlint {name} "))), None)
        assert heading is not None, f"docs/cli.md has no section for `gradlint {name}`"
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for opt in param.opts + param.secondary_opts:
                assert f"`{opt}" in sections[heading], f"`gradlint {name} {opt}` is not in docs/cli.md"
            if param.envvar:
                assert f"`{param.envvar}`" in sections["Environment"]


def test_cli_docs_cover_every_setting():
    from gradlint.configfile import _KNOWN_KEYS

    table = _cli_sections()["Settings: `[tool.gradlint]`"]
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.M))
    assert documented == set(_KNOWN_KEYS)


def test_generated_docs_are_up_to_date():
    """docs/rules/ (the pages JSON's `url` links to) and the README's example output are
    written by scripts/generate_docs.py from the rules and a real run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate_docs", Path(__file__).resolve().parent.parent / "scripts" / "generate_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
