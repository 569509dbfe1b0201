"""Kinesis Data Firehose data transformation: log records in, one SIEM event per log line out.

Firehose invokes `handler` with a batch of records (base64 data) and expects one answer per
record: {"records": [{"recordId", "result": "Ok" | "Dropped" | "ProcessingFailed", "data"}]}.
Three kinds of input reach the SIEM streams:

- CloudWatch Logs subscription payloads (CloudTrail, VPC flow logs, EKS audit, API access
  logs): gzip-compressed JSON with messageType DATA_MESSAGE (logEvents[] to ship) or
  CONTROL_MESSAGE (a reachability probe from CloudWatch Logs: dropped);
- EventBridge events (GuardDuty and Security Hub findings): one JSON event per record;
- AWS WAF logs delivered straight to an `aws-waf-logs-` stream: one JSON log per record.

Every output event is one JSON line with the fields a SOC searches on: source (the SIEM source
kind), account, region, classification, blueprint, logGroup, logStream, timestamp and
message (the parsed JSON when the log line is JSON, else the text). A record that cannot be
read is counted and returned as ProcessingFailed (Firehose writes it to the error prefix of
the archive bucket); the handler never raises on bad input. Counts go to CloudWatch as an
Embedded Metric Format line (namespace AiBlueprints/SiemTransform).

Configuration (environment): CLASSIFICATION, BLUEPRINT, and SOURCE_MAP, a JSON object mapping
every subscribed log group name to its source kind (set by Pulumi from the log groups it
subscribes; a group missing from it is shipped as the generic "cloudwatch-logs").
Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
import sys
import time
import zlib
from datetime import datetime, timezone
from typing import Any, Optional

METRIC_NAMESPACE = "AiBlueprints/SiemTransform"
GZIP_MAGIC = b"\x1f\x8b"

# The source of a log group missing from SOURCE_MAP.
GENERIC_SOURCE = "cloudwatch-logs"
_EVENTBRIDGE_SOURCES = {"aws.guardduty": "guardduty", "aws.securityhub": "securityhub"}


class MalformedRecord(Exception):
    """A record this handler cannot turn into SIEM events; the reason is a short slug."""


class Settings:
    """What every event is stamped with, read from the environment on each invocation."""

    def __init__(self, event: dict[str, Any]):
        self.classification = os.environ.get("CLASSIFICATION", "")
        self.blueprint = os.environ.get("BLUEPRINT", "")
        try:
            source_map = json.loads(os.environ.get("SOURCE_MAP") or "{}")
        except ValueError:
            source_map = {}
        self.source_map: dict[str, str] = source_map if isinstance(source_map, dict) else {}
        stream_arn = str(event.get("deliveryStreamArn") or "")
        arn_parts = stream_arn.split(":")
        self.stream_name = stream_arn.rsplit("/", 1)[-1] if "/" in stream_arn else stream_arn
        self.region = str(event.get("region") or (arn_parts[3] if len(arn_parts) > 4 else "")
                          or os.environ.get("AWS_REGION", ""))
        self.account = arn_parts[4] if len(arn_parts) > 4 else ""

    def stamp(self, source: str, account: str, region: str) -> dict[str, Any]:
        return {
            "source": source,
            "account": account or self.account,
            "region": region or self.region,
            "classification": self.classification,
            "blueprint": self.blueprint,
        }

    def source_of(self, log_group: str) -> str:
        return str(self.source_map.get(log_group, GENERIC_SOURCE))


def handler(event: dict[str, Any], context: Any = None) -> dict[str, list[dict[str, str]]]:
    """The Firehose transformation entry point."""
    settings = Settings(event if isinstance(event, dict) else {})
    records = event.get("records") if isinstance(event, dict) else None
    counts = {"RecordsOk": 0, "RecordsDropped": 0, "RecordsFailed": 0, "EventsOut": 0}
    answers = []
    for record in records if isinstance(records, list) else []:
        answer, events = _transform(record, settings)
        counts[{"Ok": "RecordsOk", "Dropped": "RecordsDropped"}.get(answer["result"], "RecordsFailed")] += 1
        counts["EventsOut"] += events
        answers.append(answer)
    _emit_metrics(settings.stream_name, counts)
    return {"records": answers}


def _transform(record: Any, settings: Settings) -> tuple[dict[str, str], int]:
    record_id = str(record.get("recordId", "")) if isinstance(record, dict) else ""
    original = record.get("data") if isinstance(record, dict) else None
    try:
        events = _events(_decode(original), settings)
    except MalformedRecord as exc:
        _log({"level": "WARNING", "message": "malformed record", "recordId": record_id, "reason": str(exc),
              "deliveryStream": settings.stream_name})
        return {"recordId": record_id, "result": "ProcessingFailed",
                "data": original if isinstance(original, str) else ""}, 0
    if events is None:
        return {"recordId": record_id, "result": "Dropped", "data": original}, 0
    body = "".join(json.dumps(e, separators=(",", ":"), sort_keys=True, default=str) + "\n" for e in events)
    return {"recordId": record_id, "result": "Ok", "data": base64.b64encode(body.encode("utf-8")).decode("ascii")}, len(events)


def _decode(data: Any) -> bytes:
    if not isinstance(data, str) or not data:
        raise MalformedRecord("missing-data")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedRecord("invalid-base64") from None


def _events(raw: bytes, settings: Settings) -> Optional[list[dict[str, Any]]]:
    """The SIEM events of one record, or None for a record to drop."""
    if raw[:2] == GZIP_MAGIC:
        try:
            payload = json.loads(gzip.decompress(raw))
        except (OSError, EOFError, zlib.error):
            raise MalformedRecord("invalid-gzip") from None
        except ValueError:
            raise MalformedRecord("invalid-json") from None
        return _cloudwatch_events(payload, settings)
    try:
        doc = json.loads(raw)
    except ValueError:
        raise MalformedRecord("not-gzip-or-json") from None
    if isinstance(doc, dict) and "detail-type" in doc and "source" in doc:
        return [_eventbridge_event(doc, settings)]
    if isinstance(doc, dict) and "webaclId" in doc:
        return [_waf_event(doc, settings)]
    raise MalformedRecord("unrecognised-json")


def _cloudwatch_events(payload: Any, settings: Settings) -> Optional[list[dict[str, Any]]]:
    if not isinstance(payload, dict):
        raise MalformedRecord("not-a-subscription-payload")
    kind = payload.get("messageType")
    if kind == "CONTROL_MESSAGE":
        return None
    log_events = payload.get("logEvents")
    if kind != "DATA_MESSAGE" or not isinstance(log_events, list):
        raise MalformedRecord("not-a-subscription-payload")
    log_group = str(payload.get("logGroup", ""))
    base = settings.stamp(settings.source_of(log_group), str(payload.get("owner", "")), "")
    base.update(logGroup=log_group, logStream=str(payload.get("logStream", "")))
    events = []
    for log_event in log_events:
        if not isinstance(log_event, dict):
            raise MalformedRecord("invalid-log-event")
        events.append({
            **base,
            "id": str(log_event.get("id", "")),
            "timestamp": _iso(log_event.get("timestamp")),
            "message": _parse(log_event.get("message", "")),
        })
    return events


def _eventbridge_event(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    source = str(doc.get("source", ""))
    event = settings.stamp(_EVENTBRIDGE_SOURCES.get(source, source.removeprefix("aws.")),
                           str(doc.get("account", "")), str(doc.get("region", "")))
    event.update(id=str(doc.get("id", "")), detailType=str(doc.get("detail-type", "")),
                 timestamp=str(doc.get("time", "")), message=doc)
    return event


def _waf_event(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    acl = str(doc.get("webaclId", ""))
    parts = acl.split(":")  # arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>
    event = settings.stamp("waf", parts[4] if len(parts) > 5 else "", parts[3] if len(parts) > 5 else "")
    request = doc.get("httpRequest") if isinstance(doc.get("httpRequest"), dict) else {}
    event.update(id=str(request.get("requestId", "")), webAcl=acl, timestamp=_iso(doc.get("timestamp")), message=doc)
    return event


def _parse(message: Any) -> Any:
    """A log line as JSON when it is a JSON object or array, else as text."""
    if not isinstance(message, str):
        return message
    text = message.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return message


def _iso(epoch_ms: Any) -> str:
    if isinstance(epoch_ms, bool) or not isinstance(epoch_ms, (int, float)):
        return ""
    try:
        moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return ""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _emit_metrics(stream: str, counts: dict[str, int]) -> None:
    """One CloudWatch Embedded Metric Format line: no PutMetricData permission needed."""
    _log({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [["DeliveryStream"]],
                "Metrics": [{"Name": name, "Unit": "Count"} for name in counts],
            }],
        },
        "DeliveryStream": stream,
        **counts,
    })


def _log(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
