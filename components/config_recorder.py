"""AWS Config in one region: a configuration recorder of every supported resource type, its
delivery channel to an encrypted bucket, and the recorder turned on.

Security Hub's control findings are AWS Config rules: without a recorder in the region, Security
Hub runs almost no checks ("Enabling and configuring AWS Config", Security Hub user guide). AWS
allows one recorder and one delivery channel per account and region, so a stack whose
organisation already records there must not create another (the blueprint's
`compliance.recorder: existing`).

The bucket may belong to another account (a log archive: `bucket_other_account`): AWS Config
first delivers with the recorder's role, which that bucket's policy must admit ("Permissions for
the Amazon S3 Bucket for the AWS Config Delivery Channel", Config developer guide).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component
from components.encrypted_bucket import EncryptedBucket
from components.kms_key import KmsKey

# AWS's managed policy for a custom AWS Config role: read the configuration of every resource
# type Config records (Config developer guide, "Permissions for the IAM role assigned to AWS Config").
CONFIG_ROLE_POLICY = "service-role/AWS_ConfigRole"


@dataclass(frozen=True, kw_only=True)
class ConfigRecorderArgs:
    bucket: EncryptedBucket
    """Where configuration history and snapshots go. Required. AWS Config does not support a
    delivery channel to a bucket where Object Lock is enabled (CloudFormation template reference,
    AWS::Config::DeliveryChannel), so a locked bucket is refused: give it an unlocked bucket that
    S3 replicates into a locked one where the evidence must be immutable."""
    bucket_other_account: bool = False
    """bucket belongs to another account, whose bucket policy admits this recorder's role
    (`role_arn`) under `AWSLogs/<this account>/Config/` and whose key (kms_key) trusts this account.
    The role may then also confirm the bucket exists (s3:ListBucket, HeadBucket), and the delivery
    channel waits for the bucket's policy (Config checks it can write). Default off: the same account."""
    kms_key: Optional[KmsKey] = None
    """CMK that encrypts what Config delivers (the bucket's key). Default None: the bucket's
    default encryption."""
    include_global_resource_types: bool = False
    """Record IAM users, roles, groups and policies too. Turn it on in one region only (the home
    region): global types recorded in several regions are recorded, and billed, several times.
    Default off."""
    snapshot_frequency: Literal["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"] = \
        "TwentyFour_Hours"
    """How often a full configuration snapshot is delivered. Default daily."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags merged after Name."""


class ConfigRecorder(Component):
    """Recorder (all supported types) + delivery channel + recorder status (on), with a role that
    only AWS Config acting for this account may assume."""

    recorder_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    """The role Config records and delivers with: what a bucket of another account admits."""

    def __init__(self, name: str, args: ConfigRecorderArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("config", "ConfigRecorder", name, opts)
        if args.bucket.object_lock is not None:
            raise ValueError(f"{name}: AWS Config cannot deliver to a bucket with Object Lock; deliver to an unlocked "
                             "bucket that replicates into the locked one")
        role = self.service_role("role", "config.amazonaws.com", tags=args.tags,
                                 condition=self.source_account_condition())
        self.managed_policy("role-config", role, CONFIG_ROLE_POLICY)
        delivery = [
            {"Sid": "DeliverToOwnPrefix", "Effect": "Allow", "Action": "s3:PutObject*",
             "Resource": pulumi.Output.concat(args.bucket.arn, "/AWSLogs/", self.aws_account_id, "/Config/*"),
             "Condition": {"StringLike": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
            {"Sid": "CheckBucketAcl", "Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": args.bucket.arn},
        ]
        if args.bucket_other_account:
            delivery.append({"Sid": "CheckBucketExists", "Effect": "Allow", "Action": "s3:ListBucket",
                             "Resource": args.bucket.arn})
        if args.kms_key is not None:
            delivery.append({"Sid": "EncryptDeliveries", "Effect": "Allow",
                             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": args.kms_key.arn})
        policy = self.role_policy("role-delivery", role, delivery)

        self.recorder = aws.cfg.Recorder(
            name,
            name=name,
            role_arn=role.arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(
                all_supported=True,
                include_global_resource_types=args.include_global_resource_types,
            ),
            opts=self.child(depends_on=[policy]),
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-delivery",
            name=name,
            s3_bucket_name=args.bucket.bucket_name,
            s3_kms_key_arn=args.kms_key.arn if args.kms_key else None,
            snapshot_delivery_properties=aws.cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs(
                delivery_frequency=args.snapshot_frequency),
            # AWS Config requires a recorder before a delivery channel can be created, and a bucket
            # of another account must admit the role first.
            opts=self.child(depends_on=[self.recorder, *([args.bucket] if args.bucket_other_account else [])]),
        )
        # Recording starts only once the channel exists: StartConfigurationRecorder fails without one.
        aws.cfg.RecorderStatus(
            f"{name}-status",
            name=self.recorder.name,
            is_enabled=True,
            opts=self.child(depends_on=[channel]),
        )
        self.recorder_name = self.recorder.name
        self.role_arn = role.arn
        self.register_outputs({"recorder_name": self.recorder_name, "role_arn": self.role_arn})
