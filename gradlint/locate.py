"""Where a run's settings and cache live, found without a TOML parser.

A replayed run (`gradlint.replay`) must find its record before it imports click or
tomllib (together 45 ms, more than Ruff's whole run on 200 files), so the cache folder
is worked out here from the command line and the plainest form of `cache-dir`. A guess
that is wrong only loses speed: the record found is checked against every input of the
run, and a run writes a record only where this module would look for it.
"""

from __future__ import annotations

import os

DEFAULT_CACHE = ".gradlint_cache"


def find_pyproject(start: str, seen=None) -> str | None:
    """The nearest pyproject.toml at or above `start`; `seen` is told every candidate
    looked at (a pyproject.toml made later in a nearer folder changes the settings)."""
    # (os.path, not pathlib: pathlib and what it imports are 3 ms of every start-up)
    folder = os.path.realpath(start)
    while True:
        candidate = os.path.join(folder, "pyproject.toml")
        if seen is not None:
            seen(candidate)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def config_option(argv: list[str]) -> str | None:
    """The value of `--config` in a `check` command line, as click would take it (the
    last one given), or None."""
    value = None
    args = iter(argv)
    for arg in args:
        if arg == "--":
            break
        if arg == "--config":
            value = next(args, None)
        elif arg.startswith("--config="):
            value = arg[len("--config="):]
    return value


def cache_dir_setting(text: str, pyproject: bool) -> tuple[bool, str | None]:
    """(understood, value) of `cache-dir` in the gradlint table of a configuration text.

    Understood: no `cache-dir` at all, or one `cache-dir = '...'` (or a double-quoted
    string without escapes) on its own line in `[tool.gradlint]` (or, outside a
    pyproject.toml without that table, at the top)."""
    if "cache-dir" not in text:
        return True, None
    table, found, has_tool_table = "", [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped.strip("[] \t")
            has_tool_table = has_tool_table or table == "tool.gradlint"
            continue
        if "cache-dir" not in stripped or stripped.startswith("#"):
            continue
        value = _plain_string_value(stripped, "cache-dir")
        if value is None:
            return False, None
        found.append((table, value))
    wanted = "tool.gradlint" if pyproject or has_tool_table else ""
    values = [value for table, value in found if table == wanted]
    if len(values) > 1:
        return False, None
    return True, (values[0] if values else None)


def _plain_string_value(line: str, key: str) -> str | None:
    if not line.startswith(key):
        return None
    rest = line[len(key):].lstrip()
    if not rest.startswith("="):
        return None
    rest = rest[1:].lstrip()
    quote = rest[:1]
    if quote not in ("'", '"'):
        return None
    end = rest.find(quote, 1)
    if end < 0:
        return None
    value, after = rest[1:end], rest[end + 1:].strip()
    if (quote == '"' and "\\" in value) or (after and not after.startswith("#")):
        return None
    return value


def cache_folder_for(argv: list[str], cwd: str = ".") -> str | None:
    """The cache folder a `check` run with this command line would use (None: not
    worked out without parsing TOML). The same as `Settings.cache_folder()` for the
    settings `config.load_settings` reads, in every case understood here."""
    config = config_option(argv)
    if config is not None:
        path = os.path.normpath(config)
    else:
        path = find_pyproject(cwd)
        if path is None:
            return os.path.join(os.path.abspath(cwd), DEFAULT_CACHE)
    from gradlint.safeio import read_regular

    try:
        text = read_regular(path).decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    understood, folder = cache_dir_setting(text, os.path.basename(path) == "pyproject.toml")
    if not understood:
        return None
    folder = folder or DEFAULT_CACHE
    root = os.path.dirname(os.path.realpath(path))
    return folder if os.path.isabs(folder) else os.path.join(root, folder)
