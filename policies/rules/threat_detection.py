"""Threat detection: GuardDuty (with EKS runtime monitoring and S3 malware protection where
the tier says) and Security Hub. These rules require services to exist, so they are not
applicable until the security blueprint (anchored on its CloudTrail trail) is in the plan."""

from __future__ import annotations

from typing import Iterable

from policies.controls import THREAT_DETECTION, merge
from policies.model import PolicyPlan
from policies.rule import Result, RuleContext, always, check, fail, mandatory_if, ok, plan_rule
from policies.rules._aws import (
    GUARDDUTY_DETECTOR, GUARDDUTY_FEATURE, GUARDDUTY_MALWARE_PLAN, SECURITY_HUB, is_set, names,
    security_blueprint_present, stack_urn,
)

AREA = "threat detection"
RUNTIME_FEATURES = ("EKS_RUNTIME_MONITORING", "RUNTIME_MONITORING")


@plan_rule(
    id="AIB-080", title="GuardDuty is enabled where the tier requires threat detection",
    severity="high", area=AREA, types=(GUARDDUTY_DETECTOR,), controls=THREAT_DETECTION,
    level=mandatory_if("guardduty"),
)
def guardduty_enabled(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A GuardDuty detector with enable true (the default)."""
    if not security_blueprint_present(plan):
        return
    detectors = plan.of_type(GUARDDUTY_DETECTOR)
    for d in detectors:
        yield check(d.get("enable") is not False and d.get("enable") != "false", "detector enabled", "detector disabled", d)
    if not detectors:
        yield fail("no GuardDuty detector", stack_urn(plan))


def _feature_enabled(plan: PolicyPlan, names_: tuple[str, ...]) -> list:
    return [f for f in plan.of_type(GUARDDUTY_FEATURE)
            if f.get("name") in names_ and f.get("status") == "ENABLED"]


@plan_rule(
    id="AIB-081", title="GuardDuty EKS runtime monitoring is enabled where the tier requires it",
    severity="high", area=AREA, types=(GUARDDUTY_DETECTOR, GUARDDUTY_FEATURE), controls=THREAT_DETECTION,
    level=mandatory_if("guardduty_eks_runtime", otherwise="disabled"),
)
def guardduty_eks_runtime(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A DetectorFeature EKS_RUNTIME_MONITORING or RUNTIME_MONITORING with status ENABLED."""
    if not security_blueprint_present(plan):
        return
    features = _feature_enabled(plan, RUNTIME_FEATURES)
    for f in features:
        yield ok(f"{f.get('name')} enabled", f)
    if not features:
        yield fail("no runtime-monitoring detector feature enabled", stack_urn(plan))


@plan_rule(
    id="AIB-082", title="GuardDuty malware protection scans the S3 data buckets where the tier requires it",
    severity="high", area=AREA, types=(GUARDDUTY_MALWARE_PLAN,), controls=merge(THREAT_DETECTION, {"nist-800-53-r5": ["SI-3"]}),
    level=mandatory_if("guardduty_s3_malware", otherwise="disabled"),
)
def guardduty_s3_malware(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A MalwareProtectionPlan protecting an S3 bucket."""
    if not security_blueprint_present(plan):
        return
    plans = plan.of_type(GUARDDUTY_MALWARE_PLAN)
    for p in plans:
        yield check(is_set(p.get("protectedResource", "s3Bucket", "bucketName")), "protects an S3 bucket",
                    "protectedResource.s3Bucket.bucketName not set", p)
    if not plans:
        yield fail("no GuardDuty malware protection plan for S3", stack_urn(plan))


@plan_rule(
    id="AIB-083", title="Security Hub is enabled",
    severity="medium", area=AREA, types=(SECURITY_HUB,), controls=THREAT_DETECTION,
    level=always("advisory"),
)
def security_hub_enabled(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """An aws:securityhub/account:Account aggregates GuardDuty, Macie and config findings."""
    if not security_blueprint_present(plan):
        return
    hubs = plan.of_type(SECURITY_HUB)
    if hubs:
        yield ok(f"Security Hub enabled ({names(hubs)})", hubs[0])
    else:
        yield fail("no Security Hub account", stack_urn(plan))

