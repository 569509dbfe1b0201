"""Fixtures of policies/rules/operations.py: dashboards and anomaly alarms, budgets, promotion events."""

from __future__ import annotations

import json

from policies.rules._aws import FIREHOSE, METRIC_ALARM as ALARM, SNS_TOPIC as SNS
from policies.rules.operations import BUCKET_NOTIFICATION, BUDGET, DASHBOARD, EVENT_RULE, EVENT_TARGET
from tests.policies.plans import ACCOUNT, KEY_ARN, PlanBuilder, bucket
from tests.policies.scenarios import FAIL, PASS, scenario, stage


def _watched_api(b: PlanBuilder, *, on_dashboard: bool = True, metrics=("Count", "Latency"), band: bool = True,
                 dashboard_region: str = "eu-west-1") -> None:
    stage(b)
    topic = b.add(SNS, "alarms", {"kmsMasterKeyId": KEY_ARN})
    for metric in metrics:
        query = {"namespace": "AWS/ApiGateway", "metricName": metric, "dimensions": {"ApiName": "api", "Stage": "v1"}}
        threshold = "ANOMALY_DETECTION_BAND(m1, 2)" if band else "m1 * 2"
        b.add(ALARM, f"anomaly-{metric.lower()}", {
            "thresholdMetricId": "band", "alarmActions": [topic.arn],
            "metricQueries": [{"id": "m1", "metric": query, "returnData": True},
                              {"id": "band", "expression": threshold, "returnData": True}]}, deps=[topic])
    if on_dashboard:
        body = {"widgets": [{"type": "metric", "properties": {"region": dashboard_region, "metrics": [
            ["AWS/ApiGateway", "Count", "ApiName", "api", "Stage", "v1", {"stat": "Sum"}]]}}]}
        b.add(DASHBOARD, "dashboard", {"dashboardName": "demo", "dashboardBody": json.dumps(body)})


@scenario("AIB-190", "on-dashboard-and-anomaly-alarmed", {"api-api": PASS})
def _(b):
    _watched_api(b)


@scenario("AIB-190", "not-on-the-dashboard", {"api-api": FAIL})
def _(b):
    _watched_api(b, on_dashboard=False)


@scenario("AIB-190", "dashboard-shows-another-region", {"api-api": FAIL})
def _(b):
    _watched_api(b, dashboard_region="eu-central-1")


@scenario("AIB-190", "latency-without-anomaly-alarm", {"api-api": FAIL})
def _(b):
    _watched_api(b, metrics=("Count",))


@scenario("AIB-190", "static-threshold-is-not-anomaly-detection", {"api-api": FAIL})
def _(b):
    _watched_api(b, band=False)


def _budget(b: PlanBuilder, name: str = "budget", *, tag: str = "user:Blueprint$demo", kind: str = "ACTUAL",
            subscribers: bool = True, unit: str = "MONTHLY") -> None:
    b.add(BUDGET, name, {
        "budgetType": "COST", "timeUnit": unit, "limitAmount": "100", "limitUnit": "USD",
        "costFilters": [{"name": "TagKeyValue", "values": [tag]}], "tags": {"Blueprint": "demo"},
        "notifications": [{"notificationType": kind, "comparisonOperator": "GREATER_THAN", "threshold": 100,
                           "thresholdType": "PERCENTAGE",
                           **({"subscriberSnsTopicArns": [f"arn:aws:sns:eu-west-1:{ACCOUNT}:ops"]} if subscribers else {})}]})


@scenario("AIB-191", "monthly-tag-budget-notifies", {"budget": PASS})
def _(b):
    _budget(b)


@scenario("AIB-191", "budget-of-another-tag", {"budget": FAIL})
def _(b):
    _budget(b, tag="user:Blueprint$someone-else")


@scenario("AIB-191", "forecast-only", {"budget": FAIL})
def _(b):
    _budget(b, kind="FORECASTED")


@scenario("AIB-191", "notification-without-subscriber", {"budget": FAIL})
def _(b):
    _budget(b, subscribers=False)


@scenario("AIB-191", "annual-budget", {"budget": FAIL})
def _(b):
    _budget(b, unit="ANNUALLY")


def _promotions(b: PlanBuilder, *, notify: bool = True, prefix: str = "approved/", to_siem: bool = True) -> None:
    models = bucket(b, "demo-models", tags={"Name": "demo-models", "Blueprint": "demo"})
    if notify:
        b.add(BUCKET_NOTIFICATION, "models-events", {"bucket": models.id, "eventbridge": True}, deps=[models])
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
               "detail": {"bucket": {"name": [models.id]}, "object": {"key": [{"prefix": prefix}]}}}
    b.add(EVENT_RULE, "promotions", {"name": "promotions", "eventPattern": json.dumps(pattern)})
    stream = b.add(FIREHOSE, "siem", {"name": "siem"})
    topic = b.add(SNS, "ops", {"kmsMasterKeyId": KEY_ARN})
    b.add(EVENT_TARGET, "promotions-to-sns", {"rule": "promotions", "arn": topic.arn})
    if to_siem:
        b.add(EVENT_TARGET, "promotions-to-siem", {"rule": "promotions", "arn": stream.arn})


@scenario("AIB-192", "promotions-to-siem", {"demo-models": PASS})
def _(b):
    _promotions(b)


@scenario("AIB-192", "sns-only", {"demo-models": FAIL})
def _(b):
    _promotions(b, to_siem=False)


@scenario("AIB-192", "bucket-events-not-on-eventbridge", {"demo-models": FAIL})
def _(b):
    _promotions(b, notify=False)


@scenario("AIB-192", "rule-watches-candidates-only", {"demo-models": FAIL})
def _(b):
    _promotions(b, prefix="candidates/")
