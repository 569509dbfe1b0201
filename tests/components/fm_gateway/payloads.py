"""Recorded API Gateway events and Bedrock Converse exchanges for the foundation-model proxy,
shaped as the botocore service model for bedrock-runtime Converse expects them (the tests'
Stubber validates every request and response against it)."""

from __future__ import annotations

import copy
import json
from typing import Any, Optional

MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
OTHER_ALLOWED = "amazon.titan-embed-text-v2:0"
NOT_ALLOWED = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
GUARDRAIL_ID = "arn:aws:bedrock:eu-west-1:123456789012:guardrail/abcd1234efgh"
GUARDRAIL_VERSION = "3"
API_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

# Text that must never reach a log line.
PROMPT = "Summarise the attached claim for policy holder jane.doe@example.com"
SYSTEM = "You are a careful claims assistant."
COMPLETION = "The claim concerns water damage to a kitchen; the policy covers it."


def lambda_environment() -> dict[str, str]:
    return {
        "ALLOWED_MODELS": f"{MODEL},{OTHER_ALLOWED}",
        "GUARDRAIL_ID": GUARDRAIL_ID,
        "GUARDRAIL_VERSION": GUARDRAIL_VERSION,
        "BEDROCK_MAX_ATTEMPTS": "2",
        "BEDROCK_CONNECT_TIMEOUT_SECONDS": "2",
        "BEDROCK_READ_TIMEOUT_SECONDS": "11",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }


def request_body() -> dict[str, Any]:
    return {
        "system": [{"text": SYSTEM}],
        "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.2, "topP": 0.9, "stopSequences": ["\n\nHuman:"]},
    }


def api_event(model_id: str = MODEL, body: Any = None, *, raw: Optional[str] = None) -> dict[str, Any]:
    """A REST API Lambda-proxy event for POST /foundation-models/{modelId}/converse on stage v1."""
    text = raw if raw is not None else json.dumps(request_body() if body is None else body)
    return {
        "resource": "/foundation-models/{modelId}/converse",
        "path": f"/foundation-models/{model_id}/converse",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"modelId": model_id},
        "stageVariables": {"modelVersion": "1.4.2"},
        "requestContext": {
            "resourcePath": "/foundation-models/{modelId}/converse",
            "httpMethod": "POST",
            "stage": "v1",
            "requestId": API_REQUEST_ID,
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "identity": {"sourceIp": "10.40.1.15", "userArn": "arn:aws:iam::123456789012:role/app"},
        },
        "body": text,
        "isBase64Encoded": False,
    }


def expected_converse_params(model_id: str = MODEL) -> dict[str, Any]:
    """What the handler must send: the caller's subset plus the gateway's guardrail."""
    body = request_body()
    return {
        "modelId": model_id,
        "messages": body["messages"],
        "system": body["system"],
        "inferenceConfig": body["inferenceConfig"],
        "guardrailConfig": {"guardrailIdentifier": GUARDRAIL_ID, "guardrailVersion": GUARDRAIL_VERSION,
                            "trace": "enabled"},
    }


CONVERSE_OK: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [{"text": COMPLETION}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 41, "outputTokens": 19, "totalTokens": 60},
    "metrics": {"latencyMs": 812},
    "trace": {"guardrail": {"inputAssessment": {"abcd1234efgh": {
        "invocationMetrics": {"guardrailProcessingLatency": 120,
                              "usage": {"topicPolicyUnits": 1, "contentPolicyUnits": 1, "wordPolicyUnits": 1,
                                        "sensitiveInformationPolicyUnits": 1,
                                        "sensitiveInformationPolicyFreeUnits": 0,
                                        "contextualGroundingPolicyUnits": 0}}}}}},
    "ResponseMetadata": {"RequestId": "6c3e1d3a-0d1f-4b8e-9a3c-2f1e0d9c8b7a", "HTTPStatusCode": 200,
                         "HTTPHeaders": {}, "RetryAttempts": 0},
}

# The guardrail blocked the input: Bedrock answers 200 with the guardrail's blocked message,
# stopReason guardrail_intervened, and the assessment (which quotes the match) in the trace.
CONVERSE_GUARDRAIL_INTERVENED: dict[str, Any] = {
    "output": {"message": {"role": "assistant",
                           "content": [{"text": "Sorry, this request can't be answered by this assistant."}]}},
    "stopReason": "guardrail_intervened",
    "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
    "metrics": {"latencyMs": 240},
    "trace": {"guardrail": {
        "inputAssessment": {"abcd1234efgh": {
            "sensitiveInformationPolicy": {
                "piiEntities": [{"match": "jane.doe@example.com", "type": "EMAIL", "action": "BLOCKED",
                                 "detected": True}],
                "regexes": []},
            "contentPolicy": {"filters": [{"type": "PROMPT_ATTACK", "confidence": "NONE", "filterStrength": "HIGH",
                                           "action": "NONE", "detected": False}]},
            "invocationMetrics": {"guardrailProcessingLatency": 180}}},
        "actionReason": "Guardrail blocked."}},
    "ResponseMetadata": {"RequestId": "0b9f3c55-2c1e-4e57-8c43-3c0a9f1d7e21", "HTTPStatusCode": 200,
                         "HTTPHeaders": {}, "RetryAttempts": 0},
}


def converse_ok() -> dict[str, Any]:
    return copy.deepcopy(CONVERSE_OK)


def converse_guardrail_intervened() -> dict[str, Any]:
    return copy.deepcopy(CONVERSE_GUARDRAIL_INTERVENED)


# Errors as Bedrock returns them (code, HTTP status, message). Messages may echo the input; the
# handler must never pass them on.
THROTTLED = ("ThrottlingException", 429, "Too many requests, please wait before trying again.")
INVALID = ("ValidationException", 400, f"Malformed input request: {PROMPT} exceeds the context window")
DENIED = ("AccessDeniedException", 403, "You don't have access to the model with the specified model ID.")
NOT_READY = ("ModelNotReadyException", 429, "Model is not ready to serve inference requests.")
UNAVAILABLE = ("ServiceUnavailableException", 503, "Service unavailable.")
MODEL_TIMEOUT = ("ModelTimeoutException", 408, "Model has timed out in processing the request.")
MODEL_ERROR = ("ModelErrorException", 424, "The model returned the following errors: Traceback (most recent call last)")
INTERNAL = ("InternalServerException", 500, "An internal server error occurred.")
