"""GL104: `torch.autograd.Variable(...)` of a tensor with no graph: deprecated, no effect.
(When the argument requires grad, the call cuts it off: that is GL012's.)"""

from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, nid):
    """`Variable(t)` -> `t.detach()`; `Variable(t, requires_grad=True)` ->
    `t.detach().requires_grad_()`: exactly what the call does in PyTorch 2. When the calls
    are the only uses of a `Variable` imported by name, the import goes too: with one
    call in the same fix; with several as a shared edit, applied only when every one of
    the calls is fixed in the same pass (a call left alone still needs the import)."""
    from dataclasses import replace as with_fields

    from gradlint.rules.edits import rewrite_tensor_call

    fix = rewrite_tensor_call(ctx, nid, "detach", "what the call does")
    found = _import_removal(ctx, nid) if fix is not None else None
    if found is None:
        return fix
    removal, calls = found
    message = fix.message + ", and drop the unused import"
    if calls == 1:
        return with_fields(fix, message=message, edits=fix.edits + (removal,))
    return with_fields(fix, message=message, shared=(removal,), sharers=calls)


def _import_removal(ctx, nid):
    """The edit that removes `Variable` from `from torch.autograd import Variable`, and
    how many calls use it, when every other use of the name is a reported call with a
    fix, none on the import's line."""
    import libcst as cst

    from gradlint.rules.edits import replace, rewrite_tensor_call, whole_lines

    func = ctx.node(nid).func
    if not isinstance(func, cst.Name):
        return None
    parents = ctx.parent_map()
    others = [n for n in ctx.names(func.value) if n is not func]
    binding = [n for n in others if not _fixed_call(ctx, parents, n, rewrite_tensor_call)]
    if len(binding) != 1:
        return None
    calls = len(others)  # this call, and the other calls
    uses = binding
    alias = parents.get(id(uses[0]))
    if isinstance(alias, cst.AsName):  # `Variable as V`: the name is in the alias's `as`
        alias = parents.get(id(alias))
    statement = parents.get(id(alias))
    if not isinstance(alias, cst.ImportAlias) or not isinstance(statement, cst.ImportFrom):
        return None
    bound = alias.asname.name if alias.asname is not None else alias.name
    if bound is not uses[0] or ctx.interp.code(alias.name) != "Variable":
        return None
    line = ctx.start_of(statement)[0]
    call_lines = {ctx.line(nid)} | {ctx.line(ctx.obs.deprecated_variable[id(parents[id(n)])][0])
                                    for n in others if n is not uses[0]}
    if line in call_lines or not isinstance(statement.names, (tuple, list)):
        return None
    owner = ctx.statement_parents().get(id(statement))
    if not isinstance(owner, cst.SimpleStatementLine) or len(owner.body) != 1:
        return None
    if len(statement.names) == 1:
        block = ctx.statement_parents().get(id(owner))
        body = getattr(block, "body", ())
        if not isinstance(block, cst.Module) and len(body) < 2:
            return None  # the block would be left empty
        first, col, last, end = ctx.span_of(statement)
        if not ctx.src.starts_line(first, col) or not ctx.src.rest_of_line_is_blank(last, end):
            return None
        return replace(ctx.src, whole_lines(first, last), ""), calls
    kept = [a for a in statement.names if a is not alias]
    names = ", ".join(ctx.interp.code(a.name) + (
        f" as {ctx.interp.code(a.asname.name)}" if a.asname else "") for a in kept)
    text = f"from {ctx.interp.code(statement.module)} import {names}"
    return replace(ctx.src, ctx.span_of(statement), text), calls


def _fixed_call(ctx, parents, name, rewrite) -> bool:
    """`name` is the function of a `Variable(...)` call that GL012 or GL104 reports with a
    fix."""
    import libcst as cst

    call = parents.get(id(name))
    if not isinstance(call, cst.Call) or call.func is not name:
        return False
    entry = ctx.obs.deprecated_variable.get(id(call))
    return entry is not None and rewrite(ctx, entry[0], "detach", "") is not None


def check(ctx):
    for nid, cuts in ctx.obs.deprecated_variable.values():
        if cuts:
            continue
        message = f"`{ctx.code(nid)}` uses `Variable`, deprecated since PyTorch 0.4"
        help = ("Tensors do everything it did. Write what it does: `t.detach()` (with "
                "`.requires_grad_()` if `requires_grad=True` was passed).")
        yield ctx.diagnostic(RULE, nid, message, (), make_fix(ctx, nid), help=help)


RULE = Rule(
    code="GL104",
    name="variable-wrapper",
    summary="`torch.autograd.Variable(...)` of a tensor without a graph: deprecated, no effect.",
    check=check,
    needs=("Variable",),
    fixable=True,
    default_on=False,
    docs=RuleDocs(
        what="""
Finds calls of `torch.autograd.Variable` (however it was imported) whose argument is not
known to require grad: data from a loader, a fresh tensor, labels. Off by default: the
call changes nothing at run time. When the argument requires grad, the call cuts it
from autograd, and GL012 reports it instead.
""",
        why="""
`Variable` was merged into `Tensor` in PyTorch 0.4. Calling it still works, but it is
not the no-op many expect: checked with torch 2.13, `Variable(t)` returns a new tensor
that shares `t`'s data, is a leaf, and requires grad only when `requires_grad=True` is
passed, so the graph behind `t` is dropped.
""",
        example="""
import torch
from torch.autograd import Variable

x = Variable(torch.randn(3), requires_grad=True)
""",
        use_instead="""
import torch

x = torch.randn(3).requires_grad_()
""",
        fix_safety="""
The fix writes what the call does: `t.detach()`, or `t.detach().requires_grad_()` when
`requires_grad=True` is passed. It is safe (same result); if keeping the graph was the
intent, replace it by `t` by hand. No fix for other arguments. When the call is the only
use of `Variable` imported by name (`from torch.autograd import Variable`), the same fix
drops that import. With several calls, the import goes in the run that fixes all of
them; while one is left (suppressed with `noqa`, its rule not selected, or a call the
fix cannot rewrite), the import stays.
""",
    ),
)
