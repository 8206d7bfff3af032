"""Every fixture gets exactly the findings marked in its source: none missing, none extra."""

from collections import Counter

import pytest

from conftest import FIXTURES, expected_findings, fixture_files
from gradlint.config import Settings
from gradlint.linter import lint_source
from gradlint.rules import REGISTRY


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_findings_match_markers(path):
    text = path.read_text()
    expected = expected_findings(text)
    found = {(d.line, d.code) for d in lint_source(text, str(path), Settings(select=("ALL",)))}
    assert found == expected
    if path.name.startswith("flagged_"):
        assert expected, "a flagged fixture must mark at least one finding"
    else:
        assert path.name.startswith("clean_") and not expected


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_prefilter_does_not_change_results(path):
    text = path.read_text()
    settings = Settings(select=("ALL",))
    with_filter = lint_source(text, str(path), settings, prefilter=True)
    without = lint_source(text, str(path), settings, prefilter=False)
    assert with_filter == without


def test_every_rule_has_enough_fixtures():
    """10 flagged and 10 clean programs for the core rules GL001-GL004, 8 and 8 for the rest."""
    counts = Counter()
    for path in fixture_files():
        counts[(path.parent.name, path.name.split("_")[0])] += 1
    for code, rule in REGISTRY.items():
        if rule.check is None:
            continue
        folder = code.lower()
        assert (FIXTURES / folder).is_dir(), f"no fixtures for {code}"
        need = 10 if code <= "GL004" else 8
        assert counts[(folder, "flagged")] >= need, code
        assert counts[(folder, "clean")] >= need, code


def test_findings_name_variables_and_related_locations():
    path = FIXTURES / "gl004" / "flagged_article_example.py"
    [diag] = lint_source(path.read_text(), str(path))
    assert "`c`" in diag.message and "`a.grad`" in diag.message
    lines = {r.line for r in diag.related}
    assert lines == {9, 11}  # the backward and the .grad read


def test_data_write_message_does_not_suggest_a_rewrite_that_would_raise():
    """GL102 suggests `with torch.no_grad(): ...` only where that is safe: a tensor a graph
    still waiting for backward saved would make that backward raise (issue 23)."""
    path = FIXTURES / "gl102" / "flagged_data_write_during_forward.py"
    [diag] = lint_source(path.read_text(), str(path), Settings(select=("GL102",)))
    assert "no_grad" not in diag.help and "after the backward" in diag.help
    assert "at line 12" in diag.message  # the sigmoid that saved `h`
    safe = FIXTURES / "gl102" / sorted(p.name for p in (FIXTURES / "gl102").glob("flagged_*.py")
                                       if "forward" not in p.name)[0]
    found = lint_source(safe.read_text(), str(safe), Settings(select=("GL102",)))
    assert found and all("with torch.no_grad():" in d.help for d in found)
