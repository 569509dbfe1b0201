"""The CrossGuard validators, called with ResourceValidationArgs / StackValidationArgs built here
(constructing a PolicyPack would start the policy server, so only __main__.py does that)."""

from __future__ import annotations

import copy
import json
from typing import Any, Optional

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.crossguard.validators import Defaults, build_policies, defaults_from_environment, policy_config
from tests.policies.crossguard.harness import PREFIX, crossguard_violations, resource_args, run_policy, stack_args
from policies.rule import all_rules
from policies.runner import run
from policies.rules._aws import WEB_ACL
from tests.policies.plans import PlanBuilder
from tests.policies.scenarios import web_acl

POLICIES = {p.name: p for p in build_policies(Defaults(tier="restricted"))}


def validate(rule_id: str, args) -> list[tuple[str, Optional[str]]]:
    return run_policy(POLICIES[rule_id], args)


def policy_names() -> list[str]:
    """One policy per rule, named by its id, plus `<id>-present` for a resource rule whose
    control must exist (a resource policy never sees a resource that is not there)."""
    names = []
    for rule in all_rules():
        names.append(rule.id)
        if rule.kind == "resource" and not rule.prohibition:
            names.append(f"{rule.id}-present")
    return names


def test_one_policy_per_rule_with_the_tier_levels() -> None:
    rules = all_rules()
    assert sorted(POLICIES) == sorted(policy_names())
    for rule in rules:
        expected = ResourceValidationPolicy if rule.kind == "resource" else StackValidationPolicy
        assert isinstance(POLICIES[rule.id], expected)
        assert POLICIES[rule.id].description == rule.title
        if f"{rule.id}-present" in POLICIES:
            assert isinstance(POLICIES[f"{rule.id}-present"], StackValidationPolicy)
            assert POLICIES[f"{rule.id}-present"].enforcement_level == POLICIES[rule.id].enforcement_level
    public = {p.name: p.enforcement_level for p in build_policies(Defaults(tier="public"))}
    assert POLICIES["AIB-073"].enforcement_level == EnforcementLevel.MANDATORY
    assert public["AIB-073"] == EnforcementLevel.DISABLED
    assert public["AIB-022"] == EnforcementLevel.ADVISORY


def test_resource_validator_reports_open_ingress() -> None:
    open_args = resource_args("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ssh",
                              {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "securityGroupId": "sg-1"})
    [(message, urn)] = validate("AIB-005", open_args)
    assert message.startswith("[AIB-005 critical, restricted tier]") and "0.0.0.0/0" in message and urn is None
    closed = resource_args("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "https",
                           {"cidrIpv4": "10.0.0.0/16", "ipProtocol": "tcp", "securityGroupId": "sg-1"})
    assert validate("AIB-005", closed) == []


def test_resource_validator_ignores_other_types() -> None:
    assert validate("AIB-005", resource_args("aws:s3/bucket:Bucket", "b", {})) == []


def test_unknown_values_during_preview_count_as_set() -> None:
    args = resource_args("aws:cloudwatch/logGroup:LogGroup", "lg",
                         {"name": "/aws/x", "kmsKeyId": UNKNOWN_STRING_VALUE, "retentionInDays": 2557})
    assert validate("AIB-023", args) == []
    assert validate("AIB-040", args) == []
    assert validate("AIB-023", resource_args("aws:cloudwatch/logGroup:LogGroup", "lg", {"retentionInDays": 2557})) != []


def test_tier_comes_from_the_policy_config() -> None:
    props = {"name": "/aws/x", "retentionInDays": 365, "kmsKeyId": "arn:aws:kms:eu-west-1:1:key/1"}
    assert "below the restricted tier's 2557" in validate("AIB-040", resource_args(
        "aws:cloudwatch/logGroup:LogGroup", "lg", props, {"tier": "restricted"}))[0][0]
    assert validate("AIB-040", resource_args("aws:cloudwatch/logGroup:LogGroup", "lg", props, {"tier": "confidential"})) == []
    with pytest.raises(_NotApplicableError):
        validate("AIB-026", resource_args("aws:fsx/lustreFileSystem:LustreFileSystem", "fs", {}, {"tier": "public"}))


def test_protect_comes_from_the_resource_options() -> None:
    assert validate("AIB-091", resource_args("aws:kms/key:Key", "k", {}, protect=True)) == []
    assert validate("AIB-091", resource_args("aws:kms/key:Key", "k", {}, protect=False)) != []
    assert validate("AIB-092", resource_args("aws:kms/key:Key", "k", {}, protect=True)) == []  # not visible: n/a


def test_suppressions_in_the_policy_config() -> None:
    config = {"suppressions": [{"rule": "AIB-005", "resource": "ssh", "reason": "break-glass bastion, CHG-1"}]}
    args = resource_args("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ssh", {"cidrIpv4": "0.0.0.0/0"}, config)
    assert validate("AIB-005", args) == []


def _web_acl_props(countries: tuple[str, ...]) -> dict[str, Any]:
    b = PlanBuilder()
    web_acl(b, countries=countries)
    [acl] = [s["newState"] for s in b.to_dict()["steps"] if s["newState"]["type"] == WEB_ACL]
    return acl["inputs"]


def test_resource_validator_infers_residency_from_the_provider_region() -> None:
    """Residency unset in the config: as in `blueprint check`, the resource's eu provider region
    makes it eu, so a restricted web ACL needs a geo allowlist within the EU."""
    def violations(countries: tuple[str, ...], region: str = "eu-west-1", **config: Any) -> list:
        args = resource_args(WEB_ACL, "acl", _web_acl_props(countries), {"tier": "restricted", **config}, region=region)
        return validate("AIB-089", args)

    [(message, _)] = violations(())
    assert "no geo allowlist" in message
    [(message, _)] = violations(("IE", "US"))
    assert "US outside residency eu" in message
    assert violations(("IE", "DE")) == []
    assert violations(("IE", "US"), region="ap-south-1") == []  # no residency holds it: any
    with pytest.raises(ValueError, match="unknown residency"):
        violations(("IE", "DE"), residency="mars")


# -- stack validators -------------------------------------------------------------------------------
def test_stack_validator_finds_a_gateway_in_the_training_vpc() -> None:
    from tests.policies.scenarios import IGW, training

    b = PlanBuilder()
    comp, v = training(b)
    igw = b.add(IGW, "demo-training-igw", {"vpcId": v.id}, parent=comp, deps=[v])
    [(message, urn)] = validate("AIB-001", stack_args(b.to_dict()))
    assert urn == igw.urn and "internet gateway" in message


def test_stack_validator_links_bucket_parts_through_dependencies_when_ids_are_unknown() -> None:
    from tests.policies.plans import bucket

    b = PlanBuilder()
    data = bucket(b, "data")
    unknown_ids = frozenset({("data-encryption", "bucket")})
    assert validate("AIB-021", stack_args(b.to_dict(), unknown=unknown_ids)) == []
    b2 = PlanBuilder()
    bucket(b2, "data", key=False)
    [(_, urn)] = validate("AIB-021", stack_args(b2.to_dict(), unknown=unknown_ids))
    assert urn == data.urn


def test_residency_from_policy_config_or_home_region() -> None:

    b = PlanBuilder()
    b.add("aws:kms/key:Key", "k", {}, region="us-east-1")
    assert validate("AIB-093", stack_args(b.to_dict())) == []  # home region us-east-1: residency us
    [(message, urn)] = validate("AIB-093", stack_args(b.to_dict(), {"residency": "eu"}))
    assert "us-east-1 is outside residency eu" in message and urn.endswith("::aws-us-east-1")


def test_crossguard_and_offline_check_agree_on_the_public_example_under_restricted(example_plan) -> None:
    plan = example_plan("public").to_dict()
    offline = {(f.rule.id, f.resource) for f in run(plan, tier="restricted", residency="us").findings
               if f.outcome == "violation" and f.rule.id != "AIB-092"}  # retainOnDelete is not visible to CrossGuard
    crossguard = crossguard_violations(plan, {"tier": "restricted", "residency": "us"}, list(POLICIES.values()))
    assert offline and crossguard == offline


def test_crossguard_reports_a_control_missing_from_the_whole_stack(example_plan) -> None:
    """A resource policy never sees a trail that is not there: AIB-041's `-present` stack policy does."""
    plan = copy.deepcopy(example_plan("restricted").to_dict())
    plan["steps"] = [s for s in plan["steps"] if s["newState"]["type"] != "aws:cloudtrail/trail:Trail"]
    found = crossguard_violations(plan, {"tier": "restricted"}, list(POLICIES.values()), only={"AIB-041", "AIB-042"})
    stack = plan["steps"][0]["urn"]
    assert found == {("AIB-041", stack), ("AIB-042", stack)}


def test_policy_config_document_per_tier() -> None:
    doc = policy_config("confidential", "eu")
    assert doc["AIB-001"] == {"enforcementLevel": "mandatory", "tier": "confidential", "residency": "eu"}
    assert doc["AIB-073"]["enforcementLevel"] == "disabled"
    assert set(doc) == set(policy_names())
    assert doc["AIB-041-present"] == doc["AIB-041"]
    with pytest.raises(ValueError, match="unknown tier"):
        policy_config("top-secret")


def test_defaults_read_the_stack_config(monkeypatch) -> None:
    spec = {"name": "x", "tier": "confidential", "residency": "eu"}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"ai-blueprints:blueprint": json.dumps(spec)}))
    assert defaults_from_environment() == Defaults(tier="confidential", residency="eu")
    monkeypatch.setenv("PULUMI_CONFIG", "{}")
    monkeypatch.setenv("BLUEPRINT_TIER", "internal")
    assert defaults_from_environment() == Defaults(tier="internal", residency=None)
    monkeypatch.delenv("BLUEPRINT_TIER")
    assert defaults_from_environment().tier == "restricted"


def test_pack_directory_files() -> None:
    from tests.conftest import ROOT

    pack = ROOT / "policies" / "crossguard"
    yaml_text = (pack / "PulumiPolicy.yaml").read_text()
    assert "name: python" in yaml_text and "description:" in yaml_text
    assert (pack / "requirements.txt").read_text().split() == ["pulumi==3.272.0", "pulumi-policy==1.21.0"]
    main = (pack / "__main__.py").read_text()
    assert "PolicyPack(" in main and "sys.path.insert" in main


def test_preview_unknowns_are_linked_through_dependencies() -> None:
    """During a preview, ids and ARNs of resources being created are unknown: stage names in
    method settings, a health check's host and the trail's bucket resolve through dependencies."""
    from tests.policies.plans import bucket, trail
    from tests.policies.scenarios import HEALTH_CHECK, METHOD_SETTINGS, _method, stage

    b = PlanBuilder(tier="public")
    api, st = stage(b)
    b.add(METHOD_SETTINGS, "throttle", {"restApi": api.id, "stageName": "v1", "methodPath": "*/*",
                                        "settings": {"throttlingRateLimit": 10, "throttlingBurstLimit": 20}}, deps=[api, st])
    _method(b, api, "health", "GET", "NONE")
    b.add(HEALTH_CHECK, "probe", {"type": "HTTPS", "fqdn": f"{api.id}.execute-api.eu-west-1.amazonaws.com",
                                  "resourcePath": "/v1/health"}, deps=[api, st])
    audit = bucket(b, "audit-bucket")
    trail(b, s3BucketName=audit.id)
    b.steps[-1]["newState"]["dependencies"] = [audit.urn]
    unknown = frozenset({("throttle", "stageName"), ("throttle", "restApi"), ("probe", "fqdn"), ("probe", "resourcePath"),
                         ("health-get", "resourceId"), ("audit", "s3BucketName")})
    args = stack_args(b.to_dict(), {"tier": "public"}, unknown=unknown)
    assert validate("AIB-086", args) == []
    assert validate("AIB-060", args) == []
    locked = stack_args(b.to_dict(), {"tier": "restricted"}, unknown=unknown)
    assert [urn for _, urn in validate("AIB-073", locked)] == [audit.urn]


def _struct(values: dict) -> Any:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    s.update(values)
    return s


def test_the_sdk_analyzer_dispatches_to_the_validators() -> None:
    """The policy SDK's own servicer (what the PolicyPack serves, without starting a server)
    runs the resource and stack validators and reports with the tier's enforcement levels."""
    from pulumi.runtime import proto
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    servicer = _PolicyAnalyzerServicer("ai-blueprints-guardrails", "0.0.1", build_policies(Defaults(tier="restricted")),
                                       EnforcementLevel.ADVISORY)
    info = servicer.GetAnalyzerInfo(None, None)
    assert len(info.policies) == len(policy_names())
    provider = proto.AnalyzerProviderResource(type="pulumi:providers:aws", properties=_struct({"region": "eu-west-1"}),
                                              urn=f"{PREFIX}pulumi:providers:aws::default", name="default")
    sg_type = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    request = proto.AnalyzeRequest(type=sg_type, properties=_struct({"cidrIpv4": "0.0.0.0/0"}), urn=f"{PREFIX}{sg_type}::ssh",
                                   name="ssh", options=proto.AnalyzerResourceOptions(protect=False), provider=provider)
    [diagnostic] = servicer.Analyze(request, None).diagnostics
    assert diagnostic.policyName == "AIB-005" and diagnostic.enforcementLevel == proto.MANDATORY

    def resource(type_: str, name: str, props: dict, parent: str = "", deps: tuple = ()) -> Any:
        return proto.AnalyzerResource(type=type_, properties=_struct(props), urn=f"{PREFIX}{type_}::{name}", name=name,
                                      options=proto.AnalyzerResourceOptions(protect=False), provider=provider,
                                      parent=parent, dependencies=list(deps))

    component = resource("aiblueprints:network:IsolatedVpc", "demo-training", {})
    vpc_ = resource("aws:ec2/vpc:Vpc", "demo-training-vpc", {"id": "vpc-1"}, parent=component.urn)
    igw = resource("aws:ec2/internetGateway:InternetGateway", "stray-igw", {"vpcId": "vpc-1"}, deps=(vpc_.urn,))
    response = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[component, vpc_, igw]), None)
    assert {(d.policyName, d.urn) for d in response.diagnostics if d.policyName == "AIB-001"} == {("AIB-001", igw.urn)}


# -- accounts ---------------------------------------------------------------------------------------
def _two_account_plan() -> dict[str, Any]:
    """A training bucket in the training account, and one the deployer's provider creates."""
    from tests.policies.scenarios_accounts import INF, TRN, declare, in_account, small_bucket

    b = PlanBuilder()
    declare(b, training=TRN, inference=INF)
    comp = b.component("aiblueprints:network:IsolatedVpc", "demo-training")
    with in_account(b, TRN):
        small_bucket(b, "demo-training-data", f"arn:aws:kms:eu-west-1:{TRN}:key/1", parent=comp)
    small_bucket(b, "demo-training-scratch", f"arn:aws:kms:eu-west-1:{TRN}:key/1", parent=comp)
    return b.to_dict()


def test_resources_get_their_providers_account_and_the_plan_its_accounts_from_the_config() -> None:
    from policies.crossguard.validators import plan_from_policy
    from tests.policies.scenarios_accounts import INF, TRN

    plan = _two_account_plan()
    model = plan_from_policy(stack_args(plan), accounts={"training": TRN, "inference": INF})
    assert {r.name: r.account for r in model.resources if r.type == "aws:s3/bucket:Bucket"} == {
        "demo-training-data": TRN, "demo-training-scratch": ""}
    assert model.accounts == {"training": TRN, "inference": INF}
    bucket = next(s for s in stack_args(plan).resources if s.name == "demo-training-data")
    args = resource_args(bucket.resource_type, bucket.name, {}, None)
    args.provider = bucket.provider
    from policies.crossguard.validators import resource_from_policy
    assert resource_from_policy(args).account == TRN

    found = crossguard_violations(plan, {"tier": "confidential", "accounts": plan["accounts"]}, only={"AIB-161"})
    assert {urn.rsplit("::", 1)[-1] for _, urn in found} == {"demo-training-scratch", "demo-training-scratch-encryption"}
    # Without accounts in either config the pack cannot place anything: the stack fails.
    assert {urn for _, urn in crossguard_violations(plan, {"tier": "confidential"}, only={"AIB-161"})} == {
        plan["steps"][0]["urn"]}


def test_accounts_come_from_the_stack_config_when_the_policy_config_has_none(monkeypatch) -> None:
    from tests.policies.scenarios_accounts import INF, TRN

    spec = {"name": "x", "tier": "confidential", "residency": "eu",
            "accounts": {"training": TRN, "inference": INF, "deployRole": "deployer"}}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"ai-blueprints:blueprint": json.dumps(spec)}))
    defaults = defaults_from_environment()
    assert defaults == Defaults(tier="confidential", residency="eu", accounts=(("training", TRN), ("inference", INF)))
    plan = _two_account_plan()
    found = crossguard_violations(plan, {}, build_policies(defaults), only={"AIB-161"})
    assert {urn.rsplit("::", 1)[-1] for _, urn in found} == {"demo-training-scratch", "demo-training-scratch-encryption"}


def test_policy_config_carries_the_accounts_and_refuses_bad_ones(capsys) -> None:
    from policies.crossguard.config import main

    accounts = {"training": "111111111111", "inference": "222222222222", "logArchive": "333333333333"}
    doc = policy_config("restricted", "eu", accounts=accounts)
    assert doc["AIB-161"]["accounts"] == accounts and doc["AIB-001"]["accounts"] == accounts
    assert "accounts" not in policy_config("restricted")["AIB-161"]
    with pytest.raises(ValueError, match="unknown role 'prod'"):
        policy_config("restricted", accounts={"prod": "111111111111"})
    with pytest.raises(ValueError, match="accounts.training: '1111' is not a quoted 12-digit account id"):
        policy_config("restricted", accounts={"training": "1111"})

    assert main(["restricted", "eu", "--accounts", "training=111111111111,inference=222222222222"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["AIB-160"]["accounts"] == {"training": "111111111111", "inference": "222222222222"}
    assert main(["restricted", "--accounts", "training:111111111111"]) == 2
    assert "is not ROLE=ACCOUNT_ID" in capsys.readouterr().err
    assert main(["restricted", "--accounts"]) == 2


def test_the_organisation_comes_from_the_policy_config_or_the_stack_config(monkeypatch, capsys) -> None:
    """A topic policy admitting the stack's organisation passes AIB-165 only where CrossGuard
    knows that organisation: from the policy config, else the stack config."""
    from policies.crossguard.config import main
    from tests.policies.scenarios_accounts import ARC, INF, ORG, TRN, declare

    b = PlanBuilder()
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    b.add("aws:sns/topic:Topic", "org-topic", {"policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}]})})
    plan = b.to_dict()
    config = {"tier": "restricted", "accounts": plan["accounts"]}
    assert crossguard_violations(plan, config, only={"AIB-165"})
    assert not crossguard_violations(plan, {**config, "organization": ORG}, only={"AIB-165"})

    spec = {"name": "x", "tier": "restricted", "residency": "eu", "accounts": {**plan["accounts"], "organization": ORG}}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"ai-blueprints:blueprint": json.dumps(spec)}))
    defaults = defaults_from_environment()
    assert defaults.organization == ORG
    assert not crossguard_violations(plan, {}, build_policies(defaults), only={"AIB-165"})

    assert policy_config("restricted", "eu", organization=ORG)["AIB-165"]["organization"] == ORG
    with pytest.raises(ValueError, match="organization: 'o-1' is not an AWS Organizations id"):
        policy_config("restricted", organization="o-1")
    assert main(["restricted", "eu", "--organization", ORG]) == 0
    assert json.loads(capsys.readouterr().out)["AIB-001"]["organization"] == ORG
    assert main(["restricted", "--organization"]) == 2
    assert "--organization needs an AWS Organizations id" in capsys.readouterr().err
