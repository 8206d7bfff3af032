"""Rules from outside gradlint: installed plugins (entry points) and a project's own.

Plugins join the registry of the process that loads them, so every test runs gradlint
in a child process: a package is "installed" by putting its `.dist-info` folder and its
module on the child's PYTHONPATH, which importlib.metadata reads as it reads
site-packages; one test installs the example plugin with a real `pip install`.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

RULE_MODULE = '''
import libcst as cst
from gradlint.api import Fix, Rule, RuleDocs

GRADLINT_API = {api}


def check(ctx):
    {body}


RULES = [Rule(code="{code}", name="{name}", summary="Calls of print.", check=check,
              default={default}, fixable=True,
              docs=RuleDocs(what="w", why="y", example="print(1)", use_instead="pass"))]
'''
# reports every call of `print`, with a fix that deletes its arguments
PRINT_CALLS = '''for node in _calls(ctx.module):
        yield ctx.report(node, "print called", help="Log instead.",
                         fix=Fix("safe", "no arguments", (ctx.replace(node, "print()"),)))


def _calls(module):
    found = []

    class Visitor(cst.CSTVisitor):
        def visit_Call(self, node):
            if isinstance(node.func, cst.Name) and node.func.value == "print" and node.args:
                found.append(node)

    module.visit(Visitor())
    return found'''

PROGRAM = textwrap.dedent("""\
    import torch

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        loss = model(torch.randn(2)).sum()
        loss.backward()
        opt.step()
        print(loss.item())
    """)


def rule_module(code="PX001", name="print-call", body=PRINT_CALLS, default=False, api=1):
    return RULE_MODULE.format(code=code, name=name, body=body, default=default, api=api)


def install(site: Path, dist: str, prefix: str, module: str, source: str) -> None:
    """A package as pip leaves it: its module and a .dist-info with the entry point."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    meta = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (meta / "entry_points.txt").write_text(f"[gradlint.rules]\n{prefix} = {module}\n")


def gradlint(cwd: Path, *args, site: Path = None):
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "gradlint", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def work(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "train.py").write_text(PROGRAM)
    return tmp_path


def test_installed_plugin_is_listed_off_and_runs_when_selected(work):
    site, project = work / "site", work / "project"
    install(site, "print-rules", "PX", "print_rules", rule_module())
    listing = gradlint(project, "rules", site=site)
    assert "PX001  print-call" in listing.stdout and "[print-rules 1.0]" in listing.stdout
    row = next(line for line in listing.stdout.splitlines() if line.startswith("PX001"))
    assert " off " in row
    default = gradlint(project, "check", "--no-cache", "--output-format", "concise", site=site)
    assert "PX001" not in default.stdout and "GL001" in default.stdout
    chosen = gradlint(project, "check", "--no-cache", "--extend-select", "PX",
                      "--output-format", "concise", site=site)
    assert "train.py:9:5: PX001 print called" in chosen.stdout, chosen.stdout + chosen.stderr
    explained = gradlint(project, "rule", "PX001", site=site)
    assert "# print-call (PX001)" in explained.stdout


def test_plugin_rules_marked_default_are_on_and_fixable(work):
    site, project = work / "site", work / "project"
    install(site, "print-rules", "PX", "print_rules", rule_module(default=True))
    fixed = gradlint(project, "check", "--no-cache", "--fix", "--select", "PX", site=site)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "print()" in (project / "train.py").read_text()
    (project / "train.py").write_text(PROGRAM.replace("print(loss.item())",
                                                      "print(loss.item())  # noqa: PX001"))
    silenced = gradlint(project, "check", "--no-cache", "--select", "PX", site=site)
    assert silenced.returncode == 0, silenced.stdout


def test_two_plugins_with_one_prefix_is_an_error_naming_both(work):
    site, project = work / "site", work / "project"
    install(site, "print-rules", "PX", "print_rules", rule_module())
    install(site, "other-rules", "PX", "other_rules", rule_module(code="PX002", name="other"))
    run = gradlint(project, "check", "--no-cache", site=site)
    assert run.returncode == 2
    assert "print-rules 1.0" in run.stderr and "other-rules 1.0" in run.stderr
    assert "prefix PX" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("prefix, source, said", [
    ("PX", "raise ImportError('no such thing')", "failed to load: ImportError: no such thing"),
    ("PX", rule_module(api=99), "written for gradlint.api version 99"),
    ("GLX", rule_module(code="GLX001"), "not starting with GL"),
    ("PX", rule_module(code="QQ001"), "rule code 'QQ001' must be PX and three digits"),
    ("PX", "GRADLINT_API = 1\nRULES = [42]", "not a gradlint.api.Rule"),
])
def test_a_broken_plugin_is_reported_and_the_run_goes_on(work, prefix, source, said):
    site, project = work / "site", work / "project"
    install(site, "broken-rules", prefix, "broken_rules", source)
    run = gradlint(project, "check", "--no-cache", "--output-format", "concise", site=site)
    assert run.returncode == 2
    assert "GL001" in run.stdout  # gradlint's own rules still ran
    assert "broken-rules 1.0" in run.stderr and said in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("body, said", [
    ("raise ValueError('bad plugin')\n    yield", "raised ValueError: bad plugin"),
    ("while True:\n        pass\n    yield", "did not finish within 1 s"),
    ("yield 'not a diagnostic'", "not a diagnostic of PX001"),
])
def test_a_check_that_fails_is_gl999_naming_the_plugin(work, body, said):
    site, project = work / "site", work / "project"
    install(site, "print-rules", "PX", "print_rules", rule_module(body=body))
    run = gradlint(project, "check", "--no-cache", "--select", "GL001,PX",
                   "--config", "file-timeout = 1", "--output-format", "concise", site=site)
    assert "GL001" in run.stdout
    [line] = [x for x in run.stdout.splitlines() if "GL999" in x]
    assert "PX001 (print-rules 1.0)" in line and said in line, line
    assert run.returncode == 2


def test_jobs_cache_and_flake8_see_the_plugin(work):
    site, project = work / "site", work / "project"
    install(site, "print-rules", "PX", "print_rules", rule_module())
    for name in ("a.py", "b.py", "c.py"):
        shutil.copy(project / "train.py", project / name)
    args = ("check", "--select", "PX", "--jobs", "2", "--output-format", "concise")
    first = gradlint(project, *args, site=site)
    assert first.stdout.count("PX001") == 4, first.stdout + first.stderr
    assert gradlint(project, *args, site=site).stdout == first.stdout  # from the cache
    # a new version of the plugin (another message): the cache must not answer
    (site / "print_rules.py").write_text(rule_module(body=PRINT_CALLS.replace(
        '"print called"', '"print is called"')))
    again = gradlint(project, *args, site=site)
    assert again.stdout.count("print is called") == 4, again.stdout
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get(
        "PYTHONPATH", "")]))
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select", "GL,PX", "a.py"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert "a.py:9:5: PX001 print is called" in flake8.stdout, flake8.stdout + flake8.stderr
    assert "GL001" in flake8.stdout


LOCAL_CONFIG = 'local-rules = ["lint_rules"]\n'


def test_local_rules_are_off_until_selected_and_in_the_cache_key(work):
    project = work / "project"
    (project / "lint_rules").mkdir()
    (project / "lint_rules" / "prints.py").write_text(rule_module(code="HX001"))
    (project / "gradlint.toml").write_text(LOCAL_CONFIG)
    off = gradlint(project, "check", "--output-format", "concise")
    assert "HX001" not in off.stdout and "GL001" in off.stdout, off.stderr
    (project / "gradlint.toml").write_text(LOCAL_CONFIG + 'extend-select = ["HX001"]\n')
    on = gradlint(project, "check", "--output-format", "concise")
    assert "train.py:9:5: HX001 print called" in on.stdout, on.stdout + on.stderr
    (project / "lint_rules" / "prints.py").write_text(rule_module(
        code="HX001", body=PRINT_CALLS.replace('"print called"', '"print seen"')))
    edited = gradlint(project, "check", "--output-format", "concise")
    assert "HX001 print seen" in edited.stdout  # the rule's file is part of the cache key
    listing = gradlint(project, "rules")
    assert "HX001" in listing.stdout and "lint_rules" in listing.stdout


def test_local_rules_count_only_where_configured(work):
    """A project whose configuration names no local rules does not get another's, even
    with ALL selected, in the same run."""
    project = work / "project"
    (project / "lint_rules").mkdir()
    (project / "lint_rules" / "prints.py").write_text(rule_module(code="HX001"))
    (project / "gradlint.toml").write_text(LOCAL_CONFIG + 'extend-select = ["HX"]\n')
    other = project / "vendored"
    other.mkdir()
    shutil.copy(project / "train.py", other / "train.py")
    (other / "gradlint.toml").write_text('select = ["ALL"]\n')
    run = gradlint(project, "check", "--no-cache", "--output-format", "concise")
    assert "train.py:9:5: HX001" in run.stdout
    assert not [x for x in run.stdout.splitlines() if x.startswith("vendored") and "HX001" in x]


@pytest.mark.parametrize("setup, said", [
    (lambda p: None, "option 'local-rules':"),
    (lambda p: (p / "lint_rules").mkdir() or (p / "lint_rules" / "bad.py").write_text(
        "1 / 0\n"), "bad.py failed to load: ZeroDivisionError"),
    (lambda p: (p / "lint_rules").mkdir() or (p / "lint_rules" / "bad.py").write_text(
        rule_module(code="GL001")), "must be one to three capital letters (not GL)"),
])
def test_bad_local_rules_name_the_option_and_the_file(work, setup, said):
    project = work / "project"
    (project / "gradlint.toml").write_text(LOCAL_CONFIG)
    setup(project)
    run = gradlint(project, "check", "--no-cache")
    assert run.returncode == 2
    assert "gradlint.toml" in run.stderr and said in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


FACTS_PROBE = '''f = ctx.facts
    for b in f.backwards:
        yield ctx.report(b.node, f"backward {b.tensor.requires_grad} {b.tensor.leaf} "
                                 f"{b.tensor.graph} {b.retain_graph} {b.loop is not None}")
    for s in f.steps:
        yield ctx.report(s.node, f"step {s.optimizer} {s.parameters}")
    for c in f.clears:
        yield ctx.report(c.node, f"clear {c.parameters}")
    for r in f.grad_reads:
        yield ctx.report(r.node, f"read {r.tensor.requires_grad} {r.tensor.leaf}")
    for w in f.no_grad_blocks():
        yield ctx.report(w, f"no_grad {f.grad_mode(w.body.body[0])}")'''


def test_a_rule_reads_the_autograd_facts(work):
    project = work / "project"
    (project / "lint_rules").mkdir()
    (project / "lint_rules" / "probe.py").write_text(rule_module(code="HX001",
                                                                 body=FACTS_PROBE))
    (project / "gradlint.toml").write_text(LOCAL_CONFIG)
    (project / "probe.py").write_text(textwrap.dedent("""\
        import torch
        model = torch.nn.Linear(2, 2)
        head = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        w = torch.randn(2, requires_grad=True)
        for x in range(3):
            opt.zero_grad()
            loss = model(torch.randn(2)).sum() + (w * 2).sum()
            loss.backward(retain_graph=True)
            print(w.grad)
            opt.step()
        with torch.no_grad():
            y = head(torch.randn(2))
        """))
    run = gradlint(project, "check", "--no-cache", "--select", "HX", "probe.py",
                   "--output-format", "concise")
    said = {line.split(": HX001 ")[0].split(":", 1)[1]: line.split(": HX001 ")[1]
            for line in run.stdout.splitlines() if ": HX001 " in line}
    assert said == {
        "9:5": "backward True False True True True",
        "11:5": "step opt ('model',)",
        "7:5": "clear ('model',)",
        "10:11": "read True True",
        "12:1": "no_grad False",
    }, run.stdout + run.stderr


def test_example_plugin_installed_by_pip_into_a_venv(tmp_path):
    """examples/plugin, installed with a real `pip install` into a new environment (it
    sees this gradlint through the system site-packages): listed, run, and its own
    fixture test passes through gradlint.testing."""
    source = tmp_path / "plugin"
    shutil.copytree(ROOT / "examples" / "plugin", source)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-deps",
                                "--no-build-isolation", "--no-index", str(source)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    listing = subprocess.run([python, "-m", "gradlint", "rules"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert "HR001" in listing.stdout and "gradlint-house-rules 0.1.0" in listing.stdout
    fixtures = source / "tests" / "fixtures"
    run = subprocess.run([python, "-m", "gradlint", "check", "--no-cache", "--select", "HR",
                          "--output-format", "concise", str(fixtures)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.count("HR001") == 1 and run.stdout.count("HR002") == 1, run.stdout
    tests = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(source / "tests")], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_the_language_server_reports_local_rules(work):
    """The server reads the project's configuration per document: its local rules run."""
    pytest.importorskip("pygls")
    import asyncio

    from lsprotocol import types as t
    from test_server import start_client

    project = work / "project"
    (project / "lint_rules").mkdir()
    (project / "lint_rules" / "prints.py").write_text(rule_module(code="HX001"))
    (project / "gradlint.toml").write_text(LOCAL_CONFIG + 'extend-select = ["HX001"]\n')

    async def session():
        client, published = await start_client(project)
        try:
            client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(
                uri=(project / "train.py").as_uri(), language_id="python", version=1,
                text=PROGRAM)))
            found = await asyncio.wait_for(published.get(), 60)
            await client.shutdown_async(None)
            client.exit(None)
        finally:
            await client.stop()
        return found

    found = asyncio.run(session())
    by_code = {d.code: d for d in found.diagnostics}
    assert set(by_code) == {"GL001", "HX001"}
    assert by_code["HX001"].range.start == t.Position(8, 4)
    assert by_code["HX001"].code_description is None  # (the rule names no page)


def test_check_fixtures_fails_when_the_rules_are_not_there(tmp_path):
    """The helper cannot pass by checking nothing: a selection of no installed rule, a
    marked line not reported, an unmarked one reported, a wrong fixed text all fail."""
    from gradlint.testing import check_fixtures

    (tmp_path / "flagged.py").write_text(PROGRAM.replace("loss.backward()",
                                                         "loss.backward()  # error: GL001"))
    with pytest.raises(AssertionError, match="selects no rule"):
        check_fixtures(str(tmp_path), select=["ZZ"])
    assert check_fixtures(str(tmp_path), select=["GL001"]) == 1
    (tmp_path / "flagged.py").write_text(PROGRAM)
    with pytest.raises(AssertionError, match="7: GL001 reported, not marked"):
        check_fixtures(str(tmp_path), select=["GL001"])
    (tmp_path / "flagged.py").write_text(PROGRAM.replace("model = ", "model = 1  # error: GL001\nmodel = "))
    with pytest.raises(AssertionError, match="3: GL001 expected, not reported"):
        check_fixtures(str(tmp_path), select=["GL001"])
    (tmp_path / "flagged.py").write_text(PROGRAM.replace("loss.backward()",
                                                         "loss.backward()  # error: GL001"))
    (tmp_path / "flagged.fixed.py").write_text(PROGRAM)
    with pytest.raises(AssertionError, match="differs from"):
        check_fixtures(str(tmp_path), select=["GL001"])


@pytest.mark.torch
def test_the_example_plugins_claim_is_what_pytorch_does(tmp_path):
    """HR002's fixture, run under PyTorch: the saved tensor loads back as a leaf that
    requires grad; after the fix it does not require grad."""
    pytest.importorskip("torch")
    fixtures = ROOT / "examples" / "plugin" / "tests" / "fixtures"
    said = {}
    for name in ("flagged_cache_embeddings.py", "flagged_cache_embeddings.fixed.py"):
        run = subprocess.run([sys.executable, str(fixtures / name)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
        said[name] = run.stdout.split()
    assert said == {"flagged_cache_embeddings.py": ["True", "True"],
                    "flagged_cache_embeddings.fixed.py": ["False", "True"]}
