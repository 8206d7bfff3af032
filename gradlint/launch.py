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
    pieces, status = found
    try:
        for err, text in pieces:
            stream = sys.stderr if err else sys.stdout
            stream.write(text)
            stream.flush()  # as click.echo does: stdout and stderr interleave alike
    except (OSError, ValueError):  # a reader that went away: click's main exits with 1 then
        status = 1
    os._exit(status)


def replayable(argv):
    """The recorded (pieces, status) of this command line if it can be replayed here:
    nothing it read has changed, and all of its output can be written to these streams
    (checked before any of it is written)."""
    try:
        from gradlint.replay import lookup

        found = lookup(argv)
        if found is not None:
            for err, text in found[0]:
                stream = sys.stderr if err else sys.stdout
                text.encode(stream.encoding, stream.errors or "strict")
        return found
    except Exception:  # a record that cannot be used: the run goes the full way
        return None
