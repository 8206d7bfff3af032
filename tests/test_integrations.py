"""Real flake8 and real pre-commit, run as users run them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, fixture_files
from gradlint.config import Settings
from gradlint.linter import lint_source

# (one xdist worker runs this module: pre-commit builds its hook environment once)
pytestmark = pytest.mark.xdist_group("integrations")

FLAKE8 = [sys.executable, "-m", "flake8", "--isolated", "--format=%(path)s:%(row)d:%(col)d:%(code)s"]


def _flake8(*args, cwd=None):
    proc = subprocess.run(FLAKE8 + list(args), capture_output=True, text=True, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    out = set()
    for line in proc.stdout.splitlines():
        path, row, col, code = line.rsplit(":", 3)
        out.add((os.path.normpath(path), int(row), int(col), code))
    return out


def test_flake8_matches_gradlint_on_every_fixture():
    files = [str(p) for p in fixture_files()]
    expected = set()
    for path in fixture_files():
        for d in lint_source(path.read_text(), str(path), Settings(select=("GL",))):
            expected.add((os.path.normpath(str(path)), d.line, d.column, d.code))
    assert _flake8("--select", "GL", *files) == expected
    assert _flake8("--select", "GL", "-j", "2", *files) == expected  # flake8's own parallel mode
    assert len(expected) >= 40


def test_flake8_selection_noqa_and_config(tmp_path):
    bug = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()
    (tmp_path / "a.py").write_text(bug)
    (tmp_path / "b.py").write_text(bug.replace("# error: GL002", "# noqa: GL002"))
    (tmp_path / "c.py").write_text(bug)
    found = _flake8("--select", "GL", "--per-file-ignores", "c.py:GL002", ".", cwd=tmp_path)
    assert {(p, code) for p, _, _, code in found} == {("a.py", "GL002")}
    assert {c for *_, c in _flake8("--select", "GL", "--ignore", "GL002", ".", cwd=tmp_path)} == set()
    (tmp_path / "setup.cfg").write_text("[flake8]\nselect = GL\nper-file-ignores =\n    a.py: GL002\n")
    proc = subprocess.run([sys.executable, "-m", "flake8", "--format=%(path)s:%(code)s", "."],
                          capture_output=True, text=True, cwd=tmp_path)
    assert sorted(proc.stdout.split()) == ["./c.py:GL002"]


def test_flake8_honours_gradlints_own_suppressions(tmp_path):
    """The same suppressions as `gradlint check`: a file-wide `# gradlint: noqa` on a line
    of its own and lowercase codes; flake8's --disable-noqa turns them all off."""
    bug = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()
    (tmp_path / "wide.py").write_text("# gradlint: noqa: GL002\n" + bug)
    (tmp_path / "lower.py").write_text(bug.replace("# error: GL002", "# noqa: gl002"))
    (tmp_path / "after_code.py").write_text(bug.replace("# error: GL002", "# gradlint: noqa"))
    found = {(p, code) for p, _, _, code in _flake8("--select", "GL", ".", cwd=tmp_path)}
    assert found == {("after_code.py", "GL002")}
    expected = {(os.path.normpath(str(p.relative_to(tmp_path))), "GL002")
                for p in tmp_path.glob("*.py")}
    assert {(p, code) for p, _, _, code in _flake8("--select", "GL", "--disable-noqa", ".",
                                                 cwd=tmp_path)} == expected
    cli = [(d.path, d.code) for name in ("wide.py", "lower.py", "after_code.py")
           for d in lint_source((tmp_path / name).read_text(), name, Settings())]
    assert cli == [("after_code.py", "GL002")]


@pytest.fixture(scope="module")
def precommit_home(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    return tmp_path_factory.mktemp("pre-commit-home")


def _git_repo(path: Path, files: dict) -> None:
    path.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    subprocess.run(["git", "init", "-q"], cwd=path, check=True, env=env)
    for name, text in files.items():
        (path / name).write_text(text)
    subprocess.run(["git", "add", "."], cwd=path, check=True, env=env)


def _try_repo(hook, cwd, home):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home))
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook,
                           "--all-files"], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=900)


@pytest.mark.slow
def test_pre_commit_hooks(tmp_path, precommit_home):
    buggy = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text()
    clean = (FIXTURES / "gl001" / "clean_standard_loop.py").read_text()
    _git_repo(tmp_path / "bad", {"train.py": buggy})
    proc = _try_repo("gradlint", tmp_path / "bad", precommit_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "GL001" in proc.stdout
    _git_repo(tmp_path / "good", {"train.py": clean})
    proc = _try_repo("gradlint", tmp_path / "good", precommit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _git_repo(tmp_path / "fix", {"train.py": buggy})
    proc = _try_repo("gradlint-fix", tmp_path / "fix", precommit_home)
    assert proc.returncode == 1  # pre-commit fails a hook that changed files
    fixed = (tmp_path / "fix" / "train.py").read_text()
    assert fixed == (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.fixed.py").read_text()
