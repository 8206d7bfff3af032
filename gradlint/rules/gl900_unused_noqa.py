"""GL900: a `# noqa` code that suppresses nothing (found in `suppression.unused`)."""

from gradlint.rules.base import Rule, RuleDocs

RULE = Rule(
    code="GL900",
    name="unused-noqa",
    summary="A `# noqa` code that suppresses nothing, or names no gradlint rule.",
    default_on=False,
    fixable=True,
    needs=(("noqa", "NOQA", "Noqa", "NoQA"),),
    docs=RuleDocs(
        what="""
Finds `# noqa: GL...` codes that suppress no finding on their line, codes that name no
gradlint rule, and a file-wide `# gradlint: noqa` in a file with no finding. Codes of
rules that are not selected are left alone (their findings were not looked for), and so
are other tools' codes and a bare `# noqa`, which may serve another linter. Off by
default.
""",
        why="""
A suppression outlives the code it was written for: after a refactor it hides nothing
today and will hide a real finding tomorrow. A mistyped code (`GL01` for `GL001`,
`GL0001`) suppresses nothing at all.
""",
        example="""
import torch

w = torch.randn(3, requires_grad=True)
print(w.sum())  # noqa: GL002
""",
        use_instead="""
import torch

w = torch.randn(3, requires_grad=True)
print(w.sum())
""",
        fix_safety="""
The fix removes the unused codes from the comment, or the whole comment when none is
left; it never changes code, so it is safe.
""",
    ),
)
