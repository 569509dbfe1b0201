"""The foundation-model rules (AIB-170 to AIB-176) on a whole foundation-model path: a compliant
plan passes `check` and CrossGuard, and the edits a reviewer of the plan JSON would try (delete
the invocation logging, the guardrail condition, the PII filter, ...) fail with the rule that
names them; the examples with `foundationModels` pass every rule, the one without has nothing
for them to judge."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from blueprints.spec import BEDROCK_GEOGRAPHIES as SPEC_GEOGRAPHIES
from blueprints.tiers import TIERS
from policies.model import PolicyPlan
from policies.rule import RuleContext, Status, get_rule
from policies.rules.foundation_models import (
    BEDROCK_GEOGRAPHIES, foundation_models_present, grants_invoke, invoke_actions, model_problem,
)
from policies.runner import run
from tests.conftest import EXAMPLES
from tests.policies.crossguard.harness import crossguard_violations
from tests.policies.plans import PlanBuilder
from tests.policies.test_examples import example_spec
from tests.policies.scenarios_foundation_models import (
    EU_MODELS, INVOKE, MODEL, doc, endpoint, fm_arn, guardrail, guardrail_arn, invocation_logging, invoke, profile_arn,
)

FM_RULES = tuple(f"AIB-17{i}" for i in range(7))
GUARDED = guardrail_arn() + ":1"


def fm_path(tier: str = "restricted") -> dict[str, Any]:
    """The foundation-model path of one region as the blueprint renders it: guardrail and
    version, invocation logging, the application's invoke policy and the bedrock-runtime
    endpoint with its policy."""
    b = PlanBuilder(tier=tier)
    guardrail(b)
    invocation_logging(b)
    b.add("aws:iam/policy:Policy", "app-invoke", {"policy": doc(
        invoke(EU_MODELS, GUARDED),
        {"Sid": "ApplyGuardrail", "Effect": "Allow", "Action": "bedrock:ApplyGuardrail", "Resource": guardrail_arn()})})
    endpoint(b, policy=doc({**invoke(EU_MODELS), "Principal": "*",
                            "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}))
    return b.to_dict()


def blocking(plan: dict[str, Any], tier: str = "restricted") -> set[tuple[str, str]]:
    result = run(plan, tier=tier, residency="eu")
    return {(f.rule.id, f.resource_name) for f in result.findings if f.blocking and f.rule.id in FM_RULES}


def outcomes(plan: dict[str, Any], tier: str = "restricted") -> dict[str, set[str]]:
    model, ctx = PolicyPlan.from_dict(plan), RuleContext(TIERS[tier], "eu")
    return {rule_id: {r.status.value for r in get_rule(rule_id).evaluate(model, ctx)} for rule_id in FM_RULES}


def test_a_compliant_foundation_model_path_passes_every_rule():
    plan = fm_path()
    assert outcomes(plan) == {rule_id: {"pass"} for rule_id in FM_RULES}
    assert blocking(plan) == set()


def test_crossguard_passes_the_compliant_path():
    assert crossguard_violations(fm_path(), {"tier": "restricted", "residency": "eu"}, only=set(FM_RULES)) == set()


# -- a reviewer's edits of the plan JSON ---------------------------------------------------------
def _states(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [s["newState"] for s in plan["steps"] if s["newState"]["type"] == type_]


def _drop(plan: dict[str, Any], type_: str) -> None:
    plan["steps"] = [s for s in plan["steps"] if s["newState"]["type"] != type_]


def _each(plan: dict[str, Any], type_: str, edit: Callable[[dict[str, Any]], None]) -> None:
    for state in _states(plan, type_):
        for part in ("inputs", "outputs"):  # rules and CrossGuard read outputs where an input is absent
            edit(state[part])


def _set_policy(plan: dict[str, Any], type_: str, document: str) -> None:
    _each(plan, type_, lambda props: props.update(policy=document))


def drop_invocation_logging(plan):
    _drop(plan, "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration")


def drop_guardrail_condition(plan):
    _set_policy(plan, "aws:iam/policy:Policy", doc(invoke(EU_MODELS)))


def drop_pii_filter(plan):
    _each(plan, "aws:bedrock/guardrail:Guardrail", lambda props: props.pop("sensitiveInformationPolicyConfig"))


def weaken_prompt_attack(plan):
    _each(plan, "aws:bedrock/guardrail:Guardrail",
          lambda props: props["contentPolicyConfig"]["filtersConfigs"][1].update(inputStrength="MEDIUM"))


def drop_guardrail_key(plan):
    _each(plan, "aws:bedrock/guardrail:Guardrail", lambda props: props.pop("kmsKeyArn"))


def drop_guardrail_version(plan):
    _drop(plan, "aws:bedrock/guardrailVersion:GuardrailVersion")


def drop_guardrail(plan):
    _drop(plan, "aws:bedrock/guardrail:Guardrail")


def global_profile_in_policy(plan):
    _set_policy(plan, "aws:iam/policy:Policy", doc(invoke([profile_arn(f"global.{MODEL}")], GUARDED)))


def any_model_through_the_endpoint(plan):
    _set_policy(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", doc({"Effect": "Allow", "Principal": "*", "Action": "*",
                                                              "Resource": "*"}))


def unencrypted_log_group(plan):
    _each(plan, "aws:cloudwatch/logGroup:LogGroup", lambda props: props.pop("kmsKeyId"))


MUTATIONS: list[tuple[str, str, Callable[[dict], None]]] = [
    ("AIB-170", "fm-logging", drop_invocation_logging),  # reported on the region's provider
    ("AIB-170", "fm-logging", unencrypted_log_group),
    ("AIB-176", "app-invoke", drop_guardrail_condition),
    ("AIB-171", "guardrail", drop_pii_filter),
    ("AIB-172", "guardrail", weaken_prompt_attack),
    ("AIB-173", "guardrail", drop_guardrail_key),
    ("AIB-174", "guardrail", drop_guardrail_version),
    ("AIB-175", "app-invoke", global_profile_in_policy),
    ("AIB-175", "bedrock-endpoint", any_model_through_the_endpoint),
]


@pytest.mark.parametrize("rule_id, resource, mutate", MUTATIONS, ids=[m[2].__name__ for m in MUTATIONS])
def test_each_edit_fails_check_with_its_rule(rule_id: str, resource: str, mutate) -> None:
    plan = fm_path()
    mutate(plan)
    result = run(plan, tier="restricted", residency="eu")
    assert result.exit_code == 1
    failed = {(f.rule.id, f.resource_name) for f in result.findings if f.blocking and f.rule.id in FM_RULES}
    expected = (rule_id, "aws-eu-west-1") if mutate is drop_invocation_logging else (rule_id, resource)
    assert expected in failed
    assert {r for r, _ in failed} == {rule_id}, f"{mutate.__name__} should fail only {rule_id}: {failed}"


@pytest.mark.parametrize("rule_id, resource, mutate", MUTATIONS, ids=[m[2].__name__ for m in MUTATIONS])
def test_crossguard_fails_the_same_edit(rule_id: str, resource: str, mutate) -> None:
    plan = fm_path()
    mutate(plan)
    found = crossguard_violations(plan, {"tier": "restricted", "residency": "eu"}, only=set(FM_RULES))
    assert {r for r, _ in found} == {rule_id}


def test_deleting_the_guardrail_fails_every_guardrail_rule_as_missing():
    plan = fm_path()
    drop_guardrail(plan)
    failed = blocking(plan)
    for rule_id in ("AIB-171", "AIB-172", "AIB-173", "AIB-174"):
        assert (rule_id, "ai-blueprints-test") in failed
    # the policy's condition now names a guardrail the stack does not have
    assert ("AIB-176", "app-invoke") in failed


def test_the_tier_minimums_follow_the_tier_matrix():
    """The public tier admits a guardrail with no PII or prompt-attack filter on AWS managed keys,
    and a global profile; the restricted tier admits none of them."""
    b = PlanBuilder(tier="public")
    guardrail(b, pii=None, prompt=None, kms=False)
    invocation_logging(b, kms=False, retention=30)
    b.add("aws:iam/policy:Policy", "app-invoke", {"policy": doc(invoke(
        [profile_arn(f"global.{MODEL}"), fm_arn(region="*")], GUARDED))})
    plan = b.to_dict()
    assert blocking(plan, tier="public") == set()
    assert {r for r, _ in blocking(plan, tier="restricted")} == {"AIB-170", "AIB-171", "AIB-172", "AIB-173", "AIB-175"}


# -- the examples ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tier", EXAMPLES)
def test_each_example_passes_where_it_has_foundation_models_and_is_not_applicable_where_not(example_plan, tier: str):
    spec = example_spec(tier)
    model = PolicyPlan.from_dict(example_plan(tier).to_dict())
    ctx = RuleContext(TIERS[tier], spec.residency)
    results = {rule_id: {r.status for r in get_rule(rule_id).evaluate(model, ctx)} for rule_id in FM_RULES}
    if spec.foundation_models is None:
        assert not foundation_models_present(model)
        assert all(statuses <= {Status.NOT_APPLICABLE} for statuses in results.values()), results
    else:
        assert foundation_models_present(model)
        assert results == {rule_id: {Status.PASS} for rule_id in FM_RULES}


def test_an_unrelated_endpoint_or_policy_is_not_a_foundation_model_path():
    b = PlanBuilder()
    endpoint(b, "s3", doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}),
             service="com.amazonaws.eu-west-1.s3")
    b.add("aws:iam/policy:Policy", "kms", {"policy": doc({"Effect": "Allow", "Action": "*",
                                                          "Resource": "arn:aws:kms:eu-west-1:123456789012:key/1"})})
    assert not foundation_models_present(PolicyPlan.from_dict(b.to_dict()))
    b.add("aws:iam/rolePolicy:RolePolicy", "invoke", {"role": "r", "policy": doc(
        {"Effect": "Allow", "Action": "BEDROCK:invokemodel", "Resource": fm_arn()})})
    assert foundation_models_present(PolicyPlan.from_dict(b.to_dict()))


# -- reading statements ------------------------------------------------------------------------------
@pytest.mark.parametrize("statement, actions", [
    ({"Effect": "Allow", "Action": "*", "Resource": "*"}, 5),
    ({"Effect": "Allow", "Action": "bedrock:Invoke*", "Resource": "*"}, 3),
    ({"Effect": "Allow", "Action": "BEDROCK:INVOKEMODEL", "Resource": "*"}, 1),
    ({"Effect": "Allow", "NotAction": "bedrock:InvokeModel*", "Resource": "*"}, 2),  # Converse, ConverseStream
    ({"Effect": "Allow", "NotAction": "bedrock:*", "Resource": "*"}, 0),
    ({"Effect": "Allow", "Action": "bedrock:ApplyGuardrail", "Resource": "*"}, 0),
])
def test_invoke_actions_follow_iam_matching(statement: dict, actions: int) -> None:
    assert len(invoke_actions(statement)) == actions
    assert grants_invoke(statement) is bool(actions)


def test_a_deny_or_a_non_bedrock_resource_grants_nothing():
    assert not grants_invoke({"Effect": "Deny", "Action": INVOKE, "Resource": "*"})
    assert not grants_invoke({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::bucket/*"})
    assert grants_invoke({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:*:eu-west-1::foundation-model/x"})


@pytest.mark.parametrize("tier, resource, problem", [
    ("restricted", fm_arn(), None),
    ("restricted", profile_arn(f"eu.{MODEL}"), None),
    ("restricted", fm_arn(region="eu-*"), None),  # matches only regions of the residency
    ("restricted", "arn:aws:bedrock:eu-west-1:123456789012:guardrail/g", None),  # not a model
    ("restricted", "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/*", "pattern"),
    ("restricted", "arn:aws:bedrock:eu-west-1::*", "every Bedrock model"),
    ("restricted", profile_arn(f"eu.{MODEL}", region="us-east-1"), "outside residency eu"),
    ("restricted", profile_arn(f"jp.{MODEL}"), "`jp.` profile"),
    ("internal", profile_arn(f"global.{MODEL}"), None),
    ("internal", "arn:aws:bedrock:::foundation-model/" + MODEL, None),
    ("confidential", "arn:aws:bedrock:::foundation-model/" + MODEL, "outside residency eu"),
    ("internal", fm_arn(region="us-west-2"), "outside residency eu"),
])
def test_model_resources_against_tier_and_residency(tier: str, resource: str, problem) -> None:
    found = model_problem(resource, RuleContext(TIERS[tier], "eu"))
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_without_a_residency_a_geographic_tier_admits_only_base_models():
    ctx = RuleContext(TIERS["confidential"], "any")
    assert model_problem(fm_arn(region="ap-southeast-2"), ctx) is None
    assert "without a residency" in model_problem(profile_arn(f"eu.{MODEL}"), ctx)
    assert model_problem(profile_arn(f"eu.{MODEL}"), RuleContext(TIERS["public"], "any")) is None


def test_the_geographies_are_the_specs():
    assert BEDROCK_GEOGRAPHIES == SPEC_GEOGRAPHIES


def test_the_plan_json_round_trip_keeps_the_findings():
    """What `blueprint check PLAN.json` reads: the same findings after a JSON round trip."""
    plan = fm_path()
    drop_guardrail_condition(plan)
    assert blocking(json.loads(json.dumps(copy.deepcopy(plan)))) == {("AIB-176", "app-invoke")}
