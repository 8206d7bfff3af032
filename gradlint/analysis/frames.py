"""Functions and classes: definitions, calls followed with their arguments, and the
functions nobody in the file calls (analysed with unknown arguments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from gradlint.analysis.exprs import NONTENSOR, dotted
from gradlint.analysis.scopes import locals_of, self_attrs_assigned
from gradlint.analysis.values import (
    Function, GradContext, ModuleClass, NNModule, PlainClass, Ref, State, Tensor, UNKNOWN,
    Value, evolve,
    join_all, join_values,
)


MAX_CALL_DEPTH = 3
_MODULE_BASES = ("torch.nn.Module", "torch.nn.modules.module.Module",
                 "pytorch_lightning.LightningModule", "lightning.LightningModule",
                 "lightning.pytorch.LightningModule", "pytorch_lightning.core.LightningModule")
_HARMLESS_DECORATORS = ("staticmethod", "classmethod", "property", "torch.compile",
                        "functools.wraps", "functools.lru_cache", "functools.cache",
                        "abc.abstractmethod", "abstractmethod", "torch.jit.script",
                        "typing.overload", "overload")


@dataclass
class Frame:
    node: Optional[cst.FunctionDef]
    locals: Set[str]
    cls: Optional[cst.ClassDef] = None
    returns: List[Tuple[State, Value]] = field(default_factory=list)


@dataclass
class FunctionInfo:
    node: cst.FunctionDef
    cls: Optional[cst.ClassDef]
    nested: bool
    grad_mode: Optional[bool]  # forced by a decorator; None: the caller's mode
    opaque: bool  # decorated by something we do not know


class FrameMixin:
    def init_frames(self) -> None:
        self.frames: List[Frame] = [Frame(node=None, locals=set())]
        self.functions: Dict[int, FunctionInfo] = {}
        self.classes: Dict[int, cst.ClassDef] = {}
        self.class_attrs: Dict[int, Dict[str, Value]] = {}
        self.class_self: Dict[int, Value] = {}
        self.inlined: Set[int] = set()
        self.active: List[int] = []
        self.caller_envs: List[Dict[str, Value]] = []  # the bindings of each caller inlined
        self.dict_members: Dict[int, Dict[str, Value]] = {}  # an nn.ModuleDict's keys
        self.constructed: Dict[int, Dict[str, Value]] = {}  # a plain instance's `self.*`
        self.sub_roots: Dict[int, int] = {}  # a sub-module of an instance -> the instance
        # (statement, its variable) of the call made inside a no_grad block that is running
        self.grad_off_call: Optional[Tuple[int, str]] = None
        self.depth = 0
        self.module_env: Dict[str, Value] = {}
        self.locals_cache: Dict[int, Set[str]] = {}
        self.self_attrs_cache: Dict[int, Dict[int, Set[str]]] = {}

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def lookup(self, st: State, name: str) -> Value:
        if name in st.env:
            return st.env[name]
        frame = self.frame
        # a function's free names, and names in a class body (decorators), are globals
        if (frame.node is not None and name not in frame.locals) or (
                frame.node is None and frame.cls is not None):
            return self.module_env.get(name, UNKNOWN)
        return UNKNOWN

    # -- definitions -----------------------------------------------------------------------
    def exec_FunctionDef(self, node: cst.FunctionDef, st: State) -> State:
        grad_mode, opaque = None, False
        for deco in node.decorators:
            value = self.eval(deco.decorator, st)
            text = self.qualify(dotted(deco.decorator) or dotted(getattr(deco.decorator, "func", None)) or "")
            if isinstance(value, GradContext):
                grad_mode = value.enabled
            elif isinstance(value, Ref) and value.qualname in ("torch.no_grad", "torch.inference_mode"):
                grad_mode = False
            elif isinstance(value, Ref) and value.qualname == "torch.enable_grad":
                grad_mode = True
            elif text in _HARMLESS_DECORATORS or text.endswith(".setter"):
                continue
            else:
                opaque = True
        info = FunctionInfo(node, self.frame.cls, nested=self.frame.node is not None,
                            grad_mode=grad_mode, opaque=opaque)
        self.functions[id(node)] = info
        self.register(node)
        st.bind(node.name.value, Function(node_id=id(node), grad_mode=grad_mode))
        return st

    exec_AsyncFunctionDef = exec_FunctionDef

    def exec_ClassDef(self, node: cst.ClassDef, st: State) -> State:
        self.classes[id(node)] = node
        is_module = False
        for base in node.bases:
            value = self.eval(base.value, st)
            if isinstance(value, Ref) and (value.qualname in _MODULE_BASES
                                           or value.qualname.startswith("torch.nn.")):
                is_module = True
            elif isinstance(value, ModuleClass):
                is_module = True
        self_value: Value = (NNModule(ident=id(node), trainable=None, saves=True, cls=id(node))
                             if is_module else UNKNOWN)
        self.class_self[id(node)] = self_value
        # methods are defined in the class frame, not the module's
        self.frames.append(Frame(node=None, locals=set(), cls=node))
        inner = State(env={}, grad_mode=True)
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef):
                self.exec_FunctionDef(stmt, inner)
        self.frames.pop()
        attrs = self.analyse_init(node, self_value)
        self.class_attrs[id(node)] = attrs
        if is_module:
            has_params = True if any(
                (isinstance(v, NNModule) and v.trainable is True)
                or (isinstance(v, Tensor) and v.leaf is True and v.requires_grad is True)
                for v in attrs.values()) else None
            self.class_self[id(node)] = evolve(self_value, trainable=has_params)
            st.bind(node.name.value, ModuleClass(node_id=id(node), has_params=has_params))
        elif _plain(node):
            st.bind(node.name.value, PlainClass(node_id=id(node)))
        else:
            st.bind(node.name.value, UNKNOWN)
        return st

    def analyse_init(self, cls: cst.ClassDef, self_value: Value) -> Dict[str, Value]:
        init = _method(cls, "__init__")
        if init is None:
            return {}
        outer_loops, self.loop_stack = self.loop_stack, []
        try:
            out = self.run_function(self.functions[id(init)], {}, self_value, State(),
                                    standalone=True)
        finally:
            self.loop_stack = outer_loops
        if out is None:
            return {}
        exit_state, _ = out
        self.inlined.add(id(init))
        return {k: v for k, v in exit_state.env.items() if k.startswith("self.")}

    # -- calls -----------------------------------------------------------------------------
    def inlinable(self, fn_id: int) -> Optional[FunctionInfo]:
        info = self.functions.get(fn_id)
        if (info is None or info.opaque or fn_id in self.active
                or self.depth >= MAX_CALL_DEPTH or self.steps > self.step_limit):
            return None
        return info

    def own_method(self, name: str) -> Optional[Function]:
        """The method `name` of the class whose method is running, as a callee."""
        cls = self.frame.cls
        fn = _method(cls, name) if cls is not None else None
        return Function(node_id=id(fn)) if fn is not None and id(fn) in self.functions else None

    def call_local(self, fn: Function, node: cst.Call, args, st: State, receiver) -> Value:
        info = self.inlinable(fn.node_id)
        bound = self.bind_arguments(info, node, args, st) if info is not None else None
        if bound is None:
            return self.unknown_call(node, args, st)
        self_value = None
        start = State(**{**st.flow_facts(), "env": {}})
        if info.nested:
            start.env.update({k: v for k, v in st.env.items()
                              if k.split(".")[0] not in locals_of(info.node, self.locals_cache)})
        prefix = None
        if info.cls is not None and _is_method(info.node) and isinstance(node.func, cst.Attribute):
            if dotted(node.func.value) == "self":
                self_value = st.env.get("self", self.class_self.get(id(info.cls), UNKNOWN))
                start.env.update({k: v for k, v in st.env.items() if k.startswith("self.")})
                prefix = "self"
        result = self.inline(info, node, bound, self_value, start, st, prefix)
        return self.unknown_call(node, args, st) if result is None else result

    def inline(self, info: FunctionInfo, node: cst.Call, bound, self_value, start: State,
               st: State, prefix: Optional[str]) -> Optional[Value]:
        """Run a function of the file for one call, then carry its effects back to the
        caller: the flow facts (not the grad mode), and the attributes of `self` it left,
        under `prefix` (the caller's name for that object; None: not kept)."""
        self.register(node)  # now, while its own statement is the one being run
        self.call_chain.append(node)
        self.caller_envs.append(st.env)
        outer_off = self.grad_off_call
        if outer_off is None and st.grad_mode is False and info.grad_mode is None:
            self.grad_off_call = (self.stmt_id, self.stmt_var)
        try:
            result = self.run_function(info, bound, self_value, start)
        finally:
            self.grad_off_call = outer_off
            self.caller_envs.pop()
            self.call_chain.pop()
        if result is None:
            return None
        exit_state, value = result
        self.inlined.add(id(info.node))
        if not exit_state.dead:
            mode = st.grad_mode
            for key, fact in exit_state.flow_facts().items():
                setattr(st, key, fact)
            if info.grad_mode is not None or info.opaque:
                st.grad_mode = mode  # a decorator puts the caller's mode back
            # (otherwise a `torch.set_grad_enabled(False)` statement stays in force)
            if prefix is not None:
                for key, v in exit_state.env.items():
                    if key.startswith("self."):
                        st.env[prefix + key[4:]] = v
        return value

    def bind_arguments(self, info: FunctionInfo, node: cst.Call, args, st) -> Optional[Dict[str, Value]]:
        params = info.node.params
        names = [p.name.value for p in list(params.posonly_params) + list(params.params)]
        if info.cls is not None and _is_method(info.node) and names:
            names = names[1:]
        bound: Dict[str, Value] = {}
        positional = []
        for arg, value in zip(node.args, args):
            if arg.star:
                return None
            if arg.keyword is None:
                positional.append(value)
            else:
                bound[arg.keyword.value] = value
        for name, value in zip(names, positional):
            bound[name] = value
        for param in list(params.params) + list(params.kwonly_params):
            # a parameter left to its default: a literal number or string is known
            if param.name.value not in bound and param.default is not None and isinstance(
                    param.default, (cst.Integer, cst.Float, cst.SimpleString)):
                bound[param.name.value] = NONTENSOR
        return bound

    def run_function(self, info: FunctionInfo, bound, self_value, start: State,
                     standalone: bool = False):
        node = info.node
        self.active.append(id(node))
        self.frames.append(Frame(node=node, locals=locals_of(node, self.locals_cache), cls=info.cls))
        self.depth += 1
        # the caller's statement: where nodes evaluated after the call are placed
        saved = (self.cur, self.stmt_id, self.stmt_small, self.stmt_owner)
        try:
            st = start
            if info.grad_mode is not None:
                st.grad_mode = info.grad_mode
            elif info.opaque:
                st.grad_mode = None  # a decorator we do not know may change grad mode
            params = node.params
            every = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
            for i, p in enumerate(every):
                st.env.setdefault(p.name.value, UNKNOWN)
            for star in (params.star_arg, params.star_kwarg):
                if isinstance(star, cst.Param):
                    st.env[star.name.value] = UNKNOWN
            if info.cls is not None and _is_method(node) and every:
                first = every[0].name.value
                st.env[first] = self_value if self_value is not None else UNKNOWN
            for name, value in bound.items():
                st.env[name] = value
            out = self.exec_block(node.body, st)
            frame = self.frame
            states = [s for s, _ in frame.returns] + ([out] if not out.dead else [])
            value = UNKNOWN
            returned = [v for _, v in frame.returns]
            if returned:
                value = returned[0]
                for v in returned[1:]:
                    value = join_values(value, v)
                if not out.dead:
                    value = UNKNOWN if value != UNKNOWN else value
            return join_all(states), value
        finally:
            self.cur, self.stmt_id, self.stmt_small, self.stmt_owner = saved
            self.depth -= 1
            self.frames.pop()
            self.active.pop()

    def analyse_uncalled(self) -> None:
        """Functions and methods that no analysed code called: unknown arguments."""
        done: Set[int] = set()
        while True:
            pending = [i for i in self.functions if i not in self.inlined and i not in done]
            if not pending:
                return
            for fid in pending:
                done.add(fid)
                info = self.functions[fid]
                if info.nested:
                    continue
                self_value = None
                env: Dict[str, Value] = {}
                if info.cls is not None:
                    self_value = self.class_self.get(id(info.cls), UNKNOWN)
                    assigned_elsewhere = self_attrs_assigned(info.cls, info.node, self.self_attrs_cache)
                    for key, v in self.class_attrs.get(id(info.cls), {}).items():
                        if key.split(".")[1] not in assigned_elsewhere:
                            env[key] = v
                start = State(env=env, grad_mode=True)
                self.cur = start
                self.run_function(info, {}, self_value, start, standalone=True)


def _plain(cls: cst.ClassDef) -> bool:
    """A class with no base (or `object`), no metaclass and no decorator: what its
    instances hold and do is all in this file."""
    return not cls.decorators and not cls.keywords and all(
        type(b.value) is cst.Name and b.value.value == "object" for b in cls.bases)


def _method(cls: cst.ClassDef, name: str) -> Optional[cst.FunctionDef]:
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def _is_method(node: cst.FunctionDef) -> bool:
    for deco in node.decorators:
        if isinstance(deco.decorator, cst.Name) and deco.decorator.value == "staticmethod":
            return False
    return True
