"""What `gradlint explain` shows: the facts the analysis inferred, statement by statement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Set, Tuple

import libcst as cst

from gradlint.analysis.exprs import dotted
from gradlint.analysis.values import Tensor, join_values, join_tri
from gradlint.analysis.walk import iter_tree


@dataclass
class Fact:
    name: str
    value: object  # the abstract value after the statement (joined over every visit)
    inputs: Tuple[str, ...]
    grad_mode: object  # True / False / None
    visits: int = 1


@dataclass
class Recorder:
    facts: Dict[int, Dict[str, Fact]] = field(default_factory=dict)  # statement id -> name -> fact
    statements: Dict[int, cst.CSTNode] = field(default_factory=dict)
    freed_by: Dict[Tuple[int, int], Set[int]] = field(default_factory=dict)  # graph node -> backwards
    # leaves / modules some backward reached -> the backwards that reached them
    reached: Dict[int, Set[int]] = field(default_factory=dict)
    open_backward: bool = False  # a backward of something unknown ran
    backwards: Set[int] = field(default_factory=set)  # backward calls (they fill .grad)
    sites: Set[int] = field(default_factory=set)  # those and torch.autograd.grad calls
    retained: Set[int] = field(default_factory=set)  # tensors retain_grad() was called on
    flagged: Set[int] = field(default_factory=set)  # tensors whose requires_grad was set
    turned_off: Set[int] = field(default_factory=set)  # ... to False, or to a flag not known
    # tensors given a post-accumulate-grad hook: the hook may clear .grad inside backward
    hooked: Set[int] = field(default_factory=set)
    headers: Dict[int, cst.For] = field(default_factory=dict)  # loop target -> its loop

    def loop_target(self, loop: cst.For, st) -> None:
        """`for p in model.parameters():`: what the loop variables are, at the header."""
        names = [n for n in (dotted(e) for e in _target_parts(loop.target)) if n]
        if names:
            self.headers[id(loop.target)] = loop
            self.record(loop.target, names, (), st, st.grad_mode)

    def after(self, interp, small, st, mode) -> None:
        # `return t`: the tensor the function gives back, under the name `return`
        returned = type(small) is cst.Return and small.value is not None and isinstance(
            interp.frame.returns[-1][1], Tensor)
        if type(small) is cst.Return and not returned:
            return
        names = ["return"] if returned else _assigned(small)
        if not names:
            return
        inputs = tuple(sorted({n for n in _read_names(small) if isinstance(st.env.get(n), Tensor)}
                              - set(names)))
        values = {"return": interp.frame.returns[-1][1]} if returned else None
        self.record(small, names, inputs, st, mode, values)

    def record(self, node, names, inputs, st, mode, values=None) -> None:
        self.statements[id(node)] = node
        slot = self.facts.setdefault(id(node), {})
        for name in names:
            value = (values or st.env).get(name)
            if value is None:
                continue
            old = slot.get(name)
            if old is None:
                slot[name] = Fact(name, value, inputs, mode)
            else:
                old.value = join_values(old.value, value)
                old.grad_mode = join_tri(old.grad_mode, mode)
                old.visits += 1

    def backward(self, site: int, target, retain, populates: bool = True) -> None:
        """A backward (or, with populates=False, torch.autograd.grad) ran at `site`."""
        self.sites.add(site)
        if not populates:
            if isinstance(target, Tensor) and retain is False:
                for node in target.graph:
                    self.freed_by.setdefault(node, set()).add(site)
            return
        self.backwards.add(site)
        if not isinstance(target, Tensor):
            self.open_backward = True
            return
        for source in target.sources:
            self.reached.setdefault(source, set()).add(site)
        self.open_backward = self.open_backward or target.open
        if retain is False:
            for node in target.graph:
                self.freed_by.setdefault(node, set()).add(site)


def _target_parts(target):
    if isinstance(target, (cst.Tuple, cst.List)):
        return [e.value for e in target.elements]
    return [target]


def _assigned(small) -> List[str]:
    targets = []
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        targets = [small.target]
    elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and isinstance(
            small.value.func, cst.Attribute) and small.value.func.attr.value in (
                "requires_grad_", "retain_grad", "detach_"):
        targets = [small.value.func.value]
    return [n for target in targets for n in map(dotted, _target_parts(target)) if n]


def _read_names(small):
    value = getattr(small, "value", None)
    if value is None:
        return set()
    return {n.value for n in iter_tree(value) if isinstance(n, cst.Name)}
