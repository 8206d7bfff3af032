"""Fast traversal of libcst trees.

`CSTNode.children` rebuilds the child list through a visitor on every access, which
cost more than the whole analysis on large files; reading the dataclass fields directly
is an order of magnitude cheaper.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, Tuple, Type

import libcst as cst

_FIELDS: Dict[Type, Tuple[str, ...]] = {}


def _fields(kind: Type) -> Tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        # whitespace and punctuation fields hold no code
        names = tuple(f.name for f in dataclasses.fields(kind)
                      if not f.name.startswith("whitespace") and f.name not in (
                          "lpar", "rpar", "comma", "semicolon", "colon", "lbracket",
                          "rbracket", "lbrace", "rbrace", "header", "footer",
                          "leading_lines", "lines_after_decorators", "equal", "dot",
                          "trailing_whitespace", "star_tok", "asynchronous"))
        _FIELDS[kind] = names
    return names


# libcst's node classes are ABCs, and `isinstance` against an ABC is several times
# slower than a dictionary lookup on the exact type: this walk runs on every node
_IS_NODE: Dict[Type, bool] = {tuple: False, list: False, str: False, type(None): False}


def is_node(value) -> bool:
    kind = type(value)
    known = _IS_NODE.get(kind)
    if known is None:
        known = _IS_NODE[kind] = issubclass(kind, cst.CSTNode)
    return known


def iter_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for name in _fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            for item in value:
                if is_node(item):
                    yield item
        elif is_node(value):
            yield value


def index_tree(root: cst.CSTNode) -> Tuple[Dict[int, cst.CSTNode], Dict[str, list]]:
    """The parent of every node below `root` (by the child's id), and every `Name`
    below it by its text: one walk, written out in full (`iter_children` as a generator
    costs a third more here, and a rule needs this walk on a whole file)."""
    parents: Dict[int, cst.CSTNode] = {}
    names: Dict[str, list] = {}
    name_kind = cst.Name
    known = _IS_NODE
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        kind = type(node)
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _fields(kind)
        for field_name in fields:
            value = getattr(node, field_name)
            kind = type(value)
            items = value if kind is tuple or kind is list else (value,)
            for child in items:
                kind = type(child)
                flag = known.get(kind)
                if flag is None:
                    flag = is_node(child)
                if flag:
                    parents[id(child)] = node
                    push(child)
                    if kind is name_kind:  # (exact type: a Name has no subclasses)
                        names.setdefault(child.value, []).append(child)
    return parents, names


def iter_tree(node: cst.CSTNode, skip=()) -> Iterator[cst.CSTNode]:
    """Every node below `node` (itself included); subtrees of `skip` types not entered."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if skip and current is not node and isinstance(current, skip):
            continue
        stack.extend(iter_children(current))


# statement kinds, compared by exact type (see `_IS_NODE`): parsed trees hold only
# libcst's own concrete classes
_BLOCKS = frozenset({cst.IndentedBlock, cst.SimpleStatementSuite, cst.SimpleStatementLine,
                     cst.Module})
_DEFINITIONS = frozenset({cst.FunctionDef, cst.ClassDef})
_TRIES = frozenset({cst.Try, cst.TryStar})
_SUITES = frozenset({cst.IndentedBlock, cst.SimpleStatementSuite})
_IS_COMPOUND: Dict[Type, bool] = {}


def iter_statements(node: cst.CSTNode, into_definitions: bool = True) -> Iterator[cst.CSTNode]:
    """Every statement (small ones too) below `node`, without entering expressions;
    with `into_definitions=False`, nested `def`/`class` are yielded but not entered."""
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind in _BLOCKS:
            stack.extend(current.body)
            continue
        yield current
        compound = _IS_COMPOUND.get(kind)
        if compound is None:
            compound = _IS_COMPOUND[kind] = issubclass(kind, cst.BaseCompoundStatement)
        if not compound or (not into_definitions and kind in _DEFINITIONS):
            continue
        if kind in _TRIES:
            stack.extend(h.body for h in current.handlers)
            if current.finalbody is not None:
                stack.append(current.finalbody.body)
        elif kind is cst.Match:
            stack.extend(case.body for case in current.cases)
        body = getattr(current, "body", None)
        if type(body) in _SUITES:
            stack.append(body)
        orelse = getattr(current, "orelse", None)
        if orelse is not None:
            stack.append(orelse if type(orelse) is cst.If else orelse.body)
