"""Scopes, read from the code without running it: the names a function binds (Python
makes them local for its whole body), and the attributes of `self` that a class's
methods assign."""

from __future__ import annotations

from typing import Dict, Set

import libcst as cst

from gradlint.analysis.exprs import dotted
from gradlint.analysis.walk import iter_statements


def locals_of(node: cst.FunctionDef, cache: Dict[int, Set[str]]) -> Set[str]:
    """Names a function binds (Python makes them local for the whole body)."""
    cached = cache.get(id(node))
    if cached is None:
        cached = cache[id(node)] = _compute_locals(node)
    return cached


def _compute_locals(node: cst.FunctionDef) -> Set[str]:
    """Walks statements only (not expressions): names bound by assignments, loops,
    `with ... as`, imports, nested definitions and `except ... as`. A walrus inside an
    expression is bound when it runs, so lookups still see it."""
    found: Set[str] = set()
    params = node.params
    for p in list(params.posonly_params) + list(params.params) + list(params.kwonly_params):
        found.add(p.name.value)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            found.add(star.name.value)
    declared_global: Set[str] = set()
    # a nested def binds its own name here; its body's names are its own
    # (exact types: this runs for every statement of every function, and isinstance on
    # libcst's ABC-based classes is several times slower)
    for current in iter_statements(node.body, into_definitions=False):
        kind = type(current)
        if kind is cst.Expr:
            continue
        if kind is cst.Assign:
            for target in current.targets:
                found.update(_bound_names(target.target))
        elif kind is cst.AugAssign or kind is cst.AnnAssign or kind is cst.For:
            found.update(_bound_names(current.target))
        elif kind is cst.FunctionDef or kind is cst.ClassDef:
            found.add(current.name.value)
        elif kind is cst.Global or kind is cst.Nonlocal:
            declared_global.update(n.name.value for n in current.names)
        elif kind is cst.Import or kind is cst.ImportFrom:
            if type(current.names) is not cst.ImportStar:
                for alias in current.names:
                    if alias.asname is not None:
                        found.update(_bound_names(alias.asname.name))
                    else:
                        found.add((dotted(alias.name) or "").split(".")[0])
        elif kind is cst.With:
            found.update(n for item in current.items if item.asname is not None
                         for n in _bound_names(item.asname.name))
        elif kind is cst.Try or kind is cst.TryStar:
            found.update(n for h in current.handlers if h.name is not None
                         for n in _bound_names(h.name.name))
    return found - declared_global


def _bound_names(target) -> Set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        out: Set[str] = set()
        for element in target.elements:
            out |= _bound_names(element.value)
        return out
    if isinstance(target, cst.StarredElement):
        return _bound_names(target.value)
    return set()


def self_attrs_assigned(cls: cst.ClassDef, exclude, cache) -> Set[str]:
    """Attributes of `self` that methods other than `exclude` and `__init__` assign."""
    per_method = cache.get(id(cls))
    if per_method is None:
        per_method = {}
        for stmt in cls.body.body:
            if not isinstance(stmt, cst.FunctionDef) or stmt.name.value == "__init__":
                continue
            names: Set[str] = set()
            for current in iter_statements(stmt.body):
                if isinstance(current, cst.Assign):
                    targets = [t.target for t in current.targets]
                elif isinstance(current, (cst.AugAssign, cst.AnnAssign)):
                    targets = [current.target]
                else:
                    continue
                for target in targets:
                    for sub in ([target] if not isinstance(target, (cst.Tuple, cst.List))
                                else [e.value for e in target.elements]):
                        if isinstance(sub, cst.Attribute) and isinstance(sub.value, cst.Name) \
                                and sub.value.value == "self":
                            names.add(sub.attr.value)
            per_method[id(stmt)] = names
        cache[id(cls)] = per_method
    out: Set[str] = set()
    for key, names in per_method.items():
        if key != id(exclude):
            out |= names
    return out
