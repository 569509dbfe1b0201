"""Operations: every inference region is on the blueprint's dashboard and watched by anomaly-detection
alarms, the blueprint has a monthly cost budget that notifies someone, and model promotions reach the
SIEM where the tier says (blueprints/operations.py builds all three)."""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional

from policies.controls import (
    ALERTING, ANOMALY_MONITORING, AUDIT_LOGGING, CHANGE_CONTROL, RESOURCE_ALLOCATION, merge,
)
from policies.model import PolicyPlan, PolicyResource, as_list, is_unknown
from policies.rule import Result, RuleContext, always, check, mandatory_if, plan_rule
from policies.rules._aws import (
    BUCKET, EVERY_STACK, FIREHOSE, INFERENCE, METRIC_ALARM, REST_API, SNS_TOPIC, TRAINING, known, names,
)
from policies.rules.accounts import model_buckets
from policies.rules.resilience import API_NAMESPACE, _notifies

AREA = "operations"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
BUDGET = "aws:budgets/budget:Budget"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
# What an inference region's anomaly detection watches: request count and latency.
ANOMALY_METRICS = {"Count": "request count", "Latency": "latency"}
PROMOTION_PREFIX = "approved/"


def _json(value: Any) -> Optional[Any]:
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str) or is_unknown(value):
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return None


def dashboard_metrics(dashboard: PolicyResource) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(region, namespace, metric, dimensions) of every metric line of a dashboard body (CloudWatch
    "Dashboard Body Structure": `[namespace, metric, dim1, value1, ..., {options}]`)."""
    body = _json(dashboard.get("dashboardBody")) or {}
    out = []
    for widget in as_list(body.get("widgets")) if isinstance(body, dict) else []:
        props = widget.get("properties") if isinstance(widget, dict) else None
        if not isinstance(props, dict):
            continue
        for line in as_list(props.get("metrics")):
            if not isinstance(line, list) or len(line) < 2:
                continue
            fields = [x for x in line if not isinstance(x, dict)]
            dims = dict(zip(fields[2::2], fields[3::2]))
            out.append((str(props.get("region", "")), str(fields[0]), str(fields[1]), dims))
    return out


def _anomaly_watched(alarm: PolicyResource, api_name: Any) -> Optional[str]:
    """The API metric an anomaly-detection alarm watches for this API, or None: its threshold is a
    query `ANOMALY_DETECTION_BAND(<id>, ...)` named by thresholdMetricId, `<id>` reading the metric."""
    queries = {q.get("id"): q for q in as_list(alarm.get("metricQueries")) if isinstance(q, dict)}
    band = queries.get(alarm.get("thresholdMetricId"))
    expression = str((band or {}).get("expression") or "")
    if not expression.startswith("ANOMALY_DETECTION_BAND("):
        return None
    source = queries.get(expression[len("ANOMALY_DETECTION_BAND("):].split(",")[0].split(")")[0].strip())
    metric = (source or {}).get("metric") or {}
    dims = metric.get("dimensions") or {}
    if metric.get("namespace") != API_NAMESPACE or (known(api_name) and dims.get("ApiName") != api_name):
        return None
    return metric.get("metricName")


@plan_rule(
    id="AIB-190", scope=INFERENCE, requires=(DASHBOARD, METRIC_ALARM),
    missing="no dashboard or anomaly-detection alarm watches an inference region",
    title="Every inference region is on a CloudWatch dashboard and has anomaly-detection alarms on its request "
          "count and latency that notify an SNS topic",
    severity="medium", area=AREA, types=(REST_API, DASHBOARD, METRIC_ALARM, SNS_TOPIC),
    controls=merge(ANOMALY_MONITORING, ALERTING), level=always("mandatory"),
)
def regions_watched(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Per REST API (one per inference region): a dashboard metric widget in the API's region that
    names its AWS/ApiGateway metrics (ApiName), and alarms whose threshold is an
    ANOMALY_DETECTION_BAND of the API's Count and of its Latency, with alarm actions on an SNS
    topic of the stack. Unusual prediction volumes (scraping, a broken client, an outage upstream)
    and slow answers page someone before a fixed threshold would."""
    dashboards = [(d, dashboard_metrics(d)) for d in plan.of_type(DASHBOARD)]
    alarms = [a for a in plan.of_type(METRIC_ALARM) if _notifies(plan, a)]
    for api in plan.of_type(REST_API):
        name = api.get("name")
        on_dashboard = [d for d, metrics in dashboards
                        if any(region == api.region and namespace == API_NAMESPACE
                               and (not known(name) or dims.get("ApiName") == name)
                               for region, namespace, _, dims in metrics)]
        watched = {m for a in alarms if (m := _anomaly_watched(a, name)) in ANOMALY_METRICS}
        missing = [what for metric, what in ANOMALY_METRICS.items() if metric not in watched]
        problems = ([] if on_dashboard else ["no dashboard widget shows it"]) + \
            ([f"no anomaly-detection alarm that notifies SNS watches its {' or '.join(missing)}"] if missing else [])
        yield check(not problems, f"on {names(on_dashboard)}; anomaly alarms on request count and latency",
                    "; ".join(problems), api)


@plan_rule(
    id="AIB-191", scope=EVERY_STACK, requires=(BUDGET,), missing="no AWS Budgets budget",
    title="A monthly cost budget on the blueprint's cost-allocation tag notifies someone when the actual cost "
          "passes it",
    severity="low", area=AREA, types=(BUDGET,), controls=RESOURCE_ALLOCATION, level=always("mandatory"),
)
def budget_notifies(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Each budget is a COST budget of time unit MONTHLY, filtered on `TagKeyValue`
    `user:Blueprint$<the budget's own Blueprint tag>`, with an ACTUAL notification that has an SNS
    topic or email subscriber: a runaway GPU bill is noticed in days, not at the invoice."""
    for budget in plan.of_type(BUDGET):
        blueprint = budget.get("tags", "Blueprint")
        wanted = f"user:Blueprint${blueprint}"
        filters = [f for f in as_list(budget.get("costFilters")) if isinstance(f, dict)]
        tagged = any(f.get("name") == "TagKeyValue" and wanted in as_list(f.get("values")) for f in filters)
        told = [n for n in as_list(budget.get("notifications")) if isinstance(n, dict)
                and (as_list(n.get("subscriberSnsTopicArns")) or as_list(n.get("subscriberEmailAddresses")))]
        problems = []
        if budget.get("budgetType") != "COST" or budget.get("timeUnit") != "MONTHLY":
            problems.append("not a monthly COST budget")
        if not tagged:
            problems.append(f"no TagKeyValue filter {wanted}")
        if not any(n.get("notificationType") == "ACTUAL" for n in told):
            problems.append("no ACTUAL notification with a subscriber")
        yield check(not problems, "monthly cost budget on the blueprint's tag, notified", "; ".join(problems), budget)


def _promotion_rules(plan: PolicyPlan, bucket: PolicyResource) -> list[PolicyResource]:
    """EventBridge rules matching S3 object events of `bucket` under the promotion prefix."""
    found = []
    for rule in plan.of_type(EVENT_RULE):
        pattern = _json(rule.get("eventPattern"))
        if not isinstance(pattern, dict) or "aws.s3" not in as_list(pattern.get("source")):
            continue
        detail = pattern.get("detail") or {}
        named = as_list((detail.get("bucket") or {}).get("name"))
        keys = as_list((detail.get("object") or {}).get("key"))
        prefixes = [k.get("prefix") for k in keys if isinstance(k, dict)]
        if any(plan.lookup(n, [BUCKET]) is bucket for n in named) and \
                (not keys or any(str(p).startswith(PROMOTION_PREFIX) or PROMOTION_PREFIX.startswith(str(p))
                                 for p in prefixes)):
            found.append(rule)
    return found


@plan_rule(
    id="AIB-192", scope=TRAINING, requires=(BUCKET_NOTIFICATION, EVENT_RULE, EVENT_TARGET),
    missing="no model-promotion events reach the SIEM",
    title="Model promotions (objects under approved/ of the training model bucket) are sent to the SIEM stream",
    severity="medium", area=AREA, types=(BUCKET, BUCKET_NOTIFICATION, EVENT_RULE, EVENT_TARGET, FIREHOSE),
    controls=merge(AUDIT_LOGGING, CHANGE_CONTROL), level=mandatory_if("lineage_to_siem", otherwise="disabled"),
)
def promotions_to_siem(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The training model bucket sends its events to EventBridge (a BucketNotification with
    eventbridge true), a rule matches its Object Created/Deleted events under approved/, and a
    target of that rule is a Firehose stream of the stack: who promoted which model when is in the
    SIEM, beside the CloudTrail record, and a promotion outside the approval process is seen."""
    for bucket in model_buckets(plan)[0]:  # the model buckets training writes, not their promoted copies
        notified = [n for n in plan.linked(bucket, [BUCKET_NOTIFICATION], "bucket") if n.get("eventbridge") is True]
        rules = _promotion_rules(plan, bucket)
        rule_names = {r.get("name") for r in rules} | {r.id for r in rules}
        to_siem = [t for t in plan.of_type(EVENT_TARGET) if t.get("rule") in rule_names
                   and plan.lookup(t.get("arn"), [FIREHOSE]) is not None]
        problems = ([] if notified else ["its events do not go to EventBridge"]) + \
            ([] if rules else [f"no EventBridge rule matches its objects under {PROMOTION_PREFIX}"]) + \
            ([] if to_siem or not rules else ["the promotion rule has no Firehose (SIEM) target"])
        yield check(not problems, f"promotions sent to the SIEM by {names(rules)}", "; ".join(problems), bucket)
