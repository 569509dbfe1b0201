"""Operations on the example plans (no render of their own): one dashboard whose every metric is one
the stack's resources publish, anomaly alarms per inference region, budgets priced exactly like
`blueprint cost`, cost topics only the billing services may publish to, promotion events, and the
off-peak training window (the confidential example has one)."""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

import pytest

from blueprints.plan.cost import estimate
from blueprints.plan.engine import Plan, Resource

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
Key = tuple[str, str, str, str, frozenset]  # (account, region, namespace, metric, dimensions)


# -- what the stack's resources publish (namespace, metric, dimensions), per resource type --------
def _by_output(plan: Plan, type_: str, key: str, value: Any) -> Iterable[Resource]:
    return [r for r in plan.of_type(type_) if r.outputs.get(key) == value or r.id == value]


def _stage(plan: Plan, r: Resource) -> Iterable[tuple]:
    for api in _by_output(plan, "aws:apigateway/restApi:RestApi", "id", r.inputs["restApi"]):
        for metric in ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"):
            yield "AWS/ApiGateway", metric, {"ApiName": api.inputs["name"], "Stage": r.inputs["stageName"]}


def _web_acl(plan: Plan, r: Resource) -> Iterable[tuple]:
    for metric in ("AllowedRequests", "BlockedRequests", "CountedRequests"):
        yield "AWS/WAFV2", metric, {"WebACL": r.inputs["name"], "Rule": "ALL", "Region": r.region}


def _listener(plan: Plan, r: Resource) -> Iterable[tuple]:
    for lb in _by_output(plan, "aws:lb/loadBalancer:LoadBalancer", "arn", r.inputs["loadBalancerArn"]):
        for action in r.inputs.get("defaultActions", []):
            for group in _by_output(plan, "aws:lb/targetGroup:TargetGroup", "arn", action.get("targetGroupArn")):
                for metric in ("HealthyHostCount", "UnHealthyHostCount"):
                    yield "AWS/NetworkELB", metric, {"LoadBalancer": lb.outputs["arnSuffix"],
                                                     "TargetGroup": group.outputs["arnSuffix"]}


def _container_insights(plan: Plan, r: Resource) -> Iterable[tuple]:
    if r.inputs.get("addonName") != "amazon-cloudwatch-observability":
        return
    cluster = r.inputs["clusterName"]
    for metric in ("cluster_node_count", "node_gpu_utilization", "node_gpu_memory_utilization"):
        yield "ContainerInsights", metric, {"ClusterName": cluster}
    # Services of this cluster: the ones its Kubernetes provider (a child of the cluster's component) creates.
    eks = [c for c in plan.of_type("aws:eks/cluster:Cluster") if c.inputs.get("name") == cluster]
    providers = {f"{p.urn}::{p.id}" for c in eks for p in plan.children(c.parent)
                 if p.type == "pulumi:providers:kubernetes"}
    for service in plan.of_type("kubernetes:core/v1:Service"):
        if service.provider in providers:
            meta = service.inputs["metadata"]
            yield "ContainerInsights", "service_number_of_running_pods", {
                "ClusterName": cluster, "Namespace": meta["namespace"], "Service": meta["name"]}


def _lustre(plan: Plan, r: Resource) -> Iterable[tuple]:
    for metric in ("DataReadBytes", "DataWriteBytes"):
        yield "AWS/FSx", metric, {"FileSystemId": r.id}


def _bucket(plan: Plan, r: Resource) -> Iterable[tuple]:
    yield "AWS/S3", "BucketSizeBytes", {"BucketName": r.outputs["bucket"], "StorageType": "StandardStorage"}


def _models(plan: Plan, r: Resource) -> Iterable[tuple]:
    allowed = (r.inputs.get("environment") or {}).get("variables", {}).get("ALLOWED_MODELS")
    for model in (allowed or "").split(",") if allowed else []:
        for metric in ("Invocations", "InputTokenCount", "OutputTokenCount"):
            yield "AWS/Bedrock", metric, {"ModelId": model}


def _guardrail(plan: Plan, r: Resource) -> Iterable[tuple]:
    yield "AWS/Bedrock/Guardrails", "InvocationsIntervened", {"GuardrailArn": r.inputs["guardrailArn"],
                                                              "GuardrailVersion": r.outputs["version"]}


PUBLISHERS = {
    "aws:apigateway/stage:Stage": _stage, "aws:wafv2/webAcl:WebAcl": _web_acl, "aws:lb/listener:Listener": _listener,
    "aws:eks/addon:Addon": _container_insights, "aws:fsx/lustreFileSystem:LustreFileSystem": _lustre,
    "aws:s3/bucket:Bucket": _bucket, "aws:lambda/function:Function": _models,
    "aws:bedrock/guardrailVersion:GuardrailVersion": _guardrail,
}


def published(plan: Plan) -> set[Key]:
    out = set()
    for type_, publish in PUBLISHERS.items():
        for r in plan.of_type(type_):
            for namespace, metric, dims in publish(plan, r):
                out.add((plan.provider_account(r), r.region, namespace, metric, frozenset(dims.items())))
    return out


def dashboard_lines(body: dict, home_account: str) -> list[Key]:
    lines = []
    for widget in body["widgets"]:
        props = widget["properties"]
        for line in props.get("metrics", []):
            options = line[-1] if isinstance(line[-1], dict) else {}
            fields = [x for x in line if not isinstance(x, dict)]
            lines.append((options.get("accountId", home_account), props["region"], fields[0], fields[1],
                          frozenset(zip(fields[2::2], fields[3::2]))))
    return lines


def unpublished(plan: Plan, body: dict) -> list[Key]:
    (dashboard,) = plan.of_type(DASHBOARD)
    known = published(plan)
    return [line for line in dashboard_lines(body, plan.provider_account(dashboard)) if line not in known]


def body_of(plan: Plan) -> dict:
    (dashboard,) = plan.of_type(DASHBOARD)
    return json.loads(dashboard.inputs["dashboardBody"])


@pytest.mark.parametrize("tier", ["restricted", "confidential"])
def test_every_dashboard_metric_is_published_by_the_stack(example_plan, tier):
    plan = example_plan(tier)
    body = body_of(plan)
    lines = dashboard_lines(body, "")
    assert len(lines) >= 20 and unpublished(plan, body) == []
    sections = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    regions = {api.region for api in plan.of_type("aws:apigateway/restApi:RestApi")}
    (lustre,) = plan.of_type("aws:fsx/lustreFileSystem:LustreFileSystem")
    assert sorted(sections[:-1]) == sorted(f"## Inference {r}" for r in regions)
    assert sections[-1] == f"## Training {lustre.region}"


@pytest.mark.parametrize("mutate", ["metric", "dimension", "region"])
def test_a_widget_naming_a_metric_nothing_publishes_is_caught(example_plan, mutate):
    plan = example_plan("confidential")
    body = body_of(plan)
    widget = next(w for w in body["widgets"] if w["properties"].get("title", "").startswith("Serving replicas"))
    line = widget["properties"]["metrics"][0]
    if mutate == "metric":
        line[1] = "hpa_max_replicas"  # Container Insights publishes no HPA metric
    elif mutate == "dimension":
        line[line.index("Service") + 1] = "no-such-service"
    else:
        widget["properties"]["region"] = "eu-north-1"
    assert len(unpublished(plan, body)) == 1


def test_the_dashboard_shows_replicas_against_the_hpa_maximum_and_foundation_models(example_plan):
    body = body_of(example_plan("confidential"))
    titles = {w["properties"].get("title"): w["properties"] for w in body["widgets"] if w["type"] == "metric"}
    assert titles["Serving replicas (HPA maximum 12)"]["annotations"] == {
        "horizontal": [{"label": "HPA maximum", "value": 12}]}
    assert {"Foundation-model invocations", "Foundation-model tokens", "Guardrail interventions",
            "Lustre throughput (bytes)", "Bucket size (bytes)"} <= set(titles)


def test_one_dashboard_and_anomaly_alarms_in_each_inference_region(example_plan):
    plan = example_plan("restricted")
    (dashboard,) = plan.of_type(DASHBOARD)
    assert dashboard.region == "eu-west-1" and plan.provider_account(dashboard) == plan.accounts["inference"]
    anomaly = [a for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if "thresholdMetricId" in a.inputs]
    by_region: dict[str, set[str]] = {}
    for alarm in anomaly:
        queries = {q["id"]: q for q in alarm.inputs["metricQueries"]}
        assert queries[alarm.inputs["thresholdMetricId"]]["expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"
        topic = alarm.inputs["alarmActions"][0]
        assert topic.startswith(f"arn:aws:sns:{alarm.region}:") and topic.endswith("-alarms")
        by_region.setdefault(alarm.region, set()).add(queries["m1"]["metric"]["metricName"])
    assert by_region == {"eu-west-1": {"Count", "Latency"}, "eu-central-1": {"Count", "Latency"}}


@pytest.mark.parametrize("tier", ["restricted", "public"])
def test_the_default_budget_is_the_cost_estimate_rounded_up(example_plan, tier):
    plan = example_plan(tier)
    subtotals = estimate(plan).by_account()
    budgets = {plan.provider_account(b): int(b.inputs["limitAmount"]) for b in plan.of_type("aws:budgets/budget:Budget")}
    assert budgets == {account: math.ceil(usd) for account, usd in subtotals.items()}
    assert estimate(plan).total_monthly_usd <= sum(budgets.values()) < estimate(plan).total_monthly_usd + len(budgets)


def test_a_chosen_budget_and_plain_email_only_where_the_tier_allows(example_plan):
    internal = example_plan("internal")
    (budget,) = internal.of_type("aws:budgets/budget:Budget")
    assert budget.inputs["limitAmount"] == "4000"
    assert all(n["subscriberEmailAddresses"] == ["ml-platform@example.com"] for n in budget.inputs["notifications"])
    for budget in example_plan("restricted").of_type("aws:budgets/budget:Budget"):
        assert all("subscriberEmailAddresses" not in n for n in budget.inputs["notifications"])


def test_cost_topics_admit_the_billing_services_for_their_account_only(example_plan):
    plan = example_plan("restricted")
    policies = [p for p in plan.of_type("aws:sns/topicPolicy:TopicPolicy") if "-ops-" in p.name]
    assert len(policies) == 3
    for policy in policies:
        account = plan.provider_account(policy)
        statements = json.loads(policy.inputs["policy"])["Statement"]
        for s in statements:
            assert s["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
        services = {s["Principal"]["Service"] for s in statements}
        assert services in ({"budgets.amazonaws.com", "costalerts.amazonaws.com"},
                            {"budgets.amazonaws.com", "costalerts.amazonaws.com", "events.amazonaws.com"})
    keys = [k for k in plan.of_type("aws:kms/key:Key") if "-logs-" in k.name]
    for key in keys:
        grants = {s["Principal"].get("Service"): s for s in json.loads(key.inputs["policy"])["Statement"]}
        assert grants["budgets.amazonaws.com"]["Condition"]["StringEquals"]["aws:SourceAccount"]


def test_promotions_go_to_the_siem_stream_of_the_training_account(example_plan):
    plan = example_plan("restricted")
    (rule,) = [r for r in plan.of_type("aws:cloudwatch/eventRule:EventRule") if r.name.endswith("lineage-rule")]
    assert plan.provider_account(rule) == plan.accounts["training"]
    targets = [t.inputs["arn"] for t in plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
               if t.inputs["rule"] == rule.inputs["name"]]
    assert sorted(a.split(":")[2] for a in targets) == ["firehose", "sns"]
    notified = {n.inputs["bucket"] for n in plan.of_type("aws:s3/bucketNotification:BucketNotification")}
    assert {"fraud-models-models", "fraud-models-training-data"} <= {b.name for b in plan.of_type("aws:s3/bucket:Bucket")
                                                                      if b.outputs["bucket"] in notified}


def test_the_training_window_schedules_the_gpu_node_groups_auto_scaling_group(example_plan):
    plan = example_plan("confidential")
    (gpu,) = [n for n in plan.of_type("aws:eks/nodeGroup:NodeGroup") if "training-gpu" in n.name]
    asg = gpu.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    actions = {a.name.rsplit("-", 2)[-2] + "-" + a.name.rsplit("-", 1)[-1]: a.inputs
               for a in plan.of_type("aws:autoscaling/schedule:Schedule")}
    assert {k: (v["autoscalingGroupName"], v["recurrence"], v["minSize"], v["maxSize"], v["timeZone"])
            for k, v in actions.items()} == {
        "scale-up": (asg, "0 20 * * MON-FRI", 0, 2, "Europe/Berlin"),
        "scale-down": (asg, "0 6 * * TUE-SAT", 0, 0, "Europe/Berlin")}
    assert example_plan("restricted").of_type("aws:autoscaling/schedule:Schedule") == []


def test_cost_prices_the_dashboard_and_anomaly_alarms_as_three_alarm_metrics(example_plan):
    lines = estimate(example_plan("restricted")).lines
    anomaly = [line for line in lines if line.kind == "CloudWatch anomaly-detection alarm"]
    assert len(anomaly) == 4 and {(line.quantity, line.unit) for line in anomaly} == {(3, "alarm-metric-month")}
    (dashboard,) = [line for line in lines if line.kind == "CloudWatch dashboard"]
    assert dashboard.monthly_usd == round(3.00 * 1.11, 2) and "first 3 dashboards" in dashboard.assumption


def test_a_registration_the_ledger_cannot_record_fails_the_default_budget_not_the_deployment():
    """Recording never stands in the way of a registration; a budget priced from part of the
    stack is refused with the key that avoids it."""
    from blueprints.plan.ledger import Ledger, _RecordingMonitor

    class Response:
        urn = "urn:pulumi:s::p::aws:s3/bucket:Bucket::b"

    class Monitor:
        def RegisterResource(self, request):  # noqa: N802
            return Response()

    ledger = Ledger("s", "restricted", "eu-west-1")
    answered = _RecordingMonitor(Monitor(), ledger).RegisterResource(object())  # not a RegisterResourceRequest
    assert answered.urn == Response.urn and ledger.failed
    with pytest.raises(RuntimeError, match="set budget.monthlyUsd"):
        ledger._estimate()
