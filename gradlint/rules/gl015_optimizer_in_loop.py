"""GL015: a stateful optimizer constructed inside the loop that steps it."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def check(ctx):
    for made, step, loop in ctx.obs.optimizer_in_loop.values():
        message = (f"`{ctx.code(made)}` builds a new optimizer in every iteration of the loop at "
                   f"line {ctx.line(loop)}")
        help = ("Its state (momentum, Adam moments, step counts) starts from zero at each step, "
                "so it behaves like a different, untuned algorithm. Build the optimizer once, "
                "before the loop.")
        yield ctx.diagnostic(RULE, made, message, [(step, "it steps here"),
                                                   (loop, "the loop starts here")], help=help)


RULE = Rule(
    code="GL015",
    name="optimizer-in-loop",
    summary="A stateful optimizer is rebuilt inside the training loop that steps it.",
    check=check,
    # an optimizer class is reached through `torch.optim` (not the word "optimizer")
    needs=(Word(r"\boptim\b", "optim"), Word(r"\bstep" + GAP + r"\(", "step"), "torch"),
    docs=RuleDocs(
        what="""
Finds an optimizer that keeps state between steps (Adam, AdamW, RMSprop, Adagrad, ...,
SGD with a literal non-zero `momentum`) constructed inside a loop that calls its
`step()`, over parameters made outside the loop. Plain SGD (no state) is not reported,
nor an optimizer over tensors made afresh in each iteration.
""",
        why="""
An optimizer's state is per optimizer object. A new object each iteration starts with
empty state: Adam's bias-corrected first step every time (a step of about `lr` in the
sign direction), momentum that never builds up. Training runs, but not with the
algorithm that was chosen.
""",
        example="""
import torch

model = torch.nn.Linear(4, 1)
for step in range(10):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(10):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
""",
        fix_safety="No automatic fix: moving the construction can change which parameters it holds.",
    ),
)
