"""gradlint: a static linter for PyTorch autograd pitfalls."""

__version__ = "0.1.0"


def lint_source(source, path="<string>", settings=None):
    """Lint one source text and return its diagnostics (sorted)."""
    from gradlint.linter import lint_source as _lint

    return _lint(source, path, settings)


def lint_paths(paths, settings=None):
    """Lint files and folders; returns a list of diagnostics."""
    from gradlint.runner import lint_paths as _lint_paths

    return _lint_paths(paths, settings).diagnostics


__all__ = ["__version__", "lint_source", "lint_paths"]
