"""SiemShipper: an encrypted Firehose stream per destination, the transform Lambda, subscription
filters with the Logs role, and `aws-waf-logs-` streams with WAF logging configurations."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from blueprints.plan.engine import run_program
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs
from components.kms_key import KmsKey, KmsKeyArgs
from components.siem_shipper import (
    MAX_NAME, ShippedLogGroup, ShippedWebAcl, SiemShipper, SiemShipperArgs, source_map_json,
    waf_stream_name,
)

STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
ACL_ARN = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/api/0f1e2d3c"
CONFIG_KEY = {"splunk": "splunkConfiguration", "http": "httpEndpointConfiguration", "s3": "extendedS3Configuration"}


def shipper_program(destination: str, *, cmk: bool = True, **overrides):
    def program():
        key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["logs", "firehose", "s3"])) if cmk else None
        archive = EncryptedBucket("archive", EncryptedBucketArgs(kms_key=key))
        flow = aws.cloudwatch.LogGroup("flow", name="/aws/vpc/flow-logs/training")
        access = aws.cloudwatch.LogGroup("access", name="/aws/apigateway/api/access")
        endpoint = {"splunk": "https://splunk.example.com:8088", "http": "https://siem.example.com/ingest"}.get(destination)
        SiemShipper("siem", SiemShipperArgs(
            archive_bucket=archive, destination=destination, endpoint=endpoint,
            token="hec-token-value" if endpoint else None, kms_key=key,
            log_groups=[ShippedLogGroup(kind="vpc-flow", log_group_name=flow.name),
                        ShippedLogGroup(kind="api-access", log_group_name=access.name)],
            web_acls=[ShippedWebAcl(name="api", web_acl_arn=ACL_ARN)],
            classification="restricted", blueprint="demo", **overrides,
        ))
    return program


@pytest.fixture(scope="module")
def plans():
    cache = {}

    def get(destination: str, cmk: bool = True):
        if (destination, cmk) not in cache:
            cache[destination, cmk] = run_program(shipper_program(destination, cmk=cmk), stack="siem-test",
                                                  config={"aws:region": "eu-west-1"}, secret_keys=[])
        return cache[destination, cmk]

    return get


def streams(plan):
    return {r.inputs["name"]: r for r in plan.of_type(STREAM)}


@pytest.mark.parametrize("destination,firehose", [("splunk", "splunk"), ("http", "http_endpoint"), ("s3", "extended_s3")])
def test_every_stream_goes_to_the_destination_encrypted_with_the_cmk(plans, destination, firehose):
    plan = plans(destination)
    key = plan.of_type("aws:kms/key:Key")[0]
    assert set(streams(plan)) == {"siem", "aws-waf-logs-api"}
    for stream in streams(plan).values():
        assert stream.inputs["destination"] == firehose
        assert set(stream.inputs) & set(CONFIG_KEY.values()) == {CONFIG_KEY[destination]}
        assert stream.inputs["serverSideEncryption"] == {
            "enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": key.outputs["arn"]}


def test_without_a_cmk_streams_use_the_aws_owned_key(plans):
    for stream in streams(plans("s3", cmk=False)).values():
        assert stream.inputs["serverSideEncryption"] == {"enabled": True, "keyType": "AWS_OWNED_CMK"}


def test_splunk_takes_the_secret_token_and_archives_every_event(plans):
    plan = plans("splunk")
    config = streams(plan)["siem"].inputs["splunkConfiguration"]
    archive = next(r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name == "archive")
    assert config["hecEndpoint"] == "https://splunk.example.com:8088"
    assert config["hecToken"] == "[secret]"  # a Pulumi secret, never plain text in the plan
    assert config["hecEndpointType"] == "Raw"
    assert config["s3BackupMode"] == "AllEvents"
    assert config["s3Configuration"]["bucketArn"] == archive.outputs["arn"]
    assert config["s3Configuration"]["kmsKeyArn"] == plan.of_type("aws:kms/key:Key")[0].outputs["arn"]
    assert config["cloudwatchLoggingOptions"]["enabled"] is True


def test_http_takes_the_secret_access_key_and_archives_all_data(plans):
    config = streams(plans("http"))["siem"].inputs["httpEndpointConfiguration"]
    assert config["url"] == "https://siem.example.com/ingest"
    assert config["accessKey"] == "[secret]"
    assert config["s3BackupMode"] == "AllData"
    assert config["s3Configuration"]["compressionFormat"] == "GZIP"


def test_archive_only_mode_keeps_failed_deliveries(render_component):
    plan = render_component(shipper_program("splunk", archive_all=False))
    assert streams(plan)["siem"].inputs["splunkConfiguration"]["s3BackupMode"] == "FailedEventsOnly"


@pytest.mark.parametrize("destination", ["splunk", "http", "s3"])
def test_records_are_transformed_by_the_lambda(plans, destination):
    plan = plans(destination)
    (function,) = plan.of_type("aws:lambda/function:Function")
    config = streams(plan)["siem"].inputs[CONFIG_KEY[destination]]
    (processor,) = config["processingConfiguration"]["processors"]
    params = {p["parameterName"]: p["parameterValue"] for p in processor["parameters"]}
    assert processor["type"] == "Lambda"
    assert params["LambdaArn"] == function.outputs["arn"] + ":$LATEST"


def test_lambda_is_packaged_from_the_repo_with_encrypted_environment(plans):
    plan = plans("splunk")
    (function,) = plan.of_type("aws:lambda/function:Function")
    assert function.inputs["runtime"] in ("python3.12", "python3.13")
    assert function.inputs["handler"] == "handler.handler"
    assert function.inputs["code"]["archive"]["assets"] == ["handler.py"]
    assert function.inputs["kmsKeyArn"] == plan.of_type("aws:kms/key:Key")[0].outputs["arn"]
    env = function.inputs["environment"]["variables"]
    assert set(env) == {"CLASSIFICATION", "BLUEPRINT", "SOURCE_MAP"}  # no tier: components know none
    assert (env["CLASSIFICATION"], env["BLUEPRINT"]) == ("restricted", "demo")
    assert env["SOURCE_MAP"] == source_map_json({"/aws/vpc/flow-logs/training": "vpc-flow",
                                                 "/aws/apigateway/api/access": "api-access"})
    assert json.loads(env["SOURCE_MAP"]) == {"/aws/vpc/flow-logs/training": "vpc-flow",
                                             "/aws/apigateway/api/access": "api-access"}
    groups = {r.inputs["name"]: r for r in plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert function.inputs["loggingConfig"]["logGroup"] in groups
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.outputs["arn"] == function.inputs["role"])
    statements = [s for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.id
                  for s in json.loads(r.inputs["policy"])["Statement"]]
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt", "firehose:PutRecordBatch"}


@pytest.mark.parametrize("destination", ["splunk", "s3"])
def test_the_transform_buffers_little_and_may_reingest_into_its_own_stream_only(plans, destination):
    """CloudWatch Logs records grow many-fold in the transform and a Lambda response may not pass
    6 MB: the smallest processor buffer, and PutRecordBatch on the logs stream for what still
    does not fit (components/siem_transform/handler.py)."""
    plan = plans(destination)
    for stream in streams(plan).values():
        (processor,) = stream.inputs[CONFIG_KEY[destination]]["processingConfiguration"]["processors"]
        params = {p["parameterName"]: p["parameterValue"] for p in processor["parameters"]}
        assert params["BufferSizeInMBs"] == "0.2"  # Firehose allows 0.2-3 MB for a Lambda processor
    (function,) = plan.of_type("aws:lambda/function:Function")
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.outputs["arn"] == function.inputs["role"])
    reingest = [s for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.id
                for s in json.loads(r.inputs["policy"])["Statement"] if "firehose:PutRecordBatch" in str(s["Action"])]
    # Exactly one grant, on the CloudWatch Logs stream: not the WAF streams, no wildcard.
    assert reingest == [{"Sid": "ReingestOversizedRecords", "Effect": "Allow", "Action": "firehose:PutRecordBatch",
                         "Resource": streams(plan)["siem"].outputs["arn"]}]


def test_one_subscription_filter_per_log_group_through_the_logs_role(plans):
    plan = plans("splunk")
    main = streams(plan)["siem"]
    filters = plan.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    assert sorted(f.inputs["logGroup"] for f in filters) == ["/aws/apigateway/api/access", "/aws/vpc/flow-logs/training"]
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.name == "siem-logs-role")
    for f in filters:
        assert f.inputs["filterPattern"] == ""
        assert f.inputs["destinationArn"] == main.outputs["arn"]
        assert f.inputs["roleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert trust["Condition"]["StringLike"]["aws:SourceArn"] == "arn:aws:logs:eu-west-1:123456789012:*"
    policy = next(r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "siem-logs-policy")
    (allow,) = json.loads(policy.inputs["policy"])["Statement"]
    assert allow["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert allow["Resource"] == main.outputs["arn"]


def test_waf_logs_through_an_aws_waf_logs_stream_with_credentials_redacted(plans):
    plan = plans("splunk")
    waf_stream = streams(plan)["aws-waf-logs-api"]
    (logging,) = plan.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert logging.inputs["resourceArn"] == ACL_ARN
    assert logging.inputs["logDestinationConfigs"] == [waf_stream.outputs["arn"]]
    redacted = [f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]]
    assert "authorization" in redacted and "cookie" in redacted
    assert waf_stream.inputs["splunkConfiguration"]["s3Configuration"]["prefix"] == "siem/waf/api/"


def test_waf_stream_names_respect_the_prefix_and_the_64_character_limit():
    assert waf_stream_name("api") == "aws-waf-logs-api"
    long_name = waf_stream_name("x" * 80)
    assert long_name.startswith("aws-waf-logs-") and len(long_name) == 64
    assert long_name != waf_stream_name("x" * 81)
    assert waf_stream_name("a b/c") == "aws-waf-logs-a-b-c"


def test_firehose_role_reaches_only_the_archive_the_lambda_and_its_log_group(plans):
    plan = plans("splunk")
    policy = next(r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "siem-fh-policy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    archive = next(r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name == "archive")
    assert statements["ArchiveToS3"]["Resource"] == [archive.outputs["arn"], archive.outputs["arn"] + "/*"]
    assert statements["EncryptArchive"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert "s3:DeleteObject" not in statements["ArchiveToS3"]["Action"]


@pytest.mark.parametrize("args,message", [
    ({"destination": "splunk"}, "needs endpoint and token"),
    ({"destination": "s3", "endpoint": "https://x.example.com"}, "takes no endpoint"),
    ({"destination": "http", "endpoint": "http://siem.example.com", "token": "t"}, "must be an https:// URL"),
    ({"buffering_interval_seconds": 30}, "60-900"),
    ({"log_retention_days": 10}, "log_retention_days"),
    ({"name": "n" * (MAX_NAME + 1)}, "at most"),
    ({"web_acls": [ShippedWebAcl(name="a", web_acl_arn="x"), ShippedWebAcl(name="a", web_acl_arn="y")]}, "unique"),
])
def test_invalid_arguments_are_rejected(args, message):
    name = args.pop("name", "bad")

    def program():
        SiemShipper(name, SiemShipperArgs(archive_bucket=EncryptedBucket("b", EncryptedBucketArgs()), **args))

    with pytest.raises(Exception, match=message):
        run_program(program, stack="t", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_the_longest_name_keeps_every_aws_name_within_limits(render_component):
    def program():
        SiemShipper("n" * MAX_NAME, SiemShipperArgs(archive_bucket=EncryptedBucket("b", EncryptedBucketArgs()),
                                                    web_acls=[ShippedWebAcl(name="w" * 70, web_acl_arn=ACL_ARN)]))

    plan = render_component(program)
    named = plan.of_type("aws:iam/role:Role") + plan.of_type(STREAM) + plan.of_type("aws:lambda/function:Function")
    assert len(named) == 6
    assert all(len(r.outputs["name"]) <= 64 for r in named), [r.outputs["name"] for r in named]


# -- archiving into another account's bucket (a log archive) ---------------------------------------------
ARCHIVE_ACCOUNT, WORKLOAD = "333333333333", "111111111111"


def test_a_shipper_archives_into_another_accounts_bucket_under_its_prefix_and_key(render_component):
    import pulumi

    def in_account(account):
        role = aws.ProviderAssumeRoleArgs(role_arn=f"arn:aws:iam::{account}:role/deployer")
        return pulumi.ResourceOptions(provider=aws.Provider(f"aws-{account}", region="eu-west-1", assume_roles=[role]))

    def program():
        archive_opts, own_opts = in_account(ARCHIVE_ACCOUNT), in_account(WORKLOAD)
        archive_key = KmsKey("archive-key", KmsKeyArgs(description="archive", service_principals=["s3"],
                                                       trusted_accounts=[WORKLOAD]), opts=archive_opts)
        own_key = KmsKey("own-key", KmsKeyArgs(description="own", service_principals=["logs", "firehose"]),
                         opts=own_opts)
        archive = EncryptedBucket("archive", EncryptedBucketArgs(kms_key=archive_key), opts=archive_opts)
        SiemShipper("siem", SiemShipperArgs(archive_bucket=archive, archive_other_account=True,
                                            archive_prefix=f"AWSLogs/{WORKLOAD}/", archive_kms_key=archive_key,
                                            destination="splunk", endpoint="https://splunk.example.com:8088",
                                            token="t", kms_key=own_key), opts=own_opts)

    plan = render_component(program)
    keys = {k.name: k.outputs["arn"] for k in plan.of_type("aws:kms/key:Key")}
    archive = next(r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name == "archive")
    (stream,) = plan.of_type(STREAM)
    backup = stream.inputs["splunkConfiguration"]["s3Configuration"]
    assert backup["bucketArn"] == archive.outputs["arn"]
    assert backup["prefix"] == f"AWSLogs/{WORKLOAD}/siem/logs/"
    assert backup["errorOutputPrefix"] == f"AWSLogs/{WORKLOAD}/siem-errors/logs/"
    assert backup["kmsKeyArn"] == keys["archive-key-key"]  # the archive's key ...
    assert stream.inputs["serverSideEncryption"]["keyArn"] == keys["own-key-key"]  # ... the stream's own
    policy = next(r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "siem-fh-policy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["ArchiveToS3"]["Resource"] == [archive.outputs["arn"], archive.outputs["arn"] + f"/AWSLogs/{WORKLOAD}/*"]
    assert "s3:PutObjectAcl" in statements["ArchiveToS3"]["Action"]  # the owner's ACL, across accounts
    assert statements["EncryptArchive"]["Resource"] == keys["archive-key-key"]
    # Firehose checks it can write when the stream is created: the archive's policy comes first.
    bucket_policy = next(r for r in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == "archive-policy")
    assert bucket_policy.urn in stream.dependencies
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.name == "siem-fh-role")
    assert role.outputs["arn"] == backup["roleArn"] and role.outputs["arn"].split(":")[4] == WORKLOAD


def test_in_its_own_account_the_archive_takes_no_acl_and_no_prefix(plans):
    plan = plans("splunk")
    policy = next(r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "siem-fh-policy")
    (archive,) = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "ArchiveToS3"]
    assert "s3:PutObjectAcl" not in archive["Action"]
    assert streams(plan)["siem"].inputs["splunkConfiguration"]["s3Configuration"]["prefix"] == "siem/logs/"
    bucket_policies = {p.urn for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    assert not bucket_policies & set(streams(plan)["siem"].dependencies)


@pytest.mark.parametrize("prefix", ["AWSLogs/111111111111", "/AWSLogs/111111111111/"])
def test_an_archive_prefix_is_a_key_prefix_ending_with_a_slash(prefix):
    def program():
        SiemShipper("bad", SiemShipperArgs(archive_bucket=EncryptedBucket("b", EncryptedBucketArgs()),
                                           archive_prefix=prefix))

    with pytest.raises(Exception, match="archive_prefix"):
        run_program(program, stack="t", config={"aws:region": "eu-west-1"}, secret_keys=[])
