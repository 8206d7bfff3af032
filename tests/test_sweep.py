"""Every file of the standard library and of site-packages: no internal error, ever."""

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

# the quick suite's sample of the standard library: every 25th of its own files, sorted by
# path (72 files); `-m slow` sweeps all of it and site-packages
STDLIB = Path(sysconfig.get_paths()["stdlib"])
STDLIB_SAMPLE_STEP = 25


def stdlib_sample():
    files = sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)
    return files[::STDLIB_SAMPLE_STEP]


LIBCST_LIMIT = "Python accepts this file but libcst's parser does not"


def _internal(found):
    """GL999s other than libcst's known limits (`(pars): bool = True`, an annotated
    target in parentheses, is valid Python that libcst refuses: reported as such, not
    as a syntax error of the user's)."""
    return [d for d in found if d["code"] == "GL999" and LIBCST_LIMIT not in d["message"]]


def _sweep(path, tmp_path, *extra):
    config = tmp_path / "sweep.toml"
    # (a 1 MB module of torch's takes 10-30 s to parse on a busy machine: this sweep is
    # about crashes, the time bound has tests of its own)
    config.write_text("[tool.gradlint]\nexclude = ['__pycache__']\nrespect-gitignore = false\n"
                      "file-timeout = 600\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gradlint", "check", "--output-format", "json-lines", "--no-cache",
         "--exit-zero", "--config", str(config), "-j", "2", "--select", "ALL", *extra,
         *(map(str, path) if isinstance(path, list) else [str(path)])],
        capture_output=True, text=True, timeout=3000)
    assert proc.returncode in (0, 2), proc.stderr[-3000:]  # (2: libcst's limits, below)
    assert "Traceback" not in proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_standard_library_sample(tmp_path):
    sample = stdlib_sample()
    assert len(sample) > 60
    found = _sweep(sample, tmp_path, "--no-prefilter")
    assert _internal(found) == []


@pytest.mark.slow
def test_standard_library_parses_everything(tmp_path):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = _sweep(stdlib, tmp_path, "--no-prefilter")
    assert _internal(found) == []
    syntax = {Path(d["path"]).name for d in found if d["code"] == "GL000"}
    # the test suite's deliberately broken files are reported, not crashed on
    assert any(name.startswith("badsyntax_") for name in syntax), syntax
    (tmp_path / "counts.txt").write_text(f"{len(found)} findings, {len(syntax)} syntax errors")


@pytest.mark.slow
def test_site_packages(tmp_path):
    site = Path(sysconfig.get_paths()["purelib"])
    found = _sweep(site, tmp_path)
    assert _internal(found) == []
