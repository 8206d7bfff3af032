"""One source text -> diagnostics: prefilter, parse, analyse, run rules, suppress.

In two halves (`parse_source`, `finish_source`), so that a run over many files can parse
a few of them before analysing them (see `runner`)."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import FrozenSet, List, Optional, Union

from gradlint.config import Settings
from gradlint.diagnostics import Diagnostic
from gradlint.prefilter import matching_rules

DEEP_RECURSION = 20000 if sys.version_info >= (3, 11) else 4000


def lint_source(source: str, path: str = "<string>", settings: Optional[Settings] = None,
                enabled: Optional[FrozenSet[str]] = None, prefilter: bool = True,
                verbose: bool = False, apply_noqa: bool = True) -> List[Diagnostic]:
    staged = parse_source(source, path, settings, enabled, prefilter, verbose, apply_noqa)
    return staged if isinstance(staged, list) else finish_source(staged)


class ParsedSource:
    """A text parsed, its analysis and rules to come (`finish_source`)."""

    __slots__ = ("source", "path", "settings", "rules", "enabled", "verbose", "apply_noqa",
                 "module")

    def __init__(self, source, path, settings, rules, enabled, verbose, apply_noqa, module):
        self.source, self.path, self.settings, self.rules = source, path, settings, rules
        self.enabled, self.verbose, self.apply_noqa = enabled, verbose, apply_noqa
        self.module = module


def parse_source(source: str, path: str = "<string>", settings: Optional[Settings] = None,
                 enabled: Optional[FrozenSet[str]] = None, prefilter: bool = True,
                 verbose: bool = False, apply_noqa: bool = True
                 ) -> Union[List[Diagnostic], ParsedSource]:
    """The first half of `lint_source`: the prefilter and the parse. The diagnostics when
    that is all there is to it (no rule needs the text, or it does not parse)."""
    from gradlint.rules import REGISTRY

    settings = settings or Settings()
    if enabled is None:
        enabled = settings.enabled_codes(path)
    rules = [REGISTRY[c] for c in sorted(enabled) if c in REGISTRY]
    if prefilter:
        rules = matching_rules(source, rules, settings)
        if not rules:
            return []
    with _deep_recursion():
        module = _parse(source, path, enabled)
    if type(module) is list:  # (GL000, which `noqa` can silence too)
        return _kept(module, source, apply_noqa)
    return ParsedSource(source, path, settings, rules, enabled, verbose, apply_noqa, module)


def finish_source(parsed: ParsedSource) -> List[Diagnostic]:
    """The second half of `lint_source`: the analysis, the rules and the suppressions."""
    with _deep_recursion():
        diagnostics = _analyse(parsed)
    return _kept(diagnostics, parsed.source, parsed.apply_noqa)


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


def _parse(source, path, enabled):
    """The module, or the GL000 finding (a list) when the text does not parse."""
    import libcst as cst

    from gradlint.parsing import parse_module

    try:
        return parse_module(source)
    except cst.ParserSyntaxError as exc:
        if "GL000" not in enabled:
            return []
        line, col, message = max(exc.raw_line, 1), max(exc.raw_column, 0) + 1, exc.message
        located = _python_syntax_error(source)
        if located is not None:  # CPython's message and position are the ones users know
            line, col, message = located
        return [Diagnostic("GL000", "syntax-error", f"cannot parse: {message}", path,
                           line, col, line, col)]
    except (RecursionError, MemoryError) as exc:
        if "GL000" not in enabled:
            return []
        return [Diagnostic("GL000", "syntax-error",
                           f"cannot parse: the parser gave up ({type(exc).__name__}: "
                           f"the code is nested too deeply)", path, 1, 1, 1, 1)]
    except Exception as exc:  # the native parser reports some errors with other types
        if "GL000" not in enabled:
            return []
        return [Diagnostic("GL000", "syntax-error", f"cannot parse: {exc}".splitlines()[0],
                           path, 1, 1, 1, 1)]


def _analyse(parsed: ParsedSource) -> List[Diagnostic]:
    from gradlint.analysis.interp import AnalysisTimeout, Interpreter
    from gradlint.rules.context import RuleContext

    path, settings, module, source = parsed.path, parsed.settings, parsed.module, parsed.source
    budget = settings.file_timeout
    deadline = time.monotonic() + budget
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
        return [_internal(path, "analysis", _bug_text(parsed.verbose))]
    ctx = RuleContext(path, module, interp, source)
    out: List[Diagnostic] = []
    for rule in parsed.rules:
        if rule.check is None:
            continue
        try:
            out.extend(rule.check(ctx))
        except RecursionError:
            out.append(_internal(path, rule.code, "the code is nested too deeply to report on; "
                                 "the file was skipped"))
        except Exception:
            out.append(_internal(path, rule.code, _bug_text(parsed.verbose)))
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
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


def _bug_text(verbose: bool) -> str:
    text = "internal error; please report it at the gradlint issue tracker"
    if verbose:
        import traceback

        return text + "\n" + traceback.format_exc()
    return text + " (run with --verbose for the traceback)"


def _internal(path: str, where: str, message: str) -> Diagnostic:
    return Diagnostic("GL999", "internal-error", f"{where}: {message}", path, 1, 1, 1, 1)
