"""The foundation-model proxy on recorded Converse exchanges: a botocore Stubber on a real
bedrock-runtime client validates every request the handler sends and every response it reads
against the service model."""

from __future__ import annotations

import base64
import json
import logging

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from components.lambdas.fm_gateway import handler as gateway
from tests.components.fm_gateway import payloads as p

# LogRecord attributes every record has; what remains is the call's structured fields.
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None))) | {"message", "asctime"}


@pytest.fixture(autouse=True)
def lambda_env(monkeypatch):
    for key, value in p.lambda_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("BEDROCK_ENDPOINT_URL", raising=False)


@pytest.fixture
def bedrock(monkeypatch):
    """A real bedrock-runtime client under a Stubber, injected through the handler's factory."""
    client = boto3.client("bedrock-runtime", region_name="eu-west-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=Config(retries={"mode": "standard"}))
    stubber = Stubber(client)
    monkeypatch.setattr(gateway, "client_factory", lambda: client)
    gateway.reset_client()
    with stubber:
        yield stubber
    gateway.reset_client()


def call(event):
    answer = gateway.handler(event, None)
    return answer, json.loads(answer["body"])


def logged(caplog) -> list[dict]:
    return [{k: v for k, v in vars(r).items() if k not in _STANDARD}
            for r in caplog.records if r.name == "fm_gateway"]


def fail_with(stubber, error, model_id=p.MODEL, headers=None):
    code, status, message = error
    stubber.add_client_error("converse", service_error_code=code, service_message=message,
                             http_status_code=status, expected_params=p.expected_converse_params(model_id),
                             response_meta={"HTTPHeaders": headers or {}})


# -- success and the guardrail ------------------------------------------------------------------
def test_a_call_goes_to_the_model_with_the_gateways_guardrail_and_returns_output_usage_and_stop_reason(bedrock):
    bedrock.add_response("converse", p.converse_ok(), p.expected_converse_params())
    answer, body = call(p.api_event())
    bedrock.assert_no_pending_responses()
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["X-Guardrail-Action"] == "NONE"
    assert body == {
        "modelId": p.MODEL,
        "output": {"message": {"role": "assistant", "content": [{"text": p.COMPLETION}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 41, "outputTokens": 19, "totalTokens": 60},
        "guardrail": {"intervened": False},
        "requestId": p.API_REQUEST_ID,
    }


def test_a_guardrail_intervention_is_flagged_and_its_trace_never_leaves_the_function(bedrock, caplog):
    caplog.set_level(logging.INFO, logger="fm_gateway")
    bedrock.add_response("converse", p.converse_guardrail_intervened(), p.expected_converse_params())
    answer, body = call(p.api_event())
    assert answer["statusCode"] == 200
    assert answer["headers"]["X-Guardrail-Action"] == "INTERVENED"
    assert body["stopReason"] == "guardrail_intervened" and body["guardrail"] == {"intervened": True}
    assert "trace" not in body
    # The trace quotes what the PII filter matched: neither the caller nor the log sees it.
    assert "jane.doe@example.com" not in answer["body"]
    (line,) = logged(caplog)
    assert line["guardrailAction"] == "INTERVENED" and line["stopReason"] == "guardrail_intervened"
    assert "jane.doe@example.com" not in json.dumps(line)


def test_a_caller_cannot_bring_or_switch_off_the_guardrail(bedrock):
    body = {**p.request_body(), "guardrailConfig": {"guardrailIdentifier": "none", "guardrailVersion": "DRAFT"}}
    answer, answer_body = call(p.api_event(body=body))
    assert answer["statusCode"] == 400
    assert "guardrailConfig" in answer_body["error"]["message"]
    bedrock.assert_no_pending_responses()  # nothing reached Bedrock


def test_the_guardrail_comes_from_the_environment_on_every_call(bedrock, monkeypatch):
    monkeypatch.setenv("GUARDRAIL_VERSION", "4")
    params = p.expected_converse_params()
    params["guardrailConfig"]["guardrailVersion"] = "4"
    bedrock.add_response("converse", p.converse_ok(), params)
    bedrock.add_response("converse", p.converse_ok(), params)
    assert call(p.api_event())[0]["statusCode"] == 200
    assert call(p.api_event())[0]["statusCode"] == 200
    bedrock.assert_no_pending_responses()


def test_a_percent_encoded_profile_id_is_the_same_model(bedrock):
    bedrock.add_response("converse", p.converse_ok(), p.expected_converse_params())
    answer, _ = call(p.api_event(model_id=p.MODEL.replace(":", "%3A")))
    assert answer["statusCode"] == 200


def test_only_the_fields_sent_reach_the_model(bedrock):
    minimal = {"messages": [{"role": "user", "content": [{"text": p.PROMPT}]}]}
    expected = {"modelId": p.OTHER_ALLOWED, "messages": minimal["messages"],
                "guardrailConfig": p.expected_converse_params()["guardrailConfig"]}
    bedrock.add_response("converse", p.converse_ok(), expected)
    answer, body = call(p.api_event(model_id=p.OTHER_ALLOWED, body=minimal))
    assert answer["statusCode"] == 200 and body["modelId"] == p.OTHER_ALLOWED


def test_a_base64_body_is_decoded(bedrock):
    bedrock.add_response("converse", p.converse_ok(), p.expected_converse_params())
    event = p.api_event()
    event["body"], event["isBase64Encoded"] = base64.b64encode(event["body"].encode()).decode(), True
    assert call(event)[0]["statusCode"] == 200


# -- refusals before Bedrock -------------------------------------------------------------------
def test_a_model_not_on_the_list_is_404_and_never_called(bedrock, caplog):
    caplog.set_level(logging.INFO, logger="fm_gateway")
    answer, body = call(p.api_event(model_id=p.NOT_ALLOWED))
    assert answer["statusCode"] == 404
    assert body == {"error": {"status": 404, "message": "no such model on this gateway"},
                    "requestId": p.API_REQUEST_ID}
    bedrock.assert_no_pending_responses()
    (line,) = logged(caplog)
    assert (line["status"], line["outcome"], line["modelId"]) == (404, "model_not_allowed", p.NOT_ALLOWED)


@pytest.mark.parametrize("raw, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"messages": []}), "messages must be a non-empty list"),
    (json.dumps({"messages": [{"role": "system", "content": [{"text": "x"}]}]}), "messages[0]"),
    (json.dumps({"messages": [{"role": "user", "content": [{"image": {"format": "png"}}]}]}), "only text blocks"),
    (json.dumps({"messages": [{"role": "user", "content": [{"text": "x"}]}], "toolConfig": {}}), "toolConfig"),
    (json.dumps({"messages": [{"role": "user", "content": [{"text": "x"}]}],
                 "inferenceConfig": {"temperature": 3}}), "temperature"),
    (json.dumps({"messages": [{"role": "user", "content": [{"text": "x"}]}],
                 "inferenceConfig": {"maxTokens": "lots"}}), "maxTokens"),
    (json.dumps({"messages": [{"role": "user", "content": [{"text": "x"}]}],
                 "inferenceConfig": {"stopSequences": ["a", "b", "c", "d", "e"]}}), "stopSequences"),
])
def test_a_malformed_body_is_400_with_the_reason_and_never_reaches_bedrock(bedrock, raw, message):
    answer, body = call(p.api_event(raw=raw))
    assert answer["statusCode"] == 400
    assert message in body["error"]["message"]
    bedrock.assert_no_pending_responses()


def test_a_missing_body_is_400(bedrock):
    event = p.api_event()
    event["body"] = None
    assert call(event)[0]["statusCode"] == 400


# -- Bedrock's errors --------------------------------------------------------------------------
def test_a_throttled_call_is_429_with_retry_after(bedrock):
    fail_with(bedrock, p.THROTTLED)
    answer, body = call(p.api_event())
    assert answer["statusCode"] == 429
    assert answer["headers"]["Retry-After"] == "1"
    assert body["error"]["status"] == 429 and body["requestId"] == p.API_REQUEST_ID


def test_a_throttle_with_bedrocks_retry_hint_passes_it_on_in_seconds(bedrock):
    fail_with(bedrock, p.THROTTLED, headers={"x-amz-retry-after": "2500"})
    assert call(p.api_event())[0]["headers"]["Retry-After"] == "3"


@pytest.mark.parametrize("error, status", [
    (p.INVALID, 400), (p.DENIED, 403), (p.NOT_READY, 503), (p.UNAVAILABLE, 503), (p.MODEL_TIMEOUT, 504),
    (p.MODEL_ERROR, 502), (p.INTERNAL, 502),
])
def test_bedrock_errors_map_to_a_status_and_a_fixed_message_never_the_services(bedrock, caplog, error, status):
    caplog.set_level(logging.INFO, logger="fm_gateway")
    fail_with(bedrock, error)
    answer, body = call(p.api_event())
    assert answer["statusCode"] == status
    assert body["requestId"] == p.API_REQUEST_ID and answer["headers"]["X-Request-Id"] == p.API_REQUEST_ID
    # The service's message may echo the prompt or a model's traceback.
    assert error[2] not in answer["body"] and p.PROMPT not in answer["body"]
    assert "Traceback" not in answer["body"] and "Retry-After" not in answer["headers"]
    (line,) = logged(caplog)
    assert (line["status"], line["errorCode"]) == (status, error[0])
    assert error[2] not in json.dumps(line)


class _Exploding:
    def __init__(self, error):
        self.error = error

    def converse(self, **_):
        raise self.error


def test_a_read_timeout_is_504(monkeypatch):
    monkeypatch.setattr(gateway, "client_factory", lambda: _Exploding(ReadTimeoutError(endpoint_url="https://x")))
    gateway.reset_client()
    assert call(p.api_event())[0]["statusCode"] == 504
    gateway.reset_client()


def test_an_unexpected_failure_is_502_with_the_request_id_and_no_stack_trace(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="fm_gateway")
    monkeypatch.setattr(gateway, "client_factory", lambda: _Exploding(KeyError("secret internals")))
    gateway.reset_client()
    answer, body = call(p.api_event())
    gateway.reset_client()
    assert answer["statusCode"] == 502
    assert body == {"error": {"status": 502, "message": "the model call failed"}, "requestId": p.API_REQUEST_ID}
    assert "secret internals" not in answer["body"]
    (line,) = logged(caplog)
    assert (line["outcome"], line["errorType"]) == ("internal_error", "KeyError")


# -- the log line ----------------------------------------------------------------------------
def test_one_structured_log_line_per_call_without_prompt_or_completion(bedrock, caplog):
    caplog.set_level(logging.INFO, logger="fm_gateway")
    bedrock.add_response("converse", p.converse_ok(), p.expected_converse_params())
    call(p.api_event())
    (line,) = logged(caplog)
    assert line["apiRequestId"] == p.API_REQUEST_ID and line["modelId"] == p.MODEL
    assert (line["status"], line["outcome"], line["guardrailAction"]) == (200, "ok", "NONE")
    assert (line["inputTokens"], line["outputTokens"], line["totalTokens"]) == (41, 19, 60)
    assert line["modelLatencyMs"] == 812 and isinstance(line["latencyMs"], int)
    text = json.dumps(line)
    assert p.PROMPT not in text and p.SYSTEM not in text and p.COMPLETION not in text


# -- the client ------------------------------------------------------------------------------
def test_the_client_retries_in_standard_mode_with_the_configured_budget_and_endpoint(monkeypatch):
    monkeypatch.setenv("BEDROCK_ENDPOINT_URL", "https://vpce-0abc-123.bedrock-runtime.eu-west-1.vpce.amazonaws.com")
    client = gateway.make_client()
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert (config.connect_timeout, config.read_timeout) == (2.0, 11.0)
    assert client.meta.endpoint_url == "https://vpce-0abc-123.bedrock-runtime.eu-west-1.vpce.amazonaws.com"
    monkeypatch.delenv("BEDROCK_ENDPOINT_URL")
    assert gateway.make_client().meta.endpoint_url == "https://bedrock-runtime.eu-west-1.amazonaws.com"


def test_the_client_is_built_once_per_container(monkeypatch):
    built = []
    monkeypatch.setattr(gateway, "client_factory", lambda: built.append(1) or _Exploding(KeyError("x")))
    gateway.reset_client()
    call(p.api_event())
    call(p.api_event())
    gateway.reset_client()
    assert built == [1]
