"""GL001: backward and an optimizer step run every iteration, nothing clears gradients."""

from gradlint.rules.base import Rule, RuleDocs


def check(ctx):
    obs = ctx.obs
    candidates = []
    for loop_id in obs.loop_order:
        ev = obs.loops[loop_id]
        if ev.backwards and ev.steps and not ev.clears and not ev.maybe_clears:
            candidates.append(ev)
    # innermost loops first, so that a backward is reported once, with its own loop
    candidates.sort(key=lambda ev: sum(1 for other in candidates if other.loop in ev.nested))
    reported = set()
    for ev in candidates:
        for site, backward in ev.backwards.items():
            if backward in reported:
                continue
            reported.add(backward)
            step_site, opt = next(iter(ev.steps.items()))
            opts = sorted(set(ev.steps.values()))
            clear = " and ".join(f"`{o}.zero_grad()`" for o in opts)
            loop_line = ctx.line(ev.loop)
            what = ctx.code(site) if site == backward else f"`{ctx.code(site)}` (which calls backward)"
            what = what if what.startswith("`") else f"`{what}`"
            message = (
                f"{what} and `{opt}.step()` run in every iteration of the loop at line "
                f"{loop_line}, but nothing clears the gradients in that iteration: backward() "
                f"adds into .grad, so each step applies the sum of the gradients of all earlier "
                f"iterations. Call {clear} at the start of each iteration."
            )
            related = [(ev.loop, "the loop starts here"),
                       (step_site, f"`{opt}.step()` applies the accumulated gradients")]
            if site != backward:
                related.append((backward, "backward() runs here"))
            yield ctx.diagnostic(RULE, site, message, related)


RULE = Rule(
    code="GL001",
    name="missing-zero-grad",
    summary="A training loop runs backward() and an optimizer step but never clears gradients.",
    check=check,
    needs=("backward", "step"),
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
