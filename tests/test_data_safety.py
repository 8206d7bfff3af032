"""Nothing gradlint does destroys a user's files: each case of the fault audit, reproduced.

Cache folders and `clean`, fixes racing a writer, symbolic links, owners and extended
attributes, standard input's bytes, notebooks whose cells look like gradlint's own
markers, stale temporary files.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from gradlint.cli import main
from gradlint.files import WriteError, read_source, write_atomic

BUG = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text()
FIXED = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.fixed.py").read_text()


def _snapshot(folder):
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def _gradlint(*args, cwd, stdin=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "gradlint", *args], cwd=cwd, input=stdin,
                          capture_output=True, timeout=timeout)


# -- the cache folder and `clean` -----------------------------------------------------------
@pytest.mark.parametrize("value", [".", "..", "./"])
def test_a_cache_dir_that_is_the_project_or_above_is_refused(project, value):
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / "train.py").write_text(BUG)
    (project / "pyproject.toml").write_text(f"[tool.gradlint]\ncache-dir = {value!r}\n")
    before = _snapshot(project)
    for args in (["check", "."], ["clean"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "option 'cache-dir'" in result.output and "pyproject.toml" in result.output
        assert "Traceback" not in result.output
    assert _snapshot(project) == before  # no .gitignore with `*`, nothing removed


def test_clean_refuses_a_folder_that_is_not_a_gradlint_cache(project):
    victim = project.parent / f"{project.name}-victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work\n")
    (project / "pyproject.toml").write_text(f"[tool.gradlint]\ncache-dir = '../{victim.name}'\n")
    (project / "train.py").write_text(BUG)
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 1  # the findings; no cache kept
    assert "is not a gradlint cache" in result.stderr
    result = CliRunner().invoke(main, ["clean"])
    assert result.exit_code == 2 and "not removed" in result.output
    assert sorted(os.listdir(victim)) == ["thesis.tex"]


def test_clean_removes_its_own_cache_and_refuses_one_with_user_files(project):
    (project / "train.py").write_text(BUG)
    assert CliRunner().invoke(main, ["check", "."]).exit_code == 1
    cache = project / ".gradlint_cache"
    assert {"CACHEDIR.TAG", ".gradlint-cache", ".gitignore"} <= set(os.listdir(cache))
    (cache / "notes.txt").write_text("mine\n")
    result = CliRunner().invoke(main, ["clean"])
    assert result.exit_code == 2 and "notes.txt is not gradlint's" in result.output
    assert (cache / "notes.txt").exists()
    (cache / "notes.txt").unlink()
    result = CliRunner().invoke(main, ["clean"])
    assert result.exit_code == 0 and not cache.exists()
    assert sorted(os.listdir(project)) == ["train.py"]


def test_a_cache_of_the_previous_format_is_taken_over(project):
    from gradlint.cache import TAG, TAG_TEXT, Cache, is_marked

    old = project / ".gradlint_cache"
    (old / "0.0.9" / "ab").mkdir(parents=True)
    (old / TAG).write_text(TAG_TEXT)
    (old / "0.0.9" / "ab" / ("ab" + "0" * 62 + ".json")).write_text("{}")
    Cache(str(old)).prepare()
    assert is_marked(str(old))


def test_the_cache_key_holds_gradlints_own_code(project, monkeypatch):
    import gradlint.cache as cache

    key = cache.Cache.key(b"x", "a.py", "f")
    monkeypatch.setattr(cache, "_CODE_DIGEST", ["edited"])
    assert cache.Cache.key(b"x", "a.py", "f") != key


# -- fixes ------------------------------------------------------------------------------------
def test_a_file_changed_while_it_is_fixed_is_not_written(project, monkeypatch):
    import gradlint.fixes as fixes

    path = project / "train.py"
    path.write_text(BUG)
    real = fixes.fix_source

    def slow_fix(*args, **kwargs):  # another program appends while the fix is computed
        outcome = real(*args, **kwargs)
        with open(path, "a") as handle:
            handle.write("".join(f"print({i})\n" for i in range(34)))
        return outcome

    monkeypatch.setattr(fixes, "fix_source", slow_fix)
    result = CliRunner().invoke(main, ["check", "--fix", "--no-cache", "train.py"])
    assert result.exit_code == 2
    assert "changed while gradlint was fixing it" in result.stderr
    assert path.read_text() == BUG + "".join(f"print({i})\n" for i in range(34))
    assert [p.name for p in project.iterdir()] == ["train.py"]


def test_write_atomic_compares_the_bytes(tmp_path):
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    source = read_source(str(path))
    path.write_text("x = 2\n")
    with pytest.raises(WriteError, match="changed while gradlint was fixing it"):
        write_atomic(str(path), "x = 3\n", source)
    assert path.read_text() == "x = 2\n"


def test_fixes_write_through_a_symlink(project):
    (project / "real").mkdir()
    target = project / "real" / "train.py"
    target.write_text(BUG)
    os.symlink("real/train.py", project / "link.py")
    result = CliRunner().invoke(main, ["check", "--fix", "--no-cache", "link.py"])
    assert result.exit_code == 0, result.output
    assert os.path.islink(project / "link.py") and os.readlink(project / "link.py") == "real/train.py"
    assert target.read_text() == FIXED
    assert sorted(os.listdir(project / "real")) == ["train.py"]


def test_fixes_keep_owner_mode_and_extended_attributes(project):
    path = project / "train.py"
    path.write_text(BUG)
    os.chmod(path, 0o640)
    if os.geteuid() == 0:
        os.chown(path, 1234, 2345)
    try:
        os.setxattr(path, "user.origin", b"dataset-v2")
        xattrs = True
    except OSError:  # (a file system without user attributes)
        xattrs = False
    result = CliRunner().invoke(main, ["check", "--fix", "--no-cache", "train.py"])
    assert result.exit_code == 0, result.output
    info = os.stat(path)
    assert path.read_text() == FIXED and info.st_mode & 0o777 == 0o640
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 2345)
    if xattrs:
        assert os.getxattr(path, "user.origin") == b"dataset-v2"


# -- standard input -----------------------------------------------------------------------------
@pytest.mark.parametrize("data, expected", [
    # latin-1 under its cookie: written back in latin-1
    (b"# -*- coding: latin-1 -*-\nimport torch\nw = torch.zeros(3, requires_grad=True)\n"
     b"s = 'caf\xe9'\nw += 1\n",
     b"# -*- coding: latin-1 -*-\nimport torch\nw = torch.zeros(3, requires_grad=True)\n"
     b"s = 'caf\xe9'\nwith torch.no_grad():\n    w += 1\n"),
    # a BOM and CRLF: both kept
    (b"\xef\xbb\xbfimport torch\r\nw = torch.zeros(3, requires_grad=True)\r\nw += 1\r\n",
     b"\xef\xbb\xbfimport torch\r\nw = torch.zeros(3, requires_grad=True)\r\n"
     b"with torch.no_grad():\r\n    w += 1\r\n"),
    # bytes that are not UTF-8, no cookie: reported, and given back untouched
    (b"import torch\nx = '\xff\xfe'\n", b"import torch\nx = '\xff\xfe'\n"),
])
def test_stdin_fix_gives_back_bytes(tmp_path, data, expected):
    proc = _gradlint("check", "--fix", "--no-cache", "-", cwd=tmp_path, stdin=data)
    assert proc.stdout == expected, proc.stderr


# -- notebooks --------------------------------------------------------------------------------
def _notebook(cells):
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                       "outputs": [], "source": source} for source in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize("marker", ["# gradlint-cell 1", "# gradlint-cell -7",
                                    "pass  # gradlint-magic-0", "# cell 2"])
def test_notebook_cells_that_look_like_markers_are_kept(project, marker):
    cells = [["import torch\n", f"{marker}\n", "model = torch.nn.Linear(2, 1)\n",
              "opt = torch.optim.SGD(model.parameters(), lr=0.1)"],
             ["%time x = 1\n", f"{marker}\n", "for i in range(3):\n",
              "    loss = model(torch.randn(4, 2)).sum()\n", "    loss.backward()\n",
              "    opt.step()\n"]]
    text = json.dumps(_notebook(cells), indent=1) + "\n"
    (project / "nb.ipynb").write_text(text)
    result = CliRunner().invoke(main, ["check", "--fix", "--no-cache", "nb.ipynb"])
    assert result.exit_code == 0, result.output
    expected = _notebook(cells)
    expected["cells"][1]["source"].insert(3, "    opt.zero_grad()\n")
    assert (project / "nb.ipynb").read_text() == json.dumps(expected, indent=1) + "\n"


def test_a_fix_that_would_touch_a_magic_is_not_applied(project):
    cells = [["import torch\n", "w = torch.zeros(3, requires_grad=True)\n",
              "w += 1\n", "%timeit w.sum()\n"]]
    text = json.dumps(_notebook(cells), indent=1) + "\n"
    (project / "nb.ipynb").write_text(text)
    result = CliRunner().invoke(main, ["check", "--fix", "--no-cache", "nb.ipynb"])
    after = json.loads((project / "nb.ipynb").read_text())
    assert "%timeit w.sum()\n" in after["cells"][0]["source"]
    assert result.exit_code == 0, result.output


# -- temporary files ----------------------------------------------------------------------------
def test_stale_temporary_files_are_removed_and_live_ones_kept(project):
    dead = project / ".gradlint-999999999-aaaa.tmp"
    dead.write_text("half a file")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = project / f".gradlint-{sleeper.pid}-bbbb.tmp"
        live.write_text("being written")
        (project / "train.py").write_text(BUG)
        CliRunner().invoke(main, ["check", "--no-cache", "."])
        assert not dead.exists() and live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_temporary_file_whose_process_id_was_reused_is_removed(project):
    """The id in the name now belongs to a process that started after the file was last
    written (ids are reused soon where they are few): that process is not its writer."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        reused = project / f".gradlint-{sleeper.pid}-cccc.tmp"
        reused.write_text("left by a killed run")
        an_hour_ago = time.time() - 3600
        os.utime(reused, (an_hour_ago, an_hour_ago))
        (project / "train.py").write_text(BUG)
        CliRunner().invoke(main, ["check", "--no-cache", "."])
        assert not reused.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_a_temporary_file_of_a_zombie_is_removed(project):
    """A killed run's worker that nothing reaped is a zombie: it has ended, and its
    temporary file is a leftover."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # ended, not yet waited for: a zombie
        with open(f"/proc/{child.pid}/stat") as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.02)
    try:
        leftover = project / f".gradlint-{child.pid}-dddd.tmp"
        leftover.write_text("left by a killed worker")
        (project / "train.py").write_text(BUG)
        CliRunner().invoke(main, ["check", "--no-cache", "."])
        assert not leftover.exists()
    finally:
        child.wait()


# -- line endings under every fix ---------------------------------------------------------------
def _fixed_pairs():
    return sorted(FIXTURES.glob("*/*.fixed.py"))


def _lines(text):
    import re

    return re.findall(r"([^\r\n]*)(\r\n|\r|\n|$)", text)[:-1]


@pytest.mark.parametrize("fixed", _fixed_pairs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fix_keeps_line_endings(fixed):
    """LF, CRLF and CR files get their own endings back; in a file of mixed endings every
    original line keeps its ending, new lines take their neighbour's, and no `\\r\\r\\n`
    or added final newline appears."""
    import random

    from gradlint.config import Settings
    from gradlint.fixes import fix_source
    from gradlint.linter import lint_source

    original = fixed.with_name(fixed.name.replace(".fixed.py", ".py"))
    src = original.read_text()
    want = fixed.read_text()
    settings = Settings(select=("ALL",))

    def fix(text):
        return fix_source(text, lambda t: lint_source(t, str(original), settings), True).source

    for nl in ("\r\n", "\r"):
        assert fix(src.replace("\n", nl)) == want.replace("\n", nl)
    rng = random.Random(fixed.name)
    lines = src.split("\n")
    mixed, previous = "", ""
    for line in lines[:-1]:
        # (a CR right before an LF would make one CRLF ending of the two)
        previous = "\r" if previous == "\r" and not line else rng.choice(["\n", "\r\n", "\r"])
        mixed += line + previous
    mixed += lines[-1]
    out = fix(mixed)  # (a `\r\r\n` would read as one more line here)
    assert out.replace("\r\n", "\n").replace("\r", "\n") == want
    # every line the fixes left in place (the same text, in the same order) keeps its ending
    import difflib

    before, after = _lines(mixed), _lines(out)
    matcher = difflib.SequenceMatcher(None, [t for t, _ in before], [t for t, _ in after],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            kept, now = [e for _, e in before[i1:i2]], [e for _, e in after[j1:j2]]
            # the one change allowed: a bare CR that removed lines brought next to an LF
            # (they would join into one CRLF ending) becomes a CRLF
            if kept and kept[-1] == "\r" and now[-1] == "\r\n" and j2 < len(after) and \
                    after[j2][0] == "" and after[j2][1] == "\n":
                now[-1] = "\r"
            assert kept == now
    no_final = src.rstrip("\n")
    assert not fix(no_final).endswith("\n") or no_final == src


def test_removing_lines_between_a_cr_and_an_lf_loses_no_line():
    """`a<CR>b<CRLF><LF>c`: deleting line 2 would join the CR and the LF into one CRLF
    ending, and the empty line 3 would vanish; the CR becomes a CRLF instead."""
    from gradlint.diagnostics import Edit, Fix
    from gradlint.fixes import apply_edits, python_lines

    source = "a\rb\r\n\nc\n"
    out, applied = apply_edits(source, [Fix("safe", "drop b", (Edit(2, 1, 3, 1, ""),))])
    assert applied == 1 and out == "a\r\n\nc\n"
    assert [line.rstrip("\r\n") for line in python_lines(out)] == ["a", "", "c"]


def test_clean_also_removes_the_caches_below_and_keeps_a_user_folder_of_that_name(project):
    for sub in ("pkg_a", "pkg_b/deep"):
        (project / sub).mkdir(parents=True)
        (project / sub / "train.py").write_text(BUG)
    # caches made by runs started in each package (its own root: no pyproject above)
    for sub in ("pkg_a", "pkg_b/deep"):
        proc = subprocess.run([sys.executable, "-m", "gradlint", "check", "."],
                              cwd=project / sub, capture_output=True, text=True)
        assert proc.returncode == 1 and (project / sub / ".gradlint_cache").is_dir()
    mine = project / "notes" / ".gradlint_cache"
    mine.mkdir(parents=True)
    (mine / "thesis.tex").write_text("mine\n")
    result = CliRunner().invoke(main, ["clean"])
    assert result.exit_code == 1 and "not removed" in result.output  # (a warning, not a stop)
    assert not (project / "pkg_a" / ".gradlint_cache").exists()
    assert not (project / "pkg_b" / "deep" / ".gradlint_cache").exists()
    assert (mine / "thesis.tex").read_text() == "mine\n"
