"""The libcst floor: parse every file once, nothing else (1 process).

    python bench/floor.py PATH...

gradlint needs no libcst metadata on files without findings, so the floor it is held
to is the parse alone. `--metadata` also resolves the position metadata, for reference.
"""

import argparse
import os
import sys
import time

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider


def files_under(paths):
    for root in paths:
        if os.path.isfile(root):
            yield root
            continue
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in (
                "__pycache__", "site-packages"))
            for name in sorted(names):
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--metadata", action="store_true")
    parser.add_argument("--only", help="a file listing the paths to parse, one per line")
    args = parser.parse_args(argv)
    paths = open(args.only).read().split("\n") if args.only else list(files_under(args.paths))
    start = time.perf_counter()
    parsed = failed = 0
    for path in filter(None, paths):
        try:
            with open(path, "rb") as handle:
                module = cst.parse_module(handle.read())
            if args.metadata:
                MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
            parsed += 1
        except Exception:
            failed += 1
    print(f"{parsed} parsed, {failed} failed, {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
