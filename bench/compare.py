"""Two revisions of gradlint on the corpora of bench/run.py, in interleaved rounds: what a
change costs or gains, measured in one run (these machines are noisy, so only ratios
taken in the same minutes count).

    python bench/compare.py BASE [NEW] [--rounds 5] [--corpus scripts --corpus library]

BASE and NEW are git revisions (NEW defaults to the working tree). Each is exported to a
folder of its own and run as `python -m gradlint check -j 1 --no-cache` (a cold serial
run, where a mechanism for speed shows whole), with that folder first on PYTHONPATH.
Prints a Markdown table: the median seconds of each, and NEW / BASE.
"""

from __future__ import annotations

import argparse
import os
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


def once(tree: Path, path: Path, extra) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gradlint", "check", "--quiet", "--exit-zero",
                    "--no-cache", "-j", "1", *extra, str(path)], env=env, cwd=tree,
                   capture_output=True, check=False)
    return time.perf_counter() - start


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
        print(f"| corpus | {args.base} | {args.new or 'working tree'} | new / base |")
        print("| --- | --- | --- | --- |")
        for title, path in chosen:
            times = {"base": [], "new": []}
            once(base, path, extra), once(new, path, extra)  # (bytecode, OS cache)
            for i in range(args.rounds):
                order = ("base", "new") if i % 2 == 0 else ("new", "base")
                for name in order:
                    times[name].append(once(base if name == "base" else new, path, extra))
            b, n = statistics.median(times["base"]), statistics.median(times["new"])
            print(f"| {title} | {b:.2f} s | {n:.2f} s | {n / b:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
