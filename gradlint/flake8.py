"""flake8 entry point: a thin adapter over linter.lint_source.

flake8 owns selection (`--select`, `--ignore`, `per-file-ignores`); the plugin reports
every rule that is on by default, plus the ones selected explicitly with a `GL` code (or
a code of an installed gradlint plugin) on flake8's command line or in its
configuration. It honours the suppressions that
`gradlint check` honours (`# gradlint: noqa` on a line of its own, lowercase codes),
besides flake8's own `# noqa`, unless flake8 runs with `--disable-noqa`.
"""

from __future__ import annotations

from typing import Iterator, List, Tuple

from gradlint import __version__


class Plugin:
    name = "gradlint"
    version = __version__
    _explicit: Tuple[str, ...] = ()
    _disable_noqa = False

    def __init__(self, tree, lines: List[str], filename: str = "stdin"):
        self.lines = lines
        self.filename = filename

    @classmethod
    def parse_options(cls, options) -> None:
        from gradlint import plugins
        from gradlint.config import ConfigError

        try:
            plugins.activate()
            prefixes = ("GL",) + plugins.prefixes()
        except ConfigError:  # (reported on each file by `lint_source`)
            prefixes = ("GL",)
        chosen = []
        for attr in ("select", "extend_select", "enable_extensions"):
            value = getattr(options, attr, None) or []
            if isinstance(value, str):
                value = value.split(",")
            chosen.extend(v.strip() for v in value if v.strip().upper().startswith(prefixes))
        cls._explicit = tuple(chosen)
        cls._disable_noqa = bool(getattr(options, "disable_noqa", False))

    def _enabled(self) -> frozenset:
        from gradlint.config import matches
        from gradlint.rules import REGISTRY

        return frozenset(
            r.code for r in REGISTRY.values()
            if r.default_on or any(matches(sel, r) for sel in self._explicit)
        )

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        from gradlint.config import Settings
        from gradlint.linter import lint_source

        source = "".join(self.lines)
        diagnostics = lint_source(source, self.filename, Settings(), self._enabled(),
                                  apply_noqa=not self._disable_noqa)
        for d in diagnostics:
            yield d.line, d.column - 1, f"{d.code} {d.message}", type(self)
