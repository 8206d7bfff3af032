"""GL006's look at the source: is an accumulator only ever turned into numbers or logged?

Kept apart from the rule module so that libcst is imported only when a file is analysed.
"""

import libcst as cst

from gradlint.analysis.exprs import plain_number
from gradlint.diagnostics import Fix

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

    def uses():
        for node in ctx.names(name):
            # only the uses in `scope`'s own code; one in a nested function or class may
            # do anything with it (the order of uses does not matter: any bad one decides)
            current = _enclosing(parents, node, _NESTED + (cst.Module,))
            if current is not scope:
                if current is not None and _inside(parents, current, scope):
                    yield node, None, None  # used in a function or class inside the scope
                continue
            parent = parents.get(id(node))
            grown = parent
            if isinstance(parent, cst.Subscript) and parent.value is node:
                grown = parents.get(id(parent))  # `metrics["loss"] += ...`
            yield node, parent, grown

    def fresh(target) -> bool:  # made before the loop, as 0 or []
        return _is_empty_or_zero(parents.get(id(target)).value) and not _inside(
            parents, target, loop)

    return _only_logged(parents, uses(), accumulations, fresh)


def _only_logged(parents, uses, accumulations, fresh) -> bool:
    """Is every use (node, parent, the statement that may grow it) of an accumulator a
    recorded growth, a `fresh` assignment (at least one), or harmless (a number, a log)?"""
    initialised = False
    for node, parent, grown in uses:
        if parent is None:
            return False
        growth = _growth(parents, node, parent, grown, accumulations)
        if growth is False:
            return False
        if growth:
            continue
        if isinstance(parent, cst.AssignTarget):
            if not fresh(parent):
                return False
            initialised = True
            continue
        if not _use_is_harmless(parents, node):
            return False
    return initialised


def _growth(parents, node, parent, grown, accumulations):
    """For a use of the accumulator that grows it (`acc += v`, `acc.append(v)`): True when
    it is one of the recorded `accumulations` or adds a plain number, False otherwise;
    None for any other use."""
    if isinstance(grown, cst.AugAssign) and grown.target in (node, parent):
        return id(grown) in accumulations or bool(plain_number(grown.value))
    if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value == "append":
        call = parents.get(id(parent))
        return isinstance(call, cst.Call) and id(call) in accumulations
    return None


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


def kept_accumulators(ctx):
    """(accumulator name, loop node, [(statement id, value expression id)]) for the
    accumulators that live across the loop and are only used as numbers or logged."""
    parents = ctx.parent_map()
    found = {}
    for stmt, name, expr in ctx.obs.accumulations.values():
        loop = _enclosing(parents, ctx.node(stmt), (cst.For, cst.While) + _SCOPES)
        if not isinstance(loop, (cst.For, cst.While)):
            continue
        scope = _enclosing(parents, loop, _SCOPES)
        found.setdefault((id(scope), name), (scope, loop, []))[2].append((stmt, expr))
    for (_, name), (scope, loop, sites) in found.items():
        if _accumulator_only_logged(ctx, scope, name, loop, {s for s, _ in sites}):
            yield name, loop, sites


def kept_attribute_accumulators(ctx):
    """("self.x", loop id, [(statement id, value expression id)]) for the attributes a
    method run in a loop grows with values that carry a graph (`self.running_loss +=
    loss`), when every `.x` in the file is set only in an `__init__`, to a fresh 0 or [],
    and is otherwise only turned into numbers or logged."""
    found = {}
    for stmt, name, expr, loop in ctx.obs.attr_accumulations.values():
        found.setdefault(name, (loop, []))[1].append((stmt, expr))
    for name, (loop, sites) in found.items():
        if _attribute_only_logged(ctx, name.split(".", 1)[1], {s for s, _ in sites}):
            yield name, loop, sites


def _attribute_only_logged(ctx, attr: str, accumulations) -> bool:
    parents = ctx.parent_map()

    def uses():
        for name in ctx.names(attr):
            node = parents.get(id(name))
            if isinstance(node, cst.Attribute) and node.attr is name:
                parent = parents.get(id(node))
                yield node, parent, parent
            # (otherwise a variable or a keyword of the same spelling: not the attribute)

    def fresh(target) -> bool:  # set in an `__init__`, as 0 or []
        function = _enclosing(parents, target, _NESTED)
        return isinstance(function, cst.FunctionDef) and function.name.value == "__init__" \
            and _is_empty_or_zero(parents.get(id(target)).value)

    return _only_logged(parents, uses(), accumulations, fresh)
