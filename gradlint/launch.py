"""The `gradlint` command: an unchanged `check` run replayed from its record
(`replay`), else the click command line, which keeps a record for next time."""

import os
import sys


def run() -> None:
    try:
        from gradlint.replay import lookup

        found = lookup(sys.argv[1:])
        pieces, status = found if found is not None else ((), None)
        streams = {False: sys.stdout, True: sys.stderr}
        for err, text in pieces:  # all of it must be writable before any of it is written
            text.encode(streams[err].encoding, streams[err].errors or "strict")
    except Exception:  # a record that cannot be used: the run goes the full way
        status = None
    if status is None:
        from gradlint.cli import run as full

        full(remember=True)
        return
    try:
        for err, text in pieces:
            streams[err].write(text)
            streams[err].flush()  # as click.echo does: stdout and stderr interleave alike
    except (OSError, ValueError):  # a reader that went away: click's main exits with 1 then
        status = 1
    os._exit(status)
