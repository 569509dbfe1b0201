"""The foundation-model proxy: a Lambda function (code in components/lambdas/fm_gateway/handler.py)
that serves `POST /foundation-models/{modelId}/converse` on the REST API by calling Amazon Bedrock
Converse with the account's guardrail on every call, for the listed models only. Optionally in a
VPC, reaching Bedrock through an interface endpoint on 443 and nothing else.

Why a Lambda and not an API Gateway service integration: an AWS integration can call
bedrock-runtime, but cannot refuse a caller's own guardrailConfig inside a JSON body, map
Bedrock's errors (throttling to 429 with Retry-After), nor keep the guardrail trace (which quotes
what the PII filter matched) out of the answer."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, LambdaVpcConfig, StatefulOptions, bounded_name, check_range, merge_tags
from components.kms_key import KmsKey
from components.rest_api import LambdaRoute

HANDLER = Path(__file__).resolve().parent / "lambdas" / "fm_gateway" / "handler.py"
CONVERSE_PATH = "foundation-models/{modelId}/converse"

# The handler's Bedrock client budget (it reads these from its environment): seconds to connect,
# and the pause standard-mode retries may take before a retry (rand(0, 1) x 1 s for a throttle,
# botocore.retries.standard.ExponentialBackoff); one second is kept for the handler itself.
CONNECT_TIMEOUT_SECONDS = 2
RETRY_BACKOFF_SECONDS = 1
HANDLER_MARGIN_SECONDS = 1
MIN_READ_TIMEOUT_SECONDS = 5
# Bedrock model and inference-profile ids (`eu.anthropic.claude-sonnet-4-5-20250929-v1:0`,
# `amazon.titan-embed-text-v2:0`): the environment variable joins them with commas.
_MODEL_ID = re.compile(r"^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,2}(:[a-z0-9-]{1,63}){0,2}$")

# The body API Gateway validates before the function runs (JSON Schema draft 4, inlined: the
# handler checks the same subset of a Converse request again).
_TEXT_BLOCKS: Mapping[str, Any] = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "additionalProperties": False, "required": ["text"],
              "properties": {"text": {"type": "string", "minLength": 1}}},
}
CONVERSE_REQUEST_SCHEMA: Mapping[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "ConverseRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["messages"],
    "properties": {
        "messages": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
            "type": "object", "additionalProperties": False, "required": ["role", "content"],
            "properties": {"role": {"enum": ["user", "assistant"]}, "content": dict(_TEXT_BLOCKS)}}},
        "system": {**_TEXT_BLOCKS, "maxItems": 10},
        "inferenceConfig": {"type": "object", "additionalProperties": False, "properties": {
            "maxTokens": {"type": "integer", "minimum": 1},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
            "topP": {"type": "number", "minimum": 0, "maximum": 1},
            "stopSequences": {"type": "array", "maxItems": 4, "items": {"type": "string", "minLength": 1}}}},
    },
}


@dataclass(frozen=True, kw_only=True)
class FoundationModelProxyVpc:
    """The function's place in a VPC: its own security group, with no inbound rule and outbound
    HTTPS (443) only, to the endpoint security groups and/or CIDRs given."""

    vpc_id: pulumi.Input[str]
    """The VPC. Required."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets for the function's network interfaces (1-16). Required."""
    endpoint_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Security groups of the interface endpoints it calls (bedrock-runtime), reached on 443.
    Default none; at least one of this and `egress_cidrs`."""
    egress_cidrs: Sequence[str] = ()
    """IPv4 CIDRs it may reach on 443 (e.g. the endpoint subnets). Default none; at least one of
    this and `endpoint_security_group_ids`."""


@dataclass(frozen=True, kw_only=True)
class FoundationModelProxyArgs:
    allowed_models: Sequence[str]
    """Bedrock model or inference-profile ids callers may name (1-20, distinct); any other is 404.
    Required. IAM (`invoke_policy_arn`) should allow the same list."""
    guardrail_id: pulumi.Input[str]
    """The guardrail applied to every call (id or ARN). Required."""
    guardrail_version: pulumi.Input[str]
    """Its published version (a number; never DRAFT in production). Required."""
    invoke_policy_arn: Optional[pulumi.Input[str]] = None
    """A managed policy allowing bedrock:InvokeModel on the models with the guardrail condition,
    attached to the function's role. Default None: the role cannot call Bedrock (every call 403)."""
    vpc: Optional[FoundationModelProxyVpc] = None
    """Run in a VPC with HTTPS egress only. Default None: Lambda's own network."""
    bedrock_endpoint_url: Optional[pulumi.Input[str]] = None
    """bedrock-runtime endpoint URL (e.g. a VPC endpoint's DNS name). Default None: the regional
    name, which resolves to the VPC endpoint when it has private DNS."""
    timeout_seconds: int = 28
    """Function timeout, 10-29 s: under API Gateway's 29 s integration timeout, so the function
    answers (504) before API Gateway gives up. Default 28."""
    max_attempts: int = 2
    """Bedrock attempts per call in standard retry mode, 1-3; each attempt gets an equal share of
    the timeout (at least 5 s). Default 2. Use 1 for long generations."""
    memory_size: int = 256
    """Memory in MB (128-10240). Default 256."""
    reserved_concurrency: Optional[int] = None
    """Most instances at once (bounds the cost and blast radius of a flood that passes the API's
    throttling). Default None: unreserved."""
    log_retention_days: int = 365
    """Function log retention; one of CloudWatch's values. Default 365."""
    kms_key: Optional[KmsKey] = None
    """CMK for the log group and the function's environment. Default None: AWS managed keys."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the log group. Default: protected."""
    tags: Mapping[str, str] = field(default_factory=dict)


def read_timeout_seconds(timeout_seconds: int, max_attempts: int) -> int:
    """Each attempt's read timeout such that `max_attempts` attempts, their connections and the
    retry pauses fit the function's timeout."""
    budget = timeout_seconds - HANDLER_MARGIN_SECONDS - (max_attempts - 1) * RETRY_BACKOFF_SECONDS
    return math.floor(budget / max_attempts) - CONNECT_TIMEOUT_SECONDS


class FoundationModelProxy(Component):
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    security_group_id: Optional[pulumi.Output[str]]
    """The function's security group when in a VPC, else None."""
    route: LambdaRoute
    """What RestApiArgs.lambda_routes takes: POST /foundation-models/{modelId}/converse."""

    def __init__(self, name: str, args: FoundationModelProxyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("bedrock", "FoundationModelProxy", name, opts)
        self._validate(name, args)
        read_timeout = read_timeout_seconds(args.timeout_seconds, args.max_attempts)

        vpc_config = None
        self.security_group_id = None
        if args.vpc is not None:
            group = self._create_security_group(name, args.vpc, args.tags)
            self.security_group_id = group.id
            vpc_config = LambdaVpcConfig(subnet_ids=args.vpc.subnet_ids, security_group_ids=[group.id])
        variables: dict[str, pulumi.Input[str]] = {
            "ALLOWED_MODELS": ",".join(args.allowed_models),
            "GUARDRAIL_ID": args.guardrail_id,
            "GUARDRAIL_VERSION": args.guardrail_version,
            "BEDROCK_MAX_ATTEMPTS": str(args.max_attempts),
            "BEDROCK_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_SECONDS),
            "BEDROCK_READ_TIMEOUT_SECONDS": str(read_timeout),
        }
        if args.bedrock_endpoint_url is not None:
            variables["BEDROCK_ENDPOINT_URL"] = args.bedrock_endpoint_url
        # Lambda function names: 1-64 letters, digits, hyphens, underscores (CreateFunction). The
        # short suffix keeps the autonamed role (`<name>-fn-role-<7 hex>`) within IAM's 64
        # characters for a 24-character blueprint in any region (tests/blueprints/test_names.py).
        function = self.lambda_function(
            "fn",
            function_name=bounded_name(name, 64),
            source=HANDLER,
            description="Foundation-model gateway: Bedrock Converse with the guardrail on every call",
            variables=variables,
            timeout=args.timeout_seconds,
            memory_size=args.memory_size,
            tracing=True,
            vpc_config=vpc_config,
            reserved_concurrency=args.reserved_concurrency,
            retention_days=args.log_retention_days,
            kms_key=args.kms_key,
            stateful=args.stateful,
            tags=args.tags,
        )
        # Roles made by service_role have no path: the name is the ARN's last segment.
        role_name = function.role.apply(lambda arn: arn.rsplit("/", 1)[-1])
        if args.invoke_policy_arn is not None:
            aws.iam.RolePolicyAttachment(f"{name}-invoke-models", role=role_name, policy_arn=args.invoke_policy_arn,
                                         opts=self.child())

        self.function_name = function.name
        self.function_arn = function.arn
        self.invoke_arn = function.invoke_arn
        self.role_name = role_name
        self.role_arn = function.role
        self.route = LambdaRoute(path=CONVERSE_PATH, http_method="POST", function_name=function.name,
                                 invoke_arn=function.invoke_arn, request_schema=CONVERSE_REQUEST_SCHEMA,
                                 model_name="ConverseRequest")
        self.register_outputs({
            "function_name": self.function_name,
            "function_arn": self.function_arn,
            "invoke_arn": self.invoke_arn,
            "role_name": self.role_name,
            "role_arn": self.role_arn,
            "security_group_id": self.security_group_id,
        })

    @staticmethod
    def _validate(name: str, args: FoundationModelProxyArgs) -> None:
        models = list(args.allowed_models)
        check_range(name, "allowed_models (count)", len(models), 1, 20)
        if len(set(models)) != len(models):
            raise ValueError(f"{name}: allowed_models has duplicates")
        for model in models:
            if not isinstance(model, str) or not _MODEL_ID.match(model):
                raise ValueError(f"{name}: allowed_models: {model!r} is not a Bedrock model or inference-profile id")
        check_range(name, "timeout_seconds", args.timeout_seconds, 10, 29)
        check_range(name, "max_attempts", args.max_attempts, 1, 3)
        if read_timeout_seconds(args.timeout_seconds, args.max_attempts) < MIN_READ_TIMEOUT_SECONDS:
            raise ValueError(f"{name}: timeout_seconds {args.timeout_seconds} leaves under "
                             f"{MIN_READ_TIMEOUT_SECONDS} s per attempt for max_attempts {args.max_attempts}; "
                             "raise timeout_seconds or lower max_attempts")
        check_range(name, "memory_size", args.memory_size, 128, 10240)
        if args.reserved_concurrency is not None:
            check_range(name, "reserved_concurrency", args.reserved_concurrency, 1, 10000)
        if args.vpc is not None:
            if not args.vpc.endpoint_security_group_ids and not args.vpc.egress_cidrs:
                raise ValueError(f"{name}: vpc needs endpoint_security_group_ids or egress_cidrs "
                                 "(the function could reach nothing)")
            check_range(name, "vpc.subnet_ids (count)", len(args.vpc.subnet_ids), 1, 16)
            for cidr in args.vpc.egress_cidrs:
                if cidr in ("0.0.0.0/0",) or not re.match(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$", cidr):
                    raise ValueError(f"{name}: vpc.egress_cidrs: {cidr!r} must be a private IPv4 CIDR, "
                                     "not the internet")

    def _create_security_group(self, name: str, vpc: FoundationModelProxyVpc,
                               tags: Mapping[str, str]) -> aws.ec2.SecurityGroup:
        # No inline rules: the provider removes the default allow-all egress rule of a new group,
        # and the rules below are all there is. Nothing connects in to a Lambda function.
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=vpc.vpc_id,
            description="Foundation-model proxy: HTTPS out to the Bedrock endpoint only",
            tags=merge_tags(f"{name}-sg", tags),
            opts=self.child(),
        )
        for i, endpoint_group in enumerate(vpc.endpoint_security_group_ids):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-https-to-endpoint-{i}", security_group_id=group.id,
                referenced_security_group_id=endpoint_group, ip_protocol="tcp", from_port=443, to_port=443,
                description="HTTPS to the bedrock-runtime endpoint", opts=self.child())
        for i, cidr in enumerate(vpc.egress_cidrs):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-https-to-cidr-{i}", security_group_id=group.id, cidr_ipv4=cidr,
                ip_protocol="tcp", from_port=443, to_port=443, description="HTTPS to the bedrock-runtime endpoint",
                opts=self.child())
        return group
