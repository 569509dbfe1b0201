"""`blueprint ci`: base vs head in a scratch git repository made from the project.

The history (one small public stack, `ci-demo`, with training and two inference regions):

    start   the project, with the p99-latency alarm evaluating 4 periods instead of 3; no ci-demo
    demo    + stacks/Pulumi.ci-demo.yaml (Lustre 2400 GiB, inference in us-east-1 and us-west-2)
    code    the alarm back to the project's code (a component change, not a stack change)
    shrink  ci-demo's lustreCapacityGiB down to 1200 and its inference in us-east-1 only: two
            destructive changes with different causes, told apart by what they delete or replace
    gone    ci-demo deleted

Renders are content-addressed in the session's plan cache, so the tests share them: `code`'s
ci-demo plan is the base of `shrink` and `gone`, and three renders serve every test. The only
render with another program is `demo` (a subprocess running that commit's code).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from blueprints.cli import app

ROOT = Path(__file__).resolve().parents[3]
STACK = "stacks/Pulumi.ci-demo.yaml"
ALARMS = "components/serving_alarms.py"
P99 = "period=300, evaluation_periods=3, datapoints_to_alarm=2, threshold=args.p99_latency_ms"
DEMO = {
    "aws:region": "us-east-1",
    "ai-blueprints:blueprint": {
        "name": "ci-demo", "tier": "public", "owner": "ml@example.com", "costCenter": "CC-1",
        "training": {"enabled": True, "maxNodes": 1, "lustreCapacityGiB": 2400},
        "inference": {"enabled": True, "regions": ["us-east-1", "us-west-2"],
                      "modelImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/llm-server:1.4.2"},
        "siem": {"destination": "s3"},
    },
}
runner = CliRunner()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=ci", "-c", "user.email=ci@example.com",
                           "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, text=True).stdout


def _commit(repo: Path, tag: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", tag)
    _git(repo, "tag", tag)


def _write_demo(repo: Path, **changes) -> None:
    config = json.loads(json.dumps(DEMO))
    for section, values in changes.items():
        config["ai-blueprints:blueprint"][section].update(values)
    (repo / STACK).write_text(yaml.safe_dump({"config": config}, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The scratch repository: the project's files (tracked and new), the history above."""
    repo = tmp_path_factory.mktemp("ci-repo")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True, text=True).stdout.splitlines()
    for rel in listed:
        if (ROOT / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, repo / rel)
    _git(repo, "init", "--quiet", "-b", "main")
    alarms = (repo / ALARMS).read_text()
    assert P99 in alarms
    (repo / ALARMS).write_text(alarms.replace(P99, P99.replace("evaluation_periods=3", "evaluation_periods=4")))
    _commit(repo, "start")
    _write_demo(repo)
    _commit(repo, "demo")
    (repo / ALARMS).write_text(alarms)
    _commit(repo, "code")
    _write_demo(repo, training={"lustreCapacityGiB": 1200}, inference={"regions": ["us-east-1"]})
    _commit(repo, "shrink")
    (repo / STACK).unlink()
    _commit(repo, "gone")
    return repo


def ci(repo: Path, monkeypatch, at: str, *args: str):
    """`blueprint ci` run in `repo` with HEAD at the tag `at`; (result, ci.json, ci.md)."""
    _git(repo, "checkout", "--quiet", "--force", at)
    monkeypatch.chdir(repo)
    out = repo / ".blueprint" / "ci"
    shutil.rmtree(out, ignore_errors=True)
    result = runner.invoke(app, ["ci", *args, "--out-dir", str(out)])
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 2:
        return result, None, None
    return result, json.loads((out / "ci.json").read_text()), (out / "ci.md").read_text()


def _stack(doc: dict, name: str = "ci-demo") -> dict:
    return next(s for s in doc["stacks"] if s["stack"] == name)


def test_a_component_change_shows_on_the_stack_that_uses_it(repo, monkeypatch):
    result, doc, md = ci(repo, monkeypatch, "code", "--base", "HEAD~1", STACK)
    assert result.exit_code == 0, result.output
    demo = _stack(doc)
    assert demo["status"] == "changed"
    changes = demo["diff"]["changes"]
    # Only the alarm changed, in both regions, and only in its evaluation periods.
    assert {c["type"] for c in changes} == {"aws:cloudwatch/metricAlarm:MetricAlarm"}
    assert len(changes) == 2 and all(c["op"] == "update" and c["changedKeys"] == ["evaluationPeriods"] for c in changes)
    assert {(c["before"]["evaluationPeriods"], c["after"]["evaluationPeriods"]) for c in changes} == {(4, 3)}
    assert doc["destructive"] == [] and demo["cost"]["changeMonthlyUsd"] == 0
    assert "`ci-demo` (changed)" in md and "PASS" in md and len(md) < 65_000
    # the changed stack's picture, as `blueprint diagram --format markdown` draws its head plan
    assert [s["title"] for s in demo["sections"]] == ["Diagram"]
    assert "```mermaid\nflowchart" in demo["sections"][0]["markdown"] and "```mermaid" in md
    sarif = json.loads((repo / ".blueprint" / "ci" / "ci.sarif").read_text())
    assert [r["automationDetails"]["id"] for r in sarif["runs"]] == ["ai-blueprints-guardrails/ci-demo/public"]


def test_lowering_lustre_capacity_or_removing_a_region_is_destructive_and_fails_unless_allowed(repo, monkeypatch):
    result, doc, md = ci(repo, monkeypatch, "shrink", "--base", "code", STACK)
    assert result.exit_code == 1, result.output
    # Lustre capacity down: the file system is replaced (FSx for Lustre only grows).
    [lustre] = [d for d in doc["destructive"] if d["type"] == "aws:fsx/lustreFileSystem:LustreFileSystem"]
    assert lustre["op"] == "replace" and any("`storageCapacity`" in r for r in lustre["reasons"])
    # us-west-2 removed: its cluster and log groups are deleted; nothing in us-east-1 is.
    deleted = [d for d in doc["destructive"] if d["op"] == "delete"]
    assert {"aws:eks/cluster:Cluster", "aws:cloudwatch/logGroup:LogGroup"} <= {d["type"] for d in deleted}
    assert all("usw2" in d["name"] for d in deleted if d["type"] == "aws:eks/cluster:Cluster")
    assert "destructive: ci-demo: delete aws:eks/cluster:Cluster" in result.output
    assert md.index("### Destructive changes") < md.index("### Stacks") and "FAIL" in md
    assert _stack(doc)["cost"]["changeMonthlyUsd"] < 0
    allowed, doc, _ = ci(repo, monkeypatch, "shrink", "--base", "code", STACK, "--allow-destructive")
    assert allowed.exit_code == 0, allowed.output
    assert doc["destructive"] and doc["allowDestructive"] is True


def test_a_new_stack_diffs_against_nothing_and_a_deleted_one_shows_its_deletions(repo, monkeypatch):
    result, doc, _ = ci(repo, monkeypatch, "code", "--base", "start", STACK)
    assert result.exit_code == 0, result.output
    demo = _stack(doc)
    assert demo["status"] == "new" and demo["diff"]["summary"]["delete"] == 0
    assert demo["diff"]["summary"]["create"] > 100 and demo["cost"]["beforeMonthlyUsd"] == 0
    result, doc, _ = ci(repo, monkeypatch, "gone", "--base", "code", STACK)
    demo = _stack(doc)
    assert demo["status"] == "deleted" and demo["check"] is None
    summary = demo["diff"]["summary"]
    assert summary["delete"] > 100 and summary["create"] == summary["update"] == summary["same"] == 0
    assert result.exit_code == 1 and doc["destructive"]  # its buckets, keys and file system go too


def test_bad_input_exits_2_naming_each_problem(repo, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["ci", "--base", "main"])
    assert result.exit_code == 2 and "not a git repository" in result.output
    result, _, _ = ci(repo, monkeypatch, "code", "--base", "no-such-branch", STACK)
    assert result.exit_code == 2 and "--base no-such-branch: unknown ref" in result.output
    result, _, _ = ci(repo, monkeypatch, "code", "--base", "HEAD~1", "stacks/Pulumi.nope.yaml")
    assert result.exit_code == 2 and "stacks/Pulumi.nope.yaml: no such stack file" in result.output
    broken = repo / "stacks" / "Pulumi.broken.yaml"
    broken.write_text(yaml.safe_dump({"config": {"ai-blueprints:blueprint": {"name": "x", "tier": "secret"}}}))
    try:
        result = runner.invoke(app, ["ci", "--base", "HEAD~1", str(broken), STACK])
    finally:
        broken.unlink()
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: stacks/Pulumi.broken.yaml: ")]
    assert len(lines) >= 2  # every problem, one line each (name pattern, tier, owner, ...)
