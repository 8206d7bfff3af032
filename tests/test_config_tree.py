"""Settings found per file, as Ruff finds them: the closest configuration file above
each file, `extend`, the `extend-*` keys, `fixable` / `unfixable`, `include`, and the
command line's `--config KEY=VALUE`, `--per-file-ignores` and `--show-settings`."""

import json
import textwrap

from click.testing import CliRunner

from conftest import FIXTURES
from gradlint.cli import main

NON_LEAF = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()  # GL002, fixable
NO_GRAD = (FIXTURES / "gl004" / "flagged_article_example.py").read_text()  # GL004


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def found(*args):
    result = run("check", "--no-cache", "--output-format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return sorted((d["path"], d["code"]) for d in json.loads(result.output))


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_the_issue_layout_a_subfolder_with_its_own_settings(project):
    """`gradlint check cfg/` from the folder above reads cfg/pyproject.toml."""
    write(project / "cfg" / "pyproject.toml", """
        [tool.gradlint]
        ignore = ["GL004"]
        extend-exclude = ["generated"]
    """)
    (project / "cfg" / "train.py").write_text(NON_LEAF + NO_GRAD)
    write(project / "cfg" / "generated" / "gen.py", NON_LEAF)
    assert found("cfg") == [("cfg/train.py", "GL002")]
    # the same from inside the folder, and with the file named
    assert found("cfg/train.py") == [("cfg/train.py", "GL002")]


def test_a_pyproject_without_a_gradlint_table_does_not_shadow_the_root(project):
    write(project / "pyproject.toml", '[tool.gradlint]\nignore = ["GL004"]\n')
    write(project / "packages" / "a" / "pyproject.toml", '[project]\nname = "a"\n')
    (project / "packages" / "a" / "m.py").write_text(NON_LEAF + NO_GRAD)
    assert found("packages") == [("packages/a/m.py", "GL002")]
    # a package that does configure gradlint wins for its own files
    write(project / "packages" / "a" / "pyproject.toml",
          '[project]\nname = "a"\n[tool.gradlint]\nignore = ["GL002"]\n')
    assert found("packages") == [("packages/a/m.py", "GL004")]


def test_which_file_wins_in_one_folder(project):
    (project / "m.py").write_text(NON_LEAF + NO_GRAD)
    write(project / "pyproject.toml", '[tool.gradlint]\nignore = ["GL002", "GL004"]\n')
    assert found(".") == []
    write(project / "gradlint.toml", 'ignore = ["GL004"]\n')
    assert found(".") == [("m.py", "GL002")]
    write(project / ".gradlint.toml", 'ignore = ["GL002"]\n')
    assert found(".") == [("m.py", "GL004")]


def test_files_without_a_configuration_use_the_working_folders(project):
    """Outside every configured folder, a file gets the run's own settings."""
    write(project / "pyproject.toml", '[tool.gradlint]\nignore = ["GL004"]\n')
    write(project / "sub" / "gradlint.toml", 'ignore = ["GL002"]\n')
    (project / "sub" / "m.py").write_text(NON_LEAF + NO_GRAD)
    (project / "top.py").write_text(NON_LEAF + NO_GRAD)
    assert found(".") == [("sub/m.py", "GL004"), ("top.py", "GL002")]


def test_extend_inherits_and_the_extend_keys_add(project):
    write(project / "pyproject.toml", """
        [tool.gradlint]
        select = ["GL002", "GL004"]
        per-file-ignores = { "pkg/tests/*" = ["GL004"] }
        extend-exclude = ["pkg/vendored"]
    """)
    write(project / "pkg" / "gradlint.toml", """
        extend = "../pyproject.toml"
        extend-ignore = ["GL002"]
        extend-per-file-ignores = { "scripts/*" = ["GL004"] }
    """)
    for name in ("main.py", "tests/t.py", "scripts/s.py", "vendored/v.py"):
        (project / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "pkg" / name).write_text(NON_LEAF + NO_GRAD)
    # GL002 ignored by the extending file; the parent's per-file ignore and exclude keep
    # meaning the folders they named, though written one folder up
    assert found("pkg") == [("pkg/main.py", "GL004")]
    # a plain key replaces what is extended: a fresh selection
    write(project / "pkg" / "gradlint.toml", 'extend = "../pyproject.toml"\nselect = ["GL002"]\n')
    assert found("pkg/main.py") == [("pkg/main.py", "GL002")]


def test_an_extend_cycle_or_a_missing_file_is_an_error_naming_it(project):
    write(project / "a.toml", 'extend = "b.toml"\n')
    write(project / "b.toml", 'extend = "a.toml"\n')
    (project / "m.py").write_text("x = 1\n")
    result = run("check", "--config", "a.toml", "m.py")
    assert result.exit_code == 2 and "makes a cycle" in result.output
    write(project / "gradlint.toml", 'extend = "nowhere.toml"\n')
    result = run("check", "m.py")
    assert result.exit_code == 2
    assert "nowhere.toml: configuration file not found" in result.output
    assert "extended by gradlint.toml" in result.output


def test_a_bad_configuration_below_is_an_error_naming_file_and_option(project):
    write(project / "sub" / "gradlint.toml", 'selct = ["GL001"]\n')
    (project / "sub" / "m.py").write_text("x = 1\n")
    result = run("check", ".")
    assert result.exit_code == 2
    assert "sub/gradlint.toml" in result.output and "unknown option 'selct'" in result.output
    assert "Traceback" not in result.output


def test_fixable_and_unfixable(project):
    (project / "m.py").write_text(NON_LEAF)
    write(project / "gradlint.toml", 'unfixable = ["GL002"]\n')
    result = run("check", "--no-cache", "--output-format", "json", "m.py")
    assert [d["fix"] for d in json.loads(result.output)] == [None]
    assert run("check", "--no-cache", "--fix", "m.py").exit_code == 1
    assert (project / "m.py").read_text() == NON_LEAF
    write(project / "gradlint.toml", 'fixable = ["GL001"]\n')
    assert run("check", "--no-cache", "--fix", "m.py").exit_code == 1
    assert (project / "m.py").read_text() == NON_LEAF
    write(project / "gradlint.toml", 'fixable = ["GL0"]\n')
    assert run("check", "--no-cache", "--fix", "m.py").exit_code == 0
    assert (project / "m.py").read_text() != NON_LEAF


def test_include(project):
    (project / "tool.pyw").write_text(NON_LEAF)
    (project / "m.py").write_text(NON_LEAF)
    assert found(".") == [("m.py", "GL002")]
    write(project / "gradlint.toml", 'extend-include = ["*.pyw"]\n')
    assert found(".") == [("m.py", "GL002"), ("tool.pyw", "GL002")]
    write(project / "gradlint.toml", 'include = ["*.pyw"]\n')
    assert found(".") == [("tool.pyw", "GL002")]
    # a file named on the command line is linted whatever `include` says
    assert found("m.py") == [("m.py", "GL002")]


def test_config_key_value_overrides_every_file(project):
    write(project / "sub" / "gradlint.toml", 'ignore = ["GL004"]\n')
    (project / "sub" / "m.py").write_text(NON_LEAF + NO_GRAD)
    assert found(".", "--config", 'select = ["GL004"]') == [("sub/m.py", "GL004")]
    assert found(".", "--config", "ignore = ['GL002']") == []
    result = run("check", "--config", "selct = ['GL001']", ".")
    assert result.exit_code == 2 and "--config" in result.output
    assert "unknown option 'selct'" in result.output
    result = run("check", "--config", "select = GL001", ".")
    assert result.exit_code == 2 and "not a path to a file, nor a valid" in result.output
    write(project / "one.toml", "")
    write(project / "two.toml", "")
    result = run("check", "--config", "one.toml", "--config", "two.toml", ".")
    assert result.exit_code == 2 and "names one configuration file" in result.output


def test_config_path_applies_to_every_file(project):
    write(project / "sub" / "gradlint.toml", 'ignore = ["GL004"]\n')
    (project / "sub" / "m.py").write_text(NON_LEAF + NO_GRAD)
    write(project / "lint.toml", 'ignore = ["GL002"]\n')
    assert found(".", "--config", "lint.toml") == [("sub/m.py", "GL004")]
    assert found(".", "--isolated") == [("sub/m.py", "GL002"), ("sub/m.py", "GL004")]


def test_per_file_ignores_on_the_command_line(project):
    write(project / "gradlint.toml", 'per-file-ignores = { "tests/*" = ["GL002"] }\n')
    for name in ("tests/t.py", "m.py"):
        (project / name).parent.mkdir(exist_ok=True)
        (project / name).write_text(NON_LEAF)
    assert found(".") == [("m.py", "GL002")]
    assert found(".", "--per-file-ignores", "m.py:GL002") == [("tests/t.py", "GL002")]
    assert found(".", "--extend-per-file-ignores", "m.py:GL002") == []
    result = run("check", "--per-file-ignores", "m.py", ".")
    assert result.exit_code == 2 and "expected GLOB:CODES" in result.output
    result = run("check", "--per-file-ignores", "m.py:GL0x", ".")
    assert result.exit_code == 2 and "unknown rule code or prefix 'GL0x'" in result.output


def test_show_settings_names_where_each_value_came_from(project):
    write(project / "pyproject.toml", '[tool.gradlint]\nselect = ["GL0"]\nextend-exclude = ["a"]\n')
    write(project / "sub" / "gradlint.toml", 'extend = "../pyproject.toml"\nextend-exclude = ["b"]\n')
    (project / "sub" / "m.py").write_text("x = 1\n")
    result = run("check", "--show-settings", "--ignore", "GL004", "sub/m.py")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[1].endswith("sub/gradlint.toml")
    row = {line.split(" = ")[0]: line for line in lines if " = " in line}
    assert row["select"].startswith('select = ["GL0"]') and row["select"].endswith("pyproject.toml")
    assert row["extend-exclude"].startswith('extend-exclude = ["a", "b"]')
    assert "pyproject.toml + " in row["extend-exclude"]
    assert row["ignore"].startswith('ignore = ["GL004"]') and row["ignore"].endswith("command line")
    assert row["file-timeout"].endswith("# default")
    # what is not a comment is TOML that could be pasted into a gradlint.toml
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    pasted = tomllib.loads("\n".join(line for line in lines if not line.startswith("#")))
    assert pasted["extend-exclude"] == ["a", "b"] and "output-format" not in pasted


def test_the_cache_follows_each_files_settings(project):
    """The cached findings of a file depend on its own folder's settings."""
    write(project / "sub" / "gradlint.toml", 'ignore = ["GL004"]\n')
    (project / "sub" / "m.py").write_text(NON_LEAF + NO_GRAD)

    def cached():
        result = run("check", "--output-format", "json", ".")
        return sorted(d["code"] for d in json.loads(result.output))

    assert cached() == ["GL002"]
    assert cached() == ["GL002"]
    write(project / "sub" / "gradlint.toml", 'ignore = ["GL002"]\n')
    assert cached() == ["GL004"]


def test_explain_reads_the_files_own_settings(project):
    write(project / "sub" / "gradlint.toml", 'backward-functions = ["fit_step"]\n')
    (project / "sub" / "m.py").write_text("x = 1\n")
    result = run("explain", "sub/m.py")
    assert result.exit_code == 0, result.output
