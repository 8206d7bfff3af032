"""GL004: a value computed with grad mode off feeds a backward that expects a gradient."""

from gradlint.rules.base import Rule, RuleDocs


def check(ctx):
    for hit in ctx.obs.cut_hits.values():
        var = hit.cut_var or "this value"
        bw_line = ctx.line(hit.backward) if hit.backward in ctx.interp.nodes else None
        at = f" at line {bw_line}" if bw_line else ""
        if hit.kind == "no-grad-backward":
            message = (
                f"`{var}` is computed with gradient tracking off (torch.no_grad / inference_mode), "
                f"so it does not require grad, and the backward{at} has nothing to differentiate: "
                f"\"RuntimeError: element 0 of tensors does not require grad and does not have a "
                f"grad_fn\". Compute `{var}` outside the no_grad block."
            )
        elif hit.kind == "grad-read":
            message = (
                f"`{var}` is computed with gradient tracking off (torch.no_grad / inference_mode), "
                f"which cuts the graph: the backward{at} cannot reach `{hit.subject}` through it, "
                f"so `{hit.subject}.grad` stays None. Compute `{var}` outside the no_grad block "
                f"if `{hit.subject}` should get a gradient."
            )
        else:
            message = (
                f"`{var}` is computed with gradient tracking off (torch.no_grad / inference_mode), "
                f"so the backward{at} sends no gradient into `{hit.subject}`, whose parameters "
                f"the optimizer is meant to train: they never change. Compute `{var}` with "
                f"gradients enabled, or leave `{hit.subject}` out of the optimizer if it is frozen "
                f"on purpose."
            )
        related = []
        if hit.backward is not None:
            related.append((hit.backward, "the backward that gets no gradient through it"))
        related.extend(hit.related)
        yield ctx.diagnostic(RULE, hit.cut_site, message, related)


RULE = Rule(
    code="GL004",
    name="no-grad-cuts-graph",
    summary="A value computed under torch.no_grad() feeds a backward that needs its gradient.",
    check=check,
    needs=(("no_grad", "inference_mode", "set_grad_enabled"), "backward"),
    docs=RuleDocs(
        what="""
Finds a value computed under `torch.no_grad()`, `torch.inference_mode()` or
`torch.set_grad_enabled(False)` (a block or a decorated function in the same file)
from tensors that require grad, when a later backward needs a gradient through it:
the backward'd value does not require grad at all; or a leaf's `.grad` read after the
backward can only be reached through the cut value; or the module whose output was cut
has parameters in the optimizer stepped after that backward and no other path gives
them a gradient. Stop-gradients on purpose are not reported: DQN/TD targets from a
target network, teacher outputs in distillation, EMA updates, metrics, manual SGD
updates.
""",
        why="""
Results computed with grad mode off do not require grad: the graph is cut there.
Upstream tensors get no gradient (`.grad` stays `None`, parameters silently never
train), or backward raises "element 0 of tensors does not require grad and does not
have a grad_fn".
""",
        example="""
import torch

a = torch.tensor([1.1], requires_grad=True)
b = a * 2
with torch.no_grad():
    c = b + 2
d = torch.tensor([10.0], requires_grad=True)
e = c * d
e.backward()
print(d.grad)
print(a.grad)
""",
        use_instead="""
import torch

a = torch.tensor([1.1], requires_grad=True)
b = a * 2
c = b + 2
d = torch.tensor([10.0], requires_grad=True)
e = c * d
e.backward()
print(d.grad)
print(a.grad)
""",
    ),
)
