"""GL022: backward() of a loss whose graph was cut by `.detach()`, `.item()`, `.data`..."""

from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs

_HOW = {"data": "`.data` is the tensor's values outside autograd",
        "compare": "A comparison has no gradient"}


def _how(how: str) -> str:
    """Why the value has no graph, as the opening of a sentence."""
    return _HOW.get(how) or f"`.{how}()` gives a value outside autograd"


def check(ctx):
    for backward, kind, cuts in ctx.obs.loss_without_graph.values():
        node, how = min(cuts, key=lambda c: ctx.start(c[0]))
        cut = ctx.code(node)
        if kind == "crash":
            message = (f"`{ctx.code(backward)}` runs on a loss with no graph: `{cut}` at line "
                       f"{ctx.line(node)} took it out of autograd")
            help = (f"{_how(how)}, so PyTorch raises \"element 0 of "
                    f"tensors does not require grad\". Compute the loss from the model's output "
                    f"tensors themselves.")
        elif kind == "term":
            message = (f"`{cut}` at line {ctx.line(node)} is cut from autograd before it is added "
                       f"to the loss: the backward gets no gradient from that term")
            help = (f"{_how(how)}. Add the tensor itself to train "
                    f"through it.")
        else:
            message = (f"`{ctx.code(backward)}` runs on a new leaf tensor made at line "
                       f"{ctx.line(node)}: no parameter gets a gradient")
            help = (f"{_how(how)}: the new tensor has no graph back "
                    f"to the model. Compute the loss from the model's output tensors.")
        yield ctx.diagnostic(RULE, backward, message, [(node, "the graph is cut here")],
                             help=help)


RULE = Rule(
    code="GL022",
    name="loss-without-graph",
    summary="backward() of a loss cut from the model by `.detach()`, `.item()`, `.data`...",
    check=check,
    # (no word for the cut itself: a comparison, `pred != y`, cuts too)
    needs=("backward", GRAD_SOURCE),
    docs=RuleDocs(
        what="""
Finds a `backward()` on a loss built only from values cut out of autograd: `.detach()`,
`.data`, `.item()`, `.tolist()` or `.numpy()` of tensors that required grad,
`torch.tensor(...)` / `torch.from_numpy(...)` of such values, or results with no
gradient at all (`argmax`, comparisons such as `pred != labels`). Three cases:

- the loss does not require grad at all: PyTorch raises;
- the loss was made a new leaf with `requires_grad=True` (the usual way to silence that
  error): the backward runs and reaches no parameter;
- a term of the loss was cut that way before it was added
  (`ce + 1e-3 * penalty.detach()`, `recon + kl.item()`): the backward runs, and that
  term trains nothing.

A cut value that weights another term (a detached target in DQN or distillation, a
baseline, a normalizer) is deliberate and not reported, nor is a straight-through
estimator, whose cut term holds the other operand itself (`z + (q - z).detach()`,
`y_hard - y_soft.detach() + y_soft`), nor a value cut by `no_grad` (GL004).
""",
        why="""
`.detach()`, `.data`, `.item()` and `.numpy()` return values with no link to the graph
that computed them. A loss computed from them alone has no path back to the model:
`loss.backward()` raises "RuntimeError: element 0 of tensors does not require grad and
does not have a grad_fn". Wrapping the number again, as in
`torch.tensor(loss.item(), requires_grad=True)`, removes the error but not the cause:
the new tensor is a leaf, the backward computes only its own gradient, and the optimizer
steps with no gradients, so the model never learns.
""",
        example="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
prediction = model(torch.randn(8, 4))
loss_value = torch.nn.functional.mse_loss(prediction, torch.randn(8, 1)).item()
loss = torch.tensor(loss_value, requires_grad=True)
optimizer.zero_grad()
loss.backward()
optimizer.step()
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
prediction = model(torch.randn(8, 4))
loss = torch.nn.functional.mse_loss(prediction, torch.randn(8, 1))
optimizer.zero_grad()
loss.backward()
optimizer.step()
""",
    ),
)
