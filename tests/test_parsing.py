"""The parse without libcst's per-node re-check gives the same trees, and puts it back."""

import libcst as cst
import pytest

from conftest import FIXTURES, ROOT
from gradlint import parsing

SOURCES = sorted(FIXTURES.rglob("*.py")) + sorted((ROOT / "gradlint").rglob("*.py"))


def test_the_hook_is_there():
    # if a libcst release moves it, the parse silently becomes the plain one: say so here
    assert parsing._hook_owner() is not None


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_tree_as_the_checked_parse(path):
    source = path.read_text(encoding="utf-8")
    fast = parsing.parse_module(source)
    assert fast.deep_equals(cst.parse_module(source))
    assert fast.code == source


def _check_is_on():
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")


def test_the_check_is_back_after_a_parse_and_after_a_failed_one():
    _check_is_on()
    parsing.parse_module("x = 1\n")
    _check_is_on()
    with pytest.raises(cst.ParserSyntaxError):
        parsing.parse_module("def (:\n")
    _check_is_on()


def test_the_parser_builds_its_nodes_through_the_replaced_hook():
    seen = []
    owner = parsing._hook_owner()
    original = parsing._unchecked

    def spy(self):
        seen.append(type(self).__name__)

    parsing._unchecked = spy
    try:
        parsing.parse_module("y = f(x)\n")
    finally:
        parsing._unchecked = original
    assert "Call" in seen and "Name" in seen
    assert owner.__dict__["__post_init__"] is not spy
