"""`--statistics`: the number of findings per rule, most frequent first, as Ruff prints it:
a table in every text format, a list of objects in the JSON ones."""

import json
from collections import Counter


def render_statistics(diagnostics, fmt: str, unsafe: bool = False) -> str:
    counts = Counter((d.code, d.name) for d in diagnostics)
    fixable = {(d.code, d.name) for d in diagnostics
               if d.fix is not None and (d.fix.applicability == "safe" or unsafe)}
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if fmt in ("json", "json-lines", "sarif", "gitlab", "rdjson"):
        return json.dumps([{"code": code, "name": name, "count": n,
                            "fixable": (code, name) in fixable}
                           for (code, name), n in rows], indent=2) + "\n"
    if not rows:
        return ""
    width = len(str(rows[0][1]))
    code_width = max(len(code) for (code, _), _ in rows)
    return "".join(f"{n:>{width}}\t{code:<{code_width}}\t"
                   f"{'[*] ' if (code, name) in fixable else '[ ] '}{name}\n"
                   for (code, name), n in rows)
