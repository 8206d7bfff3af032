"""`path:line:col: CODE [name] message`, its notes and help, and a summary line."""

import click


def render(diagnostics, files: int, color: bool, quiet: bool, fixed=None, unsafe: bool = False,
           failed: bool = False, fixes=None) -> str:
    style = styler(color)
    lines = []
    for d in diagnostics:
        lines.append(headline(d, style, unsafe, name=True))
        for r in d.related:
            lines.append(f"    {style('note:', fg='cyan')} {r.location}:{r.line}:{r.column}: {r.message}")
        lines.extend(f"    {label}: {text}" for label, text in footer(d, style, unsafe))
    if fixes:
        lines.extend(fixes_applied(fixes))
    if not quiet:
        lines.extend(summary(diagnostics, files, style, fixed, unsafe, failed))
    return "\n".join(lines) + ("\n" if lines else "")


def styler(color: bool):
    def style(text, **kw):
        return click.style(text, **kw) if color else text
    return style


def applicable(d, unsafe: bool) -> bool:
    return d.fix is not None and (d.fix.applicability == "safe" or unsafe)


def headline(d, style, unsafe: bool, name: bool) -> str:
    where = style(f"{d.location}:{d.line}:{d.column}:", bold=True)
    code = style(d.code, fg="red", bold=True)
    mark = style("[*] ", fg="cyan") if applicable(d, unsafe) else ""
    return f"{where} {code} {f'[{d.name}] ' if name else ''}{mark}{d.message}"


def footer(d, style, unsafe: bool):
    """(label, text) of the lines under a finding: its help, and a fix not applied."""
    if d.help:
        yield style("help", fg="cyan"), d.help
    if d.fix is not None and not applicable(d, unsafe):
        yield (style("fix", fg="cyan"),
               f"{d.fix.message} (unsafe fix: apply with --fix --unsafe-fixes)")


def fixes_applied(fixes) -> list:
    """`--show-fixes`: what was fixed, per file and rule, as Ruff lists it."""
    from gradlint.rules import REGISTRY

    total = sum(sum(codes.values()) for codes in fixes.values())
    lines = [f"Fixed {total} problem{'s' if total != 1 else ''}:"]
    for path in sorted(fixes):
        if fixes[path]:
            lines.append(f"- {path}:")
            lines.extend(f"    {n} \u00d7 {code} ({REGISTRY[code].name})"
                         for code, n in sorted(fixes[path].items()))
    return lines + [""]


def summary(diagnostics, files: int, style, fixed, unsafe: bool, failed: bool):
    lines = []
    n = len(diagnostics)
    if fixed:
        lines.append(style(f"Found {n + fixed} problem{'s' if n + fixed != 1 else ''} "
                           f"({fixed} fixed, {n} remaining).", bold=True))
    elif n:
        nfiles = len({d.path for d in diagnostics})
        lines.append(style(f"Found {n} problem{'s' if n != 1 else ''} in {nfiles} "
                           f"file{'s' if nfiles != 1 else ''}.", bold=True))
    elif not failed:
        lines.append(f"All checks passed ({files} file{'s' if files != 1 else ''} checked).")
    if fixed is None and n:
        safe = sum(1 for d in diagnostics if applicable(d, unsafe))
        hidden = sum(1 for d in diagnostics if d.fix is not None and not applicable(d, unsafe))
        if safe or hidden:
            parts = []
            if safe:
                parts.append(f"[*] {safe} fixable with the `--fix` option")
            if hidden:
                parts.append(f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled "
                             f"with the `--unsafe-fixes` option")
            lines.append(" (".join(parts) + (")" if len(parts) == 2 else "") + ".")
    return lines
