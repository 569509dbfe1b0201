"""The transform in a Firehose -> S3 pipeline, against moto: what the archive bucket ends up holding.

moto's Firehose does not invoke processors, so the test plays Firehose's part: it hands the
recorded batch to the handler, delivers the Ok records to the stream's S3 destination with
put_record_batch, and sends ProcessingFailed originals to the error stream, as Firehose does.
"""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from moto import mock_aws

from components.siem_transform import handler as transform
from tests.components.siem_transform import payloads as p

BUCKET = "fraud-models-siem-archive-eu-west-1"


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                       "AWS_DEFAULT_REGION": p.REGION, "AWS_REGION": p.REGION}.items():
        monkeypatch.setenv(key, value)
    for key, value in p.lambda_environment().items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=p.REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": p.REGION})
        firehose = boto3.client("firehose", region_name=p.REGION)
        arns = {}
        for stream, prefix in (("fraud-models-siem-eu-west-1", "siem/logs/"),
                               ("fraud-models-siem-errors-eu-west-1", "siem-errors/logs/")):
            arns[stream] = firehose.create_delivery_stream(
                DeliveryStreamName=stream,
                DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={
                    "RoleARN": f"arn:aws:iam::{p.ACCOUNT}:role/firehose",
                    "BucketARN": f"arn:aws:s3:::{BUCKET}",
                    "Prefix": prefix,
                },
            )["DeliveryStreamARN"]
        yield s3, firehose, arns


def objects(s3, prefix: str) -> list[bytes]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return [s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing]


def test_archive_holds_one_siem_event_per_log_line_and_the_failed_originals(aws):
    s3, firehose, arns = aws
    stream, errors = "fraud-models-siem-eu-west-1", "fraud-models-siem-errors-eu-west-1"
    event = p.recorded_batch()
    event["deliveryStreamArn"] = arns[stream]
    result = transform.handler(event, None)

    by_result: dict[str, list[dict]] = {}
    for answer in result["records"]:
        by_result.setdefault(answer["result"], []).append(answer)
    put = firehose.put_record_batch(DeliveryStreamName=stream, Records=[
        {"Data": base64.b64decode(a["data"])} for a in by_result["Ok"]])
    assert put["FailedPutCount"] == 0
    firehose.put_record_batch(DeliveryStreamName=errors, Records=[
        {"Data": a["data"].encode()} for a in by_result["ProcessingFailed"]])

    (archived,) = objects(s3, "siem/logs/")
    events = [json.loads(line) for line in archived.decode().splitlines()]
    assert [e["source"] for e in events] == [
        "cloudtrail", "cloudtrail", "vpc-flow", "eks-audit", "api-access", "guardduty", "waf"]
    assert {(e["account"], e["region"], e["classification"], e["blueprint"]) for e in events} == {
        (p.ACCOUNT, p.REGION, "restricted", "fraud-models")}
    assert not any("tier" in e for e in events)
    api = next(e for e in events if e["source"] == "api-access")
    assert api["message"]["requestId"] == p.API_ACCESS["requestId"]
    assert not any("CONTROL MESSAGE" in json.dumps(e) for e in events)

    (failed,) = objects(s3, "siem-errors/logs/")
    originals = [r["data"] for r in event["records"][7:]]
    assert failed.decode() == "".join(originals)
