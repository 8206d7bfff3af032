"""GitLab Code Quality report (JSON) with fingerprints that survive unrelated edits."""

import hashlib
import json
import re
from collections import Counter


def render(diagnostics) -> str:
    seen = Counter()
    out = []
    for d in diagnostics:
        # line numbers move when code above changes (messages name lines too); the path,
        # the rule and the rest of the message do not
        key = f"{d.path}\0{d.code}\0{re.sub(r'lines? [0-9]+', 'line', d.message)}"
        seen[key] += 1
        fingerprint = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()
        out.append({
            "description": f"{d.code} {d.message}",
            "check_name": d.code,
            "fingerprint": fingerprint,
            "severity": "major",
            "location": {"path": d.path, "lines": {"begin": d.line, "end": d.end_line}},
        })
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"
