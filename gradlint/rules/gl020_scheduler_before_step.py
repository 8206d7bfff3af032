"""GL020: a learning-rate scheduler stepped before its optimizer's first step."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def make_fix(ctx, sched, step):
    """Move the `scheduler.step()` line after the statement of its block that holds the
    optimizer's step (the step itself, or the inner loop around it)."""
    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import move_call_line

    edits = move_call_line(ctx, sched, step, after=True)
    if edits is None:
        return None
    return Fix("unsafe", f"Move `{ctx.code(sched)}` after the optimizer's step", edits)


def check(ctx):
    for sched, step in ctx.obs.scheduler_before_step.values():
        message = (f"`{ctx.code(sched)}` runs before `{ctx.code(step)}` at line {ctx.line(step)} "
                   f"in the first iteration")
        help = ("PyTorch warns and skips the first learning rate of the schedule. Step the "
                "scheduler after the optimizer.")
        yield ctx.diagnostic(RULE, sched, message, [(step, "the optimizer steps here")],
                             make_fix(ctx, sched, step), help=help)


RULE = Rule(
    code="GL020",
    name="scheduler-before-step",
    summary="A learning-rate scheduler is stepped before the optimizer's first step.",
    check=check,
    needs=(("sched", "swa_utils"), Word(r"\bstep" + GAP + r"\(", "step")),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds, in a loop, a `scheduler.step()` that runs before any `step()` of the optimizer
the scheduler was made for (or of any optimizer, when that is not known) since the
scheduler was made, followed by that optimizer's step in the same iteration. (PyTorch
counts from the scheduler's construction: steps of a warm-up phase before it do not
count.) Only the first pass matters: it is the one
PyTorch checks. Not reported: a scheduler stepped after the optimizer, a per-epoch
scheduler stepped after the inner loop, `ReduceLROnPlateau` (it does not check the
order), or a scheduler step under a condition that may skip the first iteration.
""",
        why="""
Since PyTorch 1.1, `optimizer.step()` comes first and `lr_scheduler.step()` after. A
scheduler stepped first moves to its second learning rate before any update used the
first one: PyTorch warns "Detected call of `lr_scheduler.step()` before
`optimizer.step()`", and the whole schedule is shifted by one step (a warm-up starts
one step late, a step decay comes one epoch early).
""",
        example="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(4):
    scheduler.step()
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(4):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
    scheduler.step()
""",
        fix_safety="""
The fix moves the `scheduler.step()` line to just after the statement of the same block
that holds the optimizer's step: the step itself, or the inner loop over the batches
for a per-epoch scheduler. It is unsafe: code between the two places (logging the
learning rate, a checkpoint) now sees the scheduler one step earlier. Offered only when
the scheduler call is a line of its own and comes before that statement in one block.
""",
    ),
)
