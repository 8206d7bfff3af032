"""The command line: thin; parses options, calls the runner, renders."""

from __future__ import annotations

import os
import sys

import click

from gradlint import __version__
from gradlint.config import ConfigError
from gradlint.output import FORMATS, render


def _fail(message: str) -> None:
    click.echo(f"gradlint: error: {message}", err=True)
    sys.exit(2)


def _write_bytes(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _written_as_is(text: str, color: bool) -> bool:
    """Whether click.echo writes `text` to sys.stdout unchanged (a record of the run can
    then replay it): click strips colour codes when colour is off, and replaces what the
    stream's encoding cannot hold."""
    if "\x1b" in text and not color:
        return False
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="gradlint",
                      message="%(prog)s %(version)s")
def main() -> None:
    """gradlint: find PyTorch autograd pitfalls before you train."""


def use_color(flag, stream) -> bool:
    """--color / --no-color; else NO_COLOR (any value) turns colour off and FORCE_COLOR
    (any value) on, as in Ruff; else colour when `stream` is a terminal."""
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (comma separated); replaces the default set. ALL enables every rule.")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable on top of the selection.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--output-format", type=click.Choice(FORMATS), default=None, envvar="GRADLINT_OUTPUT_FORMAT", show_envvar=True, help="full (default on a terminal: with the source lines), text (default otherwise), concise, json, json-lines, sarif, github, gitlab, junit, pylint or rdjson.")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False), help="Write the findings to this file instead of standard output.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--exit-non-zero-on-fix", is_flag=True, help="With --fix, exit 1 if anything was fixed, even when nothing remains.")
@click.option("--show-fixes/--no-show-fixes", default=None, help="With --fix: list the fixes applied, per file and rule.")
@click.option("--statistics", is_flag=True, help="Print only the number of findings per rule, most frequent first ([*]: fixable).")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings, without the summary.")
@click.option("-s", "--silent", is_flag=True, help="Print nothing; the exit status still tells.")
@click.option("--color/--no-color", default=None, help="Colour the output (default: when writing to a terminal; NO_COLOR and FORCE_COLOR are honoured).")
@click.option("--config", "config_args", multiple=True, help="A configuration file to use for every file instead of the closest one; or a `KEY = VALUE` setting (TOML) that overrides the files' (repeatable).")
@click.option("--isolated", is_flag=True, help="Read no configuration file: defaults and the command line only.")
@click.option("--exclude", multiple=True, help="Names or paths to skip when searching folders (comma separated); replaces the configured list.")
@click.option("--extend-exclude", multiple=True, help="More names or paths to skip, on top of the excludes.")
@click.option("--per-file-ignores", multiple=True, metavar="GLOB:CODES", help="Rules to turn off in the files a glob matches (`tests/*:GL001,GL002`); replaces the configured ones.")
@click.option("--extend-per-file-ignores", multiple=True, metavar="GLOB:CODES", help="As --per-file-ignores, added to the configured ones.")
@click.option("--show-files", is_flag=True, help="List the files that would be linted, and lint nothing.")
@click.option("--show-settings", is_flag=True, help="Print the settings that apply to the first path, and where each comes from; lint nothing.")
@click.option("--no-prefilter", is_flag=True, help="Parse every file, even those that cannot match any rule (for debugging).")
@click.option("--fix/--no-fix", default=None, help="Apply safe fixes; report what is left.")
@click.option("--unsafe-fixes/--no-unsafe-fixes", default=None, help="Also apply fixes that change behaviour (with --fix or --diff).")
@click.option("--diff", is_flag=True, help="Show the fixes as a unified diff; write nothing. Exit 1 if anything would change.")
@click.option("--add-noqa", is_flag=True, help="Write `# noqa: CODE` on every line that has a finding (Python files; notebooks are left alone).")
@click.option("-w", "--watch", is_flag=True, help="Lint again whenever a Python file or notebook changes (needs `pip install 'gradlint[watch]'`).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write .gradlint_cache.")
@click.option("--respect-gitignore/--no-respect-gitignore", default=None, help="Skip files that .gitignore excludes when searching folders (default: on).")
@click.option("--stdin-filename", help="The name of the file read from standard input (`-`), for configuration and output.")
@click.option("--force-exclude", is_flag=True, help="Apply the excludes to files named on the command line too (for pre-commit).")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_obj
def check(remember, paths, select, extend_select, ignore, output_format, output_file, exit_zero,
          exit_non_zero_on_fix, show_fixes, statistics, quiet, silent, color, config_args, isolated, exclude,
          extend_exclude, per_file_ignores, extend_per_file_ignores, show_files, show_settings,
          no_prefilter, fix,
          unsafe_fixes, diff, add_noqa, watch, jobs, no_cache, respect_gitignore,
          stdin_filename, force_exclude, verbose) -> None:
    """Lint PATHS (files or folders; default: the current folder)."""
    from gradlint import replay
    from gradlint.runner import lint_paths

    # `remember`: the command line, when started by the `gradlint` command (which replays
    # a recorded run whose inputs have not changed), else None
    inputs = (replay.Inputs() if remember is not None and not no_cache and list(paths) != ["-"]
              else None)
    layers = dict(select=select, extend_select=extend_select, ignore=ignore, exclude=exclude,
                  extend_exclude=extend_exclude, per_file_ignores=per_file_ignores,
                  extend_per_file_ignores=extend_per_file_ignores,
                  respect_gitignore=respect_gitignore)
    try:
        resolver = _resolver(config_args, isolated, inputs, **layers)
        if show_settings:
            from gradlint.output.settings import render_settings

            target = (paths or (".",))[0]
            name = stdin_filename if target == "-" and stdin_filename else target
            click.echo(render_settings(name, resolver.for_path(name)), nl=False)
            sys.exit(0)
    except ConfigError as exc:
        _fail(str(exc))
        return
    settings = resolver.project
    from gradlint.runner import FixMode

    if show_files:
        from gradlint.files import discover

        try:
            files, errors = discover(list(paths) or ["."], resolver, force_exclude)
        except ConfigError as exc:
            _fail(str(exc))
            return
        click.echo("".join(f"{path}\n" for path in files), nl=False)
        for error in errors:
            click.echo(f"gradlint: error: {error}", err=True)
        sys.exit(2 if errors else 0)
    unsafe = settings.unsafe_fixes if unsafe_fixes is None else unsafe_fixes
    if add_noqa and (fix or diff or list(paths) == ["-"]):
        _fail("--add-noqa writes the files named: it cannot be combined with --fix, --diff "
              "or standard input")
        return
    mode = FixMode(fix=(settings.fix if fix is None else fix) and not diff and not add_noqa,
                   unsafe=unsafe, diff=diff, add_noqa=add_noqa)
    if watch:
        _watch(list(paths) or ["."], lambda: _resolver(config_args, isolated, None, **layers),
               settings, mode, output_format, quiet, color, no_prefilter, verbose, jobs)
        return
    stdin_source = None
    if list(paths) == ["-"]:
        from gradlint.runner import lint_stdin

        name = stdin_filename or "-"
        data = sys.stdin.buffer.read()
        stdin_source = {name: data.decode("utf-8", "replace")}
        try:
            settings = resolver.for_path(stdin_filename) if stdin_filename else settings
        except ConfigError as exc:
            _fail(str(exc))
            return
        if force_exclude and stdin_filename and settings.is_excluded(stdin_filename):
            if mode.fix:
                _write_bytes(data)  # as it came, byte for byte
            sys.exit(0)
        result, fixed = lint_stdin(data, name, settings, prefilter=not no_prefilter,
                                   verbose=verbose, mode=mode)
        if fixed is not None:
            # the fixed source is the output (in the input's own encoding, its bytes kept
            # where no fix applied); the findings that remain go to stderr
            _write_bytes(fixed)
            text = render("concise", result.diagnostics, result.paths)
            click.echo(text, nl=False, err=True)
            for error in result.errors:
                click.echo(f"gradlint: error: {error}", err=True)
            sys.exit(2 if result.errors else (1 if result.diagnostics and not exit_zero else 0))
    elif "-" in paths:
        _fail("`-` (standard input) cannot be combined with other paths")
        return
    elif stdin_filename:
        _fail("--stdin-filename names standard input: pass `-` as the only path")
        return
    else:
        try:
            result = lint_paths(list(paths) or ["."], resolver, prefilter=not no_prefilter,
                                verbose=verbose, mode=mode, force_exclude=force_exclude, jobs=jobs,
                                use_cache=not no_cache, seen=inputs)
        except ConfigError as exc:  # a configuration file met below the working folder
            _fail(str(exc))
            return
    if not result.files and not result.errors and list(paths) != ["-"]:
        result.notices.append(f"no Python files found under {', '.join(paths) or '.'}")
    for notice in ([] if silent else result.notices):
        click.echo(f"gradlint: warning: {notice}", err=True)
    for error in result.errors:
        click.echo(f"gradlint: error: {error}", err=True)
    color = use_color(color, sys.stdout) and not output_file
    failed = bool(result.errors) or any(d.code == "GL999" for d in result.diagnostics)
    if diff:
        click.echo("".join(result.diffs), nl=False)
        n = result.fixed
        click.echo(f"Would fix {n} problem{'s' if n != 1 else ''}." if n else "No fixes available.",
                   err=True)
        sys.exit(2 if failed else (1 if result.diffs else 0))
    if add_noqa:
        n = result.fixed
        if not silent:
            click.echo(f"Added {n} noqa directive{'s' if n != 1 else ''}.", err=True)
        sys.exit(2 if failed else 0)
    output_format = _format(output_format, settings, output_file)
    if silent:
        text = ""
    elif statistics:
        from gradlint.output.statistics import render_statistics

        text = render_statistics(result.diagnostics, output_format, unsafe)
    else:
        text = render(output_format, result.diagnostics, result.paths, color=color,
                      quiet=quiet, fixed=result.fixed if mode.fix else None, unsafe=unsafe,
                      failed=bool(result.errors), sources=stdin_source,
                      fixes=result.fixes if _pick(show_fixes, settings.show_fixes) else None)
    status = 2 if failed else (1 if (result.diagnostics and not exit_zero) or (
        exit_non_zero_on_fix and mode.fix and result.fixed) else 0)
    if output_file:
        _write_output(output_file, text)
        sys.exit(status)
    click.echo(text, nl=False, color=color)
    if inputs is not None and status != 2 and not mode.active and _written_as_is(text, color):
        replay.save(remember, inputs, text, status, settings.cache_folder())
    sys.exit(status)


def _pick(option, setting):
    return setting if option is None else option


def _format(option, settings, output_file) -> str:
    """The option, else the setting, else `full` for a terminal and `text` otherwise."""
    return option or settings.output_format or (
        "full" if sys.stdout.isatty() and not output_file else "text")


def _watch(paths, resolver, settings, mode, output_format, quiet, color, no_prefilter,
           verbose, jobs) -> None:
    """--watch: lint, print, and again after each change, until Ctrl-C (exit 0)."""
    from gradlint import watch
    from gradlint.runner import lint_paths

    if not watch.available():
        _fail("--watch needs the watchfiles library: pip install 'gradlint[watch]'")
    if mode.active or paths == ["-"]:
        _fail("--watch lints files as they change: it cannot be combined with --fix, "
              "--diff, --add-noqa or standard input")
    color = use_color(color, sys.stdout)

    def once():
        try:  # (the configuration files are read again: they may be what changed)
            result = lint_paths(paths, resolver(), prefilter=not no_prefilter,
                                verbose=verbose, mode=mode, jobs=jobs, use_cache=True)
        except ConfigError as exc:
            click.echo(f"gradlint: error: {exc}", err=True)
            return
        for error in result.errors:
            click.echo(f"gradlint: error: {error}", err=True)
        click.echo(render(_format(output_format, settings, None), result.diagnostics,
                          result.paths, color=color, quiet=quiet,
                          failed=bool(result.errors)), nl=False, color=color)
        sys.stdout.flush()

    watch.run(paths, once, lambda text: click.echo(text, err=True))
    sys.exit(0)


def _resolver(config_args, isolated, inputs, **layers):
    """The settings of each file, from the configuration files and the command line."""
    from gradlint import plugins
    from gradlint.resolve import from_command_line

    plugins.activate()  # (raises ConfigError: two plugins claim one code)
    try:
        return from_command_line(config_args, isolated, inputs, **layers)
    except ValueError as exc:  # a usage mistake rather than a bad file
        _fail(str(exc))


def _write_output(path: str, text: str) -> None:
    """-o: the findings to a file (a report of this run: what was there is replaced)."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        _fail(f"{path}: cannot write the output: {exc.strerror or exc}")


@main.command("explain")
@click.argument("path", type=click.Path())
@click.option("--line", type=click.IntRange(min=1), help="The full story of the statement at this line.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot"]), default="text")
@click.option("--color/--no-color", default=None)
@click.option("--config", "config_path", type=click.Path(), help="Read settings from this file instead of the one closest above PATH.")
def explain_cmd(path, line, fmt, color, config_path) -> None:
    """Show what autograd will do in PATH: requires_grad, leaves, grad mode, freed graphs."""
    from gradlint import explain
    from gradlint.files import read_source

    try:
        from gradlint.resolve import Resolver

        settings = Resolver(config=config_path).for_path(path)
    except ConfigError as exc:
        _fail(str(exc))
        return
    source = read_source(path)
    if source.text is None:
        _fail(f"{path}: {source.error}")
        return
    text, nb = source.text, None
    if path.endswith(".ipynb"):
        from gradlint import notebook

        try:
            nb = notebook.load(text)
        except notebook.NotebookError as exc:
            _fail(f"{path}: {exc}")
            return
        text = nb.joined
    try:
        data = explain.explain_source(text, path, settings)
    except Exception as exc:  # a file that does not parse: said as `check` says it
        _fail(explain.syntax_error(text, path, nb)
              or f"{path}: cannot explain: {str(exc).splitlines()[0]}")
        return
    if line is not None:
        click.echo(explain.render_line(data, line), nl=False)
    elif fmt == "json":
        click.echo(explain.render_json(data), nl=False)
    elif fmt == "dot":
        click.echo(explain.render_dot(data), nl=False)
    else:
        click.echo(explain.render_text(data, text, sys.stdout.isatty() if color is None else color,
                                       nb), nl=False, color=color)


def run(remember: bool = False) -> None:
    """The `gradlint` command: `main`, then an exit that skips the interpreter's teardown.
    `remember`: a `check` run keeps a record for `replay` (see `launch`).

    Tearing down a process that imported libcst (hundreds of classes, a module dict per
    node module) and freeing what a run built took 25 ms after a cold run, and 12 ms
    after a warm one (a sixth of a warm run), with nothing left to do: the output is
    flushed here, and workers are joined and files closed before `main` returns. (mypy
    exits the same way.) Exceptions other than SystemExit still go the usual way."""
    import os

    _exit_on_term()
    try:
        main(obj=list(sys.argv[1:]) if remember else None)
        status = 0
    except SystemExit as exc:  # what sys.exit does with its argument, as Python does
        if exc.code is None or isinstance(exc.code, int):
            status = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    except KeyboardInterrupt:
        status = 130
    except BaseException as exc:  # a bug: exit 2 (1 means findings), with a short report
        status = internal_error(exc, "--verbose" in sys.argv or "-v" in sys.argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a closed stream
            status = status or 1
    os._exit(status)


def internal_error(exc: BaseException, verbose: bool) -> int:
    """Report an error no layer expected, and the exit status for it (2)."""
    import traceback

    if verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" at {os.path.basename(where[0].filename)}:{where[0].lineno}" if where else ""
    print(f"gradlint: internal error: {type(exc).__name__}: {exc}{place}; please report it "
          f"at the gradlint issue tracker{'' if verbose else ' (run with -v for the traceback)'}",
          file=sys.stderr)
    return 2


def _exit_on_term() -> None:
    """SIGTERM ends the run as an exception does: `finally` blocks remove temporary
    files and shut the workers down (the default action would skip them)."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError):  # not the main thread
        pass


from gradlint import commands  # noqa: E402,F401  (registers the other commands on `main`)

if __name__ == "__main__":  # pragma: no cover
    run()
