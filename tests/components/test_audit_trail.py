"""AuditTrail: multi-region, validated, CMK-encrypted trail to a bucket whose policy admits only this
trail, with CloudWatch Logs delivery and optional S3 data events."""

from __future__ import annotations

import json

import pytest

from blueprints.plan.engine import run_program
from components._base import StatefulOptions
from components.audit_trail import AuditTrail, AuditTrailArgs
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs, ObjectLock
from components.kms_key import KmsKey, KmsKeyArgs

TRAIL = "aws:cloudtrail/trail:Trail"
TRAIL_ARN = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/audit"


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


@pytest.fixture(scope="module")
def plan():
    def program():
        key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["cloudtrail", "logs", "s3"]))
        data = EncryptedBucket("data", EncryptedBucketArgs())
        AuditTrail("audit", AuditTrailArgs(
            bucket=EncryptedBucketArgs(kms_key=key, object_lock=ObjectLock(days=2557), expiration_days=2558),
            kms_key=key, log_retention_days=2557, data_event_buckets=[data],
            stateful=StatefulOptions(protect=True, retain_on_delete=True)))

    return run_program(program, stack="trail-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_trail_is_multi_region_validated_and_encrypted_with_the_cmk(plan):
    trail = one(plan, TRAIL)
    key = one(plan, "aws:kms/key:Key")
    assert trail.inputs["name"] == "audit"
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["kmsKeyId"] == key.outputs["arn"]
    assert trail.outputs["arn"] == TRAIL_ARN  # what the bucket policy names before the trail exists


def test_bucket_policy_admits_only_this_trail_and_the_trail_waits_for_it(plan):
    trail = one(plan, TRAIL)
    bucket = next(r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name == "audit-bucket")
    assert bucket.inputs["bucket"] == "audit-123456789012-eu-west-1" == trail.inputs["s3BucketName"]
    policy = next(r for r in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == "audit-bucket-policy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["AWSCloudTrailAclCheck"]["Resource"] == bucket.outputs["arn"]
    write = statements["AWSCloudTrailWrite"]
    assert write["Resource"] == bucket.outputs["arn"] + "/AWSLogs/123456789012/*"
    for sid in ("AWSCloudTrailAclCheck", "AWSCloudTrailWrite"):
        assert statements[sid]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert statements[sid]["Condition"]["StringEquals"]["aws:SourceArn"] == TRAIL_ARN
    assert "DenyInsecureTransport" in statements
    assert policy.urn in trail.dependencies


def test_audit_bucket_and_log_group_are_stateful_and_locked(plan):
    bucket = next(r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name == "audit-bucket")
    assert bucket.protect and bucket.retain_on_delete
    lock = next(r for r in plan.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"))
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2557}
    group = one(plan, "aws:cloudwatch/logGroup:LogGroup")
    assert group.protect and group.retain_on_delete
    assert not one(plan, TRAIL).protect


def test_events_reach_cloudwatch_logs_through_a_role_only_cloudtrail_assumes(plan):
    trail, group = one(plan, TRAIL), one(plan, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == 2557
    assert group.inputs["kmsKeyId"] == one(plan, "aws:kms/key:Key").outputs["arn"]
    assert trail.inputs["cloudWatchLogsGroupArn"] == group.outputs["arn"] + ":*"
    role = one(plan, "aws:iam/role:Role")
    assert trail.inputs["cloudWatchLogsRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}


def test_data_events_cover_objects_of_the_named_buckets(plan):
    data = next(r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name == "data")
    management, objects = one(plan, TRAIL).inputs["advancedEventSelectors"]
    assert management["fieldSelectors"] == [{"field": "eventCategory", "equals": ["Management"]}]
    fields = {f["field"]: f for f in objects["fieldSelectors"]}
    assert fields["eventCategory"]["equals"] == ["Data"]
    assert fields["resources.type"]["equals"] == ["AWS::S3::Object"]
    assert fields["resources.ARN"]["startsWiths"] == [data.outputs["arn"] + "/"]


def test_defaults_record_management_events_without_a_cmk(render_component):
    plan = render_component(lambda: AuditTrail("plain", AuditTrailArgs()))
    trail = one(plan, TRAIL)
    assert "kmsKeyId" not in trail.inputs and "advancedEventSelectors" not in trail.inputs
    assert "kmsKeyId" not in one(plan, "aws:cloudwatch/logGroup:LogGroup").inputs


@pytest.mark.parametrize("name,args,message", [
    ("audit", {"log_retention_days": 10}, "log_retention_days"),
    ("a" * 40, {}, "at most"),
])
def test_invalid_arguments_are_rejected(name, args, message):
    with pytest.raises(Exception, match=message):
        run_program(lambda: AuditTrail(name, AuditTrailArgs(**args)), stack="t",
                    config={"aws:region": "eu-west-1"}, secret_keys=[])


# -- delivering into another account's audit bucket (a log archive) ---------------------------------------
ARCHIVE, WORKLOAD = "333333333333", "111111111111"
WORKLOAD_TRAIL_ARN = f"arn:aws:cloudtrail:eu-west-1:{WORKLOAD}:trail/audit-trn"


def provider(account: str):
    import pulumi
    import pulumi_aws as aws

    role = aws.ProviderAssumeRoleArgs(role_arn=f"arn:aws:iam::{account}:role/deployer")
    return pulumi.ResourceOptions(provider=aws.Provider(f"aws-{account}", region="eu-west-1", assume_roles=[role]))


@pytest.fixture(scope="module")
def cross_account():
    import pulumi

    from components.audit_trail import DeliveringTrail, cloudtrail_delivery_statements

    def program():
        in_archive, in_workload = provider(ARCHIVE), provider(WORKLOAD)
        archive_key = KmsKey("archive-key", KmsKeyArgs(description="archive", service_principals=["cloudtrail", "s3"],
                                                       trusted_accounts=[WORKLOAD]), opts=in_archive)
        own_key = KmsKey("own-key", KmsKeyArgs(description="own", service_principals=["logs"]), opts=in_workload)
        arn = pulumi.Output.concat("arn:aws:s3:::", "archive-audit")
        bucket = EncryptedBucket("archive-audit", EncryptedBucketArgs(
            bucket_name="archive-audit", kms_key=archive_key,
            policy_statements=cloudtrail_delivery_statements(arn, [DeliveringTrail(account_id=WORKLOAD,
                                                                                   trail_arn=WORKLOAD_TRAIL_ARN)])),
            opts=in_archive)
        AuditTrail("audit-trn", AuditTrailArgs(delivery_bucket=bucket, kms_key=own_key, log_files_kms_key=archive_key),
                   opts=in_workload)

    return run_program(program, stack="trail-cross-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_a_trail_delivers_into_another_accounts_bucket_under_that_accounts_key(cross_account):
    plan = cross_account
    trail = one(plan, TRAIL)
    keys = {k.name: k for k in plan.of_type("aws:kms/key:Key")}
    assert trail.outputs["arn"] == WORKLOAD_TRAIL_ARN
    assert [b.name for b in plan.of_type("aws:s3/bucket:Bucket")] == ["archive-audit"]  # no bucket of its own
    assert trail.inputs["s3BucketName"] == "archive-audit"
    assert trail.inputs["kmsKeyId"] == keys["archive-key-key"].outputs["arn"]  # the log files: the archive's key
    assert keys["archive-key-key"].outputs["arn"].split(":")[4] == ARCHIVE
    # The log group stays in the trail's account, under that account's key.
    group = one(plan, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["kmsKeyId"] == keys["own-key-key"].outputs["arn"]
    assert group.outputs["arn"].split(":")[4] == WORKLOAD
    policy = one(plan, "aws:s3/bucketPolicy:BucketPolicy")
    assert policy.urn in trail.dependencies  # CreateTrail checks the bucket policy admits it
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements[f"AWSCloudTrailWrite{WORKLOAD}"]["Resource"] == f"arn:aws:s3:::archive-audit/AWSLogs/{WORKLOAD}/*"
    assert statements["AWSCloudTrailAclCheck"]["Condition"] == {"StringEquals": {"aws:SourceArn": WORKLOAD_TRAIL_ARN}}


def test_delivery_statements_admit_each_trail_under_its_own_accounts_prefix_only():
    from components.audit_trail import DeliveringTrail, cloudtrail_delivery_statements

    other = "arn:aws:cloudtrail:eu-west-1:222222222222:trail/audit-inf"
    statements = cloudtrail_delivery_statements("arn:aws:s3:::b", [
        DeliveringTrail(account_id=WORKLOAD, trail_arn=WORKLOAD_TRAIL_ARN),
        DeliveringTrail(account_id="222222222222", trail_arn=other)])
    check, *writes = statements
    assert check["Action"] == "s3:GetBucketAcl"
    assert check["Condition"] == {"StringEquals": {"aws:SourceArn": [WORKLOAD_TRAIL_ARN, other]}}
    assert [(w["Sid"], w["Condition"]["StringEquals"]["aws:SourceArn"]) for w in writes] == [
        (f"AWSCloudTrailWrite{WORKLOAD}", WORKLOAD_TRAIL_ARN), ("AWSCloudTrailWrite222222222222", other)]
    assert all(w["Principal"] == {"Service": "cloudtrail.amazonaws.com"} and w["Action"] == "s3:PutObject"
               and w["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control" for w in writes)
