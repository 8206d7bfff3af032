"""GL009: a grad-mode context manager that is never entered."""

from gradlint.rules.base import Rule, RuleDocs

MODES = ("no_grad", "enable_grad", "inference_mode")


def check(ctx):
    if not ctx.obs.grad_mode_not_entered:
        return  # (before the imports: most files have nothing here)
    from gradlint.diagnostics import Fix
    from gradlint.rules.edits import insert

    for kind, nid, text in ctx.obs.grad_mode_not_entered.values():
        if kind == "bare":
            message = (f"`{ctx.code(nid)}` on its own does not change grad mode: the code below "
                       f"still records graphs")
            help = (f"The call makes a context manager and throws it away. Put the code that "
                    f"should run this way in a `with {text}():` block, or decorate the function "
                    f"with `@{text}()`.")
            yield ctx.diagnostic(RULE, nid, message, help=help)
        else:
            expr = ctx.code(nid)
            message = f"`with {expr}:` uses the class, not an instance"
            help = (f"Python raises \"TypeError: 'type' object does not support the context "
                    f"manager protocol\". Call it: `with {expr}():`.")
            _, _, line, col = ctx.span(nid)
            fix = Fix("safe", f"Call it: `{expr}()`", (insert(line, col, "()"),))
            yield ctx.diagnostic(RULE, nid, message, (), fix, help=help)


RULE = Rule(
    code="GL009",
    name="grad-mode-not-entered",
    summary="`torch.no_grad()` as a bare statement, or `with torch.no_grad:` without the call.",
    check=check,
    # alone on its line (Python's line ends: \n, \r\n or \r), or in a `with` header
    # the mode's name, however it is spelt after it (`torch.no_grad( )`, `with
    # (torch.no_grad):`) or imported (`from torch import no_grad as ng`)
    needs=(MODES, "torch"),
    fixable=True,
    docs=RuleDocs(
        what="""
Finds `torch.no_grad()`, `torch.enable_grad()` and `torch.inference_mode()` written as
a statement of their own, and `with torch.no_grad:` (the class, without the call).
`torch.set_grad_enabled(False)` as a statement does switch grad mode and is not
reported; neither are decorators.
""",
        why="""
`torch.no_grad()` only changes grad mode while its `with` block runs (or while a
decorated function runs). As a bare statement the object is created and discarded and
nothing changes: the code after it still builds graphs (memory, time) and results
still require grad. `with torch.no_grad:` fails at once: "TypeError: 'type' object does
not support the context manager protocol".
""",
        example="""
import torch

model = torch.nn.Linear(4, 2)
torch.no_grad()
predictions = model(torch.randn(3, 4))
""",
        use_instead="""
import torch

model = torch.nn.Linear(4, 2)
with torch.no_grad():
    predictions = model(torch.randn(3, 4))
""",
        fix_safety="""
For `with torch.no_grad:` the fix adds the missing call (`torch.no_grad()`); it is safe:
the code cannot run without it. A bare statement gets no fix: which statements belong
in the block is the author's decision.
""",
    ),
)
