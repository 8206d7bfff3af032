"""The real-world corpus: pinned wheels of five PyTorch libraries, linted whole.

Every finding there was reviewed (docs/real-world.md); the expected list is
tests/data/real_world_expected.json. Needs the network (`pip download` from PyPI) once:
without it the tests are skipped, saying so. The quick suite checks a fixed sample (every
40th file, sorted by path); `-m slow` checks all five libraries.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.network
SAMPLE_STEP = 40


def _sources():
    sys.path.insert(0, str(ROOT / "scripts"))
    import real_world

    try:
        return real_world.fetch(real_world.DEFAULT_CACHE)
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"needs the network: cannot download the pinned wheels from PyPI ({exc})")


def _expected():
    return sorted(tuple(x) for x in json.loads(
        (ROOT / "tests" / "data" / "real_world_expected.json").read_text()))


def test_real_world_sample_matches_reviewed_findings():
    from gradlint.config import Settings
    from gradlint.runner import lint_paths

    sources = _sources()
    sample = sorted(str(p) for p in sources.rglob("*.py"))[::SAMPLE_STEP]
    result = lint_paths(sample, jobs=2)
    assert result.files == len(sample) > 100 and not result.errors
    chosen = {str(Path(p).relative_to(sources)) for p in sample}
    found = sorted((str(Path(d.path).relative_to(sources)), d.line, d.code)
                   for d in result.diagnostics)
    assert found == [x for x in _expected() if x[0] in chosen]
    everything = Settings(select=("ALL",))
    with_filter = lint_paths(sample, everything, prefilter=True, jobs=2)
    without = lint_paths(sample, everything, prefilter=False, jobs=2)
    assert with_filter.diagnostics == [d for d in without.diagnostics if d.code != "GL000"]


@pytest.mark.slow
def test_real_world_corpus_matches_reviewed_findings(tmp_path):
    sources = _sources()
    import real_world  # (on the path once _sources has run)

    result, _ = real_world.lint(sources)
    assert result.files > 4000
    assert not result.errors
    internal = [d for d in result.diagnostics if d.code == "GL999"]
    assert internal == []
    found = sorted((str(Path(d.path).relative_to(sources)), d.line, d.code)
                   for d in result.diagnostics)
    assert found == _expected()


@pytest.mark.slow
def test_prefilter_changes_nothing_on_real_code():
    """Findings with and without the prefilter are the same (syntax errors aside: a file
    the prefilter skips is not parsed)."""
    from gradlint.config import Settings
    from gradlint.runner import lint_paths

    sources = _sources()
    # all five libraries (about two minutes with 2 jobs): each rule runs only on the files
    # where its own words occur, so every rule's words are checked here on their own
    paths = sorted(str(p) for p in sources.iterdir() if p.is_dir())
    assert len(paths) == 5
    settings = Settings(select=("ALL",))
    with_filter = lint_paths(paths, settings, prefilter=True, jobs=2)
    without = lint_paths(paths, settings, prefilter=False, jobs=2)
    assert with_filter.files == without.files > 4000
    assert len(with_filter.diagnostics) > 50
    strip = [d for d in without.diagnostics if d.code != "GL000"]
    assert with_filter.diagnostics == strip
