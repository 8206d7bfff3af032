"""Write the generated parts of the documentation: one page per rule in `docs/rules/`
(from the rules' own docs, the pages `--output-format json` links to as `url`), and the
example outputs shown after `$ gradlint ...` in the README (a real run on `examples/`)
and in docs/explain.md.

    python scripts/generate_docs.py          # write them
    python scripts/generate_docs.py --check  # exit 1 if any is out of date

`tests/test_docs.py` runs the check, so neither can go stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "rules"
README = ROOT / "README.md"
# file -> (the command shown, the arguments it runs with: as on a terminal, no colour)
EXAMPLES = {
    README: ("$ gradlint check examples/\n",
             ["check", "--no-cache", "--output-format", "full", "--no-color", "examples/"]),
    ROOT / "docs" / "explain.md": (
        "$ gradlint explain tests/fixtures/gl004/flagged_article_example.py\n",
        ["explain", "--no-color", "tests/fixtures/gl004/flagged_article_example.py"]),
}


def rule_pages() -> Dict[Path, str]:
    from gradlint.rules import REGISTRY

    pages = {RULES / f"{code}.md": rule.render_docs() for code, rule in REGISTRY.items()}
    rows = "".join(
        f"| [{code}]({code}.md) | `{rule.name}` | {rule.summary} | "
        f"{'yes' if rule.fixable else 'no'} | {'on' if rule.default_on else 'off'} |\n"
        for code, rule in REGISTRY.items())
    pages[RULES / "README.md"] = (
        "# Rules\n\n"
        "Generated from the rules' documentation by `scripts/generate_docs.py`; "
        "`gradlint rule CODE` prints the same page.\n\n"
        "| code | name | summary | fix | default |\n| --- | --- | --- | --- | --- |\n"
        + rows)
    return pages


def example_output(args) -> str:
    """What `gradlint ARGS` prints, run from the checkout."""
    proc = subprocess.run(
        [sys.executable, "-m", "gradlint", *args], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    if proc.returncode not in (0, 1) or proc.stderr:
        raise RuntimeError(f"gradlint {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def with_example(text: str, shown: str, output: str) -> str:
    """`text` with the block after the line `shown` replaced by `output`."""
    start = text.index(shown) + len(shown)
    end = text.index("```", start)
    return text[:start] + output + text[end:]


def generated() -> Dict[Path, str]:
    files = rule_pages()
    for path, (shown, args) in EXAMPLES.items():
        files[path] = with_example(path.read_text(encoding="utf-8"), shown, example_output(args))
    return files


def main(argv) -> int:
    stale = []
    for path, text in generated().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if "--check" not in argv:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    extra = sorted(p.relative_to(ROOT) for p in RULES.glob("*.md")
                   if p not in generated())
    for path in extra:
        stale.append(path)
        if "--check" not in argv:
            (ROOT / path).unlink()
    if "--check" in argv and stale:
        print("out of date (run python scripts/generate_docs.py): "
              + ", ".join(map(str, stale)))
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
