"""Fixes: expected outputs byte for byte, idempotence, encodings, --diff, safe writes."""

import json
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, fixture_files
from gradlint.cli import main
from gradlint.config import Settings
from gradlint.fixes import apply_edits, fix_source
from gradlint.diagnostics import Edit, Fix
from gradlint.linter import lint_source

SETTINGS = Settings(select=("ALL",))
FIXABLE = [p for p in fixture_files() if p.with_name(p.stem + ".fixed.py").exists()]


def _lint(path):
    return lambda text: lint_source(text, str(path), SETTINGS)


def test_fixed_outputs_exist_for_every_fixture_with_a_fix():
    for path in fixture_files():
        has_fix = any(d.fix for d in _lint(path)(path.read_text()))
        assert has_fix == (path in FIXABLE), path


@pytest.mark.parametrize("path", FIXABLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fix_gives_expected_output(path):
    expected = path.with_name(path.stem + ".fixed.py").read_text()
    out = fix_source(path.read_text(), _lint(path), unsafe=True)
    assert out.error is None
    assert out.source == expected
    rule = path.parent.name.upper()
    assert [d for d in _lint(path)(out.source) if d.code == rule] == []
    again = fix_source(out.source, _lint(path), unsafe=True)
    assert again.source == out.source and again.fixed == 0


def test_safe_only_leaves_unsafe_fixes(project):
    src = (FIXTURES / "gl004" / "flagged_article_example.py").read_text()
    out = fix_source(src, _lint("a.py"), unsafe=False)
    assert out.source == src and out.fixed == 0 and [d.code for d in out.remaining] == ["GL004"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BUG = textwrap.dedent("""\
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for i in range(3):
        loss = model(torch.randn(4, 2)).sum()
        loss.backward()
        opt.step()
""")
FIXED = BUG.replace("    loss = model", "    opt.zero_grad()\n    loss = model")


def test_crlf_is_kept(project):
    path = _write(project / "a.py", BUG.replace("\n", "\r\n").encode())
    assert CliRunner().invoke(main, ["check", "--fix", "a.py"]).exit_code == 0
    assert path.read_bytes() == FIXED.replace("\n", "\r\n").encode()


def test_bom_is_kept(project):
    path = _write(project / "a.py", b"\xef\xbb\xbf" + BUG.encode())
    assert CliRunner().invoke(main, ["check", "--fix", "a.py"]).exit_code == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()


def test_latin1_with_cookie_is_kept(project):
    src = "# -*- coding: latin-1 -*-\n# Entraînement: café\n" + BUG
    path = _write(project / "a.py", src.encode("latin-1"))
    assert CliRunner().invoke(main, ["check", "--fix", "a.py"]).exit_code == 0
    assert path.read_bytes() == ("# -*- coding: latin-1 -*-\n# Entraînement: café\n" + FIXED).encode("latin-1")


def test_tabs_are_kept(project):
    path = _write(project / "a.py", BUG.replace("    ", "\t").encode())
    assert CliRunner().invoke(main, ["check", "--fix", "a.py"]).exit_code == 0
    assert path.read_text() == FIXED.replace("    ", "\t")


def test_no_final_newline(project):
    src = textwrap.dedent("""\
        import torch
        a = torch.tensor([1.1], requires_grad=True)
        b = a * 2
        b.sum().backward()
        print(b.grad)""")
    path = _write(project / "a.py", src.encode())
    assert CliRunner().invoke(main, ["check", "--fix", "a.py"]).exit_code == 0
    assert path.read_text() == src.replace("b = a * 2\n", "b = a * 2\nb.retain_grad()\n")


def test_two_fixes_on_one_line(project):
    src = textwrap.dedent("""\
        import torch
        w = torch.randn(3, requires_grad=True)
        y = (w * w).exp(); z = y.sum()
        z.backward(); print(y.grad, z.grad)
    """)
    path = _write(project / "a.py", src.encode())
    result = CliRunner().invoke(main, ["check", "--fix", "a.py"])
    assert result.exit_code == 0, result.output
    assert path.read_text() == src.replace(
        "y = (w * w).exp(); z = y.sum()", "y = (w * w).exp(); y.retain_grad(); z = y.sum(); z.retain_grad()")


def test_two_optimizers_in_one_loop():
    path = FIXTURES / "gl001" / "flagged_two_optimizers.py"
    out = fix_source(path.read_text(), _lint(path), unsafe=False)
    assert "    opt_enc.zero_grad()\n    opt_dec.zero_grad()\n    x = torch.randn(32, 8)" in out.source


def test_diff_applies_with_patch_and_matches_fix(project):
    names = []
    for path in FIXABLE[:12]:
        target = project / f"{path.parent.name}_{path.name}"
        target.write_text(path.read_text())
        names.append(target.name)
    before = {n: (project / n).read_text() for n in names}
    result = CliRunner().invoke(main, ["check", "--diff", "--unsafe-fixes", *names])
    assert result.exit_code == 1
    diff = result.stdout if hasattr(result, "stdout") else result.output
    assert {n: (project / n).read_text() for n in names} == before  # nothing written
    patched = project / "patched"
    patched.mkdir()
    for n in names:
        (patched / n).write_text(before[n])
    subprocess.run(["patch", "-p0", "--quiet"], input=diff, text=True, cwd=patched, check=True)
    assert CliRunner().invoke(main, ["check", "--fix", "--unsafe-fixes", *names]).exit_code in (0, 1)
    for n in names:
        assert (patched / n).read_text() == (project / n).read_text(), n
    nothing = CliRunner().invoke(main, ["check", "--diff", *names])
    assert nothing.exit_code == 0


def test_read_only_file_is_reported_and_others_fixed(project):
    ro = _write(project / "ro.py", BUG.encode())
    rw = _write(project / "rw.py", BUG.encode())
    ro.chmod(0o444)
    try:
        result = CliRunner().invoke(main, ["check", "--fix", "ro.py", "rw.py"])
    finally:
        ro.chmod(0o644)
    assert result.exit_code == 2
    assert "ro.py: cannot write the fixed file: the file is read-only" in result.output
    assert ro.read_text() == BUG and rw.read_text() == FIXED
    assert sorted(os.listdir(project)) == ["ro.py", "rw.py"]  # no temporary file left


def test_permissions_are_kept(project):
    path = _write(project / "a.py", BUG.encode())
    path.chmod(0o750)
    CliRunner().invoke(main, ["check", "--fix", "a.py"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o750 and path.read_text() == FIXED


def test_json_fix_field_and_text_hints(project):
    _write(project / "a.py", BUG.encode())
    data = json.loads(CliRunner().invoke(main, ["check", "--output-format", "json", "a.py"]).output)
    assert data[0]["fix"] == {"applicability": "safe",
                              "message": "Call opt.zero_grad() at the start of each iteration",
                              "edits": [{"line": 5, "column": 5, "end_line": 5, "end_column": 5,
                                         "content": "opt.zero_grad()\n    "}]}
    text = CliRunner().invoke(main, ["check", "--no-color", "a.py"]).output
    assert "GL001 [missing-zero-grad] [*] " in text
    assert text.rstrip().endswith("[*] 1 fixable with the `--fix` option.")
    unsafe = CliRunner().invoke(main, ["check", "--no-color", str(FIXTURES / "gl004" / "flagged_article_example.py")]).output
    assert "fix: Move `c = b + 2` out of the no_grad block (unsafe fix" in unsafe
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option." in unsafe


def test_fix_summary_and_exit_code_reflect_remaining(project):
    _write(project / "a.py", BUG.encode())
    _write(project / "b.py", (FIXTURES / "gl004" / "flagged_forward_under_no_grad.py").read_bytes())
    result = CliRunner().invoke(main, ["check", "--fix", "--no-color", "a.py", "b.py"])
    assert result.exit_code == 1
    assert result.output.rstrip().endswith("Found 2 problems (1 fixed, 1 remaining).")
    (project / "pyproject.toml").write_text("[tool.gradlint]\nfix = true\nunsafe-fixes = true\n")
    _write(project / "c.py", (FIXTURES / "gl004" / "flagged_article_example.py").read_bytes())
    result = CliRunner().invoke(main, ["check", "c.py"])
    assert result.exit_code == 0 and "with torch.no_grad" not in (project / "c.py").read_text()


def test_broken_fix_is_never_written():
    src = "x = 1\n"
    bad = Fix("safe", "bad", (Edit(1, 1, 1, 1, "def ("),))

    class Fake:
        code = "GL999"
        fix = bad

    out = fix_source(src, lambda text: [Fake()] if text == src else [], unsafe=False)
    assert out.source == src and "does not parse" in out.error


def test_overlapping_edits_wait_for_the_next_pass():
    a = Fix("safe", "a", (Edit(1, 1, 1, 2, "X"),))
    b = Fix("safe", "b", (Edit(1, 1, 1, 3, "Y"),))
    c = Fix("safe", "c", (Edit(1, 4, 1, 4, "Z"),))
    text, applied = apply_edits("abcd\n", [a, b, c])
    assert (text, applied) == ("XbcZd\n", 2)


def test_one_clear_for_an_optimizer_stepped_in_two_places():
    src = textwrap.dedent("""\
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for i in range(4):
            loss = model(torch.randn(3, 2)).sum()
            loss.backward()
            if i % 2:
                opt.step()
            else:
                opt.step()
    """)
    out = fix_source(src, _lint("a.py"), unsafe=False)
    assert out.fixed == 1
    assert out.source.count("opt.zero_grad()") == 1
    assert "for i in range(4):\n    opt.zero_grad()\n    loss = model" in out.source


@pytest.mark.parametrize("source, expected", [
    # the only use: the import goes with it; from a list of names, just that name
    ("from torch.autograd import grad, Variable as V\nimport torch\n"
     "w = torch.randn(3, requires_grad=True)\nh = V(w * 2)\nprint(grad)\n",
     "from torch.autograd import grad\nimport torch\n"
     "w = torch.randn(3, requires_grad=True)\nh = (w * 2).detach()\nprint(grad)\n"),
    # two calls, fixed in one pass: the import goes with the last of them
    ("import torch\nfrom torch.autograd import Variable\n"
     "a = Variable(torch.ones(2))\nb = Variable(torch.zeros(2))\n",
     "import torch\n"
     "a = torch.ones(2).detach()\nb = torch.zeros(2).detach()\n"),
    # one of them suppressed: it still needs the import
    ("import torch\nfrom torch.autograd import Variable\n"
     "a = Variable(torch.ones(2))\nb = Variable(torch.zeros(2))  # noqa: GL104\n",
     "import torch\nfrom torch.autograd import Variable\n"
     "a = torch.ones(2).detach()\nb = Variable(torch.zeros(2))  # noqa: GL104\n"),
    # one the fix cannot rewrite (a dtype argument): the import stays
    ("import torch\nfrom torch.autograd import Variable\n"
     "a = Variable(torch.ones(2))\nb = Variable(torch.zeros(2), volatile=True)\n",
     "import torch\nfrom torch.autograd import Variable\n"
     "a = torch.ones(2).detach()\nb = Variable(torch.zeros(2), volatile=True)\n"),
    # a use that is not a call (passed on): the import stays
    ("import torch\nfrom torch.autograd import Variable\n"
     "a = Variable(torch.ones(2))\nwrap = Variable\n",
     "import torch\nfrom torch.autograd import Variable\n"
     "a = torch.ones(2).detach()\nwrap = Variable\n"),
    # the import on the call's line: never removed by itself
    ("import torch\nfrom torch.autograd import Variable; a = Variable(torch.ones(2))\n",
     "import torch\nfrom torch.autograd import Variable; a = torch.ones(2).detach()\n"),
])
def test_variable_fix_drops_the_import_only_with_its_only_uses(source, expected):
    lint = lambda text: lint_source(text, "v.py", SETTINGS)  # noqa: E731
    out = fix_source(source, lint, unsafe=True)
    assert out.error is None and out.source == expected


def test_a_shared_edit_needs_every_fix_that_carries_it():
    shared = Edit(1, 1, 1, 2, "")
    a = Fix("safe", "a", (Edit(1, 3, 1, 4, "C"),), (shared,), 2)
    b = Fix("safe", "b", (Edit(1, 4, 1, 5, "D"),), (shared,), 2)
    assert apply_edits("abcde\n", [a, b]) == ("bCDe\n", 2)
    # only one of the two applied (the other suppressed or waiting): the edit waits
    assert apply_edits("abcde\n", [a]) == ("abCde\n", 1)


def test_a_shared_edit_survives_the_cache():
    from gradlint.cache import from_json
    from gradlint.diagnostics import Diagnostic

    fix = Fix("safe", "m", (Edit(3, 5, 3, 9, "x"),), (Edit(2, 1, 3, 1, ""),), 2)
    d = Diagnostic(code="GL104", name="variable-wrapper", message="m", path="p.py", line=3,
                   column=5, end_line=3, end_column=9, related=(), fix=fix)
    assert from_json(json.loads(json.dumps(d.to_json()))).fix == fix


def test_gl001_fix_goes_above_the_comment_about_the_first_statement():
    """A comment right above the loop body's first statement is about that statement:
    `zero_grad()` goes above it. After a blank line, the comment stays above the call."""
    def fixed(body):
        source = ("import torch\nmodel = torch.nn.Linear(2, 1)\n"
                  "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                  "for step in range(3):\n" + textwrap.indent(textwrap.dedent(body), "    "))
        lint = lambda text: lint_source(text, "t.py", Settings(select=("GL001",)))
        out = fix_source(source, lint, unsafe=False)
        assert out.fixed == 1 and not out.remaining
        return out.source.split("for step in range(3):\n", 1)[1]

    tail = "loss = model(torch.randn(4, 2)).sum()\nloss.backward()\nopt.step()\n"
    assert fixed("# forward pass\n# on a fresh batch\n" + tail) == textwrap.indent(
        "opt.zero_grad()\n# forward pass\n# on a fresh batch\n" + tail, "    ")
    assert fixed("# one epoch\n\n# forward pass\n" + tail) == textwrap.indent(
        "# one epoch\n\nopt.zero_grad()\n# forward pass\n" + tail, "    ")
    assert fixed(tail) == textwrap.indent("opt.zero_grad()\n" + tail, "    ")
    # CRLF endings are kept
    source = ("import torch\r\nmodel = torch.nn.Linear(2, 1)\r\n"
              "opt = torch.optim.SGD(model.parameters(), lr=0.1)\r\nfor step in range(3):\r\n"
              "    # forward\r\n    loss = model(torch.randn(4, 2)).sum()\r\n"
              "    loss.backward()\r\n    opt.step()\r\n")
    out = fix_source(source, lambda t: lint_source(t, "t.py", Settings(select=("GL001",))), False)
    assert "for step in range(3):\r\n    opt.zero_grad()\r\n    # forward\r\n" in out.source
