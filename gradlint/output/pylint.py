"""Pylint's parseable format, as Ruff writes it: `path:line: [CODE] message`."""


def render(diagnostics) -> str:
    out = []
    for d in diagnostics:
        # a notebook: `path:cell N:line`, as the other line formats name the cell
        out.append(f"{d.location}:{d.line}: [{d.code}] {d.message}\n")
    return "".join(out)
