"""GL014: a leaf's .grad is read again after another backward added to it."""

from gradlint.diagnostics import Fix
from gradlint.rules.base import GRAD_ATTRIBUTE, GRAD_SOURCE, Rule, RuleDocs


def make_fix(ctx, var, stmt):
    """`x.grad = None` right before the later backward, when it starts a line."""
    from gradlint.rules.edits import insert_statement_before

    if stmt is None:
        return None
    span = ctx.span(stmt)
    if not ctx.src.starts_line(span[0], span[1]):
        return None
    return Fix("unsafe", f"Clear `{var}.grad` before the backward at line {span[0]}",
               (insert_statement_before(ctx.src, span, f"{var}.grad = None"),))


def check(ctx):
    # a hand-written update that applies a stale .grad is a missing clear: GL001's
    mine = ctx.obs.manual_update_reads if "GL001" in ctx.selected else ()
    for read, var, earlier, backward, stmt in ctx.obs.stale_grad_reads.values():
        if read in mine:
            continue
        if earlier == read:
            message = (f"`{var}.grad` read here still holds the gradients of the earlier "
                       f"iterations of the backward at line {ctx.line(backward)}")
            help = (f"backward() adds into .grad, and nothing clears it before the next "
                    f"iteration's backward, so each iteration sees the sum of all gradients so "
                    f"far. Set `{var}.grad = None` (or call `{var}.grad.zero_()`) before that "
                    f"backward.")
        else:
            message = (f"`{var}.grad` read here is the sum of two gradients: the backward at line "
                       f"{ctx.line(backward)} added to the one read at line {ctx.line(earlier)}")
            help = (f"backward() adds into .grad, and nothing cleared it between the two reads. "
                    f"Set `{var}.grad = None` (or call `{var}.grad.zero_()`) before that backward "
                    f"if each read should see one gradient.")
        related = [(earlier, f"`{var}.grad` is read here first"),
                   (backward, "this backward adds to it")]
        yield ctx.diagnostic(RULE, read, message, related, make_fix(ctx, var, stmt), help=help)


RULE = Rule(
    code="GL014",
    name="stale-grad-read",
    summary="A leaf's .grad is read again after another backward added to the value read before.",
    check=check,
    needs=(GRAD_ATTRIBUTE, "backward", GRAD_SOURCE, "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds a read of `x.grad` (a leaf tensor that requires grad) after an earlier read of
`x.grad` and a later `backward()` that reaches `x`, with no clearing of the gradient in
between (`x.grad = None`, `x.grad.zero_()`, `optimizer.zero_grad()`, ...). This covers
the straight-line case and the manual training loop that updates `w` from `w.grad`
without ever clearing it. A leaf made afresh in each iteration starts with no gradient,
so reads in different iterations are not reported (two reads in one iteration are);
nor are reads when the analysis cannot tell whether the backward reaches the leaf.
""",
        why="""
`backward()` accumulates: it adds the new gradient into `.grad`. After `(x * 2).backward()`
`x.grad` is 2; after a second `(x * 2).backward()` it is 4, not 2. Code that reads the
gradient after each backward (a manual update, gradient checks, logging) silently uses
sums of gradients, so updates grow with each iteration.
""",
        example="""
import torch

x = torch.tensor(1.0, requires_grad=True)
(x * 2).backward()
print(x.grad)
(x * 2).backward()
print(x.grad)
""",
        use_instead="""
import torch

x = torch.tensor(1.0, requires_grad=True)
(x * 2).backward()
print(x.grad)
x.grad = None
(x * 2).backward()
print(x.grad)
""",
        fix_safety="""
The fix inserts `x.grad = None` right before the later backward. It is unsafe: code
that means to accumulate on purpose (and reads the running sum) changes meaning.
""",
    ),
)
