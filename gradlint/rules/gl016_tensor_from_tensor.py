"""GL016: `torch.tensor(t)` where `t` is already a tensor."""

from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, nid):
    """`torch.tensor(t)` -> `t.clone().detach()` (+ `.requires_grad_()`), when nothing else
    (dtype, device) is passed."""
    from gradlint.rules.edits import rewrite_tensor_call

    return rewrite_tensor_call(ctx, nid, "clone().detach", "the same copy, without the warning")


def check(ctx):
    for nid in ctx.obs.tensor_from_tensor.values():
        call = ctx.code(nid)
        message = f"`{call}` copies a tensor and cuts the copy from autograd"
        help = ("PyTorch warns (\"To copy construct from a tensor, it is recommended to use "
                "sourceTensor.detach().clone()\"), and no gradient flows back through the copy. "
                "Write `t.clone().detach()` for a detached copy, `t.clone()` to keep the graph, "
                "or just `t`.")
        yield ctx.diagnostic(RULE, nid, message, (), make_fix(ctx, nid), help=help)


RULE = Rule(
    code="GL016",
    name="tensor-from-tensor",
    summary="`torch.tensor(t)` of a tensor: a warning, and a copy cut from autograd.",
    check=check,
    # the argument starts with a name (a variable or a call), not literal data
    # `\b`: `randn_tensor(shape)` (diffusers) is not torch.tensor
    needs=("tensor", "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `torch.tensor(t)` where `t` is known to be a tensor (made by a torch factory, a
module, or an operation on tensors).
""",
        why="""
`torch.tensor` always copies its data and builds a new leaf. Given a tensor, PyTorch
warns ("To copy construct from a tensor, it is recommended to use
sourceTensor.detach().clone() or sourceTensor.detach().clone().requires_grad_(True)")
and the copy has no link to `t`'s graph: code that expected gradients to flow back
through it silently gets none.
""",
        example="""
import torch

w = torch.randn(3, requires_grad=True)
scaled = torch.tensor(w * 2)
""",
        use_instead="""
import torch

w = torch.randn(3, requires_grad=True)
scaled = (w * 2).clone().detach()
""",
        fix_safety="""
The fix writes `t.clone().detach()` (with `.requires_grad_()` when
`requires_grad=True` was passed). It is safe: that is exactly what `torch.tensor(t)`
does, minus the warning. No fix when other arguments (`dtype`, `device`) are passed.
""",
    ),
)
