"""GL010: `.numpy()` on a tensor that requires grad."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def make_fix(ctx, nid):
    """`x.numpy()` -> `x.detach().numpy()`: the attribute `numpy` gets `detach().` before it."""
    import libcst as cst

    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import insert

    call = ctx.node(nid)
    if not isinstance(call.func, cst.Attribute):
        return None
    line, col, _, _ = ctx.span_of(call.func.attr, nid)
    return Fix("safe", "Insert `.detach()` before `.numpy()`", (insert(line, col, "detach()."),))


def check(ctx):
    for nid, origin in ctx.obs.numpy_on_grad.values():
        text = ctx.code(nid)
        where = f" (computed at line {ctx.line(origin)})" if origin in ctx.interp.nodes else ""
        message = f"`{text}` is called on a tensor that requires grad{where}"
        help = ("PyTorch raises \"RuntimeError: Can't call numpy() on Tensor that requires "
                "grad\". Detach it first: `.detach().numpy()`.")
        related = [(origin, "the tensor is computed here")] if origin else []
        yield ctx.diagnostic(RULE, nid, message, related, make_fix(ctx, nid), help=help)


RULE = Rule(
    code="GL010",
    name="numpy-on-grad-tensor",
    summary="`.numpy()` on a tensor that requires grad raises a RuntimeError.",
    check=check,
    needs=(Word(r"\bnumpy" + GAP + r"\(", "numpy"), GRAD_SOURCE, "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `x.numpy()` (also after `.cpu()`, `.to(...)` and other calls that keep
`requires_grad`) where `x` is known to require grad: a leaf made with
`requires_grad=True`, a parameter, or a result computed from one with grad mode on.
With gradient tracking off (`torch.no_grad()`, `inference_mode()`) PyTorch allows it
(checked with torch 2.13), and it is not reported there.
""",
        why="""
A NumPy array cannot carry the autograd graph, so PyTorch refuses: "RuntimeError:
Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
""",
        example="""
import torch

model = torch.nn.Linear(3, 1)
predictions = model(torch.randn(4, 3))
array = predictions.numpy()
""",
        use_instead="""
import torch

model = torch.nn.Linear(3, 1)
predictions = model(torch.randn(4, 3))
array = predictions.detach().numpy()
""",
        fix_safety="""
The fix inserts `.detach()` before `.numpy()` (after `.cpu()` the order does not
matter; the existing calls are kept). It is safe: `.numpy()` would raise otherwise,
and the array never takes part in autograd.
""",
    ),
)
