"""GL003: a backward runs through a graph that an earlier backward already freed."""

from gradlint.prefilter import Word
from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    for hit in ctx.obs.double_backwards.values():
        later = ctx.code(hit.later)
        if hit.in_loop:
            # (the freed part was built before the loop, or is a state carried over from
            # the previous iteration: a hidden state, a running sum)
            message = (f"`{later}` runs through part of `{hit.var}`'s graph that the previous "
                       f"iteration's backward freed")
            help = ("The second iteration raises \"RuntimeError: Trying to backward through the "
                    "graph a second time\". Recompute the forward pass inside the loop, or "
                    "`.detach()` the state carried from one iteration to the next.")
            related = []
        else:
            earlier = ctx.code(hit.earlier)
            line = ctx.line(hit.earlier)
            message = (f"`{later}` runs through a graph that `{earlier}` at line {line} "
                       f"already freed")
            help = ("PyTorch raises \"RuntimeError: Trying to backward through the graph a second "
                    "time\". Pass `retain_graph=True` to the first backward if both are needed, "
                    "or add the losses and call backward() once.")
            related = [(hit.earlier, "the graph is freed by this backward")]
        yield ctx.diagnostic(RULE, hit.later, message, related, make_fix(ctx, hit), help=help)


RULE = Rule(
    code="GL003",
    name="backward-twice",
    summary="A second backward() runs through a graph that an earlier backward freed.",
    check=check,
    # `\bgrad(` is torch.autograd.grad (not no_grad( or enable_grad()
    needs=(("backward", Word(r"\bgrad\b", "grad")), GRAD_SOURCE, "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds a `backward()` (or `torch.autograd.grad`) whose graph shares nodes with the graph
of an earlier backward on the same path that did not pass `retain_graph=True`. This
includes a loop that calls backward every iteration on a result built once before the
loop, and a recurrent hidden state carried from one iteration into the next without
`.detach()`, also when that state is kept on the module (`self.hidden = ...` in
`forward`, a cache on `self`). Only nodes that save tensors for their backward count
(`*`, `/`, `**` and `@`, a Python number as the other operand included: `a * 2` saves
the 2; `exp`, module calls, loss functions, ...): PyTorch does not raise for a graph
made only of additions, subtractions, views or sums, and neither does this rule
(`tests/test_saved_tensors.py` checks the table against PyTorch). Backwards in
exclusive branches and graphs rebuilt before each backward are not reported.
""",
        why="""
`backward()` frees the tensors each node saved for the backward pass unless
`retain_graph=True`. A second backward through those nodes raises "RuntimeError: Trying
to backward through the graph a second time (or directly access saved tensors after
they have already been freed)".
""",
        example="""
import torch

w = torch.randn(3, requires_grad=True)
x = torch.randn(3)
y = (w * x).exp()
loss1 = y.sum()
loss2 = (y * y).mean()
loss1.backward()
loss2.backward()
""",
        fix_safety="""
The fix adds `retain_graph=True` to the earlier backward (or turns its
`retain_graph=False` into `True`), keeping its other arguments and formatting. It is
safe when two backwards share part of a graph: both were evidently meant to run, and
the graph is freed after the last one. When the same backward runs in every iteration
of a loop over a graph built once before the loop, the fix is unsafe: it keeps that
graph alive for the whole loop, and recomputing the forward pass (or detaching the
carried state) inside the loop is usually what was meant. If that loop also steps an
optimizer there is no fix: the step changes parameters in place, and the kept graph
would then fail with "one of the variables needed for gradient computation has been
modified by an inplace operation".
""",
        use_instead="""
import torch

w = torch.randn(3, requires_grad=True)
x = torch.randn(3)
y = (w * x).exp()
loss1 = y.sum()
loss2 = (y * y).mean()
(loss1 + loss2).backward()
""",
    ),
)


def make_fix(ctx, hit):
    """`retain_graph=True` on the earlier backward (unsafe when it is the same call in a loop)."""
    import libcst as cst

    from gradlint.analysis.exprs import kwarg, literal_bool, positional
    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import insert, replace

    call = ctx.node(hit.earlier)
    if not isinstance(call, cst.Call):
        return None
    if hit.in_loop and (hit.loop is None or ctx.obs.loops[hit.loop].steps):
        # the optimizer changes the parameters in place between iterations: a kept graph
        # would then fail with "modified by an inplace operation"
        return None
    existing = kwarg(call, "retain_graph")
    if existing is not None:
        if literal_bool(existing.value) is not False:
            return None
        edit = replace(ctx.src, ctx.span_of(existing.value, hit.earlier), "True")
    else:
        is_method = isinstance(call.func, cst.Attribute) and call.func.attr.value == "backward"
        limit = 1 if is_method else 2  # retain_graph is the 2nd / 3rd positional parameter
        if len(positional(call)) > limit:
            return None
        if call.args:
            _, _, end_line, end_col = ctx.span_of(call.args[-1].value, hit.earlier)
            edit = insert(end_line, end_col, ", retain_graph=True")
        else:
            _, _, line, col = ctx.span_of(call.func, hit.earlier)
            start = ctx.src.offset(line, col)
            paren = ctx.src.code.find("(", start)
            if paren < 0:
                return None
            line, col = ctx.src.position(paren + 1)
            edit = insert(line, col, "retain_graph=True")
    if hit.in_loop:
        return Fix("unsafe", "Pass `retain_graph=True` (keeps the graph built before the loop "
                   "alive for every iteration; recomputing it per iteration is usually better)",
                   (edit,))
    return Fix("safe", "Pass `retain_graph=True` to the first backward", (edit,))
