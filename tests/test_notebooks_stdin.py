"""Notebooks, standard input, and .gitignore."""

import json
import subprocess
import sys

from click.testing import CliRunner

from conftest import FIXTURES
from gradlint.cli import main

CELLS = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# Training\n", "Café ☕\n"]},
    {"cell_type": "code", "execution_count": 1, "metadata": {"tags": ["setup"]}, "outputs": [],
     "source": ["%matplotlib inline\n", "import torch\n", "import torch.nn as nn"]},
    {"cell_type": "code", "execution_count": 2, "metadata": {},
     "outputs": [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}],
     "source": ["model = nn.Linear(4, 1)\n",
                "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n", "!nvidia-smi"]},
    {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [],
     "source": ["for step in range(5):\n", "    loss = model(torch.randn(8, 4)).pow(2).mean()\n",
                "    loss.backward()\n", "    optimizer.step()"]},
    {"cell_type": "code", "execution_count": 4, "metadata": {}, "outputs": [],
     "source": "%%timeit\nw = torch.randn(3, requires_grad=True)\nv = w * 2\nv.sum().backward()\nprint(v.grad)"},
]
NOTEBOOK = {"cells": CELLS, "metadata": {"kernelspec": {"name": "python3"}, "zeta": 1, "alpha": 2},
            "nbformat": 4, "nbformat_minor": 5}


def _write(path, indent=1):
    text = json.dumps(NOTEBOOK, indent=indent, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def test_notebook_findings_are_reported_by_cell(project):
    _write(project / "train.ipynb")
    result = CliRunner().invoke(main, ["check", "--no-color", "."])
    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    assert lines[0].startswith("train.ipynb:cell 4:3:5: GL001 [missing-zero-grad] [*] ")
    assert "the loop at line 1 of cell 4" in lines[0]
    assert lines[1] == "    note: train.ipynb:cell 4:1:1: the loop starts here"
    assert any(line.startswith("train.ipynb:cell 5:5:7: GL002") for line in lines)
    data = json.loads(CliRunner().invoke(main, ["check", "--output-format", "json", "."]).stdout)
    assert [(d["cell"], d["line"], d["code"]) for d in data] == [(4, 3, "GL001"), (5, 5, "GL002")]


def test_notebook_findings_in_github_and_sarif_name_the_cell(project):
    _write(project / "train.ipynb")
    github = CliRunner().invoke(main, ["check", "--output-format", "github", "."]).stdout
    first = github.splitlines()[0]
    assert first.startswith("::error file=train.ipynb,line=1,col=1,title=GL001")
    assert first.split("::")[2].startswith("GL001 cell 4, line 3: ")
    sarif = json.loads(CliRunner().invoke(main, ["check", "--output-format", "sarif", "."]).stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["message"]["text"].startswith("cell 4, line 3: ")
    assert result["properties"] == {"cell": 4, "cellLine": 3, "cellColumn": 5}
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    rdjson = json.loads(CliRunner().invoke(main, ["check", "--output-format", "rdjson", "."]).stdout)
    first = rdjson["diagnostics"][0]
    assert first["message"].startswith("cell 4, line 3: ")
    assert first["location"]["range"] == {"start": {"line": 1, "column": 1}}
    assert "suggestions" not in first  # (its lines are the cell's, not the file's)
    pylint = CliRunner().invoke(main, ["check", "--output-format", "pylint", "."]).stdout
    assert pylint.startswith("train.ipynb:cell 4:3: [GL001] ")


def test_notebook_fix_keeps_layout(project):
    for indent in (1, 2):
        before = _write(project / "nb.ipynb", indent)
        result = CliRunner().invoke(main, ["check", "--fix", "nb.ipynb"])
        assert result.exit_code == 0, result.output
        after = (project / "nb.ipynb").read_text(encoding="utf-8")
        expected = json.loads(before)
        expected["cells"][3]["source"].insert(1, "    optimizer.zero_grad()\n")
        expected["cells"][4]["source"] = expected["cells"][4]["source"].replace(
            "v = w * 2\n", "v = w * 2\nv.retain_grad()\n")
        assert after == json.dumps(expected, indent=indent, ensure_ascii=False) + "\n"
        assert "%matplotlib inline" in after and "!nvidia-smi" in after and "%%timeit" in after


def test_invalid_notebook_is_reported_not_crashed(project):
    (project / "bad.ipynb").write_text("{not json")
    (project / "other.ipynb").write_text(json.dumps({"cells": "nope"}))
    data = json.loads(CliRunner().invoke(main, ["check", "--output-format", "json", "."]).stdout)
    assert [(d["path"], d["code"]) for d in data] == [("bad.ipynb", "GL000"), ("other.ipynb", "GL000")]
    assert "invalid JSON" in data[0]["message"]


def test_stdin(project):
    src = (FIXTURES / "gl002" / "flagged_article_example.py").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "gradlint", "check", "-", "--stdin-filename",
                           "pkg/train.py"], input=src, capture_output=True)
    assert proc.returncode == 1 and proc.stdout.decode().startswith("pkg/train.py:8:7: GL002")
    proc = subprocess.run([sys.executable, "-m", "gradlint", "check", "--fix", "-"], input=src,
                          capture_output=True)
    assert proc.returncode == 0
    assert proc.stdout.decode() == src.decode().replace("b = a * 2\n", "b = a * 2\nb.retain_grad()\n")
    (project / "pyproject.toml").write_text(
        "[tool.gradlint]\nper-file-ignores = { 'tests/*' = ['GL002'] }\n")
    proc = subprocess.run([sys.executable, "-m", "gradlint", "check", "-", "--stdin-filename",
                           "tests/t.py"], input=src, capture_output=True, cwd=project)
    assert proc.returncode == 0


def test_gitignore_is_respected(project):
    bug = (FIXTURES / "gl002" / "flagged_article_example.py").read_text()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".gitignore").write_text("generated/\nscratch.py\n")
    for rel in ("generated/a.py", "scratch.py", "src/train.py"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(bug)
    data = json.loads(CliRunner().invoke(main, ["check", "--output-format", "json", "."]).stdout)
    assert {d["path"] for d in data} == {"src/train.py"}
    data = json.loads(CliRunner().invoke(main, ["check", "--output-format", "json",
                                                "--no-respect-gitignore", "."]).stdout)
    assert len({d["path"] for d in data}) == 3
    (project / "pyproject.toml").write_text("[tool.gradlint]\nrespect-gitignore = false\n")
    data = json.loads(CliRunner().invoke(main, ["check", "--output-format", "json", "."]).stdout)
    assert {d["path"] for d in data} == {"src/train.py", "generated/a.py", "scratch.py"}
