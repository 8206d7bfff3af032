"""`path:line:col: CODE [name] message`, notes, and a summary line."""

import click


def render(diagnostics, files: int, color: bool, quiet: bool, fixed=None, unsafe: bool = False,
           failed: bool = False) -> str:
    def style(text, **kw):
        return click.style(text, **kw) if color else text

    def applicable(d):
        return d.fix is not None and (d.fix.applicability == "safe" or unsafe)

    lines = []
    for d in diagnostics:
        where = style(f"{d.location}:{d.line}:{d.column}:", bold=True)
        code = style(d.code, fg="red", bold=True)
        mark = style("[*] ", fg="cyan") if applicable(d) else ""
        lines.append(f"{where} {code} [{d.name}] {mark}{d.message}")
        for r in d.related:
            lines.append(f"    {style('note:', fg='cyan')} {r.location}:{r.line}:{r.column}: {r.message}")
        if d.fix is not None and not applicable(d):
            lines.append(f"    {style('help:', fg='cyan')} {d.fix.message} "
                         f"(unsafe fix: apply with --fix --unsafe-fixes)")
    if quiet:
        return "\n".join(lines) + ("\n" if lines else "")
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
        safe = sum(1 for d in diagnostics if applicable(d))
        hidden = sum(1 for d in diagnostics if d.fix is not None and not applicable(d))
        if safe or hidden:
            parts = []
            if safe:
                parts.append(f"[*] {safe} fixable with the `--fix` option")
            if hidden:
                parts.append(f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled "
                             f"with the `--unsafe-fixes` option")
            lines.append(" (".join(parts) + (")" if len(parts) == 2 else "") + ".")
    return "\n".join(lines) + ("\n" if lines else "")
