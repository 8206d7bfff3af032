"""Output formats: each module renders a list of diagnostics."""

FORMATS = ("text", "json")


def render(fmt: str, diagnostics, files: int, color: bool, statistics: bool, quiet: bool,
           fixed=None, unsafe: bool = False) -> str:
    if fmt == "json":
        from gradlint.output.json_format import render as _render

        return _render(diagnostics)
    from gradlint.output.text import render as _render

    return _render(diagnostics, files, color=color, statistics=statistics, quiet=quiet,
                   fixed=fixed, unsafe=unsafe)
