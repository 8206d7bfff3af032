"""Strange input never crashes gradlint, never hangs it, and never loses a line."""

import json
import os
import socket
import textwrap
import time
import tokenize

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from gradlint import lint_source
from gradlint.cli import main
from gradlint.config import Settings
from gradlint.files import decode, decode_declared

BUG = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()


def _json(*args, expect=(0, 1)):
    result = CliRunner().invoke(main, ["check", "--output-format", "json", "--no-cache", *args])
    assert result.exit_code in expect, result.output
    return json.loads(result.stdout) if result.stdout.strip() else []


# -- encodings ---------------------------------------------------------------------------
def test_encodings_and_odd_bytes(project):
    files = {
        "cookie.py": "# -*- coding: latin-1 -*-\n# café\n".encode("latin-1") + BUG.encode(),
        "bom.py": b"\xef\xbb\xbf" + BUG.encode(),
        "undecodable.py": b"x = '\xff\xfe\xfa'\nloss.backward()\n",
        "nul.py": b"import torch\x00\nloss.backward()\n",
        "mixed.py": BUG.replace("\n", "\r\n", 3).encode(),
        "empty.py": b"",
        "comments.py": b"# only\n# comments backward .grad\n",
        "bad_cookie.py": b"# -*- coding: no-such-codec -*-\nloss.backward()\n",
    }
    for name, data in files.items():
        (project / name).write_bytes(data)
    found = {(d["path"], d["code"]) for d in _json(".")}
    assert found == {("cookie.py", "GL002"), ("bom.py", "GL002"), ("undecodable.py", "GL000"),
                     ("nul.py", "GL000"), ("mixed.py", "GL002"), ("bad_cookie.py", "GL000")}


ODD_BYTES = [
    b"", b"x = 1\n", b"x = 1", "x = 'é☕'\r\n".encode(), b"\xef\xbb\xbfx = 1\n",
    "# -*- coding: latin-1 -*-\nx = 'é'\n".encode("latin-1"),
    "#!/usr/bin/env python\n# coding=cp1252\nx = '€'\n".encode("cp1252"),
    b"x = 1\n# coding: latin-1\n", b"x = 1\ny = 2\n# coding: latin-1\nz = '\xe9'\n",
    b"x = '\xff'\n", b"# \xff\nx = 1\n", b"x = 1\n\x00\n", b"\xef\xbb\xbf# coding: latin-1\n",
    b"# -*- coding: no-such-codec -*-\n", b"x = 1\rcoding = 2\r", b"\n\n# coding: utf-8\n",
]


def test_decoding_without_tokenize_gives_what_python_gives(monkeypatch):
    """Plain UTF-8 skips `tokenize.detect_encoding`; every text and every message is as
    that gives them."""
    expected = [decode_declared("p.py", data) for data in ODD_BYTES]
    looked = []
    original = tokenize.detect_encoding
    monkeypatch.setattr(tokenize, "detect_encoding", lambda readline: looked.append(1) or
                        original(readline))
    assert [decode("p.py", data) for data in ODD_BYTES] == expected
    assert len(looked) == 10  # the six plain ones skipped it
    assert sum(s.text is None for s in expected) == 6  # messages compared too


# -- pathological input --------------------------------------------------------------------
def _timed(source, settings=None):
    start = time.perf_counter()
    found = lint_source(source, "p.py", settings)
    return found, time.perf_counter() - start


def test_deep_nesting_is_a_clear_finding():
    src = "import torch\nw = torch.ones(1, requires_grad=True)\n"
    src += "".join("    " * i + f"if x{i}:\n" for i in range(100))
    src += "    " * 100 + "loss.backward()\n"
    found, seconds = _timed(src)
    assert [d.code for d in found] == ["GL000"] and seconds < 30


def test_huge_literal_and_long_chains():
    found, seconds = _timed("import torch\nloss.backward()\nx = [" +
                            ", ".join(str(i) for i in range(10000)) + "]\n")
    assert found == [] and seconds < 30
    def chain(terms):
        return ("import torch\nw = torch.randn(3, requires_grad=True)\ny = w" + " * w" * terms
                + "\ny.sum().backward()\nprint(y.grad)\n")

    found, seconds = _timed(chain(1500))
    assert [d.code for d in found] == ["GL002"] and seconds < 30
    # libcst's parse is quadratic in a chain's length (5,000 terms: about 40 s): it is
    # bounded by file-timeout, as the analysis is, and the file is reported as skipped
    found, seconds = _timed(chain(5000), Settings(file_timeout=2))
    assert [d.code for d in found] == ["GL999"] and seconds < 15
    assert "the parse took longer than 2 s (the file-timeout setting)" in found[0].message
    lines = ["import torch", "w = torch.randn(3, requires_grad=True)", "y = w"]
    lines += [f"y = y * w + {i}" for i in range(5000)] + ["y.sum().backward()", "print(y.grad)"]
    found, seconds = _timed("\n".join(lines) + "\n")
    assert [d.code for d in found] == ["GL002"] and seconds < 30


def _statements_run(source: str) -> int:
    """How many statements the analysis ran: its work, counted rather than timed (a timed
    assertion fails on a busy machine; the benchmark measures the time)."""
    import libcst as cst

    from gradlint.analysis.interp import Interpreter

    interp = Interpreter(cst.parse_module(source), source_length=len(source))
    interp.run()
    return interp.steps


def test_generated_module_is_linear():
    def module(n):
        body = [f"def step_{i}(model, opt, x):\n    loss = model(x).sum()\n    loss.backward()\n"
                f"    opt.step()\n    opt.zero_grad()\n" for i in range(n)]
        return "import torch\n" + "".join(body)

    small, large = _statements_run(module(300)), _statements_run(module(3000))
    assert small >= 4 * 300 and large <= 10 * small + 10


@pytest.mark.parametrize("nesting", [1, 2, 3])
def test_loops_run_a_bounded_number_of_times(nesting):
    """A loop runs to a fixpoint with a cap, so a function's analysis grows linearly with
    its size, nested loops included."""
    def function(n):
        head = "".join("    " * (1 + d) + f"for i{d} in range(3):\n" for d in range(nesting))
        pad = "    " * (1 + nesting)
        body = "".join(f"{pad}h{i} = model(h{i - 1} if {i} else x)\n{pad}total = total + h{i}\n"
                       for i in range(n))
        return ("import torch\nmodel = torch.nn.Linear(2, 2)\nx = torch.ones(2)\n"
                f"def train(total):\n{head}{body}{pad}total.backward()\n\ntrain(0)\n")

    small, large = _statements_run(function(100)), _statements_run(function(1000))
    assert small >= 200 and large <= 10 * small + 50


def test_file_timeout_skips_and_names_the_file(project):
    src = "import torch\n" + "".join(
        f"for i{i} in range(3):\n    loss = model(x)\n    loss.backward()\n    opt.step()\n"
        for i in range(3000))
    found = lint_source(src, "slow.py", Settings(file_timeout=0.01))
    assert [d.code for d in found] == ["GL999"]
    assert "skipped" in found[0].message and "file-timeout" in found[0].message


def test_internal_error_is_reported_and_run_continues(project, monkeypatch):
    from gradlint.rules import REGISTRY

    def boom(ctx):
        raise ValueError("synthetic")

    rule = REGISTRY["GL002"]
    monkeypatch.setitem(REGISTRY, "GL002", rule.__class__(**{**rule.__dict__, "check": boom}))
    (project / "a.py").write_text(BUG)
    (project / "b.py").write_text((FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text())
    result = CliRunner().invoke(main, ["check", "--no-cache", "--no-color", "a.py", "b.py"])
    assert result.exit_code == 2
    assert "a.py:1:1: GL999 [internal-error] GL002: internal error" in result.stdout
    assert "b.py:14:5: GL001" in result.stdout
    verbose = CliRunner().invoke(main, ["check", "--no-cache", "-v", "a.py"])
    assert "ValueError: synthetic" in verbose.stdout


# -- the file system -------------------------------------------------------------------------
def test_file_system_cases(project, monkeypatch):
    (project / "dir with space").mkdir()
    (project / "dir with space" / "träin ☕.py").write_text(BUG)
    (project / "binary.py").write_bytes(bytes(range(256)) * 4)
    os.symlink("does-not-exist.py", project / "broken.py")
    os.symlink(project / "loop_a", project / "loop_b")
    os.symlink(project / "loop_b", project / "loop_a")
    outside = project.parent / f"{project.name}-outside"
    outside.mkdir()
    (outside / "secret.py").write_text(BUG)
    os.symlink(outside, project / "linked_out")
    os.symlink(outside / "secret.py", project / "linked_file.py")
    (project / "locked.py").write_text(BUG)
    real_open = os.open

    def guarded(path, *a, **k):  # (as root, chmod 000 would not stop the read)
        if str(path).endswith("locked.py"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", guarded)
    result = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "json", ".",
                                       "missing.py"])
    assert result.exit_code == 2
    assert "missing.py: no such file or directory" in result.output
    data = json.loads(result.stdout)
    found = {(d["path"], d["code"]) for d in data}
    assert ("dir with space/träin ☕.py", "GL002") in found
    assert ("binary.py", "GL000") in found
    assert ("locked.py", "GL000") in found and any("Permission denied" in d["message"] for d in data)
    assert not any("secret" in p or "linked" in p for p, _ in found)


def test_twenty_thousand_files(project):
    for i in range(20000):
        folder = project / f"d{i // 1000}"
        if i % 1000 == 0:
            folder.mkdir()
        (folder / f"m{i}.py").write_text("x = 1\n" if i % 7 else "loss.backward()\n")
    start = time.perf_counter()
    result = CliRunner().invoke(main, ["check", "--no-cache", "-j", "2", "."])
    assert result.exit_code == 0 and "20000 files checked" in result.stdout
    assert time.perf_counter() - start < 300


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("[tool.gradlint\nselect = 1\n", "invalid TOML"),
    ("[tool.gradlint]\nselect = ['GL001'\n", "line 2"),
    ("[tool.gradlint]\nignroe = ['GL001']\n", "did you mean 'ignore'"),
    ("[tool.gradlint]\nselect = 'GL001'\n", "must be a list of strings"),
    ("[tool.gradlint]\nselect = ['GL0O1']\n", "did you mean GL001"),
    ("[tool.gradlint]\nfile-timeout = -1\n", "positive number"),
    ("[tool.gradlint]\nfix = 'yes'\n", "must be true or false"),
    ("[tool.gradlint]\nper-file-ignores = ['x']\n", "must be a table"),
])
def test_config_errors(project, text, message):
    (project / "pyproject.toml").write_text(text)
    (project / "a.py").write_text(BUG)
    result = CliRunner().invoke(main, ["check", "a.py"])
    assert result.exit_code == 2 and message in result.output
    assert "pyproject.toml" in result.output
    assert "GL002" not in result.output  # nothing linted half-way


def test_conflicting_options(project):
    (project / "a.py").write_text(BUG)
    result = CliRunner().invoke(main, ["check", "--stdin-filename", "x.py", "a.py"])
    assert result.exit_code == 2 and "--stdin-filename" in result.output
    result = CliRunner().invoke(main, ["check", "-", "a.py"])
    assert result.exit_code == 2 and "cannot be combined" in result.output


# -- security ---------------------------------------------------------------------------------------
def test_never_imports_or_runs_the_code(project):
    marker = project / "IMPORTED"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    evil = textwrap.dedent(f"""
        import socket, pathlib
        pathlib.Path({str(marker)!r}).write_text("x")
        socket.create_connection(("127.0.0.1", {port}))
        import torch
        loss = torch.randn(2, requires_grad=True).exp()
        loss.sum().backward()
        print(loss.grad)
    """)
    (project / "evil.py").write_text(evil)
    (project / "__init__.py").write_text(evil)
    (project / "conftest.py").write_text(evil)
    (project / "setup.py").write_text(evil)
    data = _json("--fix", "--unsafe-fixes", ".")
    assert not marker.exists()
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()
    assert data == []  # fixed: nothing left


def test_writes_only_the_fixed_files_and_its_cache(project):
    (project / "a.py").write_text((FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text())
    (project / "b.py").write_text((FIXTURES / "gl001" / "clean_standard_loop.py").read_text())
    (project / "pyproject.toml").write_text("[tool.gradlint]\n")

    def snapshot():
        return {str(p.relative_to(project)): p.read_bytes() for p in project.rglob("*")
                if p.is_file() and ".gradlint_cache" not in p.parts}

    before = snapshot()
    CliRunner().invoke(main, ["check", "--fix", "."])
    CliRunner().invoke(main, ["check", "."])
    after = snapshot()
    assert set(after) == set(before)
    assert [k for k in after if after[k] != before[k]] == ["a.py"]
    assert {p.name for p in project.iterdir()} == {"a.py", "b.py", "pyproject.toml", ".gradlint_cache"}


# -- writes that fail midway -----------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["disk-full", "permission", "killed"])
def test_fault_injection_keeps_the_original(project, monkeypatch, fault):
    import gradlint.files as files
    import gradlint.safeio as safeio

    src = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text()
    (project / "a.py").write_text(src)
    if fault == "disk-full":
        def replace(*a):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(safeio.os, "replace", replace)
    elif fault == "permission":
        def chmod(*a):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(safeio.os, "fchmod", chmod)
    else:
        def replace(*a):
            raise KeyboardInterrupt  # the process is stopped between write and rename
        monkeypatch.setattr(safeio.os, "replace", replace)
    if fault == "killed":
        with pytest.raises(KeyboardInterrupt):
            files.write_atomic(str(project / "a.py"), "changed\n",
                               files.read_source(str(project / "a.py")))
    else:
        result = CliRunner().invoke(main, ["check", "--fix", "--no-cache", "a.py"])
        assert result.exit_code == 2 and "a.py: cannot write the fixed file" in result.output
    assert (project / "a.py").read_text() == src
    assert sorted(os.listdir(project)) == ["a.py"]
