"""gradlint's own text of a node is libcst's (`Module.code_for_node`), character for
character, on every node of every fixture, of gradlint's sources and of generated
programs; so is a header's first line."""

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings

from conftest import ROOT, fixture_files
from gradlint.analysis.walk import iter_tree
from gradlint.nodetext import _EMIT, header_line, node_text
from gradlint.rules.positions import _header_only

HEADED = (cst.For, cst.While, cst.With, cst.If)
TRICKY = '''\
x = (  # a comment
    a .b ( c ,d= 1 ,*e, ** f , )
)
y = a[1:2, ::3, *s] ; z = -(a) ** ~b if not c else (d,)
t = [*a, b ,] , (  c  ) , ()
async def f():
    async for (i, j) in g ( ) :
        pass
    async with a as (b, c), d :
        pass
    return
with (
    open(p) as h,
    open(q),
):
    pass
with a, \\
     b:
    pass
while not (a is not b and c not in d) :
    v @= w ; v //= 2
if a <= b < c != d:
    pass
elif e:
    pass
r = lambda: 0j + 1.5e3 + 0x1F + f"{a!r}" "s" + b"x"
'''


def _same_as_libcst(module):
    """How many nodes were compared, and how many of them are kinds written out here."""
    compared = written = 0
    for node in iter_tree(module):
        try:
            expected = module.code_for_node(node)
        except Exception as exc:  # a node libcst cannot generate on its own
            with pytest.raises(type(exc)):
                node_text(module, node)
            continue
        assert node_text(module, node) == expected, expected
        compared += 1
        written += type(node) in _EMIT
        if type(node) in HEADED:
            first = module.code_for_node(_header_only(node)).split("\n", 1)[0].rstrip("\r")
            assert header_line(module, node) == first
    return compared, written


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_tricky_text(newline):
    module = cst.parse_module(TRICKY.replace("\n", newline))
    compared, written = _same_as_libcst(module)
    assert compared >= 190 and written >= 110


def test_nodes_built_by_hand():
    """Built nodes leave commas, `=` and spaces to their defaults (parsed ones never do)."""
    a, b = cst.Name("a"), cst.Name("b")
    built = [
        cst.Call(cst.Name("f"), args=[cst.Arg(a), cst.Arg(b, keyword=cst.Name("k")),
                                      cst.Arg(a, star="*")]),
        cst.Tuple([cst.Element(a)]), cst.Tuple([cst.Element(a), cst.StarredElement(b)]),
        cst.List([cst.Element(a), cst.Element(b)]), cst.Tuple([]),
        cst.Subscript(a, [cst.SubscriptElement(cst.Index(b)),
                          cst.SubscriptElement(cst.Slice(None, None, step=a))]),
        cst.Return(a), cst.Return(), cst.Expr(cst.Call(a)),
        cst.Assign([cst.AssignTarget(a)], cst.Integer("1")),
        cst.AugAssign(a, cst.AddAssign(), b), cst.UnaryOperation(cst.Not(), a),
    ]
    module = cst.Module(body=[])
    for node in built:
        assert node_text(module, node) == module.code_for_node(node)
    assert [node_text(module, n) for n in built[:2]] == ["f(a, k = b, *a)", "(a,)"]


def test_every_fixture_and_source_file():
    paths = fixture_files() + sorted((ROOT / "gradlint").rglob("*.py"))
    compared = written = 0
    for path in paths:
        try:
            module = cst.parse_module(path.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue
        counts = _same_as_libcst(module)
        compared, written = compared + counts[0], written + counts[1]
    assert compared > 50_000 and written > 20_000


def test_old_mac_line_ends_take_libcst_way():
    """With "\\r" alone for a newline, the stub body would run into the header's line:
    there is no header line of gradlint's own, and positions use libcst's."""
    module = cst.parse_module("for x in y:\r    pass\r")
    assert header_line(module, module.body[0]) is None


def test_kinds_not_written_out_are_generated_by_libcst_on_their_own(monkeypatch):
    module = cst.parse_module("f(a, b)\n")
    call = module.body[0].body[0].value
    monkeypatch.delitem(_EMIT, cst.Name)
    calls = []
    original = cst.Module.code_for_node
    monkeypatch.setattr(cst.Module, "code_for_node",
                        lambda self, n: calls.append(n) or original(self, n))
    assert node_text(module, call) == "f(a, b)"
    assert [type(n) for n in calls] == [cst.Name] * 3


class _OtherElement(cst.Element):
    """An element kind libcst might add: it takes its parent's arguments."""


def test_a_child_that_takes_its_parents_arguments_sends_the_whole_node_to_libcst(monkeypatch):
    module = cst.parse_module("t = (a, b)\n")
    pair = module.body[0].body[0].value
    odd = pair.with_changes(elements=[_OtherElement(value=e.value, comma=e.comma)
                                      for e in pair.elements])
    calls = []
    original = cst.Module.code_for_node
    monkeypatch.setattr(cst.Module, "code_for_node",
                        lambda self, n: calls.append(n) or original(self, n))
    assert node_text(module, odd) == "(a, b)"
    assert calls == [odd]


hypothesmith = pytest.importorskip("hypothesmith")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_generated_programs(source):
    try:
        module = cst.parse_module(source)
    except Exception:
        return
    _same_as_libcst(module)
