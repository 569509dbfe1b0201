"""LineageEvents: the buckets' events on EventBridge, a rule for objects under the promotion prefix,
to SNS and to the SIEM stream through a role only EventBridge, for this rule, may use."""

import json

import pytest

from components.lineage_events import LineageEvents, LineageEventsArgs

STREAM = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/siem"
_PLAN = []


def plan_of(render_component):
    if not _PLAN:
        _PLAN.append(render_component(lambda: LineageEvents("demo-lineage", LineageEventsArgs(
            notified_buckets=["demo-models", "demo-data"], watched_bucket="demo-models", prefix="approved/",
            rule_name="demo-promotions", topic_arn="arn:aws:sns:eu-west-1:123456789012:ops",
            siem_stream_arn=STREAM))))
    return _PLAN[0]


def test_both_buckets_send_events_to_eventbridge(render_component):
    notes = plan_of(render_component).of_type("aws:s3/bucketNotification:BucketNotification")
    assert sorted((n.inputs["bucket"], n.inputs["eventbridge"]) for n in notes) == [
        ("demo-data", True), ("demo-models", True)]


def test_the_rule_matches_promotions_and_targets_sns_and_the_siem(render_component):
    plan = plan_of(render_component)
    (rule,) = plan.of_type("aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": ["demo-models"]}, "object": {"key": [{"prefix": "approved/"}]}}}
    targets = {t.inputs["arn"]: t for t in plan.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    assert set(targets) == {STREAM, "arn:aws:sns:eu-west-1:123456789012:ops"}
    (role,) = plan.of_type("aws:iam/role:Role")
    assert targets[STREAM].inputs["roleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": rule.outputs["arn"]}
    (policy,) = plan.of_type("aws:iam/rolePolicy:RolePolicy")
    (allowed,) = json.loads(policy.inputs["policy"])["Statement"]
    assert allowed["Resource"] == STREAM and allowed["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]


def test_an_empty_prefix_would_match_everything():
    with pytest.raises(ValueError, match="prefix"):
        LineageEvents("x", LineageEventsArgs(notified_buckets=["b"], watched_bucket="b", prefix="", rule_name="r",
                                             topic_arn="t"))
