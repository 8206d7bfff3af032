"""GitHub Actions workflow commands: findings appear inline on pull requests."""


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics) -> str:
    out = []
    for d in diagnostics:
        out.append(
            f"::error file={_prop(d.path)},line={d.line},col={d.column},endLine={d.end_line},"
            f"endColumn={d.end_column},title={_prop(f'{d.code} {d.name}')}::"
            f"{_data(f'{d.code} {d.message}')}\n")
    return "".join(out)
