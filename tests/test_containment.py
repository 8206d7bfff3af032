"""No input crashes or hangs a whole run: each failure is contained to its file (GL999 or
GL000, the rest of the output intact, exit 2), or is a clear exit-2 message."""

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES

BUG = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text()
FIXED = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.fixed.py").read_text()
HEADER = "import torch\nw = torch.zeros(2, requires_grad=True)\nprint((w * 2).grad)\n"


def _gradlint(*args, cwd, timeout=120, stdin=None):
    return subprocess.run([sys.executable, "-m", "gradlint", *args], cwd=cwd,
                          capture_output=True, timeout=timeout, input=stdin)


def _found(proc):
    return sorted((d["path"], d["code"]) for d in json.loads(proc.stdout))


# -- the native parser ------------------------------------------------------------------------
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_parser_crash_costs_one_file(tmp_path, jobs):
    (tmp_path / "chain.py").write_text(HEADER + "x = " + " and ".join(["a"] * 10000) + "\n")
    (tmp_path / "nested.py").write_text(HEADER + "x = " + "(" * 2000 + "1" + ")" * 2000 + "\n")
    for i in range(8):  # (enough files for workers)
        (tmp_path / f"train{i}.py").write_text(BUG + "#" * 9000 + "\n")
    proc = _gradlint("check", "--no-cache", "-j", jobs, "--output-format", "json", ".",
                     cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    found = _found(proc)
    assert ("chain.py", "GL999") in found
    assert ("nested.py", "GL000") in found  # CPython refuses 200 nested brackets too
    assert [f"train{i}.py" for i in range(8)] == [p for p, c in found if c == "GL001"]
    message = next(d["message"] for d in json.loads(proc.stdout) if d["path"] == "chain.py")
    assert "crashed" in message


def test_valid_python_libcst_refuses_is_not_a_syntax_error(tmp_path):
    strings = "x = (\n" + "\n".join(['"s"'] * 3500) + "\n)\n"
    (tmp_path / "strings.py").write_text(HEADER + strings)
    proc = _gradlint("check", "--no-cache", "--output-format", "json", "strings.py", cwd=tmp_path)
    assert _found(proc) == [("strings.py", "GL999")]
    assert "Python accepts this file" in json.loads(proc.stdout)[0]["message"]


def test_a_worker_that_dies_costs_one_file(tmp_path, monkeypatch):
    import gradlint.runner as runner
    from gradlint.config import Settings
    from gradlint.filejob import FixMode

    paths = []
    for i in range(10):
        path = tmp_path / f"t{i}.py"
        path.write_text(BUG)
        paths.append(str(path))
    real = runner._lint_job

    def dying(path, work):  # (workers are forked: they run this too)
        if path.endswith("t3.py"):
            os._exit(139)
        return real(path, work)

    monkeypatch.setattr(runner, "_lint_job", dying)
    work = (dict.fromkeys(paths, Settings()), True, False, FixMode(), None, frozenset())
    parts = dict(runner._in_workers([paths[:5], paths[5:]], work, 2))
    assert sorted(parts) == sorted(paths)
    assert [d.code for d in parts[paths[3]].diagnostics] == ["GL999"]
    assert all([d.code for d in parts[p].diagnostics] == ["GL001"] for p in paths if p != paths[3])


# -- what a walk meets --------------------------------------------------------------------------
def test_fifos_and_devices_are_skipped_with_a_notice(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    os.mkfifo(tmp_path / "pipe.ipynb")
    device = tmp_path / "zero.py"
    try:
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    except (PermissionError, OSError):
        device = None
    (tmp_path / "train.py").write_text(BUG)
    proc = _gradlint("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path,
                     timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert _found(proc) == [("train.py", "GL001")]
    assert b"pipe.py: skipped: not a regular file" in proc.stderr
    if device is not None:
        assert b"zero.py: skipped: not a regular file" in proc.stderr
    named = _gradlint("check", "--no-cache", "pipe.py", cwd=tmp_path, timeout=60)
    assert named.returncode == 2 and b"not a regular file" in named.stderr


# -- notebooks of the wrong shape ---------------------------------------------------------------
SHAPES = [
    {"cells": [{"cell_type": "code", "source": None}]},
    {"cells": [{"cell_type": "code", "source": 42}]},
    {"cells": [{"cell_type": "code", "source": {"a": 1}}]},
    {"cells": [{"cell_type": "code", "source": ["x", 3]}]},
    {"cells": "nope"},
    {"cells": [None, 1, "x", {"cell_type": None}]},
    [],
    "text",
]


def test_notebooks_of_every_wrong_shape_are_reported(tmp_path):
    for i, shape in enumerate(SHAPES):
        (tmp_path / f"nb{i}.ipynb").write_text(json.dumps(shape))
    (tmp_path / "deep.ipynb").write_text("[" * 100000 + "]" * 100000)
    (tmp_path / "train.py").write_text(BUG)
    proc = _gradlint("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert b"Traceback" not in proc.stderr
    found = _found(proc)
    assert ("train.py", "GL001") in found
    assert ("deep.ipynb", "GL000") in found
    assert {p for p, c in found if c == "GL000"} >= {f"nb{i}.ipynb" for i in (0, 1, 2, 3, 4, 6, 7)}
    assert not any(c == "GL999" for _, c in found)


def test_random_notebook_json_never_crashes():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gradlint import notebook

    leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    values = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["cells", "cell_type", "source", "code", "metadata"]) | st.text(max_size=5),
        inner, max_size=4), max_leaves=20)
    cell = st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown", 3]),
                                  "source": values})

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(values, st.fixed_dictionaries({"cells": st.lists(cell | values, max_size=4)})))
    def check(data):
        try:
            nb = notebook.load(json.dumps(data))
        except notebook.NotebookError:
            return
        assert isinstance(nb.joined, str)

    check()


# -- the cache ------------------------------------------------------------------------------------
def test_corrupt_cache_files_never_break_a_run(tmp_path):
    (tmp_path / "train.py").write_text(BUG)
    os.utime(tmp_path / "train.py", (time.time() - 60, time.time() - 60))
    time.sleep(2.1)  # (a file changed within 2 s of a run is not put in the index)
    assert _gradlint("check", ".", cwd=tmp_path).returncode == 1
    cache = tmp_path / ".gradlint_cache"
    index = next(cache.rglob("index-*.json"))
    index.write_text("[" * 100000 + "]" * 100000)
    for entry in cache.rglob("*.json"):
        if entry != index:
            entry.write_text('{"format": 2, "key": ' + "[" * 100000 + "]" * 100000 + "}")
    proc = _gradlint("check", "--output-format", "json", ".", cwd=tmp_path)
    assert proc.returncode == 1 and _found(proc) == [("train.py", "GL001")], proc.stderr
    index.unlink()
    os.mkfifo(index)
    proc = _gradlint("check", "--output-format", "json", ".", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and _found(proc) == [("train.py", "GL001")], proc.stderr


# -- configuration ----------------------------------------------------------------------------------
@pytest.mark.parametrize("content, message", [
    (b'[tool]\ngradlint = "x"\n', b"[tool.gradlint] must be a table"),
    (b"[tool.gradlint]\nselect = ['GL001'] # caf\xe9\n", b"not valid UTF-8"),
    (b"[tool.gradlint]\nx = " + b"[" * 100000 + b"]" * 100000 + b"\n", b"nested too deeply"),
    (b'[tool.gradlint]\ncache-dir = "a\\u0000b"\n', b"option 'cache-dir' contains a NUL"),
], ids=["tool-not-a-table", "not-utf8", "deep", "nul"])
def test_config_problems_are_messages(tmp_path, content, message):
    # (a pyproject.toml that never names gradlint is not a configuration file: not read)
    (tmp_path / "pyproject.toml").write_bytes(content)
    (tmp_path / "train.py").write_text(BUG)
    for args in (["check", "."], ["clean"]):
        proc = _gradlint(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and b"pyproject.toml" in proc.stderr
        assert b"Traceback" not in proc.stderr


def test_config_naming_a_fifo_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "conf.toml")
    (tmp_path / "train.py").write_text(BUG)
    proc = _gradlint("check", "--config", "conf.toml", ".", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and b"not a regular file" in proc.stderr


def test_an_unexpected_error_exits_2_without_a_traceback(tmp_path):
    code = ("import sys, gradlint.runner as r\n"
            "def boom(*a, **k):\n    raise RuntimeError('boom')\n"
            "r.lint_paths = boom\nsys.argv = ['gradlint', 'check', '--no-cache', '.']\n"
            "from gradlint.cli import run\nrun()\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          timeout=60)
    assert proc.returncode == 2
    assert b"gradlint: internal error: RuntimeError: boom" in proc.stderr
    assert b"Traceback" not in proc.stderr


# -- a kill during a parallel fix ------------------------------------------------------------------
def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process parents from /proc")
@pytest.mark.parametrize("seed", [1, 2])
def test_a_kill_during_a_parallel_fix_leaves_no_partial_file_orphan_or_temp(tmp_path, seed):
    rng = random.Random(seed)
    for i in range(120):
        (tmp_path / f"train{i:03}.py").write_text(BUG + "#" * 2000 + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "gradlint", "check", "--fix", "--no-cache",
                             "-j", "2", "."], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not _children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.5))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # every process of that run (a worker started after any snapshot of the children
    # too: once orphaned it is no one's child, but it still works in that folder)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _working_in(tmp_path):
        time.sleep(0.1)
    assert not _working_in(tmp_path), "workers outlived their parent"
    for path in tmp_path.glob("train*.py"):
        assert path.read_text() in (BUG + "#" * 2000 + "\n", FIXED + "#" * 2000 + "\n")
    _gradlint("check", "--fix", "--no-cache", ".", cwd=tmp_path)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert all(p.read_text() == FIXED + "#" * 2000 + "\n" for p in tmp_path.glob("train*.py"))


def _working_in(folder):
    """Live processes other than this one whose current folder is `folder`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if os.readlink(f"/proc/{entry}/cwd") == str(folder) and _alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_flake8_survives_a_parser_crash(tmp_path):
    """The flake8 plugin parses through the same guard: the crash is a GL999 for that
    file, and flake8 goes on to the others."""
    (tmp_path / "chain.py").write_text(HEADER + "x = " + " and ".join(["a"] * 10000) + "\n")
    (tmp_path / "train.py").write_text(BUG)
    proc = subprocess.run([sys.executable, "-m", "flake8", "--select", "GL", "chain.py",
                           "train.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "chain.py:1:1: GL999" in proc.stdout and "train.py:" in proc.stdout, proc.stderr
    assert "GL001" in proc.stdout
