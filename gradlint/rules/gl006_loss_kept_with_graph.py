"""GL006: a tensor with a graph accumulated across iterations into a logging accumulator."""

import re

import libcst as cst

from gradlint.analysis.walk import iter_tree
from gradlint.diagnostics import Fix
from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs

_SCOPES = (cst.FunctionDef, cst.Module)
_NESTED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
# calls that turn a tensor into a number, a string or a log line
_SINK_FUNCS = {"print", "float", "int", "round", "str", "len", "repr", "format", "bool"}
_SINK_METHODS = {"item", "tolist", "info", "debug", "warning", "error", "log", "add_scalar",
                 "add_scalars", "set_postfix", "set_description", "write", "log_dict"}
# expression nodes a value passes through on its way to a sink
_THROUGH = (cst.BinaryOperation, cst.UnaryOperation, cst.Arg, cst.Dict, cst.DictElement,
            cst.Element, cst.Tuple, cst.List, cst.Subscript, cst.SubscriptElement, cst.Index)
_PASS_FUNCS = {"sum", "max", "min", "abs"}


def _enclosing(parents, node, kinds):
    current = parents.get(id(node))
    while current is not None and not isinstance(current, kinds):
        current = parents.get(id(current))
    return current


def _is_sink_call(call: cst.Call) -> bool:
    func = call.func
    if isinstance(func, cst.Name):
        return func.value in _SINK_FUNCS
    return isinstance(func, cst.Attribute) and func.attr.value in _SINK_METHODS


def _use_is_harmless(parents, name: cst.Name) -> bool:
    """Does this use of the accumulator end in a number, a string or a log call?"""
    child, current = name, parents.get(id(name))
    while current is not None:
        if isinstance(current, (cst.FormattedStringExpression, cst.Comparison)):
            return True
        if isinstance(current, cst.Attribute):
            if current.value is not child:
                return False
            call = parents.get(id(current))
            if not (isinstance(call, cst.Call) and call.func is current):
                return False
            return current.attr.value in _SINK_METHODS - {"log", "write"}
        if isinstance(current, cst.Call):
            if current.func is child:
                return False
            if _is_sink_call(current):
                return True
            if not (isinstance(current.func, cst.Name) and current.func.value in _PASS_FUNCS):
                return False
        elif not isinstance(current, _THROUGH):
            return False
        child, current = current, parents.get(id(current))
    return False


def _accumulator_only_logged(ctx, scope, name: str, loop, accumulations) -> bool:
    parents = ctx.parent_map()
    initialised = False
    for node in iter_tree(scope):
        if isinstance(node, _NESTED) and node is not scope:
            if any(isinstance(n, cst.Name) and n.value == name for n in iter_tree(node)):
                return False
            continue
        if not (isinstance(node, cst.Name) and node.value == name):
            continue
        parent = parents.get(id(node))
        grown = parent
        if isinstance(parent, cst.Subscript) and parent.value is node:
            grown = parents.get(id(parent))  # `metrics["loss"] += ...`
        if isinstance(grown, cst.AugAssign) and grown.target in (node, parent):
            if id(grown) not in accumulations and not _is_number(grown.value):
                return False
            continue
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value == "append":
            call = parents.get(id(parent))
            if isinstance(call, cst.Call) and id(call) in accumulations:
                continue
            return False
        if isinstance(parent, cst.AssignTarget):
            value = parents.get(id(parent)).value
            if not _is_empty_or_zero(value) or _inside(parents, parent, loop):
                return False
            initialised = True
            continue
        if not _use_is_harmless(parents, node):
            return False
    return initialised


def _is_number(expr) -> bool:
    """A number literal, or a value turned into a plain number (`x.item()`, `float(x)`)."""
    if isinstance(expr, (cst.Integer, cst.Float)):
        return True
    return isinstance(expr, cst.Call) and (
        (isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "item")
        or (isinstance(expr.func, cst.Name) and expr.func.value in ("float", "int")))


def _is_empty_or_zero(value) -> bool:
    """`0`, `0.0`, `[]`, or a dict literal of numbers: a fresh accumulator."""
    if isinstance(value, (cst.Integer, cst.Float)):
        return True
    if isinstance(value, cst.List):
        return not value.elements
    if isinstance(value, cst.Dict):
        return all(isinstance(e, cst.DictElement) and isinstance(e.value, (cst.Integer, cst.Float))
                   for e in value.elements)
    return False


def _inside(parents, node, ancestor) -> bool:
    current = parents.get(id(node))
    while current is not None:
        if current is ancestor:
            return True
        current = parents.get(id(current))
    return False


def make_fix(ctx, expr_id):
    from gradlint.rules.edits import replace

    expr = ctx.node(expr_id)
    text = ctx.interp.code(expr)
    if not isinstance(expr, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        text = f"({text})"
    return Fix("safe", f"Use `{text}.detach()`",
               (replace(ctx.src, ctx.span(expr_id), f"{text}.detach()"),))


def check(ctx):
    if not ctx.obs.accumulations:
        return  # (the parent map below costs a whole-tree walk)
    parents = ctx.parent_map()
    found = {}
    for stmt, name, expr, _ in ctx.obs.accumulations.values():
        node = ctx.node(stmt)
        loop = _enclosing(parents, node, (cst.For, cst.While) + _SCOPES)
        if not isinstance(loop, (cst.For, cst.While)):
            continue
        scope = _enclosing(parents, loop, _SCOPES) if not isinstance(loop, _SCOPES) else loop
        found.setdefault((id(scope), name), (scope, loop, []))[2].append((stmt, expr))
    for (_, name), (scope, loop, sites) in found.items():
        ids = {s for s, _ in sites}
        if not _accumulator_only_logged(ctx, scope, name, loop, ids):
            continue
        for stmt, expr in sites:
            value = ctx.code(expr)
            message = (
                f"`{ctx.code(stmt)}` keeps `{value}`, which carries an autograd graph, in "
                f"`{name}`, which lives across the iterations of the loop at line "
                f"{ctx.line(ctx.interp.register(loop))} and is only used as a number or logged: "
                f"every iteration's graph stays reachable from `{name}` and is never freed, so "
                f"memory grows each iteration (until out of memory on long runs). Keep the "
                f"value without its graph: `{value}.item()` for a number, or `{value}.detach()`."
            )
            yield ctx.diagnostic(RULE, stmt, message, [(expr, f"`{value}` requires grad")],
                                 make_fix(ctx, expr))


RULE = Rule(
    code="GL006",
    name="loss-kept-with-graph",
    summary="A tensor with a graph is accumulated across iterations only to be logged.",
    check=check,
    # the value must require grad: it comes from a module, a Parameter or requires_grad
    needs=(("+=", ".append("), GRAD_SOURCE, "torch",
           re.compile(r"\b(for|while)\b")),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `total += loss`, `history.append(loss)` and `metrics["loss"] += loss` inside a
loop, where the value requires grad (it has a graph) and the accumulator is made before
the loop (`total = 0`, `history = []`, `metrics = {"loss": 0.0}`) and is otherwise only
grown by plain numbers or turned into numbers or logged: printed, formatted,
passed to `float()`, `.item()`, a logger or `writer.add_scalar`. Accumulators that are
backward'd (multi-step losses, truncated BPTT windows), returned, passed to other code,
or fed values already `.item()`'d or `.detach()`'d are not reported.
""",
        why="""
`total += loss` makes `total` a tensor whose graph links `loss`'s graph, and so on for
every iteration: none of those graphs can be freed while `total` lives. After a
backward the saved activations are gone but the graph nodes stay; without a backward
(an evaluation loop) all activations stay. Memory grows with every iteration: the
classic "my training runs out of memory after a few hundred steps" from the PyTorch FAQ.
""",
        example="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
total_loss = 0
for step in range(10):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    total_loss += loss
print(f"mean loss {total_loss / 10:.4f}")
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
total_loss = 0
for step in range(10):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    total_loss += loss.item()
print(f"mean loss {total_loss / 10:.4f}")
""",
        fix_safety="""
The fix adds `.detach()` to the accumulated value. It is safe: the accumulator is only
used as a number or logged, and a detached tensor has the same values, dtype and
device; only the graph is dropped. (`.item()` would also work, but changes the
accumulator's type.)
""",
    ),
)
