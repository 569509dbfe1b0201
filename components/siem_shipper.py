"""Per-region SIEM shipping: CloudWatch log groups and WAF web ACLs -> Firehose -> the SIEM.

One Kinesis Data Firehose delivery stream carries the region's CloudWatch log groups (through
subscription filters) and anything routed to it (EventBridge findings); each WAF web ACL logs
to its own `aws-waf-logs-` stream (a WAF requirement). Every stream transforms records with
the SIEM transformation Lambda (components/siem_transform/handler.py), delivers to Splunk HEC,
an HTTP endpoint or S3, and archives to the region's archive bucket, which may belong to another
account (a log archive: `archive_other_account`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, StatefulOptions, bounded_name, check_range, merge_tags, policy_json
from components.encrypted_bucket import EncryptedBucket
from components.kms_key import KmsKey

TRANSFORM_SOURCE = Path(__file__).resolve().parent / "siem_transform" / "handler.py"
WAF_STREAM_PREFIX = "aws-waf-logs-"
_STREAM_NAME_MAX = 64
# Longest component name: IAM role names (64) = name + "-transform-role" + Pulumi's 8-character suffix.
MAX_NAME = 41
# The transform's input buffer (processor parameter BufferSizeInMBs): the smallest Firehose
# allows (0.2-3 MB, default 1; "Transform source data in Amazon Data Firehose"). CloudWatch Logs
# records arrive gzip-compressed and leave decompressed, enriched and base64-encoded, 15 times
# larger or more, while a Lambda response may not pass 6 MB: at 1 MB a busy batch failed whole.
# The transform still re-ingests what would not fit (components/siem_transform/handler.py).
TRANSFORM_BUFFER_MB = "0.2"

# Nested *Args class prefix and backup modes per destination (pulumi_aws.kinesis).
_DESTINATIONS: dict[str, dict[str, Any]] = {
    "splunk": {"firehose": "splunk", "arg": "splunk_configuration",
               "prefix": "FirehoseDeliveryStreamSplunkConfiguration", "backup": ("AllEvents", "FailedEventsOnly")},
    "http": {"firehose": "http_endpoint", "arg": "http_endpoint_configuration",
             "prefix": "FirehoseDeliveryStreamHttpEndpointConfiguration", "backup": ("AllData", "FailedDataOnly")},
    "s3": {"firehose": "extended_s3", "arg": "extended_s3_configuration",
           "prefix": "FirehoseDeliveryStreamExtendedS3Configuration", "backup": None},
}


@dataclass(frozen=True, kw_only=True)
class ShippedLogGroup:
    """A CloudWatch log group in the shipper's region."""

    kind: str
    """SIEM source kind stamped on its events (cloudtrail, vpc-flow, eks-audit, api-access). Required."""
    log_group_name: pulumi.Input[str]
    """The log group to subscribe. Required."""


@dataclass(frozen=True, kw_only=True)
class ShippedWebAcl:
    """A regional WAFv2 web ACL in the shipper's region."""

    name: str
    """Short name; the stream is `aws-waf-logs-<name>` (shortened with a hash past 64 chars). Required."""
    web_acl_arn: pulumi.Input[str]
    """The web ACL whose logs are shipped. Required."""


@dataclass(frozen=True, kw_only=True)
class SiemShipperArgs:
    archive_bucket: EncryptedBucket
    """Where every shipped record is archived (failed deliveries too). Required."""
    archive_other_account: bool = False
    """archive_bucket belongs to another account (a log archive), whose bucket policy admits this
    shipper's Firehose role (`role_arn`) and whose key (archive_kms_key) trusts this account. The
    role may then also set the bucket-owner-full-control ACL Firehose sends across accounts
    (s3:PutObjectAcl), and the streams wait for the bucket's policy (Firehose developer guide,
    "Cross-account delivery to an Amazon S3 destination"). Default off: the same account."""
    archive_prefix: str = ""
    """Key prefix of this shipper's archived objects, before `siem/` and `siem-errors/`, e.g.
    `AWSLogs/<account id>/` where the shippers of several accounts archive into one bucket, whose
    policy then confines each to its own prefix; the role may write only there. Ends with "/".
    Default "": the bucket's root."""
    archive_kms_key: Optional[KmsKey] = None
    """CMK the archived objects are encrypted with, where it is not kms_key: the archive bucket's
    key in another account. Default None: kms_key."""
    destination: Literal["splunk", "http", "s3"] = "s3"
    """splunk: Splunk HEC; http: a generic Firehose HTTP endpoint; s3: the archive bucket only.
    Default s3. splunk and http need endpoint and token."""
    endpoint: Optional[str] = None
    """HEC or HTTP endpoint URL (https). Default None; required for splunk and http."""
    token: Optional[pulumi.Input[str]] = None
    """HEC token or HTTP access key; always stored as a Pulumi secret. Default None; required for
    splunk and http."""
    hec_endpoint_type: Literal["Raw", "Event"] = "Raw"
    """Splunk HEC endpoint type. Default Raw: newline-delimited JSON events, index with sourcetype
    _json. Event requires Splunk event envelopes, which the transform does not write."""
    archive_all: bool = True
    """Archive every record (AllEvents / AllData backup), not only failed deliveries. Default on;
    off keeps only failures in the archive. Always on for s3, where the archive is the destination."""
    kms_key: Optional[KmsKey] = None
    """CMK of this account for the streams (SSE), log groups, the Lambda environment and, unless
    archive_kms_key says otherwise, the archived objects. Default None: AWS owned / AWS managed keys."""
    log_groups: Sequence[ShippedLogGroup] = ()
    """Log groups to subscribe (one subscription filter each; CloudWatch allows two per group).
    Default none."""
    web_acls: Sequence[ShippedWebAcl] = ()
    """Web ACLs to log through their own `aws-waf-logs-` streams. Default none."""
    waf_redacted_headers: Sequence[str] = ("authorization", "cookie", "x-api-key")
    """Lower-case request headers WAF redacts from its logs. Default: credentials-bearing headers."""
    classification: str = ""
    """Data classification stamped on every event. Default empty."""
    blueprint: str = ""
    """Blueprint (stack spec) name stamped on every event. Default empty."""
    buffering_interval_seconds: int = 60
    """How long Firehose buffers before delivering (60-900). Default 60: near real time for the SOC."""
    log_retention_days: int = 365
    """Retention of the Lambda and Firehose error log groups; one of LOG_RETENTION_DAYS. Default 365."""
    lambda_runtime: str = "python3.12"
    """Runtime of the transformation Lambda. Default python3.12."""
    stateful: StatefulOptions = field(default_factory=StatefulOptions)
    """Protection of the log groups. Default: protect."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags merged after Name."""


def waf_stream_name(name: str) -> str:
    """`aws-waf-logs-<name>`, at most 64 characters (shortened with a stable hash suffix)."""
    return bounded_name(WAF_STREAM_PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "-", name), _STREAM_NAME_MAX)


def source_map_json(kinds: Mapping[str, str]) -> str:
    """The transform's SOURCE_MAP environment value: log group name -> SIEM source kind, as JSON."""
    return json.dumps(dict(kinds), sort_keys=True)


class SiemShipper(Component):
    """Transform Lambda + Firehose role + delivery stream + CloudWatch Logs role and
    subscription filters + one `aws-waf-logs-` stream and logging configuration per web ACL."""

    stream_arn: pulumi.Output[str]
    stream_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    waf_stream_arns: list[pulumi.Output[str]]
    role_arn: pulumi.Output[str]
    """The role every stream delivers and archives with: what an archive bucket of another account admits."""

    def __init__(self, name: str, args: SiemShipperArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("siem", "SiemShipper", name, opts)
        self._validate(name, args)
        self._args = args
        key_arn = args.kms_key.arn if args.kms_key else None

        self.error_log_group = self.log_group(
            "delivery-errors", f"/aws/kinesisfirehose/{name}", retention_days=args.log_retention_days,
            kms_key=args.kms_key, stateful=args.stateful, tags=args.tags)
        self._log_streams = {
            purpose: aws.cloudwatch.LogStream(f"{name}-{purpose.lower()}", name=purpose,
                                              log_group_name=self.error_log_group.name, opts=self.child())
            for purpose in ("DestinationDelivery", "BackupDelivery")
        }
        self.function = self._create_transform(args)
        archive_key = args.archive_kms_key or args.kms_key
        self._archive_key_arn = archive_key.arn if archive_key else None
        self.role, self._firehose_policy = self._create_firehose_role(args, self._archive_key_arn)

        self.stream = self._stream(name, name, "logs", key_arn)
        self._allow_reingest(self.stream)
        self._create_subscriptions(name, args)
        self.waf_stream_arns = []
        for acl in args.web_acls:
            stream = self._stream(f"{name}-waf-{acl.name}", waf_stream_name(acl.name), f"waf/{acl.name}", key_arn)
            aws.wafv2.WebAclLoggingConfiguration(
                f"{name}-waf-{acl.name}-logging",
                resource_arn=acl.web_acl_arn,
                log_destination_configs=[stream.arn],
                redacted_fields=[
                    aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                        single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=h))
                    for h in args.waf_redacted_headers
                ],
                opts=self.child(),
            )
            self.waf_stream_arns.append(stream.arn)

        self.stream_arn = self.stream.arn
        self.stream_name = self.stream.name
        self.function_arn = self.function.arn
        self.role_arn = self.role.arn
        self.register_outputs({
            "stream_arn": self.stream_arn,
            "stream_name": self.stream_name,
            "function_arn": self.function_arn,
            "waf_stream_arns": self.waf_stream_arns,
            "role_arn": self.role_arn,
        })

    @staticmethod
    def _validate(name: str, args: SiemShipperArgs) -> None:
        if args.destination in ("splunk", "http") and (not args.endpoint or args.token is None):
            raise ValueError(f"{name}: destination {args.destination} needs endpoint and token")
        if args.endpoint and not args.endpoint.lower().startswith("https://"):
            # Firehose HTTP and Splunk destinations carry audit logs across the internet.
            raise ValueError(f"{name}: endpoint must be an https:// URL, got {args.endpoint!r}")
        if args.destination == "s3" and (args.endpoint or args.token is not None):
            raise ValueError(f"{name}: destination s3 takes no endpoint or token")
        check_range(name, "buffering_interval_seconds", args.buffering_interval_seconds, 60, 900)
        if len(name) > MAX_NAME:
            raise ValueError(f"{name}: at most {MAX_NAME} characters (IAM role names derived from it)")
        if args.archive_prefix and (not args.archive_prefix.endswith("/") or args.archive_prefix.startswith("/")):
            raise ValueError(f"{name}: archive_prefix is a key prefix ending with '/' and not starting with one, "
                             f"got {args.archive_prefix!r}")
        acl_names = [a.name for a in args.web_acls]
        if len(set(acl_names)) != len(acl_names):
            raise ValueError(f"{name}: web ACL names must be unique, got {acl_names}")

    # -- the transformation Lambda ----------------------------------------------------
    def _create_transform(self, args: SiemShipperArgs) -> aws.lambda_.Function:
        source_map = pulumi.Output.all(*[g.log_group_name for g in args.log_groups]).apply(
            lambda names: source_map_json({n: g.kind for n, g in zip(names, args.log_groups)}))
        return self.lambda_function(
            "transform",
            source=TRANSFORM_SOURCE,
            description="CloudWatch Logs, WAF and findings records -> one SIEM event per line",
            variables={"CLASSIFICATION": args.classification, "BLUEPRINT": args.blueprint, "SOURCE_MAP": source_map},
            timeout=120,
            runtime=args.lambda_runtime,
            retention_days=args.log_retention_days,
            kms_key=args.kms_key,
            stateful=args.stateful,
            tags=args.tags,
        )

    def _allow_reingest(self, stream: aws.kinesis.FirehoseDeliveryStream) -> aws.iam.RolePolicy:
        """The transform puts records that would pass its 6 MB response back into the stream that
        delivered them: PutRecordBatch on the CloudWatch Logs stream and nothing else. The WAF
        streams never need it: a WAF log record grows about 1.5-fold, far below the limit at
        TRANSFORM_BUFFER_MB (were a put there ever refused, its records would fail to the error
        prefix, not vanish). No KMS permission: Firehose encrypts a stream with its own grant on
        the key (CreateDeliveryStream, DeliveryStreamEncryptionConfigurationInput)."""
        role_name = self.function.role.apply(lambda arn: arn.rsplit("/", 1)[-1])  # the role's path is /
        return aws.iam.RolePolicy(
            f"{self._name}-transform-reingest",
            role=role_name,
            policy=policy_json([{
                "Sid": "ReingestOversizedRecords",
                "Effect": "Allow",
                "Action": "firehose:PutRecordBatch",
                "Resource": stream.arn,
            }]),
            opts=self.child(),
        )

    # -- Firehose ---------------------------------------------------------------------
    def _create_firehose_role(self, args: SiemShipperArgs,
                              key_arn: Optional[pulumi.Output[str]]) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role every stream uses; `key_arn` is the archive's key (None: the bucket's default)."""
        role = self.service_role("fh-role", "firehose.amazonaws.com", tags=args.tags,
                                 condition=self.source_account_condition())
        bucket_arn = args.archive_bucket.arn
        statements: list[Any] = [
            {
                "Sid": "ArchiveToS3",
                "Effect": "Allow",
                # Across accounts Firehose hands each object to the bucket owner with an ACL header.
                "Action": ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                           "s3:ListBucketMultipartUploads", "s3:PutObject",
                           *(["s3:PutObjectAcl"] if args.archive_other_account else [])],
                "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/", args.archive_prefix, "*")
                             if args.archive_prefix else pulumi.Output.concat(bucket_arn, "/*")],
            },
            {
                "Sid": "InvokeTransform",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                "Resource": [self.function.arn, pulumi.Output.concat(self.function.arn, ":*")],
            },
            {
                "Sid": "WriteDeliveryErrors",
                "Effect": "Allow",
                "Action": "logs:PutLogEvents",
                "Resource": pulumi.Output.concat(self.error_log_group.arn, ":log-stream:*"),
            },
        ]
        if key_arn is not None:
            statements.append({
                "Sid": "EncryptArchive",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": pulumi.Output.concat("s3.", self.aws_region, ".amazonaws.com")}},
            })
        return role, self.role_policy("fh-policy", role, statements)

    def _stream(self, logical: str, stream_name: str, prefix: str,
                key_arn: Optional[pulumi.Output[str]]) -> aws.kinesis.FirehoseDeliveryStream:
        args = self._args
        spec = _DESTINATIONS[args.destination]
        return aws.kinesis.FirehoseDeliveryStream(
            logical,
            name=stream_name,
            destination=spec["firehose"],
            server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True,
                key_type="CUSTOMER_MANAGED_CMK" if key_arn is not None else "AWS_OWNED_CMK",
                key_arn=key_arn,
            ),
            **{spec["arg"]: self._destination(prefix)},
            tags=merge_tags(logical, args.tags),
            # Across accounts the archive bucket's policy admits the role: Firehose checks it can write.
            opts=self.child(depends_on=[self._firehose_policy,
                                        *([args.archive_bucket] if args.archive_other_account else [])]),
        )

    def _nested(self, suffix: str, **kwargs: Any) -> Any:
        """The destination's typed nested *Args class `<prefix><suffix>Args`."""
        return getattr(aws.kinesis, f"{_DESTINATIONS[self._args.destination]['prefix']}{suffix}Args")(**kwargs)

    def _logging(self, suffix: str, purpose: str) -> Any:
        return self._nested(suffix, enabled=True, log_group_name=self.error_log_group.name,
                            log_stream_name=self._log_streams[purpose].name)

    def _destination(self, prefix: str) -> Any:
        args = self._args
        processing = self._nested("ProcessingConfiguration", enabled=True, processors=[self._nested(
            "ProcessingConfigurationProcessor",
            type="Lambda",
            parameters=[
                self._nested("ProcessingConfigurationProcessorParameter", parameter_name=n, parameter_value=v)
                for n, v in (("LambdaArn", pulumi.Output.concat(self.function.arn, ":$LATEST")),
                             ("BufferSizeInMBs", TRANSFORM_BUFFER_MB), ("BufferIntervalInSeconds", "60"),
                             ("NumberOfRetries", "3"))
            ],
        )])
        archive = dict(
            role_arn=self.role.arn,
            bucket_arn=args.archive_bucket.arn,
            compression_format="GZIP",
            kms_key_arn=self._archive_key_arn,
        )
        root = args.archive_prefix
        if args.destination == "s3":
            return self._nested(
                "", **archive,
                prefix=f"{root}siem/{prefix}/!{{timestamp:yyyy/MM/dd}}/",
                error_output_prefix=f"{root}siem-errors/{prefix}/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
                buffering_interval=args.buffering_interval_seconds,
                buffering_size=5,
                processing_configuration=processing,
                cloudwatch_logging_options=self._logging("CloudwatchLoggingOptions", "DestinationDelivery"),
            )
        all_mode, failed_mode = _DESTINATIONS[args.destination]["backup"]
        common = dict(
            s3_backup_mode=all_mode if args.archive_all else failed_mode,
            s3_configuration=self._nested(
                "S3Configuration", **archive,
                prefix=f"{root}siem/{prefix}/",
                error_output_prefix=f"{root}siem-errors/{prefix}/",
                cloudwatch_logging_options=self._logging("S3ConfigurationCloudwatchLoggingOptions", "BackupDelivery"),
            ),
            processing_configuration=processing,
            cloudwatch_logging_options=self._logging("CloudwatchLoggingOptions", "DestinationDelivery"),
            retry_duration=300,
        )
        secret = pulumi.Output.secret(args.token)
        if args.destination == "splunk":
            return self._nested(
                "", hec_endpoint=args.endpoint, hec_token=secret, hec_endpoint_type=args.hec_endpoint_type,
                hec_acknowledgment_timeout=300, buffering_interval=args.buffering_interval_seconds,
                buffering_size=1, **common,
            )
        return self._nested(
            "", url=args.endpoint, name="SIEM", access_key=secret, role_arn=self.role.arn,
            request_configuration=aws.kinesis.FirehoseDeliveryStreamHttpEndpointConfigurationRequestConfigurationArgs(
                content_encoding="GZIP"),
            buffering_interval=args.buffering_interval_seconds, buffering_size=1, **common,
        )

    # -- CloudWatch Logs -> Firehose --------------------------------------------------
    def _create_subscriptions(self, name: str, args: SiemShipperArgs) -> None:
        role = self.service_role(
            "logs-role", pulumi.Output.concat("logs.", self.aws_region, ".amazonaws.com"), tags=args.tags,
            condition={"StringLike": {"aws:SourceArn": pulumi.Output.concat(
                "arn:", self.aws_partition, ":logs:", self.aws_region, ":", self.aws_account_id, ":*")}},
        )
        policy = self.role_policy("logs-policy", role, [{
            "Effect": "Allow",
            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
            "Resource": self.stream.arn,
        }])
        seen: dict[str, int] = {}
        for group in args.log_groups:
            seen[group.kind] = seen.get(group.kind, 0) + 1
            logical = f"{name}-{group.kind}" + (f"-{seen[group.kind]}" if seen[group.kind] > 1 else "")
            aws.cloudwatch.LogSubscriptionFilter(
                logical,
                name=f"{name}-siem",
                log_group=group.log_group_name,
                filter_pattern="",
                destination_arn=self.stream.arn,
                role_arn=role.arn,
                opts=self.child(depends_on=[policy]),
            )
