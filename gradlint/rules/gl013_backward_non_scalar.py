"""GL013: backward() without a gradient on a tensor of several elements."""

from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    if not ctx.obs.backward_non_scalar:
        return  # (before the imports: most files have nothing here)
    from gradlint.rules.edits import is_plain_name

    for call, var, count, origin in ctx.obs.backward_non_scalar.values():
        known = origin in ctx.interp.nodes and ctx.line(origin) != ctx.line(call)
        where = f" (computed at line {ctx.line(origin)})" if known else ""
        bare = var[1:-1] if var.startswith("(") and var.endswith(")") else var
        base = var if is_plain_name(var) or var != bare else f"({var})"
        message = (f"`{ctx.code(call)}` has no `gradient` argument, but `{bare}`{where} holds "
                   f"{count} elements")
        help = (f"PyTorch raises \"RuntimeError: grad can be implicitly created only for scalar "
                f"outputs\". Reduce it first (`{base}.sum().backward()` or "
                f"`{base}.mean().backward()`), or pass the vector to multiply the Jacobian by: "
                f"`{base}.backward(gradient=torch.ones_like({bare}))`.")
        related = [(origin, f"`{bare}` is computed here")] if known else []
        yield ctx.diagnostic(RULE, call, message, related, help=help)


RULE = Rule(
    code="GL013",
    name="backward-non-scalar",
    summary="backward() without a gradient on a tensor known to hold more than one element.",
    check=check,
    needs=("backward", GRAD_SOURCE, "torch"),
    docs=RuleDocs(
        what="""
Finds `y.backward()` and `torch.autograd.backward(y)` without a `gradient` (or
`grad_tensors`) argument where `y` requires grad and is known, from literal shapes in
the same code, to hold more than one element. Element counts are followed through
factories with literal sizes (`torch.randn(3, 4)`, `torch.tensor([1.0, 2.0])`,
`torch.arange(5.0)`...), elementwise operations and shape changes; whole-tensor
reductions (`.sum()`, `.mean()`, `F.mse_loss(...)`) give one element. Anything whose
shape is not known this way (model outputs, data, indexing, matrix products) is not
reported.
""",
        why="""
`backward()` needs the gradient of the final value with respect to itself. For a single
number that is 1, so PyTorch fills it in; for a tensor of several elements it cannot
guess, and raises "RuntimeError: grad can be implicitly created only for scalar
outputs".
""",
        example="""
import torch

x = torch.randn(3, requires_grad=True)
y = x * 2
y.backward()
""",
        use_instead="""
import torch

x = torch.randn(3, requires_grad=True)
y = x * 2
y.sum().backward()
""",
        fix_safety="""
No automatic fix: whether the gradient of the sum, of the mean, or of some weighting
is meant depends on the program.
""",
    ),
)
