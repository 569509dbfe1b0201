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
    from blueprints.engine import run_program

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
