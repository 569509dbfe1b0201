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


def test_the_canary_backend_has_its_own_no_healthy_backend_alarm():
    plan = render(canary=10)
    found = alarms(plan)
    assert "canary-no-healthy-backend" not in alarms(render())
    canary = found["canary-no-healthy-backend"].inputs
    target_group = one(plan, "aws:lb/targetGroup:TargetGroup", "svc-ingress-canary-tg")
    assert (canary["namespace"], canary["metricName"]) == ("AWS/NetworkELB", "HealthyHostCount")
    assert canary["dimensions"]["TargetGroup"] == target_group.outputs["arnSuffix"]
    assert canary["treatMissingData"] == "breaching"
    # The stage's own alarm keeps watching the main model's target group.
    assert found["no-healthy-backend"].inputs["dimensions"]["TargetGroup"] == one(
        plan, "aws:lb/targetGroup:TargetGroup", "svc-ingress-tg").outputs["arnSuffix"]


def test_counted_waf_body_rule_matches_have_their_own_spike_alarm(monkeypatch):
    """Where the web ACL counts its body rules (prompt payloads) their matches are let through:
    a spike of them alarms to the topic, beside the blocked-request alarm."""
    import functools

    from blueprints.plan.engine import run_program
    from components.web_acl import WebAclArgs
    from tests.components import serving_stack

    assert "waf-body-rule-matches" not in alarms(render())  # body rules block: nothing to watch
    monkeypatch.setattr(serving_stack, "WebAclArgs", functools.partial(WebAclArgs, count_body_rules=True))
    plan = run_program(lambda: serving_stack.build({}), stack="serving-prompt-test",
                       config={"aws:region": serving_stack.REGION}, secret_keys=[])
    found = alarms(plan)
    matches = found["waf-body-rule-matches"].inputs
    acl = one(plan, "aws:wafv2/webAcl:WebAcl")
    (rule,) = [r for r in acl.inputs["rules"] if r["name"] == "body-rule-matches"]
    assert (matches["namespace"], matches["metricName"], matches["statistic"]) == ("AWS/WAFV2", "CountedRequests", "Sum")
    assert matches["dimensions"] == {"WebACL": acl.inputs["name"], "Region": "eu-west-1",
                                     "Rule": rule["visibilityConfig"]["metricName"]}
    assert (matches["threshold"], matches["period"], matches["comparisonOperator"]) == (100, 300, "GreaterThanThreshold")
    assert matches["alarmActions"] == [one(plan, "aws:sns/topic:Topic").outputs["arn"]]
    assert "waf-blocked-spike" in found
