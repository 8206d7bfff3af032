"""Rules from outside gradlint: installed packages and a project's own folder of rules.

An installed package registers a rule module under the `gradlint.rules` entry-point
group; the entry point's name is the module's code prefix (`TL = "torchload_rules"`). A
project names folders of rule modules with `local-rules` in its configuration. A rule
module declares `GRADLINT_API` (the version of `gradlint.api` it was written for) and
`RULES` (`gradlint.api.Rule`s). Their codes are the prefix (one to three capital letters,
not starting with `GL`) and three digits; a code, prefix or name taken twice is an error
naming both owners. The rules join gradlint's registry for the whole process, off until
selected unless a rule says `default=True` (local rules count only for the settings that
name their folder).

Looking for installed plugins costs one listing of each folder on `sys.path` and a read
of the packages' `entry_points.txt` (1-2 ms); `importlib.metadata` (12 ms to import and
scan) is asked only when one of them declares the group.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Dict, List, Optional, Tuple

from gradlint.config import ConfigError

GROUP = "gradlint.rules"
_PREFIX = re.compile(r"[A-Z]{1,3}")
_CODE = re.compile(r"([A-Z]{1,3})[0-9]{3}")

_active: List[Optional[str]] = []  # once activated: [None] or [the error that stopped it]
_failures: List[str] = []  # plugins that could not be loaded (reported, skipped)
_packages: List[Tuple[str, str]] = []  # (distribution, version) of the loaded plugins
_plugin_files: List[str] = []
_owners: Dict[str, str] = {}  # code prefix -> the package or folder that holds it
_local: Dict[str, Tuple[Tuple[str, tuple], ...]] = {}  # folder -> its files and signatures
LOCAL_CODES: Dict[str, str] = {}  # code of a local rule -> its folder


def activate() -> None:
    """Load the installed plugins, once per process. Raises ConfigError (every time it is
    called) when two of them claim the same prefix, code or name."""
    if not _active:
        _active.append(None)
        try:
            _load_installed()
        except ConfigError as exc:
            _active[0] = str(exc)
    if _active[0] is not None:
        raise ConfigError(_active[0])


def ensure(settings) -> None:
    """Everything `settings` may select is registered (in a worker process too)."""
    activate()
    for folder in settings.local_rules:
        if folder not in _local:
            load_local(folder, settings.config_path or "--config")


def failures() -> List[str]:
    return list(_failures)


def prefixes() -> Tuple[str, ...]:
    """The code prefixes the installed plugins and loaded local rules hold."""
    return tuple(sorted(_owners))


def fingerprint(local_rules: Tuple[str, ...]) -> str:
    """What the plugins are, for cache keys: the installed ones' names and versions, and
    the files of the local-rule folders `local_rules` with their signatures."""
    activate()
    return repr((tuple(_packages), tuple(_local.get(f, ()) for f in local_rules)))


def input_files() -> List[str]:
    """Files and folders whose change can change the plugins: the folders looked in for
    installed ones, their modules, and the local rules loaded."""
    try:
        activate()
    except ConfigError:
        pass
    local = [path for files in _local.values() for path, _ in files]
    # (not the working folder, which `python -m` puts on sys.path: it changes with every
    # file made in it, and packages are not installed there)
    here = os.path.abspath(".")
    folders = [f for f in _search_folders() if f != here]
    return sorted(set(folders) | set(_plugin_files) | set(local))


# -- installed plugins -------------------------------------------------------------------
def _search_folders() -> List[str]:
    return [os.path.abspath(p or ".") for p in sys.path if os.path.isdir(p or ".")]


def _declared() -> bool:
    """Whether some package on `sys.path` declares a `gradlint.rules` entry point (a zip
    on `sys.path` is not listed here: importlib.metadata is asked then)."""
    if any(p and os.path.isfile(p) for p in sys.path):
        return True
    for folder in _search_folders():
        try:
            with os.scandir(folder) as listing:
                names = [e.path for e in listing if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
        for meta in names:
            try:
                with open(os.path.join(meta, "entry_points.txt"), "rb") as handle:
                    if GROUP.encode() in handle.read():
                        return True
            except OSError:
                continue
    return False


def _load_installed() -> None:
    if not _declared():
        return
    import importlib.metadata as metadata

    found = metadata.entry_points()
    points = (found.select(group=GROUP) if hasattr(found, "select")
              else found.get(GROUP, ()))  # (Python 3.9)
    seen = set()
    for point in sorted(points, key=lambda p: (p.name, p.value)):
        dist = getattr(point, "dist", None)
        package = f"{dist.metadata['Name']} {dist.version}" if dist is not None else point.value
        if (point.name, point.value) in seen:  # (a package found twice on sys.path)
            continue
        seen.add((point.name, point.value))
        where = f"plugin {package} (entry point {point.name} = {point.value})"
        try:
            module = point.load()
        except Exception as exc:  # noqa: B902 - any failure of a plugin's import
            _failures.append(f"{where} failed to load: {_said(exc)}; its rules are skipped")
            continue
        try:
            rules = _rules_of(module, where, point.name)
        except ConfigError as exc:
            _failures.append(f"{exc}; its rules are skipped")
            continue
        _register(rules, package, f"plugin {package}")
        _packages.append((package, point.value))
        path = getattr(module, "__file__", None)
        if path:
            _plugin_files.append(os.path.abspath(path))


# -- a project's own rules ------------------------------------------------------------------
def load_local(folder: str, where: str) -> None:
    """Register the rules of the modules in `folder` (`*.py`, not `_*.py`)."""
    import importlib.util

    from gradlint.replay import signature

    if folder in _local:
        return
    if not os.path.isdir(folder):
        raise ConfigError(f"{where}: option 'local-rules': {folder} is not a folder")
    files = sorted(os.path.join(folder, n) for n in os.listdir(folder)
                   if n.endswith(".py") and not n.startswith("_"))
    loaded = []
    for path in files:
        name = f"gradlint_local_rules_{abs(hash(path)):x}"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # (dataclasses look their module up)
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: B902 - any failure of the project's module
            sys.modules.pop(name, None)
            raise ConfigError(f"{where}: option 'local-rules': {path} failed to load: "
                              f"{_said(exc)}") from None
        rules = _rules_of(module, f"{where}: option 'local-rules': {path}", None)
        _register(rules, path, f"local rules {folder}")
        LOCAL_CODES.update((rule.code, folder) for rule in rules)
        loaded.append((path, signature(path)))
    _local[folder] = tuple(loaded)


# -- running their checks ------------------------------------------------------------------
class _Stopped(Exception):
    """Raised inside a check that ran past its time."""


def run_checks(rules: list, ctx, timeout: float, internal) -> list:
    """The findings of plugin rules on one file. A check that raises, runs longer than
    `timeout` seconds or yields something other than its own diagnostics gives one
    GL999 finding (made by `internal(path, where, message)`) naming the rule and where
    it comes from, and the other rules go on."""
    from gradlint.analysis.facts import Facts
    from gradlint.api import Context

    facts = Facts(ctx.interp, ctx.parent_map)
    out = []
    for rule in rules:
        where = f"{rule.code} ({rule.origin})"
        found, problem = _run_one(rule.check, Context(rule, ctx, facts), timeout)
        if problem is None:
            wrong = [d for d in found if getattr(d, "code", None) != rule.code]
            if wrong:
                problem = (f"yielded {wrong[0]!r}, not a diagnostic of {rule.code} (make "
                           f"them with ctx.report)")
        if problem is not None:
            out.append(internal(ctx.path, where, f"{problem}; its findings on this file "
                                                 f"are dropped"))
        else:
            out.extend(found)
    return out


def _run_one(check, context, timeout: float):
    """(findings, None), or ([], what went wrong). The check runs in a thread of its own,
    so that one that hangs can be given up on: after `timeout` seconds an exception is
    raised inside it (when it next runs Python code)."""
    import threading

    done: dict = {}

    def work():
        try:
            done["found"] = list(check(context))
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: B902 - whatever the plugin raises is reported
            done["error"] = f"raised {_said(exc)}"

    worker = threading.Thread(target=work, name="gradlint-plugin-check", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        _interrupt(worker)
        worker.join(0.5)
        return [], f"did not finish within {timeout:g} s (the file-timeout setting)"
    if "error" in done:
        return [], done["error"]
    return done.get("found", []), None


def _interrupt(thread) -> None:
    import ctypes

    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(_Stopped))
    except (AttributeError, OSError):  # (a Python without that API: the thread runs on)
        pass


# -- checks on what a module offers -------------------------------------------------------
def _rules_of(module, where: str, prefix: Optional[str]) -> list:
    from gradlint.api import API_VERSION, Rule

    declared = getattr(module, "GRADLINT_API", None)
    if declared is None:
        raise ConfigError(f"{where}: declares no GRADLINT_API (the version of gradlint.api "
                          f"it was written for; this gradlint offers {API_VERSION})")
    if declared != API_VERSION:
        raise ConfigError(f"{where}: written for gradlint.api version {declared!r}; this "
                          f"gradlint offers version {API_VERSION}")
    if prefix is not None and (not _PREFIX.fullmatch(prefix) or prefix.startswith("GL")):
        raise ConfigError(f"{where}: the entry point's name {prefix!r} must be a code prefix "
                          f"of one to three capital letters, not starting with GL")
    rules = list(getattr(module, "RULES", ()))
    if not rules:
        raise ConfigError(f"{where}: has no RULES")
    for rule in rules:
        if not isinstance(rule, Rule):
            raise ConfigError(f"{where}: RULES holds {rule!r}, not a gradlint.api.Rule")
        match = _CODE.fullmatch(rule.code)
        if not match or rule.code.startswith("GL") or (prefix and match.group(1) != prefix):
            want = f"{prefix} and three digits" if prefix else (
                "one to three capital letters (not GL) and three digits")
            raise ConfigError(f"{where}: rule code {rule.code!r} must be {want}")
        if not callable(rule.check):
            raise ConfigError(f"{where}: rule {rule.code} has no check function")
    return rules


def _register(rules: list, origin: str, owner: str) -> None:
    """Add `rules` (from the file or package `origin`) to the registry; `owner` (a package
    or a local folder) is who holds their prefix."""
    from dataclasses import replace

    from gradlint import diagnostics
    from gradlint.config import clear_selection_cache
    from gradlint.rules import BY_NAME, REGISTRY

    def clash(what: str, other: str) -> ConfigError:
        return ConfigError(f"{owner} and {other} both register {what}; uninstall or remove "
                           f"one, or ask its authors for another prefix")

    batch = {}
    for rule in rules:
        prefix = _CODE.fullmatch(rule.code).group(1)
        if _owners.get(prefix, owner) != owner:
            raise clash(f"the code prefix {prefix}", _owners[prefix])
        taken = REGISTRY.get(rule.code) or batch.get(rule.code)
        if taken is not None:
            raise clash(f"the code {rule.code}", _origin(taken))
        named = BY_NAME.get(rule.name) or batch.get(rule.name)
        if named is not None:
            raise clash(f"the rule name {rule.name!r}", _origin(named))
        batch[rule.code] = batch[rule.name] = replace(rule, origin=origin)
    for rule in rules:
        _owners[_CODE.fullmatch(rule.code).group(1)] = owner
        rule = batch[rule.code]
        REGISTRY[rule.code] = BY_NAME[rule.name] = rule
        if rule.url:
            diagnostics.EXTRA_URLS[rule.code] = rule.url
    clear_selection_cache()


def _origin(rule) -> str:
    return getattr(rule, "origin", "") or f"gradlint ({rule.code})"


def _said(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
