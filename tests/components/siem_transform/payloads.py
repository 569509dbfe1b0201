"""Recorded-shape payloads for the SIEM transform: what CloudWatch Logs, EventBridge and WAF put
into a Firehose stream, and the Firehose transformation event that wraps them.

The shapes follow the AWS documentation samples (CloudWatch Logs subscription filter payloads,
Firehose data-transformation events, GuardDuty finding events, WAF log records); ids, ARNs
and times are fixed so assertions can name them.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from typing import Any

from components.siem_shipper import source_map_json

ACCOUNT = "123456789012"
REGION = "eu-west-1"
STREAM_ARN = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/fraud-models-siem-{REGION}"
T0 = 1764316800000  # 2025-11-28T08:00:00Z in epoch milliseconds

CLOUDTRAIL_GROUP = "/aws/cloudtrail/fraud-models-audit"
FLOW_GROUP = "/aws/vpc/flow-logs/fraud-models-training"
EKS_GROUP = "/aws/eks/fraud-models-training/cluster"
API_GROUP = "/aws/apigateway/fraud-models-eu-west-1/access"
# Every subscribed group and its source kind, as SiemShipper maps them (ShippedLogGroup.kind).
SOURCE_KINDS = {CLOUDTRAIL_GROUP: "cloudtrail", FLOW_GROUP: "vpc-flow", EKS_GROUP: "eks-audit", API_GROUP: "api-access"}


def lambda_environment() -> dict[str, str]:
    """The transform's environment as SiemShipper sets it for these groups."""
    return {"CLASSIFICATION": "restricted", "BLUEPRINT": "fraud-models", "SOURCE_MAP": source_map_json(SOURCE_KINDS)}

CLOUDTRAIL_EVENT = {
    "eventVersion": "1.09",
    "userIdentity": {"type": "AssumedRole", "principalId": "AROA3EXAMPLE:alice",
                     "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-engineer/alice", "accountId": ACCOUNT},
    "eventTime": "2025-11-28T08:00:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": REGION,
    "sourceIPAddress": "10.20.1.17",
    "requestParameters": {"bucketName": "fraud-models-training-data-a1a3c4a", "key": "claims/2025/11/part-0001.parquet"},
    "eventCategory": "Data",
    "eventID": "2d4f1b7e-6c1a-4c55-9f0e-5b0d4b8f1e11",
}
FLOW_LINE = f"2 {ACCOUNT} eni-0a1b2c3d4e5f67890 10.20.1.17 10.20.2.33 44321 443 6 12 5040 1764316800 1764316860 ACCEPT OK"
EKS_AUDIT = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "5a1c7f0e-0c1b-4b8f-8a66-d3f1c2b9e001",
    "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/serving/secrets", "verb": "list",
    "user": {"username": "arn:aws:sts::123456789012:assumed-role/ml-engineer/alice"},
    "responseStatus": {"code": 403},
}
API_ACCESS = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "caller": {"userArn": f"arn:aws:iam::{ACCOUNT}:user/claims-app", "accountId": ACCOUNT, "sourceIp": "203.0.113.10"},
    "modelVersion": "llm-server:1.4.2",
    "httpMethod": "POST", "resourcePath": "/v1/predict", "status": 200, "responseLatency": 182,
}
GUARDDUTY_EVENT = {
    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "GuardDuty Finding",
    "source": "aws.guardduty", "account": ACCOUNT, "time": "2025-11-28T08:01:00Z", "region": REGION,
    "resources": [],
    "detail": {"schemaVersion": "2.0", "type": "Discovery:S3/MaliciousIPCaller", "severity": 8,
               "resource": {"resourceType": "S3Bucket"}},
}
WAF_LOG = {
    "timestamp": T0 + 5000, "formatVersion": 1,
    "webaclId": f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/fraud-models-eu-west-1/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
    "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet", "action": "BLOCK",
    "httpRequest": {"clientIp": "198.51.100.7", "country": "DE", "uri": "/v1/predict", "httpMethod": "POST",
                    "requestId": "Ab1Cd2Ef3Gh4Ij5=",
                    "headers": [{"name": "authorization", "value": "REDACTED"}]},
}


def cloudwatch_payload(log_group: str, log_stream: str, messages: list[str], *, owner: str = ACCOUNT,
                       first_id: int = 0) -> dict[str, Any]:
    """A DATA_MESSAGE as CloudWatch Logs sends it to a subscription destination (before gzip)."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["fraud-models-siem-eu-west-1-siem"],
        "logEvents": [
            {"id": f"3719585727{first_id + i:016d}", "timestamp": T0 + 1000 * i, "message": m}
            for i, m in enumerate(messages)
        ],
    }


CONTROL_MESSAGE = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [{"id": "", "timestamp": T0, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}],
}


def gz(doc: Any) -> bytes:
    return gzip.compress(json.dumps(doc).encode())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def firehose_event(datas: list[str], *, stream_arn: str = STREAM_ARN) -> dict[str, Any]:
    """The event Firehose hands a transformation Lambda."""
    return {
        "invocationId": "invoked-1f8c1c5e-4c2b-4f8e-9f7d-2f3b1a0c9d8e",
        "deliveryStreamArn": stream_arn,
        "region": stream_arn.split(":")[3],
        "records": [
            {"recordId": f"4963780{i:05d}", "approximateArrivalTimestamp": T0 + i, "data": d}
            for i, d in enumerate(datas)
        ],
    }


def recorded_batch() -> dict[str, Any]:
    """One batch with every kind of record a SIEM stream sees, good and bad (in this order):
    CloudTrail, VPC flow, EKS audit, API access, control message, GuardDuty finding, WAF log,
    invalid base64, gzip of non-JSON, plain non-JSON text, JSON of an unknown shape, a
    truncated gzip stream."""
    return firehose_event([
        b64(gz(cloudwatch_payload(CLOUDTRAIL_GROUP, f"{ACCOUNT}_CloudTrail_{REGION}", [
            json.dumps(CLOUDTRAIL_EVENT), json.dumps({**CLOUDTRAIL_EVENT, "eventName": "PutObject"})]))),
        b64(gz(cloudwatch_payload(FLOW_GROUP, "eni-0a1b2c3d4e5f67890-all", [FLOW_LINE], first_id=10))),
        b64(gz(cloudwatch_payload(EKS_GROUP, "kube-apiserver-audit-0a1b2c3d", [json.dumps(EKS_AUDIT)], first_id=20))),
        b64(gz(cloudwatch_payload(API_GROUP, "7f1e0c2d", [json.dumps(API_ACCESS)], first_id=30))),
        b64(gz(CONTROL_MESSAGE)),
        b64(json.dumps(GUARDDUTY_EVENT).encode()),
        b64(json.dumps(WAF_LOG).encode()),
        "this is not base64!!",
        b64(gzip.compress(b"\x00\x01 binary, not JSON")),
        b64(b"plain text, neither gzip nor JSON"),
        b64(json.dumps({"hello": "world"}).encode()),
        b64(gz(cloudwatch_payload(FLOW_GROUP, "eni-x", [FLOW_LINE]))[:20]),
    ])


# -- a large batch: what a 1 MB processor buffer handed the transform at peak -----------------
_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
_RESOURCES = ("pods", "secrets", "configmaps", "deployments", "services", "events", "leases")
_TRAIL_CALLS = (("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject"),
                ("kms.amazonaws.com", "Decrypt"), ("sts.amazonaws.com", "AssumeRole"),
                ("eks.amazonaws.com", "DescribeCluster"), ("ecr.amazonaws.com", "BatchGetImage"))


def _flow_lines(rng: random.Random, count: int) -> list[str]:
    return [
        f"2 {ACCOUNT} eni-{rng.getrandbits(68):017x} 10.20.{rng.randrange(256)}.{rng.randrange(256)} "
        f"10.{rng.choice((20, 40, 41))}.{rng.randrange(256)}.{rng.randrange(256)} {rng.randrange(1024, 65536)} "
        f"{rng.choice((443, 988, 1021, 2049, 6443, 10250))} 6 {rng.randrange(1, 5000)} {rng.randrange(40, 9_000_000)} "
        f"{1764316800 + i // 50} {1764316860 + i // 50} {rng.choice(('ACCEPT', 'ACCEPT', 'ACCEPT', 'REJECT'))} OK"
        for i in range(count)
    ]


def _trail_events(rng: random.Random, count: int) -> list[str]:
    events = []
    for i in range(count):
        source, name = rng.choice(_TRAIL_CALLS)
        user = rng.choice(("alice", "bob", "carol", "training-job", "model-server"))
        events.append(json.dumps({
            **CLOUDTRAIL_EVENT,
            "userIdentity": {**CLOUDTRAIL_EVENT["userIdentity"], "principalId": f"AROA{rng.getrandbits(60):015X}:{user}",
                             "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-engineer/{user}"},
            "eventTime": f"2025-11-28T08:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "eventSource": source, "eventName": name,
            "sourceIPAddress": f"10.20.{rng.randrange(256)}.{rng.randrange(256)}",
            "requestParameters": {"bucketName": "fraud-models-training-data-a1a3c4a",
                                  "key": f"claims/2025/11/part-{rng.randrange(100000):05d}.parquet"},
            "requestID": f"{rng.getrandbits(64):016X}",
            "eventID": f"{rng.getrandbits(128):032x}",
        }))
    return events


def _audit_events(rng: random.Random, count: int) -> list[str]:
    return [json.dumps({
        **EKS_AUDIT,
        "auditID": f"{rng.getrandbits(128):032x}",
        "verb": rng.choice(_VERBS),
        "requestURI": f"/api/v1/namespaces/{rng.choice(('serving', 'training', 'kube-system'))}/"
                      f"{rng.choice(_RESOURCES)}/{rng.getrandbits(40):010x}",
        "user": {"username": rng.choice(("system:serviceaccount:kube-system:cluster-autoscaler",
                                          f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-engineer/alice", "system:node"))},
        "sourceIPs": [f"10.20.{rng.randrange(256)}.{rng.randrange(256)}"],
        "responseStatus": {"code": rng.choice((200, 200, 200, 201, 403, 404))},
    }) for _ in range(count)]


def large_batch() -> dict[str, Any]:
    """A batch the size the old 1 MB processor buffer delivered at peak, in CloudWatch Logs
    subscription shapes: 8 records of 1,000 VPC flow-log lines, 4 of 300 CloudTrail events and
    4 of 500 EKS audit events, then one flow-log record of 12,000 lines whose SIEM output alone
    is larger than a Lambda response may be. Enriched, the batch is about twice Lambda's 6 MB
    response quota. Deterministic: a fixed seed."""
    rng = random.Random(15)
    datas, first = [], 0
    shapes = ([(FLOW_GROUP, "eni-all", _flow_lines, 1000)] * 8
              + [(CLOUDTRAIL_GROUP, f"{ACCOUNT}_CloudTrail_{REGION}", _trail_events, 300)] * 4
              + [(EKS_GROUP, "kube-apiserver-audit-0a1b2c3d", _audit_events, 500)] * 4
              + [(FLOW_GROUP, "eni-all", _flow_lines, 12000)])
    for group, stream, lines, count in shapes:
        datas.append(b64(gz(cloudwatch_payload(group, stream, lines(rng, count), first_id=first))))
        first += count
    return firehose_event(datas)
