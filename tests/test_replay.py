"""Replaying an unchanged `gradlint check` from its record: the same bytes and status
without starting click, and a full run as soon as any input differs."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES
from gradlint import locate, replay
from gradlint.cache import Cache

# (one xdist worker runs this module: the projects are written, and waited for, once)
pytestmark = pytest.mark.xdist_group("replay")

TRAIN = FIXTURES / "gl001" / "flagged_accumulation_never_cleared.py"
NON_LEAF = FIXTURES / "gl002" / "flagged_article_example.py"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRADLINT")}
SCENARIOS = ("replayed", "content", "added", "removed", "config", "env", "git", "corrupt",
             "cache_dir", "json", "no_record")


def gradlint(folder, *args, env=None):
    """(exit status, stdout, stderr, whether click was imported) of `python -m gradlint`."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gradlint", *args],
                          cwd=folder, capture_output=True, text=True, env=env or ENV)
    lines = proc.stderr.splitlines()
    imported = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    return proc.returncode, proc.stdout, stderr, "click" in imported


def records(folder):
    runs = folder / ".gradlint_cache" / "0.1.0" / "runs"
    return sorted(runs.iterdir()) if runs.is_dir() else []


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """One project per scenario, all written first: a run keeps no record of files
    changed less than two seconds before it, so there is one wait for all of them."""
    made = {}
    for name in SCENARIOS:
        folder = tmp_path_factory.mktemp(name)
        shutil.copy(TRAIN, folder / "train.py")
        (folder / "pkg").mkdir()
        shutil.copy(NON_LEAF, folder / "pkg" / "leaf.py")
        (folder / "pkg" / "clean.py").write_text("x = 1\n")
        made[name] = folder
    subprocess.run(["git", "init", "-q", str(made["git"])], check=True)
    (made["cache_dir"] / "pyproject.toml").write_text(
        "[tool.gradlint]\ncache-dir = 'build/lint'  # elsewhere\n")
    # The cache folders, as the first run of a new project leaves them. Made during that
    # run, a cache folder changes the project's folder (and what git lists) after the
    # run looked at it: its record is out of date at once, and the first replay is the
    # third run's.
    for name, folder in made.items():
        Cache(str(folder / ("build/lint" if name == "cache_dir" else ".gradlint_cache"))).prepare()
    time.sleep(2.2)
    return made


def replayed_after_a_full_run(folder, *args):
    """Runs twice: the first in full (keeping a record), the second from the record;
    returns the first's (status, stdout)."""
    first = gradlint(folder, "check", *args)
    assert first[3] and first[2] == "", first
    second = gradlint(folder, "check", *args)
    assert not second[3], "the second run imported click: it was not replayed"
    assert second[:3] == first[:3]
    return first[:2]


def test_an_unchanged_run_is_replayed_byte_for_byte(projects):
    folder = projects["replayed"]
    status, out = replayed_after_a_full_run(folder)
    assert status == 1 and "train.py:14:9: GL001" in out and "pkg/leaf.py" in out
    assert len(records(folder)) == 1
    # the console script replays the same record
    proc = subprocess.run(["gradlint", "check"], cwd=folder, capture_output=True, text=True,
                          env=ENV)
    assert (proc.returncode, proc.stdout) == (status, out)
    # another command line has a record of its own
    status, quiet = replayed_after_a_full_run(folder, "--quiet", "--exit-zero")
    assert status == 0 and "GL001" in quiet and "Found" not in quiet
    assert len(records(folder)) == 2


def test_json_and_colour_are_replayed_as_written(projects):
    folder = projects["json"]
    status, out = replayed_after_a_full_run(folder, "--output-format", "json")
    assert status == 1 and {d["code"] for d in json.loads(out)} == {"GL001", "GL002"}
    status, out = replayed_after_a_full_run(folder, "--color")
    assert "\x1b[" in out


def run_changed(folder, *args, env=None):
    """A run after a change: in full (click imported), without errors."""
    status, out, err, full = gradlint(folder, "check", *args, env=env)
    assert full, "a run after a change was replayed"
    assert err == ""
    return status, out


def test_a_file_edited_in_place_keeping_its_size_and_mtime(projects):
    folder = projects["content"]
    replayed_after_a_full_run(folder)
    path = folder / "train.py"
    before = os.stat(path)
    text = path.read_text()
    assert "loss.backward()" in text
    path.write_text(text.replace("loss.backward()", "loss.backwarx()"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    status, out = run_changed(folder)
    assert "GL001" not in out and "GL002" in out  # neither the record nor the index answered


def test_a_file_added_or_removed(projects):
    folder = projects["added"]
    replayed_after_a_full_run(folder)
    shutil.copy(TRAIN, folder / "pkg" / "more.py")
    assert "pkg/more.py:14:9: GL001" in run_changed(folder)[1]
    folder = projects["removed"]
    replayed_after_a_full_run(folder)
    (folder / "pkg" / "leaf.py").unlink()
    status, out = run_changed(folder)
    assert "leaf.py" not in out and "Found 1 problem" in out


def test_a_configuration_made_or_changed(projects):
    folder = projects["config"]
    replayed_after_a_full_run(folder)
    (folder / "pyproject.toml").write_text('[tool.gradlint]\nignore = ["GL001"]\n')
    assert "GL001" not in run_changed(folder)[1]
    time.sleep(2.2)
    replayed_after_a_full_run(folder)
    (folder / "pyproject.toml").write_text('[tool.gradlint]\nignore = ["GL002"]\n')
    out = run_changed(folder)[1]
    assert "GL001" in out and "GL002" not in out
    # a configuration file made in a sub-folder applies to the files below it
    time.sleep(2.2)
    replayed_after_a_full_run(folder)
    # (the root's ignores GL002; this one, not extending it, selects it again)
    (folder / "pkg" / "gradlint.toml").write_text('select = ["GL002"]\n')
    out = run_changed(folder)[1]
    assert "train.py:14:9: GL001" in out and "pkg/leaf.py" in out and "GL002" in out


def test_another_environment(projects):
    folder = projects["env"]
    replayed_after_a_full_run(folder)
    # the shell's own bookkeeping is not an input
    assert not gradlint(folder, "check", env={**ENV, "OLDPWD": "/elsewhere"})[3]
    run_changed(folder, env={**ENV, "SOME_SETTING": "1"})


def test_what_git_ignores(projects):
    folder = projects["git"]
    replayed_after_a_full_run(folder)
    # nothing the walk reads changes: only git's answer does
    with open(folder / ".git" / "info" / "exclude", "a") as handle:
        handle.write("leaf.py\n")
    status, out = run_changed(folder)
    assert "leaf.py" not in out and "train.py" in out


def test_a_corrupt_or_foreign_record_is_ignored_and_rewritten(projects):
    folder = projects["corrupt"]
    status, out = replayed_after_a_full_run(folder)
    [record] = records(folder)
    good = record.read_bytes()
    other = projects["replayed"]
    gradlint(other, "check")  # the same command line in another folder
    damaged = [good[:len(good) // 2], b"", b"not a record at all",
               good[:-1] + bytes([good[-1] ^ 1]),
               records(other)[0].read_bytes()]  # a whole record, of another key
    for data in damaged:
        record.write_bytes(data)
        assert run_changed(folder) == (status, out)
        assert record.read_bytes()[:len(replay.MAGIC)] == replay.MAGIC  # rewritten
        assert not gradlint(folder, "check")[3]


def test_a_cache_dir_setting_is_followed(projects):
    folder = projects["cache_dir"]
    replayed_after_a_full_run(folder)
    assert not (folder / ".gradlint_cache").exists()
    assert len(list((folder / "build" / "lint" / "0.1.0" / "runs").iterdir())) == 1
    assert len(records(folder)) == 0


def test_runs_that_keep_no_record(projects):
    folder = projects["no_record"]
    for args in (["--no-cache"], ["--diff"], ["--fix", "--exit-zero", "pkg/clean.py"],
                 ["missing.py"], ["--select", "GL9999"]):
        gradlint(folder, "check", *args)
        assert records(folder) == [], args
    proc = subprocess.run([sys.executable, "-m", "gradlint", "check", "-"], input="x = 1\n",
                          cwd=folder, capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0 and records(folder) == []
    # the click command line on its own (as the benchmark's "index only" runs it)
    proc = subprocess.run([sys.executable, "-m", "gradlint.cli", "check"], cwd=folder,
                          capture_output=True, text=True, env=ENV)
    assert proc.returncode == 1 and "GL001" in proc.stdout and records(folder) == []
    # files changed less than two seconds before a run: their times could hide a change
    shutil.copy(TRAIN, folder / "fresh.py")
    gradlint(folder, "check")
    assert records(folder) == []


def test_records_are_pruned(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for number in range(replay.KEEP + 10):
        path = runs / f"{number:08x}"
        path.write_bytes(b"x")
        os.utime(path, ns=(number * 10**9, number * 10**9))
    replay._prune(str(runs))
    left = sorted(p.name for p in runs.iterdir())
    assert left == [f"{number:08x}" for number in range(10, replay.KEEP + 10)]


CONFIGS = [
    ("pyproject.toml", "", None),
    ("pyproject.toml", "[tool.gradlint]\nselect = ['ALL']\n", None),
    ("pyproject.toml", "[tool.gradlint]\ncache-dir = 'out/c'\n", "out/c"),
    ("pyproject.toml", '[tool.gradlint]\ncache-dir = "/abs/c"  # comment\n', "/abs/c"),
    ("pyproject.toml", "[tool.other]\ncache-dir = 'no'\n[tool.gradlint]\nfix = true\n", None),
    ("pyproject.toml", "# cache-dir = 'commented'\n[tool.gradlint]\n", None),
    ("pyproject.toml", "cache-dir = 'top level of a pyproject does not count'\n", None),
    ("gradlint.toml", "cache-dir = 'top'\n", "top"),
    ("gradlint.toml", "cache-dir = 'top'\n[tool.gradlint]\ncache-dir = 'table'\n", "table"),
    ("gradlint.toml", "[tool.gradlint]\ncache-dir = 'x'\n[tool.gradlint.per-file-ignores]\n",
     "x"),
]
NOT_UNDERSTOOD = [
    "[tool.gradlint]\ncache-dir = \"with\\\\escape\"\n",
    "[tool.gradlint]\n\"cache-dir\" = 'quoted key'\n",
    "[tool.gradlint]\ncache-dir = '''multi'''\n",
    "[tool.gradlint]\ncache-dir = 'a' 'b'\n",
    "[tool]\ngradlint = { cache-dir = 'inline' }\n",
]


@pytest.mark.parametrize("name, text, expected", CONFIGS)
def test_the_cache_folder_is_found_as_the_settings_would_give_it(tmp_path, monkeypatch, name,
                                                                 text, expected):
    from gradlint.configfile import load_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    argv = ["check"] if name == "pyproject.toml" else ["check", "--config", name, "."]
    config = None if name == "pyproject.toml" else name
    assert locate.cache_folder_for(argv) == load_settings(config).cache_folder()
    assert locate.cache_dir_setting(text, name == "pyproject.toml") == (True, expected)


@pytest.mark.parametrize("text", NOT_UNDERSTOOD)
def test_a_cache_dir_not_understood_means_no_record(text):
    assert locate.cache_dir_setting(text, True) == (False, None)


def test_config_option_as_click_reads_it():
    assert locate.config_option(["check", "--config", "a.toml", "--config=b.toml"]) == "b.toml"
    assert locate.config_option(["check", "--", "--config", "a.toml"]) is None
    assert locate.config_option(["check", "--config"]) is None


def test_output_is_replayed_only_if_all_of_it_can_be_written(monkeypatch):
    import io

    from gradlint import launch

    record = ("caf\u00e9\n", 1)
    monkeypatch.setattr(replay, "lookup", lambda argv: record)
    for encoding, expected in (("utf-8", record), ("ascii", None)):
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding=encoding))
        assert launch.replayable(["check"]) == expected, encoding
    monkeypatch.setattr(replay, "lookup", lambda argv: (b"not text", 1))
    assert launch.replayable(["check"]) is None


def test_the_code_that_runs_is_an_input():
    """Every module of gradlint, imported by this process or not (workers import the
    rules), and libcst's package: a development install edited in place, or libcst
    reinstalled, changes what a run would print. So do the folders where installed
    plugins are looked for (a package installed or removed changes their times)."""
    import sys

    import libcst

    import gradlint.rules.gl001_missing_zero_grad as rule

    files = replay.code_files()
    assert {rule.__file__, replay.__file__, libcst.__file__} <= set(files)
    folders = {os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)}
    site = next(p for p in sys.path if p.endswith("site-packages"))
    assert os.path.abspath(site) in files
    assert all(path.endswith(".py") and os.path.isfile(path) or path in folders
               for path in files)
    assert replay.PACKAGE in replay.run_key(["check"])


def test_a_report_is_recorded_only_as_click_writes_it(monkeypatch):
    """click strips colour codes when colour is off, and replaces what an ASCII stdout
    cannot hold: the text it was given is then not what it wrote, and no record is kept."""
    import io

    from gradlint.cli import _written_as_is

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
    assert _written_as_is("plain\n", False) and _written_as_is("\x1b[1mbold\x1b[0m\n", True)
    assert not _written_as_is("a name with \x1b[31m in it\n", False)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    assert _written_as_is("plain\n", False)
    assert not _written_as_is("caf\u00e9.py:1:1: GL001\n", False)
