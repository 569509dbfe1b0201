"""ServingAlarms: 5xx rate, p99 latency, WAF blocked spike, HPA at max and no healthy backend,
all to an SNS topic encrypted with a CMK (CloudWatch cannot publish under aws/sns)."""

from tests.components.serving_stack import one, render


def alarms(plan):
    return {a.inputs["name"].removeprefix("svc-alarms-"): a for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}


def test_topic_is_encrypted_with_a_cmk_cloudwatch_can_use():
    plan = render(cmk=True)
    key = one(plan, "aws:kms/key:Key")
    assert one(plan, "aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == key.outputs["arn"]


def test_every_alarm_notifies_the_topic():
    plan = render()
    topic = one(plan, "aws:sns/topic:Topic")
    found = alarms(plan)
    assert set(found) == {"5xx-rate", "p99-latency", "waf-blocked-spike", "hpa-at-max", "no-healthy-backend"}
    assert all(a.inputs["alarmActions"] == [topic.outputs["arn"]] for a in found.values())


def test_5xx_alarm_is_a_rate_of_the_stages_requests():
    plan = render()
    rate = alarms(plan)["5xx-rate"].inputs
    queries = {q["id"]: q for q in rate["metricQueries"]}
    assert queries["errors"]["metric"]["metricName"] == "5XXError"
    assert queries["requests"]["metric"]["metricName"] == "Count"
    api = one(plan, "aws:apigateway/restApi:RestApi")
    assert queries["errors"]["metric"]["dimensions"] == {"ApiName": api.inputs["name"], "Stage": "v1"}
    assert queries["rate"]["returnData"] is True and "100 * errors / requests" in queries["rate"]["expression"]


def test_latency_waf_hpa_and_backend_alarms_watch_the_right_metrics():
    plan = render()
    found = alarms(plan)
    assert found["p99-latency"].inputs["extendedStatistic"] == "p99"
    assert found["p99-latency"].inputs["metricName"] == "Latency"
    waf = found["waf-blocked-spike"].inputs
    acl = one(plan, "aws:wafv2/webAcl:WebAcl")
    assert (waf["namespace"], waf["metricName"]) == ("AWS/WAFV2", "BlockedRequests")
    assert waf["dimensions"] == {"WebACL": acl.inputs["name"], "Region": "eu-west-1", "Rule": "ALL"}
    hpa = found["hpa-at-max"].inputs
    assert hpa["namespace"] == "ContainerInsights" and hpa["threshold"] == 6
    assert hpa["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert hpa["dimensions"]["Namespace"] == "inference" and hpa["dimensions"]["Service"] == "model-server"
    backend = found["no-healthy-backend"].inputs
    assert (backend["namespace"], backend["metricName"]) == ("AWS/NetworkELB", "HealthyHostCount")
    assert backend["dimensions"]["TargetGroup"] == one(plan, "aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"]
    assert backend["treatMissingData"] == "breaching"
