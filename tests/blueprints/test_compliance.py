"""Continuous compliance (issue 14): `compliance.frameworks` in the spec (no render); what the
restricted example, which declares [gdpr, pci-dss], builds; and, on the render test_security.py
shares, what `recorder: existing` leaves out."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from blueprints import compliance
from blueprints.spec import SpecError, parse_spec
from blueprints.tiers import get_tier
from policies.config_rules import CONFIG_RULES
from policies.packs import pack
from tests.blueprints.test_security import stack_spec
from tests.conftest import spec_config

# The config test_security.py renders for the organisation's recorder (one render serves both).
EXISTING = {"compliance": {"recorder": "existing", "frameworks": ["sox"]}, "training": {"enabled": False}}
RULE = "aws:cfg/rule:Rule"
RECORDER = "aws:cfg/recorder:Recorder"
STANDARD = "aws:securityhub/standardsSubscription:StandardsSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"


def problems_of(tier, changes=None):
    try:
        parse_spec(spec_config(tier, changes), region="eu-west-1")
    except SpecError as exc:
        return exc.problems
    return []


def frameworks(*names, **more):
    return {"compliance": {"frameworks": list(names)}, **more}


# -- spec: no render ---------------------------------------------------------------------------------
def test_frameworks_default_to_none_and_the_declared_ones_validate():
    assert parse_spec(spec_config("restricted"), region="eu-west-1").model.compliance.frameworks == []
    assert problems_of("restricted", frameworks("gdpr", "pci-dss", "hipaa", "sox", "nist-800-53")) == []
    assert problems_of("confidential", frameworks("gdpr", "pci-dss", "sox", "nist-800-53")) == []


@pytest.mark.parametrize("changes, start", [
    (frameworks("soc2"), "compliance.frameworks[0]: 'soc2' is not allowed; use one of 'gdpr', 'hipaa', 'pci-dss'"),
    (frameworks("gdpr", "pci-dss", "gdpr"), "compliance.frameworks: gdpr listed twice; list each framework once"),
    ({"compliance": {"recorder": "organisation"}}, "compliance.recorder: 'organisation' is not allowed"),
    ({"compliance": {"frameworks": "gdpr"}}, "compliance.frameworks: "),
])
def test_bad_compliance_input_names_the_key(changes, start):
    [line] = problems_of("restricted", changes)
    assert line.startswith(start), line


@pytest.mark.parametrize("tier, framework, needs", [
    ("internal", "pci-dss", "confidential"), ("public", "pci-dss", "confidential"),
    ("internal", "hipaa", "restricted"), ("confidential", "hipaa", "restricted"),
])
def test_pci_dss_and_hipaa_below_what_they_need_name_the_tier(tier, framework, needs):
    changes = frameworks(framework, threatDetection=True) if tier == "public" else frameworks(framework)
    [line] = problems_of(tier, changes)
    assert line.startswith(f"compliance.frameworks[0]: {framework} needs tier {needs}: "), line
    assert line.endswith(f"(tier {tier}, rule: compliance frameworks)")


def test_hipaa_on_confidential_says_which_retention_falls_short():
    [line] = problems_of("confidential", frameworks("hipaa"))
    assert "logs kept at least 2190 days (HIPAA 164.316(b)(2)(i): six years); tier confidential keeps them 365 days " \
           "(log retention)" in line


def test_each_demand_bites_when_the_tier_falls_short():
    """The demands are read from the tier: a tier that kept logs 90 days, used AWS managed keys or
    had no WAF would fail them (the shipped confidential and restricted tiers pass)."""
    pci, hipaa = compliance.DEMANDS["pci-dss"], compliance.DEMANDS["hipaa"]
    confidential = get_tier("confidential")
    assert pci.tier_falls_short(confidential) == [] and hipaa.tier_falls_short(get_tier("restricted")) == []
    short = pci.tier_falls_short(replace(confidential, log_retention_days=90, waf_managed_rule_groups=()))
    assert any("at least 365 days (PCI DSS 10.5.1" in s for s in short) and any("WAF" in s for s in short)
    assert any("customer managed KMS keys" in s for s in hipaa.tier_falls_short(
        replace(get_tier("restricted"), keys="aws-managed")))


def test_gdpr_needs_a_residency_where_the_tier_does_not_require_one():
    [line] = problems_of("internal", frameworks("gdpr", residency="any"))
    assert line.startswith("residency: gdpr needs a residency") and "set residency: eu or us" in line
    assert problems_of("internal", frameworks("gdpr", residency="eu")) == []


def test_frameworks_need_threat_detection():
    [line] = problems_of("public", frameworks("sox"))
    assert line.startswith("compliance.frameworks: sox need threat detection") and "threatDetection: true" in line
    assert problems_of("public", frameworks("sox", threatDetection=True)) == []


def test_config_rules_follow_the_pack_and_the_tier_parameters():
    """One managed rule per mandatory guardrail with an equivalent; the retention parameter is the
    longest AWS Config accepts within the tier's; IAM (global) only in the home region."""
    for tier_name in ("internal", "restricted"):
        tier = get_tier(tier_name)
        rules = {r.identifier: r for r in compliance.config_rules(tier, home=True)}
        levels = pack(tier)
        assert set(rules) == {m.identifier for rid, m in CONFIG_RULES.items()
                              if levels[rid] == "mandatory" and m.applies(tier)}
        assert "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS" not in {
            r.identifier for r in compliance.config_rules(tier, home=False)}
    restricted = {r.identifier: r for r in compliance.config_rules(get_tier("restricted"), home=True)}
    assert restricted["CW_LOGGROUP_RETENTION_PERIOD_CHECK"].parameters == {"MinRetentionTime": "1827"}
    internal = {r.identifier: r for r in compliance.config_rules(get_tier("internal"), home=True)}
    assert internal["CW_LOGGROUP_RETENTION_PERIOD_CHECK"].parameters == {"MinRetentionTime": "90"}
    assert "EKS_ENDPOINT_NO_PUBLIC_ACCESS" in restricted and "EKS_ENDPOINT_NO_PUBLIC_ACCESS" not in internal


# -- the restricted example (frameworks: [gdpr, pci-dss]) ----------------------------------------------
def by_slot(plan, type_):
    out: dict[tuple[str, str], list] = {}
    for r in plan.of_type(type_):
        out.setdefault((plan.provider_account(r), plan.provider_region(r)), []).append(r)
    return out


def test_restricted_with_frameworks_records_and_checks_every_region_of_every_account(example_plan):
    plan = example_plan("restricted")
    spec = stack_spec("restricted")
    assert spec.model.compliance.frameworks == ["gdpr", "pci-dss"]
    slots = {(spec.account(role), region) for role, regions in spec.regions_by_account().items() for region in regions}
    assert set(by_slot(plan, RECORDER)) == slots
    for type_ in ("aws:cfg/deliveryChannel:DeliveryChannel", "aws:cfg/recorderStatus:RecorderStatus"):
        assert set(by_slot(plan, type_)) == slots
    rules = by_slot(plan, RULE)
    assert set(rules) == slots
    for (account, region), found in rules.items():
        assert len(found) >= 20, (account, region, len(found))
        identifiers = {r.inputs["source"]["sourceIdentifier"] for r in found}
        assert identifiers <= {m.identifier for m in CONFIG_RULES.values()}  # AWS managed rules only
        home = region == spec.regions_by_account()[next(role for role in spec.regions_by_account()
                                                         if spec.account(role) == account)][0]
        assert ("IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS" in identifiers) is home
        [status] = by_slot(plan, "aws:cfg/recorderStatus:RecorderStatus")[account, region]
        for rule in found:
            assert rule.inputs["source"]["owner"] == "AWS"
            assert rule.inputs["name"].startswith("fraud-models-aib-")
            assert status.urn in rule.dependencies  # created once the region's recorder is on
            scope = rule.inputs.get("scope")
            if "maximumExecutionFrequency" in rule.inputs:  # periodic: AWS Config rejects a scope
                assert scope is None
            else:
                assert scope["tagKey"] == "Blueprint" and scope["tagValue"] == "fraud-models"
                assert scope["complianceResourceTypes"]
        retention = next(r for r in found if r.inputs["source"]["sourceIdentifier"] == "CW_LOGGROUP_RETENTION_PERIOD_CHECK")
        assert json.loads(retention.inputs["inputParameters"]) == {"MinRetentionTime": "1827"}


def test_restricted_with_pci_dss_subscribes_its_standard_wherever_security_hub_runs(example_plan):
    plan = example_plan("restricted")
    hubs = by_slot(plan, "aws:securityhub/account:Account")
    standards = by_slot(plan, STANDARD)
    assert set(standards) == set(hubs)
    for slot, subs in standards.items():
        arns = sorted(s.inputs["standardsArn"] for s in subs)
        assert arns == [f"arn:aws:securityhub:{slot[1]}::standards/aws-foundational-security-best-practices/v/1.0.0",
                        f"arn:aws:securityhub:{slot[1]}::standards/pci-dss/v/4.0.1"]
        for s in subs:
            assert hubs[slot][0].urn in s.dependencies


def test_non_compliance_goes_to_the_siem_and_the_findings_topic(example_plan):
    plan = example_plan("restricted")
    routed = [r for r in plan.of_type(EVENT_RULE) if json.loads(r.inputs["eventPattern"])["source"] == ["aws.config"]]
    assert set(by_slot(plan, RECORDER)) == {(plan.provider_account(r), plan.provider_region(r)) for r in routed}
    targets = plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
    policies = plan.of_type("aws:sns/topicPolicy:TopicPolicy")
    for rule in routed:
        pattern = json.loads(rule.inputs["eventPattern"])
        assert pattern["detail-type"] == ["Config Rules Compliance Change"]
        assert pattern["detail"] == {"configRuleName": [{"prefix": "fraud-models-aib-"}],
                                     "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]}}
        mine = [t for t in targets if t.inputs["rule"] == rule.outputs["name"] and t.parent == rule.parent]
        arns = {t.inputs["arn"] for t in mine}
        assert any(":sns:" in a for a in arns) and any(":firehose:" in a for a in arns)
        # The topic policy admits EventBridge for exactly its rules, this one among them.
        [policy] = [p for p in policies if p.parent == rule.parent]
        [statement] = json.loads(policy.inputs["policy"])["Statement"]
        assert rule.outputs["arn"] in statement["Condition"]["ArnEquals"]["aws:SourceArn"]


def test_gdpr_expires_erased_training_records_within_a_month_and_never_locks_them(example_plan):
    plan = example_plan("restricted")
    [bucket] = [b for b in plan.of_type("aws:s3/bucket:Bucket") if b.name.endswith("-training-data")]
    assert not bucket.inputs.get("objectLockEnabled")
    [lifecycle] = [lc for lc in plan.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                   if lc.parent == bucket.parent]
    [noncurrent] = [r for r in lifecycle.inputs["rules"] if r["id"] == "expire-noncurrent-versions"]
    assert noncurrent["noncurrentVersionExpiration"]["noncurrentDays"] == compliance.ERASURE_DAYS


def test_with_the_organisations_recorder_the_rules_and_no_recorder(render):
    """`recorder: existing`: no recorder, channel or status, and in every region the rules the tier's
    pack gives (the same as where the stack records), created without waiting for a recorder."""
    plan = render("internal", EXISTING)
    assert plan.of_type(RECORDER) == [] and plan.of_type("aws:cfg/deliveryChannel:DeliveryChannel") == []
    tier = get_tier("internal")
    spec = parse_spec(spec_config("internal", EXISTING), region="eu-west-1")
    rules = by_slot(plan, RULE)
    assert set(rules) == {(spec.account(role) or "", region) for role, regions in spec.regions_by_account().items()
                          for region in regions}
    for (_, region), found in rules.items():
        expected = compliance.config_rules(tier, home=region == spec.region)
        assert sorted(r.inputs["name"] for r in found) == sorted(f"demo-internal-{r.name}" for r in expected)
        for rule in found:
            assert not any("aws:cfg/recorder" in dep for dep in rule.dependencies)
