"""Where a serial run spends its time: timers around gradlint's own functions, in one
process, and libcst's plain parse of the same kept texts for comparison.

    python bench/phases.py [--rounds 3] PATH

Runs `runner.lint_paths` (1 job, no cache: the path `gradlint check -j 1 --no-cache`
takes) with each phase's function wrapped, and prints JSON: seconds per phase (the
fastest of the rounds, each phase on its own), the files seen and kept. The wrappers cost
about a microsecond per call, a few calls per file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

PHASES = ("read", "prefilter", "parse", "analysis", "rules and the rest of a file",
          "discovery and merging", "total", "libcst parse of the kept texts")


def _wrap(owner, name, phase, timers, seen=None):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        finally:
            timers[phase] += time.perf_counter() - start
        if seen is not None and result:
            seen.append(args[0])
        return result

    setattr(owner, name, timed)


def one_round(path: str, kept: list) -> dict:
    from gradlint import filejob, guard, linter, runner
    from gradlint.analysis.interp import Interpreter

    timers: dict = defaultdict(float)
    saved = [(filejob, "read_source"), (runner, "lint_file"), (linter, "matching_rules"),
             (guard, "parse_module"), (Interpreter, "run")]
    originals = [getattr(owner, name) for owner, name in saved]
    # a serial run without the cache: each file read, then linted (read inside lint_file)
    _wrap(filejob, "read_source", "read", timers)
    _wrap(runner, "lint_file", "lint", timers)
    _wrap(linter, "matching_rules", "prefilter", timers, kept)
    _wrap(guard, "parse_module", "parse", timers)  # looked up at each call
    _wrap(Interpreter, "run", "analysis", timers)
    try:
        start = time.perf_counter()
        result = runner.lint_paths([path], jobs=1, use_cache=False)
        timers["total"] = time.perf_counter() - start
    finally:
        for (owner, name), original in zip(saved, originals):
            setattr(owner, name, original)
    timers["rules and the rest of a file"] = (timers["lint"] - timers["read"] - timers["prefilter"]
                                              - timers["parse"] - timers["analysis"])
    timers["discovery and merging"] = timers["total"] - timers["lint"]
    timers["files"] = result.files
    return timers


def report(corpora, python: str, env: dict) -> str:
    """The Markdown section for `bench/run.py`: each (title, path) measured by this script
    in its own process, run by `python` (gradlint's venv)."""
    import subprocess

    measured = []
    for title, path in corpora:
        proc = subprocess.run([python, __file__, str(path)], capture_output=True, text=True,
                              env=env, check=True)
        measured.append((title, json.loads(proc.stdout)))
    head = "| phase | " + " | ".join(
        f"{title}: s (ms per kept file)" for title, _ in measured) + " |"
    rows = [head, "| --- |" + " ---: |" * len(measured)]
    for phase in PHASES:
        cells = [f"{m['seconds'][phase]:.3f} ({1000 * m['seconds'][phase] / max(m['kept'], 1):.2f})"
                 for _, m in measured]
        rows.append(f"| {phase} | " + " | ".join(cells) + " |")
    ratios = [f"{m['seconds']['total'] / m['seconds']['libcst parse of the kept texts']:.2f}x"
              for _, m in measured]
    rows.append("| total / libcst parse of the kept texts | " + " | ".join(ratios) + " |")
    kept = ", ".join(f"{title}: {m['kept']} of {m['files']} files kept" for title, m in measured)
    return ("\n## Where the time goes (1 process, timers inside)\n\n"
            "`bench/phases.py`: a serial run (`-j 1 --no-cache`, no process start-up) with "
            "timers around each phase's function, fastest of 3 rounds per phase; libcst's "
            f"plain parse of the same kept texts in the same process. {kept}.\n\n"
            + "\n".join(rows) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import libcst

    best: dict = {}
    kept: list = []
    for _ in range(args.rounds):
        kept.clear()
        timers = one_round(args.path, kept)
        start = time.perf_counter()
        for text in kept:
            libcst.parse_module(text)
        timers["libcst parse of the kept texts"] = time.perf_counter() - start
        for phase in PHASES:
            best[phase] = min(best.get(phase, float("inf")), timers[phase])
    print(json.dumps({"seconds": best, "files": timers["files"], "kept": len(kept)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
