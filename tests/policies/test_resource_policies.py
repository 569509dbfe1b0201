"""Resource policies on the real example plans, edited as a reviewer would edit the plan JSON:
a key policy opened to every AWS account, a gateway endpoint stripped of its policy, a bucket
policy and a trust policy opened with a condition that limits nothing. `check` must fail with
the rule that names the problem, and CrossGuard must report the same."""

from __future__ import annotations

import copy
import json

import pytest

from policies.model import urn_name
from policies.runner import check, run
from tests.conftest import EXAMPLES
from tests.policies.crossguard.harness import crossguard_violations

MINE = ("AIB-061", "AIB-062", "AIB-075", "AIB-120", "AIB-121", "AIB-122")
OPEN_KEY_STATEMENT = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}


def _states(plan: dict, type_: str, name_part: str = "") -> list[dict]:
    return [s["newState"] for s in plan["steps"] if s["newState"]["type"] == type_ and name_part in s["urn"]]


def _add_statement(state: dict, key: str, statement: dict) -> None:
    for source in ("inputs", "outputs"):
        doc = json.loads(state[source][key])
        doc["Statement"].append(statement)
        state[source][key] = json.dumps(doc)


def _mandatory_violations(plan: dict) -> set[tuple[str, str]]:
    text, _ = check(plan, fmt="json")
    return {(f["rule"], f["resourceName"]) for f in json.loads(text)["findings"]
            if f["outcome"] == "violation" and f["level"] == "mandatory"}


@pytest.mark.parametrize("tier", EXAMPLES)
def test_resource_policy_rules_pass_every_example(example_plan, tier: str) -> None:
    """No finding of these rules is a violation, mandatory or advisory, on the example's own tier."""
    result = run(example_plan(tier).to_dict())
    assert [(f.rule.id, f.resource_name, f.message) for f in result.findings
            if f.rule.id in MINE and f.outcome == "violation"] == []


def test_a_key_policy_open_to_every_account_fails_check(example_plan) -> None:
    """The issue's case: kms:* to {"AWS": "*"} with no condition, in the restricted example."""
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    key = _states(plan, "aws:kms/key:Key", "training-data")[0]
    assert not {v for v in _mandatory_violations(plan) if v[0] == "AIB-120"}
    _add_statement(key, "policy", OPEN_KEY_STATEMENT)
    text, code = check(plan, fmt="json")
    assert code == 1
    assert ("AIB-120", urn_name(key["urn"])) in _mandatory_violations(plan)
    finding = next(f for f in json.loads(text)["findings"] if f["rule"] == "AIB-120" and f["outcome"] == "violation")
    assert 'Principal {"AWS": "*"}' in finding["message"] and "kms:*" in finding["message"]


def test_crossguard_reports_the_open_key_policy(example_plan) -> None:
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    key = _states(plan, "aws:kms/key:Key", "training-data")[0]
    _add_statement(key, "policy", OPEN_KEY_STATEMENT)
    found = crossguard_violations(plan, {"tier": "restricted", "residency": "eu"}, only={"AIB-120"})
    assert ("AIB-120", key["urn"]) in found


def test_a_condition_on_transport_does_not_close_a_key_policy(example_plan) -> None:
    plan = copy.deepcopy(example_plan("confidential").to_dict())
    key = _states(plan, "aws:kms/key:Key", "logs")[0]
    _add_statement(key, "policy", {**OPEN_KEY_STATEMENT, "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    assert ("AIB-120", urn_name(key["urn"])) in _mandatory_violations(plan)


@pytest.mark.parametrize("tier", ["confidential", "restricted"])
def test_a_gateway_endpoint_without_its_policy_fails_where_the_tier_forbids_egress(example_plan, tier: str) -> None:
    plan = copy.deepcopy(example_plan(tier).to_dict())
    endpoint = _states(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", "training-s3-gateway")[0]
    for source in ("inputs", "outputs"):
        endpoint[source].pop("policy", None)
    assert ("AIB-122", urn_name(endpoint["urn"])) in _mandatory_violations(plan)
    found = crossguard_violations(plan, {"tier": tier, "residency": "eu"}, only={"AIB-122"})
    assert ("AIB-122", endpoint["urn"]) in found


def test_an_endpoint_policy_reopened_to_everyone_fails(example_plan) -> None:
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    endpoint = _states(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", "training-s3-gateway")[0]
    _add_statement(endpoint, "policy", {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"})
    assert ("AIB-120", urn_name(endpoint["urn"])) in _mandatory_violations(plan)


def test_a_bucket_policy_opened_with_a_condition_that_limits_nothing_fails(example_plan) -> None:
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    policy = _states(plan, "aws:s3/bucketPolicy:BucketPolicy", "training-data")[0]
    _add_statement(policy, "policy", {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
                                      "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    assert ("AIB-075", urn_name(policy["urn"])) in _mandatory_violations(plan)


def test_a_trust_policy_for_every_account_fails(example_plan) -> None:
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    role = _states(plan, "aws:iam/role:Role", "audit-trn-logs-role")[0]
    _add_statement(role, "assumeRolePolicy", {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                                              "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})
    assert ("AIB-062", urn_name(role["urn"])) in _mandatory_violations(plan)


def test_a_service_acting_for_any_account_fails(example_plan) -> None:
    """The audit bucket's CloudTrail statements without their aws:SourceArn: any account's trail
    could write into the stack's audit bucket."""
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    policy = next(s for s in _states(plan, "aws:s3/bucketPolicy:BucketPolicy") if "cloudtrail.amazonaws.com" in s["inputs"]["policy"])
    for source in ("inputs", "outputs"):
        doc = json.loads(policy[source]["policy"])
        for stmt in doc["Statement"]:
            if "cloudtrail.amazonaws.com" in json.dumps(stmt.get("Principal")):
                stmt["Condition"] = {k: {c: v for c, v in cond.items() if c != "aws:SourceArn"}
                                     for k, cond in stmt.get("Condition", {}).items()}
        policy[source]["policy"] = json.dumps(doc)
    assert ("AIB-121", urn_name(policy["urn"])) in _mandatory_violations(plan)


def test_administrator_access_attached_to_a_role_fails(example_plan) -> None:
    plan = copy.deepcopy(example_plan("public").to_dict())
    attachment = _states(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")[0]
    for source in ("inputs", "outputs"):
        attachment[source]["policyArn"] = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert ("AIB-061", urn_name(attachment["urn"])) in _mandatory_violations(plan)


def test_every_service_exemption_shows_in_the_report_with_its_reason(example_plan) -> None:
    result = run(example_plan("restricted").to_dict())
    exempt = [f for f in result.findings if f.rule.id == "AIB-121" and f.outcome == "exempt"]
    assert exempt and all("iam:PassRole" in f.message or "EventBridge" in f.message for f in exempt)
    text, _ = check(example_plan("restricted").to_dict())
    assert "eks.amazonaws.com in a trust policy" in text and "events.amazonaws.com in a key policy" in text
