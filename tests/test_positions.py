"""The fast positions (CPython's statement positions + one statement regenerated) agree
with libcst's full PositionProvider on every node the analysis records."""

import libcst as cst
import pytest

from conftest import ROOT, fixture_files
from gradlint.analysis.interp import Interpreter
from gradlint.rules.positions import Positions

TRICKY = '''\
import torch
w = torch.randn(3, requires_grad=True) ; v = (w *
    2).exp()
if True: z = v.sum(); z.backward()
def f(x):
\tif x:
\t\ty = (w
  * 3)
\t\tprint(y.grad, "é☕", y.grad)
\treturn torch.nn.functional.mse_loss(
\t\tx,
\t\tw,
\t)
with torch.no_grad(): c = v + 1
for i in range(2):
    print(torch.autograd.grad(v.sum(), w,
                              retain_graph=True), v.grad)
'''


def _check(source):
    module = cst.parse_module(source)
    interp = Interpreter(module, source_length=len(source))
    interp.run()
    positions = Positions(module, source, interp.owners)
    placed = 0
    for node in interp.nodes.values():
        fast = positions._fast(node)
        if fast is not None:
            placed += 1
            assert fast == positions._slow(node), (type(node).__name__, interp.code(node))
    return placed, len(interp.nodes)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_tricky_layout(newline):
    placed, total = _check(TRICKY.replace("\n", newline))
    assert placed >= total * 0.8


def test_characters_that_split_lines_for_str_but_not_for_python():
    # a form feed between definitions (old code has them) and separators in a string
    source = TRICKY.replace("def f(x):", "\x0c\ndef f(x):").replace('"é☕"', '"é\x1c☕\x0c"')
    placed, total = _check(source)
    assert placed >= total * 0.8


def test_decorated_definitions():
    # CPython's span of a def or class starts below its decorators, libcst's above them
    source = (
        "import torch\n\n@torch.no_grad()\ndef f(x):\n    y = torch.no_grad()\n"
        "    return torch.no_grad()\n\nclass C(torch.nn.Module):\n    @torch.no_grad()\n"
        "    def g(self):\n        torch.no_grad()\n        return 1\n")
    placed, total = _check(source)
    assert placed >= 1


def test_every_fixture():
    placed = total = 0
    for path in fixture_files() + sorted((ROOT / "examples").glob("*.py")):
        p, t = _check(path.read_text())
        placed, total = placed + p, total + t
    assert placed >= 0.95 * total


def test_nodes_in_a_statement_found_by_its_text():
    """The way that spares the file CPython's parse: a node inside a one-line simple
    statement whose text occurs once in the file is placed within that statement. It
    agrees with libcst on every node of every fixture it places."""
    placed = 0
    for path in fixture_files() + sorted((ROOT / "examples").glob("*.py")):
        source = path.read_text()
        module = cst.parse_module(source)
        interp = Interpreter(module, source_length=len(source))
        interp.run()
        positions = Positions(module, source, interp.owners)
        for node in interp.nodes.values():
            found = positions._in_unique_statement(node)
            if found is not None:
                placed += 1
                assert found == positions._slow(node), (path.name, interp.code(node))
        assert positions._statements is None  # CPython's parse never ran
    assert placed >= 1000


def test_statement_lines_and_hinted_nodes():
    source = TRICKY
    module = cst.parse_module(source)
    interp = Interpreter(module, source_length=len(source))
    interp.run()
    positions = Positions(module, source, interp.owners)
    from gradlint.analysis.walk import iter_tree

    lines = [n for n in iter_tree(module) if isinstance(n, cst.SimpleStatementLine)]
    assert lines
    for line in lines:
        assert positions._fast(line) == positions._slow(line)
    calls = [n for n in interp.nodes.values() if isinstance(n, cst.Call) and n.args]
    for call in calls:
        inner = call.args[-1].value
        fast = positions._fast(inner, call)
        assert fast is None or fast == positions._slow(inner)


def _every_node(module):
    from gradlint.analysis.walk import iter_tree

    return list(iter_tree(module))


def test_whole_file_text():
    """Expressions and simple statements placed by their text alone agree with libcst; a
    text that occurs twice or spans lines, an expression with its own parentheses and a
    statement with a semicolon are left to the statement positions."""
    source = ("import torch\nw = torch.ones(2, requires_grad=True)\nloss = (w * 2).sum()\n"
              "loss.backward()\nprint(w.grad, w.grad)\nz = torch.stack([w,\n    w])\n"
              "a = 1; b = 2\n")
    module = cst.parse_module(source)
    interp = Interpreter(module, source_length=len(source))
    interp.run()
    positions = Positions(module, source, interp.owners, interp.raw_code)
    lines = {interp.code(n): n for n in _every_node(module)
             if isinstance(n, cst.SimpleStatementLine)}
    ones = lines["w = torch.ones(2, requires_grad=True)"]
    assert positions._unique(ones) == (2, 1, 2, 38)  # its one statement's place
    assert positions._unique(lines["a = 1; b = 2"]) is None  # two statements
    placed = {}
    for node in _every_node(module):
        code = interp.code(node)
        found = positions._unique(node)
        if found is not None:
            assert found == positions._slow(node), code
            placed[code] = found
        if code in ("w.grad", "(w * 2)", "w * 2", "a = 1;") or "\n" in code:
            assert found is None, code
    assert placed["loss.backward()"] == (4, 1, 4, 16)
    assert placed["torch.ones(2, requires_grad=True)"] == (2, 5, 2, 38)
    assert placed["requires_grad"] == (2, 19, 2, 32)
    assert placed["w = torch.ones(2, requires_grad=True)"] == (2, 1, 2, 38)
    assert placed["b = 2"] == (8, 8, 8, 13)
    grads = [n for n in interp.nodes.values() if interp.code(n) == "w.grad"]
    assert len(grads) == 2 and all(positions._fast(n) == positions._slow(n) for n in grads)


def test_whole_file_text_on_every_fixture():
    placed = 0
    for path in fixture_files():
        source = path.read_text()
        try:
            module = cst.parse_module(source)
        except cst.ParserSyntaxError:
            continue
        interp = Interpreter(module, source_length=len(source))
        positions = Positions(module, source, interp.owners, interp.raw_code)
        for node in _every_node(module):
            positions._searches = 1  # every node, not only the first 200
            found = positions._unique(node)
            if found is not None:
                placed += 1
                assert found == positions._slow(node), (path.name, interp.code(node))
    assert placed >= 5000


def test_whole_file_searches_are_bounded():
    lines = [f"y{i} = torch.relu(x{i})" for i in range(300)]
    source = "import torch\n" + "\n".join(lines) + "\n"
    module = cst.parse_module(source)
    interp = Interpreter(module, source_length=len(source))
    interp.run()
    positions = Positions(module, source, interp.owners, interp.raw_code)
    calls = [n for n in _every_node(module) if isinstance(n, cst.Call)]
    assert len(calls) == 300
    found = [positions._unique(n) for n in calls]
    assert all(f is not None for f in found[:200]) and all(f is None for f in found[200:])
    assert all(positions.span(n) == positions._slow(n) for n in calls[195:205])


def test_node_text_is_generated_once_per_node():
    source = "import torch\nw = torch.ones(2, requires_grad=True)\nw.sum().backward()\n"
    module = cst.parse_module(source)
    interp = Interpreter(module, source_length=len(source))
    interp.run()
    node = next(n for n in interp.nodes.values() if isinstance(n, cst.Call))
    first = interp.raw_code(node)
    assert interp.raw_code(node) is first  # the same string: generated once, then kept
    assert interp.code(node) == first.strip() == "w.sum().backward()"
    other = node.deep_clone()  # an equal node is another node: its own text
    assert interp.raw_code(other) == first and interp._texts[id(other)][0] is other


HEADERS = '''\
import torch
for batch in loader:  # the first loop
    pass
for batch in loader:
    pass
async def f():
    async for x in stream:
        pass
    async with lock:
        pass
if a:
    pass
elif b:
    pass
else:
    if c: pass
while (n >
       0):
    n -= 1
with (torch.no_grad(),
      open(p) as h):
    pass
with torch.enable_grad():  pass
'''


def _starts_agree(source):
    """Every loop, `with` and `if` starts where libcst's PositionProvider says; returns
    how many were placed by their header's text."""
    module = cst.parse_module(source)
    interp = Interpreter(module, source_length=len(source))
    positions = Positions(module, source, interp.owners, interp.raw_code)
    by_header = 0
    for node in _every_node(module):
        if isinstance(node, (cst.For, cst.While, cst.With, cst.If)):
            positions._searches = 1  # every node, not only the first 200
            header = positions._header(node)
            exact = positions._slow(node)[:2]
            if header is not None:
                by_header += 1
                assert header == exact, interp.code(node)
            assert positions.start(node) == exact, interp.code(node)
    return by_header


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_starts_by_header(newline):
    """A repeated header and an `elif` (which regenerates as `if`, found inside the
    `elif`) are left to the statement positions; the rest are placed by their header."""
    source = HEADERS.replace("\n", newline)
    module = cst.parse_module(source)
    interp = Interpreter(module, source_length=len(source))
    positions = Positions(module, source, interp.owners, interp.raw_code)
    nodes = {interp.code(n).split(newline)[0]: n for n in _every_node(module)
             if isinstance(n, (cst.For, cst.While, cst.With, cst.If))}
    assert positions._header(nodes["if a:"]) == (11, 1)
    assert positions._header(nodes["if a:"].orelse) is None  # the `elif`
    assert positions._header(nodes["async for x in stream:"]) == (7, 5)
    assert positions._header(nodes["while (n >"]) == (17, 1)
    assert positions._header(nodes["with (torch.no_grad(),"]) == (20, 1)
    loops = [n for n in _every_node(module) if isinstance(n, cst.For) and not n.asynchronous]
    assert [positions._header(n) for n in loops] == [None, None]  # the same header twice
    assert _starts_agree(source) == 7


def test_starts_by_header_on_every_fixture():
    placed = 0
    for path in fixture_files():
        source = path.read_text()
        try:
            cst.parse_module(source)
        except cst.ParserSyntaxError:
            continue
        placed += _starts_agree(source)
    assert placed >= 200


def test_every_node_lies_in_the_statement_recorded_as_its_owner():
    """A node is placed through the statement that was running when the analysis met it.
    After an inlined call returns, that is the caller's statement again, not the callee's
    last one (else `g(x).backward()` below would be searched for in `return t.exp()`),
    and an `elif` test's is the `elif`, not the last statement of the branch above it."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    elif_after_raise = ("import torch\nw = torch.ones(2, requires_grad=True)\n"
                        "if w.sum() > 0:\n    raise ValueError(w)\nelif w.grad is None:\n"
                        "    pass\n")
    checked = 0
    sources = [p.read_text() for p in fixture_files() + sorted((ROOT / "examples").glob("*.py"))]
    for source in sources + [elif_after_raise]:
        module = cst.parse_module(source)
        interp = Interpreter(module)
        interp.run()
        spans = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        for key, owner in interp.owners.items():
            node = interp.nodes.get(key)
            if owner is None or node not in spans or owner not in spans:
                continue
            inner, outer = spans[node], spans[owner]
            if getattr(owner, "decorators", None):  # libcst's span starts below them
                outer = type(outer)(spans[owner.decorators[0]].start, outer.end)
            assert (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column)
            assert (inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column), (
                interp.code(node), interp.code(owner))
            checked += 1
    assert checked > 3000


def test_a_node_after_an_inlined_call_is_placed_in_the_caller():
    from gradlint import lint_source

    source = (ROOT / "tests" / "fixtures" / "gl014" / "flagged_in_function.py").read_text()
    # the backward's text also in a comment on the callee's last line: found only there
    source = source.replace("return t.exp()", "return t.exp()  # was: g(x).backward()")
    backward = source.splitlines().index("    g(x).backward()") + 1
    (found,) = lint_source(source, "t.py")
    assert found.code == "GL014"
    assert f"at line {backward} " in found.message
    assert [r.line for r in found.related] == [backward - 1, backward]


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
