"""GL021: gradients clipped where the step does not see it: before the backward, or after
the step."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, clip, backward, step):
    """Move the clipping line to just before the statement holding the step, when the
    backward comes before that statement in the same block."""
    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import move_call_line

    # (a clip before the backward lands after it: the backward's statement must come
    # before the step's in that block)
    edits = move_call_line(ctx, clip, step, after=False, before_it=backward)
    if edits is None:
        return None
    return Fix("unsafe", f"Move `{ctx.code(clip)}` between the backward and the step", edits)


def check(ctx):
    for kind, clip, backward, step in ctx.obs.clip_outside.values():
        code = ctx.code(clip)
        if kind == "before-backward":
            message = (f"`{code}` clips before the backward at line {ctx.line(backward)}: the step "
                       f"at line {ctx.line(step)} applies unclipped gradients")
            related = [(backward, "the gradients are computed here, after the clip"),
                       (step, "the step applies them unclipped")]
        else:
            message = (f"`{code}` clips after `{ctx.code(step)}` at line {ctx.line(step)} applied "
                       f"the gradients unclipped")
            related = [(step, "the step applies the gradients unclipped")]
        yield ctx.diagnostic(RULE, clip, message, related, make_fix(ctx, clip, backward, step),
                             help="Clip between the backward and the step.")


RULE = Rule(
    code="GL021",
    name="clip-outside-window",
    summary="Gradients are clipped before the backward or after the step, not between them.",
    check=check,
    needs=("clip_grad", "backward", Word(r"\bstep" + GAP + r"\(", "step")),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `clip_grad_norm_` / `clip_grad_value_` calls that the optimizer step never sees:

- a clip followed by a backward and then a step, with no clip after that backward (the
  clip acts on the previous gradients, or on nothing after `zero_grad()`);
- a clip right after a step whose gradients no clip saw, with no backward in between.

Both hold on every path, for the same parameters when they are known. A clip with an
infinite limit (`float("inf")`, used to measure the norm) after the step is not
reported, nor is clipping after every micro-batch of gradient accumulation.
""",
        why="""
Clipping changes `.grad` in place. It has an effect only between the backward that
computes the gradients and the step that applies them. Before the backward it clips
gradients that are about to be cleared or added to; after the step it clips gradients
that were already applied. Either way the model is trained without clipping, which is
what clipping was added to prevent (exploding gradients, unstable RNN or transformer
training), and nothing warns.
""",
        example="""
import torch

model = torch.nn.LSTM(8, 16)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
for batch in range(10):
    optimizer.zero_grad()
    out, _ = model(torch.randn(5, 3, 8))
    loss = out.pow(2).sum()
    loss.backward()
    optimizer.step()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
""",
        use_instead="""
import torch

model = torch.nn.LSTM(8, 16)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
for batch in range(10):
    optimizer.zero_grad()
    out, _ = model(torch.randn(5, 3, 8))
    loss = out.pow(2).sum()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    optimizer.step()
""",
        fix_safety="""
The fix moves the clipping line to just before the statement that holds the step (the
step itself, or the branch around it). Offered when the clip is a call statement of its
own in the same block and, for a clip before the backward, the backward is a statement
of that block before the step. It is unsafe: code between the two places may read the
gradients or the clip's result.
""",
    ),
)
