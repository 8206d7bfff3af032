"""GL006: a tensor with a graph accumulated across iterations into a logging accumulator."""

from gradlint.prefilter import Word
from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    if not ctx.obs.accumulations and not ctx.obs.attr_accumulations:
        return  # (the source walk below needs a parent map: a whole-tree walk)
    from gradlint.rules.accumulators import (kept_accumulators, kept_attribute_accumulators,
                                             make_fix)

    kept = [(name, ctx.interp.register(loop), sites)
            for name, loop, sites in kept_accumulators(ctx)]
    kept += list(kept_attribute_accumulators(ctx))
    for name, loop, sites in kept:
        for stmt, expr in sites:
            value = ctx.code(expr)
            message = (f"`{ctx.code(stmt)}` keeps every iteration's graph alive in `{name}` "
                       f"(loop at line {ctx.line(loop)})")
            help = (f"`{name}` is only used as a number or logged, but every iteration's graph "
                    f"stays reachable from it, so memory grows each iteration. Keep the value "
                    f"without its graph: `{value}.item()` for a number, or `{value}.detach()`.")
            yield ctx.diagnostic(RULE, stmt, message, [(expr, f"`{value}` requires grad")],
                                 make_fix(ctx, expr), help=help)


RULE = Rule(
    code="GL006",
    name="loss-kept-with-graph",
    summary="A tensor with a graph is accumulated across iterations only to be logged.",
    check=check,
    # the value must require grad: it comes from a module, a Parameter or requires_grad
    needs=(("+=", "append"), GRAD_SOURCE, "torch",
           (Word(r"\bfor\b", "for"), Word(r"\bwhile\b", "while"))),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `total += loss`, `history.append(loss)` and `metrics["loss"] += loss` inside a
loop, where the value requires grad (it has a graph) and the accumulator is made before
the loop (`total = 0`, `history = []`, `metrics = {"loss": 0.0}`) and is otherwise only
grown by plain numbers or turned into numbers or logged: printed, formatted,
passed to `float()`, `.item()`, a logger or `writer.add_scalar`. Accumulators that are
backward'd (multi-step losses, truncated BPTT windows), returned, passed to other code,
or fed values already `.item()`'d or `.detach()`'d are not reported.

The same holds for an object's attribute grown by a method that the loop calls
(`self.running_loss += loss` in a Trainer's `train_step`), when every `.running_loss`
in the file is set only in an `__init__` (to `0` or `[]`) and otherwise only turned
into numbers or logged.
""",
        why="""
`total += loss` makes `total` a tensor whose graph links `loss`'s graph, and so on for
every iteration: none of those graphs can be freed while `total` lives. After a
backward the saved activations are gone but the graph nodes stay; without a backward
(an evaluation loop) all activations stay. Memory grows with every iteration: the
classic "my training runs out of memory after a few hundred steps" from the PyTorch FAQ.
""",
        example="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
total_loss = 0
for step in range(10):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    total_loss += loss
print(f"mean loss {total_loss / 10:.4f}")
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
total_loss = 0
for step in range(10):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    total_loss += loss.item()
print(f"mean loss {total_loss / 10:.4f}")
""",
        fix_safety="""
The fix adds `.detach()` to the accumulated value. It is safe: the accumulator is only
used as a number or logged, and a detached tensor has the same values, dtype and
device; only the graph is dropped. (`.item()` would also work, but changes the
accumulator's type.)
""",
    ),
)
