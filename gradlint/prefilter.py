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


class Word:
    """A regular expression a rule needs, searched cheaply.

    `hints`: plain strings of which every match contains at least one; the pattern is not
    searched in a text that has none of them. A leading `\\b` before a word character is
    checked by hand: without it the pattern starts with plain text, which `re` finds
    with a fast scan instead of trying the pattern at every position (a tenth of the
    time on library code).
    """

    def __init__(self, pattern: str, *hints: str, flags: int = 0):
        self.pattern = pattern
        self.flags = flags
        self.hints = hints
        self._bounded = pattern.startswith("\\b") and bool(_WORD_CHAR.match(pattern, 2))
        self._rest: Optional[re.Pattern] = None  # compiled when first needed: a warm run
        # (every file from the cache) searches nothing, and compiling costs ~0.2 ms each

    def search(self, text: str) -> Optional[re.Match]:
        if self.hints and not any(hint in text for hint in self.hints):
            return None
        if self._rest is None:
            self._rest = re.compile(self.pattern[2:] if self._bounded else self.pattern,
                                    self.flags)
        if not self._bounded:
            return self._rest.search(text)
        found = self._rest.search(text)
        while found is not None:
            at = found.start()
            if at == 0 or _WORD_CHAR.match(text, at - 1) is None:
                return found
            found = self._rest.search(text, at + 1)
        return None

    def __repr__(self) -> str:
        return f"Word({self.pattern!r})"


def occurs(word, text: str) -> bool:
    return word in text if isinstance(word, str) else word.search(text) is not None


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


def matching_rules(text: str, rules, settings) -> list:
    """The selected rules whose required words all occur in the text: only these run, so
    that each rule's words are held to account on their own (a rule that wrongly needs a
    word would otherwise hide behind another rule that keeps the file)."""
    found: dict = {}  # by identity: hashing a compiled pattern hashes its whole program

    def seen(word) -> bool:
        hit = found.get(id(word))
        if hit is None:
            hit = found[id(word)] = occurs(word, text)
        return hit

    backward = tuple(settings.backward_functions)
    return [rule for rule in rules if rule.check is not None and all(
        any(seen(word) for word in group) for group in groups(rule.needs, backward))]
