"""ThreatDetection: GuardDuty with its features and S3 malware protection, Security Hub with the
Foundational Security Best Practices standard, findings routed to the SIEM stream and SNS."""

from __future__ import annotations

import json

import pytest

from blueprints.plan.engine import run_program
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs
from components.kms_key import KmsKey, KmsKeyArgs
from components.siem_shipper import SiemShipper, SiemShipperArgs
from components.threat_detection import MAX_NAME, ThreatDetection, ThreatDetectionArgs

FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


def program(name="threats", **overrides):
    def run():
        key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["sns", "events", "firehose", "s3"]))
        archive = EncryptedBucket("archive", EncryptedBucketArgs(kms_key=key))
        data = EncryptedBucket("data", EncryptedBucketArgs(kms_key=key))
        siem = SiemShipper("siem", SiemShipperArgs(archive_bucket=archive, kms_key=key))
        ThreatDetection(name, ThreatDetectionArgs(
            kms_key=key, siem=siem, **{"malware_scanned_buckets": [data], **overrides}))
    return run


@pytest.fixture(scope="module")
def plan():
    return run_program(program(), stack="threats-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_guardduty_detector_with_every_protection_by_default(plan):
    detector = one(plan, "aws:guardduty/detector:Detector")
    assert detector.inputs["enable"] is True
    assert detector.inputs["findingPublishingFrequency"] == "FIFTEEN_MINUTES"
    features = {f.inputs["name"]: f for f in plan.of_type(FEATURE)}
    assert set(features) == {"S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "RUNTIME_MONITORING", "EBS_MALWARE_PROTECTION"}
    assert all(f.inputs["status"] == "ENABLED" and f.inputs["detectorId"] == detector.id for f in features.values())
    assert features["RUNTIME_MONITORING"].inputs["additionalConfigurations"] == [
        {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}]


def test_features_can_be_turned_off_one_by_one(render_component):
    plan = render_component(program(runtime_monitoring=False, ebs_malware_protection=False,
                                    malware_scanned_buckets=[], security_hub=False))
    assert {f.inputs["name"] for f in plan.of_type(FEATURE)} == {"S3_DATA_EVENTS", "EKS_AUDIT_LOGS"}
    assert not plan.of_type("aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan")
    assert not plan.of_type("aws:securityhub/account:Account")
    assert [json.loads(r.inputs["eventPattern"])["source"] for r in plan.of_type("aws:cloudwatch/eventRule:EventRule")] == [
        ["aws.guardduty"]]


def test_s3_malware_protection_plan_scans_the_bucket_with_its_own_role(plan):
    malware = one(plan, "aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan")
    data = next(r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name == "data")
    assert malware.inputs["protectedResource"]["s3Bucket"]["bucketName"] == data.outputs["bucket"]
    assert malware.inputs["actions"] == [{"taggings": [{"status": "ENABLED"}]}]
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.outputs["arn"] == malware.inputs["role"])
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "malware-protection-plan.guardduty.amazonaws.com"}
    policy = next(r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.id)
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["ScanAndTagObjects"]["Resource"] == data.outputs["arn"] + "/*"
    assert policy.urn in malware.dependencies


def test_security_hub_subscribes_to_foundational_best_practices(plan):
    hub = one(plan, "aws:securityhub/account:Account")
    assert hub.inputs["enableDefaultStandards"] is False
    standard = one(plan, "aws:securityhub/standardsSubscription:StandardsSubscription")
    assert standard.inputs["standardsArn"] == (
        "arn:aws:securityhub:eu-west-1::standards/aws-foundational-security-best-practices/v/1.0.0")
    assert hub.urn in standard.dependencies


def test_findings_go_to_the_siem_stream_and_an_encrypted_topic(plan):
    stream = one(plan, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    topic = one(plan, "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == one(plan, "aws:kms/key:Key").outputs["arn"]
    rules = {json.loads(r.inputs["eventPattern"])["source"][0]: r for r in plan.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert json.loads(rules["aws.guardduty"].inputs["eventPattern"])["detail-type"] == ["GuardDuty Finding"]
    assert json.loads(rules["aws.securityhub"].inputs["eventPattern"])["detail-type"] == ["Security Hub Findings - Imported"]
    targets = plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
    for rule in rules.values():
        arns = {t.inputs["arn"] for t in targets if t.inputs["rule"] == rule.outputs["name"]}
        assert arns == {stream.outputs["arn"], topic.outputs["arn"]}
    to_siem = [t for t in targets if t.inputs["arn"] == stream.outputs["arn"]]
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.name == "threats-events-role")
    assert all(t.inputs["roleArn"] == role.outputs["arn"] for t in to_siem)


def test_topic_policy_lets_only_these_rules_publish(plan):
    policy = one(plan, "aws:sns/topicPolicy:TopicPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert sorted(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        r.outputs["arn"] for r in plan.of_type("aws:cloudwatch/eventRule:EventRule"))


def test_a_cmk_is_required():
    with pytest.raises(Exception, match="kms_key is required"):
        run_program(lambda: ThreatDetection("t", ThreatDetectionArgs(kms_key=None)), stack="t",
                    config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_the_longest_name_keeps_rule_and_role_names_within_64(render_component):
    plan = render_component(program(name="t" * MAX_NAME))
    named = [r for r in plan.of_type("aws:iam/role:Role") + plan.of_type("aws:cloudwatch/eventRule:EventRule")
             if r.name.startswith("t" * MAX_NAME)]
    assert len(named) == 4  # events role, malware scan role, two rules
    assert all(len(r.outputs["name"]) <= 64 for r in named), [r.outputs["name"] for r in named]


def test_a_longer_name_is_rejected(render_component):
    with pytest.raises(Exception, match="at most"):
        render_component(program(name="t" * (MAX_NAME + 1)))
