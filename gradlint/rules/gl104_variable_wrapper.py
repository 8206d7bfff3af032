"""GL104: `torch.autograd.Variable(...)` of a tensor with no graph: deprecated, no effect.
(When the argument requires grad, the call cuts it off: that is GL012's.)"""

from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, nid):
    """`Variable(t)` -> `t.detach()`; `Variable(t, requires_grad=True)` ->
    `t.detach().requires_grad_()`: exactly what the call does in PyTorch 2."""
    from gradlint.rules.edits import rewrite_tensor_call

    return rewrite_tensor_call(ctx, nid, "detach", "what the call does")


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
intent, replace it by `t` by hand. No fix for other arguments.
""",
    ),
)
