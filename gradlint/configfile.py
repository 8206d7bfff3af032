"""Reading settings from configuration files and from `--config KEY=VALUE`.

A configuration file is a `.gradlint.toml` or `gradlint.toml` (top-level keys, or a
`[tool.gradlint]` table), or a `pyproject.toml` with a `[tool.gradlint]` table. Its keys
are read as a *layer* over the settings below it: the defaults, or the file it names
with `extend`. Plain keys replace what is below; `extend-*` keys and `ignore` add to it;
a `select` starts a fresh selection (what is below selected, extended or ignored no
longer counts), as on the command line.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from typing import Dict, List, Optional, Tuple

from gradlint.config import ConfigError, Settings, validate_codes
from gradlint.locate import find_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

# TOML key -> Settings field, by kind of value
_CODE_LISTS = {"select": "select", "extend-select": "extend_select", "ignore": "ignore",
               "extend-ignore": "ignore", "fixable": "fixable", "unfixable": "unfixable"}
_NAME_LISTS = {"exclude": "exclude", "extend-exclude": "extend_exclude", "include": "include",
               "extend-include": "include", "clear-grad-functions": "clear_grad_functions",
               "backward-functions": "backward_functions"}
_TABLES = {"per-file-ignores": "per_file_ignores",
           "extend-per-file-ignores": "per_file_ignores"}
_BOOL_KEYS = {"fix": "fix", "unsafe-fixes": "unsafe_fixes", "show-fixes": "show_fixes",
              "respect-gitignore": "respect_gitignore"}
_OTHER = {"output-format": "output_format", "cache-dir": "cache_dir",
          "file-timeout": "file_timeout", "extend": None, "local-rules": "local_rules"}
_KNOWN_KEYS = sorted([*_CODE_LISTS, *_NAME_LISTS, *_TABLES, *_BOOL_KEYS, *_OTHER])
# keys whose value adds to what is below, rather than replacing it
_ADDING = frozenset({"extend-select", "ignore", "extend-ignore", "extend-exclude",
                     "extend-include", "extend-per-file-ignores"})
# settings that hold globs of paths (rebased when inherited from another folder)
_PATTERN_FIELDS = ("exclude", "extend_exclude", "include")


def has_gradlint_table(path: str) -> bool:
    """Whether a pyproject.toml configures gradlint (a `[tool.gradlint]` table)."""
    from gradlint.safeio import read_regular

    try:
        if b"gradlint" not in read_regular(path):
            return False  # (most pyproject.toml files: no TOML parse)
    except OSError:
        return False
    tool = _read_toml(path).get("tool", {})
    return isinstance(tool, dict) and "gradlint" in tool


def find_config_file(start: str, seen=None) -> Optional[str]:
    """The configuration file that applies to the folder `start`: the closest one at or
    above it. `seen` is told every candidate looked at."""
    return find_config(start, seen, has_gradlint_table)


def load_settings(config: Optional[str] = None, cwd: str = ".", seen=None) -> Settings:
    """Settings from `--config PATH`, else from the configuration file closest above
    `cwd`, else the defaults (rooted at `cwd`).

    `seen` (a `replay.Inputs`) is told each file looked at, before it is read."""
    if config is None:
        config = find_config_file(cwd, None if seen is None else seen.path)
        if config is None:
            return Settings(root=os.path.abspath(cwd))
    return load_file(config, seen)


def load_file(config: str, seen=None, _chain: Tuple[str, ...] = ()) -> Settings:
    """The settings a configuration file gives, `extend` followed."""
    path = _shown(os.path.normpath(config))
    if seen is not None:
        seen.path(path)
    if not os.path.exists(path):
        raise ConfigError(f"{config}: configuration file not found")
    data = _read_toml(path)
    tool = _tool_table(data, path)
    pyproject = os.path.basename(path) == "pyproject.toml"
    section = tool.get("gradlint", {} if pyproject else data)
    where = f"{path}: [tool.gradlint]" if pyproject or "gradlint" in tool else path
    values = parse_section(section, where, path)
    root = os.path.dirname(os.path.realpath(path))
    base = Settings(root=root)
    extend = values.pop("extend", None)
    if extend is not None:
        target = os.path.join(os.path.dirname(path), os.path.expanduser(extend))
        real = os.path.realpath(target)
        if real in _chain or real == os.path.realpath(path):
            raise ConfigError(f"{where}: option 'extend' = {extend!r} makes a cycle of "
                              f"configuration files")
        try:
            base = rebase(load_file(target, seen, _chain + (os.path.realpath(path),)), root)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (extended by {path})") from None
    settings = replace(base, root=root, config_path=path)
    return apply_layer(settings, values, path)


def _shown(path: str) -> str:
    """A path as messages show it: from the working folder when it is below it."""
    if not os.path.isabs(path):
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:  # (another drive)
        return path
    return path if rel.startswith("..") else rel


def parse_inline(text: str) -> Dict[str, object]:
    """The values of `--config KEY=VALUE` (a line of TOML)."""
    where = f"--config {text!r}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not a path to a file, nor a valid `key = value` "
                          f"TOML pair ({re.sub(r'[(]at .*[)]', '', str(exc)).strip()})") \
            from None
    values = parse_section(data, where, None)
    if "extend" in values:
        raise ConfigError(f"{where}: option 'extend' names a file; use --config PATH")
    return values


def apply_layer(settings: Settings, values: Dict[str, object], origin: str) -> Settings:
    """`settings` with a layer of values (TOML keys, checked) on top."""
    sources = dict(settings.sources)
    changes: Dict[str, object] = {}

    def now(name: str):
        return changes.get(name, getattr(settings, name))

    # a selection starts afresh: what lies below it selected, extended or ignored goes
    ordered = sorted(values.items(), key=lambda item: item[0] != "select")
    for key, value in ordered:
        name = {**_CODE_LISTS, **_NAME_LISTS, **_TABLES, **_BOOL_KEYS, **_OTHER}[key]
        if key == "select":
            changes["extend_select"], changes["ignore"] = (), ()
            sources.pop("extend-select", None)
            sources.pop("ignore", None)
        shown = {"extend-ignore": "ignore", "extend-include": "include",
                 "extend-per-file-ignores": "per-file-ignores"}.get(key, key)
        if key in _ADDING:
            changes[name] = tuple(now(name)) + tuple(value)
            sources[shown] = f"{sources[shown]} + {origin}" if shown in sources else origin
        else:
            changes[name] = value
            sources[shown] = origin
    return replace(settings, sources=tuple(sorted(sources.items())), **changes)


def rebase(settings: Settings, root: str) -> Settings:
    """Settings read in another folder, for use under `root`: their path globs and cache
    folder made absolute, so that they keep meaning what they meant where written."""
    old = os.path.abspath(settings.root)
    if old == os.path.abspath(root):
        return settings

    def anchored(pattern: str) -> str:
        if "/" not in pattern.rstrip("/") or os.path.isabs(pattern):
            return pattern  # a name, which matches in any folder
        return os.path.join(old, pattern).replace(os.sep, "/")

    changes: Dict[str, object] = {
        name: tuple(anchored(p) for p in getattr(settings, name)) for name in _PATTERN_FIELDS}
    changes["per_file_ignores"] = tuple((anchored(p), codes)
                                        for p, codes in settings.per_file_ignores)
    if settings.cache_dir and not os.path.isabs(settings.cache_dir):
        changes["cache_dir"] = os.path.join(old, settings.cache_dir)
    return replace(settings, **changes)


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


def parse_section(section: dict, where: str, path: Optional[str]) -> Dict[str, object]:
    """The checked values of a settings table, by TOML key. `path`: the file it is in
    (None: the command line)."""
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a table")
    values: Dict[str, object] = {}
    # (local rules first: the codes this table selects may be theirs)
    for key, value in sorted(section.items(), key=lambda item: item[0] != "local-rules"):
        if key in _TABLES:
            values[key] = _per_file_ignores(value, where, key)
        elif key == "file-timeout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{where}: option 'file-timeout' must be a positive number of "
                                  f"seconds, got {value!r}")
            values[key] = float(value)
        elif key == "cache-dir":
            values[key] = _cache_dir(value, path, where)
        elif key == "local-rules":
            values[key] = _local_rules(value, path, where)
        elif key == "extend":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: option 'extend' must be the path of a "
                                  f"configuration file, got {value!r}")
            values[key] = value
        elif key == "output-format":
            from gradlint.output import FORMATS

            if value not in FORMATS:
                raise ConfigError(f"{where}: option 'output-format' must be one of "
                                  f"{', '.join(FORMATS)}, got {value!r}")
            values[key] = value
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: option {key!r} must be true or false, got {value!r}")
            values[key] = value
        elif key in _CODE_LISTS or key in _NAME_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: option {key!r} must be a list of strings, "
                                  f"got {value!r}")
            values[key] = (validate_codes(value, f"{where} option {key!r}")
                           if key in _CODE_LISTS else tuple(value))
        else:
            import difflib

            close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: unknown option {key!r}{hint}; allowed: {', '.join(_KNOWN_KEYS)}")
    return values


def _local_rules(value, path: Optional[str], where: str) -> Tuple[str, ...]:
    """`local-rules`: folders of rule modules, relative to the file; loaded now, so that
    the codes the same table selects are known."""
    from gradlint import plugins

    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: option 'local-rules' must be a list of folders, "
                          f"got {value!r}")
    root = os.path.dirname(os.path.abspath(path)) if path else os.path.abspath(".")
    folders = tuple(os.path.normpath(os.path.join(root, os.path.expanduser(v))) for v in value)
    plugins.activate()
    for folder in folders:
        plugins.load_local(folder, where)
    return folders


def _cache_dir(value, path: Optional[str], where: str) -> str:
    """`cache-dir`: a folder that `gradlint clean` may remove, so never the project's
    folder or one above it."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: option 'cache-dir' must be a folder name, got {value!r}")
    if "\x00" in value:
        raise ConfigError(f"{where}: option 'cache-dir' contains a NUL character")
    root = os.path.dirname(os.path.realpath(path)) if path else os.path.realpath(".")
    folder = os.path.realpath(os.path.join(root, value))
    if root == folder or root.startswith(folder.rstrip(os.sep) + os.sep):
        raise ConfigError(f"{where}: option 'cache-dir' = {value!r} is the project folder or "
                          f"a folder above it; the cache needs a folder of its own (such as "
                          f"'.gradlint_cache'), since `gradlint clean` removes it")
    return value


def _per_file_ignores(value, where, key) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: option {key!r} must be a table of glob = [codes]")
    out: List[Tuple[str, Tuple[str, ...]]] = []
    for pattern, codes in value.items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ConfigError(
                f"{where}: {key} entry {pattern!r} must be a list of codes, got {codes!r}")
        out.append((pattern, validate_codes(codes, f"{where} {key} {pattern!r}")))
    return tuple(out)
