"""Availability and residency: stateful resources survive a bad `pulumi destroy`, every
region is within the residency, inference spans the tier's regions, capacity is not spot where
the tier forbids it, subnets span zones, every inference region is alarmed and health-checked, and
records that route between regions carry their health checks."""

from __future__ import annotations

from typing import Iterable

from policies.controls import ALERTING, AVAILABILITY, CHANGE_CONTROL, KEY_MANAGEMENT, RECOVERY, RESIDENCY, merge
from policies.model import AWS_PROVIDER_TYPE, PolicyPlan, PolicyResource, as_list, is_unknown
from policies.rule import (
    PROHIBITION, Result, RuleContext, always, check, fail, mandatory_if, na, ok, plan_rule, resource_rule, tier_level,
)
from policies.rules._aws import (
    API_STAGE, BUCKET, CLUSTERS, EKS_NODE_GROUP, EVERY_STACK, FSX_LUSTRE, INFERENCE, KMS_KEY, LAUNCH_TEMPLATE,
    LOG_GROUP, METRIC_ALARM, R53_HEALTH_CHECK, R53_RECORD, REST_API, SNS_TOPIC, SUBNET, VPC, is_set, known, names,
    resources_for_vpc,
)

AREA = "availability and residency"
# What blueprints/tiers.py calls stateful: buckets, keys, file systems, log groups.
STATEFUL_TYPES = (BUCKET, KMS_KEY, LOG_GROUP, FSX_LUSTRE)


@resource_rule(
    id="AIB-091", scope=EVERY_STACK, requires=(), missing="no stateful resource (bucket, key, file system, log group)", title="Stateful resources (buckets, keys, file systems, log groups) are protected",
    severity="high", area=AREA, types=STATEFUL_TYPES, controls=merge(RECOVERY, CHANGE_CONTROL),
    level=mandatory_if("protect_stateful", otherwise="disabled"),
)
def stateful_protected(r: PolicyResource, ctx: RuleContext) -> Result:
    """The `protect` resource option: Pulumi refuses to delete them."""
    return check(r.protect, "protect on", "protect is off: a destroy or replace deletes the data")


@resource_rule(
    id="AIB-092", scope=EVERY_STACK, requires=(), missing="no stateful resource (bucket, key, file system, log group)", title="Stateful resources are retained when Pulumi deletes them",
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
    id="AIB-093", scope=PROHIBITION, title="Every region the stack uses is within the residency",
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
    id="AIB-094", scope=INFERENCE, missing="no REST API serves inference", title="Inference is served from at least the tier's minimum number of regions",
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
    id="AIB-095", scope=PROHIBITION, title="No spot capacity where the tier forbids it (training and inference separately)",
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
    id="AIB-096", scope=EVERY_STACK, missing="no KMS key", title="KMS keys have the maximum 30-day deletion window where stateful resources are protected",
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
    id="AIB-097", scope=INFERENCE, missing="no CloudWatch alarm", title="CloudWatch alarms notify someone (alarm actions set)",
    severity="low", area=AREA, types=(METRIC_ALARM,), controls=ALERTING,
    level=always("advisory"),
)
def alarms_notify(r: PolicyResource, ctx: RuleContext) -> Result:
    """alarmActions is not empty (an SNS topic or an automation)."""
    return check(is_set(r.get("alarmActions")), "alarm actions set", "no alarmActions: nobody is told")


@plan_rule(
    id="AIB-098", scope=CLUSTERS, missing="no VPC with subnets", title="Every VPC's subnets span at least two availability zones",
    severity="medium", area=AREA, types=(VPC, SUBNET), controls=AVAILABILITY,
    level=always("mandatory"),
)
def subnets_multi_az(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Distinct availabilityZone values of the VPC's subnets (a VPC without subnets fails;
    zones unknown until apply: not applicable)."""
    for vpc in plan.of_type(VPC):
        subnets = resources_for_vpc(plan, vpc, SUBNET)
        zones = [s.get("availabilityZone") or s.get("availabilityZoneId") for s in subnets]
        if not subnets:
            yield fail("no subnets: nothing in this VPC can span availability zones", vpc)
        elif any(not known(z) for z in zones):
            yield na("availability zones unknown until apply", vpc)
        else:
            distinct = sorted(set(map(str, zones)))
            yield check(len(distinct) >= 2, f"subnets in {', '.join(distinct)}", f"all subnets in {', '.join(distinct)}", vpc)


def _routes_between_regions(r: PolicyResource) -> str:
    """`failover (PRIMARY)`, `failover (SECONDARY)`, `latency`, or "" for a simple record."""
    for p in as_list(r.get("failoverRoutingPolicies")):
        if isinstance(p, dict):
            return f"failover ({p.get('type')})"
    return "latency" if as_list(r.get("latencyRoutingPolicies")) else ""


@resource_rule(
    id="AIB-099", scope=PROHIBITION,
    title="DNS records that route between regions (failover, latency) are health-checked",
    severity="high", area=AREA, types=(R53_RECORD,), controls=AVAILABILITY,
    level=always("mandatory"),
)
def routing_records_health_checked(r: PolicyResource, ctx: RuleContext) -> Result:
    """A record with a failover or latency routing policy has healthCheckId: without it Route 53
    keeps answering with a dead region. Simple records are not applicable."""
    routing = _routes_between_regions(r)
    if not routing:
        return na("not a failover or latency record")
    return check(is_set(r.get("healthCheckId")), f"{routing} record with a health check",
                 f"{routing} record without healthCheckId")


# -- what an inference region must be watched by ------------------------------------------------
API_NAMESPACE = "AWS/ApiGateway"
STAGE_ALARM_METRICS = {"5XXError": "server errors", "Latency": "latency"}


def _alarm_metrics(alarm: PolicyResource) -> list[dict]:
    """The metrics an alarm reads: its own, or those of its metric-math queries."""
    own = {k: alarm.get(k) for k in ("namespace", "metricName", "dimensions")}
    queries = [q.get("metric") for q in as_list(alarm.get("metricQueries")) if isinstance(q, dict)]
    return [m for m in [own, *queries] if isinstance(m, dict) and m.get("metricName")]


def _notifies(plan: PolicyPlan, alarm: PolicyResource) -> bool:
    actions = as_list(alarm.get("alarmActions"))
    return any(is_unknown(a) or plan.lookup(a, [SNS_TOPIC]) is not None for a in actions) or (
        any(is_unknown(a) for a in actions) and bool(plan.dependencies_of(alarm, SNS_TOPIC)))


@plan_rule(
    id="AIB-090", scope=INFERENCE, requires=(API_STAGE, METRIC_ALARM, SNS_TOPIC),
    missing="no API Gateway stage watched by alarms",
    title="Every API Gateway stage has server-error and latency alarms that notify an SNS topic of the stack",
    severity="medium", area=AREA, types=(API_STAGE, REST_API, METRIC_ALARM, SNS_TOPIC), controls=ALERTING,
    level=always("mandatory"),
)
def stage_alarms(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """CloudWatch alarms on AWS/ApiGateway 5XXError and Latency with the stage's ApiName and
    Stage dimensions (directly or inside metric math), whose alarmActions name an SNS topic of
    this stack: an outage or a slow model pages someone."""
    alarms = [a for a in plan.of_type(METRIC_ALARM) if _notifies(plan, a)]
    for stage in plan.of_type(API_STAGE):
        api = plan.resolve(stage, "restApi", [REST_API])
        api_name, stage_name = (api.get("name") if api else None), stage.get("stageName")
        watched = set()
        for alarm in alarms:
            for m in _alarm_metrics(alarm):
                dims = m.get("dimensions") or {}
                same = all(dims.get(k) == v for k, v in (("ApiName", api_name), ("Stage", stage_name)) if known(v))
                if m.get("namespace") == API_NAMESPACE and same and m.get("metricName") in STAGE_ALARM_METRICS:
                    watched.add(m["metricName"])
        missing = [what for metric, what in STAGE_ALARM_METRICS.items() if metric not in watched]
        yield check(not missing, "server-error and latency alarms notify SNS",
                    f"no alarm that notifies an SNS topic watches its {' or '.join(missing)}", stage)


def _probes(plan: PolicyPlan, check_: PolicyResource, api: PolicyResource) -> bool:
    """The health check watches this API's region: an HTTP(S) probe of the API's host, or a
    CLOUDWATCH_METRIC check on an alarm of this stack in the API's region."""
    kind = str(check_.get("type", default=""))
    if kind.startswith("HTTP"):
        fqdn = check_.get("fqdn")
        return str(fqdn).startswith(f"{api.id}.execute-api.") if known(fqdn) else api.urn in check_.dependencies
    if kind == "CLOUDWATCH_METRIC":
        region = check_.get("cloudwatchAlarmRegion")
        alarm = plan.lookup(check_.get("cloudwatchAlarmName"), [METRIC_ALARM])
        if alarm is None and is_unknown(check_.get("cloudwatchAlarmName")):
            alarm = next(iter(plan.dependencies_of(check_, METRIC_ALARM)), None)
        return alarm is not None and (region == api.region or not known(region))
    return False


@plan_rule(
    id="AIB-150", scope=INFERENCE, requires=(REST_API, R53_HEALTH_CHECK),
    missing="no inference region with a Route 53 health check",
    title="Route 53 health-checks every inference region where DNS routes between regions",
    severity="high", area=AREA, types=(REST_API, R53_HEALTH_CHECK, METRIC_ALARM), controls=AVAILABILITY,
    level=tier_level(lambda t: "mandatory" if t.min_inference_regions > 1 or t.dns_routing == "failover" else "advisory",
                     "mandatory where inference spans regions (`min_inference_regions` above 1, or `dns_routing` "
                     "is `failover`); advisory otherwise"),
)
def regions_health_checked(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Each REST API (one per inference region) is watched by a Route 53 health check (an
    HTTP(S) probe of the API, or a CLOUDWATCH_METRIC check on an alarm in its region): failover
    and latency routing move traffic away from a region only when its health is known."""
    checks = plan.of_type(R53_HEALTH_CHECK)
    for api in plan.of_type(REST_API):
        watching = [c for c in checks if _probes(plan, c, api)]
        yield check(bool(watching), f"health-checked by {names(watching)}",
                    f"no Route 53 health check watches {api.region or 'its region'}", api)
