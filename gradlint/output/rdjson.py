"""Reviewdog Diagnostic Format (rdjson), for `reviewdog -f=rdjson`: findings with their
ranges, the rule's code and page, related locations, and fixes as suggestions."""

import json

from gradlint.diagnostics import rule_url


def _range(line, column, end_line=None, end_column=None) -> dict:
    out = {"start": {"line": line, "column": column}}
    if end_line is not None:
        out["end"] = {"line": end_line, "column": end_column}
    return out


def _diagnostic(d) -> dict:
    message = f"{d.message}. {d.help}" if d.help else d.message
    if d.cell is not None:
        # a notebook: its lines are the JSON file's; pinned to line 1 (as for GitHub)
        message = f"cell {d.cell}, line {d.line}: {message}"
        where = _range(1, 1)
    else:
        where = _range(d.line, d.column, d.end_line, d.end_column)
    out = {
        "message": message,
        "location": {"path": d.path, "range": where},
        "severity": "ERROR",
        "code": {"value": d.code, **({"url": rule_url(d.code)} if rule_url(d.code) else {})},
    }
    if d.related and d.cell is None:
        out["related_locations"] = [
            {"message": r.message, "location": {"path": r.path, "range": _range(r.line, r.column)}}
            for r in d.related]
    if d.fix is not None and d.cell is None and d.fix.applicability == "safe":
        out["suggestions"] = [{"range": _range(e.line, e.column, e.end_line, e.end_column),
                               "text": e.content} for e in d.fix.edits]
    return out


def render(diagnostics) -> str:
    log = {"source": {"name": "gradlint", "url": "https://github.com/gradlint/gradlint"},
           "severity": "ERROR",
           "diagnostics": [_diagnostic(d) for d in diagnostics]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
