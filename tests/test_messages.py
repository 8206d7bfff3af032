"""Findings as Ruff words them: a short headline naming the code and lines, the why and
the what-instead in `help`, and the `full` format with the source and a caret."""

import json
import os
import pty
import statistics
import subprocess
import sys

from click.testing import CliRunner

from conftest import FIXTURES
from gradlint.cli import main
from gradlint.rules.context import brief
from test_notebooks_stdin import _write

TRAIN = FIXTURES / "gl001" / "flagged_accumulation_never_cleared.py"


def check(*args, input=None):
    return CliRunner().invoke(main, ["check", "--no-cache", "--no-color", *args], input=input)


def test_headlines_are_short_and_every_finding_has_help():
    result = check("--select", "ALL", "--output-format", "json", "--exit-zero", str(FIXTURES))
    found = json.loads(result.stdout)
    assert len(found) > 250
    lengths = [len(d["message"]) for d in found]
    assert statistics.median(lengths) <= 110, statistics.median(lengths)
    assert max(lengths) <= 130, max(found, key=lambda d: len(d["message"]))["message"]
    for d in found:
        if d["code"] not in ("GL000", "GL900", "GL999"):
            assert d["help"] and d["help"].endswith("."), d
            assert d["url"].endswith(f"/docs/rules/{d['code']}.md")
            assert not d["message"].endswith("."), d["message"]  # one clause, as Ruff's


def test_long_code_in_a_headline_has_its_arguments_elided():
    assert brief("torch.nn.utils.clip_grad_norm_(policy_net.parameters(), 10.0)") == \
        "torch.nn.utils.clip_grad_norm_(...)"
    assert brief("opt.step()") == "opt.step()"
    # brackets inside strings are not brackets; what is left is never cut
    assert brief('x = "((" + f(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)') == 'x = "((" + f(...)'
    assert brief("a_very_long_name_without_any_call_in_it_at_all") == \
        "a_very_long_name_without_any_call_in_it_at_all"


def test_text_shows_the_help_line():
    lines = check("--output-format", "text", str(TRAIN)).stdout.splitlines()
    assert lines[0].endswith("in each iteration of the loop at line 9; nothing clears the gradients")
    assert "    help: backward() adds into .grad, so each step applies the sum" in lines[3]
    assert lines[3].endswith("Call `optimizer.zero_grad()` at the start of each iteration.")


def test_full_shows_the_source_with_a_caret():
    out = check("--output-format", "full", str(TRAIN)).stdout
    block = out.split("\n\n")[0].splitlines()
    assert block[0].startswith(f"{TRAIN}:14:9: GL001 [*] `loss.backward()`")
    assert block[1] == "   |"
    assert block[2].startswith("12 |         target = ")
    assert block[4] == "14 |         loss.backward()  # error: GL001"
    assert block[5] == "   |         ^^^^^^^^^^^^^^^ GL001"
    assert block[6] == "15 |     optimizer.step()"
    assert "  = note: line 9: the loop starts here" in block
    assert block[-1].startswith("  = help: backward() adds into .grad")
    assert out.endswith("Found 1 problem in 1 file.\n[*] 1 fixable with the `--fix` option.\n")


def test_full_on_standard_input_and_in_notebooks(project):
    source = TRAIN.read_text()
    out = check("--output-format", "full", "--stdin-filename", "train.py", "-",
                input=source).stdout
    assert "14 |         loss.backward()  # error: GL001" in out
    _write(project / "train.ipynb")
    out = check("--output-format", "full", ".").stdout
    assert "train.ipynb:cell 4:3:5: GL001" in out
    # the cell's own lines, numbered within the cell
    assert "3 |     loss.backward()\n  |     ^^^^^^^^^^^^^^^ GL001" in out
    assert "gradlint-cell" not in out and "# cell 4" not in out


def test_full_is_the_default_on_a_terminal_and_text_elsewhere(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN.read_text())
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GRADLINT_OUTPUT_FORMAT", None)
    piped = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache"],
                           cwd=tmp_path, capture_output=True, text=True, env=env).stdout
    assert "    help: " in piped and "^^^" not in piped
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gradlint", "check", "--no-cache"],
                            cwd=tmp_path, stdout=follower, stderr=subprocess.DEVNULL, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # (the pty is closed once the process has exited)
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    assert "   |         ^^^^^^^^^^^^^^^ GL001" in shown and "  = help: " in shown
