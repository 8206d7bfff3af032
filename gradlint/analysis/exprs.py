"""Expression evaluation over abstract values: tensors, modules, optimizers, API refs."""

from __future__ import annotations

from typing import List, Optional

import libcst as cst

from gradlint.analysis import torchapi as api
from gradlint.analysis.shapes import elementwise_count, with_count
from gradlint.analysis.walk import iter_children, iter_tree
from gradlint.analysis.values import (
    Const, Cut, GradContext, NNModule, NONTENSOR, Params, Ref, Seq, Severed, State, Tensor,
    UNKNOWN, Unknown, Value, evolve, union_params,
)


# values are immutable: literals share one each (they compare equal either way)
_CONSTANTS = {"True": Const(True), "False": Const(False), "None": Const(None)}
_INTEGER = Const(0)  # (torch.tensor of integers is an integer tensor: GL008 tells them apart)
_FLOAT = Const(0.5)
_STRING = Const("")
_OPAQUE = (Unknown, NNModule, Params, Seq)  # operands that may hide a tensor
_OPERATOR_SYMBOLS = {cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/",
                     cst.Power: "**", cst.MatrixMultiply: "@"}
_BINOPS_SAVING = frozenset(k for k, symbol in _OPERATOR_SYMBOLS.items()
                           if symbol in api.SAVING_OPERATORS)


def dotted(node: cst.BaseExpression) -> Optional[str]:
    """`a.b.c` as a string when the expression is a plain access path."""
    # exact types, not isinstance: these classes have no subclasses, and isinstance on
    # libcst's ABC-based classes is slow (this runs for every name and call)
    kind = type(node)
    if kind is cst.Name:
        return node.value
    if kind is not cst.Attribute:
        return None
    # (built by concatenation: most paths have two or three parts, where that is
    # cheaper than collecting the parts and joining them)
    text = node.attr.value
    node = node.value
    kind = type(node)
    while kind is cst.Attribute:
        text = node.attr.value + "." + text
        node = node.value
        kind = type(node)
    if kind is cst.Name:
        return node.value + "." + text
    return None


def literal_bool(node: Optional[cst.BaseExpression]) -> Optional[bool]:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


def plain_number(expr: cst.BaseExpression) -> bool:
    """A number literal, or a call that gives a number whatever its argument is
    (`x.item()`, `y.numel()`, `len(z)`, `float(w)`)."""
    if isinstance(expr, (cst.Integer, cst.Float)):
        return True
    if not isinstance(expr, cst.Call):
        return False
    func = expr.func
    if isinstance(func, cst.Attribute):
        return func.attr.value in api.NON_TENSOR_METHODS
    return isinstance(func, cst.Name) and func.value in ("len", "float", "int", "round")


def kwarg(call: cst.Call, name: str) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call) -> List[cst.Arg]:
    return [a for a in call.args if a.keyword is None and not a.star]


def grad_owner(node):
    """`p` of `p.grad`, `p.grad.data` (the gradient buffer of something), else None."""
    while isinstance(node, cst.Attribute) and node.attr.value == "data":
        node = node.value
    return node.value if isinstance(node, cst.Attribute) and node.attr.value == "grad" else None


def is_grad_expr(node) -> bool:
    return grad_owner(node) is not None


def _cut_of(value) -> frozenset:
    """Where a value that does not require grad was cut out of autograd (empty if not)."""
    if type(value) is Severed or (type(value) is Tensor and value.requires_grad is False):
        return value.severed
    return frozenset()


def _dead_terms(kind, left, right, node) -> frozenset:
    """The cut terms a sum or a scaling carries to its result (GL022): `loss + x.detach()`
    adds one; `(a + b.detach()) * 0.5` keeps it; `a * b.detach()` does not (there the
    cut value weights the gradient of `a`). Not a straight-through estimator, whose cut
    term holds the other operand itself: `z + (q - z).detach()`,
    `(hard - soft.detach()) + soft`."""
    dead = frozenset()
    # (`loss += term` comes here too, as an AugAssign)
    left_expr = node.target if type(node) is cst.AugAssign else node.left
    right_expr = node.value if type(node) is cst.AugAssign else node.right
    for mine, other, mine_expr, other_expr in ((left, right, left_expr, right_expr),
                                               (right, left, right_expr, left_expr)):
        if type(mine) is not Tensor or mine.requires_grad is not True:
            continue
        dead = dead | (mine.dead_terms if kind in (cst.Add, cst.Subtract, cst.Multiply)
                       or kind is cst.Divide and mine is left else frozenset())
        if kind in (cst.Add, cst.Subtract):
            cut = _cut_of(other)
            if cut and not (type(mine_expr) is cst.Name and any(
                    type(n) is cst.Name and n.value == mine_expr.value
                    for n in iter_tree(other_expr))):
                dead = dead | cut
        elif not (kind is cst.Multiply or kind is cst.Divide and mine is left) or not (
                type(other) is Const or type(other) is Severed):
            return frozenset()  # a product of two tensors, a power...: not a sum of terms
    return dead


def inplace_flag(call: cst.Call, index: Optional[int]) -> bool:
    """`inplace=True` passed to a call that takes it as its argument number `index`."""
    if index is None:
        return False
    arg = kwarg(call, "inplace")
    if arg is None:
        pos = positional(call)
        arg = pos[index] if len(pos) > index else None
    return arg is not None and literal_bool(arg.value) is True


class ExprEvaluator:
    """Mixin of the interpreter: evaluates expressions in a State."""

    # -- helpers the interpreter provides: self.obs, self.code(node), self.stmt_id,
    #    self.stmt_var, self.lookup(state, name), self.event_*(), self.call_local(...)

    # node class -> its evaluator, found once by name; one table per class (a subclass
    # may define its own evaluators)
    _evaluators: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._evaluators = {}

    def eval(self, node: cst.BaseExpression, st: State) -> Value:
        kind = type(node)
        method = self._evaluators.get(kind)
        if method is None:
            method = self._evaluators[kind] = getattr(type(self), "eval_" + kind.__name__,
                                                      _children)
        return method(self, node, st)

    def eval_children(self, node: cst.CSTNode, st: State) -> None:
        """Evaluate sub-expressions for their effects (calls inside containers...)."""
        for child in iter_children(node):
            role = _CHILD_ROLES.get(type(child))
            if role is None:
                role = _child_role(type(child))
            if role is _EVALUATED:
                self.eval(child, st)
            elif role is _ENTERED:
                self.eval_children(child, st)

    # -- leaves -----------------------------------------------------------------
    def eval_Name(self, node: cst.Name, st: State) -> Value:
        constant = _CONSTANTS.get(node.value)
        if constant is not None:
            return constant
        return self.lookup(st, node.value)

    def eval_Integer(self, node, st):
        return _INTEGER

    def eval_Float(self, node, st):
        return _FLOAT

    eval_Imaginary = eval_Float

    def eval_SimpleString(self, node, st):
        return _STRING

    eval_ConcatenatedString = eval_SimpleString

    def eval_FormattedString(self, node, st):
        self.eval_children(node, st)
        return _STRING

    # -- attributes ---------------------------------------------------------------
    def eval_Attribute(self, node: cst.Attribute, st: State) -> Value:
        path = dotted(node)
        if path is not None and path in st.env:
            return st.env[path]
        base = self.eval(node.value, st)
        attr = node.attr.value
        if isinstance(base, Ref):
            return Ref(base.qualname + "." + attr)
        if isinstance(base, Tensor):
            if attr == "grad":
                self.on_grad_read(node, base, st)
                return UNKNOWN
            if attr in api.NON_TENSOR_ATTRS:
                return NONTENSOR
            if attr == "data":
                return Tensor(ident=id(node), requires_grad=False, leaf=True, origin=self.stmt_id,
                              is_int=base.is_int, severed=self.sever(base, node, "data"))
            if attr in ("T", "mT", "H", "mH", "real", "imag"):
                return self.op_result([base], saves=False, site=id(node), st=st)
            return UNKNOWN
        if isinstance(base, NNModule):
            root = base.root or base.ident
            if attr in ("weight", "bias"):
                return Tensor(ident=root, requires_grad=base.trainable, leaf=True,
                              sources=frozenset([root]), origin=base.origin)
            if attr in ("training",):
                return NONTENSOR
            return NNModule(ident=hash((base.ident, attr)), trainable=base.trainable and None,
                            saves=True, root=root, origin=base.origin)
        return UNKNOWN

    # -- operators ----------------------------------------------------------------
    def eval_BinaryOperation(self, node: cst.BinaryOperation, st: State) -> Value:
        # `a * b * c ...` nests to the left: walk the chain with a loop, not recursion,
        # so that thousands of chained operations do not exhaust the stack
        chain = []
        while type(node) is cst.BinaryOperation:  # (exact type: faster on libcst's ABCs)
            chain.append(node)
            node = node.left
        value = self.eval(node, st)
        for op in reversed(chain):
            value = self.binop(op.operator, value, self.eval(op.right, st), id(op), st, op)
        return value

    def binop(self, operator, left: Value, right: Value, site: int, st: State,
              node=None) -> Value:
        if not isinstance(left, Tensor) and not isinstance(right, Tensor):
            if isinstance(left, Const) and isinstance(right, Const):
                cut = _cut_of(left) | _cut_of(right)
                # (`0.1 * reg.item()`: still a number taken out of autograd)
                return Severed(severed=cut) if cut else NONTENSOR
            if type(operator) is cst.Add:  # `list(a.parameters()) + list(b.parameters())`
                return union_params([left, right]) or UNKNOWN
            return UNKNOWN
        kind = type(operator)  # (operator classes have no subclasses)
        # (the other operand is saved, a Python number too: see api.SAVING_OPERATORS)
        saves = kind in _BINOPS_SAVING
        result = self.op_result([left, right], saves=saves, site=site, st=st)
        if saves and isinstance(result, Tensor) and result.requires_grad is True:
            self.note_saved(site, _saved_operands(kind, left, right), node)
        if kind is cst.MatrixMultiply:
            return result
        if type(result) is Tensor and result.requires_grad is True and node is not None:
            dead = _dead_terms(kind, left, right, node)
            if dead:
                result = evolve(result, dead_terms=dead)
        return with_count(result, elementwise_count((left, right)))

    def eval_UnaryOperation(self, node: cst.UnaryOperation, st: State) -> Value:
        value = self.eval(node.expression, st)
        if type(node.operator) is cst.Not:
            return NONTENSOR
        if isinstance(value, Tensor):
            result = self.op_result([value], saves=False, site=id(node), st=st)
            if value.dead_terms and type(result) is Tensor:
                result = evolve(result, dead_terms=value.dead_terms)  # `-(a + b.detach())`
            return with_count(result, value.numel)
        return value if isinstance(value, Const) else UNKNOWN

    def eval_Comparison(self, node: cst.Comparison, st: State) -> Value:
        values = [self.eval(node.left, st)] + [self.eval(c.comparator, st) for c in node.comparisons]
        tensors = [v for v in values if isinstance(v, Tensor)]
        if tensors:
            # no gradient goes through a comparison: it cuts what required grad (GL022)
            severed = frozenset().union(*(self.sever(t, node, "compare") for t in tensors))
            return Tensor(ident=id(node), requires_grad=False, leaf=True, origin=self.stmt_id,
                          is_int=True, severed=severed)
        return NONTENSOR

    def eval_BooleanOperation(self, node, st):
        self.eval(node.left, st)
        self.eval(node.right, st)
        return UNKNOWN

    def eval_IfExp(self, node: cst.IfExp, st: State) -> Value:
        from gradlint.analysis.values import join_values

        self.eval(node.test, st)
        return join_values(self.eval(node.body, st), self.eval(node.orelse, st))

    def eval_Subscript(self, node: cst.Subscript, st: State) -> Value:
        base = self.eval(node.value, st)
        indices = []
        for element in node.slice:
            if type(element.slice) is cst.Index:
                indices.append(self.eval(element.slice.value, st))
            else:
                self.eval_children(element.slice, st)
        if isinstance(base, Tensor):
            saves = any(isinstance(i, Tensor) for i in indices)  # index tensors are saved
            return self.op_result([base], saves=saves, site=id(node), st=st)
        if type(base) is NNModule and len(node.slice) == 1:  # `nets["gen"]`: a key written out
            key = _literal_key(node.slice[0].slice)
            member = st.env.get(f"{dotted(node.value)}.{key}") if key is not None else None
            if member is not None:
                return member
        if type(base) is NNModule and base.container:
            if any(type(element.slice) is not cst.Index for element in node.slice):
                return base  # `blocks[1:]`: a container of the same layers
            return evolve(base, container=False)  # `blocks[i]`, `heads[name]`: one of them
        return UNKNOWN

    def eval_Await(self, node, st):
        self.eval(node.expression, st)
        return UNKNOWN

    def eval_NamedExpr(self, node: cst.NamedExpr, st: State) -> Value:
        value = self.eval(node.value, st)
        if isinstance(node.target, cst.Name):
            st.bind(node.target.value, value)
        return value

    def eval_Tuple(self, node, st: State) -> Value:
        items = []
        for element in node.elements:
            value = self.eval(element.value, st)
            if type(element) is cst.StarredElement:
                return UNKNOWN
            items.append(value)
        return Seq(tuple(items))

    eval_List = eval_Tuple

    def eval_Lambda(self, node, st):
        return UNKNOWN

    # comprehensions run code we do not follow; effects on known objects are unknown
    def eval_ListComp(self, node, st):
        self.escape_names_in(node, st)
        if st.scaled is not None:
            self.scaled_grads_in(node, st)
        return UNKNOWN

    eval_SetComp = eval_DictComp = eval_GeneratorExp = eval_ListComp

    # -- the autograd model ---------------------------------------------------------
    def op_result(self, inputs: List[Value], saves: Optional[bool], site: int, st: State) -> Value:
        """The result of a differentiable operation on `inputs`."""
        self.note_site(site)
        # one pass over the inputs (this runs for every operation on a tensor)
        tensors: List[Tensor] = []
        unknown = False
        for v in inputs:
            if isinstance(v, Seq):  # a literal tuple or list: its items, one level deep
                for item in v.items:
                    if isinstance(item, Tensor):
                        tensors.append(item)
                    elif isinstance(item, _OPAQUE):
                        unknown = True
            elif isinstance(v, Tensor):
                tensors.append(v)
            elif isinstance(v, _OPAQUE):
                unknown = True
        any_rg = False
        all_false = not unknown
        all_int = all_float = bool(tensors) and not unknown
        cuts = graph = sources = lost = severed = frozenset()
        is_open = unknown
        for v in inputs:
            if type(v) is Severed:
                severed = severed | v.severed
        for t in tensors:
            if t.severed:
                severed = severed | t.severed
            if t.requires_grad is True:
                any_rg = True
                graph = graph | t.graph
                lost = lost | t.sources
            if t.requires_grad is not False:
                all_false = False
            if t.is_int is not True:
                all_int = False
            if t.is_int is not False:
                all_float = False
            if t.cuts:
                cuts = cuts | t.cuts
            if t.sources:
                sources = sources | t.sources
            if t.open:
                is_open = True
        is_int = True if all_int else (False if all_float else None)
        mode = st.grad_mode
        if mode is False:
            if any_rg:
                # in a function called inside a no_grad block, the cut is that call
                site, var = self.grad_off_call or (self.stmt_id, self.stmt_var)
                cuts = cuts | {Cut(site=site, lost=lost, var=var)}
            return Tensor(ident=site, requires_grad=False, leaf=True, cuts=cuts,
                          origin=self.stmt_id, is_int=is_int, severed=severed)
        if any_rg and mode is True:
            rg, leaf = True, False
        elif all_false:
            rg, leaf = False, True
        else:
            rg, leaf = None, None
        if rg is True and saves:
            node = self.new_node(site, st)
            if node in graph:  # the inputs hold this site's previous instance
                graph = (graph - {node}) | {(site, 1)}
            graph |= {node}
        return Tensor(ident=site, requires_grad=rg, leaf=leaf, graph=graph,
                      sources=sources if rg is not False else frozenset(),
                      open=is_open and rg is not False,
                      cuts=cuts, origin=self.stmt_id, is_int=is_int, severed=severed)

    def module_call(self, module: NNModule, args: List[Value], node: cst.Call,
                    st: State) -> Value:
        site = id(node)
        if module.inplace and args and type(args[0]) is Tensor:
            return self.changed_in_place(node, args[0], module.inplace, st)
        root = module.root or module.ident
        own = (root, module.ident) if module.ident in self.sub_roots else (root,)
        param = Tensor(ident=root, requires_grad=module.trainable, leaf=True,
                       sources=frozenset(own) if module.trainable is not False else frozenset())
        if module.trainable is True and module.saves:
            self.note_saved(site, args)  # its input, for its weights' gradient
        if module.trainable is True and (module.deep or any(
                isinstance(a, Tensor) and a.requires_grad is True for a in args)):
            # its weights are saved for the gradient of its input (GL017)
            self.site_saves[site] = frozenset(own)
        result = self.op_result([param] + args, saves=module.saves, site=site, st=st)
        if module.saves_result and type(result) is Tensor and result.requires_grad is True:
            self.note_saved(site, [result], node)
        return result

    def changed_in_place(self, node: cst.Call, t: Tensor, function: str, st: State) -> Tensor:
        """`F.relu(x, inplace=True)`, `torch.relu_(x)`, `nn.ReLU(inplace=True)(x)`: x itself
        changes: graphs that saved it can no longer be backwarded (GL018)."""
        self.on_inplace_saved(self.stmt_small if self.stmt_small is not None else node, t, st)
        return self.output_in_place(node, self.written_into(t, (), st), function, st)

    def output_in_place(self, node: cst.Call, t: Tensor, function: str, st: State) -> Tensor:
        """`t`, changed in place by `function`, is now its output; the activations that
        need their result for backward save it (changing it again raises)."""
        if t.requires_grad is not True or st.grad_mode is not True or (
                function not in api.INPLACE_SAVES_RESULT):
            return t
        result = evolve(self.op_result([t], saves=True, site=id(node), st=st),
                        ident=t.ident, origin=t.origin, dtype=t.dtype, numel=t.numel)
        st.replace_everywhere(t, result)
        self.note_saved(id(node), [result], node)
        return result

    def sever(self, t: Tensor, node: cst.CSTNode, how: str):
        """What a value taken out of `t` carries: the cut made here when `t` required grad."""
        if t.requires_grad is not True:
            return t.severed
        return t.severed | {(self.register(node), how)}

    def note_site(self, site: int) -> None:
        cur = self.cur
        if cur.grad_reads or cur.stale_reads:
            # a new tensor from this allocation site: its .grad starts empty (GL014)
            cur.grad_reads = frozenset(r for r in cur.grad_reads if r[0] != site)
            cur.stale_reads = frozenset(r for r in cur.stale_reads if r[0] != site)
        if self.current_loops:
            self.site_loops.setdefault(site, self.current_loops)

    def new_node(self, site: int, st: State):
        node = (site, 0)
        if site in self.seen_sites:
            self.age_site(site, st)
        self.seen_sites.add(site)
        return node

    def age_site(self, site: int, st: State) -> None:
        """A site runs again: its previous node becomes 'an older instance'."""
        young, old = (site, 0), (site, 1)
        # (one pass over the bindings: which hold the older instance, which the younger)
        live_old = False
        aged = []
        # the callers' bindings too: a function run again makes a new instance of the
        # nodes its earlier run gave back to them
        for env in (st.env, *self.caller_envs):
            for key, value in env.items():
                if type(value) is Tensor and value.graph:  # (Tensor has no subclasses)
                    if old in value.graph:
                        live_old = True
                    if young in value.graph:
                        aged.append((env, key, value))
        was_freed = young in st.freed
        old_freed = old in st.freed or not live_old
        site_of = st.freed.get(young) or st.freed.get(old)
        st.freed.pop(young, None)
        st.freed.pop(old, None)
        if was_freed and old_freed and site_of is not None:
            st.freed[old] = site_of
        if st.modified:
            # the older instance's mark goes with it; with nobody holding it, the younger
            # one's holders now hold the older node, and its mark
            mark = st.modified.pop(young, None)
            if not live_old:
                st.modified.pop(old, None)
                if mark is not None:
                    st.modified[old] = mark
        # two instances are all the model tells apart: with the older one still held, a
        # third would share its node, and freeing one would seem to free the other, so
        # the younger one's holders lose the node instead (they claim less, never wrong)
        keep = frozenset() if live_old else frozenset([old])
        for env, key, value in aged:
            env[key] = _with(value, graph=(value.graph - {young}) | keep)

    def escape_names_in(self, node: cst.CSTNode, st: State) -> None:
        """Known objects named inside code we do not follow may be changed by it."""
        for name in _names_in(node):
            value = st.env.get(name) if name in st.env else None
            if value is not None:
                self.escape(value, st)


# what `eval_children` does with a child, by its exact class (isinstance on libcst's
# ABC-based classes is slow when it fails, and this runs for every child)
_SKIPPED, _EVALUATED, _ENTERED = "skipped", "evaluated", "entered"
_CHILD_ROLES: dict = {}


def _child_role(kind) -> str:
    if issubclass(kind, cst.BaseExpression):
        role = _SKIPPED if issubclass(kind, cst.Lambda) else _EVALUATED
    elif issubclass(kind, (cst.Element, cst.Arg, cst.DictElement, cst.StarredElement,
                           cst.StarredDictElement, cst.FormattedStringExpression)):
        role = _ENTERED
    else:
        role = _SKIPPED
    _CHILD_ROLES[kind] = role
    return role


def _children(self, node, st: State) -> Value:
    self.eval_children(node, st)
    return UNKNOWN


def _with(value: Tensor, **kw) -> Tensor:
    return evolve(value, **kw)


def _names_in(node: cst.CSTNode):
    for current in iter_tree(node):
        if type(current) is cst.Name:
            yield current.value


def _saved_operands(kind, left, right):
    """`a * b`, `a @ b`: each operand is saved for the other's gradient; `a / b` saves b
    always and a for b's gradient; `a ** b` saves a."""
    def rg(v):
        return isinstance(v, Tensor) and v.requires_grad is True

    if kind is cst.Power:
        return [left]
    if kind is cst.Divide:
        return [right, left] if rg(right) else [right]
    return [v for v, other in ((left, right), (right, left)) if rg(other)]


__all__ = ["ExprEvaluator", "dotted", "kwarg", "positional", "literal_bool", "NONTENSOR",
           "GradContext"]


def _literal_key(index) -> Optional[str]:
    """The string of `m["key"]`, else None."""
    if type(index) is cst.Index and type(index.value) is cst.SimpleString \
            and index.value.prefix.lower() in ("", "r", "u"):
        return index.value.evaluated_value
    return None
