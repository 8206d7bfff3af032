"""`bench/phases.py` (the benchmark's phase table) runs on a small tree: every phase is
timed, the phases add up to the total, and gradlint's functions are put back after."""

import importlib.util
import json
import subprocess
import sys

from conftest import ROOT

_SPEC = importlib.util.spec_from_file_location("bench_phases", ROOT / "bench" / "phases.py")
phases = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(phases)


TRAINING = """\
import torch
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range({n}):
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    opt.step()
"""


def _tree(tmp_path):
    for n in range(12):
        (tmp_path / f"train_{n:02d}.py").write_text(TRAINING.format(n=n + 1))
    (tmp_path / "plain.py").write_text("import os\nprint(os.getcwd())\n")  # not kept
    return tmp_path


def test_a_round_times_every_phase_and_restores_the_functions(tmp_path):
    from gradlint import filejob, guard, linter, runner
    from gradlint.analysis.interp import Interpreter

    before = (filejob.read_source, runner.lint_file, linter.matching_rules, guard.parse_module,
              Interpreter.run)
    kept = []
    timers = phases.one_round(str(_tree(tmp_path)), kept)
    assert (filejob.read_source, runner.lint_file, linter.matching_rules, guard.parse_module,
            Interpreter.run) == before
    assert timers["files"] == 13 and len(kept) == 12
    assert all(timers[p] > 0 for p in ("read", "prefilter", "parse", "analysis", "total"))
    parts = sum(timers[p] for p in ("read", "prefilter", "parse", "analysis",
                                    "rules and the rest of a file", "discovery and merging"))
    assert abs(parts - timers["total"]) < 1e-9


def test_the_script_prints_the_fastest_round_of_each_phase(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "phases.py"), "--rounds", "2",
                           str(_tree(tmp_path))], capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout)
    assert out["files"] == 13 and out["kept"] == 12
    assert set(out["seconds"]) == set(phases.PHASES)
    assert out["seconds"]["libcst parse of the kept texts"] > 0


def test_the_plugin_lookup_script_prints_both_medians():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "plugins.py"), "--rounds", "1"],
                          capture_output=True, text=True, check=True)
    medians = json.loads(proc.stdout)
    assert set(medians) == {"gradlint.plugins.activate", "importlib.metadata"}
    assert all(value > 0 for value in medians.values())
