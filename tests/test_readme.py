"""The README stays true: the tier matrix it shows is the one in blueprints/tiers.py, and it
documents every CLI verb and the two commands."""

import re
import shlex

import pytest
import yaml

from blueprints.cli import app
from blueprints.tiers import matrix_markdown
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_tier_matrix_in_readme_is_generated_from_the_data():
    block = README.split("<!-- tiers:start -->\n")[1].split("<!-- tiers:end -->")[0]
    assert block == matrix_markdown()


def test_the_restricted_examples_picture_in_readme_is_generated_from_its_plan(example_plan):
    from blueprints.plan.diagram import markdown

    block = README.split("<!-- diagram:start -->\n")[1].split("<!-- diagram:end -->")[0]
    assert block == markdown(example_plan("restricted"))


def test_every_cli_verb_has_an_example():
    verbs = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
    assert verbs == ["check", "ci", "cost", "diagram", "diff", "new", "plan", "tiers", "validate"]
    for verb in verbs:
        assert re.search(rf"`blueprint {verb}[ `]", README), verb


def test_the_two_commands_and_the_real_path_are_documented():
    for text in ("make demo", "make test", "pulumi login", "pulumi config set --secret", "pulumi preview", "pulumi up"):
        assert text in README


def test_the_stack_config_example_is_valid_and_its_suppression_names_a_real_resource(example_plan, tmp_path):
    import yaml

    from blueprints.plan.engine import load_stack_file
    from blueprints.program import load_spec

    block = README.split("## Stack config")[1].split("```yaml\n")[1].split("```")[0]
    path = tmp_path / "Pulumi.readme.yaml"
    path.write_text(block)
    config, secret_keys = load_stack_file(path).runtime_config()
    spec = load_spec(config, secret_keys)  # raises SpecError if the README drifts from the spec
    (suppression,) = spec.model.suppressions
    names = {r.name for r in example_plan("restricted").resources}
    assert suppression.resource in names
    assert f"| {suppression.rule} |" in (ROOT / "docs" / "RULES.md").read_text()
    assert yaml.safe_load(block)["config"]["ai-blueprints:blueprint"]["name"] == "fraud-models"


def test_the_nat_layout_and_the_peoples_data_path_are_documented():
    config = README.split("## Stack config")[1]
    deploy = README.split("## Deploying for real")[1].split("\n## ")[0]
    assert "natGateways: single" in config and "dataAccessCidrs:" in config
    # How data gets in and models get out: which role, which endpoint, which command.
    assert "--endpoint-url $S3" in deploy and "vpce.amazonaws.com" in deploy
    assert "--profile ml-engineer" in deploy and "--profile approver" in deploy
    # What the Elastic IP warning tells, and what a single NAT gateway costs in availability.
    assert "L-0263D0A3" in deploy and "AddressLimitExceeded" in deploy and "the other zones lose" in deploy


# -- Multi-account ---------------------------------------------------------------------------

MULTI_ACCOUNT = README.split("\n## Multi-account\n")[1].split("\n## ")[0]

# The IAM service prefix of each resource type the plans create: `blueprint`'s resources are
# registered through these services' APIs. A new type fails the test below until it is mapped
# here and its service is listed in the README's "Multi-account" table.
IAM_SERVICE = {
    "ec2": "ec2", "vpc": "ec2", "ebs": "ec2", "eks": "eks", "iam": "iam", "kms": "kms", "s3": "s3", "fsx": "fsx",
    "ecr": "ecr", "sns": "sns", "lambda": "lambda", "cloudtrail": "cloudtrail", "guardduty": "guardduty",
    "securityhub": "securityhub", "macie2": "macie2", "cfg": "config", "autoscaling": "autoscaling",
    "lb": "elasticloadbalancing", "apigateway": "apigateway", "wafv2": "wafv2", "route53": "route53", "acm": "acm",
    "cognito": "cognito-idp", "sqs": "sqs", "ssm": "ssm", "bedrock": "bedrock", "bedrockmodel": "bedrock",
    "budgets": "budgets", "costexplorer": "ce",
}
CLOUDWATCH = {"logGroup": "logs", "logStream": "logs", "logSubscriptionFilter": "logs", "logResourcePolicy": "logs",
              "eventRule": "events", "eventTarget": "events", "metricAlarm": "cloudwatch", "dashboard": "cloudwatch"}


def iam_service(type_: str) -> str:
    module, rest = type_.split(":")[1].split("/")
    kind = rest.split(":")[0]
    if module == "cloudwatch":
        return CLOUDWATCH[kind]
    if module == "kinesis":
        return "firehose" if kind == "firehoseDeliveryStream" else "kinesis"
    return IAM_SERVICE[module]


def services_table() -> dict[str, set[str]]:
    """The table's last column by its first: `training` -> {"ec2", "eks", ...}."""
    rows = [line.split(" | ") for line in MULTI_ACCOUNT.splitlines() if line.startswith(("| `", "| each of them |"))]
    return {row[0].strip("| `"): set(re.findall(r"`([a-z0-9-]+)`", row[2])) for row in rows}


@pytest.mark.parametrize("tier", ["confidential", "restricted"])
def test_the_deploy_role_services_cover_what_the_example_creates_in_each_account(tier, example_plan):
    from policies.model import PolicyPlan

    plan = PolicyPlan.from_dict(example_plan(tier).to_dict())
    table = services_table()
    role_of = {account: role for role, account in plan.accounts.items()}
    missing = set()
    for r in plan.resources:
        if r.type.startswith("aws:") and r.type.count("/") == 1:
            role = role_of.get(r.account, "")
            if iam_service(r.type) not in table.get(role, set()) | table["each of them"]:
                missing.add((role or "deploying account", r.type))
    assert not missing, "add these services to the README's Multi-account table: " + str(sorted(missing))
    # Scoping IAM writes to `role/<name>-*` and `policy/<name>-*` (the README) admits every one the stack makes.
    iam = [r for r in plan.resources if r.type in ("aws:iam/role:Role", "aws:iam/policy:Policy")]
    assert iam and all(str(r.get("name")).startswith(r.get("tags", "Blueprint") + "-") for r in iam)


def test_the_trust_policy_shown_is_what_the_providers_send():
    from blueprints.scaffold import DEFAULT_DEPLOY_ROLE
    from blueprints.spec import parse_spec

    config = yaml.safe_load(README.split("## Stack config")[1].split("```yaml\n")[1].split("```")[0])["config"]
    raw = {**config["ai-blueprints:blueprint"], "siem": {**config["ai-blueprints:blueprint"]["siem"], "token": "x"}}
    spec = parse_spec(raw, region=config["aws:region"], token_is_secret=True)
    assert f'"sts:ExternalId": "{spec.external_id}"' in MULTI_ACCOUNT
    assert spec.model.accounts.deploy_role == DEFAULT_DEPLOY_ROLE
    assert f"--role-name {DEFAULT_DEPLOY_ROLE}" in MULTI_ACCOUNT and f"deployRole: {DEFAULT_DEPLOY_ROLE}" in MULTI_ACCOUNT
    for account in spec.account_ids:
        assert account in MULTI_ACCOUNT  # the accounts to create it in are the example's


def test_every_blueprint_new_in_the_readme_writes_a_file_that_validates(tmp_path):
    from typer.testing import CliRunner

    from blueprints.scaffold import parse_scaffold

    joined = README.replace("\\\n", " ")  # shell line continuations
    commands = [m.strip() for m in re.findall(r"blueprint new ([a-z][a-z0-9-]+ [^`#\n]*)", joined)]
    assert len(commands) == 2  # the walkthrough and the CLI table
    for i, command in enumerate(commands):
        result = CliRunner().invoke(app, ["new", *shlex.split(command), "--dir", str(tmp_path / str(i))])
        assert result.exit_code == 0, (command, result.output)
        (written,) = (tmp_path / str(i)).iterdir()
        parse_scaffold(written.read_text())  # valid, but for the splunk token the walkthrough sets as a secret next


# -- numbers the code can compute (issue 16, item 8) ------------------------------------------

def test_the_rule_counts_per_tier_pack_are_the_packs():
    from policies.packs import packs
    from policies.rule import all_rules

    assert f"runs the tier's pack ({len(all_rules())} rules over" in README
    said = dict(re.findall(r"(public|internal|confidential|restricted)(?: runs)? (\d+ (?:rules )?\(\d+\s+mandatory\))",
                           " ".join(README.split("The packs: ")[1].split(";")[0].split())))
    for tier, pack in packs().items():
        run_ = sum(level != "disabled" for level in pack.values())
        mandatory = sum(level == "mandatory" for level in pack.values())
        assert re.sub(r"rules ", "", said[tier]) == f"{run_} ({mandatory} mandatory)", tier


def test_the_image_tags_the_readme_names_are_the_ones_the_program_pins():
    from blueprints.images import ADDONS

    deploy = " ".join(README.split("## Deploying for real")[1].split("\n## ")[0].split())
    assert "set in `blueprints/images.py`" in deploy
    for label, addon in (("NVIDIA device plugin", "nvidia-device-plugin"), ("EFA device plugin", "efa-device-plugin"),
                         ("Neuron device plugin", "neuron-device-plugin"), ("Cluster Autoscaler", "cluster-autoscaler")):
        assert f"{label} {ADDONS[addon].tag}" in deploy, label
    assert ADDONS["efa-device-plugin"].repository in deploy


def test_the_fast_path_and_where_a_base_plan_comes_from_are_documented():
    assert "--out .blueprint/plans/" in README and "blueprint check .blueprint/plans/" in README
    assert "blueprint cost .blueprint/plans/" in README and "blueprint diff .blueprint/plans/" in README
    assert "on the base branch" in README and "https://www.pulumi.com/docs/iac/download-install/" in README
