"""The SIEM transform on recorded payloads: one event per log line, control messages dropped,
malformed records counted and failed, never a crash."""

from __future__ import annotations

import base64
import json

import pytest

from components.siem_shipper import source_map_json
from components.siem_transform import handler as transform
from tests.components.siem_transform import payloads as p


@pytest.fixture(autouse=True)
def lambda_env(monkeypatch):
    for key, value in p.lambda_environment().items():
        monkeypatch.setenv(key, value)


def events_of(answer: dict) -> list[dict]:
    text = base64.b64decode(answer["data"]).decode()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def batch():
    event = p.recorded_batch()
    return event, transform.handler(event, None)


def test_one_answer_per_record_with_the_same_record_ids(batch):
    event, result = batch
    assert set(result) == {"records"}
    assert [r["recordId"] for r in result["records"]] == [r["recordId"] for r in event["records"]]
    assert [r["result"] for r in result["records"]] == (
        ["Ok"] * 4 + ["Dropped"] + ["Ok"] * 2 + ["ProcessingFailed"] * 5)


def test_cloudwatch_payload_becomes_one_event_per_log_line(batch):
    _, result = batch
    trail = events_of(result["records"][0])
    assert len(trail) == 2
    first = trail[0]
    assert first == {
        "source": "cloudtrail", "account": p.ACCOUNT, "region": p.REGION, "classification": "restricted", "blueprint": "fraud-models", "logGroup": p.CLOUDTRAIL_GROUP,
        "logStream": f"{p.ACCOUNT}_CloudTrail_{p.REGION}", "id": "37195857270000000000000000",
        "timestamp": "2025-11-28T08:00:00.000Z", "message": p.CLOUDTRAIL_EVENT,
    }
    assert trail[1]["message"]["eventName"] == "PutObject"
    assert trail[1]["timestamp"] == "2025-11-28T08:00:01.000Z"


def test_sources_are_mapped_from_log_groups_and_text_lines_stay_text(batch):
    _, result = batch
    (flow,) = events_of(result["records"][1])
    (eks,) = events_of(result["records"][2])
    (api,) = events_of(result["records"][3])
    assert (flow["source"], eks["source"], api["source"]) == ("vpc-flow", "eks-audit", "api-access")
    assert flow["message"] == p.FLOW_LINE
    assert eks["message"]["verb"] == "list"


def test_prediction_audit_fields_survive_the_transform(batch):
    (api,) = events_of(batch[1]["records"][3])
    assert api["message"]["requestId"] == p.API_ACCESS["requestId"]
    assert api["message"]["caller"]["userArn"].endswith(":user/claims-app")
    assert api["message"]["modelVersion"] == "llm-server:1.4.2"


def test_control_message_is_dropped(batch):
    event, result = batch
    dropped = result["records"][4]
    assert dropped["result"] == "Dropped"
    assert dropped["data"] == event["records"][4]["data"]


def test_findings_and_waf_logs_are_shipped_as_single_events(batch):
    _, result = batch
    (finding,) = events_of(result["records"][5])
    assert finding["source"] == "guardduty" and finding["detailType"] == "GuardDuty Finding"
    assert finding["message"]["detail"]["severity"] == 8 and finding["account"] == p.ACCOUNT
    (waf,) = events_of(result["records"][6])
    assert (waf["source"], waf["region"], waf["account"]) == ("waf", p.REGION, p.ACCOUNT)
    assert waf["timestamp"] == "2025-11-28T08:00:05.000Z" and waf["message"]["action"] == "BLOCK"


def test_malformed_records_fail_with_their_original_data(batch):
    event, result = batch
    for original, answer in zip(event["records"][7:], result["records"][7:]):
        assert answer == {"recordId": original["recordId"], "result": "ProcessingFailed", "data": original["data"]}


def test_counts_are_emitted_as_an_embedded_metric_line(capsys):
    transform.handler(p.recorded_batch(), None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    warnings = [line for line in lines if line.get("message") == "malformed record"]
    assert sorted(w["reason"] for w in warnings) == sorted(
        ["invalid-base64", "invalid-json", "not-gzip-or-json", "unrecognised-json", "invalid-gzip"])
    (metric,) = [line for line in lines if "_aws" in line]
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AiBlueprints/SiemTransform"
    assert (metric["RecordsOk"], metric["RecordsDropped"], metric["RecordsFailed"], metric["EventsOut"]) == (6, 1, 5, 7)
    assert metric["DeliveryStream"] == "fraud-models-siem-eu-west-1"


@pytest.mark.parametrize("event", [
    {}, {"records": None}, {"records": [None]}, {"records": [{"recordId": "1"}]},
    {"records": [{"recordId": "1", "data": p.b64(p.gz({"messageType": "DATA_MESSAGE", "logEvents": ["x"]}))}]},
    {"records": [{"recordId": "1", "data": p.b64(p.gz(["not", "a", "payload"]))}]},
])
def test_odd_events_never_raise(event):
    result = transform.handler(event, None)
    assert all(r["result"] == "ProcessingFailed" for r in result["records"])
    assert len(result["records"]) == len(event.get("records") or [])


def test_unmapped_log_group_and_missing_env_fall_back(monkeypatch):
    monkeypatch.delenv("SOURCE_MAP")
    monkeypatch.delenv("CLASSIFICATION")
    payload = p.cloudwatch_payload("/custom/app", "s", ['{"k": 1}', "[not json"])
    (answer,) = transform.handler(p.firehose_event([p.b64(p.gz(payload))]), None)["records"]
    events = events_of(answer)
    assert [e["source"] for e in events] == ["cloudwatch-logs", "cloudwatch-logs"]
    assert events[0]["message"] == {"k": 1} and events[1]["message"] == "[not json"
    assert events[0]["classification"] == "" and "tier" not in events[0]


def test_a_log_group_missing_from_the_source_map_is_generic_whatever_its_name(monkeypatch):
    monkeypatch.setenv("SOURCE_MAP", source_map_json({p.API_GROUP: "api-access"}))
    payload = p.cloudwatch_payload(p.CLOUDTRAIL_GROUP, "s", ['{"k": 1}'])
    (answer,) = transform.handler(p.firehose_event([p.b64(p.gz(payload))]), None)["records"]
    assert [e["source"] for e in events_of(answer)] == [transform.GENERIC_SOURCE] == ["cloudwatch-logs"]
