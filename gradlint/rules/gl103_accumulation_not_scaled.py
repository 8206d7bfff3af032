"""GL103: gradient accumulation over N micro-batches with a loss not divided by N (off)."""

import re

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def _ancestors(ctx, nid, stop):
    """The statements around node `nid` (innermost first), up to the loop `stop`."""
    parents = ctx.statement_parents()
    node = ctx.interp.owners.get(nid)
    chain = []
    while node is not None and node is not stop:
        chain.append(node)
        node = parents.get(id(node))
    return chain if node is stop else None


def _modulo_divisor(ctx, test):
    """`N` of an `if` test with `... % N` in it (`(i + 1) % accum == 0`)."""
    import libcst as cst

    stack = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
            return ctx.interp.code(node.right)
        stack.extend(node.children)
    return None


def _range_bound(ctx, loop):
    """`N` of `for _ in range(N)`."""
    import libcst as cst

    it = getattr(loop, "iter", None)
    if (isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range"
            and len(it.args) == 1 and it.args[0].keyword is None):
        return ctx.interp.code(it.args[0].value)
    return None


def _accumulations(ctx):
    """(backward call, N) for each backward whose gradients a step applies once every N
    backwards: the step under `if ... % N ...` in the backward's loop, or after an inner
    `for _ in range(N)` loop that holds the backward."""
    import libcst as cst

    for events in ctx.obs.loops.values():
        loop = ctx.interp.nodes.get(events.loop)
        for _, step in events.steps.values():
            step_chain = _ancestors(ctx, step, loop)
            if step_chain is None:
                continue
            for site, backward in events.backwards.items():
                if site != backward:
                    continue  # (a backward inside a called function: not followed here)
                bw_chain = _ancestors(ctx, backward, loop)
                if bw_chain is None:
                    continue
                n = None
                for node in step_chain:
                    if isinstance(node, cst.If) and not any(node is b for b in bw_chain):
                        n = _modulo_divisor(ctx, node.test)
                        # every clear under that `if` too: one outside it clears the
                        # gradients each iteration, and nothing accumulates
                        if n is not None and not _cleared_outside(ctx, events, node, loop):
                            break
                        n = None
                if n is None:
                    inner = [b for b in bw_chain if isinstance(b, cst.For)
                             and not any(b is s for s in step_chain)]
                    inner_events = ctx.obs.loops.get(id(inner[-1])) if inner else None
                    if inner_events is not None and not inner_events.steps and not (
                            inner_events.clears or inner_events.maybe_clears):
                        n = _range_bound(ctx, inner[-1])
                if n is not None and n != "1":
                    yield backward, n, loop


def _cleared_outside(ctx, events, branch, loop) -> bool:
    """Does the loop clear gradients somewhere outside `branch` (the step's `if`)?"""
    for clear in events.clears | events.maybe_clears:
        chain = _ancestors(ctx, clear, loop)
        if chain is None or not any(node is branch for node in chain):
            return True
    return False


def _divided(ctx, loop, n: str) -> bool:
    """Is something in the loop divided by N (`loss / N`, `loss /= N`, `.div(N)`,
    `* (1 / N)`)? Text, on purpose: the division is often on a line of its own."""
    body = ctx.interp.code(loop)
    name = re.escape(n)
    patterns = (rf"/=?\s*\(?\s*{name}(?![\w.(\[])", rf"\.div_?\(\s*{name}\s*\)",
                rf"\*\s*\(?\s*1(\.0*)?\s*/\s*{name}(?![\w.(\[])")
    return any(re.search(p, body) for p in patterns)


def make_fix(ctx, backward, n):
    """`loss.backward()` -> `(loss / N).backward()`."""
    import libcst as cst

    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import replace

    call = ctx.node(backward)
    func = call.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)) or call.args:
        return None
    name = func.value.value
    text = f"({name} / {n}).backward()"
    return Fix("unsafe", f"Divide the loss by `{n}`: `{text}`",
               (replace(ctx.src, ctx.span(backward), text),))


def check(ctx):
    if not ctx.obs.loops:
        return
    seen = set()
    for backward, n, loop in _accumulations(ctx):
        if backward in seen or _divided(ctx, loop, n):
            continue
        seen.add(backward)
        message = (f"`{ctx.code(backward)}` sums the gradients of `{n}` micro-batches, but the loss "
                   f"is not divided by it")
        help = (f"Each step applies `{n}` times the average gradient (with SGD, a learning rate "
                f"`{n}` times too large). Divide the loss by `{n}` before the backward.")
        yield ctx.diagnostic(RULE, backward, message, (), make_fix(ctx, backward, n), help=help)


RULE = Rule(
    code="GL103",
    name="accumulation-not-scaled",
    summary="Gradient accumulation over N micro-batches with a loss not divided by N.",
    check=check,
    default_on=False,
    fixable=True,
    needs=("backward", Word(r"\bstep" + GAP + r"\(", "step"), ("%", "range")),
    docs=RuleDocs(
        what="""
Finds a `backward()` in a loop whose step runs once every N backwards, either under an
`if` with `... % N` in its test (`if (i + 1) % accum_steps == 0: optimizer.step()`) or
after an inner `for _ in range(N)` loop that holds the backward, when nothing in that
loop is divided by N (`loss / N`, `loss /= N`, `loss.div(N)`, `loss * (1 / N)`). Off by
default: summing instead of averaging is sometimes meant (and Adam is nearly insensitive
to the scale); enable it with `--select GL103`.
""",
        why="""
`backward()` adds to `.grad`. After N micro-batches the gradient is the sum of N
gradients, N times the gradient of the large batch the accumulation stands for. With SGD
(and with gradient clipping, weight decay ratios, learning-rate warm-ups tuned for the
averaged gradient) the step is N times too large; changing N changes the training.
""",
        example="""
import torch

model = torch.nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
accum_steps = 4
for i in range(16):
    loss = torch.nn.functional.mse_loss(model(torch.randn(4, 8)), torch.randn(4, 1))
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
""",
        use_instead="""
import torch

model = torch.nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
accum_steps = 4
for i in range(16):
    loss = torch.nn.functional.mse_loss(model(torch.randn(4, 8)), torch.randn(4, 1))
    (loss / accum_steps).backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
""",
        fix_safety="""
The fix writes `(loss / N).backward()` for a plain `loss.backward()`. It is unsafe: it
changes the size of every step (that is the point), and a sum may have been meant.
""",
    ),
)
