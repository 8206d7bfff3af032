"""The prefilter's patterns find exactly what the plain regular expressions find."""

import re

import pytest

from conftest import FIXTURES, ROOT
from gradlint.config import Settings
from gradlint.prefilter import _PLANS, Word, _entry, groups, matching_rules
from gradlint.rules import REGISTRY


def _words():
    out = {}
    for rule in REGISTRY.values():
        for group in rule.needs:
            for word in group if isinstance(group, tuple) else (group,):
                if isinstance(word, Word):
                    out[word.pattern] = word
    return sorted(out.values(), key=lambda w: w.pattern)


EDGES = [
    "", "grad(", "xgrad(", "_grad(", "autograd.grad(", "\u00e9grad(", "torch.autograd.grad(y)",
    "optim", "optim_", "toptim", "torch.optim.Adam", "from torch import optim", "optimizer",
    "nn", "cnn", "nn_", "nn.Linear", "import torch.nn as nn", "channel", "x = nn\n",
    "torch.tensor(x)", "mytensor(x)", "tensor( x)", "tensor(1)", "tensor(\n    x)",
    "with torch.no_grad:", "with torch.no_grad():", "    torch.no_grad()  # note\n",
    "torch.no_grad()\n", "x = torch.no_grad()", "with a, torch.enable_grad :",
    "x.requires_grad = True", "x.requires_grad == y", "x.requires_grad_(False)",
    "requires_grad=True", "requires_grad = False", "w.grad", "w.grad_fn", "w.grad.zero_()",
    "for x in y:", "before", "while True:", "x += 1", "a[0] = 1", "a[0] == 1", "x.add_(1)",
    "Parameter", "Parameters:", "nn.Parameter(w)", "Parameters", "ParameterList",
    "__init__(", "x.A_(", "x9_(", "_(", "a -= 1", "a @= b", "a //= 2", "a[i]\n  = 1", "a] ==",
    "x = y.no_grad()\n", "f(no_grad())\n", "\tno_grad() # c", "a.b.inference_mode()\n",
    "no_grad()", "no_grad() x", "torch.no_grad()\r\n", "enable_grad()\n\ntorch.no_grad()",
]
TEXTS = EDGES + [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.rglob("*.py"))] + [
    p.read_text(encoding="utf-8") for p in sorted((ROOT / "gradlint").rglob("*.py"))]


@pytest.mark.parametrize("word", _words(), ids=lambda w: w.pattern[:40])
def test_a_word_finds_what_its_regular_expression_finds(word):
    plain = re.compile(word.pattern, word.flags)
    for text in TEXTS:
        assert (word.search(text) is not None) == (plain.search(text) is not None), text[:80]
    # each edge case also inside other text, where the leading boundary looks back
    for text in EDGES:
        for padded in ("a" + text, " " + text, text + " z", "x\n" + text):
            assert (word.search(padded) is not None) == (plain.search(padded) is not None), padded


def test_a_hint_keeps_the_pattern_from_running_where_it_cannot_match():
    word = Word(r"needle\d", "needle")
    assert word.search("a haystack without it") is None
    assert word._rest is None  # not even compiled
    assert word.search("a needle1 in it") is not None


def test_plain_words_come_first_in_and_among_groups():
    nn = Word(r"\bnn\b")
    found = groups((("a", nn, "b"), nn, "torch", ("backward(",)), ("my_backward",))
    assert found[0] == ("torch",)
    assert found[1] == ("backward(", "my_backward")
    assert found[2] == ("a", "b", nn)
    assert found[3] == (nn,)


def test_each_word_is_looked_for_once_per_text():
    calls = []

    class Counting(Word):
        def search(self, text):
            calls.append(self.pattern)
            return super().search(text)

    shared = Counting(r"\bshared\b")

    class Rule:
        def __init__(self, needs):
            self.needs, self.check = needs, object()

    rules = [Rule((shared, "x")), Rule((shared,)), Rule(("y", shared))]
    kept = matching_rules("x y shared", rules, Settings())
    assert kept == rules and calls == [shared.pattern]


def _naive(text, rules, backward=()):
    def occurs(word):
        return word in text if isinstance(word, str) else re.search(
            word.pattern, text, word.flags) is not None

    # (a rule without a check runs only if it names words: GL900, which reads comments)
    return [rule for rule in rules if (rule.check is not None or rule.needs) and all(
        any(occurs(w) for w in group) for group in groups(rule.needs, backward))]


@pytest.mark.parametrize("seed", range(6))
def test_the_rules_kept_are_those_whose_every_group_has_a_word_in_the_text(seed):
    import random

    pick = random.Random(seed)
    codes = sorted(REGISTRY)
    rules = [REGISTRY[c] for c in sorted(pick.sample(codes, pick.randint(1, len(codes))))]
    backward = ("my_backward",) if seed % 2 else ()
    settings = Settings(backward_functions=backward)
    for text in TEXTS + ["my_backward(loss)\nopt.step()\n"]:
        assert matching_rules(text, rules, settings) == _naive(text, rules, backward)


class _Rule:
    def __init__(self, needs, check=True):
        self.needs, self.check = needs, (object() if check else None)


def test_a_plan_lists_each_word_once_and_leaves_out_rules_without_a_check_or_words():
    same_text = "".join(["back", "ward("])  # equal to the literal, another object
    nn = Word(r"\bnn\b")
    rules = [_Rule(("backward(", nn)), _Rule((same_text, ("x", nn))), _Rule((), check=False),
             _Rule(("z",), check=False)]
    _, words, plan, _ = _entry(rules, ())
    assert words == ("backward(", nn, "x", "z")
    assert [rule for rule, _ in plan] == [rules[0], rules[1], rules[3]]
    assert plan[0][1] == ((0,), (1,)) and plan[1][1] == ((0,), (2, 1))


def test_plans_are_kept_per_selection_and_bounded():
    rules = [_Rule(("a",)), _Rule(("b",))]
    assert _entry(rules, ()) is not None
    first = _PLANS[(tuple(map(id, rules)), ())]
    _entry(list(rules), ())  # the same rules in another list: the same plan
    assert _PLANS[(tuple(map(id, rules)), ())] is first
    for _ in range(100):
        _entry([_Rule(("c",))], ())
    assert len(_PLANS) <= 64
