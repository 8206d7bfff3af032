"""Which settings apply to each file: those of the closest configuration file above it
(as Ruff finds them), with the command line's settings on top.

The *project* settings are those of the working folder (or `--config PATH`, or none
with `--isolated`): they give what belongs to the run as a whole (the cache folder,
`fix`, `unsafe-fixes`, `show-fixes`, `output-format`, `respect-gitignore`), and the
settings of a file with no configuration file above it. With `--config PATH` or `--isolated`, every file
gets the project settings.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

from gradlint.config import Settings
from gradlint.configfile import apply_layer, has_gradlint_table, load_file, load_settings
from gradlint.locate import config_in

# a layer of the command line: (TOML key -> checked value, where it came from)
Layer = Tuple[Dict[str, object], str]


class Resolver:
    def __init__(self, layers: Tuple[Layer, ...] = (), config: Optional[str] = None,
                 isolated: bool = False, cwd: str = ".", seen=None):
        """`layers`: the command line's settings, applied in order over every file's.
        `seen` (a `replay.Inputs`) is told every configuration file looked at."""
        self.layers = layers
        self.seen = seen
        self.hierarchical = config is None and not isolated
        self._by_config: Dict[str, Settings] = {}
        self._by_folder: Dict[str, Settings] = {}
        base = (Settings(root=os.path.abspath(cwd)) if isolated
                else load_settings(config, cwd, seen))
        self.project = self._layered(base)

    @classmethod
    def fixed(cls, settings: Settings) -> "Resolver":
        """Every file gets `settings` (the library API, the flake8 plugin)."""
        resolver = cls.__new__(cls)
        resolver.layers, resolver.seen, resolver.hierarchical = (), None, False
        resolver._by_config, resolver._by_folder = {}, {}
        resolver.project = settings
        return resolver

    def for_path(self, path: str) -> Settings:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        return self.for_folder(folder or ".")

    def for_folder(self, folder: str) -> Settings:
        if not self.hierarchical:
            return self.project
        folder = os.path.abspath(folder)
        walked: List[str] = []
        found = None
        while found is None:
            found = self._by_folder.get(folder)
            if found is not None:
                break
            walked.append(folder)
            config = config_in(folder, None if self.seen is None else self.seen.path,
                               has_gradlint_table)
            if config is not None:
                found = self._of_config(config)
                break
            parent = os.path.dirname(folder)
            if parent == folder:
                found = self.project  # no configuration file above: the run's own
                break
            folder = parent
        for name in walked:
            self._by_folder[name] = found
        return found

    def _of_config(self, config: str) -> Settings:
        key = os.path.realpath(config)
        if key not in self._by_config:
            same = self.project.config_path
            if same is not None and os.path.realpath(same) == key:
                self._by_config[key] = self.project
            else:
                self._by_config[key] = self._layered(load_file(config, self.seen))
        return self._by_config[key]

    def _layered(self, settings: Settings) -> Settings:
        for values, origin in self.layers:
            settings = apply_layer(settings, values, origin)
        return settings


def anchored(patterns, cwd: str = ".") -> Tuple[str, ...]:
    """Globs given on the command line, for settings rooted anywhere: those that name a
    path (not a bare name) are made absolute from the working folder, as in Ruff."""
    out = []
    for pattern in patterns:
        if "/" in pattern.rstrip("/") and not os.path.isabs(pattern):
            pattern = os.path.normpath(os.path.join(os.path.abspath(cwd), pattern)).replace(
                os.sep, "/")
        out.append(pattern)
    return tuple(out)


def from_command_line(config_args, isolated: bool, seen, *, select=(), extend_select=(),
                      ignore=(), exclude=(), extend_exclude=(), per_file_ignores=(),
                      extend_per_file_ignores=(), respect_gitignore=None) -> Resolver:
    """The resolver of a `check` command line. ValueError: options that do not go
    together; ConfigError: a bad value (named with its option)."""
    from gradlint.config import validate_codes
    from gradlint.configfile import parse_inline
    from gradlint.locate import is_inline

    files = [arg for arg in config_args if not is_inline(arg)]
    if len(files) > 1:
        raise ValueError(f"--config names one configuration file; got {', '.join(files)}")
    if isolated and files:
        raise ValueError("--isolated reads no configuration file: it cannot be combined "
                         "with --config PATH")
    layers: List[Layer] = [(parse_inline(arg), f"--config {arg!r}")
                           for arg in config_args if is_inline(arg)]
    flags: Dict[str, object] = {}
    for key, given in (("select", select), ("extend-select", extend_select),
                       ("ignore", ignore)):
        if given:
            flags[key] = split(given)
    if exclude:
        flags["exclude"] = anchored(split(exclude))
    if extend_exclude:
        flags["extend-exclude"] = anchored(split(extend_exclude))
    for key, given in (("per-file-ignores", per_file_ignores),
                       ("extend-per-file-ignores", extend_per_file_ignores)):
        if given:
            flags[key] = tuple(_per_file_ignore(item, f"--{key}") for item in given)
    if respect_gitignore is not None:
        flags["respect-gitignore"] = respect_gitignore
    if flags:
        layers.append((flags, "command line"))
    resolver = Resolver(tuple(layers), files[0] if files else None, isolated, seen=seen)
    # (checked once the project's configuration is read: a code may be one of its
    # local rules)
    for key in ("select", "extend-select", "ignore"):
        if key in flags:
            validate_codes(flags[key], f"--{key}")
    return resolver


def split(values) -> Tuple[str, ...]:
    """Comma-separated values given one or more times."""
    out = []
    for value in values:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(out)


def _per_file_ignore(item: str, option: str):
    from gradlint.config import ConfigError, validate_codes

    pattern, sep, codes = item.rpartition(":")
    if not sep or not pattern or not codes.strip():
        raise ConfigError(f"{option}: expected GLOB:CODES (such as 'tests/*:GL001,GL002'), "
                          f"got {item!r}")
    return anchored([pattern])[0], validate_codes(split([codes]), f"{option} {pattern!r}")
