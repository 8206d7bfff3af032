"""One source text -> diagnostics: prefilter, parse, analyse, run rules, suppress."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import FrozenSet, List, Optional

from gradlint.config import Settings
from gradlint.diagnostics import Diagnostic
from gradlint.guard import DEEP_RECURSION
from gradlint.prefilter import matching_rules


def lint_source(source: str, path: str = "<string>", settings: Optional[Settings] = None,
                enabled: Optional[FrozenSet[str]] = None, prefilter: bool = True,
                verbose: bool = False, apply_noqa: bool = True,
                parse_always: bool = False) -> List[Diagnostic]:
    """The findings for one text: prefilter, parse, analyse, run the rules, suppress.
    `parse_always`: parse even where no rule needs the text's words (a file named on the
    command line: a syntax error in it is reported)."""
    from gradlint import plugins
    from gradlint.rules import REGISTRY

    from gradlint.config import ConfigError

    settings = settings or Settings()
    try:
        plugins.ensure(settings)
    except ConfigError as exc:  # (two plugins claim one code: said once per file)
        return [_internal(path, "plugins", str(exc))]
    if enabled is None:
        enabled = settings.enabled_codes(path)
    rules = [REGISTRY[c] for c in sorted(enabled) if c in REGISTRY]
    if prefilter:
        rules = matching_rules(source, rules, settings)
        if not rules and not (parse_always and "GL000" in enabled):
            return []
    with _deep_recursion():
        module = _parse(source, path, enabled, settings.file_timeout)
        if type(module) is list:  # (GL000 or GL999, which `noqa` can silence too)
            diagnostics = module
        elif not any(rule.check for rule in rules):
            diagnostics = []  # (GL000 only, or GL900, which reads the comments)
        else:
            diagnostics = _analyse(source, path, settings, rules, verbose, module)
    if "GL900" in enabled and apply_noqa and any(r.code == "GL900" for r in rules):
        from gradlint import suppression

        diagnostics = list(diagnostics) + suppression.unused(source, path, diagnostics, enabled)
    kept = _kept(diagnostics, source, apply_noqa)
    if settings.fixable is not None or settings.unfixable:
        from dataclasses import replace

        # `fixable` / `unfixable`: such a finding is reported without its fix, so it is
        # neither applied nor marked fixable
        kept = [d if d.fix is None or settings.fix_allowed(d.code) else replace(d, fix=None)
                for d in kept]
    return kept


def _kept(diagnostics: List[Diagnostic], source: str, apply_noqa: bool) -> List[Diagnostic]:
    """Without those a `noqa` comment silences, in order, each once."""
    if not diagnostics or not apply_noqa:
        return sorted(set(diagnostics), key=Diagnostic.sort_key)
    from gradlint import suppression  # (only for a file with findings)

    sup = suppression.parse(source)
    kept = [d for d in diagnostics if not sup.suppressed(d.code, d.line)]
    return sorted(set(kept), key=Diagnostic.sort_key)


@contextlib.contextmanager
def _deep_recursion():
    # long chains (`a * b * ... ` thousands deep) recurse in libcst's code generation;
    # Python 3.11+ runs Python-to-Python calls without growing the C stack
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, DEEP_RECURSION))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _parse(source, path, enabled, timeout):
    """The module, or the GL000 / GL999 finding (a list) when the text does not parse."""
    import libcst as cst

    from gradlint.guard import ParseAborted, guarded_parse

    try:
        return guarded_parse(source, timeout)
    except ParseAborted as exc:
        located = _python_syntax_error(source)
        if located is not None:  # (what crashed libcst is invalid Python anyway)
            return _not_parsed(source, path, enabled, exc, located)
        return [_internal(path, "parse", str(exc))]
    except (cst.ParserSyntaxError, RecursionError, MemoryError, Exception) as exc:
        # (the native parser reports some errors with other types)
        return _not_parsed(source, path, enabled, exc)


def _not_parsed(source, path, enabled, exc, located=None) -> List[Diagnostic]:
    """GL000 when Python agrees that the text is not valid; a file Python accepts but
    libcst does not (over 3,000 implicitly joined strings, nesting past its stack) is
    libcst's limit, not the user's mistake: GL999, naming the limit."""
    located = located or _python_syntax_error(source)
    if located is None:
        why = (type(exc).__name__ if isinstance(exc, (RecursionError, MemoryError))
               else (str(exc).splitlines() or [type(exc).__name__])[0])
        return [_internal(path, "parse", f"skipped: Python accepts this file but libcst's "
                          f"parser does not ({why}); no rule could run on it")]
    if "GL000" not in enabled:
        return []
    line, col, message = located
    return [Diagnostic("GL000", "syntax-error", f"cannot parse: {message}", path,
                       line, col, line, col)]


def _analyse(source, path, settings, rules, verbose, module) -> List[Diagnostic]:
    from gradlint.analysis.interp import AnalysisTimeout, Interpreter
    from gradlint.rules.context import RuleContext

    budget = settings.file_timeout
    deadline = time.monotonic() + budget
    foreign = [rule for rule in rules if getattr(rule, "origin", "")]
    if foreign:  # (a plugin's rule reads the facts a journal of the walk keeps)
        from gradlint.analysis.facts import Journal as Interpreter  # noqa: F811
    interp = Interpreter(module, settings.backward_functions, settings.clear_grad_functions,
                         deadline=deadline, source_length=len(source))
    try:
        interp.run()
    except AnalysisTimeout:
        return [_internal(path, "analysis", f"skipped: the analysis took longer than "
                          f"{budget:g} s (the file-timeout setting) and was stopped")]
    except RecursionError:
        return [_internal(path, "analysis", "the code is nested too deeply to analyse; "
                          "the file was skipped")]
    except Exception:
        return [_internal(path, "analysis", _bug_text(verbose))]
    ctx = RuleContext(path, module, interp, source, frozenset(rule.code for rule in rules))
    out: List[Diagnostic] = []
    if foreign:
        from gradlint.plugins import run_checks

        out.extend(run_checks(foreign, ctx, budget, _internal))
    for rule in rules:
        if rule.check is None or getattr(rule, "origin", ""):
            continue
        try:
            out.extend(rule.check(ctx))
        except RecursionError:
            out.append(_internal(path, rule.code, "the code is nested too deeply to report on; "
                                 "the file was skipped"))
        except Exception:
            out.append(_internal(path, rule.code, _bug_text(verbose)))
    return out


def _python_syntax_error(source: str):
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except SyntaxError as exc:
        return max(exc.lineno or 1, 1), max(exc.offset or 1, 1), exc.msg
    except (RecursionError, MemoryError) as exc:  # Python cannot compile it either
        return 1, 1, f"the code is nested too deeply ({type(exc).__name__})"
    except ValueError as exc:  # (NUL bytes, which decoding reports first)
        return 1, 1, str(exc)
    return None


def _bug_text(verbose: bool) -> str:
    text = "internal error; please report it at the gradlint issue tracker"
    if verbose:
        import traceback

        return text + "\n" + traceback.format_exc()
    return text + " (run with --verbose for the traceback)"


def _internal(path: str, where: str, message: str) -> Diagnostic:
    return Diagnostic("GL999", "internal-error", f"{where}: {message}", path, 1, 1, 1, 1)
