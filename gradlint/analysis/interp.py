"""The flow-sensitive walk: simple statements, assignment, frames and training-loop events.

One walk of the module body (functions called from it are followed, with the
arguments they get), then every function and method nobody called, with unknown
arguments. Compound statements (branches, loops, `with`) are in `control.py`.
"""

from __future__ import annotations

import time
from typing import Dict, List, Set, Tuple

import libcst as cst

from gradlint.analysis.calls import CallEvaluator
from gradlint.analysis.containers import ContainerMixin
from gradlint.analysis.control import ControlFlowMixin, LoopCtx
from gradlint.analysis.exprs import ExprEvaluator, dotted
from gradlint.analysis.events import EventMixin
from gradlint.analysis.frames import FrameMixin
from gradlint.analysis.instances import InstanceMixin
from gradlint.analysis.steps import StepOrderMixin
from gradlint.analysis.observations import LoopEvents, Observations
from gradlint.analysis.values import GradContext, NNModule, Ref, Seq, State, Tensor, UNKNOWN, evolve


_UNSEEN = object()


class AnalysisTimeout(Exception):
    """The per-file time budget ran out."""


class Interpreter(ControlFlowMixin, EventMixin, StepOrderMixin, InstanceMixin, ContainerMixin,
                  FrameMixin, CallEvaluator, ExprEvaluator):
    # compound statement class -> its handler (None: nothing to run), found once by name
    _statement_handlers: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._statement_handlers = {}  # a subclass may define its own handlers

    def __init__(self, module: cst.Module, extra_backward=(), extra_clear=(), deadline=None,
                 source_length: int = 0):
        self.module = module
        self.obs = Observations()
        self.nodes: Dict[int, cst.CSTNode] = {}
        self.seen_sites: Set[int] = set()
        self.stmt_id = 0
        self.stmt_small = None
        self.stmt_owner = None
        self.owners: Dict[int, cst.CSTNode] = {}
        self._texts: Dict[int, Tuple[cst.CSTNode, str]] = {}
        self.loop_stack: List[Tuple[LoopEvents, int]] = []
        self.loop_ctx: List[LoopCtx] = []
        self.call_chain: List[cst.Call] = []
        self.extra_backward = set(extra_backward)
        self.extra_clear = set(extra_clear)
        self.deadline = deadline
        self.steps = 0
        # (module.code would regenerate the whole file: the caller passes its length)
        self.step_limit = 20000 + source_length
        self.cur: State = State()
        self.recorder = None  # set by `gradlint explain` to collect per-statement facts
        self.bw_seq: Dict[int, int] = {}
        self.event_order: Dict[int, int] = {}  # clip / step call -> the order first seen
        self.site_saves: Dict[int, frozenset] = {}  # module call -> the weights it saves
        self.site_saved_values: Dict[int, frozenset] = {}  # operation -> tensors it saves
        self.severed_leaves: Set[int] = set()  # leaves made from values cut out of autograd
        self.alias_sites: Dict[int, int] = {}  # source -> `gp._grad = lp.grad` statement
        self.module_roots: Set[int] = set()  # idents of modules made in the file
        self.site_loops: Dict[int, frozenset] = {}  # statement / allocation -> loops around it
        self.backward_stmts: Dict[int, tuple] = {}  # backward call -> (statement, call chain)
        self.clearing_grad = False  # evaluating the receiver of `x.grad.zero_()`
        self.current_loops: frozenset = frozenset()
        self.cond_depth = 0  # branches entered since the innermost loop's body began
        self.first_pass = False  # the innermost loop's body is run for its first iteration
        self.default_dtype_known = True  # no torch.set_default_dtype seen yet
        self.init_frames()

    # -- entry point ------------------------------------------------------------------
    def run(self) -> Observations:
        st = State()
        self.module_env = st.env
        self.cur = st
        st = self.exec_block(self.module.body, st, top=True)
        self.module_env = st.env if not st.dead else self.module_env
        self.analyse_uncalled()
        return self.obs

    def register(self, node: cst.CSTNode) -> int:
        key = id(node)
        self.nodes[key] = node
        # the statement being run: where to look for this node's position
        self.owners.setdefault(key, self.stmt_owner)
        return key

    def code(self, node: cst.CSTNode) -> str:
        return self.raw_code(node).strip()

    def raw_code(self, node: cst.CSTNode) -> str:
        """The node's own text, generated once: a finding's message and its position
        usually ask for the same node. (The node is kept with its text, so that its id
        cannot be reused by a node a fix builds and drops.)"""
        known = self._texts.get(id(node))
        if known is None or known[0] is not node:
            known = self._texts[id(node)] = (node, self.module.code_for_node(node))
        return known[1]

    def qualify(self, text: str) -> str:
        if not text:
            return ""
        head, _, rest = text.partition(".")
        value = self.module_env.get(head)
        if isinstance(value, Ref):
            return value.qualname + ("." + rest if rest else "")
        return text

    # -- statements ---------------------------------------------------------------------
    def exec_block(self, body, st: State, top: bool = False) -> State:
        kind = type(body)  # exact types: isinstance on libcst's classes is slow
        if kind is cst.IndentedBlock or kind is cst.SimpleStatementSuite:
            body = body.body
        for stmt in body:
            if st.dead:
                break
            st = self.exec_stmt(stmt, st)
            if top and not st.dead:
                self.module_env = st.env
        return st

    def exec_stmt(self, stmt: cst.CSTNode, st: State) -> State:
        self.steps += 1  # the time budget, looked at every 256 statements
        if not self.steps % 256 and self.deadline is not None and time.monotonic() > self.deadline:
            raise AnalysisTimeout()
        self.cur = st
        kind = type(stmt)  # exact types: isinstance on libcst's classes is slow
        if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
            for small in stmt.body:
                if st.dead:
                    break
                st = self.exec_small(small, st)
            return st
        handler = self._statement_handlers.get(kind, _UNSEEN)
        if handler is _UNSEEN:
            handler = self._statement_handlers[kind] = getattr(
                type(self), "exec_" + kind.__name__, None)
        if handler is None:
            return st
        self.stmt_owner = stmt  # its header is evaluated first
        return handler(self, stmt, st)

    def exec_small(self, small: cst.BaseSmallStatement, st: State) -> State:
        self.stmt_owner = small
        self.stmt_id = self.register(small)
        if self.current_loops:
            self.site_loops.setdefault(self.stmt_id, self.current_loops)
        self.stmt_small = small
        self.cur = st
        if self.recorder is not None:
            mode = st.grad_mode
            st = self._exec_small(small, st)
            self.recorder.after(self, small, st, mode)
            return st
        return self._exec_small(small, st)

    def _exec_small(self, small: cst.BaseSmallStatement, st: State) -> State:
        kind = type(small)  # exact types: isinstance on libcst's classes is slow
        if kind is cst.Assign:
            value = self.eval(small.value, st)
            for target in small.targets:
                self.bind_target(target.target, value, st)
                self.note_grad_alias(target.target, small.value, st)
        elif kind is cst.AnnAssign:
            if small.value is not None:
                self.bind_target(small.target, self.eval(small.value, st), st)
        elif kind is cst.AugAssign:
            self.exec_augassign(small, st)
        elif kind is cst.Expr:
            value = self.eval(small.value, st)
            if isinstance(value, GradContext) and value.applies_now:
                st.grad_mode = value.enabled
            self.on_expression_statement(small, value, st)
        elif kind is cst.Return:
            value = self.eval(small.value, st) if small.value is not None else UNKNOWN
            self.frame.returns.append((st.copy(), value))
            st.dead = True
        elif kind is cst.Break or kind is cst.Continue:
            if self.loop_ctx:
                ctx = self.loop_ctx[-1]
                (ctx.breaks if kind is cst.Break else ctx.continues).append(st.copy())
            st.dead = True
        elif kind is cst.Raise:
            if small.exc is not None:
                self.eval(small.exc, st)
            st.dead = True
        elif kind is cst.Import:
            for alias in small.names:
                name = dotted(alias.name)
                if alias.asname is not None:
                    st.bind(alias.asname.name.value, Ref(name))
                else:
                    head = name.split(".")[0]
                    st.bind(head, Ref(head))
        elif kind is cst.ImportFrom:
            self.exec_importfrom(small, st)
        elif kind is cst.Del:
            for target in _flatten_targets(small.target):
                path = dotted(target)
                if path:
                    if path.endswith(".grad"):
                        self.on_clear(small)
                    st.bind(path, UNKNOWN)
        elif kind is cst.Assert:
            self.eval(small.test, st)
        return st

    def exec_importfrom(self, small: cst.ImportFrom, st: State) -> None:
        if small.relative or small.module is None:
            base = None
        else:
            base = dotted(small.module)
        if isinstance(small.names, cst.ImportStar):
            return
        for alias in small.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else dotted(alias.name)
            local = alias.asname.name.value if alias.asname is not None else name
            st.bind(local, Ref(f"{base}.{name}") if base else UNKNOWN)

    def exec_augassign(self, small: cst.AugAssign, st: State) -> None:
        current = self.eval(small.target, st)
        rhs = self.eval(small.value, st)
        op = small.operator
        if type(op) in (cst.SubtractAssign, cst.AddAssign):
            # `w -= lr * w.grad` (under no_grad, or through `w.data`): a hand-written step
            owner = small.target.value if _is_data(small.target) else small.target
            name = dotted(owner)
            leaf = st.env.get(name) if name is not None else None
            if isinstance(leaf, Tensor) and (st.grad_mode is False or owner is not small.target):
                self.on_manual_step(small, name, leaf, small.value, st)
        if _is_data(small.target) and isinstance(current, Tensor) and current.ident == id(small.target):
            self.on_data_write(small.target, "augassign")
            return  # the values of the tensor change, not what it is to autograd
        if type(op) is cst.AddAssign:
            target = small.target
            if type(target) is cst.Subscript and type(target.value) is cst.Name:
                target = target.value  # `metrics["loss"] += loss`: the dict is the accumulator
            if type(target) is cst.Name:
                self.on_accumulate(small, target.value, rhs, small.value, st)
            elif _self_attribute(target):  # `self.running_loss += loss` in a method
                self.on_accumulate(small, f"self.{target.attr.value}", rhs, small.value, st)
        if isinstance(current, Tensor):
            self.on_inplace(small, "augassign", current, st)
            result = self.binop(_plain_operator(op), current, rhs, id(small), st, small)
            if isinstance(result, Tensor):
                leaf = current.leaf if result.requires_grad == current.requires_grad else False
                if st.grad_mode is False:
                    result = evolve(current, cuts=current.cuts | result.cuts)
                else:
                    result = evolve(result, ident=current.ident, leaf=leaf,
                                     retains_grad=current.retains_grad)
                st.replace_everywhere(current, result)
                self.bind_target(small.target, result, st)
            return
        result = self.binop(_plain_operator(op), current, rhs, id(small), st, small)
        self.bind_target(small.target, result, st)

    def bind_target(self, target: cst.BaseExpression, value, st: State) -> None:
        kind = type(target)
        if kind is cst.Name:
            self.bind_path(target.value, value, st)
        elif kind is cst.Attribute:
            attr = target.attr.value
            if attr == "grad":
                base = self.eval(target.value, st)
                self.on_clear(target, cleared=base.sources if isinstance(base, Tensor)
                              and base.sources and not base.open else None)
                return
            if attr == "data" and isinstance(self.eval(target.value, st), Tensor):
                # the tensor keeps its identity (and autograd flags); only its values change
                self.on_data_write(target, "assign")
                return
            if attr == "requires_grad":
                base = self.eval(target.value, st)
                self.on_requires_grad_change(target, target.value, base, st,
                                             value.value if value in _BOOLS else None)
                if isinstance(base, Tensor):
                    self.set_module_trainable(base.ident, None, st)
                    if base.leaf is True and value in _BOOLS:
                        flag = value.value
                        st.replace_everywhere(base, evolve(
                            base, requires_grad=flag,
                            sources=frozenset([base.ident]) if flag else frozenset()))
                    return
                if isinstance(base, NNModule):
                    self.set_module_trainable(base.root or base.ident, None, st)
                return
            path = dotted(target)
            if path is not None:
                self.bind_path(path, value, st)
            else:
                self.eval(target.value, st)
                self.escape(value, st)
        elif kind is cst.Tuple or kind is cst.List:  # (exact types: see `exec_block`)
            for i, element in enumerate(target.elements):
                if type(element) is cst.StarredElement:
                    self.bind_target(element.value, UNKNOWN, st)
                elif isinstance(value, Tensor):
                    self.bind_target(element.value, evolve(value, ident=hash((value.ident, i))), st)
                elif isinstance(value, Seq) and len(value.items) == len(target.elements):
                    self.bind_target(element.value, value.items[i], st)
                else:
                    self.bind_target(element.value, UNKNOWN, st)
        elif kind is cst.Subscript:
            base = self.eval(target.value, st)
            for element in target.slice:
                self.eval_children(element, st)
            if isinstance(base, Tensor):
                if _is_data(target.value) and base.ident == id(target.value):
                    self.on_data_write(target.value, "setitem")
                self.on_inplace(target, "setitem", base, st)
                self.written_into(base, [value], st)
            else:
                self.escape(value, st)
        elif kind is cst.StarredElement:
            self.bind_target(target.value, UNKNOWN, st)

    @property
    def stmt_var(self) -> str:
        """The name the current statement assigns (only needed to word a finding)."""
        return target_text(self, self.stmt_small) if self.stmt_small is not None else ""


_BOOLS = ()


def _init_bools():
    from gradlint.analysis.values import Const

    global _BOOLS
    _BOOLS = (Const(True), Const(False))


_init_bools()


def _is_data(node) -> bool:
    return type(node) is cst.Attribute and node.attr.value == "data"


def _plain_operator(op):
    mapping = {
        cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract,
        cst.MultiplyAssign: cst.Multiply, cst.DivideAssign: cst.Divide,
        cst.MatrixMultiplyAssign: cst.MatrixMultiply, cst.PowerAssign: cst.Power,
        cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo,
    }
    return mapping.get(type(op), cst.Add)()


def _flatten_targets(node):
    if isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            yield from _flatten_targets(element.value)
    else:
        yield node


def target_text(interp, small) -> str:
    if isinstance(small, cst.Assign) and small.targets:
        return interp.code(small.targets[0].target)
    if isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        return interp.code(small.target)
    if isinstance(small, cst.Return):
        return "the value returned"
    return ""


def _self_attribute(node) -> bool:
    """`self.x`."""
    return type(node) is cst.Attribute and type(node.value) is cst.Name \
        and node.value.value == "self"
