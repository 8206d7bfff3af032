"""`check --show-settings PATH`: the settings that apply to a file, each with where its
value came from, as TOML that could be pasted into a configuration file."""

from __future__ import annotations

import json

from gradlint.config import Settings

# the TOML key of each setting, in the order of docs/cli.md
_KEYS = (
    ("select", "select"), ("extend-select", "extend_select"), ("ignore", "ignore"),
    ("fixable", "fixable"), ("unfixable", "unfixable"), ("include", "include"),
    ("exclude", "exclude"), ("extend-exclude", "extend_exclude"),
    ("per-file-ignores", "per_file_ignores"), ("output-format", "output_format"),
    ("fix", "fix"), ("unsafe-fixes", "unsafe_fixes"), ("show-fixes", "show_fixes"),
    ("respect-gitignore", "respect_gitignore"),
    ("clear-grad-functions", "clear_grad_functions"),
    ("backward-functions", "backward_functions"), ("local-rules", "local_rules"),
    ("cache-dir", "cache_dir"), ("file-timeout", "file_timeout"),
)


def render_settings(path: str, settings: Settings) -> str:
    sources = dict(settings.sources)
    lines = [f"# settings for {path}",
             f"# configuration file: {settings.config_path or '(none: the defaults)'}",
             f"# root (paths are matched from here): {settings.root}",
             ""]
    rows = []
    for key, name in _KEYS:
        value = getattr(settings, name)
        if key == "per-file-ignores":
            text = "{" + ", ".join(f"{_toml(p)} = {_toml(list(c))}" for p, c in value) + "}"
        elif key == "fixable" and value is None:
            text = '["ALL"]'
        elif key == "select" and value is None:
            text = "(the default set)"
        elif key == "output-format" and value is None:
            text = "(full on a terminal, text otherwise)"
        elif key == "cache-dir" and value is None:
            text = _toml(settings.cache_folder())
        else:
            text = _toml(list(value) if isinstance(value, tuple) else value)
        if text.startswith("("):
            rows.append((f"# {key} = {text}", sources.get(key, "default")))
        else:
            rows.append((f"{key} = {text}", sources.get(key, "default")))
    width = min(72, max(len(row) for row, _ in rows))
    lines.extend(f"{row:<{width}}  # {where}" for row, where in rows)
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)
