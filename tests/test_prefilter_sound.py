"""The prefilter decides only what cannot change a finding: on every fixture, respelt the
ways people write Python (white space inside calls and around dots, a comment or a
line continuation inside a call, parentheses, `import torch as th`, statements joined by
`;`, one-line compound statements), the findings with and without it are the same."""

import ast
import random
import re

import pytest

from conftest import fixture_files
from gradlint.config import Settings
from gradlint.linter import lint_source

SETTINGS = Settings(select=("ALL",))


def _space_before_calls(text, rng):
    return re.sub(r"(?<=\w)\((?!\))", lambda m: " (" if rng.random() < 0.7 else "  (", text)


def _space_inside_calls(text, rng):
    return text.replace("()", "( )")


def _space_around_dots(text, rng):
    return re.sub(r"(?<=[A-Za-z_)\]])\.(?=[A-Za-z_])",
                  lambda m: " . " if rng.random() < 0.5 else ". ", text)


def _comment_inside_calls(text, rng):
    # `f(` -> `f(  # note` + newline + the arguments: a call's parentheses allow it
    return re.sub(r"(?<=\w)\((?=[^)\n])", "(  # note\n", text, count=3)


def _continuation(text, rng):
    return re.sub(r"(?<=\w) = (?=\w)", " = \\\n    ", text, count=3)


def _parentheses(text, rng):
    # `x = expr` -> `x = (expr)` on simple one-line assignments
    return re.sub(r"^(\s*\w+ = )([^#\n]+)$", r"\1(\2)", text, flags=re.M)


def _alias_torch(text, rng):
    if not re.search(r"^import torch$", text, re.M):
        return text
    text = re.sub(r"^import torch$", "import torch as th", text, flags=re.M)
    return re.sub(r"\btorch\.", "th.", text)


def _from_imports(text, rng):
    # `torch.no_grad()` -> `ng()` with `from torch import no_grad as ng`
    names = sorted(set(re.findall(r"\btorch\.(no_grad|enable_grad|inference_mode)\b", text)))
    for name in names:
        text = re.sub(rf"\btorch\.{name}\b", f"_{name}_alias", text)
        text = re.sub(r"^import torch$", f"import torch\nfrom torch import {name} as _{name}_alias",
                      text, count=1, flags=re.M)
    return text


def _join_statements(text, rng):
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        a = lines[i]
        b = lines[i + 1] if i + 1 < len(lines) else None
        indent = re.match(r"\s*", a).group()
        simple = re.compile(rf"^{re.escape(indent)}[A-Za-z_][^:#]*$")
        if b is not None and simple.match(a) and simple.match(b) and \
                re.match(r"\s*", b).group() == indent and "(" not in a[-1:] and rng.random() < 0.5:
            out.append(a + "; " + b.strip())
            i += 2
            continue
        out.append(a)
        i += 1
    return "\n".join(out)


def _one_line_blocks(text, rng):
    # a `with`/`for`/`if` header followed by a single-statement body -> one line
    return re.sub(r"^(\s*)((?:with|for|if|while)\b[^\n#]*:)\n\1(?:    |\t)([^\n]+)\n(?!\1(?:    |\t))",
                  r"\1\2 \3\n", text, flags=re.M)


MUTATIONS = [_space_before_calls, _space_inside_calls, _space_around_dots, _comment_inside_calls,
             _continuation, _parentheses, _alias_torch, _from_imports, _join_statements,
             _one_line_blocks]


def _valid(text):
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__.strip("_"))
def test_respelt_fixtures_give_the_same_findings_with_and_without_the_prefilter(mutation):
    rng = random.Random(mutation.__name__)
    checked = 0
    for path in fixture_files():
        text = mutation(path.read_text(), rng)
        if not _valid(text):
            continue
        checked += 1
        filtered = lint_source(text, str(path), SETTINGS, prefilter=True)
        unfiltered = lint_source(text, str(path), SETTINGS, prefilter=False)
        assert filtered == unfiltered, (path.name, text)
    assert checked > 200


@pytest.mark.parametrize("text, code", [
    ("import torch\nfor x in range(3):\n    loss = torch.nn.Linear(2, 1)(torch.randn(2)).sum()\n"
     "    loss.backward ()\n    optimizer.step ()\n", "GL001"),
    ("import torch\nw = torch.ones(2, requires_grad=True)\n(w * 2).numpy ()\n", "GL010"),
    ("import torch\nw = torch.ones(2, requires_grad=True)\ny = w * 2\ny.backward  ()\n", "GL013"),
    ("import torch\ntorch.no_grad( )\n", "GL009"),
    ("import torch\ntorch.no_grad(); y = 1\n", "GL009"),
    ("import torch\nwith (torch.no_grad):\n    pass\n", "GL009"),
    ("import torch\nwith torch.no_grad as g:\n    pass\n", "GL009"),
    ("import torch\nfrom torch import no_grad as ng\nng()\n", "GL009"),
    ("import torch\nw = torch.ones(2, requires_grad=True)\nt = torch.tensor((w * 2))\n", "GL016"),
    ("import torch\nw = torch.ones(2, requires_grad=True)\nt = torch.tensor(-w)\n", "GL016"),
    ("import torch\nw = torch.ones(2, requires_grad=True)\nt = torch . tensor(w)\n", "GL016"),
    ("import torch\nfrom torch import (nn,\n  tensor as T)\nw = torch.ones(2, requires_grad=True)\n"
     "t = T(w)\n", "GL016"),
    ("import torch\nfrom torch import zeros as z, tensor\nw = torch.ones(2, requires_grad=True)\n"
     "make = tensor\nt = make(w)\n", "GL016"),
    ("import torch\nmake = torch.\\\n    tensor\nw = torch.ones(2, requires_grad=True)\n"
     "t = make(w)\n", "GL016"),
])
def test_the_audits_cases_are_found_with_the_prefilter(text, code):
    """The findings the default prefilter lost (each reported by --no-prefilter)."""
    unfiltered = [d.code for d in lint_source(text, "a.py", SETTINGS, prefilter=False)]
    filtered = [d.code for d in lint_source(text, "a.py", SETTINGS, prefilter=True)]
    assert code in unfiltered
    assert filtered == unfiltered


def test_a_row_of_hashes_after_a_token_does_not_hang_the_prefilter():
    """A comment banner right after a token a pattern spans (`x[0]  ####...`) once took
    2**n steps: every split of the `#`s into comments was tried. Run in a child, so
    that a regression fails here instead of hanging the suite."""
    import subprocess
    import sys

    code = ("from gradlint.config import Settings\nfrom gradlint.linter import lint_source\n"
            "text = 'import torch\\nw = torch.ones(2, requires_grad=True)\\nx = w[0]  '"
            " + '#' * 200 + '\\n'\nprint(lint_source(text, 'a.py', Settings(select=('ALL',))))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
