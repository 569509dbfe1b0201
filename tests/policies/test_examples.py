"""The example stacks against the packs, and mutations of a rendered plan that `check` must
catch with the right rule id."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from blueprints.plan.engine import load_stack_file
from blueprints.program import load_spec
from policies.model import urn_name
from policies.rules._aws import IGW, NAT
from policies.runner import check, run
from tests.conftest import EXAMPLES, STACKS


# Mandatory rules that judge nothing in an example because it does not enable the feature they
# guard: the rule id -> the feature (the coverage test and the mutation suite allow these).
OPTIONAL_FEATURES: dict[str, str] = {
    "AIB-064": "Lambda function URLs: no blueprint creates one; the rule stops one from being added",
    "AIB-099": "a custom domain (inference.domainName + hostedZoneId), the only source of DNS records",
}


def example_spec(tier: str):
    """The example stack's validated spec, loaded the way `blueprint check` loads it."""
    stack = load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml")
    return load_spec(*stack.runtime_config())


@pytest.mark.parametrize("tier", EXAMPLES)
def test_example_passes_its_own_tier_pack(example_plan, tier: str) -> None:
    """As `blueprint check` runs it: the stack's residency and suppressions."""
    spec = example_spec(tier)
    result = run(example_plan(tier).to_dict(), residency=spec.residency,
                 suppressions=[s.model_dump() for s in spec.model.suppressions])
    blocking = [(f.rule.id, f.resource_name, f.message) for f in result.findings if f.blocking]
    assert blocking == []
    assert result.exit_code == 0
    assert len(result.of("pass")) > 50  # the pack really judged the plan


@pytest.mark.parametrize("tier", EXAMPLES)
def test_every_mandatory_rule_judges_something_in_its_example(example_plan, tier: str) -> None:
    """The coverage report (`check --format json`): each mandatory rule of the example's own tier
    evaluated at least one resource, but for the optional features listed above."""
    spec = example_spec(tier)
    text, _ = check(example_plan(tier).to_dict(), residency=spec.residency, fmt="json",
                    suppressions=[s.model_dump() for s in spec.model.suppressions])
    coverage = json.loads(text)["coverage"]
    idle = {rule for rule, c in coverage.items() if c["level"] == "mandatory" and c["evaluated"] == 0}
    assert idle <= set(OPTIONAL_FEATURES), f"{sorted(idle - set(OPTIONAL_FEATURES))} evaluate nothing in the {tier} example"
    assert all(c["evaluated"] > 0 for rule, c in coverage.items() if c["level"] == "mandatory" and rule not in OPTIONAL_FEATURES)


def test_restricted_pack_rejects_the_public_example(example_plan) -> None:
    result = run(example_plan("public").to_dict(), tier="restricted")
    assert result.exit_code == 1
    failed = {f.rule.id for f in result.findings if f.blocking}
    # the tiers really differ: egress, public EKS endpoint, CMKs, retention, IAM-only API, Object Lock
    assert {"AIB-001", "AIB-002", "AIB-010", "AIB-021", "AIB-040", "AIB-060", "AIB-073"} <= failed


# -- mutations ------------------------------------------------------------------------------------
def _steps(plan: dict[str, Any], type_: str, name_part: str = "") -> list[dict[str, Any]]:
    found = [s for s in plan["steps"] if s["newState"]["type"] == type_ and name_part in urn_name(s["urn"])]
    assert found, f"no {type_} named *{name_part}* in the plan"
    return found


def drop_bucket_encryption(plan: dict) -> str:
    bucket = _steps(plan, "aws:s3/bucket:Bucket", "training-data")[0]
    step = next(s for s in _steps(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
                if s["newState"]["inputs"]["bucket"] == bucket["newState"]["id"])
    plan["steps"].remove(step)
    return urn_name(bucket["urn"])


def open_security_group(plan: dict) -> str:
    step = _steps(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "endpoints-https-in")[0]
    step["newState"]["inputs"]["cidrIpv4"] = "0.0.0.0/0"
    return urn_name(step["urn"])


def public_eks_endpoint(plan: dict) -> str:
    step = _steps(plan, "aws:eks/cluster:Cluster", "training")[0]
    step["newState"]["inputs"]["vpcConfig"]["endpointPublicAccess"] = True
    return urn_name(step["urn"])


def remove_waf_association(plan: dict) -> str:
    step = _steps(plan, "aws:wafv2/webAclAssociation:WebAclAssociation")[0]
    plan["steps"].remove(step)
    stage_arn = step["newState"]["inputs"]["resourceArn"]
    stage = next(s for s in _steps(plan, "aws:apigateway/stage:Stage") if s["newState"]["outputs"].get("arn") == stage_arn)
    return urn_name(stage["urn"])


def shorten_log_retention(plan: dict) -> str:
    step = _steps(plan, "aws:cloudwatch/logGroup:LogGroup", "flow-logs")[0]
    step["newState"]["inputs"]["retentionInDays"] = 30
    return urn_name(step["urn"])


def _add_beside(plan: dict, anchor: dict, type_: str, name: str, inputs: dict) -> str:
    """A resource `name` of `type_` added next to `anchor` (same parent and provider)."""
    state = anchor["newState"]
    urn = state["urn"].rsplit("::", 1)[0].rsplit("$", 1)[0] + "$" + type_ + "::" + name
    plan["steps"].append({"op": "create", "urn": urn, "provider": anchor["provider"], "newState": {
        "urn": urn, "type": type_, "custom": True, "id": f"{name}-0123456789", "parent": state["parent"],
        "provider": state["provider"], "inputs": inputs, "outputs": dict(inputs),
        "dependencies": [state["urn"]], "protect": False}})
    return name


def add_internet_gateway_to_training_vpc(plan: dict) -> str:
    vpc = _steps(plan, "aws:ec2/vpc:Vpc", "training")[0]
    return _add_beside(plan, vpc, IGW, "sneaky-igw", {"vpcId": vpc["newState"]["id"]})


def add_internet_gateway_to_an_inference_vpc(plan: dict) -> str:
    vpc = _steps(plan, "aws:ec2/vpc:Vpc", "inf-euc1-net")[0]
    return _add_beside(plan, vpc, IGW, "serving-igw", {"vpcId": vpc["newState"]["id"]})


def add_nat_gateway_to_an_inference_vpc(plan: dict) -> str:
    subnet = _steps(plan, "aws:ec2/subnet:Subnet", "inf-euw1-net-private-0")[0]
    return _add_beside(plan, subnet, NAT, "serving-nat", {"subnetId": subnet["newState"]["id"],
                                                          "connectivityType": "public"})


def unprotect_bucket(plan: dict) -> str:
    step = _steps(plan, "aws:s3/bucket:Bucket", "training-data")[0]
    step["newState"]["protect"] = False
    return urn_name(step["urn"])


def disable_key_rotation(plan: dict) -> str:
    step = _steps(plan, "aws:kms/key:Key")[0]
    step["newState"]["inputs"]["enableKeyRotation"] = False
    return urn_name(step["urn"])


# -- the five plans issue 9 found passing: each must now fail with a rule that names the problem --
def remove_the_trail(plan: dict) -> str:
    plan["steps"] = [s for s in plan["steps"] if s["newState"]["type"] != "aws:cloudtrail/trail:Trail"]
    return urn_name(plan["steps"][0]["urn"])  # reported against the stack


def remove_every_network_policy(plan: dict) -> str:
    plan["steps"] = [s for s in plan["steps"] if s["newState"]["type"] != "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    return urn_name(_model_server(plan)["urn"])


def _model_server(plan: dict) -> dict:
    return _steps(plan, "kubernetes:apps/v1:Deployment", "euw1-serving-deployment")[0]


def privileged_model_server(plan: dict) -> str:
    step = _model_server(plan)
    step["newState"]["inputs"]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    return urn_name(step["urn"])


def model_server_as_root(plan: dict) -> str:
    step = _model_server(plan)
    pod = step["newState"]["inputs"]["spec"]["template"]["spec"]
    pod["securityContext"]["runAsUser"] = 0
    pod["securityContext"].pop("runAsNonRoot")
    pod["containers"][0]["securityContext"].pop("runAsNonRoot")
    return urn_name(step["urn"])


def key_policy_open_to_everyone(plan: dict) -> str:
    step = _steps(plan, "aws:kms/key:Key", "training-data")[0]
    doc = json.loads(step["newState"]["inputs"]["policy"])
    doc["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"})
    step["newState"]["inputs"]["policy"] = step["newState"]["outputs"]["policy"] = json.dumps(doc)
    return urn_name(step["urn"])


def remove_security_hub(plan: dict) -> str:
    plan["steps"] = [s for s in plan["steps"] if s["newState"]["type"] != "aws:securityhub/account:Account"]
    return "aws-111111111111-eu-west-1"  # reported against each account's provider in each region


def remove_invocation_logging(plan: dict) -> str:
    """The inference account's invocation logging in eu-west-1 (issue 10)."""
    inference = plan["accounts"]["inference"]
    (step,) = [s for s in _steps(plan, "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration",
                                 "inf-euw1") if inference in s["provider"]]
    plan["steps"].remove(step)
    return f"aws-{inference}-eu-west-1"


def remove_the_guardrail_condition(plan: dict) -> str:
    step = _steps(plan, "aws:iam/policy:Policy", "inf-euw1-fm-invoke")[0]
    doc = json.loads(step["newState"]["inputs"]["policy"])
    for stmt in doc["Statement"]:
        for operator in list(stmt.get("Condition", {})):
            stmt["Condition"][operator].pop("bedrock:GuardrailIdentifier", None)
    step["newState"]["inputs"]["policy"] = step["newState"]["outputs"]["policy"] = json.dumps(doc)
    return urn_name(step["urn"])


def remove_the_pii_filter(plan: dict) -> str:
    step = _steps(plan, "aws:bedrock/guardrail:Guardrail", "inf-euw1")[0]
    for state in (step["newState"]["inputs"], step["newState"]["outputs"]):
        state.pop("sensitiveInformationPolicyConfig", None)
    return urn_name(step["urn"])


MUTATIONS: list[tuple[Callable[[dict], str], str]] = [
    (remove_the_trail, "AIB-041"),
    (remove_every_network_policy, "AIB-110"),
    (privileged_model_server, "AIB-100"),
    (model_server_as_root, "AIB-102"),
    (key_policy_open_to_everyone, "AIB-120"),
    (remove_security_hub, "AIB-083"),
    (drop_bucket_encryption, "AIB-020"),
    (drop_bucket_encryption, "AIB-021"),
    (open_security_group, "AIB-005"),
    (public_eks_endpoint, "AIB-010"),
    (remove_waf_association, "AIB-085"),
    (shorten_log_retention, "AIB-040"),
    (add_internet_gateway_to_training_vpc, "AIB-001"),
    (add_internet_gateway_to_an_inference_vpc, "AIB-012"),
    (add_nat_gateway_to_an_inference_vpc, "AIB-013"),
    (unprotect_bucket, "AIB-091"),
    (disable_key_rotation, "AIB-022"),
    (remove_invocation_logging, "AIB-170"),
    (remove_the_guardrail_condition, "AIB-176"),
    (remove_the_pii_filter, "AIB-171"),
]


@pytest.mark.parametrize("mutate,rule_id", MUTATIONS, ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_mutation_fails_check_with_the_right_rule(example_plan, mutate, rule_id: str) -> None:
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    assert check(plan)[1] == 0
    culprit = mutate(plan)
    text, code = check(plan, fmt="json")
    assert code == 1
    doc = json.loads(text)
    violations = {(f["rule"], f["resourceName"]) for f in doc["findings"] if f["outcome"] == "violation" and f["level"] == "mandatory"}
    assert (rule_id, culprit) in violations
