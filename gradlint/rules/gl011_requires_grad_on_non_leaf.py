"""GL011: changing requires_grad of a tensor that is not a leaf."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    for nid, var, origin in ctx.obs.requires_grad_on_non_leaf.values():
        where = f" (computed at line {ctx.line(origin)})" if origin in ctx.interp.nodes else ""
        message = f"`{ctx.code(nid)}` changes `requires_grad` of `{var}`, which is not a leaf{where}"
        help = (f"PyTorch raises \"RuntimeError: you can only change requires_grad flags of leaf "
                f"variables\". To stop gradients, use `{var}.detach()`; for a new leaf that "
                f"requires grad, `{var}.detach().requires_grad_()`.")
        related = [(origin, f"`{var}` is computed here")] if origin in ctx.interp.nodes else []
        yield ctx.diagnostic(RULE, nid, message, related, help=help)


RULE = Rule(
    code="GL011",
    name="requires-grad-on-non-leaf",
    summary="Setting requires_grad on a non-leaf tensor raises a RuntimeError.",
    check=check,
    needs=((Word(r"\brequires_grad" + GAP + r"=(?!=)", "requires_grad"), "requires_grad_"),
           GRAD_SOURCE, "torch"),
    docs=RuleDocs(
        what="""
Finds `x.requires_grad = ...` and `x.requires_grad_(False)` where `x` is the result of
an operation on tensors that require grad (not a leaf). `x.requires_grad_()` /
`requires_grad_(True)` on such a tensor is allowed by PyTorch (it already requires
grad) and is not reported.
""",
        why="""
Only leaves have a `requires_grad` flag of their own; a computed tensor requires grad
because its inputs do. PyTorch raises "RuntimeError: you can only change requires_grad
flags of leaf variables. If you want to use a computed variable in a subgraph that
doesn't require differentiation use var_no_grad = var.detach()".
""",
        example="""
import torch

w = torch.randn(3, requires_grad=True)
features = w * 2
features.requires_grad = False
""",
        use_instead="""
import torch

w = torch.randn(3, requires_grad=True)
features = (w * 2).detach()
""",
        fix_safety="No automatic fix: whether to detach or to make a new leaf is the author's choice.",
    ),
)
