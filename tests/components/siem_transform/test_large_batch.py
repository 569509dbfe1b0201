"""A batch whose SIEM output passes Lambda's 6 MB response quota (what the old 1 MB processor
buffer delivered at peak): the transform answers every record exactly once within the limit,
re-ingests the rest into its own stream (moto) and, round after round, delivers every log event
exactly once. Oversized single events and puts that keep failing go to the error prefix."""

from __future__ import annotations

import base64
import functools
import gzip
import json

import boto3
import pytest
from moto import mock_aws

from components.siem_transform import handler as transform
from tests.components.siem_transform import payloads as p

BUCKET = "fraud-models-siem-archive-eu-west-1"
STREAM = "fraud-models-siem-eu-west-1"
LAMBDA_RESPONSE_QUOTA = 6 * 1024 * 1024
RESULTS = {"Ok", "Dropped", "ProcessingFailed"}


@functools.lru_cache(maxsize=None)
def _large_batch() -> str:
    return json.dumps(p.large_batch())


def large_batch(stream_arn: str) -> dict:
    event = json.loads(_large_batch())
    event["deliveryStreamArn"] = stream_arn
    return event


def log_events(data: str) -> list[dict]:
    return json.loads(gzip.decompress(base64.b64decode(data)))["logEvents"]


def delivered(answer: dict) -> list[str]:
    return [json.loads(line)["id"] for line in base64.b64decode(answer["data"]).decode().splitlines()]


class RecordingFirehose:
    """The moto Firehose client, remembering every PutRecordBatch call."""

    def __init__(self, client):
        self.client = client
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, **kwargs):
        self.calls.append([r["Data"] for r in kwargs["Records"]])
        return self.client.put_record_batch(**kwargs)


@pytest.fixture
def firehose(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                       "AWS_DEFAULT_REGION": p.REGION, "AWS_REGION": p.REGION, **p.lambda_environment()}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=p.REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": p.REGION})
        client = boto3.client("firehose", region_name=p.REGION)
        arn = client.create_delivery_stream(
            DeliveryStreamName=STREAM, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={"RoleARN": f"arn:aws:iam::{p.ACCOUNT}:role/firehose",
                                                "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": "siem/logs/"},
        )["DeliveryStreamARN"]
        recorder = RecordingFirehose(client)
        monkeypatch.setattr(transform, "_firehose_client", lambda region: recorder)
        yield recorder, s3, arn


def test_the_large_batch_would_pass_the_lambda_response_quota_without_splitting(monkeypatch):
    monkeypatch.setattr(transform, "RESPONSE_LIMIT_BYTES", 10**9)
    unsplit = transform.handler(large_batch(p.STREAM_ARN))
    assert {a["result"] for a in unsplit["records"]} == {"Ok"}
    assert len(json.dumps(unsplit)) > 2 * LAMBDA_RESPONSE_QUOTA


def test_a_large_batch_fits_the_response_and_the_rest_is_reingested_into_the_stream(firehose):
    recorder, s3, arn = firehose
    event = large_batch(arn)
    result = transform.handler(event)

    assert len(json.dumps(result)) <= transform.RESPONSE_LIMIT_BYTES < LAMBDA_RESPONSE_QUOTA
    answers = result["records"]
    assert [a["recordId"] for a in answers] == [r["recordId"] for r in event["records"]]  # each exactly once
    assert {a["result"] for a in answers} <= RESULTS
    assert sum(a["result"] == "Ok" for a in answers) >= 1 and sum(a["result"] == "Dropped" for a in answers) >= 2
    assert not any(a["result"] == "ProcessingFailed" for a in answers)  # splitting helped every record
    originals = {r["recordId"]: r["data"] for r in event["records"]}
    assert all(a["data"] == originals[a["recordId"]] for a in answers if a["result"] != "Ok")

    # PutRecordBatch limits: 500 records and 4 MiB a call, 1,000 KiB a record.
    assert recorder.calls
    for call in recorder.calls:
        assert len(call) <= 500
        assert sum(len(base64.b64encode(d)) for d in call) <= 4 * 1024 * 1024
        assert all(len(d) <= 1000 * 1024 for d in call)
    # What was put reached the stream: moto delivers each call as one object of its records.
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="siem/logs/")["Contents"]
    stored = sorted(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing)
    assert stored == sorted(b"".join(call) for call in recorder.calls)

    # Nothing lost, nothing twice: every log event is in the response or was re-ingested.
    reingested = [e["id"] for call in recorder.calls for d in call for e in json.loads(gzip.decompress(d))["logEvents"]]
    answered = [i for a in answers if a["result"] == "Ok" for i in delivered(a)]
    expected = [e["id"] for r in event["records"] for e in log_events(r["data"])]
    assert sorted(answered + reingested) == sorted(expected)


def test_reingested_records_come_back_and_every_log_event_is_delivered_exactly_once(firehose):
    recorder, _, arn = firehose
    event = large_batch(arn)
    expected = sorted(e["id"] for r in event["records"] for e in log_events(r["data"]))
    shipped: list[str] = []
    for _round in range(4):  # Firehose hands re-ingested records to the transform again
        seen = len(recorder.calls)
        result = transform.handler(event)
        assert len(json.dumps(result)) <= transform.RESPONSE_LIMIT_BYTES
        assert {a["result"] for a in result["records"]} <= {"Ok", "Dropped"}
        shipped += [i for a in result["records"] if a["result"] == "Ok" for i in delivered(a)]
        new = [d for call in recorder.calls[seen:] for d in call]
        if not new:
            break
        event = p.firehose_event([base64.b64encode(d).decode() for d in new], stream_arn=arn)
    assert sorted(shipped) == expected


def test_a_single_log_event_too_large_for_any_response_fails_to_the_error_prefix(monkeypatch, capsys):
    for key, value in p.lambda_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(transform, "RESPONSE_LIMIT_BYTES", 4000)
    monkeypatch.setattr(transform, "PIECE_OUTPUT_BYTES", 1000)
    monkeypatch.setattr(transform, "_firehose_client", lambda region: pytest.fail("nothing can be re-ingested"))
    huge = p.b64(p.gz(p.cloudwatch_payload(p.FLOW_GROUP, "eni-all", ["x" * 5000])))
    event = p.firehose_event([huge, p.b64(json.dumps(p.WAF_LOG).encode())])
    (failed, waf) = transform.handler(event, None)["records"]
    assert failed == {"recordId": event["records"][0]["recordId"], "result": "ProcessingFailed", "data": huge}
    assert waf["result"] == "Ok"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (metric,) = [line for line in lines if "_aws" in line]
    assert (metric["RecordsOversized"], metric["RecordsFailed"], metric["RecordsOk"]) == (1, 1, 1)
    assert any("too large" in line.get("message", "") for line in lines)


class FlakyFirehose:
    """Rejects each record `failures` times (as PutRecordBatch does under throttling), then accepts it."""

    def __init__(self, failures: int):
        self.failures = failures
        self.attempts: dict[bytes, int] = {}
        self.accepted: list[bytes] = []

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803 - boto3's keyword names
        responses = []
        for record in Records:
            tries = self.attempts[record["Data"]] = self.attempts.get(record["Data"], 0) + 1
            if tries > self.failures:
                self.accepted.append(record["Data"])
                responses.append({"RecordId": "ok"})
            else:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"})
        return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}


def small_limit_batch(monkeypatch, client) -> dict:
    """Three small flow-log records and a limit that fits only the first."""
    for key, value in p.lambda_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(transform, "_firehose_client", lambda region: client)
    monkeypatch.setattr(transform.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(transform, "RESPONSE_LIMIT_BYTES", 3000)
    return p.firehose_event([p.b64(p.gz(p.cloudwatch_payload(p.FLOW_GROUP, "eni-all", [p.FLOW_LINE] * 3, first_id=i * 3)))
                             for i in range(3)])


def test_failed_puts_are_retried_until_accepted(monkeypatch):
    client = FlakyFirehose(failures=transform.REINGEST_ATTEMPTS - 1)
    event = small_limit_batch(monkeypatch, client)
    answers = transform.handler(event)["records"]
    assert [a["result"] for a in answers] == ["Ok", "Dropped", "Dropped"]
    assert sorted(client.accepted) == sorted(base64.b64decode(r["data"]) for r in event["records"][1:])


def test_puts_that_keep_failing_go_to_the_error_prefix_after_a_bounded_number_of_attempts(monkeypatch):
    client = FlakyFirehose(failures=transform.REINGEST_ATTEMPTS)
    event = small_limit_batch(monkeypatch, client)
    answers = transform.handler(event)["records"]
    assert [a["result"] for a in answers] == ["Ok", "ProcessingFailed", "ProcessingFailed"]
    assert [a["data"] for a in answers[1:]] == [r["data"] for r in event["records"][1:]]
    assert set(client.attempts.values()) == {transform.REINGEST_ATTEMPTS} and not client.accepted


def test_an_unreachable_stream_fails_the_records_instead_of_the_batch(monkeypatch):
    class Down:
        def put_record_batch(self, **kwargs):
            raise ConnectionError("endpoint unreachable")

    event = small_limit_batch(monkeypatch, Down())
    assert [a["result"] for a in transform.handler(event)["records"]] == ["Ok", "ProcessingFailed", "ProcessingFailed"]


def test_put_batches_respect_the_record_count_and_size_limits():
    small = [(i, b"x" * 100) for i in range(1201)]
    assert [len(b) for b in transform._batches(small)] == [500, 500, 201]
    large = [(i, b"x" * 1000 * 1024) for i in range(7)]  # 1,000 KiB each: 1.33 MiB as base64
    batches = transform._batches(large)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert all(sum(len(base64.b64encode(d)) for _, d in b) <= 4 * 1024 * 1024 for b in batches)
    assert [i for b in batches for i, _ in b] == list(range(7))


def test_a_large_single_event_record_claims_the_response_before_records_that_can_be_split(monkeypatch):
    client = FlakyFirehose(failures=0)
    event = small_limit_batch(monkeypatch, client)
    monkeypatch.setattr(transform, "RESPONSE_LIMIT_BYTES", 5000)
    monkeypatch.setattr(transform, "PIECE_OUTPUT_BYTES", 1000)
    big = p.b64(p.gz(p.cloudwatch_payload(p.FLOW_GROUP, "eni-all", ["y" * 2000], first_id=99)))
    event = p.firehose_event([r["data"] for r in event["records"]] + [big])
    answers = transform.handler(event)["records"]
    assert answers[-1]["result"] == "Ok"  # last in the batch, yet kept: it could only ever come back whole
    assert "Dropped" in {a["result"] for a in answers[:-1]}
    assert len(json.dumps({"records": answers})) <= 5000
