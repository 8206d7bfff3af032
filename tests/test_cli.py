"""The command line, through click's runner and through a real subprocess."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from click.testing import CliRunner

from conftest import FIXTURES, expected_findings
from gradlint.cli import main

BUGGY = FIXTURES / "gl002" / "flagged_article_example.py"
CLEAN = FIXTURES / "gl002" / "clean_leaf_grad.py"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_findings_exit_1_and_text_format(project):
    result = run("check", "--no-color", str(BUGGY))
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"{BUGGY}:8:7: GL002 [non-leaf-grad] [*] `b.grad` is None")
    assert "    note: " in result.output
    assert result.output.splitlines()[-2] == "Found 1 problem in 1 file."


def test_clean_exit_0(project):
    result = run("check", str(CLEAN))
    assert result.exit_code == 0
    assert "All checks passed" in result.output


def test_exit_zero(project):
    assert run("check", "--exit-zero", str(BUGGY)).exit_code == 0


def test_json_format_is_stable(project):
    result = run("check", "--output-format", "json", str(BUGGY))
    data = json.loads(result.output)
    assert [sorted(d) for d in data] == [sorted([
        "code", "name", "message", "help", "url", "path", "line", "column", "end_line",
        "end_column", "related", "fix"])]
    d = data[0]
    assert d["message"] == "`b.grad` is None: `b` is not a leaf tensor (computed at line 4)"
    assert d["help"].startswith("backward() stores gradients only in leaf tensors")
    assert d["url"].endswith("/docs/rules/GL002.md")
    assert (d["code"], d["line"], d["column"], d["end_line"], d["end_column"]) == (
        "GL002", 8, 7, 8, 13)
    assert d["related"] == [{"path": str(BUGGY), "line": 4, "column": 1,
                             "message": "`b` is computed here"}]
    assert d["fix"]["applicability"] == "safe"


def test_json_sorted_by_path_line_column(project):
    result = run("check", "--output-format", "json", str(FIXTURES / "gl001"),
                 str(FIXTURES / "gl002"))
    data = json.loads(result.output)
    keys = [(d["path"], d["line"], d["column"]) for d in data]
    assert keys == sorted(keys) and len(keys) >= 20


def test_select_and_ignore(project):
    folder = str(FIXTURES / "gl004")
    only = json.loads(run("check", "--output-format", "json", "--select", "GL002", folder).output)
    assert only == []
    ignored = json.loads(run("check", "--output-format", "json", "--ignore", "GL004", folder).output)
    assert ignored == []
    prefix = json.loads(run("check", "--output-format", "json", "--select", "GL0", folder).output)
    assert {d["code"] for d in prefix} == {"GL004"}
    extended = json.loads(run("check", "--output-format", "json", "--select", "GL001",
                              "--extend-select", "GL004", folder).output)
    assert {d["code"] for d in extended} == {"GL004"}


def test_unknown_code_is_a_usage_error(project):
    result = CliRunner().invoke(main, ["check", "--select", "GL0042", str(BUGGY)])
    assert result.exit_code == 2
    assert "unknown rule code or prefix 'GL0042'" in result.output


def test_statistics_print_only_the_table(project):
    result = run("check", "--statistics", str(FIXTURES / "gl003"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # what the fixtures' markers say: one GL003 per flagged file (and nothing else)
    flagged = [p for p in (FIXTURES / "gl003").glob("flagged_*.py") if not p.name.endswith(".fixed.py")]
    found = sum(len(expected_findings(p.read_text())) for p in flagged)
    assert lines == [f"{found}\tGL003\t[*] backward-twice"]


def test_statistics_sorted_by_count_with_the_fixable_marker_and_as_json(project):
    folders = [str(FIXTURES / "gl003"), str(FIXTURES / "gl017")]
    table = run("check", "--statistics", *folders).output.splitlines()
    counts = [int(line.split("\t")[0]) for line in table]
    assert counts == sorted(counts, reverse=True) and len(table) == 2
    assert table[1].split("\t")[1:] == ["GL017", "[ ] step-invalidates-graph"]
    data = json.loads(run("check", "--statistics", "--output-format", "json", *folders).output)
    assert [(d["code"], d["fixable"]) for d in data] == [("GL003", True), ("GL017", False)]
    assert [d["count"] for d in data] == counts


def test_quiet_prints_findings_without_the_summary_and_silent_nothing(project):
    quiet = run("check", "-q", str(BUGGY))
    assert quiet.exit_code == 1 and "GL002" in quiet.output and "Found" not in quiet.output
    silent = run("check", "-s", str(BUGGY))
    assert silent.exit_code == 1 and silent.output == ""


@pytest.mark.parametrize("env, flag, coloured", [
    ({"NO_COLOR": "1"}, [], False), ({"FORCE_COLOR": "1"}, [], True),
    ({"FORCE_COLOR": "1"}, ["--no-color"], False), ({"NO_COLOR": "1"}, ["--color"], True),
    ({"NO_COLOR": "", "FORCE_COLOR": ""}, [], False),  # empty: as if unset (not a terminal)
])
def test_no_color_and_force_color(project, env, flag, coloured):
    proc = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", *flag,
                           str(BUGGY)], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "", "FORCE_COLOR": "", **env})
    assert proc.returncode == 1 and ("\x1b[" in proc.stdout) == coloured


def test_output_format_from_the_environment_and_output_file(project, tmp_path):
    result = CliRunner().invoke(main, ["check", "--no-cache", str(BUGGY)],
                                env={"GRADLINT_OUTPUT_FORMAT": "json"})
    assert result.exit_code == 1 and json.loads(result.output)[0]["code"] == "GL002"
    out = tmp_path / "report.json"
    result = run("check", "--output-format", "json", "-o", str(out), str(BUGGY))
    assert result.exit_code == 1 and result.output == ""
    assert json.loads(out.read_text())[0]["code"] == "GL002"
    result = run("check", "-o", str(tmp_path / "missing" / "r.txt"), str(BUGGY))
    assert result.exit_code == 2 and "cannot write the output" in result.output


def test_exit_non_zero_on_fix(project, tmp_path):
    source = (FIXTURES / "gl001").glob("flagged_*.py")
    fixable = next(p for p in source if p.with_name(p.stem + ".fixed.py").exists())
    target = tmp_path / "train.py"
    target.write_text(fixable.read_text())
    plain = run("check", "--fix", "--select", "GL001", str(target))
    assert plain.exit_code == 0 and "fixed" in plain.output
    target.write_text(fixable.read_text())
    strict = run("check", "--fix", "--exit-non-zero-on-fix", "--select", "GL001", str(target))
    assert strict.exit_code == 1
    again = run("check", "--fix", "--exit-non-zero-on-fix", "--select", "GL001", str(target))
    assert again.exit_code == 0  # nothing left to fix


def test_version_flags_and_command():
    from gradlint import __version__

    for args in (["-V"], ["--version"], ["version"]):
        result = CliRunner().invoke(main, args)
        assert (result.exit_code, result.output) == (0, f"gradlint {__version__}\n")


def test_a_named_file_is_parsed_even_when_no_rule_needs_its_words(project, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("x = (\n")
    for extra in ([], ["--no-cache"]):
        result = run("check", "--select", "GL000", *extra, str(broken))
        assert result.exit_code == 1 and "GL000" in result.output, result.output
    # found by a folder walk, it is still left to the prefilter (no rule needs its words)
    result = run("check", "--select", "GL000", str(tmp_path))
    assert result.exit_code == 0


def test_a_missing_path_does_not_say_all_checks_passed(project):
    result = run("check", "nope.py")
    assert result.exit_code == 2 and "no such file" in result.output
    assert "All checks passed" not in result.output


def test_a_folder_without_python_files_says_so(project, tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here\n")
    result = run("check", str(tmp_path))
    assert result.exit_code == 0 and "no Python files found under" in result.output


def test_missing_path_is_reported_and_others_linted(project):
    result = CliRunner().invoke(main, ["check", "nope.py", str(BUGGY)])
    assert result.exit_code == 2
    assert "nope.py: no such file or directory" in result.output
    assert "GL002" in result.output


def test_folder_discovery_skips_hidden_venv_and_build(project):
    bug = BUGGY.read_text()
    for rel in ("pkg/train.py", ".hidden/a.py", "build/b.py", "venv/lib/c.py", "pkg/__pycache__/d.py",
                "dist/e.py"):
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(bug)
    (project / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    result = run("check", "--output-format", "json", ".")
    paths = {d["path"] for d in json.loads(result.output)}
    assert paths == {"pkg/train.py"}
    explicit = run("check", "--output-format", "json", "build/b.py")
    assert {d["path"] for d in json.loads(explicit.output)} == {"build/b.py"}


def test_syntax_error_reported_and_run_goes_on(project):
    (project / "broken.py").write_text("def train(:\n    loss.backward()\n    opt.step()\n")
    (project / "bug.py").write_text(BUGGY.read_text())
    (project / "plain.py").write_text("print('hello'\n")
    result = run("check", "--output-format", "json", ".")
    data = json.loads(result.output)
    assert [(d["path"], d["code"]) for d in data] == [("broken.py", "GL000"), ("bug.py", "GL002")]
    assert data[0]["line"] == 1 and "cannot parse" in data[0]["message"]
    assert result.exit_code == 1
    # a file that mentions no autograd API is not parsed unless asked to
    result = run("check", "--output-format", "json", "--no-prefilter", "plain.py")
    assert [d["code"] for d in json.loads(result.output)] == ["GL000"]


def test_noqa_comments(project):
    src = BUGGY.read_text().replace("print(b.grad)  # error: GL002", "print(b.grad)  # noqa: GL002")
    (project / "a.py").write_text(src)
    (project / "b.py").write_text(src.replace("# noqa: GL002", "# noqa"))
    (project / "c.py").write_text(src.replace("# noqa: GL002", "# noqa: GL001"))
    (project / "d.py").write_text("# gradlint: noqa\n" + BUGGY.read_text())
    (project / "e.py").write_text("# gradlint: noqa: GL001\n" + BUGGY.read_text())
    data = json.loads(run("check", "--output-format", "json", ".").output)
    assert sorted(d["path"] for d in data) == ["c.py", "e.py"]


def test_rules_and_rule_commands():
    out = run("rules").output
    assert "GL001  missing-zero-grad" in out
    assert "GL011  requires-grad-on-non-leaf  on " in out  # columns fit the longest name
    doc = run("rule", "GL003").output
    assert doc.startswith("# backward-twice (GL003)") and "## Fix safety" in doc
    assert run("rule", "non-leaf-grad").output.startswith("# non-leaf-grad (GL002)")
    bad = CliRunner().invoke(main, ["rule", "GL0003"])
    assert bad.exit_code == 2 and "closest is GL003" in bad.output


def test_real_subprocess_and_module_entry(project):
    (project / "bug.py").write_text(BUGGY.read_text())
    proc = subprocess.run([sys.executable, "-m", "gradlint", "check", "bug.py"],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("bug.py:8:7: GL002")
    assert "\x1b[" not in proc.stdout  # no colour when piped
    assert proc.stderr == ""
    proc = subprocess.run(["gradlint", "check", "--output-format", "json", "bug.py"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and json.loads(proc.stdout)[0]["code"] == "GL002"
    proc = subprocess.run(["gradlint", "check", "--color", "bug.py"], capture_output=True, text=True)
    assert "\x1b[" in proc.stdout


def test_the_command_exits_without_teardown_and_loses_nothing(project):
    """`gradlint` (and `python -m gradlint`) end with os._exit after flushing: the exit
    status of every path is kept, and output far larger than a pipe's buffer arrives
    whole."""
    from importlib.metadata import entry_points

    found = entry_points()
    scripts = (found.select(group="console_scripts") if hasattr(found, "select")
               else found.get("console_scripts", ()))  # Python 3.9
    [script] = [e for e in scripts if e.name == "gradlint"]
    assert script.value == "gradlint.launch:run"
    import shutil

    shutil.copytree(FIXTURES, project / "fx")
    cases = [
        (["check", "--output-format", "json", "--no-cache", "fx"], 1),
        (["check", "--exit-zero", "fx"], 0),
        (["check", "--select", "GL9999", "fx"], 2),
        (["check", "--config", "missing.toml", "fx"], 2),
        (["--version"], 0),
        (["no-such-command"], 2),
    ]
    for args, status in cases:
        for command in (["gradlint"], [sys.executable, "-m", "gradlint"]):
            proc = subprocess.run(command + args, capture_output=True, text=True, cwd=project)
            assert proc.returncode == status, (command, args, proc.stderr)
            if status == 2:
                assert proc.stderr.strip() and "Traceback" not in proc.stderr
    proc = subprocess.run(["gradlint", "check", "--output-format", "json", "--no-cache", "fx"],
                          capture_output=True, text=True, cwd=project)
    assert len(proc.stdout) > 100_000 and len(json.loads(proc.stdout)) > 100
    # the teardown is skipped: an exit handler registered before never runs
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
            "sys.argv = ['gradlint', 'check', '--exit-zero', 'fx']\n"
            "from gradlint.cli import run\n"
            "run()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=project)
    assert proc.returncode == 0 and "GL001" in proc.stdout and "teardown" not in proc.stderr


def test_config_from_pyproject(project):
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.gradlint]
        ignore = ["GL002"]
        extend-exclude = ["legacy"]
        per-file-ignores = { "tests/*" = ["GL004"] }
    """))
    (project / "legacy").mkdir()
    (project / "legacy" / "old.py").write_text(BUGGY.read_text())
    (project / "tests").mkdir()
    (project / "tests" / "t.py").write_text((FIXTURES / "gl004" / "flagged_article_example.py").read_text())
    (project / "main.py").write_text(BUGGY.read_text() + (FIXTURES / "gl004" / "flagged_article_example.py").read_text())
    data = json.loads(run("check", "--output-format", "json", ".").output)
    assert [(d["path"], d["code"]) for d in data] == [("main.py", "GL004")]
    # the command line overrides the file
    data = json.loads(run("check", "--output-format", "json", "--select", "GL002", "main.py").output)
    assert {d["code"] for d in data} == {"GL002"}


def test_config_errors_name_key_and_file(project):
    (project / "pyproject.toml").write_text("[tool.gradlint]\nselct = ['GL001']\n")
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 2
    assert "pyproject.toml" in result.output and "unknown option 'selct'" in result.output
    assert "did you mean 'select'" in result.output
    (project / "pyproject.toml").write_text("[tool.gradlint]\nignore = 'GL001'\n")
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 2 and "'ignore' must be a list of strings" in result.output
    (project / "pyproject.toml").write_text("[tool.gradlint]\nselect = ['GL01x']\n")
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 2 and "unknown rule code or prefix 'GL01x'" in result.output
    (project / "pyproject.toml").write_text("[tool.gradlint\n")
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 2 and "invalid TOML" in result.output


def test_explicit_config_option(project):
    (project / "lint.toml").write_text("[tool.gradlint]\nselect = ['GL001']\n")
    (project / "bug.py").write_text(BUGGY.read_text())
    assert run("check", "--config", "lint.toml", "bug.py").exit_code == 0
    result = CliRunner().invoke(main, ["check", "--config", "missing.toml", "bug.py"])
    assert result.exit_code == 2 and "missing.toml: configuration file not found" in result.output


def test_extra_clear_and_backward_functions(project):
    src = textwrap.dedent("""
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for i in range(3):
            loss = model(torch.randn(4, 2)).sum()
            loss.backward()
            opt.step()
            reset_all(model)
    """)
    (project / "a.py").write_text(src)
    # reset_all receives the model: gradlint cannot see into it, so it stays silent
    assert run("check", "a.py").exit_code == 0
    (project / "b.py").write_text(src.replace("reset_all(model)", "log_metrics(i)"))
    assert run("check", "b.py").exit_code == 1
    (project / "pyproject.toml").write_text("[tool.gradlint]\nclear-grad-functions = ['log_metrics']\n")
    assert run("check", "b.py").exit_code == 0


def test_rule_all_and_rule_as_json():
    from gradlint.rules import REGISTRY

    every = run("rule", "--all").output
    assert [line for line in every.splitlines() if line.startswith("# ")] == [
        f"# {r.name} ({r.code})" for r in REGISTRY.values()]
    data = json.loads(run("rule", "--output-format", "json", "GL002").output)
    assert data["code"] == "GL002" and data["explanation"].startswith("# non-leaf-grad")
    assert len(json.loads(run("rule", "--all", "--output-format", "json").output)) == len(REGISTRY)
    assert CliRunner().invoke(main, ["rule"]).exit_code == 2


def test_shell_completion_script_and_completion(tmp_path):
    script = run("generate-shell-completion", "bash").output
    assert "_GRADLINT_COMPLETE=bash_complete" in script
    proc = subprocess.run(["gradlint"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "_GRADLINT_COMPLETE": "bash_complete",
                               "COMP_WORDS": "gradlint check --stat", "COMP_CWORD": "2"})
    assert "--statistics" in proc.stdout


def test_show_files_isolated_exclude_and_extend_exclude(project):
    for name in ("src/a.py", "legacy/b.py", "build/c.py"):
        (project / name).parent.mkdir(exist_ok=True)
        (project / name).write_text("x = 1\n")
    (project / "pyproject.toml").write_text('[tool.gradlint]\nextend-exclude = ["legacy"]\n')

    def files(*args):
        result = run("check", "--show-files", *args)
        assert result.exit_code == 0
        return result.output.splitlines()

    assert files() == ["src/a.py"]
    assert files("--isolated") == ["legacy/b.py", "src/a.py"]  # (build/ is a default exclude)
    assert files("--isolated", "--extend-exclude", "src") == ["legacy/b.py"]
    # --exclude replaces the defaults (build/ is linted again); the file's extend stays
    assert files("--exclude", "src") == ["build/c.py"]
    assert files("--exclude", "nothing") == ["build/c.py", "src/a.py"]
    assert run("check", "--isolated", "--config", "pyproject.toml").exit_code == 2


def test_show_fixes_lists_what_was_fixed_per_file_and_rule(project):
    (project / "a.py").write_text((FIXTURES / "gl001" / "flagged_accumulation_never_cleared.py")
                                  .read_text())
    (project / "b.py").write_text(BUGGY.read_text())
    for fmt in ("text", "full"):
        for name, fixture in (("a.py", "gl001/flagged_accumulation_never_cleared.py"),
                              ("b.py", "gl002/flagged_article_example.py")):
            (project / name).write_text((FIXTURES / fixture).read_text())
        result = run("check", "--no-cache", "--fix", "--show-fixes", "--output-format", fmt, ".")
        assert result.exit_code == 0, result.output
        assert result.output == ("Fixed 2 problems:\n- a.py:\n    1 \u00d7 GL001 (missing-zero-grad)\n"
                                 "- b.py:\n    1 \u00d7 GL002 (non-leaf-grad)\n\n"
                                 "Found 2 problems (2 fixed, 0 remaining).\n")
    # nothing to list without --fix; the setting turns it on too
    (project / "a.py").write_text((FIXTURES / "gl001" / "flagged_accumulation_never_cleared.py")
                                  .read_text())
    assert "Fixed" not in run("check", "--no-cache", "--show-fixes", "a.py").output
    (project / "gradlint.toml").write_text("show-fixes = true\n")
    result = run("check", "--no-cache", "--fix", "--output-format", "text", "a.py")
    assert result.output.startswith("Fixed 1 problem:\n- a.py:\n")
    (project / "a.py").write_text((FIXTURES / "gl001" / "flagged_accumulation_never_cleared.py")
                                  .read_text())
    result = run("check", "--no-cache", "--fix", "--no-show-fixes", "a.py")
    assert "Fixed" not in result.output and "(1 fixed, 0 remaining)" in result.output
