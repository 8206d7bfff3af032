"""Calls: PyTorch API, modules, optimizers, backward and friends, local functions."""

from __future__ import annotations

from typing import List

import libcst as cst

from gradlint.analysis import dtypes, shapes, torchapi as api
from gradlint.analysis.shapes import with_count
from gradlint.analysis.walk import iter_children
from gradlint.analysis.methods import MethodEvaluator, keeps_graph, optimizer_like_name
from gradlint.analysis.steps import CLIPS, SCALERS
from gradlint.analysis.exprs import (NONTENSOR, dotted, inplace_flag, is_grad_expr, kwarg,
                                     literal_bool, positional)
from gradlint.analysis.values import (
    Const, Function, GradContext, Instance, ModuleClass, NNModule, Optimizer, Params,
    PlainClass, Ref, Seq, Severed, State, Tensor, UNKNOWN, Unknown, Value, evolve, union_params,
)


def _stateful(name: str, call: cst.Call) -> bool:
    """Does this optimizer keep state between steps? (SGD only with a literal momentum.)"""
    if name in ("SGD",):
        momentum = kwarg(call, "momentum")
        if momentum is None or not isinstance(momentum.value, (cst.Float, cst.Integer)):
            return False
        return float(momentum.value.value) != 0.0
    return name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
                    "Adadelta", "SparseAdam", "ASGD", "Rprop", "LBFGS", "Adafactor")


def _value_kind(value):
    """"int" / "float" for what a name holds: a number, or a list of numbers, written in
    the file (`counts = [1, 2, 3]`), else None."""
    if type(value) is Const:
        kind = type(value.value)
        return "int" if kind in (int, bool) else "float" if kind is float else None
    if type(value) is Seq and value.items:
        kinds = {_value_kind(v) for v in value.items}
        if kinds == {"int"}:
            return "int"
        if "float" in kinds and None not in kinds:
            return "float"
    return None


def _literal_kind(node):
    """"int" / "float" for numeric literal data (nested lists too), else None."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    if isinstance(node, cst.Integer):
        return "int"
    if isinstance(node, cst.Float):
        return "float"
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return "int"
    if isinstance(node, (cst.List, cst.Tuple)) and node.elements:
        kinds = {_literal_kind(e.value) for e in node.elements}
        if kinds == {"int"}:
            return "int"
        if "float" in kinds and None not in kinds:
            return "float"
    return None


class CallEvaluator(MethodEvaluator):
    """Mixin of the interpreter: evaluates calls."""

    def eval_Call(self, node: cst.Call, st: State) -> Value:
        func = node.func
        receiver: Value = UNKNOWN
        method = None
        fname = dotted(func)
        func_kind = type(func)  # exact types: isinstance on libcst's classes is slow
        if func_kind is cst.Attribute:
            method = func.attr.value
            callee = st.env.get(fname) if fname is not None and fname in st.env else None
            if callee is None:
                # `x.grad.zero_()` reads .grad only to clear it
                self.clearing_grad, outer = method in ("zero_", "detach_", "fill_"), self.clearing_grad
                try:
                    receiver = self.eval(func.value, st)
                finally:
                    self.clearing_grad = outer
                callee = Ref(receiver.qualname + "." + method) if isinstance(receiver, Ref) else None
                if callee is None and receiver is UNKNOWN and fname == "self." + method:
                    callee = self.own_method(method)  # `self.helper()` in a plain class
        else:
            callee = self.eval(func, st)
        args, pos = [], []
        if node.args:  # (none in 38% of the calls in training scripts: `.mean()`, ...)
            for arg in node.args:
                value = self.eval(arg.value, st)
                args.append(value)
                if arg.keyword is None and not arg.star:
                    pos.append(value)
        if self.extra_backward or self.extra_clear:  # (the configured names: rarely any)
            extra = self.extra_call(node, fname, pos, st)
            if extra is not None:
                return extra
        if (func_kind is cst.Name and func.value in api.HARMLESS_BUILTINS
                and func.value not in st.env and func.value not in self.module_env):
            if func.value in ("list", "tuple", "filter") and pos and isinstance(pos[-1], Params):
                return pos[-1]  # the same parameters (a filter keeps a subset of them)
            return NONTENSOR if func.value in ("len", "float", "int", "str", "bool", "print",
                                              "isinstance", "round", "repr", "format") else UNKNOWN
        if isinstance(callee, Ref):
            return self.call_api(node, callee.qualname, args, pos, st)
        if isinstance(callee, NNModule):
            self.on_module_forward(node, callee, st)
            if callee.cls is not None:
                value = self.instance_call(node, callee, "forward", fname, args, st)
                if isinstance(value, (Tensor, Seq)):
                    return value
            return self.module_call(callee, pos, node, st)
        if isinstance(callee, Function):
            return self.call_local(callee, node, args, st, receiver if method else None)
        if isinstance(callee, PlainClass):
            made = Instance(ident=id(node), cls=callee.node_id, origin=self.stmt_id)
            if not self.construct(node, made, args, st):
                # (what its `__init__` does to the arguments, a model frozen or moved, is
                # then unknown, as for any unknown call)
                self.unknown_call(node, args, st)
            return made
        if isinstance(callee, Instance):
            value = self.instance_call(node, callee, "__call__", fname, args, st)
            return value if value is not None else self.unknown_call(node, args, st)
        if isinstance(callee, ModuleClass):
            self.note_site(id(node))
            self.module_roots.add(id(node))
            return NNModule(ident=id(node), trainable=callee.has_params, saves=True,
                            origin=self.stmt_id, cls=callee.node_id)
        if method is not None:
            return self.call_method(node, func, method, receiver, args, pos, st)
        return self.unknown_call(node, args, st)

    # -- configured names ---------------------------------------------------------
    def extra_call(self, node, fname, pos, st):
        if not fname or not (self.extra_backward or self.extra_clear):
            return None
        last = fname.rsplit(".", 1)[-1]
        if fname in self.extra_backward or last in self.extra_backward:
            self.on_backward(node, pos[0] if pos else UNKNOWN, keeps_graph(node, 99), st)
            return NONTENSOR
        if fname in self.extra_clear or last in self.extra_clear:
            self.on_clear(node)
            return NONTENSOR
        return None

    # -- torch API ------------------------------------------------------------------
    def call_api(self, node: cst.Call, q: str, args, pos, st: State) -> Value:
        if q == "itertools.chain":
            return union_params(pos) or self.unknown_call(node, args, st)
        if q == "copy.deepcopy" and len(pos) == 1 and type(pos[0]) is NNModule and pos[0].cls:
            # a teacher, EMA or target network copied from a module of the file's own
            # class: a new instance, with its own parameters, whose forward runs when called
            self.note_site(id(node))
            self.module_roots.add(id(node))
            return evolve(pos[0], ident=id(node), root=None, origin=self.stmt_id, container=False)
        if q == "torch.set_default_dtype":
            self.default_dtype_known = False  # factories' dtype is unknown from here on
        if q == "torch.as_tensor" and len(node.args) == 1 and pos and isinstance(pos[0], Tensor):
            return pos[0]  # the tensor itself, not a copy
        short = api.torch_short(q)
        if short == "tensor" and pos and isinstance(pos[0], Tensor):
            # torch.tensor(t) of a tensor: a detached copy, with a warning
            self.obs.tensor_from_tensor.setdefault(id(node), self.register(node))
        if short in api.FACTORIES:
            made = self.factory(node, short, st)
            if short in ("tensor", "as_tensor", "from_numpy") and pos:
                # a copy of values cut out of autograd carries the cut (GL022)
                data = pos[0]
                cut = data.severed if isinstance(data, (Tensor, Severed)) else frozenset()
                if cut:
                    made = evolve(made, severed=cut)
                    if made.requires_grad is True:
                        self.severed_leaves.add(made.ident)
            return with_count(made, shapes.factory_count(node, short, pos))
        if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            self.note_site(id(node))
            rg = kwarg(node, "requires_grad")
            value = literal_bool(rg.value) if rg is not None else True
            data = pos[0] if pos and isinstance(pos[0], Tensor) else None
            return Tensor(ident=id(node), requires_grad=value, leaf=True,
                          sources=frozenset([id(node)]), origin=self.stmt_id, is_int=False,
                          numel=data.numel if data is not None else None,
                          dtype=data.dtype if data is not None else None)
        if q in ("torch.autograd.Variable", "torch.autograd.variable.Variable"):
            # what PyTorch 2 does: a new leaf sharing the data (the graph is not kept),
            # requiring grad only when asked to
            cuts = bool(pos) and isinstance(pos[0], Tensor) and pos[0].requires_grad is True
            self.obs.deprecated_variable.setdefault(id(node), (self.register(node), cuts))
            rg = kwarg(node, "requires_grad")
            flag = False if rg is None else literal_bool(rg.value)
            self.note_site(id(node))
            return Tensor(ident=id(node), requires_grad=flag, leaf=True,
                          sources=frozenset([id(node)]) if flag is not False else frozenset(),
                          origin=self.stmt_id)
        if q in api.GRAD_CONTEXTS:
            if node.args and "inference_mode" in q:
                # `inference_mode(False)` leaves grad mode as it is; a flag not written
                # out leaves it unknown
                arg = kwarg(node, "mode") or node.args[0]
                if literal_bool(arg.value) is not True:
                    return UNKNOWN
            return GradContext(api.GRAD_CONTEXTS[q])
        if q in api.SET_GRAD_ENABLED:
            return GradContext(literal_bool(node.args[0].value) if node.args else None, True)
        cls = api.nn_class(q)
        if cls:
            return self.nn_module(node, cls, pos, st)
        if api.optimizer_class(q):
            return Optimizer(ident=id(node), coverage=self.coverage(node, st), origin=self.stmt_id,
                             stateful=_stateful(api.optimizer_class(q), node))
        if api.is_scheduler(q):
            return self.make_scheduler(node, q, pos, st)
        if q in SCALERS:
            return self.make_scaler(node)
        if q == "torch.autograd.backward":
            if len(node.args) == 1 and pos and isinstance(pos[0], Tensor):
                self.on_implicit_grad(node, node.args[0].value, pos[0])
            self.on_backward(node, pos[0] if pos else UNKNOWN, keeps_graph(node, 2), st)
            return NONTENSOR
        if q in ("torch.autograd.grad", "torch.autograd.grad_mode.grad"):
            self.on_autograd_grad(node, pos[0] if pos else UNKNOWN, keeps_graph(node, 3), st)
            create = kwarg(node, "create_graph")
            if create is not None or len(positional(node)) > 4:
                return UNKNOWN
            # gradients computed without a graph of their own: they require no grad (a
            # tuple of them, which indexing and unpacking give out one by one)
            self.note_site(id(node))
            return Tensor(ident=id(node), requires_grad=False, leaf=True, origin=self.stmt_id)
        if q in ("copy.deepcopy", "copy.copy"):
            base = pos[0] if pos else UNKNOWN
            if isinstance(base, NNModule):
                self.module_roots.add(id(node))
                return NNModule(ident=id(node), trainable=base.trainable, saves=base.saves,
                                origin=self.stmt_id)
            return UNKNOWN
        if q in CLIPS:
            self.on_clip(node, pos, st)
            return UNKNOWN
        if q.startswith("torch.nn.utils.") or q.startswith("torch.nn.init."):
            return UNKNOWN
        if q in api.NORMS and node.args and is_grad_expr(node.args[0].value):
            self.on_scaled_grad_use(node, "read", st)  # `torch.norm(p.grad)`
        if api.is_torch_op(q):
            flat = self.flatten_args(node, args, st)
            name = q.rsplit(".", 1)[-1]
            if flat and type(flat[0]) is Tensor and (
                    name.endswith("_") and not name.endswith("__")
                    or inplace_flag(node, api.INPLACE_FUNCTION_ARG.get(name))):
                return self.changed_in_place(node, flat[0], name, st)
            result = self.op_result(flat, saves=name not in api.NON_SAVING_OPS, site=id(node), st=st)
            if flat and (name in api.SAVES_RESULT or name in api.SAVES_INPUT):
                self.note_saved_by(node, name, flat[0], result)
            return with_count(result, shapes.op_count(name, node, flat, method=False))
        if q.split(".", 1)[0] in ("torch", "builtins", "math", "numpy", "np", "random", "time",
                                  "os", "sys", "logging", "json"):
            return UNKNOWN
        return self.unknown_call(node, args, st)

    def flatten_args(self, node: cst.Call, args: List[Value], st: State) -> List[Value]:
        flat: List[Value] = []
        for arg, value in zip(node.args, args):
            if isinstance(arg.value, (cst.List, cst.Tuple)):
                flat.extend(self.eval(e.value, st) for e in arg.value.elements)
            elif arg.keyword is None or arg.keyword.value in ("input", "other", "target", "weight"):
                flat.append(value)
        return flat

    def factory(self, node: cst.Call, short: str, st: State) -> Value:
        self.note_site(id(node))
        rg_arg = kwarg(node, "requires_grad")
        rg = False if rg_arg is None else literal_bool(rg_arg.value)
        is_int = self.factory_is_int(node, short, st)
        if rg is True and is_int is True:
            self.obs.int_requires_grad.setdefault(id(node), self.register(node))
            rg = None  # PyTorch raises here: nothing after it is known
        return Tensor(ident=id(node), requires_grad=rg, leaf=True,
                      sources=frozenset([id(node)]) if rg is not False else frozenset(),
                      origin=self.stmt_id, is_int=is_int,
                      dtype=dtypes.of_factory(self, node, short, is_int))

    def factory_is_int(self, node: cst.Call, short: str, st: State):
        dtype = kwarg(node, "dtype")
        if dtype is not None:
            text = dotted(dtype.value) or ""
            qual = self.qualify(text)
            if qual in api.INT_DTYPES:
                return True
            return False if qual.startswith("torch.") else None
        if short in api.INT_FACTORIES:
            return True
        pos = positional(node)
        if short in ("tensor", "as_tensor", "arange", "full") and pos:
            # the dtype PyTorch infers from literal data: all integers (or bools) -> int64
            data = [pos[-1].value] if short == "full" else [a.value for a in pos]
            kinds = {_value_kind(self.lookup(st, d.value)) if type(d) is cst.Name
                     else _literal_kind(d) for d in data}
            if kinds == {"int"}:
                return True
            if "float" in kinds and None not in kinds:
                return False
        if short in ("zeros", "ones", "randn", "rand", "empty", "eye", "linspace", "logspace",
                     "normal", "randn_like", "rand_like"):
            return False
        return None

    def nn_module(self, node: cst.Call, cls: str, pos: List[Value], st: State) -> Value:
        self.note_site(id(node))
        self.module_roots.add(id(node))
        if cls in api.PARAM_MODULES:
            return NNModule(ident=id(node), trainable=True, saves=True, origin=self.stmt_id,
                            deep=cls in api.DEEP_MODULES)
        if cls in api.PARAM_FREE_MODULES:
            return NNModule(ident=id(node), trainable=False, saves=cls not in api.NON_SAVING_MODULES,
                            origin=self.stmt_id,
                            inplace=_inplace_function(node, cls),
                            saves_result=cls in api.RESULT_SAVING_MODULES)
        if cls == "ModuleDict" and node.args:
            return self.module_dict(node, node.args[0].value, st)
        if cls == "ModuleList" and node.args:
            return self.module_container(node, node.args[0].value, st)
        if cls in api.CONTAINER_MODULES and cls == "Sequential":
            parts = [p for p in pos]
            if parts and all(isinstance(p, NNModule) for p in parts):
                trainable = True if any(p.trainable is True for p in parts) else (
                    False if all(p.trainable is False for p in parts) else None)
                weighted = sum(1 for p in parts if p.trainable is True)
                return NNModule(ident=id(node), trainable=trainable,
                                saves=any(p.saves for p in parts), origin=self.stmt_id,
                                deep=weighted >= 2 or any(p.deep for p in parts))
        return UNKNOWN

    def coverage(self, node: cst.Call, st: State) -> frozenset:
        params = kwarg(node, "params")
        pos = positional(node)
        expr = params.value if params is not None else (pos[0].value if pos else None)
        out = set()
        stack = [expr] if expr is not None else []
        while stack:
            e = stack.pop()
            kind = type(e)  # (exact types: isinstance on libcst's ABCs is slow when it fails)
            if kind is cst.Call and type(e.func) is cst.Attribute and \
                    e.func.attr.value in ("parameters", "named_parameters"):
                base = self.eval(e.func.value, st)
                if isinstance(base, NNModule):
                    out.add(base.ident if base.ident in self.sub_roots else base.root or base.ident)
                continue
            if kind is cst.Name or kind is cst.Attribute:
                value = self.eval(e, st)
                if isinstance(value, Params):
                    out |= value.roots
                elif isinstance(value, NNModule):
                    out.add(value.root or value.ident)
                elif isinstance(value, Tensor) and value.sources:
                    out |= value.sources
                continue
            if kind is cst.ListComp or kind is cst.GeneratorExp or kind is cst.SetComp:
                stack.append(e.for_in.iter)
                continue
            for child in iter_children(e):
                if isinstance(child, cst.BaseExpression):
                    stack.append(child)
                elif isinstance(child, (cst.Element, cst.Arg, cst.DictElement, cst.StarredElement)):
                    stack.extend(c for c in iter_children(child) if isinstance(c, cst.BaseExpression))
        return frozenset(out)

    def unknown_call(self, node: cst.Call, args, st: State, receiver_text=None) -> Value:
        for value in args:
            self.escape(value, st)
            if isinstance(value, (Optimizer, NNModule)):
                self.on_maybe_clear(node)
            if isinstance(value, Optimizer):
                self.maybe_stepped(st)
        for arg in node.args:
            if optimizer_like_name(dotted(arg.value)):
                self.on_maybe_clear(node)
                self.maybe_stepped(st)
        if receiver_text and receiver_text.split(".")[0] in st.env:
            base = st.env.get(receiver_text)
            if base is not None:
                self.escape(base, st)
        return UNKNOWN


__all__ = ["CallEvaluator", "optimizer_like_name", "Const", "Unknown"]


def _inplace_function(node: cst.Call, cls: str):
    """`nn.ReLU(inplace=True)`: the function the module runs in place, else None."""
    function, index = api.INPLACE_MODULE.get(cls, (None, None))
    return function if inplace_flag(node, index) else None
