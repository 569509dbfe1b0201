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
