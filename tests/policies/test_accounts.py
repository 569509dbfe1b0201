"""Account separation (issue 17): `blueprint check` and the CrossGuard pack fail when a training
bucket is moved into the inference account or a bucket policy admits a foreign account; the
multi-account examples keep training, serving and their policies where the tier puts them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from blueprints.cli import app
from blueprints.tiers import TIERS
from policies.model import AWS_PROVIDER_TYPE, PolicyPlan, urn_name
from policies.rule import RuleContext, Status, get_rule
from policies.rules import accounts as account_rules
from policies.runner import check, run
from tests.policies.crossguard.harness import crossguard_violations
from tests.policies.plans import PlanBuilder
from tests.policies.scenarios import SCENARIOS
from tests.policies.test_examples import example_spec

FOREIGN = "999999999999"
MULTI_ACCOUNT = ("confidential", "restricted")


def _step(plan: dict[str, Any], type_: str, name_part: str) -> dict[str, Any]:
    [step] = [s for s in plan["steps"] if s["newState"]["type"] == type_ and urn_name(s["urn"]).endswith(name_part)]
    return step


def _provider_ref(plan: dict[str, Any], account: str, region: str) -> str:
    [state] = [s["newState"] for s in plan["steps"] if s["newState"]["type"] == AWS_PROVIDER_TYPE
               and account in s["newState"]["inputs"].get("assumeRoles", "") and s["newState"]["inputs"]["region"] == region]
    return f"{state['urn']}::{state['id']}"


def move_training_bucket_to_inference(plan: dict[str, Any]) -> str:
    """Register the training-data bucket with the inference account's provider (its region)."""
    step = _step(plan, "aws:s3/bucket:Bucket", "-training-data")
    region = step["newState"]["outputs"]["region"]
    step["provider"] = step["newState"]["provider"] = _provider_ref(plan, plan["accounts"]["inference"], region)
    return step["urn"]


def admit_foreign_account(plan: dict[str, Any]) -> str:
    """The training-data bucket policy lets a foreign account read the data."""
    step = _step(plan, "aws:s3/bucketPolicy:BucketPolicy", "-training-data-policy")
    doc = json.loads(step["newState"]["inputs"]["policy"])
    doc["Statement"].append({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"},
                             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"})
    step["newState"]["inputs"]["policy"] = step["newState"]["outputs"]["policy"] = json.dumps(doc)
    return step["urn"]


MUTATIONS = [(move_training_bucket_to_inference, "AIB-161"), (admit_foreign_account, "AIB-165")]


def violations(plan: dict[str, Any]) -> set[tuple[str, str]]:
    text, _ = check(plan, fmt="json")
    return {(f["rule"], f["resource"]) for f in json.loads(text)["findings"]
            if f["outcome"] == "violation" and f["level"] == "mandatory"}


@pytest.mark.parametrize("mutate,rule_id", MUTATIONS, ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_check_fails_with_the_account_rule(example_plan, mutate, rule_id: str) -> None:
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    before = violations(plan)
    culprit = mutate(plan)
    assert (rule_id, culprit) not in before
    after = violations(plan)
    assert (rule_id, culprit) in after and after - before == {(rule_id, culprit)}
    assert check(plan)[1] == 1


@pytest.mark.parametrize("mutate,rule_id", MUTATIONS, ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_blueprint_check_exits_1_on_the_edited_plan_json(example_plan, tmp_path, mutate, rule_id: str) -> None:
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    culprit = mutate(plan)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    result = CliRunner().invoke(app, ["check", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output
    found = {(f["rule"], f["resource"]) for f in json.loads(result.output)["findings"] if f["outcome"] == "violation"}
    assert (rule_id, culprit) in found


@pytest.mark.parametrize("mutate,rule_id", MUTATIONS, ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_crossguard_fails_the_same_plans(example_plan, mutate, rule_id: str) -> None:
    """The pack, with the stack's accounts from the policy config, reports the same resource."""
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    config = {"tier": "restricted", "residency": "eu", "accounts": plan["accounts"]}
    assert crossguard_violations(plan, config, only={rule_id}) == set()
    culprit = mutate(plan)
    assert crossguard_violations(plan, config, only={rule_id}) == {(rule_id, culprit)}


# -- the multi-account examples ------------------------------------------------------------------------
@pytest.mark.parametrize("tier", MULTI_ACCOUNT)
def test_examples_place_each_part_in_its_account(example_plan, tier: str) -> None:
    """The providers assume roles in the declared accounts; training is only in the training
    account, serving only in the inference account, the evidence only in the log archive, which
    runs no workload; no policy names an account outside the stack. Each rule judged something."""
    plan = PolicyPlan.from_dict(example_plan(tier).to_dict())
    ctx = RuleContext(TIERS[tier], example_spec(tier).residency)
    assert set(plan.accounts) == {"training", "inference", "logArchive"}
    for rule_id in ("AIB-160", "AIB-161", "AIB-162", "AIB-163", "AIB-164", "AIB-165"):
        results = get_rule(rule_id).evaluate(plan, ctx)
        failed = {urn_name(r.resource): r.reason for r in results if r.status is Status.FAIL}
        assert failed == {} and any(r.status is Status.PASS for r in results), (rule_id, failed)


@pytest.mark.parametrize("tier", ("public", "internal"))
def test_single_account_examples_name_only_their_own_account(example_plan, tier: str) -> None:
    model = PolicyPlan.from_dict(example_plan(tier).to_dict())
    assert model.accounts == {} and account_rules.stack_accounts(model) == {"123456789012"}
    result = run(example_plan(tier).to_dict())
    assert [f.message for f in result.findings if f.rule.id == "AIB-165" and f.status is Status.FAIL] == []


# -- what the mutation suite deletes, with the plan's accounts kept ------------------------------------
def test_deleting_every_bucket_leaves_no_evidence_in_the_log_archive() -> None:
    """AIB-163 requires buckets: with the evidence gone, the control is missing at the stack
    (tests/policies/test_mutations.py rebuilds plans without their `accounts`, where every account
    rule fails for want of declared accounts; this is the deletion with them kept)."""
    [compliant] = [s for s in SCENARIOS if s.rule == "AIB-163" and s.compliant and s.tier == "restricted"]
    b = PlanBuilder()
    compliant.build(b)
    doc = b.to_dict()
    rule, ctx = get_rule("AIB-163"), RuleContext(TIERS["restricted"], "eu")
    assert all(r.status is Status.PASS for r in rule.evaluate(PolicyPlan.from_dict(doc), ctx))
    doc["steps"] = [s for s in doc["steps"] if s["newState"]["type"] != "aws:s3/bucket:Bucket"]
    [missing] = rule.evaluate(PolicyPlan.from_dict(doc), ctx)
    assert missing.status is Status.FAIL and missing.reason.startswith("no audit evidence bucket")


# -- exemptions -------------------------------------------------------------------------------------------
def test_a_declared_aws_account_is_reported_exempt_not_passed(monkeypatch) -> None:
    exemption = account_rules.AccountExemption("AIB-165", kind="bucket policy", account=FOREIGN,
                                               reason="a service's own account AWS documents for delivery (test)")
    monkeypatch.setattr(account_rules, "ACCOUNT_EXEMPTIONS", (exemption,))
    b = PlanBuilder()
    b.add("aws:s3/bucketPolicy:BucketPolicy", "logs-policy", {"bucket": "b", "policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"}, "Action": "s3:PutObject", "Resource": "*"}]})})
    b.add("aws:kms/key:Key", "k", {"policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": FOREIGN}, "Action": "kms:*", "Resource": "*"}]})})
    results = get_rule("AIB-165").evaluate(PolicyPlan.from_dict(b.to_dict()), RuleContext(TIERS["public"], "any"))
    assert {(urn_name(r.resource), r.status) for r in results} == {("logs-policy", Status.EXEMPT), ("k", Status.FAIL)}
