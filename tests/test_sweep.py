"""Every file of the standard library and of site-packages: no internal error, ever."""

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _sweep(path, tmp_path, *extra):
    config = tmp_path / "sweep.toml"
    config.write_text("[tool.gradlint]\nexclude = ['__pycache__']\nrespect-gitignore = false\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gradlint", "check", "--output-format", "json-lines", "--no-cache",
         "--exit-zero", "--config", str(config), "-j", "2", "--select", "ALL", *extra, str(path)],
        capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_standard_library_parses_everything(tmp_path):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = _sweep(stdlib, tmp_path, "--no-prefilter")
    internal = [d for d in found if d["code"] == "GL999"]
    assert internal == []
    syntax = {Path(d["path"]).name for d in found if d["code"] == "GL000"}
    # the test suite's deliberately broken files are reported, not crashed on
    assert any(name.startswith("badsyntax_") for name in syntax), syntax
    (tmp_path / "counts.txt").write_text(f"{len(found)} findings, {len(syntax)} syntax errors")


def test_site_packages(tmp_path):
    site = Path(sysconfig.get_paths()["purelib"])
    found = _sweep(site, tmp_path)
    assert [d for d in found if d["code"] == "GL999"] == []
