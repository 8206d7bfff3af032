"""Compound statements: branches are joined, loops run to a fixpoint with a cap, and
`with` blocks switch grad mode (a mixin of the interpreter)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import libcst as cst

from gradlint.analysis import torchapi as api
from gradlint.analysis.observations import LoopEvents
from gradlint.analysis.exprs import NONTENSOR, dotted
from gradlint.analysis.values import (
    Const, GradContext, NNModule, Optimizer, Params, Ref, Seq, State, Tensor, Tri, UNKNOWN, Value,
    evolve, join_all, join_states, same_state,
)

MAX_LOOP_PASSES = 4


@dataclass
class LoopCtx:
    breaks: List[State] = field(default_factory=list)
    continues: List[State] = field(default_factory=list)
    # a loop over a model's parameters: the state before it (each pass is another
    # parameter, so a hand-written update is stale only if it was so on entry)
    entry: Optional[State] = None


class ControlFlowMixin:
    def exec_If(self, node: cst.If, st: State) -> State:
        self.cur = st
        self.stmt_owner = node  # an `elif` comes here after the branch above it ran
        known = self.none_test(node.test, st)
        if known is None:
            known = _first_index_test(node.test, st)
        if known is None:
            self.eval(node.test, st)
        elif known is False:  # (`if self.cache is None:` once the cache is made)
            yes = State(dead=True)
        self.cond_depth += 1
        try:
            if known is not False:
                yes = self.exec_block(node.body, st.copy())
            if known is True:
                no = State(dead=True)
            elif node.orelse is None:
                no = st
            elif isinstance(node.orelse, cst.If):
                no = self.exec_If(node.orelse, st.copy())
            else:
                no = self.exec_block(node.orelse.body, st.copy())
        finally:
            self.cond_depth -= 1
        owner = _grad_guard(node.test, st)
        if owner is not None and not no.dead:
            # `if p.grad is not None: p.grad.zero_()`: where it is None, nothing to clear
            self.forget_stepped(no, owner.sources)
        return join_states(yes, no)

    def none_test(self, test, st: State) -> Tri:
        """The value of `x is None` / `x is not None` where the analysis knows `x`:
        the attributes a module caches on `self` are tested this way."""
        if type(test) is not cst.Comparison or len(test.comparisons) != 1:
            return None
        comp = test.comparisons[0]
        op = type(comp.operator)
        if not ((op is cst.Is or op is cst.IsNot) and type(comp.comparator) is cst.Name
                and comp.comparator.value == "None"):
            return None
        value = self.eval(test.left, st)
        if isinstance(value, Const) and value is not NONTENSOR and value.value != NONTENSOR.value:
            is_none = value.value is None
        elif isinstance(value, (Tensor, NNModule, Optimizer)):
            is_none = False
        else:
            return None
        return is_none if op is cst.Is else not is_none

    def exec_Match(self, node, st: State) -> State:
        self.eval(node.subject, st)
        outs = [self.exec_block(case.body, st.copy()) for case in node.cases]
        return join_all(outs + [st])

    def exec_Try(self, node, st: State) -> State:
        body = self.exec_block(node.body, st.copy())
        outs = []
        if node.orelse is not None and not body.dead:
            body = self.exec_block(node.orelse.body, body)
        outs.append(body)
        for handler in node.handlers:
            start = join_states(st, body) if not body.dead else st.copy()
            if handler.name is not None:
                self.bind_target(handler.name.name, UNKNOWN, start)
            outs.append(self.exec_block(handler.body, start))
        out = join_all(outs)
        if node.finalbody is not None:
            if out.dead:
                self.exec_block(node.finalbody.body, join_states(st, body).copy())
            else:
                out = self.exec_block(node.finalbody.body, out)
        return out

    exec_TryStar = exec_Try

    def exec_With(self, node: cst.With, st: State) -> State:
        self.cur = st
        previous = st.grad_mode
        mode = previous
        for item in node.items:
            value = self.eval(item.item, st)
            if isinstance(value, GradContext):
                mode = value.enabled
            elif isinstance(value, Ref) and value.qualname in api.GRAD_CONTEXTS:
                mode = api.GRAD_CONTEXTS[value.qualname]  # `with torch.no_grad:` (GL009)
                self.on_grad_context_not_called(item, value, st)
            elif _mentions_grad(self.code(item.item)):
                mode = None
            if item.asname is not None:
                self.bind_target(item.asname.name, UNKNOWN, st)
        st.grad_mode = mode
        out = self.exec_block(node.body, st)
        if not out.dead:
            out.grad_mode = previous
        return out

    def exec_For(self, node: cst.For, st: State) -> State:
        self.cur = st
        iterable = self.eval(node.iter, st)
        element = UNKNOWN
        if isinstance(iterable, Params):
            element = _param_of(iterable)
        elif (type(node.iter) is cst.Call and type(node.iter.func) is cst.Name
              and node.iter.func.value == "zip" and "zip" not in st.env and node.iter.args):
            # `for gp, lp in zip(a.parameters(), b.parameters())`: parameters, pairwise
            parts = [self.eval(a.value, st) for a in node.iter.args]
            if any(isinstance(p, Params) for p in parts):
                element = Seq(tuple(_param_of(p) if isinstance(p, Params) else UNKNOWN
                                    for p in parts))
            if all(isinstance(p, Params) for p in parts):
                iterable = parts[0]
        elif isinstance(iterable, Tensor):
            element = self.op_result([iterable], saves=False, site=id(node.iter), st=st)
        elif type(iterable) is NNModule and iterable.container:
            element = evolve(iterable, container=False)  # `for blk in self.blocks`
        elif _container_view(self, node.iter, st):
            # `for head in heads.values()`, `for name, head in heads.items()`
            one = evolve(self.eval(node.iter.func.value, st), container=False)
            element = one if node.iter.func.attr.value == "values" else Seq((NONTENSOR, one))
        elif (type(node.iter) is cst.Call and type(node.iter.func) is cst.Name
              and node.iter.func.value == "range" and "range" not in st.env
              and "range" not in self.module_env):
            element = NONTENSOR  # an int
        index = _index_name(node, st, self.module_env)

        def enter(s: State) -> None:
            self.bind_target(node.target, element, s)
            if index is not None and self.first_pass:
                # the loop index in the first iteration: 0 (`if i % k == 0:` runs then)
                s.env[index] = FIRST_INDEX
            if self.recorder is not None:
                self.recorder.loop_target(node, s)

        over_params = isinstance(iterable, Params)
        return self.run_loop(node, st, enter, over_params=over_params,
                             nonempty=over_params or element is NONTENSOR
                             and _literal_range_nonempty(node.iter))

    def exec_While(self, node: cst.While, st: State) -> State:
        self.cur = st
        self.eval(node.test, st)
        infinite = isinstance(node.test, cst.Name) and node.test.value == "True"
        return self.run_loop(node, st, lambda s: self.eval(node.test, s), infinite=infinite)

    def run_loop(self, node, st: State, enter, infinite: bool = False,
                 nonempty: bool = False, over_params: bool = False) -> State:
        events = self.obs.loops.get(id(node))
        if events is None:
            events = LoopEvents(loop=self.register(node))
            self.obs.loops[id(node)] = events
            self.obs.loop_order.append(id(node))
        for outer, _ in self.loop_stack:
            outer.nested.add(id(node))
        self.loop_stack.append((events, len(self.call_chain)))
        outer_loops = self.current_loops
        self.current_loops = outer_loops | {id(node)}
        ctx = LoopCtx(entry=st if over_params else None)
        self.loop_ctx.append(ctx)
        head = st.copy()
        outer_depth, self.cond_depth = self.cond_depth, 0
        passes = MAX_LOOP_PASSES if self.steps < self.step_limit else 2
        try:
            for n in range(passes):
                start = head.copy()
                self.cur = start
                self.first_pass = n == 0
                enter(start)
                out = self.exec_block(node.body, start)
                back = join_all([out] + ctx.continues)
                ctx.continues.clear()
                new_head = back if n == 0 else join_states(head, back)
                if n > 0 and same_state(new_head, head):
                    break
                head = new_head
                if head.dead:
                    break
        finally:
            self.cond_depth = outer_depth
            self.loop_stack.pop()
            self.loop_ctx.pop()
            self.current_loops = outer_loops
        exits = list(ctx.breaks)
        if not infinite:
            # (a loop over a model's parameters, or over a literal range, runs at least once)
            exits += [head] if nonempty else [st, head]
        out = join_all(exits)
        orelse = getattr(node, "orelse", None)
        if orelse is not None and not infinite:
            out = self.exec_block(orelse.body, out)
        self.cur = out
        return out


FIRST_INDEX = Const("<loop index 0>")


def _index_name(loop: cst.For, st: State, module_env):
    """The name bound to a counter from 0 by `for i in range(n)` / `for i, x in
    enumerate(xs)` (no start), else None."""
    call = loop.iter
    if type(call) is not cst.Call or type(call.func) is not cst.Name:
        return None
    name = call.func.value
    if name in st.env or name in module_env or len(call.args) != 1 or call.args[0].keyword:
        return None
    target = loop.target
    if name == "range" and type(target) is cst.Name:
        return target.value
    if name == "enumerate" and type(target) in (cst.Tuple, cst.List) and target.elements and \
            type(target.elements[0].value) is cst.Name:
        return target.elements[0].value.value
    return None


def _first_index_test(test, st: State) -> Tri:
    """`i % k == 0` with `i` the loop index of the first iteration: True."""
    if type(test) is not cst.Comparison or len(test.comparisons) != 1:
        return None
    comp = test.comparisons[0]
    left = test.left
    if type(comp.operator) is cst.Equal and type(comp.comparator) is cst.Integer and \
            comp.comparator.value == "0" and type(left) is cst.BinaryOperation and \
            type(left.operator) is cst.Modulo and type(left.left) is cst.Name and \
            st.env.get(left.left.value) is FIRST_INDEX:
        return True
    return None


def _param_of(params: Params) -> Value:
    """One item of `m.parameters()`: a leaf of that module (of `m.named_parameters()`: its
    name and that leaf)."""
    leaf = Tensor(ident=params.root, requires_grad=params.trainable, leaf=True,
                  sources=params.roots)
    return Seq((NONTENSOR, leaf)) if params.named else leaf


def _literal_range_nonempty(call) -> bool:
    """`range(3)`, `range(1, 5)`: literal bounds, at least one pass."""
    args = [a.value for a in call.args]
    if not args or len(args) > 2 or any(a.keyword is not None for a in call.args) or not all(
            isinstance(a, cst.Integer) for a in args):
        return False
    bounds = [int(a.value, 0) for a in args]
    return bounds[0] > 0 if len(bounds) == 1 else bounds[0] < bounds[1]


def _grad_guard(test, st: State):
    """The tensor `p` of a test `p.grad is not None`, if the analysis knows it."""
    if type(test) is not cst.Comparison or len(test.comparisons) != 1:
        return None
    comp = test.comparisons[0]
    left = test.left
    if not (type(comp.operator) is cst.IsNot and type(comp.comparator) is cst.Name
            and comp.comparator.value == "None" and type(left) is cst.Attribute
            and left.attr.value == "grad"):
        return None
    owner = st.env.get(dotted(left.value) or "")
    return owner if isinstance(owner, Tensor) and owner.sources and not owner.open else None


def _mentions_grad(text: str) -> bool:
    return "no_grad" in text or "inference_mode" in text or "grad_enabled" in text


def _container_view(interp, expr, st) -> bool:
    """`m.values()` / `m.items()` of an `nn.ModuleDict` of known layers."""
    if type(expr) is not cst.Call or expr.args or type(expr.func) is not cst.Attribute \
            or expr.func.attr.value not in ("values", "items"):
        return False
    base = interp.eval(expr.func.value, st)
    return type(base) is NNModule and base.container
