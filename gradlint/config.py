"""Settings: what they hold, and how they select rules and match paths.

Reading them from files is `gradlint.configfile`; which file applies to which source
file is `gradlint.resolve`."""

from __future__ import annotations

import fnmatch
import functools
import re
import os
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional, Tuple


class ConfigError(Exception):
    """A configuration problem; the message names the file and the option."""


DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".eggs", "__pycache__",
    "build", "dist", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".gradlint_cache", "site-packages",
)


DEFAULT_INCLUDE = ("*.py", "*.ipynb")
SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Settings:
    select: Optional[Tuple[str, ...]] = None  # None: the default rule set
    extend_select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: Tuple[str, ...] = ()
    include: Tuple[str, ...] = DEFAULT_INCLUDE
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    fixable: Optional[Tuple[str, ...]] = None  # None: every rule with a fix
    unfixable: Tuple[str, ...] = ()
    fix: bool = False
    file_timeout: float = 20.0  # seconds of analysis per file before it is skipped
    respect_gitignore: bool = True
    output_format: Optional[str] = None  # None: `full` on a terminal, else `text`
    unsafe_fixes: bool = False
    show_fixes: bool = False  # list the fixes applied (`--show-fixes`)
    clear_grad_functions: Tuple[str, ...] = ()
    backward_functions: Tuple[str, ...] = ()
    local_rules: Tuple[str, ...] = ()  # folders of the project's own rule modules (absolute)
    cache_dir: Optional[str] = None  # default: .gradlint_cache in the project root
    root: str = "."
    config_path: Optional[str] = None
    # option name -> where its value came from (for --show-settings only)
    sources: Tuple[Tuple[str, str], ...] = field(default=(), compare=False)

    def cache_folder(self) -> str:
        folder = self.cache_dir or ".gradlint_cache"
        return folder if os.path.isabs(folder) else os.path.join(self.root, folder)

    def fingerprint(self, path: str, prefilter: bool, named: bool = False) -> str:
        """Everything in the settings that can change the findings for `path`.

        The rule selection as written, not the codes it selects: the cache key also holds
        gradlint's version, which fixes the rules a selection means, and a run answered
        from the cache then never imports the rules (7 ms of a 0.1 s warm run)."""
        ignores = tuple(codes for pattern, codes in self.per_file_ignores
                        if self._matches_path(path, pattern)) if self.per_file_ignores else ()
        from gradlint import plugins

        return repr((self.select, self.extend_select, self.ignore, ignores, prefilter, named,
                     self.backward_functions, self.clear_grad_functions, self.fixable,
                     self.unfixable, plugins.fingerprint(self.local_rules)))

    def with_overrides(self, **kw) -> "Settings":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})

    def enabled_codes(self, path: Optional[str] = None) -> frozenset:
        chosen = _selected(self.select, self.extend_select, self.ignore, self.local_rules)
        if path is not None and self.per_file_ignores:
            chosen = chosen - self.ignored_for(path)
        return chosen

    def fix_allowed(self, code: str) -> bool:
        """Whether `fixable` / `unfixable` let the rule's fixes be offered and applied."""
        if self.fixable is None and not self.unfixable:
            return True
        return code in _selected(self.fixable or ("ALL",), (), self.unfixable, self.local_rules)

    def ignored_for(self, path: str) -> set:
        from gradlint.rules import REGISTRY

        out = set()
        for pattern, codes in self.per_file_ignores:
            if self._matches_path(path, pattern):
                for rule in REGISTRY.values():
                    if any(matches(c, rule) for c in codes):
                        out.add(rule.code)
        return out

    def _matches_path(self, path: str, pattern: str) -> bool:
        if os.path.isabs(pattern):  # (inherited through `extend`, or from the command line)
            return _glob_match(os.path.abspath(path), pattern)
        return _glob_match(relative_to_root(path, self.root), pattern) or _glob_match(path, pattern)

    def is_excluded(self, path: str) -> bool:
        return self.is_excluded_relative(relative_to_root(path, self.root))

    def is_excluded_relative(self, rel: str) -> bool:
        """`rel`: the path relative to the project root, with `/` separators."""
        names, paths = _exclude_matchers(tuple(self.exclude) + tuple(self.extend_exclude))
        if names is not None and any(names.match(part) for part in rel.split("/") if part):
            return True
        return any(self._path_match(rel, p) for p in paths)

    def is_excluded_entry(self, prefix: str, name: str) -> bool:
        """`is_excluded_relative(prefix + name)` for a walk that has checked the folder
        `prefix` already: of its components, only `name` is new."""
        names, paths = _exclude_matchers(tuple(self.exclude) + tuple(self.extend_exclude))
        if names is not None and names.match(name):
            return True
        rel = prefix + name
        return any(self._path_match(rel, p) for p in paths)

    def is_included_entry(self, prefix: str, name: str) -> bool:
        """Whether a file found by searching a folder is one to lint (`include`)."""
        if self.include == DEFAULT_INCLUDE:
            return name.endswith(SUFFIXES)
        rel = prefix + name
        return any(self._path_match(rel, p) if "/" in p else fnmatch.fnmatchcase(name, p)
                   for p in self.include)

    def _path_match(self, rel: str, pattern: str) -> bool:
        if os.path.isabs(pattern):
            rel = os.path.normpath(os.path.join(os.path.abspath(self.root), rel)).replace(
                os.sep, "/")
        return _glob_match(rel, pattern) or _glob_match(rel, pattern.rstrip("/") + "/*")


@functools.lru_cache(maxsize=32)
def _exclude_matchers(patterns: tuple):
    """One regex for the patterns that match a single path component (`.venv`,
    `*.egg-info`), and the patterns that match a path (`docs/build`): discovery asks
    for every file and folder, and matching pattern by pattern dominated warm runs."""
    names, paths = [], []
    for pattern in patterns:
        if "/" in pattern.rstrip("/") or "*" in pattern and "/" in pattern:
            paths.append(pattern)
        else:
            names.append(fnmatch.translate(pattern.rstrip("/")))
    return (re.compile("|".join(names)) if names else None), tuple(paths)


@functools.lru_cache(maxsize=64)
def _selected(select, extend_select, ignore, local_rules=()) -> frozenset:
    """The codes a selection turns on (a project's own rules only where `local_rules`
    names their folder)."""
    from gradlint.plugins import LOCAL_CODES
    from gradlint.rules import REGISTRY

    chosen = set()
    for rule in REGISTRY.values():
        if rule.code in LOCAL_CODES and LOCAL_CODES[rule.code] not in local_rules:
            continue
        on = rule.default_on if select is None else any(matches(s, rule) for s in select)
        if any(matches(s, rule) for s in extend_select):
            on = True
        if any(matches(s, rule) for s in ignore):
            on = False
        if on:
            chosen.add(rule.code)
    return frozenset(chosen)


def clear_selection_cache() -> None:
    """The registry changed (a plugin's rules joined it)."""
    _selected.cache_clear()


def matches(selector: str, rule) -> bool:
    selector = selector.strip()
    if selector.upper() == "ALL":
        return True
    return rule.code.startswith(selector.upper()) or selector == rule.name


def relative_to_root(path: str, root: str) -> str:
    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    except ValueError:
        return path.replace(os.sep, "/")
    return rel.replace(os.sep, "/")


def _glob_match(path: str, pattern: str) -> bool:
    path = path.replace(os.sep, "/")
    if fnmatch.fnmatchcase(path, pattern):
        return True
    # a bare file-name pattern ("test_*.py") matches in any folder, as in flake8
    return "/" not in pattern and fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)


def closest_code(code: str, known) -> Optional[str]:
    """The known code or name nearest to a mistyped one (O for 0 and l for 1 first)."""
    upper = code.upper()
    digits = upper[:2] + upper[2:].replace("O", "0").replace("I", "1").replace("L", "1")
    for k in known:
        if k.upper() == digits:
            return k
    import difflib  # only for a mistake: kept out of every run's start-up

    close = difflib.get_close_matches(upper, [k.upper() for k in known], n=1)
    if not close:
        return None
    return next(k for k in known if k.upper() == close[0])


def validate_codes(codes: Iterable[str], where: str) -> Tuple[str, ...]:
    """Every selector must name a rule, a code prefix, or ALL."""
    out = []
    for raw in codes:
        code = raw.strip()
        if not code:
            continue
        from gradlint import plugins
        from gradlint.rules import REGISTRY  # (only when there is a code to check)

        plugins.activate()  # (a selected code may be an installed plugin's)

        if code.upper() == "ALL" or any(matches(code, r) for r in REGISTRY.values()):
            out.append(code)
            continue
        known = sorted(REGISTRY) + sorted(r.name for r in REGISTRY.values())
        close = closest_code(code, known)
        hint = f"; did you mean {close}?" if close else ""
        raise ConfigError(f"{where}: unknown rule code or prefix {code!r}{hint}")
    return tuple(out)


