"""`path:line:col: CODE [name] message`, notes, and a summary line."""

from collections import Counter

import click


def render(diagnostics, files: int, color: bool, statistics: bool, quiet: bool) -> str:
    def style(text, **kw):
        return click.style(text, **kw) if color else text

    lines = []
    if not quiet:
        for d in diagnostics:
            where = style(f"{d.path}:{d.line}:{d.column}:", bold=True)
            code = style(d.code, fg="red", bold=True)
            lines.append(f"{where} {code} [{d.name}] {d.message}")
            for r in d.related:
                lines.append(f"    {style('note:', fg='cyan')} {r.path}:{r.line}:{r.column}: {r.message}")
    if statistics and diagnostics:
        counts = Counter((d.code, d.name) for d in diagnostics)
        for (code, name), n in sorted(counts.items()):
            lines.append(f"{n:>5}  {code}  {name}")
    n = len(diagnostics)
    if n:
        nfiles = len({d.path for d in diagnostics})
        lines.append(style(f"Found {n} problem{'s' if n != 1 else ''} in {nfiles} "
                           f"file{'s' if nfiles != 1 else ''}.", bold=True))
    elif not quiet:
        lines.append(f"All checks passed ({files} file{'s' if files != 1 else ''} checked).")
    return "\n".join(lines) + ("\n" if lines else "")
