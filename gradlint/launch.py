"""The `gradlint` command: an unchanged `check` run replayed from its record
(`replay`), else the click command line, which keeps a record for next time."""

import os
import sys


def run() -> None:
    found = replayable(sys.argv[1:])
    if found is None:
        from gradlint.cli import run as full

        full(remember=True)
        return
    output, status = found
    try:
        sys.stdout.write(output)
        sys.stdout.flush()
    except (OSError, ValueError):  # a reader that went away: click's main exits with 1 then
        status = 1
    os._exit(status)


def replayable(argv):
    """The recorded (output, status) of this command line if it can be replayed here:
    nothing it read has changed, and all of its output can be written to this stdout
    (checked before any of it is written)."""
    try:
        from gradlint.replay import lookup

        found = lookup(argv)
        if found is not None:
            found[0].encode(sys.stdout.encoding, sys.stdout.errors or "strict")
        return found
    except Exception:  # a record that cannot be used: the run goes the full way
        return None
