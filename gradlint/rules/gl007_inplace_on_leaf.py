"""GL007: an in-place operation on a leaf that requires grad, with grad mode on."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import LEAF_SOURCE, Rule, RuleDocs


def make_fix(ctx, stmt_id):
    """Wrap the statement (a whole line of its own) in `with torch.no_grad():`."""
    import libcst as cst

    from gradlint.rules.edits import wrap_in_no_grad

    line_node = ctx.statement_parents().get(id(ctx.node(stmt_id)))
    if not isinstance(line_node, cst.SimpleStatementLine) or len(line_node.body) != 1:
        return None
    return wrap_in_no_grad(ctx, line_node, "safe")


def check(ctx):
    for stmt_id, op_id, method, origin in ctx.obs.inplace_on_leaf.values():
        op = ctx.code(op_id) if method != "augassign" else ctx.code(stmt_id)
        where = f" (made at line {ctx.line(origin)})" if origin in ctx.interp.nodes else ""
        message = f"`{op}` changes in place a leaf tensor that requires grad{where}"
        help = ("With gradient tracking on, PyTorch raises \"RuntimeError: a leaf Variable that requires grad is being used "
                "in an in-place operation\". Update weights in `with torch.no_grad():` (as "
                "optimizers do); to compute with a changed copy, write `w2 = w + ...`.")
        related = [(origin, "the leaf is made here")] if origin in ctx.interp.nodes else []
        yield ctx.diagnostic(RULE, stmt_id, message, related, make_fix(ctx, stmt_id), help=help)


RULE = Rule(
    code="GL007",
    name="inplace-on-leaf",
    summary="An in-place operation on a leaf that requires grad, outside no_grad.",
    check=check,
    # a leaf made in the file with requires_grad or as a Parameter, and an in-place
    # operation: a method ending in `_(`, an augmented assignment, or `x[...] = ...`
    needs=(LEAF_SOURCE, (Word(r"[A-Za-z0-9]_" + GAP + r"\(", "_",
                              split=(r".*[A-Za-z0-9]", r"_" + GAP + r"\(")),
                         "-=", "+=", "*=", "/=", "@=", "%=", "&=", "|=", "^=", "<<=", ">>=",
                         Word(r"\]" + GAP + r"=(?!=)", "]")),
           "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds in-place operations (`w -= lr * w.grad`, `w += 1`, `w.add_(...)`, `w.zero_()`,
`w.normal_()`, `w[0] = 0`) on a leaf tensor that requires grad (made in the file with
`requires_grad=True`, `requires_grad_()`, or as an `nn.Parameter`) while grad mode is
on. The parameters of modules (`layer.weight`) are not followed by this rule.
""",
        why="""
Autograd cannot record an in-place change of a leaf it must compute gradients for:
PyTorch raises "RuntimeError: a leaf Variable that requires grad is being used in an
in-place operation" (for `w[0] = 0`: "a view of a leaf Variable ..."). Manual weight
updates must run under `torch.no_grad()`, as optimizers do.
""",
        example="""
import torch

w = torch.randn(3, requires_grad=True)
loss = (w * w).sum()
loss.backward()
w -= 0.1 * w.grad
""",
        use_instead="""
import torch

w = torch.randn(3, requires_grad=True)
loss = (w * w).sum()
loss.backward()
with torch.no_grad():
    w -= 0.1 * w.grad
""",
        fix_safety="""
The fix wraps the statement in `with torch.no_grad():`. It is safe: the statement
cannot run as written, and an in-place update of a leaf is what optimizers do under
`no_grad`. No fix when the statement shares its line with others.
""",
    ),
)
