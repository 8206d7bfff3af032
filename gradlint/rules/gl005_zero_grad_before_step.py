"""GL005: gradients are cleared between backward() and the step that should apply them."""

from gradlint.diagnostics import Fix
from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, clear, loop):
    """Move the clearing statement to the start of the loop body: only when it is a whole
    line of its own directly in that body (not under an `if`, not in a helper)."""
    import libcst as cst

    from gradlint.rules.edits import insert_statement_before, replace, whole_lines

    if loop is None:
        return None
    body = ctx.node(loop).body
    if not isinstance(body, cst.IndentedBlock):
        return None
    call = ctx.node(clear)
    line = None
    for stmt in body.body:
        if (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
                and isinstance(stmt.body[0], cst.Expr) and stmt.body[0].value is call):
            line = stmt
            break
    if line is None or line is body.body[0]:
        return None
    first_line, _, last_line, end_col = ctx.span_of(line, clear)
    if not ctx.src.rest_of_line_is_blank(last_line, end_col):
        return None
    text = ctx.interp.code(call)
    return Fix("unsafe", f"Move `{text}` to the start of the iteration", (
        insert_statement_before(ctx.src, ctx.span_of(body.body[0]), text),
        replace(ctx.src, whole_lines(first_line, last_line), ""),
    ))


def check(ctx):
    for clear, backward, step, opt, loop in ctx.obs.zero_before_step.values():
        text = ctx.code(clear)
        message = (f"`{text}` clears the gradients of the backward at line {ctx.line(backward)} "
                   f"before `{opt}.step()` at line {ctx.line(step)} applies them")
        help = ("The step finds no gradient (`None`, or zeros with `set_to_none=False`), so "
                "nothing from this batch is learned. Clear the gradients at the start of the "
                "iteration, before the forward pass, or after the step.")
        related = [(backward, "backward() computes the gradients here"),
                   (step, f"`{opt}.step()` finds them cleared")]
        yield ctx.diagnostic(RULE, clear, message, related, make_fix(ctx, clear, loop),
                             help=help)


RULE = Rule(
    code="GL005",
    name="zero-grad-before-step",
    summary="Gradients are cleared after backward() and before the optimizer step uses them.",
    check=check,
    needs=("zero_grad", "backward", Word(r"\bstep" + GAP + r"\(", "step")),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `optimizer.zero_grad()` or `model.zero_grad()` that runs after a `backward()` and
before a `step()` of an optimizer over the same parameters, on every path, with no
backward in between. Clearing at the start of the iteration, after the step, inside an
LBFGS closure, or with a second backward after the clearing is not reported; nor is a
clearing of one optimizer's gradients before another optimizer's step (GAN training).
""",
        why="""
`zero_grad()` sets every `.grad` to `None` (or to zero with `set_to_none=False`). The
optimizer skips parameters whose `.grad` is `None`, so the step changes nothing: the
loss never goes down, without any error or warning.
""",
        example="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(10):
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(10):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
""",
        fix_safety="""
The fix moves the clearing statement to the start of the loop body. It is unsafe: code
between the start of the iteration and the old place may read the gradients (logging,
clipping) and now sees them cleared. Offered only when the clearing call is a statement
line of its own directly in the loop body.
""",
    ),
)
