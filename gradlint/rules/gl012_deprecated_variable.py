"""GL012: `torch.autograd.Variable(...)`, deprecated since PyTorch 0.4."""

from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, nid):
    """`Variable(t)` -> `t.detach()`; `Variable(t, requires_grad=True)` ->
    `t.detach().requires_grad_()`: exactly what the call does in PyTorch 2."""
    from gradlint.rules.edits import rewrite_tensor_call

    return rewrite_tensor_call(ctx, nid, "detach", "what the call does")


def check(ctx):
    for nid in ctx.obs.deprecated_variable.values():
        message = (
            f"`{ctx.code(nid)}` uses `Variable`, deprecated since PyTorch 0.4 (tensors do "
            f"everything it did). It is not a plain wrapper: it returns a new leaf that shares "
            f"the data and drops the argument's graph. Write what it does: `t.detach()` (with "
            f"`.requires_grad_()` if `requires_grad=True` was passed), or just `t` to keep the graph."
        )
        yield ctx.diagnostic(RULE, nid, message, (), make_fix(ctx, nid))


RULE = Rule(
    code="GL012",
    name="deprecated-variable",
    summary="`torch.autograd.Variable(...)` is deprecated; it detaches its argument.",
    check=check,
    needs=("Variable",),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds calls of `torch.autograd.Variable` (however it was imported).
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
