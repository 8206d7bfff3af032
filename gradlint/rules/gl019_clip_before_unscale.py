"""GL019: gradients clipped while a GradScaler still has them scaled."""

from gradlint.diagnostics import Fix
from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def _line_of(ctx, nid):
    """The statement line of a call that is a whole statement (`f(...)`, `x = f(...)`)."""
    import libcst as cst  # (here: the rules are loaded before the linter knows it must parse)

    small = ctx.interp.owners.get(nid)
    call = ctx.node(nid)
    if not ((isinstance(small, cst.Expr) and small.value is call) or (
            isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is call)):
        return None, None
    return small, ctx.statement_parents().get(id(small))


def make_fix(ctx, clip, backward, scaler, steps):
    """`scaler.unscale_(opt)` before the clipping statement. Only where the scaled
    backward, the clip and `scaler.step(opt)` are statements of one block in that order,
    with no `unscale_` after the clip: then it runs once per step (a second `unscale_`
    before `update()` raises), and `scaler.step` does not unscale again."""
    import libcst as cst

    from gradlint.rules.edits import insert_statement_before

    if len(steps) != 1:
        return None
    [(opt, step)] = steps.items()
    small, line = _line_of(ctx, clip)
    lines = [line] + [_line_of(ctx, nid)[1] for nid in (backward, step)]
    block = ctx.statement_parents().get(id(line)) if line is not None else None
    if block is None or any(x is None or ctx.statement_parents().get(id(x)) is not block
                            for x in lines):
        return None
    body = list(block.body if isinstance(block, cst.IndentedBlock) else getattr(block, "body", ()))
    if not all(any(x is b for b in body) for x in lines):
        return None
    at = [next(i for i, b in enumerate(body) if b is x) for x in lines]
    if not at[1] < at[0] < at[2] or any(
            "unscale_" in ctx.interp.code(b) for b in body[at[0] + 1:at[2]]):
        return None
    statement = f"{scaler}.unscale_({opt})"
    return Fix("safe", f"Unscale first: `{statement}`",
               (insert_statement_before(ctx.src, ctx.span_of(small, clip), statement),))


def check(ctx):
    for use, backward, scaler, kind in ctx.obs.clip_scaled.values():
        if kind == "read":
            if "get_scale" in ctx.src.code:
                continue  # a norm of scaled gradients may be divided by the scale by hand
            message = (f"`{ctx.code(use)}` measures gradients still multiplied by the loss scale "
                       f"(backward at line {ctx.line(backward)})")
            help = (f"The norm is thousands of times too large. Call "
                    f"`{scaler}.unscale_(optimizer)` first.")
        else:
            by_norm = "norm" in ctx.interp.code(ctx.node(use).func)
            effect = ("the norm it sees is thousands of times too large, so it shrinks every "
                      "gradient far below the limit" if by_norm else
                      "it compares values thousands of times too large with its bound, so it "
                      "cuts nearly every gradient to the bound")
            message = (f"`{ctx.code(use)}` clips gradients still multiplied by the loss scale "
                       f"(backward at line {ctx.line(backward)})")
            help = (f"{effect[0].upper()}{effect[1:]}. Call `{scaler}.unscale_(optimizer)` "
                    f"before clipping.")
        related = [(backward, "the gradients are scaled here")]
        steps = ctx.obs.scaler_steps.get(backward, {})
        yield ctx.diagnostic(RULE, use, message, related,
                             make_fix(ctx, use, backward, scaler, steps), help=help)


RULE = Rule(
    code="GL019",
    name="clip-before-unscale",
    summary="Gradients are clipped while a GradScaler still holds them scaled.",
    check=check,
    needs=(("clip_", "clamp_", "norm"), Word(r"\." + GAP + r"scale" + GAP + r"\(", "scale"), "backward"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_`, or a clip written by hand
(`p.grad.clamp_(-c, c)`, `p.grad.data.clamp_(...)`), called after
`scaler.scale(loss).backward()` and before `scaler.step(optimizer)`, with no
`scaler.unscale_(optimizer)` in between on every path. A scaler made with
`enabled=False` is ignored; a clip after `unscale_`, after the step or after the
gradients are cleared is not reported. A norm of the gradients measured in that window
(`p.grad.norm()`, `torch.norm(p.grad)`, in a comprehension too) is reported as well: it
is the true norm times the scale. Not where the file reads `scaler.get_scale()`, which
code uses to divide such a norm by the scale.
""",
        why="""
With automatic mixed precision, `scaler.scale(loss)` multiplies the loss by the current
scale (65,536 at the start) so that small float16 gradients do not underflow. Every
gradient the backward computes is that many times too large until `unscale_` divides
it back. `clip_grad_norm_` measures the scaled norm, finds it far above `max_norm`, and
shrinks the gradients by the same factor: the step that follows is thousands of times
smaller than intended, without any error. `clip_grad_value_` clips at a threshold that
is meaningless for scaled values.
""",
        example="""
import torch

model = torch.nn.Linear(16, 1)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")
for step in range(10):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 16)).pow(2).mean()
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
""",
        use_instead="""
import torch

model = torch.nn.Linear(16, 1)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")
for step in range(10):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 16)).pow(2).mean()
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
""",
        fix_safety="""
The fix inserts `scaler.unscale_(optimizer)` right before the clipping statement, naming
the optimizer of the `scaler.step(...)` that follows. `scaler.step` then finds the
gradients already unscaled and does not unscale them again, as the PyTorch AMP recipe
describes. It is safe, and offered only when exactly one optimizer is stepped through
the scaler after that backward, and the backward, the clipping call and
`scaler.step(optimizer)` are statements of one block in that order with no `unscale_`
after the clip. Elsewhere (clipping after every micro-batch of gradient accumulation,
clipping in a helper, a `.grad.clamp_` in a loop over the parameters) an added
`unscale_` could run twice before `update()`, which raises, or mix unscaled and scaled
gradients.
""",
    ),
)
