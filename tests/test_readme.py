"""The README stays true: the tier matrix it shows is the one in blueprints/tiers.py, and it
documents every CLI verb and the two commands."""

import re

from blueprints.cli import app
from blueprints.tiers import matrix_markdown
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_tier_matrix_in_readme_is_generated_from_the_data():
    block = README.split("<!-- tiers:start -->\n")[1].split("<!-- tiers:end -->")[0]
    assert block == matrix_markdown()


def test_every_cli_verb_has_an_example():
    verbs = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
    assert verbs == ["check", "cost", "diff", "new", "plan", "tiers", "validate"]
    for verb in verbs:
        assert re.search(rf"`blueprint {verb}[ `]", README), verb


def test_the_two_commands_and_the_real_path_are_documented():
    for text in ("make demo", "make test", "pulumi login", "pulumi config set --secret", "pulumi preview", "pulumi up"):
        assert text in README


def test_the_stack_config_example_is_valid_and_its_suppression_names_a_real_resource(example_plan, tmp_path):
    import yaml

    from blueprints.engine import load_stack_file
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
