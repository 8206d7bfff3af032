"""GL012: `torch.autograd.Variable(t)` of a tensor that requires grad: it cuts `t` off."""

from gradlint.rules.base import GRAD_SOURCE, Rule, RuleDocs
from gradlint.rules.gl104_variable_wrapper import make_fix


def check(ctx):
    for nid, cuts in ctx.obs.deprecated_variable.values():
        if not cuts:
            continue
        call = ctx.node(nid)
        arg = ctx.interp.code(call.args[0].value) if call.args else "t"
        message = f"`{ctx.code(nid)}` cuts its argument from the graph: no gradient flows back"
        help = (f"Variable(t) returns a new leaf that shares the data of `{arg}` but not its "
                f"graph. Use `{arg}` itself to keep the graph, or write `.detach()` if the cut "
                f"is meant.")
        yield ctx.diagnostic(RULE, nid, message, (), make_fix(ctx, nid), help=help)


RULE = Rule(
    code="GL012",
    name="variable-cuts-graph",
    summary="`torch.autograd.Variable(t)` of a tensor that requires grad cuts it from autograd.",
    check=check,
    needs=("Variable", GRAD_SOURCE),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds calls of `torch.autograd.Variable` (however it was imported) whose argument is
known to require grad: a parameter, a leaf made with `requires_grad=True`, or anything
computed from one with grad mode on. Calls on data without a graph are GL104's
(off by default).
""",
        why="""
Old code wrapped tensors in `Variable` to make autograd track them; since PyTorch 0.4
tensors track themselves, and many read `Variable(t)` as a no-op. It is not: checked with
torch 2.13, `Variable(t)` returns a new tensor that shares `t`'s data, is a leaf, and
requires grad only when `requires_grad=True` is passed. Everything computed from it is
cut from `t`'s graph: the layers and parameters behind `t` get no gradient from it, with
no error, or a backward fails with "element 0 of tensors does not require grad".
""",
        example="""
import torch
from torch.autograd import Variable

encoder = torch.nn.Linear(4, 8)
head = torch.nn.Linear(8, 1)
features = Variable(encoder(torch.randn(2, 4)))
head(features).sum().backward()
""",
        use_instead="""
import torch

encoder = torch.nn.Linear(4, 8)
head = torch.nn.Linear(8, 1)
features = encoder(torch.randn(2, 4))
head(features).sum().backward()
""",
        fix_safety="""
The fix writes what the call does: `t.detach()`, or `t.detach().requires_grad_()` when
`requires_grad=True` is passed. It is safe (the same result), and it makes the cut
visible; if keeping the graph was the intent, replace the call by `t` by hand.
""",
    ),
)
