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


CONFIG_NAMES = (".gradlint.toml", "gradlint.toml", "pyproject.toml")  # first wins


class Unknown(Exception):
    """Whether a pyproject.toml configures gradlint cannot be told without parsing it."""


def guess_table(path: str) -> bool:
    """Whether a pyproject.toml has a `[tool.gradlint]` table, from its text (raises
    Unknown where only a TOML parser can tell, as in `tool = {gradlint = ...}`)."""
    from gradlint.safeio import read_regular

    try:
        data = read_regular(path)
    except (OSError, ValueError):
        raise Unknown(path) from None
    if b"gradlint" not in data:
        return False
    unsure = False
    for line in data.splitlines():  # (no `re`: 4 ms of a replayed run's start-up)
        if b"gradlint" not in line:
            continue  # (a dependency on gradlint names it too)
        plain = line.replace(b" ", b"").replace(b"\t", b"")
        if plain.startswith((b"[tool.gradlint]", b"[tool.gradlint.")):
            return True
        unsure = unsure or plain.startswith((b"tool.", b"gradlint", b'"gradlint"',
                                             b"'gradlint'", b"[tool."))
    if unsure:
        raise Unknown(path)
    return False


def config_in(folder: str, seen=None, has_table=guess_table) -> str | None:
    """The configuration file of `folder` itself, if it has one."""
    for name in CONFIG_NAMES:
        candidate = os.path.join(folder, name)
        if seen is not None:
            seen(candidate)
        if os.path.isfile(candidate) and (name != "pyproject.toml" or has_table(candidate)):
            return candidate
    return None


def find_config(start: str, seen=None, has_table=guess_table) -> str | None:
    """The closest configuration file at or above `start`; `seen` is told every
    candidate looked at (one made later in a nearer folder changes the settings)."""
    # (os.path, not pathlib: pathlib and what it imports are 3 ms of every start-up)
    folder = os.path.realpath(start)
    while True:
        found = config_in(folder, seen, has_table)
        if found is not None:
            return found
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
            given = next(args, None)
        elif arg.startswith("--config="):
            given = arg[len("--config="):]
        else:
            continue
        if given is not None and not is_inline(given):
            value = given
    return value


def is_inline(value: str) -> bool:
    """Whether a `--config` value is a `KEY = VALUE` pair rather than a file's path."""
    return "=" in value and not os.path.isfile(value)


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
        try:
            path = find_config(cwd)
        except Unknown:
            return None
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
