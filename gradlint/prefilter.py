"""Which rules a text needs: each rule names words (plain text or patterns) that must
occur for it to possibly report, and a file no selected rule needs is never parsed.

This runs on every file, parsed or not, so it must cost little next to a parse: each
word is looked for once per file, plain text first (`in` is a fast C search), and a
pattern only where it can match at all.
"""

from __future__ import annotations

import functools
import re
from typing import Optional

_WORD_CHAR = re.compile(r"\w")
# what may stand between two tokens of one statement: white space (line ends too, inside
# brackets), a line continuation, a comment. A word test that spans tokens allows it, so
# that no spelling of the same code escapes the prefilter.
# (a comment runs to its line's end, so `##` cannot also be read as two comments: the
# engine would otherwise try every split of a row of `#`s, 2**n of them, 100 s for 30)
GAP = r"(?:\s|\\(?:\r\n|\r|\n)|#[^\r\n]*(?![^\r\n]))*"


class Word:
    """A regular expression a rule needs, searched cheaply.

    `hints`: plain strings of which every match contains at least one; the pattern is not
    searched in a text that has none of them. A leading `\\b` before a word character is
    checked by hand: without it the pattern starts with plain text, which `re` finds
    with a fast scan instead of trying the pattern at every position (a tenth of the
    time on library code).

    `split`: the same pattern as (`line`, `rest`), for one that starts with what comes
    before plain text on its line (`^[ \\t]*[\\w.]*no_grad\\(\\)`, `[a-z0-9]_\\(`): `rest` is
    searched, and the text from the start of its line (after a `\\n` or a `\\r`) to
    each match must match `line` in full. The tests hold every split to its pattern.
    """

    def __init__(self, pattern: str, *hints: str, flags: int = 0, split=None):
        self.pattern = pattern
        self.flags = flags
        self.hints = hints
        self.split = split
        self._bounded = pattern.startswith("\\b") and bool(_WORD_CHAR.match(pattern, 2))
        self._rest: Optional[re.Pattern] = None  # compiled when first needed: a warm run
        # (every file from the cache) searches nothing, and compiling costs ~0.2 ms each
        self._line: Optional[re.Pattern] = None

    def search(self, text: str) -> Optional[re.Match]:
        if self.hints and not any(hint in text for hint in self.hints):
            return None
        if self._rest is None:
            self._compile()
        if self._line is not None:
            return self._search_split(text)
        if not self._bounded:
            return self._rest.search(text)
        found = self._rest.search(text)
        while found is not None:
            at = found.start()
            if at == 0 or _WORD_CHAR.match(text, at - 1) is None:
                return found
            found = self._rest.search(text, at + 1)
        return None

    def _compile(self) -> None:
        if self.split is not None:
            self._line = re.compile(self.split[0])
            self._rest = re.compile(self.split[1], self.flags)
        else:
            self._rest = re.compile(self.pattern[2:] if self._bounded else self.pattern,
                                    self.flags)

    def _search_split(self, text: str) -> Optional[re.Match]:
        found = self._rest.search(text)
        while found is not None:
            at = found.start()
            line = max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1
            if self._line.fullmatch(text, line, at) is not None:
                return found
            found = self._rest.search(text, at + 1)
        return None

    def __repr__(self) -> str:
        return f"Word({self.pattern!r})"


@functools.lru_cache(maxsize=256)
def groups(needs: tuple, backward_functions: tuple) -> tuple:
    """A rule's `needs` as groups of alternatives, the user's backward functions added to
    every group that names `backward`; plain text first, in each group and among groups
    (most files fail on a plain word, `torch`, before any pattern has to run)."""
    out = []
    for group in needs:
        group = tuple(group) if isinstance(group, (tuple, list)) else (group,)
        if any(isinstance(w, str) and "backward" in w for w in group):
            group = group + backward_functions
        out.append(tuple(sorted(group, key=lambda w: not isinstance(w, str))))
    out.sort(key=lambda g: any(not isinstance(w, str) for w in g))
    return tuple(out)


_PLANS: dict = {}


def _entry(rules, backward: tuple):
    """(rules, words, plan, matcher), built once per rule selection, not per file: the
    plan is the selected rules' conditions over one list of distinct words (plain text by
    value, patterns by identity), as word indices. Keyed
    by the rules' identities (hashing a frozen rule hashes all its fields); the entry
    holds the rules, so that their ids stay theirs."""
    key = (tuple(map(id, rules)), backward)
    entry = _PLANS.get(key)
    if entry is not None:
        return entry
    words: list = []
    where: dict = {}
    plan = []
    for rule in rules:
        if rule.check is None and not rule.needs:
            continue  # (GL000, GL999: reported by the linter itself; GL900 needs `noqa`)
        conditions = []
        for group in groups(rule.needs, backward):
            indices = []
            for word in group:
                slot = word if isinstance(word, str) else id(word)
                if slot not in where:
                    where[slot] = len(words)
                    words.append(word)
                indices.append(where[slot])
            conditions.append(tuple(indices))
        plan.append((rule, tuple(conditions)))
    if len(_PLANS) >= 64:  # selections differ per file only with per-file-ignores
        _PLANS.clear()
    words, plan = tuple(words), tuple(plan)
    entry = _PLANS[key] = (list(rules), words, plan, _matcher(words, plan))
    return entry


def _matcher(words: tuple, plan: tuple):
    """The plan as one function of straight-line code: for each rule, its groups joined
    by `and`, each group's words by `or`, each word's answer kept in a local once known.
    Evaluation stops where the loops over the plan would (a group at its first word
    found, a rule at its first group without one), so the same words are searched in
    the same order; a file costs a few microseconds instead of a loop per group."""
    names = {"words": words, "rules": tuple(rule for rule, _ in plan)}
    body = [f"h{i} = None" for i in range(len(words))] + ["kept = []"]
    for i, word in enumerate(words):
        names[f"w{i}"] = word if isinstance(word, str) else word.search
    for r, (_, conditions) in enumerate(plan):
        tests = []
        for group in conditions:
            alternatives = []
            for i in group:
                look = (f"w{i} in text" if isinstance(words[i], str)
                        else f"w{i}(text) is not None")
                alternatives.append(f"(h{i} if h{i} is not None else (h{i} := {look}))")
            tests.append("(" + " or ".join(alternatives) + ")")
        body.append(f"if {' and '.join(tests) or 'True'}: kept.append(rules[{r}])")
    text = "def match(text):\n    " + "\n    ".join(body + ["return kept"]) + "\n"
    exec(compile(text, "<gradlint prefilter plan>", "exec"), names)
    return names["match"]


def matching_rules(text: str, rules, settings) -> list:
    """The selected rules whose required words all occur in the text: only these run, so
    that each rule's words are held to account on their own (a rule that wrongly needs a
    word would otherwise hide behind another rule that keeps the file). Each word is
    looked for at most once, and only when a rule still needs it."""
    return _entry(rules, tuple(settings.backward_functions))[3](text)
