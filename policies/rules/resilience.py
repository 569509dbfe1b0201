"""Availability and residency: stateful resources survive a bad `pulumi destroy`, every
region is within the residency, inference spans the tier's regions, capacity is not spot where
the tier forbids it, subnets span zones, failover records are health-checked, alarms notify."""

from __future__ import annotations

from typing import Iterable

from policies.controls import ALERTING, AVAILABILITY, CHANGE_CONTROL, KEY_MANAGEMENT, RECOVERY, RESIDENCY, merge
from policies.model import AWS_PROVIDER_TYPE, PolicyPlan, PolicyResource, as_list, is_unknown
from policies.rule import Result, RuleContext, always, check, fail, mandatory_if, na, ok, plan_rule, resource_rule
from policies.rules._aws import (
    BUCKET, EKS_NODE_GROUP, FSX_LUSTRE, KMS_KEY, LAUNCH_TEMPLATE, LOG_GROUP, METRIC_ALARM,
    R53_RECORD, REST_API, SUBNET, VPC, is_set, known, resources_for_vpc,
)

AREA = "availability and residency"
# What blueprints/tiers.py calls stateful: buckets, keys, file systems, log groups.
STATEFUL_TYPES = (BUCKET, KMS_KEY, LOG_GROUP, FSX_LUSTRE)


@resource_rule(
    id="AIB-091", title="Stateful resources (buckets, keys, file systems, log groups) are protected",
    severity="high", area=AREA, types=STATEFUL_TYPES, controls=merge(RECOVERY, CHANGE_CONTROL),
    level=mandatory_if("protect_stateful", otherwise="disabled"),
)
def stateful_protected(r: PolicyResource, ctx: RuleContext) -> Result:
    """The `protect` resource option: Pulumi refuses to delete them."""
    return check(r.protect, "protect on", "protect is off: a destroy or replace deletes the data")


@resource_rule(
    id="AIB-092", title="Stateful resources are retained when Pulumi deletes them",
    severity="medium", area=AREA, types=STATEFUL_TYPES, controls=merge(RECOVERY, CHANGE_CONTROL),
    level=mandatory_if("retain_on_delete", otherwise="disabled"),
)
def stateful_retained(r: PolicyResource, ctx: RuleContext) -> Result:
    """The `retainOnDelete` option. CrossGuard does not pass this option to policies, so the
    rule is only applicable offline (`blueprint check`)."""
    if r.retain_on_delete is None:
        return na("retainOnDelete is not visible to this checker")
    return check(bool(r.retain_on_delete), "retainOnDelete on", "retainOnDelete is off")


@plan_rule(
    id="AIB-093", title="Every region the stack uses is within the residency",
    severity="critical", area=AREA, types=(AWS_PROVIDER_TYPE,), controls=RESIDENCY,
    level=mandatory_if("residency_required"),
)
def regions_within_residency(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Each AWS provider's region, and every resource's own `region` override, is in
    `blueprints.tiers.regions_for_residency(residency)`."""
    allowed = ctx.allowed_regions
    for ref, region in plan.providers.items():
        urn = ref.rsplit("::", 1)[0]
        if not region:
            yield na("provider region not known", urn)
            continue
        yield check(region in allowed, f"{region} within residency {ctx.residency}",
                    f"{region} is outside residency {ctx.residency}", urn)
    for r in plan.resources:
        own = r.inputs.get("region") if not r.type.startswith("pulumi:providers:") else None
        if known(own) and isinstance(own, str) and own not in allowed:
            yield fail(f"region override {own} is outside residency {ctx.residency}", r)


@plan_rule(
    id="AIB-094", title="Inference is served from at least the tier's minimum number of regions",
    severity="high", area=AREA, types=(REST_API,), controls=AVAILABILITY,
    level=always("mandatory"), level_doc=", with the tier's `min_inference_regions`",
)
def inference_regions(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The REST APIs span at least `min_inference_regions` distinct regions."""
    apis = plan.of_type(REST_API)
    regions = sorted({a.region for a in apis if a.region})
    for api in apis:
        yield check(len(regions) >= ctx.tier.min_inference_regions, f"served from {len(regions)} region(s): {', '.join(regions)}",
                    f"served from {len(regions)} region(s); the {ctx.tier.name} tier needs {ctx.tier.min_inference_regions}", api)


def _spot(r: PolicyResource) -> bool:
    if r.type == EKS_NODE_GROUP:
        return r.get("capacityType") == "SPOT"
    return str(r.get("instanceMarketOptions", "marketType") or "").lower() == "spot"


@plan_rule(
    id="AIB-095", title="No spot capacity where the tier forbids it (training and inference separately)",
    severity="high", area=AREA, types=(EKS_NODE_GROUP, LAUNCH_TEMPLATE), controls=AVAILABILITY,
    level=lambda t: "disabled" if t.spot_training and t.spot_inference else "mandatory",
    level_doc="mandatory where `spot_training` or `spot_inference` is false; off where both are allowed",
)
def no_forbidden_spot(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Node groups (capacityType SPOT) and launch templates (instanceMarketOptions spot) in the
    training tree are checked against `spot_training`, all others against `spot_inference`."""
    for r in plan.of_type(EKS_NODE_GROUP, LAUNCH_TEMPLATE):
        training = plan.in_training(r)
        allowed = ctx.tier.spot_training if training else ctx.tier.spot_inference
        role = "training" if training else "inference"
        if not _spot(r):
            yield ok(f"{role} on on-demand capacity", r)
        else:
            yield check(allowed, f"{role} on spot, which the tier allows",
                        f"{role} on spot capacity; the {ctx.tier.name} tier forbids it", r)


@resource_rule(
    id="AIB-096", title="KMS keys have the maximum 30-day deletion window where stateful resources are protected",
    severity="medium", area=AREA, types=(KMS_KEY,), controls=merge(KEY_MANAGEMENT, RECOVERY),
    level=mandatory_if("protect_stateful"),
)
def kms_deletion_window(r: PolicyResource, ctx: RuleContext) -> Result:
    """deletionWindowInDays 30 (the AWS default when unset): a scheduled deletion can be undone for a month."""
    days = r.get("deletionWindowInDays", default=30)
    if is_unknown(days):
        return na("deletion window unknown until apply")
    return check(days == 30, "30-day deletion window", f"deletion window {days} days")


@resource_rule(
    id="AIB-097", title="CloudWatch alarms notify someone (alarm actions set)",
    severity="low", area=AREA, types=(METRIC_ALARM,), controls=ALERTING,
    level=always("advisory"),
)
def alarms_notify(r: PolicyResource, ctx: RuleContext) -> Result:
    """alarmActions is not empty (an SNS topic or an automation)."""
    return check(is_set(r.get("alarmActions")), "alarm actions set", "no alarmActions: nobody is told")


@plan_rule(
    id="AIB-098", title="Every VPC's subnets span at least two availability zones",
    severity="medium", area=AREA, types=(VPC, SUBNET), controls=AVAILABILITY,
    level=always("mandatory"),
)
def subnets_multi_az(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Distinct availabilityZone values of the VPC's subnets (unknown zones: not applicable)."""
    for vpc in plan.of_type(VPC):
        subnets = resources_for_vpc(plan, vpc, SUBNET)
        zones = [s.get("availabilityZone") or s.get("availabilityZoneId") for s in subnets]
        if not subnets:
            yield na("no subnets", vpc)
        elif any(not known(z) for z in zones):
            yield na("availability zones unknown until apply", vpc)
        else:
            distinct = sorted(set(map(str, zones)))
            yield check(len(distinct) >= 2, f"subnets in {', '.join(distinct)}", f"all subnets in {', '.join(distinct)}", vpc)


@resource_rule(
    id="AIB-099", title="Primary failover DNS records are health-checked",
    severity="high", area=AREA, types=(R53_RECORD,), controls=AVAILABILITY,
    level=always("mandatory"),
)
def failover_health_checked(r: PolicyResource, ctx: RuleContext) -> Result:
    """A record with a PRIMARY failover routing policy has healthCheckId; other records are not applicable."""
    policies_ = [p for p in as_list(r.get("failoverRoutingPolicies")) if isinstance(p, dict)]
    if not any(p.get("type") == "PRIMARY" for p in policies_):
        return na("not a primary failover record")
    return check(is_set(r.get("healthCheckId")), "health check attached", "primary failover record without healthCheckId")

