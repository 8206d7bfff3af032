"""One source text -> diagnostics: prefilter, parse, analyse, run rules, suppress."""

from __future__ import annotations

import sys
import time
from typing import FrozenSet, List, Optional

from gradlint.config import Settings
from gradlint.diagnostics import Diagnostic
from gradlint.prefilter import matching_rules

DEEP_RECURSION = 20000 if sys.version_info >= (3, 11) else 4000


def lint_source(source: str, path: str = "<string>", settings: Optional[Settings] = None,
                enabled: Optional[FrozenSet[str]] = None, prefilter: bool = True,
                verbose: bool = False, apply_noqa: bool = True) -> List[Diagnostic]:
    from gradlint.rules import REGISTRY

    settings = settings or Settings()
    if enabled is None:
        enabled = settings.enabled_codes(path)
    rules = [REGISTRY[c] for c in sorted(enabled) if c in REGISTRY]
    if prefilter:
        rules = matching_rules(source, rules, settings)
        if not rules:
            return []
    diagnostics = _lint_parsed(source, path, settings, rules, enabled, verbose)
    if not diagnostics or not apply_noqa:
        return sorted(set(diagnostics), key=Diagnostic.sort_key)
    from gradlint import suppression  # (only for a file with findings)

    sup = suppression.parse(source)
    kept = [d for d in diagnostics if not sup.suppressed(d.code, d.line)]
    return sorted(set(kept), key=Diagnostic.sort_key)


def _lint_parsed(source, path, settings, rules, enabled, verbose) -> List[Diagnostic]:
    # long chains (`a * b * ... ` thousands deep) recurse in libcst's code generation;
    # Python 3.11+ runs Python-to-Python calls without growing the C stack
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, DEEP_RECURSION))
    try:
        return _lint_parsed_deep(source, path, settings, rules, enabled, verbose)
    finally:
        sys.setrecursionlimit(limit)


def _lint_parsed_deep(source, path, settings, rules, enabled, verbose) -> List[Diagnostic]:
    import libcst as cst

    from gradlint.analysis.interp import AnalysisTimeout, Interpreter
    from gradlint.parsing import parse_module
    from gradlint.rules.context import RuleContext

    try:
        module = parse_module(source)
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
        return [_internal(path, "analysis", _bug_text(verbose))]
    ctx = RuleContext(path, module, interp, source)
    out: List[Diagnostic] = []
    for rule in rules:
        if rule.check is None:
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
