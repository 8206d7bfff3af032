"""The start-up cost of looking for rule plugins, with none installed.

    python bench/plugins.py [--rounds 15]

Each round starts fresh processes (interleaved) and prints the median milliseconds of:
- `gradlint.plugins.activate()`: the listing of the folders on `sys.path` and the read
  of the packages' `entry_points.txt` that gradlint does;
- `importlib.metadata.entry_points(group="gradlint.rules")`, import included: what
  asking the standard library directly would cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBES = {
    "gradlint.plugins.activate": (
        "import time, gradlint.plugins as p; t = time.perf_counter(); p.activate(); "
        "print(time.perf_counter() - t)"),
    "importlib.metadata": (
        "import time; t = time.perf_counter(); import importlib.metadata as m; "
        "m.entry_points(group='gradlint.rules'); print(time.perf_counter() - t)"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    times = {name: [] for name in PROBES}
    for _ in range(args.rounds):
        for name, code in PROBES.items():
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout
            times[name].append(float(out) * 1000)
    print(json.dumps({name: round(statistics.median(t), 2) for name, t in times.items()},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
