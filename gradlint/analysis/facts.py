"""The read-only facts a rule package may use (`gradlint.api`), gathered by the analysis.

gradlint's own rules read `Observations`, shaped for each of them. A plugin's rule gets
these instead: what the analysis saw, said in terms that stay stable across releases
(nodes of the file's libcst tree and tri-state facts: True, False, or None when the
analysis cannot know). They are collected only in a run that selects a plugin rule: a
`Journal` interpreter records them as it walks, joined over every time a node runs
(each loop iteration the fixpoint takes, each call of a function).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import libcst as cst

from gradlint.analysis.interp import Interpreter
from gradlint.analysis.walk import iter_tree
from gradlint.analysis.values import Optimizer, Tensor, Value, join_tri, join_values

Tri = Optional[bool]


@dataclass(frozen=True)
class TensorFacts:
    """What autograd will hold for a tensor value."""

    requires_grad: Tri
    leaf: Tri  # made by the user (a factory, a parameter), not computed from tensors
    graph: Tri  # computed from tensors that require grad: it has a `grad_fn`


@dataclass(frozen=True)
class BackwardCall:
    node: cst.Call  # `loss.backward()`, `torch.autograd.backward(...)`, a configured one
    tensor: Optional[TensorFacts]  # None: what is backwarded is not known
    retain_graph: Tri
    loop: Optional[cst.CSTNode]  # the innermost `for` / `while` around it


@dataclass(frozen=True)
class Step:
    node: cst.Call  # `opt.step()`, `scaler.step(opt)`
    optimizer: str  # its text in the code
    parameters: Optional[Tuple[str, ...]]  # names of the modules / tensors it updates
    loop: Optional[cst.CSTNode]


@dataclass(frozen=True)
class Clear:
    node: cst.CSTNode  # `opt.zero_grad()`, `model.zero_grad()`, `p.grad = None`...
    parameters: Optional[Tuple[str, ...]]  # None: every gradient, or not known which
    loop: Optional[cst.CSTNode]


@dataclass(frozen=True)
class GradRead:
    node: cst.Attribute  # `x.grad`
    tensor: TensorFacts  # facts of `x`


class Journal(Interpreter):
    """The interpreter, recording the facts of `Facts` as it goes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.values: Dict[int, Value] = {}  # expression -> its value (joined)
        self.modes: Dict[int, Tri] = {}  # statement or expression -> grad mode (joined)
        self.backward_log: Dict[int, BackwardCall] = {}
        self.step_log: Dict[int, Step] = {}
        self.clear_log: Dict[int, Clear] = {}
        self.read_log: Dict[int, GradRead] = {}

    def eval(self, node, st):
        value = super().eval(node, st)
        key = id(node)
        old = self.values.get(key)
        self.values[key] = value if old is None else join_values(old, value)
        self._mode(key, st.grad_mode)
        return value

    def exec_stmt(self, stmt, st):
        self._mode(id(stmt), st.grad_mode)
        return super().exec_stmt(stmt, st)

    def exec_small(self, small, st):
        self._mode(id(small), st.grad_mode)
        return super().exec_small(small, st)

    def _mode(self, key: int, mode: Tri) -> None:
        self.modes[key] = join_tri(self.modes[key], mode) if key in self.modes else mode

    def _loop(self) -> Optional[cst.CSTNode]:
        return self.nodes.get(self.loop_stack[-1][0].loop) if self.loop_stack else None

    def on_backward(self, node, target, retain, st):
        old = self.backward_log.get(id(node))
        facts, kept = tensor_facts(target), retain
        if old is not None:
            facts = _join_facts(old.tensor, facts)
            kept = join_tri(old.retain_graph, retain)
        self.backward_log[id(node)] = BackwardCall(node, facts, kept, self._loop())
        super().on_backward(node, target, retain, st)

    def on_step(self, node, text, opt, pos, st, scaler_step=False):
        names = self._names(opt.coverage, st) if isinstance(opt, Optimizer) and opt.coverage \
            else None
        old = self.step_log.get(id(node))
        if old is not None and old.parameters != names:
            names = None
        self.step_log[id(node)] = Step(node, text or "optimizer", names, self._loop())
        super().on_step(node, text, opt, pos, st, scaler_step)

    def on_clear(self, node, st=None, cleared=None):
        names = self._names(cleared, st or self.cur) if cleared else None
        old = self.clear_log.get(id(node))
        if old is not None and old.parameters != names:
            names = None
        self.clear_log[id(node)] = Clear(node, names, self._loop())
        super().on_clear(node, st, cleared)

    def on_grad_read(self, node, base, st):
        facts = tensor_facts(base)
        old = self.read_log.get(id(node))
        if old is not None:
            facts = _join_facts(old.tensor, facts)
        self.read_log[id(node)] = GradRead(node, facts)
        super().on_grad_read(node, base, st)

    def _names(self, idents, st) -> Optional[Tuple[str, ...]]:
        names = tuple(sorted({self.source_name(i, st) for i in idents}))
        return None if "the module" in names else names


def tensor_facts(value) -> Optional[TensorFacts]:
    if not isinstance(value, Tensor):
        return None
    rg, leaf = value.requires_grad, value.leaf
    graph = True if rg is True and leaf is False else (False if rg is False or leaf is True
                                                       else None)
    return TensorFacts(rg, leaf, graph)


def _join_facts(a: Optional[TensorFacts], b: Optional[TensorFacts]) -> Optional[TensorFacts]:
    if a is None or b is None:
        return None
    return TensorFacts(join_tri(a.requires_grad, b.requires_grad), join_tri(a.leaf, b.leaf),
                       join_tri(a.graph, b.graph))


class Facts:
    """What a plugin's check may ask of the analysis of one file."""

    def __init__(self, journal: Journal, parents):
        self._j = journal
        self._parents = parents  # () -> child id -> parent node (built on demand)

    @property
    def backwards(self) -> List[BackwardCall]:
        return list(self._j.backward_log.values())

    @property
    def steps(self) -> List[Step]:
        return list(self._j.step_log.values())

    @property
    def clears(self) -> List[Clear]:
        return list(self._j.clear_log.values())

    @property
    def grad_reads(self) -> List[GradRead]:
        return list(self._j.read_log.values())

    def tensor(self, node: cst.CSTNode) -> Optional[TensorFacts]:
        """Facts of the value of expression `node`; None when it is not known to be a
        tensor (or the analysis never reached it)."""
        return tensor_facts(self._j.values.get(id(node)))

    def grad_mode(self, node: cst.CSTNode) -> Tri:
        """Whether grad mode is on where `node` runs (None: not known, or not reached)."""
        parents = None
        while node is not None:
            if id(node) in self._j.modes:
                return self._j.modes[id(node)]
            parents = parents or self._parents()
            node = parents.get(id(node))
        return None

    def no_grad_blocks(self) -> Iterator[cst.With]:
        """`with` statements whose body runs with grad mode off while the statement itself
        runs with it on (`torch.no_grad()`, `torch.inference_mode()`, ...)."""
        for node in iter_tree(self._j.module):
            if type(node) is cst.With and self.grad_mode(node) is True and \
                    _first_mode(self, node) is False:
                yield node


def _first_mode(facts: Facts, node: cst.With) -> Tri:
    body = node.body.body
    first = body[0] if body else None
    if type(first) is cst.SimpleStatementLine:
        first = first.body[0]
    return None if first is None else facts._j.modes.get(id(first))
