"""Settings, and reading them from `[tool.gradlint]` in pyproject.toml."""

from __future__ import annotations

import fnmatch
import functools
import re
import os
import sys
from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Optional, Tuple

from gradlint.locate import find_pyproject

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration problem; the message names the file and the option."""


DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".eggs", "__pycache__",
    "build", "dist", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".gradlint_cache", "site-packages",
)


@dataclass(frozen=True)
class Settings:
    select: Optional[Tuple[str, ...]] = None  # None: the default rule set
    extend_select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: Tuple[str, ...] = ()
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    fix: bool = False
    file_timeout: float = 20.0  # seconds of analysis per file before it is skipped
    respect_gitignore: bool = True
    output_format: str = "text"
    unsafe_fixes: bool = False
    clear_grad_functions: Tuple[str, ...] = ()
    backward_functions: Tuple[str, ...] = ()
    cache_dir: Optional[str] = None  # default: .gradlint_cache in the project root
    root: str = "."
    config_path: Optional[str] = None

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
        return repr((self.select, self.extend_select, self.ignore, ignores, prefilter, named,
                     self.backward_functions, self.clear_grad_functions))

    def with_overrides(self, **kw) -> "Settings":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})

    def enabled_codes(self, path: Optional[str] = None) -> frozenset:
        chosen = _selected(self.select, self.extend_select, self.ignore)
        if path is not None and self.per_file_ignores:
            chosen = chosen - self.ignored_for(path)
        return chosen

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
        return _glob_match(relative_to_root(path, self.root), pattern) or _glob_match(path, pattern)

    def is_excluded(self, path: str) -> bool:
        return self.is_excluded_relative(relative_to_root(path, self.root))

    def is_excluded_relative(self, rel: str) -> bool:
        """`rel`: the path relative to the project root, with `/` separators."""
        names, paths = _exclude_matchers(tuple(self.exclude) + tuple(self.extend_exclude))
        if names is not None and any(names.match(part) for part in rel.split("/") if part):
            return True
        return any(_glob_match(rel, p) or _glob_match(rel, p.rstrip("/") + "/*") for p in paths)

    def is_excluded_entry(self, prefix: str, name: str) -> bool:
        """`is_excluded_relative(prefix + name)` for a walk that has checked the folder
        `prefix` already: of its components, only `name` is new."""
        names, paths = _exclude_matchers(tuple(self.exclude) + tuple(self.extend_exclude))
        if names is not None and names.match(name):
            return True
        rel = prefix + name
        return any(_glob_match(rel, p) or _glob_match(rel, p.rstrip("/") + "/*") for p in paths)


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
def _selected(select, extend_select, ignore) -> frozenset:
    from gradlint.rules import REGISTRY

    chosen = set()
    for rule in REGISTRY.values():
        on = rule.default_on if select is None else any(matches(s, rule) for s in select)
        if any(matches(s, rule) for s in extend_select):
            on = True
        if any(matches(s, rule) for s in ignore):
            on = False
        if on:
            chosen.add(rule.code)
    return frozenset(chosen)


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
        from gradlint.rules import REGISTRY  # (only when there is a code to check)

        if code.upper() == "ALL" or any(matches(code, r) for r in REGISTRY.values()):
            out.append(code)
            continue
        known = sorted(REGISTRY) + sorted(r.name for r in REGISTRY.values())
        close = closest_code(code, known)
        hint = f"; did you mean {close}?" if close else ""
        raise ConfigError(f"{where}: unknown rule code or prefix {code!r}{hint}")
    return tuple(out)


_LIST_KEYS = {
    "select": "select",
    "extend-select": "extend_select",
    "ignore": "ignore",
    "exclude": "exclude",
    "extend-exclude": "extend_exclude",
    "clear-grad-functions": "clear_grad_functions",
    "backward-functions": "backward_functions",
}
_BOOL_KEYS = {"fix": "fix", "unsafe-fixes": "unsafe_fixes", "respect-gitignore": "respect_gitignore"}
_KNOWN_KEYS = sorted(list(_LIST_KEYS) + list(_BOOL_KEYS) + ["per-file-ignores", "output-format", "cache-dir", "file-timeout"])


def load_settings(config: Optional[str] = None, cwd: str = ".", seen=None) -> Settings:
    """Settings from `--config PATH`, else the nearest pyproject.toml above `cwd`.

    `seen` (a `replay.Inputs`) is told each file looked at, before it is read."""
    if config is not None:
        path = os.path.normpath(config)
        if seen is not None:
            seen.path(path)
        if not os.path.exists(path):
            raise ConfigError(f"{config}: configuration file not found")
        data = _read_toml(path)
        section = _tool_table(data, path).get(
            "gradlint", data if os.path.basename(path) != "pyproject.toml" else {})
        return parse_section(section, path)
    path = find_pyproject(cwd, None if seen is None else seen.path)
    if path is None:
        return Settings(root=os.path.abspath(cwd))
    data = _read_toml(path)
    return parse_section(_tool_table(data, path).get("gradlint", {}), path)


def _tool_table(data: dict, path: str) -> dict:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: `tool` must be a table, got {type(tool).__name__}")
    return tool


def _read_toml(path: str) -> dict:
    from gradlint.safeio import read_regular

    try:
        text = read_regular(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = read_regular(path)[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (TOML files must be UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        said = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", said)
        if match:
            where = f"line {match.group(1)}, column {match.group(2)}"
        else:  # "(at end of document)"
            last = max(1, len(text.splitlines()))
            where = f"line {last} (end of file)"
        message = re.sub(r"\s*\(at [^)]*\)\s*$", "", said)
        raise ConfigError(f"{path}:{where.split(',')[0].split()[1]}: invalid TOML at {where}: "
                          f"{message}") from None


def parse_section(section: dict, path: str) -> Settings:
    where = f"{path}: [tool.gradlint]"
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a table")
    values: Dict[str, object] = {}
    for key, value in section.items():
        if key == "per-file-ignores":
            values["per_file_ignores"] = _per_file_ignores(value, where)
            continue
        if key == "file-timeout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{where}: option 'file-timeout' must be a positive number of "
                                  f"seconds, got {value!r}")
            values["file_timeout"] = float(value)
            continue
        if key == "cache-dir":
            values["cache_dir"] = _cache_dir(value, path, where)
            continue
        if key == "output-format":
            from gradlint.output import FORMATS

            if value not in FORMATS:
                raise ConfigError(f"{where}: option 'output-format' must be one of "
                                  f"{', '.join(FORMATS)}, got {value!r}")
            values["output_format"] = value
            continue
        if key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: option {key!r} must be true or false, got {value!r}")
            values[_BOOL_KEYS[key]] = value
            continue
        if key not in _LIST_KEYS:
            import difflib

            close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: unknown option {key!r}{hint}; allowed: {', '.join(_KNOWN_KEYS)}"
            )
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: option {key!r} must be a list of strings, got {value!r}")
        if key in ("select", "extend-select", "ignore"):
            value = validate_codes(value, f"{where} option {key!r}")
        values[_LIST_KEYS[key]] = tuple(value)
    if "exclude" in values:
        values["exclude"] = tuple(values["exclude"])  # replaces the defaults, as in Ruff
    return Settings(root=os.path.dirname(os.path.realpath(path)), config_path=path, **values)


def _cache_dir(value, path: str, where: str) -> str:
    """`cache-dir`: a folder that `gradlint clean` may remove, so never the project's
    folder or one above it."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: option 'cache-dir' must be a folder name, got {value!r}")
    if "\x00" in value:
        raise ConfigError(f"{where}: option 'cache-dir' contains a NUL character")
    root = os.path.dirname(os.path.realpath(path))
    folder = os.path.realpath(os.path.join(root, value))
    if root == folder or root.startswith(folder.rstrip(os.sep) + os.sep):
        raise ConfigError(f"{where}: option 'cache-dir' = {value!r} is the project folder or "
                          f"a folder above it; the cache needs a folder of its own (such as "
                          f"'.gradlint_cache'), since `gradlint clean` removes it")
    return value


def _per_file_ignores(value, where) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: option 'per-file-ignores' must be a table of glob = [codes]")
    out: List[Tuple[str, Tuple[str, ...]]] = []
    for pattern, codes in value.items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ConfigError(
                f"{where}: per-file-ignores entry {pattern!r} must be a list of codes, got {codes!r}"
            )
        out.append((pattern, validate_codes(codes, f"{where} per-file-ignores {pattern!r}")))
    return tuple(out)
