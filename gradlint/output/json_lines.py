"""One JSON object per line, the same objects as the `json` format."""

import json


def render(diagnostics) -> str:
    return "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in diagnostics)
