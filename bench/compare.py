"""Two revisions of gradlint on the corpora of bench/run.py, in interleaved rounds: what a
change costs or gains, measured in one run (these machines are noisy, so only ratios
taken in the same minutes count).

    python bench/compare.py BASE [NEW] [--rounds 5] [--corpus scripts --corpus library]

BASE and NEW are git revisions (NEW defaults to the working tree). Each is exported to a
folder of its own and run as `python -m gradlint check -j 1 --no-cache` (a cold serial
run, where a mechanism for speed shows whole), with that folder first on PYTHONPATH.
Prints a Markdown table: the median wall and CPU seconds of each, and NEW / BASE.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the corpora)

ROOT = run.ROOT


def corpora(names):
    made = {
        "scripts": lambda: ("1,000 generated training scripts", run.generated_corpus(1000)),
        "library": lambda: ("library subset (200 files)", run.subset(
            "library", run.library_corpus(), 200, keep=lambda p: "models" not in p.parts)),
        "module": lambda: ("one 50,000-line module", run.big_module()),
        "stdlib-sample": lambda: ("standard library sample (300 files)", run.subset(
            "stdlib", run.stdlib_corpus(), 300,
            keep=lambda p: "site-packages" not in p.parts and "test" not in p.parts)),
    }
    return [made[name]() for name in names]


def export(rev: str, into: Path) -> Path:
    """The gradlint package of `rev` (or of the working tree, for None) in `into`."""
    into.mkdir(parents=True)
    if rev is None:
        subprocess.run(["cp", "-r", str(ROOT / "gradlint"), str(into)], check=True)
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "gradlint"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def once(tree: Path, path: Path, extra) -> tuple:
    """(wall seconds, CPU seconds) of one run. The CPU time (user + system of the child)
    does not count time the run waited for another process of this noisy machine."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gradlint", "check", "--quiet", "--exit-zero",
                    "--no-cache", "-j", "1", *extra, str(path)], env=env, cwd=tree,
                   capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("new", nargs="?")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", action="append",
                        choices=["scripts", "library", "module", "stdlib-sample"])
    parser.add_argument("--select", default=None, help="passed to gradlint check")
    args = parser.parse_args(argv)
    extra = ["--select", args.select] if args.select else []
    chosen = corpora(args.corpus or ["scripts", "library"])
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.base, Path(tmp) / "base")
        new = export(args.new, Path(tmp) / "new")
        print(f"| corpus | {args.base} | {args.new or 'working tree'} | new / base | "
              f"CPU: base | CPU: new | CPU new / base |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for title, path in chosen:
            times = {"base": [], "new": []}
            once(base, path, extra), once(new, path, extra)  # (bytecode, OS cache)
            for i in range(args.rounds):
                order = ("base", "new") if i % 2 == 0 else ("new", "base")
                for name in order:
                    times[name].append(once(base if name == "base" else new, path, extra))
            b, n = (statistics.median(w for w, _ in times[k]) for k in ("base", "new"))
            cb, cn = (statistics.median(c for _, c in times[k]) for k in ("base", "new"))
            print(f"| {title} | {b:.2f} s | {n:.2f} s | {n / b:.3f} | {cb:.2f} s | {cn:.2f} s | "
                  f"{cn / cb:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
