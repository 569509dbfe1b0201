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

The response stays under Lambda's 6 MB synchronous response quota (a larger one fails the whole
batch): CloudWatch Logs records arrive gzip-compressed and leave decompressed, enriched and
base64-encoded, many times larger. Records that would push the response past
RESPONSE_LIMIT_BYTES are re-ingested into the stream that delivered them (PutRecordBatch; the
original record, or, when its output alone would not fit, its log events split into smaller
subscription payloads) and answered Dropped; they come back through this function in a later
batch. What cannot be re-ingested (a single log event too large for any response, or puts that
still fail after REINGEST_ATTEMPTS) is answered ProcessingFailed, so Firehose writes the original
to the error prefix. The scheme is AWS's own `kinesis-firehose-cloudwatch-logs-processor`
blueprint's.

Configuration (environment): CLASSIFICATION, BLUEPRINT, and SOURCE_MAP, a JSON object mapping
every subscribed log group name to its source kind (set by Pulumi from the log groups it
subscribes; a group missing from it is shipped as the generic "cloudwatch-logs").
Standard library only, except boto3 (in every Lambda Python runtime), imported only to re-ingest.
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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

METRIC_NAMESPACE = "AiBlueprints/SiemTransform"
GZIP_MAGIC = b"\x1f\x8b"

# Firehose invokes the transform synchronously, and Lambda's synchronous invocation payload
# quota is 6 MB for the response ("Transform source data in Amazon Data Firehose"; Lambda
# quotas). The serialized response stays under 6,000,000 bytes: the headroom below 6 MiB that
# AWS's kinesis-firehose-cloudwatch-logs-processor blueprint keeps.
RESPONSE_LIMIT_BYTES = 6_000_000
# A record whose output alone would take more than this is re-ingested as several smaller
# subscription payloads, so each piece comes back small enough to share a response.
PIECE_OUTPUT_BYTES = RESPONSE_LIMIT_BYTES // 4
# PutRecordBatch (Firehose API reference): at most 500 records and 4 MiB per call, each record
# at most 1,000 KiB before base64. The 4 MiB is counted on the base64 data that goes on the
# wire, the stricter reading.
REINGEST_BATCH_RECORDS = 500
REINGEST_BATCH_BYTES = 4 * 1024 * 1024
REINGEST_RECORD_BYTES = 1000 * 1024
# Attempts per re-ingested record (the first put and its retries), with exponential backoff
# from REINGEST_BACKOFF_SECONDS; well inside the function's timeout.
REINGEST_ATTEMPTS = 5
REINGEST_BACKOFF_SECONDS = 0.1
_ENVELOPE_BYTES = len(json.dumps({"records": []}))

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


@dataclass
class _Outcome:
    """One record's answer, with what re-ingesting or failing it needs."""

    answer: dict[str, str]
    events: int  # SIEM events in an Ok answer
    original: str  # the record's data as Firehose sent it (base64)

    def fallback(self, result: str) -> dict[str, str]:
        """The answer carrying the original record instead of its events: Dropped once
        re-ingested, ProcessingFailed when Firehose should write it to the error prefix."""
        return {"recordId": self.answer["recordId"], "result": result, "data": self.original}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, list[dict[str, str]]]:
    """The Firehose transformation entry point."""
    settings = Settings(event if isinstance(event, dict) else {})
    records = event.get("records") if isinstance(event, dict) else None
    outcomes = [_transform(record, settings) for record in (records if isinstance(records, list) else [])]
    counts = {"RecordsOk": 0, "RecordsDropped": 0, "RecordsFailed": 0, "EventsOut": 0,
              "RecordsReingested": 0, "RecordsOversized": 0, "ReingestFailed": 0}
    _fit(outcomes, settings, counts)
    for outcome in outcomes:
        result = outcome.answer["result"]
        counts[{"Ok": "RecordsOk", "Dropped": "RecordsDropped"}.get(result, "RecordsFailed")] += 1
        counts["EventsOut"] += outcome.events if result == "Ok" else 0
    _emit_metrics(settings.stream_name, counts)
    return {"records": [outcome.answer for outcome in outcomes]}


def _transform(record: Any, settings: Settings) -> _Outcome:
    record_id = str(record.get("recordId", "")) if isinstance(record, dict) else ""
    original = record.get("data") if isinstance(record, dict) else None
    original = original if isinstance(original, str) else ""
    try:
        events = _events(_decode(original), settings)
    except MalformedRecord as exc:
        _log({"level": "WARNING", "message": "malformed record", "recordId": record_id, "reason": str(exc),
              "deliveryStream": settings.stream_name})
        return _Outcome({"recordId": record_id, "result": "ProcessingFailed", "data": original}, 0, original)
    if events is None:
        return _Outcome({"recordId": record_id, "result": "Dropped", "data": original}, 0, original)
    body = "".join(_line(e) for e in events)
    data = base64.b64encode(body.encode("utf-8")).decode("ascii")
    return _Outcome({"recordId": record_id, "result": "Ok", "data": data}, len(events), original)


def _line(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), sort_keys=True, default=str) + "\n"


# -- the 6 MB response ---------------------------------------------------------------------
def _size(answer: dict[str, str]) -> int:
    """Bytes the answer takes in the serialized response (the runtime's json.dumps), with its separator."""
    return len(json.dumps(answer)) + 2


def _fit(outcomes: list[_Outcome], settings: Settings, counts: dict[str, int]) -> None:
    """Keep the response under RESPONSE_LIMIT_BYTES. Every answer is first counted at its floor
    (an Ok answer at its fallback, the original record); Ok answers then keep their events, in
    order, while the rest of the limit allows. The others are re-ingested and answered Dropped,
    or answered ProcessingFailed where re-ingesting cannot help or keeps failing. The floor
    leaves room for either fallback, so whatever the puts do the response fits."""
    floor = _ENVELOPE_BYTES + sum(
        _size(o.fallback("ProcessingFailed") if o.answer["result"] == "Ok" else o.answer) for o in outcomes)
    budget = RESPONSE_LIMIT_BYTES - floor
    pieces: dict[int, list[bytes]] = {}
    # A large record of a single event cannot be split: it claims the budget first, or it could
    # come back batch after batch behind others.
    order = sorted(range(len(outcomes)), key=lambda i: not (
        outcomes[i].events == 1 and _size(outcomes[i].answer) > PIECE_OUTPUT_BYTES))
    for index in order:
        outcome = outcomes[index]
        if outcome.answer["result"] != "Ok":
            continue
        extra = _size(outcome.answer) - _size(outcome.fallback("ProcessingFailed"))
        if extra <= budget:
            budget -= extra
            continue
        reingest = _reingest_data(outcome, settings)
        if reingest is None:
            _log({"level": "WARNING", "message": "record too large for a transformation response; "
                  "delivered as ProcessingFailed to the error prefix", "recordId": outcome.answer["recordId"],
                  "outputBytes": _size(outcome.answer), "limitBytes": RESPONSE_LIMIT_BYTES,
                  "deliveryStream": settings.stream_name})
            outcome.answer = outcome.fallback("ProcessingFailed")
            counts["RecordsOversized"] += 1
        else:
            pieces[index] = reingest
    if not pieces:
        return
    failed = _reingest(settings, pieces)
    for index in pieces:
        outcome = outcomes[index]
        outcome.answer = outcome.fallback("ProcessingFailed" if index in failed else "Dropped")
        counts["ReingestFailed" if index in failed else "RecordsReingested"] += 1
    _log({"level": "WARNING" if failed else "INFO", "message": "re-ingested records that would pass the "
          "response limit", "records": len(pieces) - len(failed), "failed": len(failed),
          "puts": sum(len(p) for p in pieces.values()), "deliveryStream": settings.stream_name})


def _reingest_data(outcome: _Outcome, settings: Settings) -> Optional[list[bytes]]:
    """What to put back into the stream for a record that does not fit this response: the
    original record when its output can share a later response, else its log events as several
    smaller subscription payloads; None when neither can ever fit (a single log event, or an
    event of another kind, whose output alone passes the limit)."""
    raw = base64.b64decode(outcome.original)
    output = _size(outcome.answer)
    if output <= PIECE_OUTPUT_BYTES and len(raw) <= REINGEST_RECORD_BYTES:
        return [raw]
    split = _split(raw, settings)
    if split is not None:
        return split
    if _ENVELOPE_BYTES + output <= RESPONSE_LIMIT_BYTES and len(raw) <= REINGEST_RECORD_BYTES:
        return [raw]
    return None


def _split(raw: bytes, settings: Settings) -> Optional[list[bytes]]:
    """A CloudWatch Logs record's log events as DATA_MESSAGE payloads, gzip-compressed as CloudWatch
    Logs writes them, each with at most PIECE_OUTPUT_BYTES of output and REINGEST_RECORD_BYTES of
    data; None for a record of another kind or of a single log event."""
    if raw[:2] != GZIP_MAGIC:
        return None
    try:
        payload = json.loads(gzip.decompress(raw))
        events = _cloudwatch_events(payload, settings)
    except (OSError, EOFError, zlib.error, ValueError, MalformedRecord):
        return None
    if not events or len(events) < 2:
        return None
    chunks: list[list[Any]] = [[]]
    size = 0
    for log_event, event in zip(payload["logEvents"], events):
        output = (len(_line(event).encode("utf-8")) * 4 + 2) // 3  # base64
        if chunks[-1] and size + output > PIECE_OUTPUT_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(log_event)
        size += output
    pieces = [piece for chunk in chunks for piece in _gzip_pieces(payload, chunk)]
    return pieces if all(len(piece) <= REINGEST_RECORD_BYTES for piece in pieces) else None


def _gzip_pieces(payload: dict[str, Any], log_events: list[Any]) -> list[bytes]:
    """`payload` with `log_events`, gzip-compressed; halved until each piece fits a Firehose record."""
    data = gzip.compress(json.dumps({**payload, "logEvents": log_events}).encode("utf-8"))
    if len(data) <= REINGEST_RECORD_BYTES or len(log_events) < 2:
        return [data]
    middle = len(log_events) // 2
    return _gzip_pieces(payload, log_events[:middle]) + _gzip_pieces(payload, log_events[middle:])


def _reingest(settings: Settings, pieces: dict[int, list[bytes]]) -> set[int]:
    """Put every piece into the delivery stream that sent the batch (PutRecordBatch, in batches
    within its limits), retrying failed puts REINGEST_ATTEMPTS times in all with exponential
    backoff. Returns the records with a piece that was never accepted."""
    pending = [(index, data) for index, datas in pieces.items() for data in datas]
    try:
        if not settings.stream_name:
            raise ValueError("the event names no deliveryStreamArn")
        client = _firehose_client(settings.region)
    except Exception as exc:  # noqa: BLE001 - never raise: the records fail to the error prefix instead
        _log({"level": "ERROR", "message": "cannot re-ingest", "reason": str(exc),
              "deliveryStream": settings.stream_name})
        return set(pieces)
    for attempt in range(REINGEST_ATTEMPTS):
        if attempt:
            time.sleep(REINGEST_BACKOFF_SECONDS * 2 ** (attempt - 1))
        retry = []
        for batch in _batches(pending):
            try:
                response = client.put_record_batch(DeliveryStreamName=settings.stream_name,
                                                   Records=[{"Data": data} for _, data in batch])
            except Exception as exc:  # noqa: BLE001 - botocore errors (throttling, access, network): retry
                _log({"level": "WARNING", "message": "PutRecordBatch failed", "reason": str(exc),
                      "attempt": attempt + 1, "deliveryStream": settings.stream_name})
                retry.extend(batch)
                continue
            if response.get("FailedPutCount"):
                entries = response.get("RequestResponses") or []
                retry.extend(item for position, item in enumerate(batch)
                             if position >= len(entries) or entries[position].get("ErrorCode"))
        pending = retry
        if not pending:
            break
    return {index for index, _ in pending}


def _batches(items: list[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
    """`items` in PutRecordBatch calls of at most REINGEST_BATCH_RECORDS records and
    REINGEST_BATCH_BYTES of base64 data."""
    batches: list[list[tuple[int, bytes]]] = []
    size = 0
    for item in items:
        encoded = (len(item[1]) + 2) // 3 * 4
        if not batches or len(batches[-1]) == REINGEST_BATCH_RECORDS or size + encoded > REINGEST_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += encoded
    return batches


def _firehose_client(region: str) -> Any:
    import boto3  # in every Lambda Python runtime; only re-ingesting needs it

    return boto3.client("firehose", region_name=region or None)


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
