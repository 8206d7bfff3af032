"""GL102: a write through `.data`, hidden from autograd (off by default)."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs


def _suggestion(ctx, stmt, attr, base, how) -> str:
    statement = ctx.code(stmt)
    if how == "assign":
        value = statement.split("=", 1)[1].strip()
        return f"{base}.copy_({value})"
    return statement.replace(ctx.code(attr), base, 1)


def check(ctx):
    for stmt, attr, base, how, saver in ctx.obs.data_writes.values():
        if saver is not None:
            # the no_grad rewrite bumps the version counter: that backward would raise
            where = f" at line {ctx.line(saver)}" if saver in ctx.interp.nodes else ""
            message = (f"`{ctx.code(stmt)}` changes `{base}` through `.data` while an "
                       f"operation{where} that saved it still waits for its backward")
            help = (f"Autograd does not see the change: that backward will compute gradients "
                    f"from the new values. Make the change after the backward, or compute with "
                    f"a copy (`{base}.clone()`).")
            yield ctx.diagnostic(RULE, stmt, message, help=help)
            continue
        instead = _suggestion(ctx, stmt, attr, base, how)
        message = f"`{ctx.code(stmt)}` changes `{base}` through `.data`, which autograd does not see"
        help = (f"The version counter that guards saved tensors is not bumped, so a backward "
                f"that saved `{base}` silently computes gradients from the new values. Write "
                f"`with torch.no_grad(): {instead}` instead"
                + (" (same shape and dtype; to change those, make a new tensor or Parameter)."
                   if how == "assign" else "."))
        yield ctx.diagnostic(RULE, stmt, message, help=help)


RULE = Rule(
    code="GL102",
    name="data-bypass",
    summary="A tensor is written through `.data`, hidden from autograd's checks.",
    check=check,
    default_on=False,
    needs=(Word(r"\." + GAP + r"data\b", "data"), "torch"),
    docs=RuleDocs(
        what="""
Finds writes through the `.data` attribute of a tensor: `x.data = y`,
`p.data -= lr * p.grad`, `x.data[0] = 0`, and in-place methods such as
`m.weight.data.normal_(0, 0.02)` or `ema.data.copy_(p)`. Reading `.data` (for example
`w.data.numpy()`) is not reported. Off by default: this is hygiene, enable it with
`--select GL102` or `--select GL1`.
""",
        why="""
`.data` gives a tensor that shares storage with `x` but is unknown to autograd. Changes
made through it do not bump the version counter that autograd uses to detect an
in-place change of a tensor saved for backward, so instead of "RuntimeError: one of the
variables needed for gradient computation has been modified by an inplace operation" the
backward silently uses the new values and computes wrong gradients. Inside
`with torch.no_grad():` the same in-place update is allowed on leaves and still checked.
""",
        example="""
import torch

w = torch.randn(3, requires_grad=True)
loss = (w * torch.randn(3)).sum()
loss.backward()
w.data -= 0.1 * w.grad
""",
        use_instead="""
import torch

w = torch.randn(3, requires_grad=True)
loss = (w * torch.randn(3)).sum()
loss.backward()
with torch.no_grad():
    w -= 0.1 * w.grad
""",
        fix_safety="""
No automatic fix: code that relied on hiding the change (for example, a tensor saved by
a graph that is still to be backward'd) would raise once the change is visible.
""",
    ),
)
