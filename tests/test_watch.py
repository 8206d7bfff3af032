"""`gradlint check --watch`, run as a user runs it: a real process, a file changed on
disk, and the fresh output read back."""

import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import FIXTURES

pytest.importorskip("watchfiles")

BUGGY = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()


def _reader(stream, out: "queue.Queue[str]"):
    for line in iter(stream.readline, ""):
        out.put(line)


def _wait_for(lines: "queue.Queue[str]", needle: str, seen: list, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} did not appear; got {''.join(seen)!r}")


def test_watch_relints_a_changed_file(tmp_path):
    target = tmp_path / "train.py"
    target.write_text("import torch\nprint(torch.zeros(2))\n")
    proc = subprocess.Popen([sys.executable, "-m", "gradlint", "check", "--watch", "--no-color",
                             "."], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list = []
    try:
        _wait_for(lines, "All checks passed (1 file checked)", seen)
        _wait_for(lines, "watching for changes", seen)
        time.sleep(1)  # (a file system's events may lag its clock a little)
        target.write_text(BUGGY)
        _wait_for(lines, "changed: train.py", seen)
        _wait_for(lines, "train.py:8:7: GL002", seen)
        _wait_for(lines, "Found 1 problem in 1 file.", seen)
        _wait_for(lines, "watching for changes", seen)
        time.sleep(1)
        target.write_text("import torch\nprint(torch.ones(2))\n")
        _wait_for(lines, "All checks passed (1 file checked)", seen)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert status == 0  # Ctrl-C ends a watch normally, as in Ruff
