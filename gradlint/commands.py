"""The commands besides `check` and `explain`: rules, rule, clean, server, version,
generate-shell-completion (registered on the `gradlint` group when cli.py loads)."""

from __future__ import annotations

import os
import sys

import click

from gradlint import __version__
from gradlint.cli import _fail, main
from gradlint.config import ConfigError
from gradlint.configfile import load_settings


@main.command("version")
def version_cmd() -> None:
    """Print gradlint's version."""
    click.echo(f"gradlint {__version__}")


@main.command("clean")
@click.option("--config", "config_path", type=click.Path(), help="The configuration whose cache-dir to remove.")
def clean_cmd(config_path) -> None:
    """Remove the cache folder (.gradlint_cache, or cache-dir), and the gradlint caches in
    the folders below the current one."""
    from gradlint.cache import CleanRefused, clean

    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        _fail(str(exc))
        return
    folder = settings.cache_folder()
    try:
        removed = clean(folder, settings.root)
    except CleanRefused as exc:
        _fail(str(exc))
        return
    except OSError as exc:
        _fail(f"{folder}: cannot remove: {exc.strerror or exc}")
        return
    click.echo(f"Removed {folder}" if removed else f"No cache at {folder}")
    problems = False
    for below in _caches_below(".", {os.path.realpath(folder)}):
        try:
            clean(below, settings.root)
            click.echo(f"Removed {below}")
        except (CleanRefused, OSError) as exc:
            problems = True
            why = str(exc) if isinstance(exc, CleanRefused) else \
                f"{below}: cannot remove: {exc.strerror or exc}"
            click.echo(f"gradlint: warning: {why}", err=True)
    sys.exit(1 if problems else 0)


def _caches_below(top: str, skip: set):
    """`.gradlint_cache` folders below `top` (not following links, not entering version
    control or virtual environments), other than those in `skip`."""
    from gradlint.config import DEFAULT_EXCLUDE
    from gradlint.locate import DEFAULT_CACHE

    for current, folders, _ in os.walk(top):
        if DEFAULT_CACHE in folders:
            path = os.path.normpath(os.path.join(current, DEFAULT_CACHE))
            if os.path.realpath(path) not in skip and not os.path.islink(path):
                yield path
        folders[:] = [f for f in folders if f not in DEFAULT_EXCLUDE]


@main.command("server")
def server_cmd() -> None:
    """Run the Language Server over stdio (needs `pip install 'gradlint[server]'`)."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        _fail("the language server needs pygls: pip install 'gradlint[server]'")
        return
    from gradlint.server import main as serve

    serve()


@main.command("rules")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text")
def rules_cmd(output_format) -> None:
    """List every rule: code, name, default on/off, fixable, summary (and, for a plugin's
    rule or the project's own, where it comes from)."""
    import json

    rules = _all_rules()
    if output_format == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "default": r.default_on,
                                "fixable": r.fixable, "summary": r.summary,
                                "origin": _origin(r)} for r in rules], indent=2))
        return
    width = max(len(r.name) for r in rules) + 2
    click.echo(f"{'code':<7}{'name':<{width}}{'default':<9}{'fix':<5}summary")
    for r in rules:
        origin = f" [{r.origin}]" if getattr(r, "origin", "") else ""
        click.echo(f"{r.code:<7}{r.name:<{width}}{'on' if r.default_on else 'off':<9}"
                   f"{'yes' if r.fixable else '-':<5}{r.summary}{origin}")


def _all_rules() -> list:
    """gradlint's rules, the installed plugins' and those of the project's `local-rules`
    (the configuration of the working folder)."""
    from gradlint import plugins
    from gradlint.rules import REGISTRY

    try:
        plugins.activate()
        load_settings(None, ".")  # (loads the project's local rules)
    except ConfigError as exc:
        _fail(str(exc))
    return list(REGISTRY.values())


def _origin(rule) -> str:
    return getattr(rule, "origin", "") or "gradlint"


@main.command("rule")
@click.argument("code_or_name", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every rule's documentation.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text")
def rule_cmd(code_or_name, show_all, output_format) -> None:
    """Show the full documentation of one rule (or of every rule, with --all)."""
    import json

    from gradlint.rules import closest, find_rule

    if show_all == bool(code_or_name):
        _fail("name one rule, or pass --all")
        return
    registry = _all_rules()  # (a plugin's rule can be named too)
    rules = registry if show_all else [find_rule(code_or_name)]
    if rules[0] is None:
        near = closest(code_or_name)
        hint = f"; the closest is {near}" if near else ""
        _fail(f"unknown rule {code_or_name!r}{hint} (see `gradlint rules`)")
        return
    if output_format == "json":
        data = [{"code": r.code, "name": r.name, "summary": r.summary, "default": r.default_on,
                 "fixable": r.fixable, "origin": _origin(r), "explanation": r.render_docs()}
                for r in rules]
        click.echo(json.dumps(data if show_all else data[0], indent=2))
        return
    click.echo("\n".join(r.render_docs() for r in rules), nl=False)


@main.command("generate-shell-completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell) -> None:
    """Print the completion script for SHELL (e.g. `eval "$(gradlint
    generate-shell-completion bash)"`)."""
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)(main, {}, "gradlint", "_GRADLINT_COMPLETE")
    click.echo(complete.source())
