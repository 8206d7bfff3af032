"""SARIF 2.1.0 for code scanning: rules with their full docs, results with related
locations and fixes."""

import json
from pathlib import PurePath
from urllib.parse import quote

from gradlint import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(path: str) -> str:
    return quote(PurePath(path).as_posix())


def _region(line, column, end_line, end_column) -> dict:
    return {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}


def _location(path, region, message=None, ident=None) -> dict:
    out = {"physicalLocation": {"artifactLocation": {"uri": _uri(path)}, "region": region}}
    if ident is not None:
        out["id"] = ident
    if message is not None:
        out["message"] = {"text": message}
    return out


def render(diagnostics) -> str:
    from gradlint.diagnostics import rule_url
    from gradlint.rules import REGISTRY

    rules = list(REGISTRY.values())
    index = {r.code: i for i, r in enumerate(rules)}
    results = []
    for d in diagnostics:
        result = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": "error",
            "message": {"text": f"{d.message}. {d.help}" if d.help else d.message},
            "locations": [_location(d.path, _region(d.line, d.column, d.end_line, d.end_column))],
        }
        if d.cell is not None:
            # a notebook: the region would name lines of the JSON file; the cell and its
            # line go in the message and the properties, the region is the file's start
            result["message"] = {"text": f"cell {d.cell}, line {d.line}: {result['message']['text']}"}
            result["locations"] = [_location(d.path, _region(1, 1, 1, 1))]
            result["properties"] = {"cell": d.cell, "cellLine": d.line, "cellColumn": d.column}
            results.append(result)
            continue
        if d.related:
            result["relatedLocations"] = [
                _location(r.path, {"startLine": r.line, "startColumn": r.column}, r.message, i)
                for i, r in enumerate(d.related)]
        if d.fix is not None:
            result["fixes"] = [{
                "description": {"text": f"{d.fix.message} ({d.fix.applicability})"},
                "artifactChanges": [{
                    "artifactLocation": {"uri": _uri(d.path)},
                    "replacements": [{
                        "deletedRegion": _region(e.line, e.column, e.end_line, e.end_column),
                        "insertedContent": {"text": e.content},
                    } for e in d.fix.edits],
                }],
            }]
        results.append(result)
    driver = {
        "name": "gradlint",
        "version": __version__,
        "informationUri": "https://pypi.org/project/gradlint/",
        "rules": [{
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": " ".join(r.docs.what.split())},
            "help": {"text": r.render_docs(), "markdown": r.render_docs()},
            **({"helpUri": rule_url(r.code)} if rule_url(r.code) else {}),
            "defaultConfiguration": {"level": "error", "enabled": r.default_on},
            "properties": {"fixable": r.fixable},
        } for r in rules],
    }
    log = {"$schema": SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": driver}, "results": results, "columnKind": "unicodeCodePoints"}]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
