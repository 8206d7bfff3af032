"""GL003: a backward runs through a graph that an earlier backward already freed."""

from gradlint.rules.base import Rule, RuleDocs


def check(ctx):
    for hit in ctx.obs.double_backwards.values():
        later = ctx.code(hit.later)
        if hit.in_loop:
            message = (
                f"`{later}` runs in every iteration, but part of the graph of `{hit.var}` was built "
                f"before the loop (or carried over from the previous iteration): the first "
                f"backward frees it, and the second iteration raises \"RuntimeError: Trying to "
                f"backward through the graph a second time\". Recompute the forward pass inside "
                f"the loop, or `.detach()` the state carried from one iteration to the next "
                f"(truncated backpropagation through time)."
            )
            related = []
        else:
            earlier = ctx.code(hit.earlier)
            line = ctx.line(hit.earlier)
            message = (
                f"`{later}` runs backward through a graph that `{earlier}` at line {line} already "
                f"freed: PyTorch raises \"RuntimeError: Trying to backward through the graph a "
                f"second time\". Pass `retain_graph=True` to the first backward if both are "
                f"needed, or add the losses and call backward() once."
            )
            related = [(hit.earlier, "the graph is freed by this backward")]
        yield ctx.diagnostic(RULE, hit.later, message, related)


RULE = Rule(
    code="GL003",
    name="backward-twice",
    summary="A second backward() runs through a graph that an earlier backward freed.",
    check=check,
    needs=("backward",),
    docs=RuleDocs(
        what="""
Finds a `backward()` (or `torch.autograd.grad`) whose graph shares nodes with the graph
of an earlier backward on the same path that did not pass `retain_graph=True`. This
includes a loop that calls backward every iteration on a result built once before the
loop, and a recurrent hidden state carried from one iteration into the next without
`.detach()`. Only nodes that save tensors for their backward count (multiplication of
two tensors, `exp`, module calls, loss functions, ...): PyTorch does not raise for a
graph made only of additions, views or multiplication by a constant, and neither does
this rule. Backwards in exclusive branches and graphs rebuilt before each backward are
not reported.
""",
        why="""
`backward()` frees the tensors each node saved for the backward pass unless
`retain_graph=True`. A second backward through those nodes raises "RuntimeError: Trying
to backward through the graph a second time (or directly access saved tensors after
they have already been freed)".
""",
        example="""
import torch

w = torch.randn(3, requires_grad=True)
x = torch.randn(3)
y = (w * x).exp()
loss1 = y.sum()
loss2 = (y * y).mean()
loss1.backward()
loss2.backward()
""",
        use_instead="""
import torch

w = torch.randn(3, requires_grad=True)
x = torch.randn(3)
y = (w * x).exp()
loss1 = y.sum()
loss2 = (y * y).mean()
(loss1 + loss2).backward()
""",
    ),
)
