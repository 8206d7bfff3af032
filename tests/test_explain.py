"""`gradlint explain`: the article's quiz, the facts behind every finding, every format."""

import json
import shutil
import subprocess
import textwrap

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, fixture_files
from gradlint.cli import main
from gradlint.explain import explain_source


def _facts(src):
    data = explain_source(textwrap.dedent(src))
    return {(s["line"], v["name"]): v for s in data["statements"] for v in s["values"]}, data


def test_article_quiz():
    facts, _ = _facts("""\
        import torch
        x = torch.tensor([1.1])
        a = torch.tensor([1.1], requires_grad=True)
        b = a * 2
        with torch.no_grad():
            c = a * 2
        b.backward()
        e = a * a
        e.backward()
    """)
    assert facts[(2, "x")]["requires_grad"] is False
    assert facts[(3, "a")]["requires_grad"] is True and facts[(3, "a")]["is_leaf"] is True
    assert facts[(4, "b")]["requires_grad"] is True and facts[(4, "b")]["is_leaf"] is False
    assert facts[(6, "c")]["requires_grad"] is False  # under no_grad; `a` itself still requires grad
    assert facts[(3, "a")]["grad"] == "populated after the backwards at lines 7, 9"
    assert facts[(4, "b")]["grad"] == "None (not a leaf)"
    # a * 2 saves the scalar 2 (as a wrapped tensor: MulBackward0's _saved_other), so the
    # backward at line 7 frees it, as it frees a * a (tests/test_saved_tensors.py)
    assert facts[(4, "b")]["freed_by_backward_at"] == [7]
    assert facts[(8, "e")]["freed_by_backward_at"] == [9]


def test_unknown_is_shown_as_unknown():
    facts, _ = _facts("""\
        import torch
        def f(t):
            y = t * 2
            return y
    """)
    assert facts[(3, "y")]["requires_grad"] is None and facts[(3, "y")]["grad"] == "unknown"


CLAIMS = {
    # what each rule's finding rests on, checked in the explain output of its fixtures
    "GL002": lambda v: v["requires_grad"] is True and v["is_leaf"] is False,
    "GL004": lambda v: v["cut_by_no_grad"] and v["requires_grad"] is False,
}


@pytest.mark.parametrize("path", [p for p in fixture_files() if p.name.startswith("flagged_")],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_findings_rest_on_visible_facts(path):
    data = explain_source(path.read_text(), str(path))
    by_line = {s["line"]: s for s in data["statements"]}
    for d in data["findings"]:
        if d["code"] == "GL002":
            var = d["message"].split("`")[1][:-len(".grad")]
            # an attribute read through the instance (`model.x`) is made as `self.x`
            names = {var, "self." + var.split(".", 1)[-1]}
            origin = d["related"][0]["line"]
            [v] = [v for v in by_line[origin]["values"] if v["name"] in names]
            assert CLAIMS["GL002"](v)
        elif d["code"] == "GL004" and d["line"] in by_line:
            assert any(CLAIMS["GL004"](v) for v in by_line[d["line"]]["values"])
        elif d["code"] == "GL003":
            earlier = [r["line"] for r in d["related"]] or [d["line"]]
            freed = {line for s in data["statements"] for v in s["values"]
                     for line in v.get("freed_by_backward_at", [])}
            assert freed & set(earlier)
        elif d["code"] == "GL010" and d["related"] and d["related"][0]["line"] in by_line:
            origin = d["related"][0]["line"]
            assert any(v.get("requires_grad") is True or v.get("parameters_require_grad") is True
                       for v in by_line[origin]["values"])


def test_cli_formats(project):
    path = FIXTURES / "gl004" / "flagged_article_example.py"
    text = CliRunner().invoke(main, ["explain", "--no-color", str(path)]).stdout
    assert "# [grad mode off] c: requires_grad=no, leaf=yes" in text
    assert "GL004 (line 6)" in text
    line = CliRunner().invoke(main, ["explain", "--line", "6", str(path)]).stdout
    assert line.startswith("line 6: c = b + 2") and "input b: requires_grad=yes, leaf=no" in line
    data = json.loads(CliRunner().invoke(main, ["explain", "--format", "json", str(path)]).stdout)
    assert {"path", "statements", "findings"} <= set(data)
    dot = CliRunner().invoke(main, ["explain", "--format", "dot", str(path)]).stdout
    assert dot.startswith("digraph autograd {") and 'label="no_grad cut"' in dot
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
        assert "<svg" in svg.stdout
    bad = CliRunner().invoke(main, ["explain", "missing.py"])
    assert bad.exit_code == 2 and "missing.py" in bad.output


def test_notebook_explain(project):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
                     "source": ["import torch\n", "a = torch.ones(2, requires_grad=True)\n",
                                "b = a * 2"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (project / "nb.ipynb").write_text(json.dumps(nb))
    data = json.loads(CliRunner().invoke(main, ["explain", "--format", "json", "nb.ipynb"]).stdout)
    names = {v["name"] for s in data["statements"] for v in s["values"]}
    assert {"a", "b"} <= names


def test_explain_keeps_two_spaces_before_an_annotation_on_a_long_line(project):
    long_line = "weights = torch.zeros(3, requires_grad=True)  # " + "x" * 40
    (project / "long.py").write_text(f"import torch\n{long_line}\nweights.sum().backward()\n")
    out = CliRunner().invoke(main, ["explain", "--no-color", "long.py"]).stdout
    [shown] = [line for line in out.splitlines() if "x" * 40 in line]
    assert shown.endswith("x" * 40 + "  # weights: requires_grad=yes, leaf=yes, "
                          ".grad populated after the backward at line 3")


def test_explain_in_a_notebook_shows_cells_and_their_lines(project):
    from test_notebooks_stdin import _write

    _write(project / "train.ipynb")
    out = CliRunner().invoke(main, ["explain", "--no-color", "train.ipynb"]).stdout
    lines = out.splitlines()
    assert "cell 5:" in lines and "# cell" not in out and "gradlint-cell" not in out
    assert "    1 %%timeit" in lines  # the magic as written, not its stand-in
    assert "    3 !nvidia-smi" in lines
    [w] = [line for line in lines if line.startswith("    2 w = torch.randn")]
    assert w.endswith(".grad populated after the backward at line 4 of cell 5")


def test_explain_says_what_check_says_about_a_syntax_error(project):
    (project / "bad.py").write_text("import torch\nx = (1,\ny = 2\n")
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
                     "source": ["x = 1\n"]},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 2,
                     "source": ["y = (1,\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (project / "bad.ipynb").write_text(json.dumps(nb))
    for name, where in (("bad.py", "bad.py:2:5"), ("bad.ipynb", "bad.ipynb:cell 2:1:5")):
        said = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "concise", name])
        assert said.exit_code == 1
        assert said.stdout == f"{where}: GL000 cannot parse: '(' was never closed\n"
        explained = CliRunner().invoke(main, ["explain", name])
        assert explained.exit_code == 2
        assert explained.stderr == f"gradlint: error: {said.stdout}"


def test_returned_tensors_are_annotated():
    """`return t` is annotated with the facts of t (joined over the function's calls);
    a return of anything else, or of nothing, is not."""
    facts, _ = _facts("""\
        import torch

        def make(n):
            w = torch.randn(n, requires_grad=True)
            return w * 2

        def frozen(n):
            return torch.zeros(n)

        def name():
            return "w"

        v = make(3)
        z = frozen(3)
        name()
        """)
    made = facts[(5, "return")]
    assert (made["requires_grad"], made["is_leaf"]) == (True, False)
    assert made["inputs"] == ["w"]
    assert (facts[(8, "return")]["requires_grad"], facts[(8, "return")]["is_leaf"]) == (False, True)
    assert (11, "return") not in facts


def test_named_parameters_give_a_name_and_the_model_s_parameter():
    """`for name, p in model.named_parameters()`: the name is not a tensor, and p is the
    model's parameter, which the backward above filled."""
    facts, _ = _facts("""\
        import torch.nn as nn
        import torch

        model = nn.Linear(3, 1)
        model(torch.randn(2, 3)).sum().backward()
        for name, p in model.named_parameters():
            print(name, p.grad)
        """)
    assert (6, "name") not in facts
    assert facts[(6, "p")]["grad"] == "populated after the backward at line 5"


def test_a_helper_that_sets_requires_grad_leaves_the_caller_s_module_unknown():
    """pix2pix's set_requires_grad(net, flag): after a call with a flag, the parameters
    of the caller's net are no longer known to require grad."""
    facts, _ = _facts("""\
        import torch.nn as nn

        def set_requires_grad(net, flag):
            for param in net.parameters():
                param.requires_grad = flag

        netD = nn.Linear(3, 1)
        set_requires_grad(netD, False)
        set_requires_grad(netD, True)
        """)
    assert facts[(4, "param")]["requires_grad"] is None


def test_grad_is_not_claimed_where_it_may_be_turned_off_or_cleared_by_a_hook():
    facts, _ = _facts("""\
        import torch
        import torch.nn as nn

        frozen = nn.Linear(3, 1)
        for p in frozen.parameters():
            p.requires_grad_(False)
        hooked = nn.Linear(3, 1)
        for q in hooked.parameters():
            q.register_post_accumulate_grad_hook(lambda t: None)
        x = torch.zeros(2, 3).requires_grad_()
        (frozen(x) + hooked(x)).sum().backward()
        """)
    assert facts[(5, "p")]["grad"] == "unknown"  # the loop turns it off after the header
    assert facts[(8, "q")]["grad"] == "unknown"  # the hook may set .grad to None
    assert facts[(10, "x")]["grad"] == "populated after the backward at line 11"


def test_a_deepcopy_of_a_module_is_a_module_whose_forward_runs():
    """`teacher = copy.deepcopy(student)`: a module of the same class; calling it under
    no_grad runs its forward there, so that forward's grad mode is no longer 'on'."""
    facts, data = _facts("""\
        import copy
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 3)

            def forward(self, x):
                return self.fc(x)

        student = Net()
        teacher = copy.deepcopy(student)
        with torch.no_grad():
            target = teacher(torch.randn(2, 3))
        out = student(torch.randn(2, 3))
        """)
    assert facts[(14, "teacher")]["kind"] == "module"
    modes = {s["line"]: s["grad_mode"] for s in data["statements"]}
    assert modes[11] == "unknown"
    assert facts[(16, "target")]["requires_grad"] is False
