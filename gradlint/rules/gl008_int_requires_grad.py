"""GL008: requires_grad=True on an integer (or bool) tensor."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, nid):
    """Make the tensor float: `dtype=torch.float32` (replacing an integer dtype)."""
    import libcst as cst

    from gradlint.analysis.exprs import dotted, kwarg
    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import insert, replace

    call = ctx.node(nid)
    root = (dotted(call.func) or "").rsplit(".", 1)[0] if isinstance(call.func, cst.Attribute) else ""
    if not root:
        return None  # `from torch import tensor`: no module name to spell the dtype with
    dtype = f"{root}.float32"
    existing = kwarg(call, "dtype")
    if existing is not None:
        edit = replace(ctx.src, ctx.span_of(existing.value, nid), dtype)
    else:
        flag = kwarg(call, "requires_grad")
        line, col, _, _ = ctx.span_of(flag, nid)
        edit = insert(line, col, f"dtype={dtype}, ")
    return Fix("unsafe", f"Make it a float tensor (`dtype={dtype}`)", (edit,))


def check(ctx):
    for nid in ctx.obs.int_requires_grad.values():
        text = ctx.code(nid)
        message = f"`{text}` asks an integer tensor to require grad"
        help = ("PyTorch raises \"RuntimeError: Only Tensors of floating point and complex dtype "
                "can require gradients\". Make the data float (`[1.0, 2.0]`, "
                "`dtype=torch.float32`), or drop `requires_grad=True` if it holds indices or labels.")
        yield ctx.diagnostic(RULE, nid, message, (), make_fix(ctx, nid), help=help)


RULE = Rule(
    code="GL008",
    name="int-requires-grad",
    summary="requires_grad=True on an integer or bool tensor raises a RuntimeError.",
    check=check,
    needs=(Word(r"requires_grad" + GAP + "=" + GAP + "True", "requires_grad"), "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds tensor factories with `requires_grad=True` whose result has an integer or bool
dtype: an explicit integer `dtype=` (`torch.long`, `torch.int32`, `torch.bool`, ...),
integer-only factories (`torch.randint`, `torch.randperm`, `torch.LongTensor`), or
data that is all integers, written out (`torch.tensor([1, 2])`, `torch.arange(5)`,
`torch.full((2,), 7)`) or in a name bound to it (`counts = [3, 1]`,
`torch.tensor(counts, ...)`, while nothing has added to the list), which PyTorch
stores as int64.
""",
        why="""
Only floating point and complex tensors can require gradients. PyTorch raises
"RuntimeError: Only Tensors of floating point and complex dtype can require gradients"
at the factory call.
""",
        example="""
import torch

weights = torch.tensor([1, 2, 3], requires_grad=True)
""",
        use_instead="""
import torch

weights = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
""",
        fix_safety="""
The fix sets `dtype=<torch>.float32` (replacing an integer `dtype=`). It is unsafe: the
values become floats, which changes every later computation with them (and integer
tensors used as indices must stay integers: then drop `requires_grad` instead).
""",
    ),
)
