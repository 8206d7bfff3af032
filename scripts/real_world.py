"""Lint the Python files of real PyTorch libraries (pinned wheels) and print the findings.

    python scripts/real_world.py [--cache DIR] [--json OUT]

The wheels are fetched with `pip download --no-deps` (no torch needed) and their `.py`
files unpacked into the cache folder; a second run reuses them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

PINNED = {
    "transformers": "5.24.0",
    "lightning": "2.6.6",
    "timm": "1.0.31",
    "accelerate": "1.15.0",
    "diffusers": "0.42.1",
}
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "real-world"


def fetch(cache: Path) -> Path:
    """Download and unpack the pinned wheels; returns the folder of sources."""
    wheels = cache / "wheels"
    sources = cache / "src"
    for name, version in PINNED.items():
        target = sources / f"{name}-{version}"
        if target.is_dir() and (target / ".complete").exists():
            continue
        wheels.mkdir(parents=True, exist_ok=True)
        found = list(wheels.glob(f"{name}-{version}-*.whl"))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "-d", str(wheels), f"{name}=={version}"], check=True)
            found = list(wheels.glob(f"{name}-{version}-*.whl"))
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(found[0]) as archive:
            for member in archive.namelist():
                if member.endswith(".py"):
                    archive.extract(member, target)
        (target / ".complete").write_text("")
    return sources


def lint(sources: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gradlint.runner import lint_paths

    start = time.perf_counter()
    result = lint_paths([str(sources)])
    return result, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, help="also write the findings as JSON here")
    args = parser.parse_args(argv)
    sources = fetch(args.cache)
    result, seconds = lint(sources)
    counts = Counter(d.code for d in result.diagnostics)
    lines = sum(p.read_text(errors="replace").count("\n") for p in sources.rglob("*.py"))
    print(f"{result.files} files, {lines} lines, {seconds:.1f} s")
    for code, n in sorted(counts.items()):
        print(f"{code}: {n}")
    for d in result.diagnostics:
        rel = Path(d.path).relative_to(sources)
        print(f"{rel}:{d.line}:{d.column}: {d.code} {d.message[:160]}")
    if args.json:
        args.json.write_text(json.dumps([dict(d.to_json(), path=str(Path(d.path).relative_to(sources)))
                                         for d in result.diagnostics], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
