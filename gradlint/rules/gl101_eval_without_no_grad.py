"""GL101: an evaluation loop over a model in eval() mode that records graphs (off by default)."""

from gradlint.prefilter import GAP, Word
from gradlint.rules.base import Rule, RuleDocs

# a loop whose text says it differentiates is not an evaluation loop, whatever the analysis saw
_TRAINING_WORDS = ("backward", "step(", "grad(", "requires_grad")


def _candidates(ctx):
    obs = ctx.obs
    out = []
    for loop in obs.loop_order:
        ev = obs.loops[loop]
        calls = obs.eval_forwards.get(loop)
        if not calls or ev.backwards or ev.steps or loop in obs.grad_loops:
            continue
        if any(word in ctx.interp.code(ctx.node(ev.loop)) for word in _TRAINING_WORDS):
            continue
        out.append(ev)
    # a loop that collects values that may carry graphs (REINFORCE collects
    # log-probabilities in eval mode) keeps them for a later backward: not an evaluation loop
    if out and obs.collecting_loops:
        from gradlint.rules.accumulators import kept_accumulators

        # accumulators that are only logged (GL006's) do not keep graphs for a backward
        logged = {stmt for _, _, sites in kept_accumulators(ctx) for stmt, _ in sites}
        out = [ev for ev in out if not (obs.collecting_loops.get(ev.loop, set()) - logged)]
    # the outermost such loop: wrapping it covers the ones inside
    inner = set().union(*(ev.nested for ev in out)) if out else set()
    return [ev for ev in out if ev.loop not in inner]


def check(ctx):
    for ev in _candidates(ctx):
        from gradlint.rules.edits import wrap_in_no_grad  # (only for a finding)

        calls = ctx.obs.eval_forwards[ev.loop]
        first = calls[0]
        message = (f"This loop runs `{ctx.code(first)}` (line {ctx.line(first)}) in eval() mode "
                   f"with gradient tracking on, and never calls backward")
        help = ("Autograd still records a graph and keeps the activations of every forward pass, "
                "costing memory and time for nothing. Wrap the loop in `with torch.no_grad():` "
                "(or `torch.inference_mode()`).")
        related = [(first, "forward pass with gradient tracking on")]
        fix = wrap_in_no_grad(ctx, ctx.node(ev.loop), "safe")
        yield ctx.diagnostic(RULE, ev.loop, message, related, fix, help=help)


RULE = Rule(
    code="GL101",
    name="eval-without-no-grad",
    summary="An evaluation loop over a model in eval() mode runs with gradient tracking on.",
    check=check,
    default_on=False,
    fixable=True,
    needs=((Word(r"\beval" + GAP + r"\(", "eval"), Word(r"\btrain" + GAP + r"\(", "train")),
           "torch"),
    docs=RuleDocs(
        what="""
Finds a loop that calls a model after `model.eval()` (with no `model.train()` between),
with gradient tracking on, and that neither calls backward (directly or in a helper),
steps an optimizer, nor uses `torch.autograd.grad`: an evaluation or inference loop
outside `torch.no_grad()` / `torch.inference_mode()`. A loop that collects values with
graphs for later use (log-probabilities for a policy gradient) is not an evaluation
loop and is not reported. Loops inside a `no_grad` block
or a `@torch.no_grad()` function, saliency maps and adversarial examples (which need
gradients), and models whose mode or parameters are unknown are not reported. Off by
default: it costs memory and time, not correctness; enable it with `--select GL101`
or `--select GL1`.
""",
        why="""
`model.eval()` changes how dropout and batch norm behave; it does not turn off
autograd. Every forward pass in the loop builds a graph and keeps the tensors it saves
for a backward that never comes: memory grows with the batch, and evaluation runs
slower than it needs to.
""",
        example="""
import torch

model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
model.eval()
correct = 0
for batch in range(5):
    x = torch.randn(16, 8)
    correct += (model(x).argmax(dim=1) == 0).sum().item()
""",
        use_instead="""
import torch

model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
model.eval()
correct = 0
with torch.no_grad():
    for batch in range(5):
        x = torch.randn(16, 8)
        correct += (model(x).argmax(dim=1) == 0).sum().item()
""",
        fix_safety="""
The fix wraps the loop in `with torch.no_grad():`. It is safe: the loop calls no
backward, so no gradient computation inside it can change. Tensors made in the loop no
longer require grad afterwards; code after the loop that relied on that would have to
be a training step, which this rule does not report. Offered when the loop starts its
own line and `torch` is imported under that name.
""",
    ),
)
