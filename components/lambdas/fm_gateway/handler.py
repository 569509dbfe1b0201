"""API Gateway (REST, Lambda proxy) handler for `POST /foundation-models/{modelId}/converse`: one
Amazon Bedrock Converse call per request, with the account's guardrail applied to every call.

- The model must be one of ALLOWED_MODELS (comma-separated ids), else 404. IAM enforces the same
  list; this answers clearly instead of passing AccessDenied on.
- The body is a subset of the Converse request (`messages` of text blocks, optional `system` and
  `inferenceConfig`), checked again here after API Gateway's schema validation. Anything else
  (a caller's `guardrailConfig`, tools, model-specific fields) is refused with 400: the guardrail
  is the gateway's, never the caller's.
- Every call carries guardrailConfig {GUARDRAIL_ID, GUARDRAIL_VERSION, trace "enabled"}. The
  trace stays here: it can quote what the filters matched (PII), so callers and logs get only
  whether the guardrail intervened.
- Bedrock's errors map to fixed messages (429 with Retry-After, 400, 403, 503, 504, else 502 with
  the request id); the service's message, which may echo the input, never reaches the caller.
- One structured log line per call: model, status, latency, token usage, guardrail action and
  the API request id. Never the prompt or the completion (Bedrock's invocation log keeps those).

Environment: ALLOWED_MODELS, GUARDRAIL_ID, GUARDRAIL_VERSION (required); BEDROCK_ENDPOINT_URL
(optional: with private DNS on the bedrock-runtime endpoint the default name already resolves to
it); BEDROCK_MAX_ATTEMPTS, BEDROCK_CONNECT_TIMEOUT_SECONDS, BEDROCK_READ_TIMEOUT_SECONDS (the
component sizes them so that every attempt fits the function's timeout, and that fits API
Gateway's 29 s integration timeout). boto3 only.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import time
import urllib.parse
from typing import Any, Callable, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

LOG = logging.getLogger("fm_gateway")
LOG.setLevel(logging.INFO)

GUARDRAIL_INTERVENED = "guardrail_intervened"
ROLES = ("user", "assistant")
MAX_MESSAGES = 100
MAX_SYSTEM_BLOCKS = 10
MAX_STOP_SEQUENCES = 4
# Seconds a throttled caller is told to wait when Bedrock gives no hint of its own.
DEFAULT_RETRY_AFTER = "1"
# Bedrock error code -> (status, message the caller sees). Anything not listed is a 502.
ERRORS: dict[str, tuple[int, str]] = {
    "ThrottlingException": (429, "the model is throttled; retry after the delay in Retry-After"),
    "ValidationException": (400, "the model rejected the request as invalid"),
    "AccessDeniedException": (403, "this gateway may not invoke the model"),
    "ModelNotReadyException": (503, "the model is not ready; retry later"),
    "ServiceUnavailableException": (503, "the model service is unavailable; retry later"),
    "ModelTimeoutException": (504, "the model did not answer in time"),
}
BAD_GATEWAY = (502, "the model call failed")
TIMED_OUT = (504, "the model did not answer in time")


class BadRequest(Exception):
    """The request body is not a Converse request this gateway accepts (the message is safe to return)."""


def make_client() -> Any:
    """The bedrock-runtime client: standard retries with a small attempt budget and timeouts that
    keep every attempt inside the function's timeout."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": int(os.environ.get("BEDROCK_MAX_ATTEMPTS", "2"))},
        connect_timeout=float(os.environ.get("BEDROCK_CONNECT_TIMEOUT_SECONDS", "2")),
        read_timeout=float(os.environ.get("BEDROCK_READ_TIMEOUT_SECONDS", "10")),
        tcp_keepalive=True,
    )
    return boto3.client("bedrock-runtime", endpoint_url=os.environ.get("BEDROCK_ENDPOINT_URL") or None,
                        config=config)


# Tests replace the factory (and reset the cached client); the handler never builds one per call.
client_factory: Callable[[], Any] = make_client
_client: Optional[Any] = None


def _bedrock() -> Any:
    global _client
    if _client is None:
        _client = client_factory()
    return _client


def reset_client() -> None:
    global _client
    _client = None


# -- the request -----------------------------------------------------------------------------
def _text_blocks(blocks: Any, where: str, limit: Optional[int] = None) -> list[dict[str, str]]:
    if not isinstance(blocks, list) or not blocks:
        raise BadRequest(f"{where} must be a non-empty list of {{\"text\": ...}} blocks")
    if limit is not None and len(blocks) > limit:
        raise BadRequest(f"{where} allows at most {limit} blocks")
    out = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or set(block) != {"text"} or not isinstance(block["text"], str) \
                or not block["text"]:
            raise BadRequest(f"{where}[{i}] must be {{\"text\": <non-empty string>}}; only text blocks are accepted")
        out.append({"text": block["text"]})
    return out


def _inference_config(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise BadRequest("inferenceConfig must be an object")
    unknown = set(config) - {"maxTokens", "temperature", "topP", "stopSequences"}
    if unknown:
        raise BadRequest(f"inferenceConfig: unknown field(s) {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "maxTokens" in config:
        value = config["maxTokens"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest("inferenceConfig.maxTokens must be an integer >= 1")
        out["maxTokens"] = value
    for key in ("temperature", "topP"):
        if key in config:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise BadRequest(f"inferenceConfig.{key} must be a number from 0 to 1")
            out[key] = float(value)
    if "stopSequences" in config:
        value = config["stopSequences"]
        if not isinstance(value, list) or len(value) > MAX_STOP_SEQUENCES or \
                not all(isinstance(s, str) and s for s in value):
            raise BadRequest(f"inferenceConfig.stopSequences must be at most {MAX_STOP_SEQUENCES} non-empty strings")
        out["stopSequences"] = list(value)
    return out


def parse_body(event: dict[str, Any]) -> dict[str, Any]:
    """The Converse arguments (without modelId and guardrailConfig) from the request body, or BadRequest."""
    raw = event.get("body")
    if raw is None:
        raise BadRequest("the request needs a JSON body")
    try:
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if "guardrailConfig" in body:
        raise BadRequest("guardrailConfig is set by the gateway and may not be sent")
    unknown = set(body) - {"messages", "system", "inferenceConfig"}
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(sorted(unknown))}; accepted: messages, system, inferenceConfig")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise BadRequest(f"messages allows at most {MAX_MESSAGES} entries")
    request: dict[str, Any] = {"messages": []}
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role", "content"} or message["role"] not in ROLES:
            raise BadRequest(f"messages[{i}] must be {{\"role\": \"user\"|\"assistant\", \"content\": [...]}}")
        request["messages"].append(
            {"role": message["role"], "content": _text_blocks(message["content"], f"messages[{i}].content")})
    if "system" in body:
        request["system"] = _text_blocks(body["system"], "system", MAX_SYSTEM_BLOCKS)
    if "inferenceConfig" in body:
        request["inferenceConfig"] = _inference_config(body["inferenceConfig"])
    return request


def model_id_of(event: dict[str, Any]) -> str:
    # A profile id carries a colon, which a client may percent-encode in the path.
    return urllib.parse.unquote(str((event.get("pathParameters") or {}).get("modelId") or ""))


def allowed_models() -> set[str]:
    return {m.strip() for m in os.environ.get("ALLOWED_MODELS", "").split(",") if m.strip()}


# -- the answer ------------------------------------------------------------------------------
def _response(status: int, body: dict[str, Any], request_id: str, headers: Optional[dict[str, str]] = None
              ) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store",
                    "X-Request-Id": request_id, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _error(status: int, message: str, request_id: str, headers: Optional[dict[str, str]] = None) -> dict[str, Any]:
    return _response(status, {"error": {"status": status, "message": message}, "requestId": request_id},
                     request_id, headers)


def _retry_after(error: ClientError) -> str:
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    for name in ("retry-after", "x-amz-retry-after"):
        value = str(headers.get(name, "")).strip()
        if value.isdigit():
            # x-amz-retry-after is in milliseconds; Retry-After (RFC 9110) in whole seconds.
            return str(max(1, math.ceil(int(value) / 1000))) if name.startswith("x-amz") else value
    return DEFAULT_RETRY_AFTER


def _log(**fields: Any) -> None:
    # With the function's JSON log format, `extra` keys become top-level fields of the log line.
    LOG.info("foundation-model call", extra=fields)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    started = time.monotonic()
    request_id = str((event.get("requestContext") or {}).get("requestId") or
                     getattr(context, "aws_request_id", "") or "unknown")
    model_id = model_id_of(event)
    record: dict[str, Any] = {"apiRequestId": request_id, "modelId": model_id, "guardrailAction": "NONE"}

    def done(answer: dict[str, Any], **more: Any) -> dict[str, Any]:
        _log(**record, **more, status=answer["statusCode"], latencyMs=round((time.monotonic() - started) * 1000))
        return answer

    if model_id not in allowed_models():
        return done(_error(404, "no such model on this gateway", request_id), outcome="model_not_allowed")
    try:
        request = parse_body(event)
    except BadRequest as bad:
        return done(_error(400, str(bad), request_id), outcome="bad_request")

    guardrail = {"guardrailIdentifier": os.environ["GUARDRAIL_ID"],
                 "guardrailVersion": os.environ["GUARDRAIL_VERSION"], "trace": "enabled"}
    try:
        result = _bedrock().converse(modelId=model_id, **request, guardrailConfig=guardrail)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status, message = ERRORS.get(code, BAD_GATEWAY)
        headers = {"Retry-After": _retry_after(error)} if status == 429 else None
        return done(_error(status, message, request_id, headers), outcome="bedrock_error", errorCode=code)
    except (ReadTimeoutError, ConnectTimeoutError):
        return done(_error(*TIMED_OUT, request_id), outcome="timeout")
    except BotoCoreError as error:
        return done(_error(*BAD_GATEWAY, request_id), outcome="client_error", errorType=type(error).__name__)
    except Exception as error:  # noqa: BLE001 (never a stack trace to the caller)
        return done(_error(*BAD_GATEWAY, request_id), outcome="internal_error", errorType=type(error).__name__)

    stop_reason = str(result.get("stopReason", ""))
    intervened = stop_reason == GUARDRAIL_INTERVENED
    message = (result.get("output") or {}).get("message") or {}
    text = [{"text": b["text"]} for b in message.get("content", []) if isinstance(b, dict) and "text" in b]
    usage = {k: int(v) for k, v in (result.get("usage") or {}).items()
             if k in ("inputTokens", "outputTokens", "totalTokens")}
    action = "INTERVENED" if intervened else "NONE"
    record["guardrailAction"] = action
    body = {
        "modelId": model_id,
        "output": {"message": {"role": message.get("role", "assistant"), "content": text}},
        "stopReason": stop_reason,
        "usage": usage,
        "guardrail": {"intervened": intervened},
        "requestId": request_id,
    }
    return done(_response(200, body, request_id, {"X-Guardrail-Action": action}), outcome="ok",
                stopReason=stop_reason, **usage,
                modelLatencyMs=int((result.get("metrics") or {}).get("latencyMs", 0)))
