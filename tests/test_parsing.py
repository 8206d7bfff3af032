"""The parse without libcst's per-node re-check gives the same trees, and puts it back."""

import dataclasses
import inspect
import subprocess
import sys

import libcst as cst
import pytest

from conftest import FIXTURES, ROOT, fixture_files
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
    own = {cls: cls.__dict__["__init__"] for cls in parsing._fast_inits()}
    _check_is_on()
    parsing.parse_module("x = 1\n")
    _check_is_on()
    with pytest.raises(cst.ParserSyntaxError):
        parsing.parse_module("def (:\n")
    _check_is_on()
    assert all(cls.__dict__["__init__"] is init for cls, init in own.items())


def test_the_parser_builds_its_nodes_through_the_replaced_hooks():
    seen = []
    owner = parsing._hook_owner()
    original = parsing._unchecked

    def spy(self):
        seen.append(type(self).__name__)

    parsing._unchecked = spy
    try:
        parsing.parse_module("y = f(lambda: x)\n")
    finally:
        parsing._unchecked = original
    # a rarer class goes through its own __init__ with the check swapped out; the common
    # ones through the plain __init__, which has no check to call
    assert "Lambda" in seen
    assert "Call" not in seen and "Name" not in seen
    assert owner.__dict__["__post_init__"] is not spy


def test_the_common_classes_get_a_plain_init():
    # if a libcst release changes how nodes are made, the parse gets slower: say so here
    inits = parsing._fast_inits()
    assert len(inits) == len(parsing._COMMON)
    assert all(cls.__dict__["__init__"] is not init for cls, init in inits.items())


@pytest.mark.parametrize("name", parsing._COMMON)
def test_the_plain_init_takes_the_same_arguments_and_defaults(name):
    cls = getattr(cst, name)
    fast = inspect.signature(parsing._fast_inits()[cls]).parameters
    own = inspect.signature(cls.__dict__["__init__"]).parameters
    assert list(fast) == list(own)
    for field in dataclasses.fields(cls):
        if field.default_factory is not dataclasses.MISSING:
            assert fast[field.name].default is dataclasses.MISSING
        else:
            assert fast[field.name].default == own[field.name].default


def _required_fields(cls):
    # every required field of these classes is a name, or a Name's own text
    return {f.name: "x" if cls is cst.Name else cst.Name("x") for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}


@pytest.mark.parametrize("name", ["Name", "Comma", "Arg", "Newline", "Param", "Attribute"])
def test_a_node_built_by_the_plain_init_equals_the_checked_one(name):
    cls = getattr(cst, name)
    required = _required_fields(cls)
    node = cls.__new__(cls)
    parsing._fast_inits()[cls](node, **required)
    assert node.deep_equals(cls(**required))
    # a field with a default factory gets its own fresh default, as the dataclass does
    for field in dataclasses.fields(cls):
        if field.default_factory is not dataclasses.MISSING:
            assert getattr(node, field.name).deep_equals(field.default_factory())


def _installed():
    return cst.Name.__dict__["__init__"] is parsing._fast_inits()[cst.Name]


def test_held_keeps_the_hooks_across_parses_and_puts_them_back():
    with parsing.held():
        assert not _installed()  # nothing is swapped before a parse needs it
        parsing.parse_module("x = 1\n")
        assert _installed()
        with parsing.held():
            parsing.parse_module("y = 2\n")
        assert _installed()  # the outer block still holds them
    assert not _installed()
    _check_is_on()


def test_held_puts_the_hooks_back_after_an_error():
    with pytest.raises(cst.ParserSyntaxError):
        with parsing.held():
            parsing.parse_module("x = 1\n")
            parsing.parse_module("def (:\n")
    assert not _installed()
    _check_is_on()


def test_a_serial_run_swaps_the_hooks_once(monkeypatch):
    from gradlint.config import Settings
    from gradlint.runner import lint_paths

    installs = []
    install = parsing._install
    monkeypatch.setattr(parsing, "_install", lambda: (installs.append(1), install()))
    result = lint_paths([str(FIXTURES / "gl001")], Settings(), jobs=1)
    assert result.files > 5 and len(installs) == 1
    assert not _installed()
    _check_is_on()


def test_a_worker_holds_the_hooks_for_its_lifetime():
    code = ("import libcst as cst\nfrom gradlint import parsing\nparsing.hold_for_good()\n"
            "parsing.parse_module('x = 1\\n')\nparsing.parse_module('y = 2\\n')\n"
            "assert cst.Name.__dict__['__init__'] is parsing._fast_inits()[cst.Name]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_parent_index_agrees_with_the_plain_walk():
    """`index_tree` (one walk written out in full, for rules that look at the source)
    finds the same parents and the same `Name`s, in the same order, as a walk over
    `iter_children`."""
    from gradlint.analysis.walk import index_tree, iter_children

    for path in fixture_files()[:80] + [ROOT / "gradlint" / "analysis" / "exprs.py"]:
        module = cst.parse_module(path.read_text())
        parents, names = index_tree(module)
        expected, expected_names = {}, {}
        stack = [module]
        while stack:
            node = stack.pop()
            for child in iter_children(node):
                expected[id(child)] = node
                stack.append(child)
                if isinstance(child, cst.Name):
                    expected_names.setdefault(child.value, []).append(id(child))
        assert {k: id(v) for k, v in parents.items()} == {k: id(v) for k, v in expected.items()}
        assert {k: [id(n) for n in v] for k, v in names.items()} == expected_names
