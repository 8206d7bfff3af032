import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
MARKER = re.compile(r"#\s*error:\s*(GL\d{3}(?:\s*,\s*GL\d{3})*)")


def expected_findings(text: str):
    """(line, code) pairs marked in a fixture with `# error: GL001`."""
    out = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group(1)):
                out.add((number, code))
    return out


def fixture_files():
    return sorted(p for p in FIXTURES.glob("*/*.py") if not p.name.endswith(".fixed.py"))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder as the current directory (no pyproject above it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
