"""gradlint's benchmark: builds its corpora, times every tool in the same run, prints a
Markdown table and writes a plot.

    python bench/run.py [--rounds 3] [--quick] [--out docs/performance.md]

Tools: gradlint (cold with 1 and all jobs; warm: as the command runs it, which replays an
unchanged run, and from the cache index only) and the libcst parse floor
(bench/floor.py), both from a regular install of this tree in its own venv; TorchFix and
`flake8 --select TOR` (in their own venv); and Ruff as the reference of a compiled
linter. Medians of interleaved rounds.
Needs `pip install -e '.[bench]'` and PyPI access (wheels, TorchFix, Ruff).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
sys.path.insert(0, str(ROOT / "scripts"))
PY = sys.executable
# the binary itself: a version manager's shim (pyenv's is a shell script) would add its own
# start-up, about 70 ms here, to every Ruff run
RUFF = str(Path(PY).parent / "ruff") if (Path(PY).parent / "ruff").exists() else (
    shutil.which("ruff"))
RUFF_PIN = "ruff==0.17.6"  # installed into a venv of its own where no ruff is on PATH
WARM_ROUNDS = 15
JOBS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# -- corpora ------------------------------------------------------------------------------
def library_corpus() -> Path:
    import real_world

    return real_world.fetch(ROOT / ".cache" / "real-world")


def stdlib_corpus() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def fixture_programs():
    return [p.read_text() for p in sorted((ROOT / "tests" / "fixtures").glob("*/*.py"))
            if not p.name.endswith(".fixed.py")]


def fixtures_stamp(programs) -> str:
    """Which fixtures a generated corpus was made from: the corpora are kept between runs,
    and one made from an older set of fixtures is another corpus (smaller scripts here
    once made a later run look slower)."""
    import hashlib

    return f"{len(programs)} fixtures, sha256 " + hashlib.sha256(
        "\0".join(programs).encode()).hexdigest()


def built(folder: Path, stamp: str) -> bool:
    done = folder / ".complete"
    return done.exists() and done.read_text() == stamp


def generated_corpus(n: int) -> Path:
    folder = CACHE / f"generated-{n}"
    programs = fixture_programs()
    stamp = fixtures_stamp(programs)
    if built(folder, stamp):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for i in range(n):
        sub = folder / f"part{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        # each file distinct (so no cache or dedup can cheat), all real training scripts
        (sub / f"train_{i:05d}.py").write_text(f"# generated training script {i}\n"
                                                + programs[i % len(programs)])
    (folder / ".complete").write_text(stamp)
    return folder


def big_module(lines: int = 50000) -> Path:
    path = CACHE / "big_module.py"
    programs = fixture_programs()
    stamp = fixtures_stamp(programs)
    stamp_file = CACHE / "big_module.stamp"
    if path.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    out, count, i = [], 0, 0
    while count < lines:
        body = programs[i % len(programs)].splitlines()
        out.append(f"def case_{i}():")
        out.extend("    " + line if line.strip() else "" for line in body)
        out.append("    pass\n")
        count += len(body) + 2
        i += 1
    path.write_text("\n".join(out) + "\n")
    stamp_file.write_text(stamp)
    return path


def subset(name: str, source: Path, n: int, keep=None) -> Path:
    """n files chosen evenly from `source` (sorted), copied so every tool sees the same."""
    folder = CACHE / f"subset-{name}-{n}"
    source_done = source / ".complete"
    stamp = f"{source}: {source_done.read_text() if source_done.exists() else ''}"
    if built(folder, stamp):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    files = sorted(p for p in source.rglob("*.py") if keep is None or keep(p))
    step = max(1, len(files) // n)
    for i, p in enumerate(files[::step][:n]):
        target = folder / f"{i:04d}_{p.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    (folder / ".complete").write_text(stamp)
    return folder


def count_lines(path: Path) -> tuple:
    files = [path] if path.is_file() else [p for p in path.rglob("*.py")
                                           if "site-packages" not in p.parts]
    return len(files), sum(p.read_bytes().count(b"\n") for p in files)


# -- tools ----------------------------------------------------------------------------------
def torchfix_venv() -> Path:
    venv = CACHE / "venv-torchfix"
    if not (venv / "bin" / "torchfix").exists() or not current_pip(venv):
        make_venv(venv)  # a fresh venv: its console scripts are written by the current pip
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "torchfix==0.7.0",
                        "flake8"], check=True)
    return venv


def ruff_binary() -> str:
    """The Ruff binary the runs time: the one next to this Python or on PATH, else
    RUFF_PIN installed into a venv of the benchmark's own."""
    if RUFF:
        return RUFF
    venv = CACHE / "venv-ruff"
    if not (venv / "bin" / "ruff").exists():
        make_venv(venv)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", RUFF_PIN], check=True)
    return str(venv / "bin" / "ruff")


# The installer writes each tool's console script, and that script is part of every run's
# start-up: pip before 26.0 (`python -m venv` bundles 23.2.1 with Python 3.11) writes one
# that imports `re` first, 4-6 ms here. Every Python tool is installed by the same current
# pip, as a user installing it today would get it.
PIP = "pip==26.3"


def current_pip(venv: Path) -> bool:
    site = next(venv.glob("lib/python*/site-packages"), None)
    return site is not None and any(site.glob(PIP.replace("==", "-") + ".dist-info"))


def make_venv(venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([PY, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", PIP],
                   check=True)


# every tool runs as installed: Python tools keep their compiled bytecode (a shell that
# sets PYTHONDONTWRITEBYTECODE would make each run recompile gradlint, which runs from
# source here, while the peers' venvs were byte-compiled by pip)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def gradlint_venv() -> Path:
    """gradlint as a user installs it: a regular (not editable) install of this source
    tree, byte-compiled, in its own venv like TorchFix's. (Run from the source tree, each
    process would also pay for the editable-install finder and whatever `.pth` files the
    development environment has: 30 ms per process on this machine.)"""
    venv = CACHE / "venv-gradlint"
    pip = [str(venv / "bin" / "pip"), "install", "--quiet"]
    if not current_pip(venv):
        make_venv(venv)
        subprocess.run(pip + [str(ROOT)], check=True)  # with its dependencies
    subprocess.run(pip + ["--no-deps", "--force-reinstall", str(ROOT)], check=True)
    return venv


GRADLINT_VENV: Path = Path()


def timed(cmd, cwd=None) -> tuple:
    """Wall seconds and peak RSS (MB) of one run."""
    timer = ["/usr/bin/time", "-v"] if os.path.exists("/usr/bin/time") else []
    start = time.perf_counter()
    proc = subprocess.run(timer + cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    seconds = time.perf_counter() - start
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return seconds, (int(match.group(1)) / 1024 if match else float("nan"))


def measure(tools: dict, rounds: int, warm_up: bool = True) -> dict:
    """Medians over interleaved rounds: every tool once per round, after one untimed run
    of each (bytecode written, files in the OS cache: the same start for every tool)."""
    runs = {name: [] for name in tools}
    if warm_up:
        for name, (cmd, before) in tools.items():
            if before:
                before()
            subprocess.run(cmd, capture_output=True, env=ENV)
    for _ in range(rounds):
        for name, (cmd, before) in tools.items():
            if before:
                before()
            runs[name].append(timed(cmd))
    return {name: (statistics.median(s for s, _ in r), max(m for _, m in r))
            for name, r in runs.items()}


def gradlint(path, *extra):
    # the console script: `python -m` would import the source tree when run from it
    return [str(GRADLINT_VENV / "bin" / "gradlint"), "check", "--quiet", "--exit-zero", *extra,
            str(path)]


def clear_cache():
    shutil.rmtree(CACHE / "gradlint-cache", ignore_errors=True)


def kept_files(path: Path) -> Path:
    """The files gradlint's prefilter keeps (default rules), one per line: the floor that
    matters is the parse of these, since the others are never parsed."""
    sys.path.insert(0, str(ROOT))
    from gradlint.config import Settings
    from gradlint.files import decode
    from gradlint.prefilter import matching_rules
    from gradlint.rules import REGISTRY

    settings = Settings()
    rules = [REGISTRY[c] for c in sorted(settings.enabled_codes("x.py")) if c in REGISTRY]
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*.py") if "site-packages" not in p.parts)
    kept = []
    for file in files:
        text = decode(str(file), file.read_bytes()).text
        if text is not None and matching_rules(text, rules, settings):
            kept.append(str(file))
    listing = CACHE / f"kept-{path.name}.txt"
    listing.write_text("\n".join(kept) + "\n")
    return listing


def suite(path: Path, rounds: int, peers: bool, venv=None) -> dict:
    cache = ["--config", str(CACHE / "bench.toml")]
    floor = [str(GRADLINT_VENV / "bin" / "python"), str(ROOT / "bench" / "floor.py")]
    tools = {
        "gradlint cold, 1 job": (gradlint(path, "--no-cache", "-j", "1"), None),
        f"gradlint cold, {JOBS} jobs": (gradlint(path, "--no-cache", "-j", str(JOBS)), None),
        "libcst parse floor, 1 process": (floor + [str(path)], None),
        "libcst parse floor, kept files": (floor + ["--only", str(kept_files(path))], None),
    }
    if peers:
        tools["TorchFix --select ALL"] = ([str(venv / "bin" / "torchfix"), "--select", "ALL",
                                           "-j", str(JOBS), str(path)], None)
        tools["flake8 --select TOR"] = ([str(venv / "bin" / "flake8"), "--select", "TOR", "-j",
                                         str(JOBS), str(path)], None)
    tools["ruff check (default rules)"] = ([ruff_binary(), "check", "--no-cache", "--exit-zero", "-q",
                                            str(path)], None)
    out = measure(tools, rounds)
    # warm: fill the cache once, then nothing changes
    (CACHE / "bench.toml").write_text(f"[tool.gradlint]\ncache-dir = '{CACHE / 'gradlint-cache'}'\n")
    time.sleep(2.1)  # gradlint keeps no record of a run that read a file this recent
    clear_cache()
    subprocess.run(gradlint(path, *cache), capture_output=True)
    index_only = [str(GRADLINT_VENV / "bin" / "python"), "-m", "gradlint.cli"] + gradlint(
        path, *cache)[1:]  # the command line without the replay of unchanged runs
    # a warm run takes as long as starting Python: more rounds, and Ruff again in the same
    # rounds, so that the comparison with it is not decided by when each was measured
    out.update(measure({"gradlint warm (cache full)": (gradlint(path, *cache), None),
                        "gradlint warm, index only (no replay)": (index_only, None),
                        "ruff check (default rules)": tools["ruff check (default rules)"]},
                       WARM_ROUNDS))
    clear_cache()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small corpora, 1 round")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="only the corpora whose title contains TEXT (repeatable), "
                             "to measure one section again")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    venv = torchfix_venv()
    global GRADLINT_VENV
    GRADLINT_VENV = gradlint_venv()
    library = library_corpus()
    n_sub = 60 if args.quick else 200
    corpora = [
        ("library subset (TorchFix comparison)", subset("library", library, n_sub,
                                                         keep=lambda p: "models" not in p.parts), True),
        ("training scripts subset (TorchFix comparison)", subset("training", generated_corpus(1000), n_sub), True),
        ("library corpus (5 wheels)", library, False),
        ("standard library", stdlib_corpus(), False),
        ("1,000 generated training scripts", generated_corpus(1000), False),
        ("10,000 generated training scripts", generated_corpus(10000), False),
        ("one 50,000-line module", big_module(), False),
    ]
    if args.quick:
        corpora = corpora[:2] + corpora[3:5] + corpora[6:]
    if args.only:
        corpora = [c for c in corpora if any(text in c[0] for text in args.only)]
        if not corpora:
            parser.error(f"no corpus title contains {' or '.join(map(repr, args.only))}")
    sections = []
    results = {}
    for title, path, peers in corpora:
        files, lines = count_lines(path)
        print(f"== {title}: {files} files, {lines} lines", flush=True)
        # the largest corpora take minutes per tool: one round there
        data = suite(path, rounds if lines < 200_000 else 1, peers, venv)
        results[title] = (files, lines, data)
        for name, (sec, mem) in data.items():
            print(f"   {name:<32} {sec:8.2f} s  {mem:7.0f} MB", flush=True)
        sections.append(section(title, files, lines, data))
    import phases

    # the two TorchFix subsets (the corpora with peers) and the 1,000 scripts
    chosen = [(t, p) for t, p, peers in corpora if peers or t.startswith("1,000")]
    inside = phases.report(chosen, str(GRADLINT_VENV / "bin" / "python"), ENV) if chosen else ""
    only = [t for t, _, _ in corpora] if args.only else None
    report = (header(rounds, only) + "\n".join(sections) + "\n" + summary(results) + "\n"
              + targets(results) + inside)
    if args.out:
        args.out.write_text(report)
        plot(results, args.out.with_name("performance.png"))
    print(report)
    return 0


def header(rounds, only=None) -> str:
    part = f" Only these corpora were measured: {'; '.join(only)}." if only else ""
    return (f"# Performance\n\nMeasured by `python bench/run.py --out docs/performance.md` on "
            f"{date.today().isoformat()}: {platform.machine()}, {JOBS} cores, Python "
            f"{platform.python_version()}, medians of {rounds} interleaved rounds (wall time, "
            f"each tool a fresh process, start-up included, after one untimed run of each; "
            f"the warm runs and Ruff: {WARM_ROUNDS} rounds of their own, interleaved). "
            f"gradlint and the parse floor run from a regular install of this tree in their "
            f"own venv, TorchFix and flake8 from theirs (all installed by {PIP}), Ruff as "
            f"its binary. The generated corpora are made from "
            f"{fixtures_stamp(fixture_programs())[:40]}.{part}\n\n")


def section(title, files, lines, data) -> str:
    floor = data["libcst parse floor, 1 process"][0]
    cold1 = data["gradlint cold, 1 job"][0]
    rows = [f"## {title}\n\n{files} files, {lines:,} lines.\n",
            "| tool | seconds | files/s | x gradlint cold (1 job) | x parse floor | peak MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, (sec, mem) in data.items():
        shown = f"{sec:.3f}" if sec < 1 else f"{sec:.2f}"
        rows.append(f"| {name} | {shown} | {files / sec:,.0f} | {sec / cold1:.2f} | "
                    f"{sec / floor:.2f} | {mem:.0f} |")
    return "\n".join(rows) + "\n"


def summary(results) -> str:
    lines = ["## Ratios\n"]
    for title, (files, n_lines, data) in results.items():
        cold1 = data["gradlint cold, 1 job"][0]
        coldn = data[f"gradlint cold, {JOBS} jobs"][0]
        floor = data["libcst parse floor, 1 process"][0]
        warm = data["gradlint warm (cache full)"][0]
        ruff = data["ruff check (default rules)"][0]
        parts = [f"gradlint/floor {cold1 / floor:.2f}", f"{JOBS} jobs speed-up {cold1 / coldn:.2f}x",
                 f"warm/cold {warm / cold1:.1%}", f"warm/ruff {warm / ruff:.2f}"]
        if "TorchFix --select ALL" in data:
            parts.append(f"TorchFix/gradlint (same {JOBS} jobs) "
                         f"{data['TorchFix --select ALL'][0] / coldn:.1f}x")
            parts.append(f"flake8 TOR/gradlint {data['flake8 --select TOR'][0] / coldn:.1f}x")
        lines.append(f"- {title}: " + ", ".join(parts))
    small = results.get("1,000 generated training scripts")
    large = results.get("10,000 generated training scripts")
    if small and large:
        ratio = large[2]["gradlint cold, 1 job"][0] / small[2]["gradlint cold, 1 job"][0]
        lines.append(f"- scaling: 10,000 files take {ratio:.2f}x the time of 1,000 (1 job); "
                     f"peak memory {large[2]['gradlint cold, 1 job'][1]:.0f} MB")
    return "\n".join(lines) + "\n\n![time against files](performance.png)\n"


def targets(results) -> str:
    """The speed issue's targets, each computed from this run's numbers."""
    rows = ["## Against the targets\n", "| target | corpus | measured | met |",
            "| --- | --- | --- | :-: |"]

    def row(target, title, text, ok):
        rows.append(f"| {target} | {title} | {text} | {'yes' if ok else 'no'} |")

    def t(title, tool):
        return results[title][2][tool][0]

    for title in results:
        data = results[title][2]
        cold1, coldn = t(title, "gradlint cold, 1 job"), t(title, f"gradlint cold, {JOBS} jobs")
        if "TorchFix --select ALL" in data:
            goal = 20 if title.startswith("library") else 8
            ratio = t(title, "TorchFix --select ALL") / coldn
            row(f">= {goal}x faster than TorchFix, {JOBS} jobs each", title,
                f"{t(title, 'TorchFix --select ALL'):.2f} s / {coldn:.2f} s = {ratio:.1f}x",
                ratio >= goal)
        kept = t(title, "libcst parse floor, kept files")
        if "standard library" in title:
            ratio = cold1 / t(title, "libcst parse floor, 1 process")
            row("<= 0.25x the parse floor (all files)", title, f"{ratio:.2f}x", ratio <= 0.25)
        elif "50,000" in title:
            ratio = cold1 / kept
            row("<= 2x its own parse", title, f"{cold1:.2f} s / {kept:.2f} s = {ratio:.2f}x",
                ratio <= 2)
        else:
            ratio = cold1 / kept
            row("<= 1.3x the parse of the files the prefilter keeps, 1 job", title,
                f"{cold1:.2f} s / {kept:.2f} s = {ratio:.2f}x", ratio <= 1.3)
        warm, ruff = t(title, "gradlint warm (cache full)"), t(title, "ruff check (default rules)")
        row("warm (cache full) <= 5% of cold", title,
            f"{warm:.3f} s / {cold1:.2f} s = {warm / cold1:.1%}", warm <= 0.05 * cold1)
        row("warm no slower than `ruff check`", title, f"{warm:.3f} s vs Ruff {ruff:.3f} s",
            warm <= ruff)
        if title.startswith("library"):
            row(f"{JOBS} jobs >= 1.7x the speed of 1 job", title, f"{cold1 / coldn:.2f}x",
                cold1 / coldn >= 1.7)
    small = results.get("1,000 generated training scripts")
    large = results.get("10,000 generated training scripts")
    if small and large:
        ratio = large[2]["gradlint cold, 1 job"][0] / small[2]["gradlint cold, 1 job"][0]
        peak = large[2]["gradlint cold, 1 job"][1]
        row("10,000 files <= 10.5x the time of 1,000; peak < 300 MB", "generated scripts",
            f"{ratio:.2f}x, {peak:.0f} MB", ratio <= 10.5 and peak < 300)
    return "\n".join(rows) + "\n"


def plot(results, target: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot (pip install -e '.[bench]')")
        return
    points = [(t, r) for t, r in results.items() if "generated" in t or "subset" in t and "training" in t]
    fig, ax = plt.subplots(figsize=(6, 4))
    for tool in ("gradlint cold, 1 job", "libcst parse floor, 1 process", "TorchFix --select ALL"):
        xs, ys = [], []
        for _, (files, _, data) in sorted(points, key=lambda p: p[1][0]):
            if tool in data:
                xs.append(files)
                ys.append(data[tool][0])
        if xs:
            ax.plot(xs, ys, marker="o", label=tool)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training scripts (files)")
    ax.set_ylabel("seconds (wall)")
    ax.set_title("Time against number of files")
    ax.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
