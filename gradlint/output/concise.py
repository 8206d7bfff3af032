"""One line per finding: `path:line:col: CODE message`."""


def render(diagnostics) -> str:
    return "".join(f"{d.location}:{d.line}:{d.column}: {d.code} {d.message}\n" for d in diagnostics)
