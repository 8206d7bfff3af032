"""GL001: backward and an optimizer step run every iteration, nothing clears gradients."""

from gradlint.diagnostics import Fix
from gradlint.prefilter import GAP, Word
from gradlint.rules.base import GRAD_ATTRIBUTE, Rule, RuleDocs


def make_fix(ctx, ev):
    """`opt.zero_grad()` as the first statement of the loop body, for each optimizer
    stepped directly in the loop (a name that exists before the iteration starts)."""
    from gradlint.rules.edits import (assigned_names, insert, insert_statement_before,
                                      is_plain_name)
    loop = ctx.node(ev.loop)
    names = []
    for site, (text, step) in ev.steps.items():
        if site != step or not is_plain_name(text):
            return None
        if text not in names:
            names.append(text)
    bound_inside = assigned_names(loop)
    if not names or any(n.split(".")[0] in bound_inside for n in names):
        return None
    body = loop.body
    first = body.body[0]
    calls = [f"{n}.zero_grad()" for n in names]
    span = ctx.span_of(first)
    above = _comment_lines_above(first)
    if above and ctx.src.starts_line(span[0], span[1]):
        # comments right above the first statement (no blank line between) are about
        # it: the clear goes above them, as the loop's first line
        indent = ctx.src.indent(span[0])
        edit = insert(span[0] - above, 1, "".join(f"{indent}{c}\n" for c in calls))
    else:
        edit = insert_statement_before(ctx.src, span, calls)
    return Fix("safe", f"Call {' and '.join(calls)} at the start of each iteration", (edit,))


def _comment_lines_above(statement) -> int:
    """How many comment lines are right above `statement`, with no blank line between."""
    count = 0
    for line in reversed(getattr(statement, "leading_lines", ())):
        if line.comment is None:
            break
        count += 1
    return count


def check(ctx):
    obs = ctx.obs
    candidates = []
    for loop_id in obs.loop_order:
        ev = obs.loops[loop_id]
        if ev.backwards and ev.steps and not ev.clears and not ev.maybe_clears:
            candidates.append(ev)
    # innermost loops first, so that a backward is reported once, with its own loop
    depth = {ev.loop: sum(1 for other in candidates if other.loop in ev.nested)
             for ev in candidates}  # (list.sort empties the list while it sorts)
    candidates.sort(key=lambda ev: depth[ev.loop])
    reported = set()
    for ev in candidates:
        for site, backward in ev.backwards.items():
            if backward in reported:
                continue
            reported.add(backward)
            step_site, (opt, _) = next(iter(ev.steps.items()))
            opts = sorted({text for text, _ in ev.steps.values()})
            clear = " and ".join(f"`{o}.zero_grad()`" for o in opts)
            loop_line = ctx.line(ev.loop)
            if site == backward:
                what = ctx.code(site)
                what = what if what.startswith("`") else f"`{what}`"
                message = (f"{what} and `{opt}.step()` run in each iteration of the loop at "
                           f"line {loop_line}; nothing clears the gradients")
            else:  # the backward runs inside a call: `trainer.train_step(batch)`
                message = (f"`{ctx.code(site)}` calls backward() and `{opt}.step()` steps in the "
                           f"loop at line {loop_line}; nothing clears the gradients")
            help = (f"backward() adds into .grad, so each step applies the sum of the gradients "
                    f"of all earlier iterations. Call {clear} at the start of each iteration.")
            related = [(ev.loop, "the loop starts here"),
                       (step_site, f"`{opt}.step()` applies the accumulated gradients")]
            if site != backward:
                related.append((backward, "backward() runs here"))
            yield ctx.diagnostic(RULE, site, message, related, make_fix(ctx, ev), help=help)
    yield from _uncleared_steps(ctx, {ev.loop for ev in candidates})


def _uncleared_steps(ctx, reported_loops):
    """Steps in loops that do clear gradients, but not those of all the parameters the
    step applies (another optimizer's, a sub-module's, only under a condition)."""
    for step, text, loop, names, backward, manual in ctx.obs.uncleared_steps.values():
        if loop in reported_loops:
            continue
        related = [(loop, "the loop starts here")]
        if backward is not None:
            related.append((backward, "backward() adds into the uncleared gradients here"))
        if manual:
            message = (f"`{ctx.code(step)}` applies `{text}.grad`, not cleared since the previous "
                       f"update in the loop at line {ctx.line(loop)}")
            help = (f"backward() adds into .grad, so each update applies the sum of all earlier "
                    f"gradients. Clear it after the update: `{text}.grad.zero_()` (or "
                    f"`{text}.grad = None`).")
            yield ctx.diagnostic(RULE, step, message, related, _clear_after(ctx, step, text),
                                 help=help)
            continue
        which = ", ".join(f"`{n}`" if n != "the module" else n for n in names)
        if step in ctx.obs.alias_steps:
            alias = ctx.obs.alias_steps[step]
            where = f" at line {ctx.line(alias)}" if alias is not None else ""
            message = (f"`{text}.step()` applies the gradients of {which}, handed over{where}, "
                       f"and nothing clears them")
            help = (f"`{text}.zero_grad()` only drops the handed-over references, so backward() "
                    f"keeps adding into {which}'s gradients and each step applies their sum. "
                    f"Clear {which}'s gradients before its backward.")
            related.append((alias, "the gradients are handed over here"))
            yield ctx.diagnostic(RULE, step, message, related, None, help=help)
            continue
        message = (f"`{text}.step()` applies gradients of {which} not cleared since its previous "
                   f"step in the loop at line {ctx.line(loop)}")
        help = (f"The loop clears other gradients, or these only on some paths, and backward() "
                f"adds into .grad: the step applies their sum over iterations. Call "
                f"`{text}.zero_grad()` in every iteration, before the backward that feeds it.")
        yield ctx.diagnostic(RULE, step, message, related, None, help=help)


def _clear_after(ctx, step, name):
    """`w.grad.zero_()` right after the hand-written update `w -= lr * w.grad`."""
    from gradlint.rules.edits import insert_statement_after, is_plain_name

    if not is_plain_name(name):
        return None
    edit = insert_statement_after(ctx.src, ctx.span(step), f"{name}.grad.zero_()")
    return Fix("safe", f"Call `{name}.grad.zero_()` after the update", (edit,))


RULE = Rule(
    code="GL001",
    name="missing-zero-grad",
    summary="A training loop runs backward() and an optimizer step but never clears gradients.",
    check=check,
    # an optimizer's step, or a step by hand (`w -= lr * w.grad`)
    needs=("backward", (Word(r"\bstep" + GAP + r"\(", "step"), GRAD_ATTRIBUTE)),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds loops where each iteration calls `backward()` (`loss.backward()`,
`torch.autograd.backward`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`,
`self.manual_backward(loss)`) and an optimizer step (`opt.step()`, `scaler.step(opt)`),
but nothing in the iteration clears the gradients (`opt.zero_grad()`,
`model.zero_grad()`, `p.grad = None`, `p.grad.zero_()`, or a helper in the same file
that does so). The classic form is `optimizer.zero_grad()` placed once before the loop.
Clearing anywhere in the iteration, even under an `if` (gradient accumulation), inside
an LBFGS closure passed to `step`, or in an outer loop around an inner accumulation
loop, is fine. A loop that hands the optimizer or the model to code gradlint cannot
see is not reported.

It also follows which parameters each step applies and which each clearing call
clears (`opt.zero_grad()` clears the optimizer's parameters, `model.zero_grad()` or
`model.encoder.zero_grad()` a module's, `p.grad = None` in a loop over parameters
those): a step is reported when some of its parameters were not cleared since its
previous step, on every path, or on some path when the step itself runs in every
iteration. That finds a GAN or seq2seq loop that zeroes one optimizer and steps two,
a loop that clears only a sub-module, and a `zero_grad()` under an `if` while the
step is not; clearing and stepping under the same condition (accumulation) is fine.
""",
        why="""
`backward()` adds into `.grad`; it never overwrites it. Without clearing, the gradient
used by step *k* is the sum of the gradients of steps 1..k: updates grow, the effective
learning rate explodes, and training diverges or silently trains on stale gradients.
""",
        example="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
optimizer.zero_grad()
for step in range(10):
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
""",
        fix_safety="""
The fix inserts `<optimizer>.zero_grad()` (one per optimizer the loop steps) as the
first statement of the loop body, with the body's indentation. Comment lines right above
that statement (no blank line between) are taken to be about it, so the call goes above
them; after a blank line, a comment is left where it is, above the call. It is safe: a loop that
steps every iteration evidently means each step to use that iteration's gradients. No
fix is offered when the step happens inside a helper function or the optimizer's name
is bound inside the loop.
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(10):
    optimizer.zero_grad()
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
""",
    ),
)
