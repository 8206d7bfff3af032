"""libcst's parse, without re-checking the nodes its own parser has just built.

Every libcst node checks its fields when it is constructed (`CSTNode.__post_init__` ->
`_validate`): right for trees that code builds by hand, redundant for the ones the parser
builds from source it has accepted (libcst's own comment on `__post_init__` says as much).
The parser also builds every node through the `__init__` that `dataclasses` writes for a
frozen class, which sets each field with `object.__setattr__`, looked up anew per field.

During a parse, the node classes the parser makes most often get a plain `__init__` that
stores the same arguments, with the same defaults, straight into the class's slots, and
checks nothing; the classes' own `__init__` and `__post_init__` are back when the parse
returns, or, for many files parsed inside `held()`, when that block ends. Together that
is 15-20% of the parse. (Only the common classes: setting a class's `__init__` costs
about 0.3 us each way, and swapping all 173 on every parse of a small file cost as much
as it saved.) The tree is the same either way (a test compares both on every fixture and
source file). A node another thread builds by hand meanwhile goes unchecked: that check
only catches mistakes in hand-built trees, and gradlint verifies every fixed file by
parsing it again.

A class whose `__init__` does not look like the one `dataclasses` writes (a libcst
release that changes how nodes are made) keeps its own; if `__post_init__` moves, the
parse is the plain one.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Dict, Optional

from gradlint.fastinit import init_like

_LOCK = threading.Lock()

# the classes of 96% of the nodes in library code and in training scripts (counted on 200
# files of each), most frequent first
_COMMON = (
    "SimpleWhitespace", "Name", "Newline", "TrailingWhitespace", "Comma", "Arg", "Dot",
    "Attribute", "SimpleStatementLine", "ParenthesizedWhitespace", "Call", "EmptyLine",
    "AssignTarget", "Assign", "AssignEqual", "IndentedBlock", "SimpleString", "Param",
    "Element", "Integer", "LeftSquareBracket", "RightSquareBracket", "Comment",
    "SubscriptElement", "Annotation", "BinaryOperation", "Index", "Subscript", "If",
    "ComparisonTarget", "Comparison", "Expr", "ImportAlias", "LeftParen", "RightParen",
    "FormattedStringText", "Parameters", "FunctionDef", "Return", "BooleanOperation", "Float",
    "Import", "Tuple", "For", "AsName", "WithItem", "With", "List",
)
_FAST_INITS: Optional[Dict[type, object]] = None
_HELD = 0  # open `held()` blocks (and workers held for good); guarded by _LOCK
_SWAPPED = None  # (the original __post_init__, [(class, its __init__)]) while swapped


def _hook_owner():
    try:
        from libcst._nodes.base import CSTNode
    except ImportError:  # pragma: no cover - a libcst laid out differently
        return None
    return CSTNode if "__post_init__" in CSTNode.__dict__ else None


def _unchecked(self) -> None:
    return None


def _slot_setter(cls, name):
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None and type(slot).__name__ == "member_descriptor":
            return slot.__set__
    return None


def _fast_init(cls):
    """An `__init__` with the signature of the dataclass one that fills the slots and
    checks nothing, or None when the class is not the plain slotted dataclass it expects."""
    import dataclasses

    original = cls.__dict__.get("__init__")
    code = getattr(original, "__code__", None)
    if code is None or code.co_kwonlyargcount:
        return None
    fields = dataclasses.fields(cls)
    if code.co_varnames[:code.co_argcount] != ("self",) + tuple(f.name for f in fields):
        return None  # an InitVar, a field left out of __init__, another __init__
    setters = {}
    for i, f in enumerate(fields):
        setter = _slot_setter(cls, f.name)
        if setter is None:
            return None
        setters[f"set{i}"] = setter
    return init_like(cls, lambda i, name: f"set{i}(self, {name})", setters,
                     "gradlint fast init of")


def _fast_inits() -> Dict[type, object]:
    global _FAST_INITS
    if _FAST_INITS is None:
        import dataclasses

        import libcst
        from libcst._nodes.base import CSTNode

        inits = {}
        for name in _COMMON:
            value = getattr(libcst, name, None)  # the parser makes its nodes of these
            if (isinstance(value, type) and issubclass(value, CSTNode)
                    and dataclasses.is_dataclass(value)):
                init = _fast_init(value)
                if init is not None:
                    inits[value] = init
        _FAST_INITS = inits
    return _FAST_INITS


def parse_module(source: str):
    import libcst as cst

    if _hook_owner() is None:
        return cst.parse_module(source)
    with _LOCK:  # two threads parsing at once must not restore each other's hooks
        if _SWAPPED is None:
            _install()
        try:
            return cst.parse_module(source)
        finally:
            if _HELD == 0:
                _restore()


@contextlib.contextmanager
def held():
    """Keep the parser's hooks in place across all the parses inside (a run over many
    files in gradlint's own process): each swap changes libcst's classes, which makes
    CPython drop what it learned about attribute access on every node class (their
    version tags), and the analysis between two parses ran 10% slower for it. Nodes
    built by hand inside go unchecked too (gradlint builds only valid ones, and checks
    every fix by parsing it)."""
    global _HELD
    with _LOCK:
        _HELD += 1
    try:
        yield
    finally:
        with _LOCK:
            _HELD -= 1
            if _HELD == 0 and _SWAPPED is not None:
                _restore()


def hold_for_good() -> None:
    """For a worker process that only lints: the hooks stay for its lifetime."""
    global _HELD
    with _LOCK:
        _HELD += 1


def _install() -> None:
    global _SWAPPED
    owner = _hook_owner()
    inits = _fast_inits()
    _SWAPPED = (owner.__dict__["__post_init__"],
                [(cls, cls.__dict__["__init__"]) for cls in inits])
    owner.__post_init__ = _unchecked
    for cls, init in inits.items():
        cls.__init__ = init


def _restore() -> None:
    global _SWAPPED
    checked, originals = _SWAPPED
    for cls, init in originals:
        cls.__init__ = init
    _hook_owner().__post_init__ = checked
    _SWAPPED = None
