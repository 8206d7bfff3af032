"""GitHub Actions workflow commands: findings appear inline on pull requests."""


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics) -> str:
    out = []
    for d in diagnostics:
        if d.cell is not None:
            # a notebook: its lines are the JSON file's, not the cell's; pinned to line 1,
            # with the cell and line in the message (as Ruff does)
            where = "line=1,col=1"
            message = f"{d.code} cell {d.cell}, line {d.line}: {d.message}"
        else:
            where = (f"line={d.line},col={d.column},endLine={d.end_line},"
                     f"endColumn={d.end_column}")
            message = f"{d.code} {d.message}"
        out.append(f"::error file={_prop(d.path)},{where},"
                   f"title={_prop(f'{d.code} {d.name}')}::{_data(message)}\n")
    return "".join(out)
