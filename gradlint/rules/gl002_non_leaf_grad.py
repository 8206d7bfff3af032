"""GL002: `.grad` read on a tensor that is not a leaf: it is None."""

from gradlint.rules.base import GRAD_ATTRIBUTE, GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    for read in ctx.obs.nonleaf_reads.values():
        var = read.var
        origin_line = ctx.line(read.origin) if read.origin in ctx.interp.nodes else None
        where = f" at line {origin_line}" if origin_line else ""
        message = f"`{var}.grad` is None: `{var}` is not a leaf tensor (computed{where})"
        help = (f"backward() stores gradients only in leaf tensors, and PyTorch warns on this "
                f"read. Call `{var}.retain_grad()` before the backward if you need it, or read "
                f"the .grad of the leaves it is computed from.")
        yield ctx.diagnostic(RULE, read.read, message, [(read.origin, f"`{var}` is computed here")],
                             make_fix(ctx, read), help=help)


RULE = Rule(
    code="GL002",
    name="non-leaf-grad",
    summary="`.grad` is read on a non-leaf tensor, where it is always None.",
    check=check,
    needs=(GRAD_ATTRIBUTE, GRAD_SOURCE, "torch"),  # a known non-leaf comes from torch
    fixable=True,
    docs=RuleDocs(
        what="""
Finds reads of `x.grad` where `x` is the result of an operation on tensors that require
grad (so `x` is not a leaf) and `x.retain_grad()` was not called. That includes an
activation a module keeps on `self` in `forward` and read as `model.activations.grad`,
and a cast to another dtype after `requires_grad=True` (`torch.randn(3,
requires_grad=True).double()` is a new, non-leaf tensor; `.float()` on a float32
tensor is the tensor itself and is not reported). Leaves (tensors made by factory
functions with `requires_grad=True`, `nn.Parameter`, `.detach()`), module parameters
such as `model.fc.weight.grad`, and tensors of unknown origin are not reported;
neither are writes such as `x.grad = None`.
""",
        why="""
Autograd stores gradients only in leaf tensors. On a non-leaf, `.grad` is `None` after
`backward()` and PyTorch warns: "The .grad attribute of a Tensor that is not a leaf
Tensor is being accessed". Code that uses it gets `None` (or an AttributeError on it).
""",
        example="""
import torch

a = torch.tensor([1.1], requires_grad=True)
b = a * 2
c = b + 3
c.backward()
print(b.grad)
""",
        fix_safety="""
The fix inserts `x.retain_grad()` right after the statement that computes `x`, so that
backward stores its gradient. It is safe: the code reads `x.grad`, so it evidently
wants that gradient. It costs the memory of one more gradient tensor. No fix is
offered when `x` is not assigned by a plain `x = ...` statement.
""",
        use_instead="""
import torch

a = torch.tensor([1.1], requires_grad=True)
b = a * 2
b.retain_grad()
c = b + 3
c.backward()
print(b.grad)
""",
    ),
)


def make_fix(ctx, read):
    """`x.retain_grad()` right after the statement that computes `x`."""
    import libcst as cst

    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import insert_statement_after

    if read.origin not in ctx.interp.nodes:
        return None
    stmt = ctx.node(read.origin)
    targets = []
    if isinstance(stmt, cst.Assign):
        targets = [t.target for t in stmt.targets]
    elif isinstance(stmt, (cst.AnnAssign, cst.AugAssign)):
        targets = [stmt.target]
    if not any(isinstance(t, cst.Name) and t.value == read.var for t in targets):
        return None
    edit = insert_statement_after(ctx.src, ctx.span(read.origin), f"{read.var}.retain_grad()")
    return Fix("safe", f"Call `{read.var}.retain_grad()` after `{read.var}` is computed", (edit,))
