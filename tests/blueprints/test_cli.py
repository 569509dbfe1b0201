"""Every `blueprint` verb through typer's test runner: output, exit codes, no tracebacks."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from blueprints.cli import app
from tests.conftest import PIN_OPTIONS, STACKS, spec_config, write_stack

runner = CliRunner()
RESTRICTED = str(STACKS / "Pulumi.restricted-example.yaml")


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


# One render serves every verb that reads the same stack (tests/conftest.py `cli_renders`).
pytestmark = pytest.mark.usefixtures("cli_renders")


# -- tiers ------------------------------------------------------------------------------

def test_tiers_table_lists_every_tier_and_guardrail():
    result = run("tiers")
    assert result.exit_code == 0
    for word in ("public", "internal", "confidential", "restricted", "log retention", "2557"):
        assert word in result.output


def test_tiers_json_and_markdown():
    doc = json.loads(run("tiers", "--format", "json").output)
    assert doc["tiers"]["restricted"]["api_auth"] == ["iam"]
    md = run("tiers", "--format", "markdown").output
    assert md.startswith("| guardrail | public | internal | confidential | restricted |")


def test_tiers_rejects_an_unknown_format():
    result = run("tiers", "--format", "yaml")
    assert result.exit_code == 2 and "yaml" in result.output


# -- new / validate ------------------------------------------------------------------------

THREE_ACCOUNTS = ("--training-account", "111111111111", "--inference-account", "222222222222",
                  "--log-archive-account", "333333333333")
PINS = PIN_OPTIONS  # restricted pins images by digest


def test_new_writes_a_valid_commented_stack_and_never_overwrites(tmp_path):
    result = run("new", "ledger-ai", "--tier", "restricted", "--region", "eu-west-1",
                 "--inference-region", "eu-west-1", "--inference-region", "eu-central-1", *THREE_ACCOUNTS, *PINS,
                 "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    path = tmp_path / "Pulumi.ledger-ai.yaml"
    text = path.read_text()
    assert "# " in text and "pulumi config set --secret" in text
    config = yaml.safe_load(text)["config"]
    assert config["ai-blueprints:blueprint"]["residency"] == "eu"
    assert run("validate", path).exit_code == 0
    again = run("new", "ledger-ai", "--tier", "public", "--region", "us-east-1", "--dir", tmp_path)
    assert again.exit_code == 2 and "already exists" in again.output
    assert path.read_text() == text


def test_new_without_training_or_inference(tmp_path):
    result = run("new", "infer-only", "--tier", "public", "--region", "us-east-1", "--no-training", "--dir", tmp_path)
    assert result.exit_code == 0
    config = yaml.safe_load((tmp_path / "Pulumi.infer-only.yaml").read_text())["config"]["ai-blueprints:blueprint"]
    assert config["training"]["enabled"] is False and config["inference"]["enabled"] is True
    result = run("new", "train-only", "--tier", "internal", "--region", "us-east-2", "--no-inference", "--dir", tmp_path)
    assert run("validate", tmp_path / "Pulumi.train-only.yaml").exit_code == 0


def test_new_marks_the_siem_token_with_the_secret_command(tmp_path):
    result = run("new", "soc-feed", "--tier", "internal", "--region", "us-east-2", "--siem", "splunk",
                 "--siem-endpoint", "https://splunk.example.com:8088", "--dir", tmp_path)
    assert result.exit_code == 0
    text = (tmp_path / "Pulumi.soc-feed.yaml").read_text()
    assert "# token: SET ME as a secret" in text
    assert "pulumi config set --secret --path 'ai-blueprints:blueprint.siem.token'" in text
    assert "pulumi config set --secret" in result.output


def test_new_refuses_too_few_regions_for_the_tier(tmp_path):
    result = run("new", "ledger-ai", "--tier", "confidential", "--region", "eu-west-1", "--dir", tmp_path)
    assert result.exit_code == 2
    assert "--inference-region" in result.output and not list(tmp_path.iterdir())


@pytest.mark.parametrize("tier", ["public", "internal", "confidential", "restricted"])
def test_new_with_accounts_writes_an_accounts_block_that_validates_on_every_tier(tier, tmp_path):
    result = run("new", f"{tier[:4]}-accts", "--tier", tier, "--region", "eu-west-1", "--inference-region", "eu-west-1",
                 "--inference-region", "eu-central-1", *THREE_ACCOUNTS, "--deploy-role", "OrgDeployer", *PINS,
                 "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    path = tmp_path / f"Pulumi.{tier[:4]}-accts.yaml"
    validated = run("validate", path)
    assert validated.exit_code == 0 and "accounts." not in validated.output, validated.output
    text = path.read_text()
    assert yaml.safe_load(text)["config"]["ai-blueprints:blueprint"]["accounts"] == {
        "training": "111111111111", "inference": "222222222222", "logArchive": "333333333333", "deployRole": "OrgDeployer"}
    assert "      training: \"111111111111\"              # training VPC, cluster" in text  # quoted, commented
    assert "first: create the role OrgDeployer in account(s) 111111111111, 222222222222, 333333333333" in result.output


@pytest.mark.parametrize("tier", ["confidential", "restricted"])
def test_the_external_id_the_scaffold_and_cli_name_is_the_one_the_providers_send(tier, tmp_path):
    from blueprints.scaffold import parse_scaffold

    result = run("new", "ext-id", "--tier", tier, "--region", "eu-west-1", "--inference-region", "eu-west-1",
                 "--inference-region", "eu-central-1", *THREE_ACCOUNTS, *PINS, "--dir", tmp_path)
    text = (tmp_path / "Pulumi.ext-id.yaml").read_text()
    external_id = parse_scaffold(text).external_id
    assert external_id == "ai-blueprints-ext-id"
    assert f"# trusting your deployer with the condition sts:ExternalId = {external_id}" in text
    assert f"with the condition sts:ExternalId = {external_id}" in result.output


@pytest.mark.parametrize("tier, given, missing", [
    ("restricted", (), ["--training-account", "--inference-account", "--log-archive-account"]),
    ("restricted", ("--training-account", "111111111111"), ["--inference-account", "--log-archive-account"]),
    ("confidential", ("--training-account", "111111111111"), ["--inference-account"]),
    ("public", ("--log-archive-account", "333333333333"), ["--training-account", "--inference-account"]),
])
def test_new_without_the_accounts_the_tier_separates_exits_2_naming_the_options_and_writes_nothing(
        tier, given, missing, tmp_path):
    result = run("new", "no-accts", "--tier", tier, "--region", "eu-west-1", "--inference-region", "eu-west-1",
                 "--inference-region", "eu-central-1", *given, "--dir", tmp_path)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: {', '.join(missing)}: required ")
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


@pytest.mark.parametrize("tier, accounts, message", [
    ("restricted", ("--training-account", "111111111111", "--inference-account", "222222222222",
                    "--log-archive-account", "222222222222"),
     "error: --log-archive-account: 222222222222 is also a workload account"),
    ("confidential", ("--training-account", "111111111111", "--inference-account", "111111111111"),
     "error: --inference-account: 111111111111 is also --training-account"),
    ("confidential", ("--training-account", "1111", "--inference-account", "222222222222"),
     "error: --training-account: must be a 12-digit AWS account id (got '1111')"),
    ("restricted", (*THREE_ACCOUNTS, "--deploy-role", "arn:aws:iam::111111111111:role/x"),
     "error: --deploy-role: must be an IAM role name"),
])
def test_new_reports_bad_accounts_against_the_options_that_set_them(tier, accounts, message, tmp_path):
    result = run("new", "bad-accts", "--tier", tier, "--region", "eu-west-1", "--inference-region", "eu-west-1",
                 "--inference-region", "eu-central-1", *accounts, "--dir", tmp_path)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "accounts." not in result.output  # the options the user typed, not the keys they set
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_new_on_confidential_without_a_log_archive_writes_it_as_advised(tmp_path):
    result = run("new", "conf-two", "--tier", "confidential", "--region", "eu-west-1", "--inference-region", "eu-west-1",
                 "--inference-region", "eu-central-1", *THREE_ACCOUNTS[:4], "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    path = tmp_path / "Pulumi.conf-two.yaml"
    assert '# logArchive: "<12 digits>"           # advised:' in path.read_text()
    assert "logArchive" not in yaml.safe_load(path.read_text())["config"]["ai-blueprints:blueprint"]["accounts"]
    validated = run("validate", path)
    assert validated.exit_code == 0 and "warning: " in validated.output and "accounts.logArchive" in validated.output


def test_new_offers_accounts_commented_out_where_the_tier_leaves_them_optional(tmp_path):
    run("new", "pub-one", "--tier", "public", "--region", "us-east-1", "--dir", tmp_path)
    text = (tmp_path / "Pulumi.pub-one.yaml").read_text()
    assert "    # accounts:" in text and '    #   training: "<12 digits>"' in text
    assert "accounts" not in yaml.safe_load(text)["config"]["ai-blueprints:blueprint"]
    result = run("new", "int-two", "--tier", "internal", "--region", "us-east-2", *THREE_ACCOUNTS[:4], "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "Pulumi.int-two.yaml").read_text()
    assert yaml.safe_load(text)["config"]["ai-blueprints:blueprint"]["accounts"]["inference"] == "222222222222"
    assert "ExternalId" not in text and "ExternalId" not in result.output  # no external id below confidential


@pytest.mark.parametrize("tier", ["public", "internal", "confidential", "restricted"])
def test_every_example_validates(tier):
    result = run("validate", STACKS / f"Pulumi.{tier}-example.yaml")
    assert result.exit_code == 0 and result.output.startswith("ok: ")


def test_validate_warns_but_passes_when_a_region_needs_more_elastic_ips_than_the_default(tmp_path):
    result = run("validate", STACKS / "Pulumi.internal-example.yaml")
    assert result.exit_code == 0
    first, *warnings = result.output.strip().splitlines()
    assert first.startswith("ok: ")
    (warning,) = warnings
    assert warning.startswith("warning: ") and "us-east-2 needs 6 Elastic IPs" in warning
    assert "default quota is 5" in warning and "L-0263D0A3" in warning and "natGateways: single" in warning
    # A per-AZ layout on public (the default there is single) warns too; the default does not.
    per_az = write_stack(tmp_path, spec_config("public", {"natGateways": "per-az"}))
    assert "warning: " in run("validate", per_az).output
    assert "warning" not in run("validate", STACKS / "Pulumi.public-example.yaml").output


def test_shape_errors_are_reported_before_tier_rules(tmp_path):
    path = write_stack(tmp_path, spec_config("restricted", {"training": {"capacity": "spot", "maxNodes": 0},
                                                            "colour": "red"}))
    result = run("validate", path)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert sorted(line.split(": ")[2] for line in lines) == ["colour", "training.maxNodes"]
    assert any("colour: unknown key" in line for line in lines)


def test_validate_reports_all_tier_rules_together(tmp_path):
    path = write_stack(tmp_path, spec_config("restricted", {"inference": {"auth": "cognito", "regions": ["eu-west-1"]},
                                                            "training": {"capacity": "spot"}}))
    result = run("validate", path)
    assert result.exit_code == 2
    keys = sorted(line.split(": ")[2] for line in result.output.strip().splitlines())
    assert keys == ["inference.auth", "inference.regions", "training.capacity"]


def test_a_training_zone_of_another_region_exits_2_before_anything_is_registered(tmp_path, monkeypatch):
    import blueprints.plan.engine as engine

    def no_program(*args, **kwargs):
        raise AssertionError("the program ran: resources were registered before validation")

    monkeypatch.setattr(engine, "run_program", no_program)
    path = write_stack(tmp_path, spec_config("restricted", {"training": {"availabilityZone": "eu-central-1a"}}))
    for verb in ("validate", "plan"):
        result = run(verb, path)
        assert result.exit_code == 2, (verb, result.output)
        (line,) = result.output.strip().splitlines()
        assert "training.availabilityZone: 'eu-central-1a' is not an availability zone of the home region eu-west-1" in line


@pytest.mark.parametrize("content, message", [
    (None, "no such stack file"),
    ("config: {a: [", "not valid YAML"),
    ("config:\n  aws:region: eu-west-1\n  ai-blueprints:blueprint:\n    name: x\n", "required key is missing"),
])
def test_bad_input_exits_2_with_one_clear_message(tmp_path, content, message):
    path = tmp_path / "Pulumi.broken.yaml"
    if content is not None:
        path.write_text(content)
    for verb in ("validate", "plan", "check", "cost"):
        result = run(verb, path)
        assert result.exit_code == 2, (verb, result.output)
        assert message in result.output


def test_plain_text_token_is_refused_by_every_verb(tmp_path):
    path = write_stack(tmp_path, spec_config("internal", {"siem": {"destination": "http", "endpoint": "https://siem.example.com",
                                                                   "token": "plain"}}))
    result = run("plan", path)
    assert result.exit_code == 2 and "siem.token: a plain-text token is not allowed" in result.output


# -- plan ----------------------------------------------------------------------------------

def test_plan_prints_a_tree_summary():
    result = run("plan", RESTRICTED)
    assert result.exit_code == 0
    assert result.output.startswith("restricted-example (tier restricted):")
    assert "IsolatedVpc" in result.output and "VpcEndpoint" in result.output


def test_plan_json_is_deterministic_and_can_be_written(tmp_path):
    out = tmp_path / "plans" / "restricted.json"
    first = run("plan", RESTRICTED, "--json", "--out", out)
    second = run("plan", RESTRICTED, "--json")
    assert first.exit_code == 0 and first.output == second.output
    assert json.loads(first.output)["stack"] == "restricted-example"
    assert out.read_text() == first.output


def test_plan_refuses_a_plan_json(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{}")
    assert run("plan", path).exit_code == 2


# -- diff / cost / check ----------------------------------------------------------------------

def test_diff_of_a_stack_with_itself_has_no_changes():
    result = run("diff", RESTRICTED, RESTRICTED, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["summary"]["create"] == 0


def test_cost_prints_a_total():
    result = run("cost", RESTRICTED)
    assert result.exit_code == 0 and "total" in result.output.lower()


def test_check_passes_the_example_and_fails_another_tier(tmp_path):
    assert run("check", RESTRICTED).exit_code == 0
    public = STACKS / "Pulumi.public-example.yaml"
    assert run("check", public, "--tier", "restricted").exit_code == 1


def test_check_reads_plan_json_and_writes_sarif(tmp_path):
    out = tmp_path / "plan.json"
    assert run("plan", RESTRICTED, "--out", out).exit_code == 0
    result = run("check", out, "--format", "sarif", "--residency", "eu")
    assert json.loads(result.output)["version"] == "2.1.0"


def test_check_rejects_a_bad_residency_and_a_suppression_without_reason(tmp_path):
    result = run("check", RESTRICTED, "--residency", "mars")
    assert result.exit_code == 2 and "mars" in result.output
    path = write_stack(tmp_path, spec_config("restricted", {"suppressions": [
        {"rule": "AIB-001", "resource": "demo-restricted-models", "reason": "ticket SEC-1: accepted by the CISO"},
        {"rule": "AIB-999", "resource": "x", "reason": "no such rule exists in any pack"}]}))
    result = run("check", path)
    assert result.exit_code == 2 and "AIB-999" in result.output


def test_suppression_without_a_reason_is_a_config_error(tmp_path):
    path = write_stack(tmp_path, spec_config("restricted", {"suppressions": [{"rule": "AIB-001", "resource": "x"}]}))
    result = run("check", path)
    assert result.exit_code == 2 and "suppressions[0].reason: required key is missing" in result.output


def test_new_offers_threat_detection_where_the_tier_leaves_it_optional(tmp_path):
    run("new", "pub-demo", "--tier", "public", "--region", "us-east-1", "--dir", tmp_path)
    run("new", "int-demo", "--tier", "internal", "--region", "us-east-2", "--dir", tmp_path)
    assert "# threatDetection: true" in (tmp_path / "Pulumi.pub-demo.yaml").read_text()
    assert "threatDetection" not in (tmp_path / "Pulumi.int-demo.yaml").read_text()


def test_validate_names_the_accounts_key_and_exits_2(tmp_path):
    path = write_stack(tmp_path, spec_config("restricted", {"accounts": {"logArchive": "111111111111",
                                                                          "deployRole": "ops/deployer"}}))
    result = run("validate", path)
    assert result.exit_code == 2
    assert "accounts.deployRole: must be an IAM role name" in result.output
    assert "accounts.logArchive: 111111111111 is also a workload account" not in result.output  # shape first
    fixed = write_stack(tmp_path, spec_config("restricted", {"accounts": {"logArchive": "111111111111"}}), stack="two")
    result = run("validate", fixed)
    assert result.exit_code == 2 and "accounts.logArchive: 111111111111 is also a workload account" in result.output


def test_check_reports_one_frameworks_evidence_and_refuses_other_formats_in_one_line(tmp_path):
    result = run("check", RESTRICTED, "--report", "compliance", "--framework", "pci-dss", "--format", "json")
    doc = json.loads(result.output)
    assert result.exit_code == 0 and doc["framework"] == "pci-dss" and "8.4.2" in doc["gaps"]
    assert run("check", RESTRICTED, "--report", "compliance", "--framework", "pci-dss").output.startswith(
        "# PCI DSS v4.0.1 evidence: restricted-example")
    refused = run("check", RESTRICTED, "--report", "compliance", "--format", "sarif")
    assert refused.exit_code == 2 and refused.output.strip().splitlines() == [
        "error: --format sarif is not available with --report compliance; use markdown or json"]
    unknown = run("check", RESTRICTED, "--report", "compliance", "--framework", "soc2")
    assert unknown.exit_code == 2 and "soc2" in unknown.output


def test_a_bad_compliance_key_is_a_config_error_naming_it(tmp_path):
    path = write_stack(tmp_path, spec_config("internal", {"compliance": {"frameworks": ["hipaa", "hipaa"]}}))
    result = run("validate", path)
    assert result.exit_code == 2 and "compliance.frameworks: hipaa listed twice" in result.output


# -- CLI hygiene (issue 16, item 6) -------------------------------------------------------------

def _format_verbs():
    """Every verb with a --format option (the ones other issues add included)."""
    import typer

    command = typer.main.get_command(app)
    return sorted(name for name, verb in command.commands.items()
                  if any("--format" in getattr(p, "opts", ()) for p in verb.params))


def test_help_texts_show_patterns_literally():
    """Rich markup would eat `[a-z]...`: every help text is plain text or escaped markup."""
    import typer
    from rich.text import Text

    command = typer.main.get_command(app)
    for name, verb in command.commands.items():
        for text in [verb.help or "", *(getattr(p, "help", None) or "" for p in verb.params)]:
            assert Text.from_markup(text).plain == text.replace("\\[", "["), (name, text)
    result = runner.invoke(app, ["new", "--help"], env={"COLUMNS": "240"})
    assert "[a-z][a-z0-9-]{2,23}" in result.output


@pytest.mark.parametrize("verb", _format_verbs())
def test_an_unknown_format_is_one_line_naming_the_option_and_the_choices(verb):
    args = [verb] + ([] if verb == "tiers" else [RESTRICTED] * (2 if verb == "diff" else 1))
    result = run(*args, "--format", "yaml")
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: --format: 'yaml' is not one of ") and ("'json'" in line or "'mermaid'" in line)
    assert line.endswith(f"(see `blueprint {verb} --help`)")


def test_a_missing_option_is_one_line_too():
    result = run("new", "x")
    (line,) = result.output.strip().splitlines()
    assert result.exit_code == 2 and line.startswith("error: Missing option '--tier'")


@pytest.mark.parametrize("args", [["tiers"], ["tiers", "--format", "json"]])
def test_a_closed_pipe_ends_quietly_with_exit_0(args, monkeypatch):
    """`blueprint ... | head`: rich output (a table) and plain output (JSON) alike."""
    import io
    import os
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone
    stdout, stderr = os.fdopen(write_end, "w"), io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    try:
        with pytest.raises(SystemExit) as ended:
            app(args, prog_name="blueprint")
    finally:
        stdout.close()
    assert ended.value.code == 0 and stderr.getvalue() == ""


def test_the_crossguard_config_module_prints_its_usage_and_writes_under_blueprint(tmp_path, capsys):
    import json

    from policies.crossguard.config import main

    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m policies.crossguard.config TIER")
    out = tmp_path / ".blueprint" / "crossguard" / "policy-config.json"
    assert main(["restricted", "eu", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["AIB-001"]["tier"] == "restricted"


def test_the_plan_summary_counts_what_it_says(example_plan):
    """Component lines count their cloud resources (not themselves, nested components or providers),
    and the header's parts add up to `pulumi preview`'s total (issue 16, item 5)."""
    import re
    from collections import Counter

    from rich.console import Console

    from blueprints.cli import plan_tree

    plan = example_plan("restricted")
    console = Console(width=400, record=True)
    console.print(plan_tree(plan))
    lines = console.export_text().splitlines()
    total, cloud, components, providers = map(int, re.match(
        r"restricted-example \(tier restricted\): (\d+) to create: (\d+) cloud resources, (\d+) components, "
        r"(\d+) providers and the stack$", lines[0]).groups())
    assert total == len(plan.resources) == cloud + components + providers + 1
    assert providers == len([r for r in plan.resources if r.type.startswith("pulumi:providers:")])
    components = {(r.name, r.type.rsplit(":", 1)[-1]): r for r in plan.resources if not r.custom}
    checked = 0
    for header, children in zip(lines[1:], lines[2:]):
        m = re.match(r"^[├└]── (\S+) (\S+)  (\d+) resources?", header)
        if m is None:
            continue
        name, count = m.group(1), int(m.group(3))
        cloud_children = [d for d in plan.descendants(components[name, m.group(2)].urn)
                          if d.custom and not d.type.startswith("pulumi:providers:")]
        listed = {t: int(n) for n, t in re.findall(r"(\d+) (\w+)", children)}
        assert count == len(cloud_children), name
        assert listed == Counter(c.type.rsplit(":", 1)[-1] for c in cloud_children), name  # nothing else mixed in
        checked += 1
    assert checked > 20


def test_diff_check_and_cost_take_a_plan_json_whatever_its_name_in_either_position(tmp_path):
    base = tmp_path / "base.plan"  # `blueprint plan --out` on the base branch, named as the user likes
    assert run("plan", RESTRICTED, "--out", base).exit_code == 0
    for args in ([base, RESTRICTED], [RESTRICTED, base]):
        result = run("diff", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["summary"]["update"] == 0
    assert run("cost", base).exit_code == 0
    assert run("plan", base).exit_code == 2  # plan renders stack files only


def test_a_bad_training_window_exits_2_naming_each_key_before_anything_is_registered(tmp_path, monkeypatch):
    import blueprints.plan.engine as engine

    def no_program(*args, **kwargs):
        raise AssertionError("the program ran: resources were registered before validation")

    monkeypatch.setattr(engine, "run_program", no_program)
    window = {"scaleUp": "0 25 * * *", "scaleDown": "0 6 * *", "timezone": "Mars/Olympus"}
    path = write_stack(tmp_path, spec_config("confidential", {"training": {"schedule": window}}))
    for verb in ("validate", "plan"):
        result = run(verb, path)
        assert result.exit_code == 2 and "Traceback" not in result.output, (verb, result.output)
        keys = sorted(line.split(": ")[2] for line in result.output.strip().splitlines())
        assert keys == ["training.schedule.scaleDown", "training.schedule.scaleUp", "training.schedule.timezone"], keys
