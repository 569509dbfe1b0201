"""The AWS Config mapping next to the rules (policies/config_rules.py), its column in docs/RULES.md,
and the evidence report of one framework (policies/evidence.py) on the restricted example."""

from __future__ import annotations

import copy
import json
import re

import pytest

from blueprints.tiers import TIER_NAMES, get_tier
from policies import config_rules
from policies.config_rules import CONFIG_RULES, NO_CONFIG_RULE, config_retention_days
from policies.docs import rules_markdown
from policies.frameworks import FRAMEWORKS
from policies.rule import all_rules, get_rule
from policies.runner import check, check_options
from tests.policies.plans import add_resource


def test_every_mapping_names_a_rule_and_a_managed_rule_once():
    assert set(CONFIG_RULES) <= {r.id for r in all_rules()}
    identifiers = [m.identifier for m in CONFIG_RULES.values()]
    assert len(set(identifiers)) == len(identifiers)
    for m in CONFIG_RULES.values():
        assert re.fullmatch(r"[A-Z0-9]+(_[A-Z0-9]+)+", m.identifier)
        assert m.resource_types and all(re.fullmatch(r"AWS::[A-Za-z0-9]*::[A-Za-z0-9]+", t) for t in m.resource_types)
        assert m.doc_url.startswith("https://docs.aws.amazon.com/config/latest/developerguide/")
        for tier in TIER_NAMES:  # parameters are strings, as AWS Config's input parameters are
            assert all(isinstance(v, str) for v in m.parameters(get_tier(tier)).values())
    with pytest.raises(ValueError, match="change-triggered rule is scoped by resource type"):
        config_rules.change("S3_BUCKET_SSL_REQUESTS_ONLY")


@pytest.mark.parametrize("days, expected", [(30, 30), (90, 90), (365, 365), (2557, 1827), (3653, 3653), (400, 400)])
def test_retention_parameter_is_the_longest_aws_config_accepts_within_the_tier(days, expected):
    assert config_retention_days(days) == expected


def test_rules_md_has_an_aws_config_column_and_says_none_where_there_is_no_equivalent():
    text = rules_markdown()
    rows = [line for line in text.splitlines() if re.match(r"\| AIB-\d{3} \|", line)]
    assert rows and all(line.count("|") == rows[0].count("|") for line in rows)
    row = {line.split(" | ")[0].strip("| "): line for line in rows}
    assert row["AIB-071"].endswith("| `S3_BUCKET_SSL_REQUESTS_ONLY` (change) |")
    assert row["AIB-045"].endswith(f"| {NO_CONFIG_RULE} |")  # the access-log targets would be false findings
    assert "- AWS Config rule after deploy: [`CW_LOGGROUP_RETENTION_PERIOD_CHECK`](https://docs.aws.amazon.com/config/" \
           "latest/developerguide/cw-loggroup-retention-period-check.html), periodic" in text


@pytest.fixture(scope="module")
def restricted(example_plan):
    return example_plan("restricted").to_dict()


def test_pci_dss_evidence_lists_controls_rules_config_rules_and_gaps(restricted):
    text, code = check(restricted, report="compliance", framework="pci-dss")
    assert code == 0 and text.startswith("# PCI DSS v4.0.1 evidence: restricted-example")
    lines = text.splitlines()
    tls = next(i for i, line in enumerate(lines) if line.startswith("| 4.2.1 "))
    block = lines[tls:next(i for i in range(tls + 1, len(lines)) if not lines[i].startswith("| | |"))]
    assert "| AIB-071 | mandatory | pass (" in "\n".join(block) and "`S3_BUCKET_SSL_REQUESTS_ONLY` |" in "\n".join(block)
    assert any(NO_CONFIG_RULE in line for line in block)  # AIB-140 (TLS 1.2 on APIs) has no managed rule here
    gaps = text.split("## Gaps")[1]
    assert "- 8.4.2: Multi-factor authentication for all access into the CDE" in gaps
    assert "| 8.4.2 Multi-factor authentication for all access into the CDE | gap | - | - | - | - |" in text


def test_json_evidence_marks_violations_and_counts_every_control(restricted):
    doc = json.loads(check(restricted, report="compliance", framework="pci-dss", fmt="json")[0])
    assert doc["framework"] == "pci-dss" and doc["securityHubStandard"] == "pci-dss/v/4.0.1"
    assert [c["control"] for c in doc["controls"]] == sorted(FRAMEWORKS["pci-dss"].catalogue, key=_key)
    assert doc["gaps"] == ["8.4.2", "10.6.1", "11.4.1", "12.10.1"]
    assert sum(doc["summary"].values()) == len(doc["controls"])
    boundary = next(c for c in doc["controls"] if c["control"] == "1.3.1")
    sg = next(r for r in boundary["rules"] if r["id"] == "AIB-005")
    assert sg == {"id": "AIB-005", "title": get_rule("AIB-005").title, "level": "mandatory", "result": "pass",
                  "findings": sg["findings"], "configRule": "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS"}
    # An open security group violates the boundary controls it covers.
    opened = copy.deepcopy(restricted)
    add_resource(opened, "aws:ec2/securityGroup:SecurityGroup", "open-sg", {"ingress": [
        {"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 22, "toPort": 22}]})
    broken = json.loads(check(opened, report="compliance", framework="pci-dss", fmt="json")[0])
    assert next(c for c in broken["controls"] if c["control"] == "1.3.1")["status"] == "violated"


def test_without_a_framework_json_covers_every_framework(restricted):
    doc = json.loads(check(restricted, report="compliance", fmt="json")[0])
    assert [f["framework"] for f in doc["frameworks"]] == list(FRAMEWORKS)


@pytest.mark.parametrize("fmt, report, framework, message", [
    ("sarif", "compliance", None, "--format sarif is not available with --report compliance; use markdown or json"),
    ("table", "compliance", "pci-dss", "--format table is not available with --report compliance"),
    (None, None, "pci-dss", "--framework selects the framework of --report compliance"),
    (None, "compliance", "soc2", "unknown framework 'soc2'; use one of gdpr, hipaa, pci-dss, sox, nist-800-53"),
])
def test_options_that_do_not_go_together_are_refused(fmt, report, framework, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_options(fmt, report, framework)


def _key(control: str) -> tuple:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", control))

