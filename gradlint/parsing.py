"""libcst's parse, without re-checking the nodes its own parser has just built.

Every libcst node checks its fields when it is constructed (`CSTNode.__post_init__` ->
`_validate`): right for trees that code builds by hand, redundant for the ones the parser
builds from source it has accepted (libcst's own comment on `__post_init__` says as much).
On training scripts that check is 10-15% of the parse. The tree is the same
either way (a test compares both on every fixture), and the check is back on when the
parse returns. (A node another thread builds by hand during a parse goes unchecked: that
check only catches mistakes in hand-built trees, and gradlint verifies every fixed file
by parsing it again.)

If a libcst version no longer has the hook this relies on, the parse is the plain one.
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()


def _hook_owner():
    try:
        from libcst._nodes.base import CSTNode
    except ImportError:  # pragma: no cover - a libcst laid out differently
        return None
    return CSTNode if "__post_init__" in CSTNode.__dict__ else None


def _unchecked(self) -> None:
    return None


def parse_module(source: str):
    import libcst as cst

    owner = _hook_owner()
    if owner is None:
        return cst.parse_module(source)
    with _LOCK:  # two threads parsing at once must not restore each other's hook
        checked = owner.__dict__["__post_init__"]
        owner.__post_init__ = _unchecked
        try:
            return cst.parse_module(source)
        finally:
            owner.__post_init__ = checked
