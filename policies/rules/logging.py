"""Logging and retention: log groups keep the tier's retention, CloudTrail is multi-region and
validated, every web ACL, API stage, EKS control plane and bucket logs, and each of the tier's
SIEM sources is actually shipped: its log group is one the stack creates, and a subscription
filter sends it to a Firehose stream of the stack (or a Firehose stream receives it directly).
"""

from __future__ import annotations

from typing import Iterable, Optional

from policies.controls import AUDIT_LOGGING, INTEGRITY, LOG_RETENTION, MONITORING, merge
from policies.model import PolicyPlan, PolicyResource, as_list, is_unknown, log_group_name, urn_name
from policies.rule import (
    LevelFn, Result, RuleContext, always, check, fail, mandatory_if, na, ok, plan_rule, resource_rule, tier_level,
)
from policies.rules._aws import (
    API_METHOD_SETTINGS, API_STAGE, BUCKET, BUCKET_LOGGING, CLUSTERS, EKS_CLUSTER, EVERY_STACK, FIREHOSE, FLOW_LOG,
    INFERENCE, LOG_GROUP, SUBSCRIPTION_FILTER, TRAIL, TRAINING, WEB_ACL, WEB_ACL_ASSOCIATION, WEB_ACL_LOGGING,
    bucket_parts, is_access_log_target, is_set, known, log_group_names, log_group_ref_name, names, ships_to_firehose,
    stage_web_acls, subscribed_log_groups, truthy,
)

AREA = "logging and retention"
CONTROL_PLANE_AUDIT = ("api", "audit", "authenticator")


def _ships(source: str) -> LevelFn:
    return tier_level(lambda tier: "mandatory" if tier.ships(source) else "disabled",
                      f"mandatory where the tier's `siem_sources` include `{source}`; off otherwise")


@resource_rule(
    id="AIB-040", scope=EVERY_STACK, missing="no CloudWatch log group", title="Every log group keeps its logs at least as long as the tier's retention",
    severity="high", area=AREA, types=(LOG_GROUP,), controls=LOG_RETENTION,
    level=always("mandatory"), level_doc=", with the tier's `log_retention_days` (30/90/365/2557)",
)
def log_group_retention(r: PolicyResource, ctx: RuleContext) -> Result:
    """retentionInDays is set explicitly and is >= the tier's `log_retention_days`."""
    days = r.get("retentionInDays")
    if is_unknown(days):
        return na("retention unknown until apply")
    if not isinstance(days, (int, float)) or days <= 0:
        return fail(f"retentionInDays not set; the {ctx.tier.name} tier keeps logs {ctx.tier.log_retention_days} days")
    return check(days >= ctx.tier.log_retention_days, f"retention {int(days)} days",
                 f"retention {int(days)} days is below the {ctx.tier.name} tier's {ctx.tier.log_retention_days}")


@resource_rule(
    id="AIB-041", scope=EVERY_STACK, missing="no CloudTrail trail", title="CloudTrail trails are multi-region",
    severity="high", area=AREA, types=(TRAIL,), controls=AUDIT_LOGGING,
    level=always("mandatory"),
)
def trail_multi_region(r: PolicyResource, ctx: RuleContext) -> Result:
    """API activity in any region (including ones the stack does not use) is recorded."""
    return check(truthy(r.get("isMultiRegionTrail")), "multi-region", "isMultiRegionTrail is not true")


@resource_rule(
    id="AIB-042", scope=EVERY_STACK, missing="no CloudTrail trail", title="CloudTrail log file validation is enabled",
    severity="high", area=AREA, types=(TRAIL,), controls=merge(AUDIT_LOGGING, INTEGRITY),
    level=always("mandatory"),
)
def trail_log_validation(r: PolicyResource, ctx: RuleContext) -> Result:
    """Digest files prove the audit log was not altered."""
    return check(truthy(r.get("enableLogFileValidation")), "log file validation on", "enableLogFileValidation is not true")


def _acl_logging(plan: PolicyPlan, acl: PolicyResource) -> list[PolicyResource]:
    return plan.linked(acl, [WEB_ACL_LOGGING], "resourceArn")


@plan_rule(
    id="AIB-043", scope=INFERENCE, requires=(WEB_ACL, WEB_ACL_LOGGING),
    missing="no API Gateway stage or WAF web ACL",
    title="Every API Gateway stage is behind a WAF web ACL that logs, and every web ACL logs",
    severity="high", area=AREA, types=(API_STAGE, WEB_ACL, WEB_ACL_ASSOCIATION, WEB_ACL_LOGGING),
    controls=merge(AUDIT_LOGGING, MONITORING),
    level=lambda t: "mandatory" if t.ships("waf") else "disabled",
    level_doc="mandatory where the tier ships `waf` logs; off otherwise",
)
def waf_logging(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A WebAclLoggingConfiguration whose resourceArn is the web ACL, for every web ACL and for
    the web ACL of every stage (a stage with no web ACL has no WAF log either)."""
    for acl in plan.of_type(WEB_ACL):
        yield check(bool(_acl_logging(plan, acl)), "logging configured", "no WebAclLoggingConfiguration", acl)
    for stage in plan.of_type(API_STAGE):
        acls = stage_web_acls(plan, stage)
        logged = [a for a in acls if _acl_logging(plan, a)]
        yield check(bool(logged), f"WAF logs requests to this stage ({names(logged)})",
                    "no web ACL that logs is associated with this stage", stage)


@resource_rule(
    id="AIB-044", scope=INFERENCE, missing="no API Gateway stage", title="Every API Gateway stage writes access logs",
    severity="high", area=AREA, types=(API_STAGE,), controls=AUDIT_LOGGING,
    level=always("mandatory"),
)
def api_stage_access_logs(r: PolicyResource, ctx: RuleContext) -> Result:
    """accessLogSettings with a destinationArn and a format."""
    settings = r.get("accessLogSettings") or {}
    return check(is_set(settings.get("destinationArn")) and is_set(settings.get("format")),
                 "access logs on", "accessLogSettings.destinationArn/format not set")


@plan_rule(
    id="AIB-045", scope=EVERY_STACK, missing="no S3 bucket", title="Every S3 bucket (other than the access-log targets) has server access logging",
    severity="medium", area=AREA, types=(BUCKET, BUCKET_LOGGING), controls=AUDIT_LOGGING,
    level=mandatory_if("s3_access_logging", otherwise="disabled"),
)
def bucket_access_logging(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A BucketLogging per bucket; the access-log targets themselves are not applicable."""
    for bucket in plan.of_type(BUCKET):
        if is_access_log_target(plan, bucket):
            yield na("server-access-log target", bucket)
            continue
        logging = bucket_parts(plan, bucket, BUCKET_LOGGING) or ([bucket] if is_set(bucket.get("logging")) else [])
        yield check(bool(logging), "server access logging on", "no BucketLogging", bucket)


@resource_rule(
    id="AIB-046", scope=CLUSTERS, missing="no EKS cluster", title="EKS control-plane logs include api, audit and authenticator",
    severity="high", area=AREA, types=(EKS_CLUSTER,), controls=AUDIT_LOGGING,
    level=lambda t: "mandatory" if t.ships("eks-audit") else "advisory",
    level_doc="mandatory where the tier ships `eks-audit`; advisory otherwise",
)
def eks_control_plane_logs(r: PolicyResource, ctx: RuleContext) -> Result:
    """enabledClusterLogTypes holds every audit-relevant log type."""
    enabled = set(as_list(r.get("enabledClusterLogTypes")))
    missing = [t for t in CONTROL_PLANE_AUDIT if t not in enabled]
    return check(not missing, "api, audit and authenticator logs on", f"missing log types {', '.join(missing)}")


@resource_rule(
    id="AIB-047", scope=INFERENCE, missing="no API Gateway method settings", title="API Gateway method settings enable metrics and execution logging",
    severity="low", area=AREA, types=(API_METHOD_SETTINGS,), controls=merge(AUDIT_LOGGING, MONITORING),
    level=always("advisory"),
)
def api_method_logging(r: PolicyResource, ctx: RuleContext) -> Result:
    """settings.metricsEnabled and settings.loggingLevel INFO or ERROR."""
    settings = r.get("settings") or {}
    good = truthy(settings.get("metricsEnabled")) and settings.get("loggingLevel") in ("INFO", "ERROR")
    return check(good, "metrics and execution logs on", "settings.metricsEnabled/loggingLevel not set")


# -- SIEM shipping ------------------------------------------------------------------------------
def _group(plan: PolicyPlan, owner: PolicyResource, *path: str) -> Optional[str]:
    """The log group a resource delivers to (by name or ARN at `path`), or None if unset."""
    ref = owner.get(*path)
    return log_group_ref_name(plan, owner, ref) if is_set(ref) else None


def _shipping_results(plan: PolicyPlan, items: Iterable[tuple[PolicyResource, Optional[str]]], what: str) -> Iterable[Result]:
    """Each owner's log group exists in the plan and a subscription filter ships it to a
    Firehose stream of the plan."""
    shipped, created = subscribed_log_groups(plan), log_group_names(plan)
    # During a preview a group's name can be unknown: then existence cannot be told apart.
    names_unknown = any(not known(g.get("name")) for g in plan.of_type(LOG_GROUP))
    for owner, group in items:
        if group is None:
            yield fail(f"{what}: no CloudWatch log group to ship", owner)
        elif group not in created and not names_unknown:
            yield fail(f"{what} {group} is not a log group of this stack, so nothing ships it", owner)
        else:
            yield check(group in shipped, f"{what} {group} shipped by a subscription filter",
                        f"{what} {group} has no subscription filter to a SIEM Firehose stream", owner)


@plan_rule(
    id="AIB-048", scope=EVERY_STACK, requires=(TRAIL, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE),
    missing="no CloudTrail trail whose events reach the SIEM",
    title="CloudTrail events are shipped to the SIEM",
    severity="high", area=AREA, types=(TRAIL, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE), controls=MONITORING,
    level=_ships("cloudtrail"),
)
def siem_cloudtrail(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The trail delivers to a CloudWatch log group (cloudWatchLogsGroupArn) that a
    subscription filter ships to a Firehose stream."""
    return _shipping_results(plan, ((t, _group(plan, t, "cloudWatchLogsGroupArn")) for t in plan.of_type(TRAIL)),
                             "trail log group")


def _firehose_names(plan: PolicyPlan) -> set[str]:
    out = set()
    for s in plan.of_type(FIREHOSE):
        for v in (s.get("name"), s.arn):
            if known(v):
                out.add(str(v).rsplit("/", 1)[-1])
    return out


@plan_rule(
    id="AIB-049", scope=INFERENCE, requires=(WEB_ACL, WEB_ACL_LOGGING, FIREHOSE),
    missing="no WAF web ACL whose logs reach the SIEM",
    title="WAF logs are shipped to the SIEM (an aws-waf-logs- Firehose stream or a shipped log group)",
    severity="high", area=AREA, types=(WEB_ACL, WEB_ACL_LOGGING, FIREHOSE), controls=MONITORING,
    level=_ships("waf"),
)
def siem_waf(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """WAF can only log to destinations named `aws-waf-logs-*`; the destination must be a
    Firehose stream of this plan or a log group with a subscription filter."""
    streams, shipped = _firehose_names(plan), subscribed_log_groups(plan)
    for acl in plan.of_type(WEB_ACL):
        configs = _acl_logging(plan, acl)
        destinations = [d for c in configs for d in as_list(c.get("logDestinationConfigs"))]
        good = []
        for d in destinations:
            if not isinstance(d, str):
                continue
            if is_unknown(d) or (":deliverystream/" in d and d.rsplit("/", 1)[-1] in streams):
                good.append(d)
            elif log_group_name(d) in shipped:
                good.append(d)
        yield check(bool(good), "WAF logs delivered to the SIEM shipping",
                    "WAF logs are not delivered to a Firehose stream or shipped log group", acl)


@plan_rule(
    id="AIB-050", scope=INFERENCE, requires=(API_STAGE, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE),
    missing="no API Gateway stage whose access logs reach the SIEM",
    title="API Gateway access logs are shipped to the SIEM",
    severity="medium", area=AREA, types=(API_STAGE, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE), controls=MONITORING,
    level=_ships("api-access"),
)
def siem_api_access(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Each stage's access-log group has a subscription filter."""
    return _shipping_results(plan, ((s, _group(plan, s, "accessLogSettings", "destinationArn"))
                                    for s in plan.of_type(API_STAGE)), "access-log group")


@plan_rule(
    id="AIB-051", scope=CLUSTERS, requires=(FLOW_LOG, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE),
    missing="no VPC flow log reaches the SIEM",
    title="VPC flow logs are shipped to the SIEM",
    severity="medium", area=AREA, types=(FLOW_LOG, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE), controls=MONITORING,
    level=_ships("vpc-flow"),
)
def siem_vpc_flow(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Flow logs to CloudWatch have a subscription filter on their group; flow logs delivered
    straight to a Firehose stream of the plan are shipped by construction."""
    direct = [f for f in plan.of_type(FLOW_LOG) if f.get("logDestinationType") == "kinesis-data-firehose"]
    for f in direct:
        yield check(ships_to_firehose(plan, f, "logDestination"), "flow log delivered to Firehose",
                    "flow log delivered to a Firehose stream that is not in this stack", f)
    cloudwatch = [f for f in plan.of_type(FLOW_LOG) if f.get("logDestinationType", default="cloud-watch-logs") == "cloud-watch-logs"]
    yield from _shipping_results(
        plan, ((f, log_group_ref_name(plan, f, f.get("logDestination") or f.get("logGroupName"))) for f in cloudwatch),
        "flow-log group")


@plan_rule(
    id="AIB-052", scope=CLUSTERS, requires=(EKS_CLUSTER, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE),
    missing="no EKS cluster whose audit log reaches the SIEM",
    title="EKS audit logs are shipped to the SIEM",
    severity="medium", area=AREA, types=(EKS_CLUSTER, LOG_GROUP, SUBSCRIPTION_FILTER, FIREHOSE), controls=MONITORING,
    level=_ships("eks-audit"),
)
def siem_eks_audit(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The cluster logs `audit`, and its group `/aws/eks/<cluster>/cluster` is shipped."""
    logging_audit = []
    for cluster in plan.of_type(EKS_CLUSTER):
        if "audit" not in as_list(cluster.get("enabledClusterLogTypes")):
            yield fail("audit log type not enabled", cluster)
        else:
            name = cluster.get("name") if known(cluster.get("name")) else urn_name(cluster.urn)
            logging_audit.append((cluster, f"/aws/eks/{name}/cluster"))
    yield from _shipping_results(plan, logging_audit, "control-plane log group")


# Where each Firehose destination keeps its copy in S3, and which backup mode keeps every record.
_ARCHIVES = {
    "splunkConfiguration": ("AllEvents",),
    "httpEndpointConfiguration": ("AllData",),
}


def _archive(plan: PolicyPlan, stream: PolicyResource) -> tuple[Optional[PolicyResource], str]:
    """The bucket that keeps every record of a stream, or (None, why not)."""
    for config, modes in _ARCHIVES.items():
        if is_set(stream.get(config)):
            mode = stream.get(config, "s3BackupMode")
            if mode not in modes:
                return None, f"{config}.s3BackupMode is {mode or 'unset'} (failed records only); the archive needs {modes[0]}"
            bucket = plan.resolve(stream, (config, "s3Configuration", "bucketArn"), [BUCKET])
            return bucket, f"{config}.s3Configuration.bucketArn is not a bucket of this stack"
    if is_set(stream.get("extendedS3Configuration")):
        bucket = plan.resolve(stream, ("extendedS3Configuration", "bucketArn"), [BUCKET])
        return bucket, "extendedS3Configuration.bucketArn is not a bucket of this stack"
    return None, "no S3 destination or backup: records are kept nowhere the stack controls"


@plan_rule(
    id="AIB-054", scope=EVERY_STACK, requires=(FIREHOSE, BUCKET), missing="no SIEM delivery stream with an S3 archive",
    title="Every SIEM delivery stream keeps every record in an S3 archive of the stack",
    severity="high", area=AREA, types=(FIREHOSE, BUCKET), controls=merge(AUDIT_LOGGING, LOG_RETENTION),
    level=always("mandatory"),
)
def siem_archive(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Splunk and HTTP streams back up AllEvents/AllData to S3, and S3 streams deliver to one:
    when the SIEM is down or purges early, the evidence is still in a bucket with the tier's
    retention (Object Lock on restricted, AIB-073)."""
    for stream in plan.of_type(FIREHOSE):
        if is_set(stream.get("kinesisSourceConfiguration")) or is_set(stream.get("mskSourceConfiguration")):
            yield na("fed by a stream whose own archive applies", stream)
            continue
        bucket, why_not = _archive(plan, stream)
        yield check(bucket is not None, f"every record archived in {urn_name(bucket.urn) if bucket else ''}", why_not, stream)


def _s3_data_events(trail: PolicyResource) -> bool:
    for selector in as_list(trail.get("eventSelectors")):
        if isinstance(selector, dict) and any(
                isinstance(d, dict) and d.get("type") == "AWS::S3::Object" for d in as_list(selector.get("dataResources"))):
            return True
    for selector in as_list(trail.get("advancedEventSelectors")):
        fields = [f for f in as_list((selector or {}).get("fieldSelectors")) if isinstance(f, dict)]
        if any(f.get("field") == "resources.type" and "AWS::S3::Object" in as_list(f.get("equals")) for f in fields):
            return True
    return False


@plan_rule(
    id="AIB-053", scope=TRAINING, missing="no CloudTrail trail records S3 data events on the training data",
    title="CloudTrail records S3 object-level (data) events",
    severity="medium", area=AREA, types=(TRAIL,), controls=AUDIT_LOGGING,
    level=mandatory_if("cloudtrail_data_events", otherwise="disabled"),
)
def trail_s3_data_events(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """At least one trail selects AWS::S3::Object data events (eventSelectors or
    advancedEventSelectors), so that reads of training data and models are attributable. A stack
    without training (`training.enabled: false`) has no training data: nothing to judge."""
    if not TRAINING.present(plan):
        return
    trails = plan.of_type(TRAIL)
    recording = [t for t in trails if _s3_data_events(t)]
    for t in trails:
        if t in recording:
            yield ok("records S3 data events", t)
        elif recording:
            yield ok(f"S3 data events recorded by {urn_name(recording[0].urn)}", t)
        else:
            yield fail("no trail records S3 data events", t)
