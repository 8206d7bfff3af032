"""A rule is data plus one function: code, name, docs, and a check over observations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from gradlint.prefilter import GAP, Word

# Prefilter: a rule needs the names its findings rest on, and punctuation only where
# the analysis needs it too (a method is followed only where it is called, `.numpy(`,
# an attribute only after a dot, `.grad`), with `GAP` (white space, comments, line
# continuations) allowed between tokens. A function that can be imported under another
# name (`backward`, `tensor`, `no_grad`) is needed by its bare name, which the import
# still spells.
# A tensor that requires grad can only come from a `torch.nn` module (or a
# class built on one), `nn.Parameter`, `Variable`, or a `requires_grad` flag, so a rule
# that needs one needs one of these words. (Checked on real code by a slow test.)
# (`Parameters` is not `Parameter`: numpy-style docstrings have a "Parameters:" section)
# (alternatives: plain words are tried before the patterns)
PARAMETER = Word(r"Parameter(?!s\b)")
GRAD_SOURCE = ("requires_grad", "Variable", PARAMETER, Word(r"\bnn\b"))
# a leaf that requires grad is made by a requires_grad flag or as a Parameter
LEAF_SOURCE = ("requires_grad", PARAMETER)
# the `.grad` attribute itself (`x.grad`, `x . grad`), not `.grad_fn`, `.grad_norm`
GRAD_ATTRIBUTE = Word(r"\." + GAP + r"grad\b", "grad")


@dataclass(frozen=True)
class RuleDocs:
    what: str
    why: str
    example: str
    use_instead: str
    fix_safety: str = "No automatic fix."


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    docs: RuleDocs
    check: Optional[Callable[["object"], Iterable]] = None
    default_on: bool = True
    fixable: bool = False
    # prefilter: every entry (plain text, a `Word` pattern, or a tuple of alternatives) must
    # occur in the source for the rule to possibly report; a file no selected rule needs
    # is not parsed. It must over-approximate: a test compares results without it.
    needs: tuple = ()

    def render_docs(self) -> str:
        d = self.docs
        return (
            f"# {self.name} ({self.code})\n\n"
            f"{self.summary}\n\n"
            f"Default: {'on' if self.default_on else 'off'}    "
            f"Fix: {'available' if self.fixable else 'none'}\n\n"
            f"## What it does\n\n{d.what.strip()}\n\n"
            f"## Why is this bad?\n\n{d.why.strip()}\n\n"
            f"## Example\n\n```python\n{d.example.strip()}\n```\n\n"
            f"## Use instead\n\n```python\n{d.use_instead.strip()}\n```\n\n"
            f"## Fix safety\n\n{d.fix_safety.strip()}\n"
        )
