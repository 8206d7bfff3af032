"""GL018: an in-place change to a tensor that an operation still waiting for backward saved."""

from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs


def check(ctx):
    seen = set()
    for backward, change, site in ctx.obs.inplace_on_saved.values():
        if change in seen:
            continue
        seen.add(change)
        where = f" (at line {ctx.line(site)})" if site in ctx.interp.nodes else ""
        message = (f"`{ctx.code(change)}` changes in place a tensor saved{where} for the backward "
                   f"at line {ctx.line(backward)}")
        help = ("That backward raises \"one of the variables needed for gradient computation "
                "has been modified by an inplace operation\". Write the new value to a new "
                "tensor (`y = x + 1`, or `x = x.clone()` first).")
        related = [(site, "this operation saved the tensor"),
                   (backward, "the backward that needs it unchanged")]
        yield ctx.diagnostic(RULE, change, message, related, help=help)


RULE = Rule(
    code="GL018",
    name="inplace-on-saved-tensor",
    summary="An in-place change to a tensor saved by an operation that still waits for backward.",
    check=check,
    needs=("backward", GRAD_SOURCE),
    docs=RuleDocs(
        what="""
Finds an in-place change (`x.add_(...)`, `x += y`, `x[i] = v`, `x.relu_()`,
`F.relu(x, inplace=True)`, `torch.relu_(x)`, a module made with `nn.ReLU(inplace=True)`
or another activation's `inplace=True`) to a tensor that an earlier operation saved for
its backward, followed by a backward through that operation, on every path. What an
operation saves follows PyTorch: `sigmoid`,
`tanh`, `exp`, `relu`, `softmax`, `log_softmax` and `sqrt` save their result; `log`,
`sin`, `cos`, `pow`, `abs`, `square`, `clamp` and `log1p` save their input; `a * b` and
`a @ b` save each operand for the other's gradient, `a / b` saves `b`, `a ** n` saves
`a`; a layer with weights that require grad saves its input. `nn.ReLU`, `nn.Sigmoid`,
`nn.Tanh`, `nn.Softmax` and `nn.LogSoftmax` save their result, and so do the in-place
`relu`, `leaky_relu`, `elu`, `celu` and `selu` (so a later `out += identity` raises);
the in-place `relu6`, `hardtanh`, `silu`, `mish`, `hardswish` and `hardsigmoid` do not.
Operations that save nothing (`+`, `view`, `sum`...) are not reported, nor are changes made after the last
backward through the graph.
""",
        why="""
Autograd keeps the tensors each operation needs for its backward and checks their
version counters when the backward runs. An in-place change bumps the counter, and the
backward fails with "RuntimeError: one of the variables needed for gradient computation
has been modified by an inplace operation: [torch.FloatTensor [2, 4]], which is output
0 of SigmoidBackward0, is at version 1; expected version 0 instead". The error points at
the backward, not at the change that caused it.
""",
        example="""
import torch

layer = torch.nn.Linear(4, 4)
h = torch.sigmoid(layer(torch.randn(2, 4)))
h += 1
h.sum().backward()
""",
        use_instead="""
import torch

layer = torch.nn.Linear(4, 4)
h = torch.sigmoid(layer(torch.randn(2, 4)))
h = h + 1
h.sum().backward()
""",
    ),
)
