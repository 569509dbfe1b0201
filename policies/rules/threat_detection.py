"""Threat detection: GuardDuty in every region the stack uses (S3 and EKS audit-log protection
always, runtime monitoring and S3 malware protection where the tier says) and Security Hub with
a standard, where the tier requires threat detection. GuardDuty and Security Hub are regional:
a region without them is a region nobody watches, so each region is judged on its own and a
missing service is reported against that region's provider."""

from __future__ import annotations

from typing import Iterable

from policies.controls import THREAT_DETECTION, merge
from policies.model import PolicyPlan, PolicyResource
from policies.rule import Result, RuleContext, check, fail, mandatory_if, plan_rule
from policies.rules._aws import (
    CONFIG_DELIVERY_CHANNEL, CONFIG_RECORDER, CONFIG_RECORDER_STATUS, EVERY_STACK, GUARDDUTY_DETECTOR,
    GUARDDUTY_FEATURE, GUARDDUTY_MALWARE_PLAN, SECURITY_HUB, SECURITY_HUB_STANDARD, TRAINING, is_set, region_anchor,
    truthy,
)

AREA = "threat detection"
RUNTIME_FEATURES = ("EKS_RUNTIME_MONITORING", "RUNTIME_MONITORING")
BASE_FEATURES = ("S3_DATA_EVENTS", "EKS_AUDIT_LOGS")
_threat_detection = mandatory_if("guardduty", otherwise="disabled", where="the tier requires threat detection (`guardduty`)")


def _in_region(plan: PolicyPlan, type_: str, region: str) -> list[PolicyResource]:
    return [r for r in plan.of_type(type_) if r.region == region]


def _enabled(detector: PolicyResource) -> bool:
    return detector.get("enable") is not False and detector.get("enable") != "false"


def _features(plan: PolicyPlan, detector: PolicyResource) -> dict[str, PolicyResource]:
    """The detector's features that are ENABLED, by name."""
    return {f.get("name"): f for f in plan.linked(detector, [GUARDDUTY_FEATURE], "detectorId")
            if f.get("status") == "ENABLED"}


@plan_rule(
    id="AIB-080", scope=EVERY_STACK, missing="no GuardDuty detector",
    title="GuardDuty is enabled in every region the stack uses where the tier requires threat detection",
    severity="high", area=AREA, types=(GUARDDUTY_DETECTOR,), controls=THREAT_DETECTION,
    level=mandatory_if("guardduty", otherwise="disabled"),
)
def guardduty_enabled(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Per region of the plan, a GuardDuty detector with enable true (the default)."""
    for region in plan.regions:
        detectors = _in_region(plan, GUARDDUTY_DETECTOR, region)
        for d in detectors:
            yield check(_enabled(d), f"detector enabled in {region}", "detector disabled", d)
        if not detectors:
            yield fail(f"no GuardDuty detector in {region}", region_anchor(plan, region))


@plan_rule(
    id="AIB-084", scope=EVERY_STACK, requires=(GUARDDUTY_DETECTOR, GUARDDUTY_FEATURE),
    missing="no GuardDuty detector with S3 and EKS audit-log protection",
    title="GuardDuty watches S3 data events and EKS audit logs in every region where the tier requires threat detection",
    severity="high", area=AREA, types=(GUARDDUTY_DETECTOR, GUARDDUTY_FEATURE), controls=THREAT_DETECTION,
    level=mandatory_if("guardduty", otherwise="disabled"),
)
def guardduty_base_features(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Each detector has the S3_DATA_EVENTS and EKS_AUDIT_LOGS features ENABLED: the
    protection plans that see data read from the buckets and calls made to the clusters."""
    for detector in plan.of_type(GUARDDUTY_DETECTOR):
        missing = [f for f in BASE_FEATURES if f not in _features(plan, detector)]
        yield check(not missing, f"{', '.join(BASE_FEATURES)} enabled", f"{', '.join(missing)} not enabled", detector)


@plan_rule(
    id="AIB-081", scope=EVERY_STACK, missing="no GuardDuty detector with runtime monitoring",
    title="GuardDuty EKS runtime monitoring is enabled in every region where the tier requires it",
    severity="high", area=AREA, types=(GUARDDUTY_DETECTOR, GUARDDUTY_FEATURE), controls=THREAT_DETECTION,
    level=mandatory_if("guardduty_eks_runtime", otherwise="disabled"),
)
def guardduty_eks_runtime(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Each detector has a DetectorFeature EKS_RUNTIME_MONITORING or RUNTIME_MONITORING with
    status ENABLED (a region without a detector fails AIB-080)."""
    for detector in plan.of_type(GUARDDUTY_DETECTOR):
        enabled = [f for f in RUNTIME_FEATURES if f in _features(plan, detector)]
        yield check(bool(enabled), f"{', '.join(enabled)} enabled", "no runtime-monitoring feature enabled", detector)


@plan_rule(
    id="AIB-082", scope=TRAINING, missing="no GuardDuty malware protection plan on the training data",
    title="GuardDuty malware protection scans the S3 data buckets where the tier requires it",
    severity="high", area=AREA, types=(GUARDDUTY_MALWARE_PLAN,), controls=merge(THREAT_DETECTION, {"nist-800-53-r5": ["SI-3"]}),
    level=mandatory_if("guardduty_s3_malware", otherwise="disabled"),
)
def guardduty_s3_malware(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A MalwareProtectionPlan protecting an S3 bucket, once training (and its data) is in the plan."""
    for p in plan.of_type(GUARDDUTY_MALWARE_PLAN):
        yield check(is_set(p.get("protectedResource", "s3Bucket", "bucketName")), "protects an S3 bucket",
                    "protectedResource.s3Bucket.bucketName not set", p)


@plan_rule(
    id="AIB-083", scope=EVERY_STACK, requires=(SECURITY_HUB, SECURITY_HUB_STANDARD), missing="no Security Hub",
    title="Security Hub, subscribed to a standard, runs in every region where the tier requires threat detection",
    severity="medium", area=AREA, types=(SECURITY_HUB, SECURITY_HUB_STANDARD), controls=THREAT_DETECTION,
    level=_threat_detection,
)
def security_hub_enabled(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Per region of the plan, an aws:securityhub/account:Account (which aggregates GuardDuty,
    Macie and AWS Config findings) and a StandardsSubscription in that region: a hub with no
    standard runs no control checks."""
    for region in plan.regions:
        hubs = _in_region(plan, SECURITY_HUB, region)
        standards = _in_region(plan, SECURITY_HUB_STANDARD, region)
        if not hubs:
            yield fail(f"no Security Hub in {region}", region_anchor(plan, region))
            continue
        yield check(bool(standards), f"Security Hub in {region} with {len(standards)} standard(s)",
                    f"Security Hub in {region} subscribes to no standard", hubs[0])


@plan_rule(
    id="AIB-155", scope=EVERY_STACK, requires=(CONFIG_RECORDER, CONFIG_DELIVERY_CHANNEL, CONFIG_RECORDER_STATUS),
    missing="no AWS Config recorder where Security Hub runs",
    title="AWS Config records every supported resource type in every region where Security Hub runs",
    severity="medium", area=AREA,
    types=(SECURITY_HUB, CONFIG_RECORDER, CONFIG_DELIVERY_CHANNEL, CONFIG_RECORDER_STATUS), controls=THREAT_DETECTION,
    level=_threat_detection,
)
def config_records_where_security_hub_runs(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Per region with a Security Hub account: a configuration recorder of all supported types,
    a delivery channel and the recorder turned on (RecorderStatus isEnabled). Security Hub's
    control checks are AWS Config rules: a hub without a recorder runs almost none. A stack whose
    organisation records the region already says so with `compliance.recorder: existing`, which
    `blueprint check` turns into a suppression of this rule for the region's provider."""
    for region in sorted({h.region for h in plan.of_type(SECURITY_HUB)}):
        # allSupported defaults to true when the recording group leaves it out
        recorders = [r for r in _in_region(plan, CONFIG_RECORDER, region)
                     if r.get("recordingGroup", "allSupported") not in (False, "false")]
        channels = _in_region(plan, CONFIG_DELIVERY_CHANNEL, region)
        enabled = [s for s in _in_region(plan, CONFIG_RECORDER_STATUS, region) if truthy(s.get("isEnabled"))]
        missing = [what for what, found in (("a recorder of all supported types", recorders),
                                            ("a delivery channel", channels), ("the recorder turned on", enabled))
                   if not found]
        yield check(not missing, f"AWS Config records {region}", f"Security Hub runs in {region} without "
                    + ", ".join(missing), region_anchor(plan, region))
