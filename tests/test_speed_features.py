"""Parallel runs, the cache and the prefilter: same results, less work."""

import json
import os
import shutil
import time

import pytest

from click.testing import CliRunner

from conftest import FIXTURES, ROOT
from gradlint.cache import Cache
from gradlint.cli import main


def _copy_fixtures(project):
    shutil.copytree(FIXTURES, project / "fx")
    shutil.copytree(ROOT / "examples", project / "examples")


def _json(*args):
    result = CliRunner().invoke(main, ["check", "--output-format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_output_does_not_depend_on_jobs_or_cache(project):
    _copy_fixtures(project)
    serial = _json("--no-cache", "-j", "1", ".")
    assert len(serial) > 40
    assert _json("--no-cache", "-j", "2", ".") == serial
    assert _json("-j", "2", ".") == serial  # fills the cache
    assert (project / ".gradlint_cache" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert _json("-j", "1", ".") == serial  # from the cache


def test_parallel_diffs_come_in_path_order(project, monkeypatch):
    # workers take the largest files first; what is printed must not show it
    import gradlint.runner

    monkeypatch.setattr(gradlint.runner, "PARALLEL_MIN_BYTES", 0)
    _copy_fixtures(project)
    args = ["check", "--diff", "--unsafe-fixes", "--no-cache", "fx"]
    serial = CliRunner().invoke(main, args + ["-j", "1"]).stdout
    assert serial.count("+++ ") > 40
    assert CliRunner().invoke(main, args + ["-j", "2"]).stdout == serial


def test_cache_is_keyed_by_content_and_settings(project):
    bug = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()
    (project / "a.py").write_text(bug)
    assert len(_json("a.py")) == 1
    (project / "a.py").write_text(bug.replace("print(b.grad)", "print(a.grad)"))
    assert _json("a.py") == []
    (project / "a.py").write_text(bug)
    assert len(_json("a.py")) == 1
    assert _json("--ignore", "GL002", "a.py") == []


def test_corrupt_or_foreign_cache_entries_are_rebuilt(project):
    bug = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()
    (project / "a.py").write_text(bug)
    time.sleep(2.1)  # files changed within two seconds of a run are not put in the index
    expected = _json("a.py")
    found = [os.path.join(d, f) for d, _, fs in os.walk(project / ".gradlint_cache")
             for f in fs if f.endswith(".json")]
    entries = [f for f in found if not os.path.basename(f).startswith("index-")]
    [index] = [f for f in found if os.path.basename(f).startswith("index-")]
    assert len(entries) == 1
    for garbage in ("{broken", '{"format": 1, "files": {"a.py": {"m": "x"}}}', "[]"):
        with open(index, "w") as handle:
            handle.write(garbage)
        assert _json("a.py") == expected
    os.unlink(index)
    for garbage in ("{trunc", '{"format": 1, "key": "someone else", "diagnostics": []}',
                    '{"format": 1, "key": "%s", "diagnostics": [{"code": 1}]}'
                    % os.path.basename(entries[0])[:-5], "[]"):
        with open(entries[0], "w") as handle:
            handle.write(garbage)
        if os.path.exists(index):
            os.unlink(index)  # so that the content-keyed entry is consulted
        assert _json("a.py") == expected
    with open(entries[0]) as handle:  # rebuilt
        assert json.load(handle)["diagnostics"][0]["code"] == "GL002"


def test_a_file_changed_just_before_a_run_is_not_put_in_the_index(project):
    """Its times could not show a change made in the same tick of the file system's
    clock: it is read and hashed again next time, until it is two seconds old."""
    (project / "a.py").write_text((FIXTURES / "gl002" / "flagged_article_example.py").read_text())
    expected = _json("a.py")

    def indexed():
        found = [os.path.join(d, f) for d, _, fs in os.walk(project / ".gradlint_cache")
                 for f in fs if f.startswith("index-")]
        return found and "a.py" in json.load(open(found[0]))["files"]

    assert not indexed()
    assert _json("a.py") == expected and not indexed()  # (answered by content)
    time.sleep(2.1)
    assert _json("a.py") == expected and indexed()


def test_cache_entries_round_trip(project):
    path = FIXTURES / "gl004" / "flagged_article_example.py"
    cache = Cache(str(project / "c"))
    from gradlint import lint_source

    found = lint_source(path.read_text(), str(path))
    cache.put("k" * 64, found)
    assert cache.get("k" * 64) == found and found[0].fix is not None


def test_clean_and_cache_dir_setting(project):
    (project / "pyproject.toml").write_text("[tool.gradlint]\ncache-dir = 'build/lintcache'\n")
    (project / "a.py").write_text((FIXTURES / "gl002" / "flagged_article_example.py").read_text())
    _json("a.py")
    assert (project / "build" / "lintcache").is_dir()
    result = CliRunner().invoke(main, ["clean"])
    assert result.exit_code == 0 and not (project / "build" / "lintcache").exists()
    _json("--no-cache", "a.py")
    assert not (project / "build" / "lintcache").exists()


_IMPORTED = (
    "import sys\n"
    "from gradlint.cli import main\n"
    "try:\n"
    "    main(['check', '--exit-zero', '-j', '1', *sys.argv[1:], '.'])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('imported:', *[m for m in ('libcst', 'gradlint.rules', 'hashlib') if m in sys.modules],\n"
    "      file=sys.stderr)\n"
)


def _imported(project, *args) -> set:
    """Which of libcst, gradlint's rules and hashlib a `gradlint check` imported."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _IMPORTED, *args], cwd=project,
                          capture_output=True, text=True, check=True)
    return set(proc.stderr.strip().splitlines()[-1].split()[1:])


def test_libcst_is_imported_only_when_a_file_must_be_parsed(project):
    """Start-up stays light: a warm run and a run whose files the prefilter skips never
    import libcst (nor the parts of gradlint that need it); a warm run does not import
    the rules or hashlib either, also with a rule selection (it is checked against the
    rules only when it names a code)."""
    (project / "plain.py").write_text("print('no autograd here')\n")
    assert "libcst" not in _imported(project)
    shutil.copy(FIXTURES / "gl001" / "flagged_accumulation_never_cleared.py", project / "train.py")
    time.sleep(2.1)  # files changed within two seconds of a run are not put in the index
    assert "libcst" in _imported(project)  # cold: train.py is parsed, and the cache filled
    assert _imported(project) == set()  # warm
    assert "gradlint.rules" in _imported(project, "--ignore", "GL002")  # a new selection
    assert _imported(project, "--ignore", "GL002") == {"gradlint.rules"}  # (validated)
    # the index now holds the other selection; the content-keyed entries still answer
    assert _imported(project) == {"hashlib"}
    assert _imported(project) == set()


def test_exclusion_patterns(tmp_path):
    """Name patterns match any path component, path patterns match from the root, and
    the compiled form agrees with fnmatch on every case."""
    import fnmatch

    from gradlint.config import Settings

    settings = Settings(root=str(tmp_path), extend_exclude=("*.egg-info", "docs/out/",
                                                              "gen_*", "tests/data/*.py"))
    cases = {
        "pkg/mod.py": False,
        ".venv/lib/x.py": True,
        "src/build/x.py": True,  # `build` at any depth
        "builder/x.py": False,
        "foo.egg-info/PKG.py": True,
        "docs/out/conf.py": True,
        "docs/outx/conf.py": False,
        "src/docs/out/conf.py": False,  # a path pattern is anchored at the root
        "gen_proto/a.py": True,
        "lib/gen_x.py": True,
        "tests/data/sample.py": True,
        "tests/data/deep/sample.py": True,  # `*` in a path pattern crosses folders
        "site-packages/torch/x.py": True,
    }
    for rel, excluded in cases.items():
        assert settings.is_excluded(str(tmp_path / rel)) is excluded, rel
    # the walk checks each folder's components once, then only the new name of each entry
    from gradlint.files import discover

    for rel in cases:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    found, errors = discover([str(tmp_path)], settings)
    assert errors == []
    assert sorted(found) == sorted(str(tmp_path / rel) for rel, ex in cases.items() if not ex)
    assert discover([str(tmp_path / "src" / "build")], settings) == ([], [])
    assert discover([str(tmp_path / "docs")], settings)[0] == [str(tmp_path / "docs/outx/conf.py")]
    names = [p for p in settings.exclude + settings.extend_exclude if "/" not in p.rstrip("/")]
    for rel in cases:
        by_fnmatch = any(fnmatch.fnmatchcase(part, p.rstrip("/"))
                         for part in rel.split("/") for p in names)
        if by_fnmatch:
            assert settings.is_excluded(str(tmp_path / rel)), rel


def test_prefilter_changes_nothing_on_the_fixtures():
    """Every fixture, fixed output and example, all rules: the same findings with and
    without the prefilter (a slow test does the same on five real libraries)."""
    from gradlint.config import Settings
    from gradlint.runner import lint_paths

    paths = [str(FIXTURES), str(ROOT / "examples")]
    settings = Settings(select=("ALL",))
    with_filter = lint_paths(paths, settings, prefilter=True, jobs=1)
    without = lint_paths(paths, settings, prefilter=False, jobs=1)
    assert with_filter.files == without.files > 400
    assert len(with_filter.diagnostics) > 150
    assert with_filter.diagnostics == [d for d in without.diagnostics if d.code != "GL000"]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_prefilter_changes_nothing_with_other_line_ends(tmp_path, newline):
    """The same with Windows and old Mac line ends: a pattern that ends at `$` (before a
    `\n` only) missed `torch.no_grad()` on its own in a CRLF file."""
    from gradlint.config import Settings
    from gradlint.runner import lint_paths

    for path in sorted(FIXTURES.glob("*/*.py")):
        text = path.read_text(encoding="utf-8").replace("\n", newline)
        (tmp_path / f"{path.parent.name}_{path.name}").write_bytes(text.encode("utf-8"))
    bare = "import torch\ntorch.no_grad()\nx = 1\n"  # (no comment after it, no `with`)
    (tmp_path / "bare.py").write_bytes(bare.replace("\n", newline).encode("utf-8"))
    settings = Settings(select=("ALL",))
    with_filter = lint_paths([str(tmp_path)], settings, prefilter=True, jobs=1)
    without = lint_paths([str(tmp_path)], settings, prefilter=False, jobs=1)
    assert len(with_filter.diagnostics) > 100
    assert ("GL009", 2) in {(d.code, d.line) for d in with_filter.diagnostics
                            if d.path.endswith("bare.py")}
    assert with_filter.diagnostics == [d for d in without.diagnostics if d.code != "GL000"]


def test_a_run_tunes_the_cycle_collector_and_puts_it_back(project):
    """Inside a run the collector uses the run's thresholds with the objects alive at the
    start frozen; afterwards (also after an error) the thresholds and the frozen set are
    as they were, and a process that froze objects itself keeps them frozen."""
    import gc

    from gradlint import runner

    seen = []
    lint_file = runner.lint_file

    def spy(*args, **kwargs):
        seen.append((gc.get_threshold(), gc.get_freeze_count() > 0))
        return lint_file(*args, **kwargs)

    (project / "a.py").write_text("x = 1\n")
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    runner.lint_file = spy
    try:
        runner.lint_paths([str(project)], jobs=1)
    finally:
        runner.lint_file = lint_file
    assert seen == [(runner.RUN_GC_THRESHOLDS, True)]
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    try:
        with runner.fewer_collections():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with runner.fewer_collections():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
