"""A multi-region CloudTrail with log file validation, a CMK, an audit bucket and CloudWatch Logs.

The trail delivers into its own audit bucket, or into one another component created: a log
archive's, in another account, whose policy admits the trails of several accounts
(`cloudtrail_delivery_statements`) and whose key encrypts their log files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, StatefulOptions, merge_tags
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs
from components.kms_key import KmsKey

# The audit bucket is named `<name>-<account id>-<region>`: 12 + 1 + up to 14 + 1 characters.
_MAX_NAME = 63 - 28
CLOUDTRAIL = "cloudtrail.amazonaws.com"


@dataclass(frozen=True, kw_only=True)
class DeliveringTrail:
    """A trail an audit bucket admits (cloudtrail_delivery_statements)."""

    account_id: str
    """The 12-digit account the trail belongs to; it writes under `AWSLogs/<account_id>/` only. Required."""
    trail_arn: pulumi.Input[str]
    """The trail's ARN (`trail_arn`): CloudTrail writes only for it (aws:SourceArn). Required."""


def trail_arn(partition: pulumi.Input[str], region: pulumi.Input[str], account_id: pulumi.Input[str],
              name: str) -> pulumi.Output[str]:
    """The ARN of the trail `name` (an AuditTrail's name) in that account and region, known before
    the trail exists: the bucket policy that admits it must exist first."""
    return pulumi.Output.concat("arn:", partition, ":cloudtrail:", region, ":", account_id, ":trail/", name)


def cloudtrail_delivery_statements(bucket_arn: pulumi.Input[str],
                                   trails: Sequence[DeliveringTrail]) -> list[dict[str, Any]]:
    """The statements an audit bucket needs for trails of several accounts to deliver into it
    (CloudTrail user guide, "Amazon S3 bucket policy for CloudTrail" and "Setting bucket policy for
    multiple accounts"): CloudTrail may check the bucket's ACL for exactly these trails, and each
    trail may write only under its own account's `AWSLogs/<account>/` prefix, handing the object to
    the bucket owner (bucket-owner-full-control)."""
    arns = [t.trail_arn for t in trails]
    statements: list[dict[str, Any]] = [{
        "Sid": "AWSCloudTrailAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDTRAIL},
        "Action": "s3:GetBucketAcl",
        "Resource": bucket_arn,
        "Condition": {"StringEquals": {"aws:SourceArn": arns[0] if len(arns) == 1 else arns}},
    }]
    for trail in trails:
        statements.append({
            "Sid": f"AWSCloudTrailWrite{trail.account_id}",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL},
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(bucket_arn, f"/AWSLogs/{trail.account_id}/*"),
            "Condition": {"StringEquals": {"aws:SourceArn": trail.trail_arn,
                                           "s3:x-amz-acl": "bucket-owner-full-control"}},
        })
    return statements


@dataclass(frozen=True, kw_only=True)
class AuditTrailArgs:
    bucket: EncryptedBucketArgs = field(default_factory=EncryptedBucketArgs)
    """The audit bucket's settings (key, Object Lock, lifecycle, access logging). The component
    names the bucket `<name>-<account id>-<region>` and adds CloudTrail's delivery statements to
    its policy; any bucket_name given here is replaced. Default: EncryptedBucketArgs(). Ignored
    with delivery_bucket."""
    delivery_bucket: Optional[EncryptedBucket] = None
    """Deliver into this bucket instead of creating one: a log archive's, typically in another
    account, whose policy already admits this trail (cloudtrail_delivery_statements with
    `trail_arn(..., name)`); the trail waits for it. Default None: the component's own bucket."""
    kms_key: Optional[KmsKey] = None
    """CMK of this account that encrypts the CloudWatch log group, and the log files (SSE-KMS)
    unless log_files_kms_key is given. Default None: CloudTrail's own SSE-S3 encryption and the
    bucket's default encryption; the log group uses CloudWatch's service key. Every tier above
    public passes its logs CMK."""
    log_files_kms_key: Optional[KmsKey] = None
    """CMK that encrypts the log files where it is not kms_key: the key of delivery_bucket's account
    (in the same region as the bucket), whose policy lets CloudTrail use it for this trail
    (CloudTrail user guide, "Configure AWS KMS key policies for CloudTrail"). Default None: kms_key."""
    multi_region: bool = True
    """Record every region of the account, not only the trail's home. Default on."""
    include_global_service_events: bool = True
    """Record IAM, STS and other global services. Default on."""
    log_file_validation: bool = True
    """Write signed digest files so tampering with a log file is detectable. Default on."""
    cloudwatch_logs: bool = True
    """Also deliver events to a CloudWatch log group (what SIEM shipping subscribes to). Default on."""
    log_retention_days: int = 365
    """Retention of the CloudWatch log group; one of LOG_RETENTION_DAYS. Default 365."""
    data_event_buckets: Sequence[EncryptedBucket] = ()
    """Buckets whose object-level reads and writes are recorded (S3 data events, billed per
    event). Default none: management events only."""
    stateful: StatefulOptions = field(default_factory=StatefulOptions)
    """Protection of the audit bucket and the log group. Default: protect."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags merged after Name."""


class AuditTrail(Component):
    """Audit bucket (with CloudTrail's bucket policy; none where delivery_bucket is given) +
    CloudWatch log group and delivery role + the trail, which waits for both."""

    trail_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    log_group_name: Optional[pulumi.Output[str]]
    log_group_arn: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: AuditTrailArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cloudtrail", "AuditTrail", name, opts)
        if len(name) > _MAX_NAME:
            raise ValueError(f"{name}: at most {_MAX_NAME} characters (the audit bucket name adds account and region)")
        # The trail's ARN from its known name: the bucket policy must exist before the trail.
        trail_arn = pulumi.Output.concat("arn:", self.aws_partition, ":cloudtrail:", self.aws_region, ":",
                                         self.aws_account_id, ":trail/", name)
        self.bucket = args.delivery_bucket if args.delivery_bucket is not None \
            else self._create_bucket(name, args, trail_arn)
        depends_on: list[pulumi.Resource] = [self.bucket]
        log_group_arn = role_arn = None
        self.log_group_name = self.log_group_arn = None
        if args.cloudwatch_logs:
            log_group = self.log_group(
                "logs", f"/aws/cloudtrail/{name}", retention_days=args.log_retention_days,
                kms_key=args.kms_key, stateful=args.stateful, tags=args.tags)
            role = self.service_role("logs-role", "cloudtrail.amazonaws.com", tags=args.tags,
                                     condition={"StringEquals": {"aws:SourceArn": trail_arn}})
            role_policy = self.role_policy("logs-write", role, [{
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(log_group.arn, ":log-stream:*"),
            }])
            depends_on.append(role_policy)
            log_group_arn, role_arn = pulumi.Output.concat(log_group.arn, ":*"), role.arn
            self.log_group_name, self.log_group_arn = log_group.name, log_group.arn

        log_files_key = args.log_files_kms_key or args.kms_key
        self.trail = aws.cloudtrail.Trail(
            name,
            name=name,
            s3_bucket_name=self.bucket.bucket_name,
            is_multi_region_trail=args.multi_region,
            include_global_service_events=args.include_global_service_events,
            enable_log_file_validation=args.log_file_validation,
            enable_logging=True,
            kms_key_id=log_files_key.arn if log_files_key else None,
            cloud_watch_logs_group_arn=log_group_arn,
            cloud_watch_logs_role_arn=role_arn,
            advanced_event_selectors=self._selectors(args.data_event_buckets),
            tags=merge_tags(name, args.tags),
            opts=self.child(depends_on=depends_on),
        )
        self.trail_arn = self.trail.arn
        self.bucket_name = self.bucket.bucket_name
        self.register_outputs({
            "trail_arn": self.trail_arn,
            "bucket_name": self.bucket_name,
            "log_group_name": self.log_group_name,
            "log_group_arn": self.log_group_arn,
        })

    def _create_bucket(self, name: str, args: AuditTrailArgs, trail_arn: pulumi.Output[str]) -> EncryptedBucket:
        """The trail's own audit bucket, `<name>-<account id>-<region>`, admitting this trail."""
        bucket_name = pulumi.Output.concat(name, "-", self.aws_account_id, "-", self.aws_region)
        bucket_arn = pulumi.Output.concat("arn:", self.aws_partition, ":s3:::", bucket_name)
        delivery = [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat(bucket_arn, "/AWSLogs/", self.aws_account_id, "/*"),
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn,
                                               "s3:x-amz-acl": "bucket-owner-full-control"}},
            },
        ]
        return EncryptedBucket(
            f"{name}-bucket",
            replace(args.bucket, bucket_name=bucket_name,
                    policy_statements=[*args.bucket.policy_statements, *delivery]),
            opts=self.stateful_child(args.stateful),
        )

    @staticmethod
    def _selectors(buckets: Sequence[EncryptedBucket]) -> Optional[list[aws.cloudtrail.TrailAdvancedEventSelectorArgs]]:
        if not buckets:
            return None  # CloudTrail's default: every management event
        C = aws.cloudtrail
        return [
            C.TrailAdvancedEventSelectorArgs(
                name="All management events",
                field_selectors=[C.TrailAdvancedEventSelectorFieldSelectorArgs(field="eventCategory", equals=["Management"])],
            ),
            C.TrailAdvancedEventSelectorArgs(
                name="Object-level access to data and model buckets",
                field_selectors=[
                    C.TrailAdvancedEventSelectorFieldSelectorArgs(field="eventCategory", equals=["Data"]),
                    C.TrailAdvancedEventSelectorFieldSelectorArgs(field="resources.type", equals=["AWS::S3::Object"]),
                    C.TrailAdvancedEventSelectorFieldSelectorArgs(
                        field="resources.ARN", starts_withs=[pulumi.Output.concat(b.arn, "/") for b in buckets]),
                ],
            ),
        ]
