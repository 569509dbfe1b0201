"""The first hour (issue 16): a newcomer follows the README in a fresh copy and never hits a wall.

What is cheap here is cheap on purpose: the spec and the program are tested without a render,
and the renders this file needs go through tests/conftest.py's shared cache.
"""

from __future__ import annotations

import pytest

from blueprints.plan.engine import run_program
from blueprints.spec import CONFIG_KEY

SPLUNK_WITHOUT_TOKEN = {
    "name": "first-hour", "tier": "internal", "owner": "ml@example.com", "costCenter": "CC-1",
    "adminCidrs": ["203.0.113.0/24"], "training": {"enabled": False}, "inference": {"enabled": False},
    "siem": {"destination": "splunk", "endpoint": "https://splunk.example.com:8088"},
}


def test_the_program_knows_the_offline_engine_from_a_real_one():
    from blueprints.program import under_offline_engine

    seen = []
    run_program(lambda: seen.append(under_offline_engine()), stack="probe", config={"aws:region": "eu-west-1"},
                secret_keys=[])
    assert seen == [True]
    assert under_offline_engine() is False  # no engine at all: not the offline one


def test_a_missing_siem_token_stops_a_real_pulumi_up_before_any_resource(monkeypatch):
    import json

    import pulumi

    from blueprints import blueprint, program

    config = {"aws:region": "us-east-2", CONFIG_KEY: json.dumps(SPLUNK_WITHOUT_TOKEN)}
    monkeypatch.setattr(program, "under_offline_engine", lambda: False)  # as under `pulumi up`
    monkeypatch.setattr(blueprint, "build", lambda spec: pytest.fail("resources were registered"))
    with pytest.raises(pulumi.RunError) as caught:
        run_program(program.main, stack="first-hour", config=config, secret_keys=[])
    assert "siem.token: required for destination splunk" in str(caught.value)
    assert "pulumi config set --secret --path 'ai-blueprints:blueprint.siem.token' <token>" in str(caught.value)


# -- every file `new` can write validates, and a covering set renders and checks clean ----------

import json  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
from itertools import product  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from blueprints.cli import app  # noqa: E402
from blueprints.tiers import get_tier  # noqa: E402
from tests.conftest import PIN_OPTIONS, ROOT  # noqa: E402

README = (ROOT / "README.md").read_text()
DEPLOY = README.split("\n## Deploying for real\n")[1].split("\n## ")[0]
runner = CliRunner()

WHERE = {
    "public": ["--region", "us-east-1"],
    "internal": ["--region", "us-east-2"],
    "confidential": ["--region", "eu-west-1", "--inference-region", "eu-west-1", "--inference-region", "eu-central-1",
                     "--training-account", "444444444444", "--inference-account", "555555555555"],
    "restricted": ["--region", "eu-west-1", "--inference-region", "eu-west-1", "--inference-region", "eu-central-1",
                   "--training-account", "111111111111", "--inference-account", "222222222222",
                   "--log-archive-account", "333333333333"],
}
SIEM = {"s3": [], "http": ["--siem-endpoint", "https://siem.example.com/ingest"],
        "splunk": ["--siem-endpoint", "https://splunk.example.com:8088"]}


def new_args(tier: str, training: bool, inference: bool, siem: str) -> list[str]:
    return ["--tier", tier, *WHERE[tier], *([] if training else ["--no-training"]),
            *([] if inference else ["--no-inference"]), "--siem", siem, *SIEM[siem],
            *(PIN_OPTIONS if get_tier(tier).image_digests else [])]


def invoke(*args) -> "object":
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_every_file_new_can_write_validates(tmp_path):
    """Each tier x training on/off x inference on/off x SIEM destination: 48 files, through the
    CLI as a user runs it (no render: validate reads the spec)."""
    written = 0
    for tier, training, inference, siem in product(WHERE, (True, False), (True, False), SIEM):
        name = f"{tier[:4]}-{int(training)}{int(inference)}-{siem}"
        made = invoke("new", name, *new_args(tier, training, inference, siem), "--dir", tmp_path)
        assert made.exit_code == 0, (name, made.output)
        path = tmp_path / f"Pulumi.{name}.yaml"
        assert f"# Validate offline:  blueprint validate {path}\n" in path.read_text()  # the real path
        checked = invoke("validate", path)
        assert checked.exit_code == 0 and checked.output.startswith(f"ok: {path}"), (name, checked.output)
        warnings = [line.split(": ")[2] for line in checked.output.splitlines() if line.startswith("warning: ")]
        # What `pulumi up` still needs is said at validate: the token, and the way to a private API.
        assert ("siem.token" in warnings) == (siem != "s3"), (name, warnings)
        eks = training or inference
        assert ("deployerCidrs" in warnings) == (eks and tier in ("confidential", "restricted")), (name, warnings)
        assert ("adminCidrs" in warnings) == (eks and tier == "internal"), (name, warnings)
        written += 1
    assert written == 48


# The covering set, rendered and checked: 4 renders instead of 48, within the test budget (a render
# and its check cost ~6 s of CPU). Each part is rendered on both network and account layouts: NAT
# in one account (public: both parts) and air-gapped in three accounts (restricted: both parts, and
# inference alone, where a missing part also changes which accounts and regions the security
# services run in), plus training alone on confidential (air-gapped, two accounts, the archive in
# the deploying account). Internal's layout is public's with CMKs and an allowlisted endpoint, the
# one its example stack renders and tests/policies/test_examples.py checks; its `new` files differ
# from it only in values validated above. The SIEM destination changes only the SiemShipper's
# Firehose destination, the same on every tier: s3, http and splunk are each rendered. A stack with
# neither part is the security part every render holds; it goes through validate above. The
# restricted splunk file is the README walkthrough's: its render is shared with the walkthrough test
# below (same stack name and config, conftest `cli_renders`), so it costs this test nothing.
COVERING_SET = [
    ("public", True, True, "s3"),
    ("confidential", True, False, "http"),
    ("restricted", True, True, "splunk"),
    ("restricted", False, True, "s3"),
]


@pytest.mark.usefixtures("cli_renders")
@pytest.mark.parametrize("tier, training, inference, siem", COVERING_SET)
def test_the_covering_set_of_new_files_renders_and_checks_with_no_violation(tier, training, inference, siem, tmp_path,
                                                                            cli_renders):
    name = "fraud-models" if (tier, siem) == ("restricted", "splunk") else f"{tier[:4]}-{int(training)}{int(inference)}-{siem}"
    assert invoke("new", name, *new_args(tier, training, inference, siem), "--dir", tmp_path).exit_code == 0
    result = invoke("check", tmp_path / f"Pulumi.{name}.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    # No violation at all, advisory included: what a tier deliberately relaxes (its matrix row:
    # AWS managed keys, no versioning, an open EKS API on public, ...) is off in its pack, not
    # reported against every file it writes.
    assert (doc["summary"]["mandatoryViolations"], doc["summary"]["advisoryViolations"]) == (0, 0), [
        f["rule"] for f in doc.get("findings", []) if f.get("outcome") == "violation"]


# -- done when: the README's walkthrough runs offline, as written -------------------------------

def _walkthrough_offline_commands() -> list[str]:
    """The commands of the README's "Deploying for real" block before its Pulumi CLI half, that run
    without the Pulumi CLI or AWS: `blueprint ...` and the CrossGuard config (comments dropped)."""
    block = DEPLOY.split("```sh\n")[1].split("```")[0].replace("\\\n", " ")
    offline, pulumi_half = block.split("# -- with the Pulumi CLI")
    assert "pulumi " not in offline.replace("`pulumi up`", "")  # nothing offline needs the CLI
    assert all(line.startswith(("pulumi ", "#")) for line in pulumi_half.splitlines()[1:])  # [0]: the marker's rest
    return [re.sub(r"\s+#.*$", "", line).strip() for line in offline.splitlines()
            if line.startswith(("blueprint ", "python -m policies.crossguard.config "))]


@pytest.mark.usefixtures("cli_renders")
def test_the_readme_walkthrough_runs_offline_in_a_fresh_copy(tmp_path, monkeypatch, cli_renders):
    from policies.crossguard.config import main as crossguard_config

    commands = _walkthrough_offline_commands()
    verbs = [c.split()[1] if c.startswith("blueprint ") else "crossguard" for c in commands]
    assert verbs == ["new", "validate", "plan", "check", "cost", "crossguard"]
    assert "make install" in DEPLOY.split("```sh\n")[1].split("\n")[0]
    monkeypatch.chdir(tmp_path)  # a fresh copy: no stacks/, no .blueprint/ yet
    for command in commands:
        args = shlex.split(command)
        if args[0] == "blueprint":
            result = invoke(*args[1:])
            assert result.exit_code == 0, (command, result.output)
        else:
            assert crossguard_config(args[3:]) == 0, command
    assert (tmp_path / "stacks" / "Pulumi.fraud-models.yaml").is_file()
    assert json.loads((tmp_path / ".blueprint" / "plans" / "fraud-models.json").read_text())["stack"] == "fraud-models"
    assert (tmp_path / ".blueprint" / "crossguard" / "fraud-models.json").is_file()


def test_what_blueprint_writes_by_default_is_ignored_by_git_and_make_install_runs_no_tests():
    import subprocess

    for path in (".blueprint/plans/x.json", ".blueprint/crossguard/x.json", ".blueprint/cache/x"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, path
    makefile = (ROOT / "Makefile").read_text()
    install = re.search(r"^install: (.*)$", makefile, re.M)
    assert install is not None and install.group(1).strip() == "$(STAMP)"
    stamp_recipe = makefile.split("$(STAMP): pyproject.toml\n")[1].split("\n\n")[0]
    assert "pytest" not in stamp_recipe and "venv" in stamp_recipe
