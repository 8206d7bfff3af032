"""GL104: `torch.autograd.Variable(...)` of a tensor with no graph: deprecated, no effect.
(When the argument requires grad, the call cuts it off: that is GL012's.)"""

from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, nid):
    """`Variable(t)` -> `t.detach()`; `Variable(t, requires_grad=True)` ->
    `t.detach().requires_grad_()`: exactly what the call does in PyTorch 2. When this call
    is the only use of a `Variable` imported by name, the same fix removes the import."""
    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import rewrite_tensor_call

    fix = rewrite_tensor_call(ctx, nid, "detach", "what the call does")
    removal = _import_removal(ctx, nid) if fix is not None else None
    if removal is None:
        return fix
    return Fix(fix.applicability, fix.message + ", and drop the unused import",
               fix.edits + (removal,))


def _import_removal(ctx, nid):
    """The edit that removes `Variable` from `from torch.autograd import Variable` when
    the call `nid` is the name's only other use, on another line (so the two edits are
    applied together, never one without the other)."""
    import libcst as cst

    from gradlint.rules.edits import replace, whole_lines

    func = ctx.node(nid).func
    if not isinstance(func, cst.Name):
        return None
    uses = [n for n in ctx.names(func.value) if n is not func]
    if len(uses) != 1:
        return None
    parents = ctx.parent_map()
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
    if line == ctx.line(nid) or not isinstance(statement.names, (tuple, list)):
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
        return replace(ctx.src, whole_lines(first, last), "")
    kept = [a for a in statement.names if a is not alias]
    names = ", ".join(ctx.interp.code(a.name) + (
        f" as {ctx.interp.code(a.asname.name)}" if a.asname else "") for a in kept)
    text = f"from {ctx.interp.code(statement.module)} import {names}"
    return replace(ctx.src, ctx.span_of(statement), text)


def check(ctx):
    for nid, cuts in ctx.obs.deprecated_variable.values():
        if cuts:
            continue
        message = (
            f"`{ctx.code(nid)}` uses `Variable`, deprecated since PyTorch 0.4: tensors do "
            f"everything it did. Write what it does: `t.detach()` (with `.requires_grad_()` if "
            f"`requires_grad=True` was passed)."
        )
        yield ctx.diagnostic(RULE, nid, message, (), make_fix(ctx, nid))


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
drops that import; with several calls the import is left to an unused-import check
(Ruff's F401), since the calls may not all be fixed together.
""",
    ),
)
