"""`gradlint check --watch`: lint, then lint again whenever a Python file or notebook
below the paths changes (the cache makes that a re-lint of the changed files only).
Needs the `watchfiles` library: `pip install 'gradlint[watch]'`."""

from __future__ import annotations

import os
import time
from typing import Callable, List


def available() -> bool:
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return True


def _wanted(change, path: str) -> bool:
    from gradlint.config import SUFFIXES
    from gradlint.locate import CONFIG_NAMES

    name = os.path.basename(path)
    return path.endswith(SUFFIXES) or name in CONFIG_NAMES or name == ".gitignore"


def run(paths: List[str], once: Callable[[], None], echo: Callable[[str], None]) -> None:
    """`once()` lints and prints; it runs now and after every batch of changes, until
    the user interrupts (Ctrl-C ends with status 0, as in Ruff)."""
    import watchfiles

    targets = [p for p in paths if os.path.exists(p)] or ["."]
    once()
    waiting = False
    try:
        # (an empty batch each half second once the watcher runs: "watching" is said only
        # when a change made from then on is sure to be seen)
        for changes in watchfiles.watch(*targets, watch_filter=_wanted, raise_interrupt=True,
                                        rust_timeout=500, yield_on_timeout=True):
            if not changes:
                if not waiting:
                    echo("[watching for changes; Ctrl-C to stop]")
                    waiting = True
                continue
            names = sorted({os.path.relpath(path) for _, path in changes})
            echo(f"[{time.strftime('%H:%M:%S')}] changed: {', '.join(names)}")
            once()
            waiting = False
    except KeyboardInterrupt:
        return
