"""Ground truth: every fixture runs under real PyTorch, watched by runtime_monitor.py.

Every finding must match a symptom PyTorch really shows (of the rule's kind, at the
finding's line or one of its related lines); clean fixtures show no symptom at all;
and in flagged fixtures every symptom is explained by a finding.
"""

import json
import os
import subprocess
import textwrap
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, fixture_files
from gradlint.config import Settings
from gradlint.linter import lint_source

import importlib.util

HAS_TORCH = importlib.util.find_spec("torch") is not None
# one skip per test, each saying why, where torch is missing
# (one xdist worker runs them all: the programs run once, in the session fixture)
pytestmark = [pytest.mark.torch, pytest.mark.xdist_group("runtime"), pytest.mark.skipif(
    not HAS_TORCH, reason="torch==2.13.0 is not installed (`pip install torch==2.13.0`; "
                          ".ci/run installs it)")]

MONITOR = ROOT / "tests" / "runtime_monitor.py"
KINDS = {
    "GL001": {"accumulated", "stale-grad-read"},  # the latter: a step written by hand
    "GL002": {"nonleaf-grad"},
    "GL003": {"backward-twice"},
    "GL004": {"no-grad-backward", "grad-none", "param-no-grad"},
    "GL005": {"cleared-before-step"},
    "GL006": {"graph-kept"},
    "GL007": {"inplace-on-leaf"},
    "GL008": {"int-requires-grad"},
    "GL009": {"grad-mode-not-entered"},
    "GL010": {"numpy-on-grad"},
    "GL011": {"requires-grad-on-non-leaf"},
    "GL012": {"variable-cut"},
    "GL013": {"backward-non-scalar"},
    "GL014": {"stale-grad-read"},
    "GL015": {"optimizer-recreated"},
    "GL016": {"tensor-from-tensor"},
    "GL017": {"inplace-modified"},
    "GL018": {"inplace-modified"},
    "GL019": {"clip-scaled", "scaled-grad-read"},
    "GL020": {"scheduler-before-step"},
    "GL021": {"unclipped-step"},
    "GL022": {"no-grad-backward", "no-grad-reached", "dead-term"},
    "GL023": {"foreign-grad"},
    "GL101": {"eval-graph"},
    "GL102": {"data-write"},
    "GL103": {"unscaled-accumulation"},
    "GL104": {"variable-call"},
}
FIXED = sorted(p for p in (ROOT / "tests" / "fixtures").glob("*/*.fixed.py"))
PROGRAMS = fixture_files() + FIXED + sorted((ROOT / "examples").glob("*.py"))


CORE = ("gl001", "gl002", "gl003", "gl004")


def _in_quick_sample(path: Path) -> bool:
    """The programs the quick suite runs under PyTorch (every one runs under `-m slow`):
    each rule's first flagged fixture, the first clean one of GL001-GL004, and the
    example. About 20 programs, a run of PyTorch each."""
    if path.parent.name == "examples":
        return True
    names = sorted(p.name for p in path.parent.glob("*.py"))
    firsts = [next((n for n in names if n.startswith("flagged_") and not n.endswith(".fixed.py")),
                   None)]
    if path.parent.name in CORE:
        firsts.append(next((n for n in names if n.startswith("clean_")), None))
    return path.name in firsts


def _params():
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}",
                         marks=() if _in_quick_sample(p) else pytest.mark.slow)
            for p in PROGRAMS]


def _run(path: Path, out_dir: Path) -> dict:
    out = out_dir / (path.parent.name + "__" + path.name + ".json")
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(MONITOR), str(path), str(out)], cwd=path.parent,
                          capture_output=True, text=True, timeout=300, env=env)
    if not out.exists():
        raise AssertionError(f"monitor failed on {path}:\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def observed(request, tmp_path_factory):
    """Every selected program run under the monitor, in parallel, once per session."""
    out_dir = tmp_path_factory.mktemp("runtime")
    chosen = [item.callspec.params["path"] for item in request.session.items
              if item.originalname == "test_findings_agree_with_pytorch"]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = pool.map(lambda p: (p, _run(p, out_dir)), chosen)
        return dict(results)


def _matches(diag, symptom) -> bool:
    lines = {diag.line} | {r.line for r in diag.related}
    return symptom["kind"] in KINDS.get(diag.code, ()) and bool(lines & set(symptom["lines"]))


@pytest.mark.parametrize("path", _params())
def test_findings_agree_with_pytorch(path, observed):
    result = observed[path]
    symptoms = result["symptoms"]
    errors = [s for s in symptoms if s["kind"] == "error"]
    assert not errors, f"the program failed for another reason: {errors}"
    findings = lint_source(path.read_text(), str(path), Settings(select=("ALL",)))
    for diag in findings:
        assert any(_matches(diag, s) for s in symptoms), (
            f"{diag.code} at line {diag.line} has no matching runtime symptom; saw {symptoms}")
    for symptom in symptoms:
        assert any(_matches(d, symptom) for d in findings), (
            f"PyTorch showed {symptom} but gradlint reported nothing for it")
    if path.name.startswith("clean_"):
        assert symptoms == []
    if path.name.endswith(".fixed.py"):
        # what the fix was for is gone at run time too
        rule = path.parent.name.upper()
        assert not [s for s in symptoms if s["kind"] in KINDS[rule]]


def test_a_scaled_norm_divided_by_the_scale_is_left_alone(tmp_path):
    """GL019 stays silent on a norm of scaled gradients in a file that reads
    `scaler.get_scale()`: divided by it, the norm is the true one (checked here under
    PyTorch; the monitor, which cannot see the division, would call it a scaled read)."""
    source = textwrap.dedent("""\
        import torch
        import torch.nn as nn

        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        scaler = torch.amp.GradScaler("cpu")
        x, y = torch.randn(4, 8), torch.randn(4, 1)
        optimizer.zero_grad()
        scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
        scaled_norm = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))
        measured = (scaled_norm / scaler.get_scale()).item()
        scaler.unscale_(optimizer)
        true_norm = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()])).item()
        print(measured, true_norm)
    """)
    assert not [d for d in lint_source(source, "norm.py", Settings(select=("ALL",)))]
    without = source.replace("scaled_norm / scaler.get_scale()", "scaled_norm")
    assert [d.code for d in lint_source(without, "norm.py", Settings(select=("ALL",)))] == ["GL019"]
    path = tmp_path / "norm.py"
    path.write_text(source)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True)
    measured, true_norm = map(float, out.stdout.split())
    assert abs(measured - true_norm) < 1e-4 * true_norm
