"""Governed access to Amazon Bedrock foundation models, as tier-agnostic building blocks:

- `BedrockGuardrail`: a guardrail (content filters, the prompt-attack filter, PII entities, denied
  topics) and a published version, whose `guardrail_condition_value` is what IAM compares;
- `InvocationLogging`: the account-and-region model invocation logging to CloudWatch Logs and S3
  (with `invocation_log_bucket_statements` for the bucket it writes to);
- `BedrockEndpoint`: a private `bedrock-runtime` interface endpoint whose policy admits only the
  listed models and the guardrail;
- `model_resource_arns`: the ARNs an invoke policy must name for base models and inference profiles;
- `BedrockAccessPolicy`: a managed IAM policy (and optionally an application role) that may invoke
  only those models, only with the guardrail, optionally only through the endpoints;
- `BedrockAlarms`: guardrail interventions, throttles and errors, to an SNS topic.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import (
    Component,
    StatefulOptions,
    check_log_retention,
    merge_tags,
    policy_json,
)
from components.kms_key import KmsKey

PiiAction = Literal["BLOCK", "ANONYMIZE", "NONE"]
FilterStrength = Literal["NONE", "LOW", "MEDIUM", "HIGH"]

# Every PII entity type CreateGuardrail accepts (Amazon Bedrock API Reference, GuardrailPiiEntityConfig
# `type`). The API accepts BLOCK and ANONYMIZE for each of them: no type is limited to one action.
PII_ENTITY_TYPES = (
    "ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER",
    "CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD",
    "PHONE", "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
    "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER", "US_BANK_ROUTING_NUMBER",
    "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
    "VEHICLE_IDENTIFICATION_NUMBER",
)
# The default set: identities, contact details, financial and government identifiers, and
# credentials. Left out: URL, IP_ADDRESS, MAC_ADDRESS, USERNAME, LICENSE_PLATE,
# VEHICLE_IDENTIFICATION_NUMBER and AGE, which ordinary technical or business prompts carry and
# which, with BLOCK, would refuse them.
DEFAULT_PII_ENTITIES = (
    "NAME", "EMAIL", "PHONE", "ADDRESS", "DRIVER_ID",
    "US_SOCIAL_SECURITY_NUMBER", "US_PASSPORT_NUMBER", "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    "US_BANK_ACCOUNT_NUMBER", "US_BANK_ROUTING_NUMBER",
    "UK_NATIONAL_INSURANCE_NUMBER", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
    "CA_SOCIAL_INSURANCE_NUMBER", "CA_HEALTH_NUMBER",
    "CREDIT_DEBIT_CARD_NUMBER", "CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "SWIFT_CODE", "PIN", "PASSWORD", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
)
# Content filter categories besides PROMPT_ATTACK (GuardrailContentFilterConfig `type`).
CONTENT_FILTER_TYPES = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT")
_STRENGTHS = ("NONE", "LOW", "MEDIUM", "HIGH")
_PII_ACTIONS = ("BLOCK", "ANONYMIZE", "NONE")

# CreateGuardrail limits (Amazon Bedrock API Reference, CreateGuardrail and GuardrailTopicConfig;
# the topic limits are the CLASSIC tier's, which is what a guardrail without a tier_config gets).
_GUARDRAIL_NAME = re.compile(r"^[0-9a-zA-Z_-]{1,50}$")
_TOPIC_NAME = re.compile(r"^[0-9a-zA-Z_ !?.-]{1,100}$")
MAX_DENIED_TOPICS = 30
MAX_TOPIC_DEFINITION = 200
MAX_TOPIC_EXAMPLES = 5
MAX_TOPIC_EXAMPLE = 100
MAX_BLOCKED_MESSAGE = 500
MAX_DESCRIPTION = 200

# What the identity that creates or updates a guardrail under a customer managed key needs on that
# key (Bedrock User Guide, "(Optional) Create a customer managed key for your guardrail"); callers
# that use the guardrail need kms:Decrypt (BedrockAccessPolicy adds it). A KmsKey delegates its
# use to IAM (AccountAdministersKeyThroughIam), so these go in the deploy role's IAM policy; no
# key-policy statement for the Bedrock service principal is documented or needed.
GUARDRAIL_CREATOR_KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")

# Converse and ConverseStream are authorised as these two actions (Bedrock API Reference, Converse:
# "requires permission for the bedrock:InvokeModel action"; ConverseStream:
# bedrock:InvokeModelWithResponseStream). bedrock:GuardrailIdentifier applies to all four APIs.
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")

# The log stream Bedrock writes in the CloudWatch destination (Bedrock User Guide, "Monitor model
# invocation using CloudWatch Logs and Amazon S3": the role may write only this stream).
INVOCATION_LOG_STREAM = "aws/bedrock/modelinvocations"

# Inference-profile id prefixes: the geographic ones and "global" (Bedrock User Guide,
# "Supported Regions and models for inference profiles").
GLOBAL_PROFILE_PREFIX = "global"
_GEOGRAPHIC_PROFILE_PREFIXES = ("us", "eu", "apac", "us-gov", "jp", "au", "ca")
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9._-]*)+(:[a-z0-9.]+)*$")


# ---------------------------------------------------------------------------------------------
# 1. Guardrail
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeniedTopic:
    """A topic the guardrail refuses in prompts and responses (topic type DENY)."""

    name: str
    """1-100 characters of letters, digits, space and `-_!?.`. Required; distinct per guardrail."""
    definition: str
    """What the topic covers, 1-200 characters. Required."""
    examples: Sequence[str] = ()
    """Up to 5 example prompts of the topic, 1-100 characters each. Default none."""


@dataclass(frozen=True, kw_only=True)
class BedrockGuardrailArgs:
    pii_action: PiiAction = "BLOCK"
    """What the guardrail does with `pii_entities` in prompts and responses: BLOCK refuses the
    request, ANONYMIZE masks the entity, NONE configures no sensitive-information policy at all.
    Default BLOCK."""
    pii_entities: Sequence[str] = DEFAULT_PII_ENTITIES
    """PII entity types (PII_ENTITY_TYPES). Default DEFAULT_PII_ENTITIES. Ignored with pii_action
    NONE; must not be empty otherwise."""
    prompt_attack: FilterStrength = "HIGH"
    """Strength of the PROMPT_ATTACK filter on prompts (jailbreaks, prompt injection); its output
    strength is always NONE (the API requires it: the filter applies to inputs only). NONE leaves
    the filter out. Default HIGH."""
    content_strength: FilterStrength = "HIGH"
    """Input and output strength of the HATE, INSULTS, SEXUAL, VIOLENCE and MISCONDUCT filters.
    NONE leaves them out. Default HIGH."""
    denied_topics: Sequence[DeniedTopic] = ()
    """Topics to deny, at most 30. Default none."""
    blocked_input_message: str = "This request was blocked by the organisation's AI usage policy."
    """What callers receive when a prompt is blocked, 1-500 characters."""
    blocked_output_message: str = "The model's response was blocked by the organisation's AI usage policy."
    """What callers receive when a response is blocked, 1-500 characters."""
    guardrail_name: Optional[str] = None
    """Guardrail name, 1-50 characters of letters, digits, `-` and `_`. Default: the component name."""
    description: str = "Guardrail applied to every foundation-model call"
    """1-200 characters, less the 26 the version description appends. Default as shown."""
    kms_key: Optional[KmsKey] = None
    """CMK that encrypts the guardrail. Its policy must let the deploying identity use it
    (GUARDRAIL_CREATOR_KMS_ACTIONS through IAM, which KmsKey allows) and callers decrypt with it
    (BedrockAccessPolicy grants kms:Decrypt). Default None: an AWS owned key."""
    tags: Mapping[str, str] = field(default_factory=dict)


class BedrockGuardrail(Component):
    """A guardrail and a published (immutable) version of it.

    The version's description carries a digest of the guardrail's policies, so changing a policy
    publishes a new version (versions cannot be updated: every GuardrailVersion argument forces a
    replacement) and moves `version` and `guardrail_condition_value` to it."""

    guardrail_arn: pulumi.Output[str]
    guardrail_id: pulumi.Output[str]
    version: pulumi.Output[str]
    """The published version's number ("1", "2", ...), never DRAFT."""
    identifier: pulumi.Output[str]
    """The guardrail ARN: what ApplyGuardrail names and what Converse/InvokeModel take as
    guardrailIdentifier (with `version` as guardrailVersion)."""
    guardrail_condition_value: pulumi.Output[str]
    """`<guardrail ARN>:<version>`: the value IAM's `bedrock:GuardrailIdentifier` condition key
    carries for a call made with this guardrail and version (Bedrock User Guide, "Enforce the use
    of specific guardrails in model inference requests", example 1)."""
    kms_key_arn: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: BedrockGuardrailArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("bedrock", "BedrockGuardrail", name, opts)
        guardrail_name = args.guardrail_name or name
        _check_guardrail_args(name, guardrail_name, args)

        content = self._content_policy(args)
        sensitive = None
        if args.pii_action != "NONE":
            sensitive = aws.bedrock.GuardrailSensitiveInformationPolicyConfigArgs(pii_entities_configs=[
                aws.bedrock.GuardrailSensitiveInformationPolicyConfigPiiEntitiesConfigArgs(
                    type=entity, action=args.pii_action)
                for entity in args.pii_entities
            ])
        topics = None
        if args.denied_topics:
            topics = aws.bedrock.GuardrailTopicPolicyConfigArgs(topics_configs=[
                aws.bedrock.GuardrailTopicPolicyConfigTopicsConfigArgs(
                    name=t.name, definition=t.definition, type="DENY", examples=list(t.examples) or None)
                for t in args.denied_topics
            ])
        self.guardrail = aws.bedrock.Guardrail(
            name,
            name=guardrail_name,
            description=args.description,
            blocked_input_messaging=args.blocked_input_message,
            blocked_outputs_messaging=args.blocked_output_message,
            content_policy_config=content,
            sensitive_information_policy_config=sensitive,
            topic_policy_config=topics,
            kms_key_arn=args.kms_key.arn if args.kms_key else None,
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        self.guardrail_version = aws.bedrock.GuardrailVersion(
            f"{name}-version",
            guardrail_arn=self.guardrail.guardrail_arn,
            description=f"{args.description} (policies {_policy_digest(args)})",
            opts=self.child(),
        )
        self.guardrail_arn = self.guardrail.guardrail_arn
        self.guardrail_id = self.guardrail.guardrail_id
        self.version = self.guardrail_version.version
        self.identifier = self.guardrail.guardrail_arn
        self.guardrail_condition_value = pulumi.Output.concat(self.guardrail_arn, ":", self.version)
        self.kms_key_arn = args.kms_key.arn if args.kms_key else None
        self.register_outputs({
            "guardrail_arn": self.guardrail_arn,
            "guardrail_id": self.guardrail_id,
            "version": self.version,
            "identifier": self.identifier,
            "guardrail_condition_value": self.guardrail_condition_value,
            "kms_key_arn": self.kms_key_arn,
        })

    @staticmethod
    def _content_policy(args: BedrockGuardrailArgs) -> Optional[aws.bedrock.GuardrailContentPolicyConfigArgs]:
        filters = []
        if args.content_strength != "NONE":
            filters += [aws.bedrock.GuardrailContentPolicyConfigFiltersConfigArgs(
                type=kind, input_strength=args.content_strength, output_strength=args.content_strength)
                for kind in CONTENT_FILTER_TYPES]
        if args.prompt_attack != "NONE":
            filters.append(aws.bedrock.GuardrailContentPolicyConfigFiltersConfigArgs(
                type="PROMPT_ATTACK", input_strength=args.prompt_attack, output_strength="NONE"))
        return aws.bedrock.GuardrailContentPolicyConfigArgs(filters_configs=filters) if filters else None


def _check_guardrail_args(name: str, guardrail_name: str, args: BedrockGuardrailArgs) -> None:
    """Refuse what CreateGuardrail would reject, and a guardrail that checks nothing."""
    if not _GUARDRAIL_NAME.match(guardrail_name):
        raise ValueError(f"{name}: guardrail_name must be 1-50 letters, digits, '-' or '_', got {guardrail_name!r}")
    if args.pii_action not in _PII_ACTIONS:
        raise ValueError(f"{name}: pii_action must be one of {_PII_ACTIONS}, got {args.pii_action!r}")
    for arg in ("prompt_attack", "content_strength"):
        if getattr(args, arg) not in _STRENGTHS:
            raise ValueError(f"{name}: {arg} must be one of {_STRENGTHS}, got {getattr(args, arg)!r}")
    if args.pii_action != "NONE":
        entities = list(args.pii_entities)
        if not entities:
            raise ValueError(f"{name}: pii_entities must list at least one type when pii_action is {args.pii_action}")
        unknown = sorted(set(entities) - set(PII_ENTITY_TYPES))
        if unknown:
            raise ValueError(f"{name}: pii_entities: unknown Bedrock PII entity types {unknown}")
        if len(set(entities)) != len(entities):
            raise ValueError(f"{name}: pii_entities lists a type twice")
    topics = list(args.denied_topics)
    if len(topics) > MAX_DENIED_TOPICS:
        raise ValueError(f"{name}: denied_topics: at most {MAX_DENIED_TOPICS} topics, got {len(topics)}")
    if len({t.name for t in topics}) != len(topics):
        raise ValueError(f"{name}: denied_topics: topic names must be distinct")
    for topic in topics:
        if not _TOPIC_NAME.match(topic.name):
            raise ValueError(f"{name}: denied_topics: name must be 1-100 letters, digits, spaces or '-_!?.', "
                             f"got {topic.name!r}")
        if not 1 <= len(topic.definition) <= MAX_TOPIC_DEFINITION:
            raise ValueError(f"{name}: denied_topics[{topic.name}].definition must be 1-{MAX_TOPIC_DEFINITION} "
                             f"characters, got {len(topic.definition)}")
        if len(topic.examples) > MAX_TOPIC_EXAMPLES or any(not 1 <= len(e) <= MAX_TOPIC_EXAMPLE for e in topic.examples):
            raise ValueError(f"{name}: denied_topics[{topic.name}].examples: at most {MAX_TOPIC_EXAMPLES}, "
                             f"each 1-{MAX_TOPIC_EXAMPLE} characters")
    for arg in ("blocked_input_message", "blocked_output_message"):
        if not 1 <= len(getattr(args, arg)) <= MAX_BLOCKED_MESSAGE:
            raise ValueError(f"{name}: {arg} must be 1-{MAX_BLOCKED_MESSAGE} characters")
    # The version's description appends " (policies <16 hex>)": 28 characters.
    if not 1 <= len(args.description) <= MAX_DESCRIPTION - 28:
        raise ValueError(f"{name}: description must be 1-{MAX_DESCRIPTION - 28} characters")
    if args.pii_action == "NONE" and args.prompt_attack == "NONE" and args.content_strength == "NONE" and not topics:
        raise ValueError(f"{name}: a guardrail needs at least one policy: pii_action, prompt_attack, "
                         "content_strength and denied_topics are all off")


def _policy_digest(args: BedrockGuardrailArgs) -> str:
    """16 hex characters that change whenever what the guardrail enforces changes."""
    policies = {
        "pii_action": args.pii_action,
        "pii_entities": sorted(args.pii_entities) if args.pii_action != "NONE" else [],
        "prompt_attack": args.prompt_attack,
        "content_strength": args.content_strength,
        "denied_topics": [[t.name, t.definition, list(t.examples)] for t in args.denied_topics],
        "blocked_input_message": args.blocked_input_message,
        "blocked_output_message": args.blocked_output_message,
    }
    return hashlib.sha256(json.dumps(policies, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# 2. Model invocation logging
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InvocationLoggingArgs:
    bucket_name: pulumi.Input[str]
    """The S3 bucket (same account and region) that receives the invocation logs and the
    CloudWatch destination's large payloads. Its policy must admit Bedrock first
    (invocation_log_bucket_statements); with SSE-KMS its key must let bedrock.amazonaws.com
    generate data keys for this account (KmsKeyArgs.service_principals=["bedrock", ...]).
    Required."""
    key_prefix: str = "bedrock-invocations"
    """Key prefix of every object Bedrock writes, without leading or trailing '/'. Default
    "bedrock-invocations"."""
    retention_days: int = 365
    """Log group retention; one of CloudWatch's values. Default 365."""
    kms_key: Optional[KmsKey] = None
    """CMK for the log group (its policy must admit the logs service, KmsKeyArgs
    service_principals=["logs"]). Default None: CloudWatch's service-owned encryption."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the log group. Default: protected."""
    log_group_name: Optional[str] = None
    """Default `/aws/bedrock/<component name>/model-invocations`."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What the configuration waits for: the bucket (or its policy). Bedrock checks that it can
    write to both destinations when logging is configured. Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)


class InvocationLogging(Component):
    """Model invocation logging for the provider's account and region (one setting per account
    and region: a second InvocationLogging there overwrites the first): request and response
    text, images, embeddings and video to a CloudWatch log group, through a role only Bedrock
    acting for this account and region may assume, and to S3."""

    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: InvocationLoggingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("bedrock", "InvocationLogging", name, opts)
        _check_key_prefix(name, args.key_prefix)
        check_log_retention(name, "retention_days", args.retention_days)
        self.group = self.log_group(
            "logs", args.log_group_name or f"/aws/bedrock/{name}/model-invocations",
            retention_days=args.retention_days, kms_key=args.kms_key, stateful=args.stateful, tags=args.tags,
            retention_arg="retention_days")
        # Bedrock User Guide, "Monitor model invocation using CloudWatch Logs and Amazon S3": the
        # role trusts bedrock.amazonaws.com for this account and region's Bedrock resources only.
        role = self.service_role("role", "bedrock.amazonaws.com", tags=args.tags, condition={
            "StringEquals": {"aws:SourceAccount": self.aws_account_id},
            "ArnLike": {"aws:SourceArn": self._bedrock_source_arn()},
        })
        policy = self.role_policy("role-policy", role, [{
            "Sid": "WriteInvocationLogStream",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(self.group.arn, ":log-stream:", INVOCATION_LOG_STREAM),
        }])
        L = aws.bedrockmodel
        self.configuration = L.InvocationLoggingConfiguration(
            name,
            logging_config=L.InvocationLoggingConfigurationLoggingConfigArgs(
                cloudwatch_config=L.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigArgs(
                    log_group_name=self.group.name,
                    role_arn=role.arn,
                    large_data_delivery_s3_config=L.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigLargeDataDeliveryS3ConfigArgs(
                        bucket_name=args.bucket_name, key_prefix=args.key_prefix),
                ),
                s3_config=L.InvocationLoggingConfigurationLoggingConfigS3ConfigArgs(
                    bucket_name=args.bucket_name, key_prefix=args.key_prefix),
                text_data_delivery_enabled=True,
                image_data_delivery_enabled=True,
                embedding_data_delivery_enabled=True,
                video_data_delivery_enabled=True,
            ),
            opts=self.child(depends_on=[policy, self.group, *args.depends_on]),
        )
        self.log_group_name = self.group.name
        self.log_group_arn = self.group.arn
        self.role_arn = role.arn
        self.register_outputs({
            "log_group_name": self.log_group_name,
            "log_group_arn": self.log_group_arn,
            "role_arn": self.role_arn,
        })

    def _bedrock_source_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:", self.aws_partition, ":bedrock:", self.aws_region, ":",
                                    self.aws_account_id, ":*")


def invocation_log_bucket_statements(
    bucket_arn: pulumi.Input[str],
    account_id: pulumi.Input[str],
    region: pulumi.Input[str],
    partition: pulumi.Input[str] = "aws",
    key_prefix: str = "bedrock-invocations",
) -> list[dict[str, Any]]:
    """The bucket-policy statements Bedrock needs to deliver invocation logs (and the CloudWatch
    destination's large payloads) under `key_prefix`, for EncryptedBucketArgs.policy_statements.

    bedrock.amazonaws.com may s3:PutObject under `<key_prefix>/`, only for `account_id`
    (aws:SourceAccount) and that account's Bedrock in `region` (aws:SourceArn), as the Bedrock
    User Guide's S3 destination policy has it. The documented resource is
    `<prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/*`; the statement admits the whole
    prefix because AWS does not document where large-data payloads land under it.

    `bucket_arn` is `arn:<partition>:s3:::<bucket name>`: give the EncryptedBucket a `bucket_name`
    so that the ARN is known before the bucket (and its policy) is created."""
    _check_key_prefix("invocation_log_bucket_statements", key_prefix)
    return [{
        "Sid": "AmazonBedrockLogsWrite",
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": pulumi.Output.concat(bucket_arn, "/", key_prefix, "/*"),
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": pulumi.Output.concat("arn:", partition, ":bedrock:", region, ":",
                                                              account_id, ":*")},
        },
    }]


def _check_key_prefix(name: str, prefix: str) -> None:
    if not prefix or prefix.startswith("/") or prefix.endswith("/") or len(prefix) > 1024:
        raise ValueError(f"{name}: key_prefix must be 1-1024 characters without a leading or trailing '/', "
                         f"got {prefix!r}")


# ---------------------------------------------------------------------------------------------
# 3. Private endpoint
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BedrockEndpointArgs:
    vpc_id: pulumi.Input[str]
    """The VPC. Required."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets for the endpoint's network interfaces, one per AZ. Required, at least one."""
    model_arns: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The only model and inference-profile ARNs the endpoint admits invocations of
    (model_resource_arns). Required, at least one."""
    guardrail_arn: Optional[pulumi.Input[str]]
    """The guardrail callers may apply through the endpoint (ApplyGuardrail). Required; None
    where the VPC's callers have no guardrail of their account (the endpoint then admits no
    ApplyGuardrail call)."""
    principal_accounts: Sequence[pulumi.Input[str]]
    """Accounts whose principals may use the endpoint (aws:PrincipalAccount). Required, at least one."""
    client_cidrs: Sequence[str] = ()
    """IPv4 networks its security group admits on TCP 443, never 0.0.0.0/0. Default none; with
    client_security_group_ids empty, at least one is required."""
    client_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Security groups whose members it admits on TCP 443. Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)


class BedrockEndpoint(Component):
    """An interface endpoint for `com.amazonaws.<region>.bedrock-runtime` with private DNS (so the
    SDK's default endpoint resolves to it inside the VPC), its own security group that admits
    HTTPS from the given clients and nothing else, and an endpoint policy that allows only
    InvokeModel/InvokeModelWithResponseStream (which authorise Converse and ConverseStream) on the
    listed models and ApplyGuardrail on the guardrail, for principals of the listed accounts."""

    endpoint_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: BedrockEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("bedrock", "BedrockEndpoint", name, opts)
        _check_endpoint_args(name, args)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="HTTPS to the bedrock-runtime endpoint from its clients",
            tags=merge_tags(f"{name}-sg", args.tags),
            opts=self.child(),
        )
        for i, cidr in enumerate(args.client_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-https-in-{i}", security_group_id=self.security_group.id, cidr_ipv4=cidr,
                ip_protocol="tcp", from_port=443, to_port=443, description=f"HTTPS from {cidr}", opts=self.child())
        for i, group in enumerate(args.client_security_group_ids):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-https-in-sg-{i}", security_group_id=self.security_group.id,
                referenced_security_group_id=group, ip_protocol="tcp", from_port=443, to_port=443,
                description="HTTPS from a client security group", opts=self.child())
        accounts = list(args.principal_accounts)
        principal_condition = {"StringEquals": {"aws:PrincipalAccount": accounts[0] if len(accounts) == 1 else accounts}}
        self.endpoint = aws.ec2.VpcEndpoint(
            name,
            vpc_id=args.vpc_id,
            service_name=pulumi.Output.concat("com.amazonaws.", self.aws_region, ".bedrock-runtime"),
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=list(args.subnet_ids),
            security_group_ids=[self.security_group.id],
            policy=policy_json([
                {"Sid": "InvokeListedModels", "Effect": "Allow", "Principal": "*", "Action": list(INVOKE_ACTIONS),
                 "Resource": args.model_arns, "Condition": principal_condition},
                *([{"Sid": "ApplyTheGuardrail", "Effect": "Allow", "Principal": "*", "Action": "bedrock:ApplyGuardrail",
                    "Resource": args.guardrail_arn, "Condition": principal_condition}]
                  if args.guardrail_arn is not None else []),
            ]),
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        self.endpoint_id = self.endpoint.id
        self.security_group_id = self.security_group.id
        self.register_outputs({"endpoint_id": self.endpoint_id, "security_group_id": self.security_group_id})


def _check_endpoint_args(name: str, args: BedrockEndpointArgs) -> None:
    if not list(args.subnet_ids):
        raise ValueError(f"{name}: subnet_ids must list at least one subnet")
    if not list(args.principal_accounts):
        raise ValueError(f"{name}: principal_accounts must list at least one account")
    for account in args.principal_accounts:
        if isinstance(account, str) and not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"{name}: principal_accounts: {account!r} is not a 12-digit account id")
    if isinstance(args.model_arns, (list, tuple)) and not args.model_arns:
        raise ValueError(f"{name}: model_arns must list at least one model")
    if not list(args.client_cidrs) and not list(args.client_security_group_ids):
        raise ValueError(f"{name}: client_cidrs or client_security_group_ids must admit at least one client")
    for cidr in args.client_cidrs:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            raise ValueError(f"{name}: client_cidrs: {cidr!r} is not a CIDR block") from None
        if network.version != 4 or network.prefixlen == 0:
            raise ValueError(f"{name}: client_cidrs must be IPv4 networks narrower than /0, got {cidr}")


# ---------------------------------------------------------------------------------------------
# 4. The ARNs an invoke policy names
# ---------------------------------------------------------------------------------------------


def model_resource_arns(
    model_ids: Sequence[str],
    *,
    region: str,
    account_id: str,
    partition: str = "aws",
    geography_regions: Mapping[str, Sequence[str]],
) -> list[str]:
    """The IAM resource ARNs that invoking `model_ids` from `region` needs (deduplicated, in order).

    - a base model `x`: `arn:<p>:bedrock:<region>::foundation-model/x`;
    - a geographic inference profile `eu.x` (`us.`, `apac.`, ...): the profile,
      `arn:<p>:bedrock:<region>:<account>:inference-profile/eu.x`, and the foundation model `x` in
      `region` and in every region `geography_regions["eu"]` lists (the profile's destination
      regions: Bedrock User Guide, "Geographic cross-Region inference", IAM policy requirements);
    - a global profile `global.x`: the profile, `x` in `region`, and the region-less
      `arn:<p>:bedrock:::foundation-model/x` that stands for every commercial region (Bedrock User
      Guide, "Global cross-Region inference", IAM policy requirements).

    A pure function of plain strings. Where the account id is an Output, apply it:
    `account.apply(lambda a: model_resource_arns(ids, region=r, account_id=a, geography_regions=g))`.
    ValueError names the argument: an id that is no model id, a geographic profile whose
    geography `geography_regions` lacks."""
    arns: list[str] = []
    for model_id in model_ids:
        if not _MODEL_ID.match(model_id):
            raise ValueError(f"model_resource_arns: model_ids: {model_id!r} is not a Bedrock model or inference-profile id")
        prefix, _, base = model_id.partition(".")
        foundation = f"arn:{partition}:bedrock:{{}}::foundation-model/{base}"
        profile = f"arn:{partition}:bedrock:{region}:{account_id}:inference-profile/{model_id}"
        if prefix == GLOBAL_PROFILE_PREFIX:
            arns += [profile, foundation.format(region), foundation.format("")]
        elif prefix in _GEOGRAPHIC_PROFILE_PREFIXES:
            if prefix not in geography_regions:
                raise ValueError(f"model_resource_arns: geography_regions has no regions for the {prefix!r} "
                                 f"profile {model_id!r}")
            arns += [profile, *(foundation.format(r) for r in [region, *geography_regions[prefix]])]
        else:
            arns.append(f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}")
    return list(dict.fromkeys(arns))


# ---------------------------------------------------------------------------------------------
# 5. Access policy
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BedrockAccessPolicyArgs:
    model_arns: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The only model and inference-profile ARNs callers may invoke (model_resource_arns).
    Required, at least one."""
    guardrail: BedrockGuardrail
    """Every invocation must name this guardrail at its published version; callers may apply it
    (and decrypt it, where it has a CMK). Required."""
    source_vpce_ids: Sequence[pulumi.Input[str]] = ()
    """VPC endpoints (BedrockEndpoint.endpoint_id) every call must come through
    (aws:SourceVpce). Default none: any network path."""
    application_role_trust: Optional[Sequence[pulumi.Input[str]]] = None
    """Principal ARNs (roles, accounts' roots) that may assume a role `<name>-app-role` that
    carries the policy. Default None: no role; attach `policy_arn` to roles of your own."""
    description: str = "Invoke the approved foundation models, only with the guardrail"
    tags: Mapping[str, str] = field(default_factory=dict)


class BedrockAccessPolicy(Component):
    """A managed IAM policy that allows InvokeModel and InvokeModelWithResponseStream (and so
    Converse and ConverseStream) on the listed models only when the request names the guardrail
    at its published version (`bedrock:GuardrailIdentifier`), and ApplyGuardrail on it.

    Two explicit denies make that hold whatever else the principal is allowed:
    - DenyInvokeWithoutTheGuardrail: StringNotEquals on `bedrock:GuardrailIdentifier`. A request
      that names no guardrail has no such key, and a negated operator on a missing key evaluates
      to true (IAM User Guide, "Condition operators": "If the policy condition requires that the
      key is not matched, such as StringNotLike or ArnNotLike, and the right key is not present,
      the condition is true"), so it is denied too. That is why the deny uses StringNotEquals and
      not ...IfExists, and why no separate Null check is needed.
    - DenyOutsideTheEndpoints (with source_vpce_ids): StringNotEquals on `aws:SourceVpce`, which
      is absent from requests that do not come through an endpoint: denied by the same rule."""

    policy_arn: pulumi.Output[str]
    policy_document: pulumi.Output[str]
    application_role_arn: Optional[pulumi.Output[str]]
    application_role_name: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: BedrockAccessPolicyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("bedrock", "BedrockAccessPolicy", name, opts)
        if isinstance(args.model_arns, (list, tuple)) and not args.model_arns:
            raise ValueError(f"{name}: model_arns must list at least one model")
        trust = list(args.application_role_trust) if args.application_role_trust is not None else None
        if trust is not None:
            if not trust:
                raise ValueError(f"{name}: application_role_trust must list at least one principal ARN (or be None)")
            for principal in trust:
                if isinstance(principal, str) and not principal.startswith("arn:"):
                    raise ValueError(f"{name}: application_role_trust: {principal!r} is not a principal ARN")
        self.policy_document = policy_json(self._statements(args))
        self.policy = aws.iam.Policy(
            name,
            description=args.description,
            policy=self.policy_document,
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        self.policy_arn = self.policy.arn
        self.application_role_arn = self.application_role_name = None
        if trust is not None:
            role = aws.iam.Role(
                f"{name}-app-role",
                assume_role_policy=policy_json([{
                    "Effect": "Allow",
                    "Principal": {"AWS": trust[0] if len(trust) == 1 else trust},
                    "Action": "sts:AssumeRole",
                }]),
                tags=merge_tags(f"{name}-app-role", args.tags),
                opts=self.child(),
            )
            aws.iam.RolePolicyAttachment(f"{name}-app-role-policy", role=role.name, policy_arn=self.policy.arn,
                                         opts=self.child())
            self.application_role_arn = role.arn
            self.application_role_name = role.name
        self.register_outputs({
            "policy_arn": self.policy_arn,
            "application_role_arn": self.application_role_arn,
            "application_role_name": self.application_role_name,
        })

    @staticmethod
    def _statements(args: BedrockAccessPolicyArgs) -> list[dict[str, Any]]:
        guardrail = args.guardrail
        vpces = list(args.source_vpce_ids)
        through_endpoints = {"aws:SourceVpce": vpces[0] if len(vpces) == 1 else vpces} if vpces else {}
        statements: list[dict[str, Any]] = [
            {
                "Sid": "InvokeListedModelsWithTheGuardrail",
                "Effect": "Allow",
                "Action": list(INVOKE_ACTIONS),
                "Resource": args.model_arns,
                "Condition": {"StringEquals": {"bedrock:GuardrailIdentifier": guardrail.guardrail_condition_value,
                                               **through_endpoints}},
            },
            {
                "Sid": "ApplyTheGuardrail",
                "Effect": "Allow",
                "Action": "bedrock:ApplyGuardrail",
                "Resource": guardrail.guardrail_arn,
                **({"Condition": {"StringEquals": through_endpoints}} if vpces else {}),
            },
            {
                "Sid": "DenyInvokeWithoutTheGuardrail",
                "Effect": "Deny",
                "Action": list(INVOKE_ACTIONS),
                "Resource": "*",
                "Condition": {"StringNotEquals": {"bedrock:GuardrailIdentifier": guardrail.guardrail_condition_value}},
            },
        ]
        if vpces:
            statements.append({
                "Sid": "DenyOutsideTheEndpoints",
                "Effect": "Deny",
                "Action": [*INVOKE_ACTIONS, "bedrock:ApplyGuardrail"],
                "Resource": "*",
                "Condition": {"StringNotEquals": through_endpoints},
            })
        if guardrail.kms_key_arn is not None:
            # Bedrock User Guide, "(Optional) Create a customer managed key for your guardrail":
            # users of an encrypted guardrail need kms:Decrypt on its key.
            statements.append({"Sid": "DecryptTheGuardrail", "Effect": "Allow", "Action": "kms:Decrypt",
                               "Resource": guardrail.kms_key_arn})
        return statements


# ---------------------------------------------------------------------------------------------
# 6. Alarms
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BedrockAlarmsArgs:
    topic_arn: pulumi.Input[str]
    """SNS topic the alarms notify (alarm and OK). Required; with a CMK its policy must admit
    cloudwatch.amazonaws.com."""
    model_ids: Sequence[str]
    """Model or inference-profile ids as callers pass them: the AWS/Bedrock `ModelId` dimension.
    Required, at least one."""
    guardrail: Optional[BedrockGuardrail] = None
    """The guardrail whose interventions are watched. Default None: no intervention alarm."""
    interventions_per_5min: int = 50
    """Guardrail interventions in 5 minutes that count as a spike (someone probing the policy).
    Default 50."""
    throttles_per_5min: int = 10
    """Throttled invocations of a model in 5 minutes (quota reached). Default 10."""
    server_errors_per_5min: int = 5
    """Invocations of a model that failed on AWS's side in 5 minutes. Default 5."""
    client_errors_per_5min: int = 25
    """Invocations of a model refused as invalid or unauthorised in 5 minutes (a broken client, or
    someone trying models and guardrails they may not use). Default 25."""
    tags: Mapping[str, str] = field(default_factory=dict)


class BedrockAlarms(Component):
    """CloudWatch alarms, missing data not breaching (no traffic is not an incident):
    - `guardrail-interventions`: AWS/Bedrock/Guardrails InvocationsIntervened for the guardrail's
      published version (dimensions GuardrailArn + GuardrailVersion: Bedrock User Guide, "Monitor
      Amazon Bedrock Guardrails using CloudWatch metrics");
    - per model: AWS/Bedrock InvocationThrottles, InvocationServerErrors, InvocationClientErrors
      (dimension ModelId: Bedrock User Guide, "Monitor Amazon Bedrock with Amazon CloudWatch")."""

    alarm_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: BedrockAlarmsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("bedrock", "BedrockAlarms", name, opts)
        if not list(args.model_ids):
            raise ValueError(f"{name}: model_ids must list at least one model")
        if len(set(args.model_ids)) != len(list(args.model_ids)):
            raise ValueError(f"{name}: model_ids lists a model twice")
        for arg in ("interventions_per_5min", "throttles_per_5min", "server_errors_per_5min", "client_errors_per_5min"):
            if getattr(args, arg) < 1:
                raise ValueError(f"{name}: {arg} must be >= 1, got {getattr(args, arg)}")
        self.alarm_names = {}

        def alarm(short: str, description: str, namespace: str, metric: str, dimensions: Mapping[str, Any],
                  threshold: int) -> None:
            created = aws.cloudwatch.MetricAlarm(
                f"{name}-{short}",
                name=f"{name}-{short}",
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dict(dimensions),
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                tags=merge_tags(f"{name}-{short}", args.tags),
                opts=self.child(),
            )
            self.alarm_names[short] = created.name

        if args.guardrail is not None:
            alarm("guardrail-interventions",
                  f"the guardrail intervened more than {args.interventions_per_5min} times in 5 minutes",
                  "AWS/Bedrock/Guardrails", "InvocationsIntervened",
                  {"GuardrailArn": args.guardrail.guardrail_arn, "GuardrailVersion": args.guardrail.version},
                  args.interventions_per_5min)
        for model_id in args.model_ids:
            slug = re.sub(r"[^A-Za-z0-9-]+", "-", model_id).strip("-")
            for short, metric, threshold, what in (
                ("throttles", "InvocationThrottles", args.throttles_per_5min, "throttled invocations"),
                ("server-errors", "InvocationServerErrors", args.server_errors_per_5min, "server-side errors"),
                ("client-errors", "InvocationClientErrors", args.client_errors_per_5min, "client-side errors"),
            ):
                alarm(f"{short}-{slug}", f"more than {threshold} {what} of {model_id} in 5 minutes",
                      "AWS/Bedrock", metric, {"ModelId": model_id}, threshold)
        self.register_outputs({"alarm_names": self.alarm_names})
