"""Property-based tests: generated programs (hypothesmith) and mutated fixtures.

For every program: linting never raises; applying every fix (safe and unsafe) gives
code that parses; text outside the edits is unchanged; a second fix pass changes
nothing.
"""

import random

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import fixture_files
from gradlint.config import Settings
from gradlint.fixes import apply_edits, fix_source
from gradlint.linter import lint_source

hypothesmith = pytest.importorskip("hypothesmith")
ALL = Settings(select=("ALL",))
FIXTURE_TEXTS = [p.read_text() for p in fixture_files()]


def _lint(text):
    return lint_source(text, "generated.py", ALL, prefilter=False)


def _check_program(text):
    diagnostics = _lint(text)
    assert all(d.code != "GL999" for d in diagnostics), [d.message for d in diagnostics]
    for d in diagnostics:
        if d.fix is None:
            continue
        fixed, applied = apply_edits(text, [d.fix])
        assert applied == 1
        cst.parse_module(fixed)  # every single fix keeps the code valid
        _outside_unchanged(text, fixed, d.fix.edits)
    out = fix_source(text, _lint, unsafe=True)
    assert out.error is None
    cst.parse_module(out.source)
    again = fix_source(out.source, _lint, unsafe=True)
    assert again.source == out.source


def _outside_unchanged(before, after, edits):
    lines = before.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line, col):
        return starts[line - 1] + col - 1 if line <= len(lines) else len(before)

    spans = sorted((offset(e.line, e.column), offset(e.end_line, e.end_column), e.content)
                   for e in edits)
    first, last = spans[0], spans[-1]
    assert after[:first[0]] == before[:first[0]]
    tail = len(before) - last[1]
    assert after[len(after) - tail:] == before[last[1]:]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_generated_programs(text):
    try:
        cst.parse_module(text)
    except Exception:
        return  # the generator's grammar is wider than libcst's in a few corners
    _check_program(text)


MUTATIONS = ("delete", "duplicate", "swap", "wrap_no_grad", "rename", "indent_block")


def _mutate(text, rng):
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        if len(lines) < 3:
            break
        i = rng.randrange(1, len(lines))
        kind = rng.choice(MUTATIONS)
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = rng.randrange(1, len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "wrap_no_grad":
            indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
            lines[i:i + 1] = [f"{indent}with torch.no_grad():\n", "    " + lines[i]]
        elif kind == "rename":
            lines[i] = lines[i].replace("loss", "objective").replace("opt", "o2")
        elif kind == "indent_block":
            lines[i:i + 1] = ["for _rep in range(2):\n", "    " + lines[i]]
    return "".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(min_value=0, max_value=len(FIXTURE_TEXTS) - 1), st.integers(0, 2**32 - 1))
def test_mutated_fixtures(index, seed):
    text = _mutate(FIXTURE_TEXTS[index], random.Random(seed))
    try:
        cst.parse_module(text)
    except Exception:
        return
    _check_program(text)


@pytest.mark.parametrize("index", range(len(FIXTURE_TEXTS)))
def test_every_fixture_fixes_cleanly(index):
    _check_program(FIXTURE_TEXTS[index])
