"""ConfigRecorder: every supported type recorded, delivered to an encrypted bucket, turned on,
by a role only AWS Config acting for this account may assume."""

import json

import pytest

from components.config_recorder import ConfigRecorder, ConfigRecorderArgs
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs
from components.kms_key import KmsKey, KmsKeyArgs

RECORDER = "aws:cfg/recorder:Recorder"
CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
STATUS = "aws:cfg/recorderStatus:RecorderStatus"


@pytest.fixture(scope="module")
def plan():
    from blueprints.plan.engine import run_program

    def program():
        key = KmsKey("logs", KmsKeyArgs(description="logs"))
        bucket = EncryptedBucket("config-bucket", EncryptedBucketArgs(kms_key=key))
        ConfigRecorder("config", ConfigRecorderArgs(bucket=bucket, kms_key=key, include_global_resource_types=True))
    return run_program(program, stack="config-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_records_every_supported_type_and_global_types_where_asked(plan):
    (recorder,) = plan.of_type(RECORDER)
    assert recorder.inputs["recordingGroup"] == {"allSupported": True, "includeGlobalResourceTypes": True}
    role = next(r for r in plan.of_type("aws:iam/role:Role") if recorder.inputs["roleArn"] == r.outputs["arn"])
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "config.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    attached = [a.inputs["policyArn"] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"]


def test_delivers_to_the_bucket_with_its_key_and_only_under_its_own_prefix(plan):
    (channel,) = plan.of_type(CHANNEL)
    bucket = next(b for b in plan.of_type("aws:s3/bucket:Bucket"))
    key = next(k for k in plan.of_type("aws:kms/key:Key"))
    assert channel.inputs["s3BucketName"] == bucket.outputs["bucket"]
    assert channel.inputs["s3KmsKeyArn"] == key.outputs["arn"]
    (recorder,) = plan.of_type(RECORDER)
    assert recorder.urn in channel.dependencies  # AWS Config needs the recorder first
    policy = json.loads(next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")).inputs["policy"])
    put = next(s for s in policy["Statement"] if s["Sid"] == "DeliverToOwnPrefix")
    assert put["Resource"] == bucket.outputs["arn"] + "/AWSLogs/123456789012/Config/*"


def test_recording_starts_after_the_channel_exists(plan):
    (status,) = plan.of_type(STATUS)
    (channel,) = plan.of_type(CHANNEL)
    (recorder,) = plan.of_type(RECORDER)
    assert status.inputs == {"isEnabled": True, "name": recorder.outputs["name"]}
    assert channel.urn in status.dependencies


def test_delivering_into_another_accounts_bucket_waits_for_its_policy(render_component):
    import pulumi
    import pulumi_aws as aws

    def in_account(account):
        role = aws.ProviderAssumeRoleArgs(role_arn=f"arn:aws:iam::{account}:role/deployer")
        return pulumi.ResourceOptions(provider=aws.Provider(f"aws-{account}", region="eu-west-1", assume_roles=[role]))

    def program():
        archive = in_account("333333333333")
        key = KmsKey("logs", KmsKeyArgs(description="logs", trusted_accounts=["111111111111"]), opts=archive)
        bucket = EncryptedBucket("config-bucket", EncryptedBucketArgs(kms_key=key), opts=archive)
        ConfigRecorder("config", ConfigRecorderArgs(bucket=bucket, bucket_other_account=True, kms_key=key),
                       opts=in_account("111111111111"))

    plan = render_component(program)
    (channel,) = plan.of_type(CHANNEL)
    (bucket_policy,) = plan.of_type("aws:s3/bucketPolicy:BucketPolicy")
    assert bucket_policy.urn in channel.dependencies  # Config checks it can write when the channel is created
    policy = json.loads(next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")).inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    bucket = next(b for b in plan.of_type("aws:s3/bucket:Bucket"))
    assert statements["DeliverToOwnPrefix"]["Resource"] == bucket.outputs["arn"] + "/AWSLogs/111111111111/Config/*"
    assert statements["CheckBucketExists"] == {"Sid": "CheckBucketExists", "Effect": "Allow",
                                               "Action": "s3:ListBucket", "Resource": bucket.outputs["arn"]}
    (recorder,) = plan.of_type(RECORDER)
    assert recorder.inputs["roleArn"].split(":")[4] == "111111111111"


def test_in_its_own_account_the_channel_does_not_wait_for_the_bucket_policy(plan):
    (channel,) = plan.of_type(CHANNEL)
    assert not {p.urn for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")} & set(channel.dependencies)
    policy = json.loads(next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")).inputs["policy"])
    assert "CheckBucketExists" not in {s["Sid"] for s in policy["Statement"]}


def test_a_locked_bucket_is_refused_before_anything_is_created(render_component):
    """AWS Config does not deliver to a bucket with Object Lock (AWS::Config::DeliveryChannel)."""
    from components.encrypted_bucket import ObjectLock

    def program():
        locked = EncryptedBucket("locked", EncryptedBucketArgs(object_lock=ObjectLock(mode="COMPLIANCE", days=30)))
        ConfigRecorder("config", ConfigRecorderArgs(bucket=locked))
    with pytest.raises(Exception, match="AWS Config cannot deliver to a bucket with Object Lock"):
        render_component(program)
