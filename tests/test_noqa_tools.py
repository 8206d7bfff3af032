"""GL900 (unused `noqa`) and `--add-noqa`, through the linter, the fix engine and the CLI."""

import textwrap

from click.testing import CliRunner

from gradlint.cli import main
from gradlint.config import Settings
from gradlint.fixes import fix_source
from gradlint.linter import lint_source

SOURCE = textwrap.dedent("""\
    import torch

    w = torch.randn(3, requires_grad=True)
    b = w * 2
    print(b.grad)  # noqa: GL002
    print(w.sum())  # noqa: GL002, E501
    print(w.sum())  # noqa: GL0001
    print(w)  # noqa: GL002
    print(w)  # noqa: GL002 kept for the reader
    x = 1  # noqa
    y = 2  # noqa: E501
    z = 3  # noqa: GL001
""")


def _gl900(source, settings):
    return [(d.line, d.message) for d in lint_source(source, "t.py", settings) if d.code == "GL900"]


def test_unused_noqa_codes_are_reported():
    found = _gl900(SOURCE, Settings(extend_select=("GL900",)))
    assert found == [
        (6, "unused `noqa`: no GL002 finding on this line"),
        (7, "unused `noqa`: GL0001 is not a gradlint rule"),
        (8, "unused `noqa`: no GL002 finding on this line"),
        (9, "unused `noqa`: no GL002 finding on this line"),
        (12, "unused `noqa`: no GL001 finding on this line"),
    ]
    # the rules a code names must be selected for it to be called unused
    assert [line for line, _ in _gl900(SOURCE, Settings(select=("GL900", "GL001")))] == [7, 12]
    assert _gl900(SOURCE, Settings()) == []  # off by default


def test_the_fix_removes_unused_codes_or_the_comment():
    settings = Settings(extend_select=("GL900",))
    out = fix_source(SOURCE, lambda text: lint_source(text, "t.py", settings), unsafe=False)
    assert out.error is None
    lines = out.source.splitlines()
    assert lines[4] == "print(b.grad)  # noqa: GL002"
    assert lines[5] == "print(w.sum())  # noqa: E501"
    assert lines[6] == "print(w.sum())"
    assert lines[7] == "print(w)"
    assert lines[8] == "print(w)  # noqa: GL002 kept for the reader"  # (no fix: text follows)
    assert lines[9:] == ["x = 1  # noqa", "y = 2  # noqa: E501", "z = 3"]


def test_a_file_wide_noqa_that_suppresses_nothing():
    source = "# gradlint: noqa\nimport torch\nprint(torch.zeros(2))\n"
    assert _gl900(source, Settings(extend_select=("GL900",))) == [
        (1, "unused `noqa`: the file-wide `# gradlint: noqa` suppresses nothing")]


def test_add_noqa_writes_each_line_once_and_keeps_the_bytes(tmp_path):
    target = tmp_path / "train.py"
    target.write_bytes(
        b"import torch\r\n"
        b"w = torch.randn(3, requires_grad=True)\r\n"
        b"b = w * 2\r\n"
        b"print(b.grad, b.grad)\r\n"
        b"print(b.grad)  # noqa: E501\r\n"
        b"print(b.grad)  # why it is read\r\n"
        b"c = b.grad + \\\r\n"
        b"    1\r\n")
    result = CliRunner().invoke(main, ["check", "--no-cache", "--add-noqa", str(target)])
    assert result.exit_code == 0 and "Added 3 noqa directives." in result.output
    assert target.read_bytes().split(b"\r\n")[3:7] == [
        b"print(b.grad, b.grad)  # noqa: GL002",
        b"print(b.grad)  # noqa: E501, GL002",
        b"print(b.grad)  # why it is read  # noqa: GL002",
        b"c = b.grad + \\",  # a comment cannot follow a backslash: left as it is
    ]
    before = target.read_bytes()
    again = CliRunner().invoke(main, ["check", "--no-cache", "--add-noqa", str(target)])
    assert "Added 0 noqa directives." in again.output and target.read_bytes() == before
    check = CliRunner().invoke(main, ["check", "--no-cache", str(target)])
    assert check.exit_code == 1 and check.output.count("GL002") == 1  # the continued line


def test_add_noqa_refuses_fix_and_diff(tmp_path):
    target = tmp_path / "t.py"
    target.write_text("x = 1\n")
    for other in ("--fix", "--diff"):
        result = CliRunner().invoke(main, ["check", "--add-noqa", other, str(target)])
        assert result.exit_code == 2 and "--add-noqa" in result.output


def test_a_file_wide_noqa_after_code_is_a_warning_not_a_suppression(tmp_path):
    target = tmp_path / "t.py"
    target.write_text("import torch\nw = torch.randn(3, requires_grad=True)\n"
                      "b = w * 2\nprint(b.grad)  # gradlint: noqa\n")
    result = CliRunner().invoke(main, ["check", "--no-cache", str(target)])
    assert result.exit_code == 1 and "GL002" in result.output
    assert "`# gradlint: noqa` after code does not silence the file" in result.output
