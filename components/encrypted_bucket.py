"""An S3 bucket that is private, encrypted and TLS-only by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags, policy_json
from components.kms_key import KmsKey


@dataclass(frozen=True, kw_only=True)
class ObjectLock:
    """Default retention for every new object version (WORM)."""

    mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    """COMPLIANCE: nobody, root included, can shorten or remove it. Default COMPLIANCE."""
    days: int = 365
    """Retention in days (1-36500). Default 365."""


@dataclass(frozen=True, kw_only=True)
class EncryptedBucketArgs:
    bucket_name: Optional[pulumi.Input[str]] = None
    """Physical bucket name. Default None: Pulumi autonames it (logical name + random suffix).
    Set it only when a policy statement must name the bucket before it exists (CloudTrail's
    delivery statements); S3 names are global, so include the account id and region."""
    kms_key: Optional[KmsKey] = None
    """CMK for SSE-KMS (with an S3 bucket key). Default None: SSE-KMS with the AWS managed
    `aws/s3` key. Conflicts with sse_algorithm="AES256"."""
    sse_algorithm: Literal["aws:kms", "AES256"] = "aws:kms"
    """Default aws:kms. AES256 (SSE-S3) only for server-access-log targets, which S3 requires."""
    tls_only: bool = True
    """Deny any request not made over TLS (aws:SecureTransport). Default on."""
    versioning: bool = True
    """Keep every object version. Default on; forced on by object_lock."""
    access_log_bucket: Optional[pulumi.Input[str]] = None
    """Bucket (name) that receives S3 server access logs. Default None: no access logging."""
    access_log_prefix: Optional[str] = None
    """Key prefix for access logs. Default: `<component name>/`."""
    accepts_access_logs: bool = False
    """This bucket is a server-access-log target: allow the S3 logging service to write.
    Requires sse_algorithm="AES256". Default off."""
    expiration_days: Optional[int] = None
    """Delete current objects after N days. Default None: keep. Must exceed object_lock.days."""
    noncurrent_expiration_days: Optional[int] = 90
    """Delete non-current versions after N days. Default 90; None keeps them."""
    glacier_transition_days: Optional[int] = None
    """Move objects to Glacier Flexible Retrieval after N days. Default None."""
    object_lock: Optional[ObjectLock] = None
    """Object Lock default retention. Default None. Can only be enabled at creation."""
    replicate_to: Optional["EncryptedBucket"] = None
    """Copy every new object version to this bucket (S3 Replication, replicas encrypted with
    its key). Use it to land what a service cannot write under Object Lock (AWS Config and
    Firehose send no Content-MD5 or checksum, which a default retention requires) in a locked
    bucket: the service writes here, S3 replicates into the locked one, where the replica takes
    that bucket's default retention. Forces versioning on. Default None."""
    policy_statements: Sequence[pulumi.Input[Mapping[str, Any]]] = ()
    """Extra bucket-policy statements (service access, VPC-endpoint-only denies). Default none."""
    force_destroy: bool = False
    """Allow `pulumi destroy` to delete a non-empty bucket. Default off."""
    tags: Mapping[str, str] = field(default_factory=dict)


class EncryptedBucket(Component):
    """Bucket + ownership controls (ACLs off) + public access block + default encryption +
    versioning + lifecycle + optional access logging and Object Lock + bucket policy."""

    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    kms_key: Optional[KmsKey]

    def __init__(self, name: str, args: EncryptedBucketArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("s3", "EncryptedBucket", name, opts)
        if args.kms_key is not None and args.sse_algorithm == "AES256":
            raise ValueError(f"{name}: kms_key conflicts with sse_algorithm AES256")
        if args.accepts_access_logs and args.sse_algorithm != "AES256":
            raise ValueError(f"{name}: a server-access-log target must use sse_algorithm AES256 (S3 requires it)")
        if args.object_lock and args.expiration_days is not None and args.expiration_days <= args.object_lock.days:
            raise ValueError(f"{name}: expiration_days must exceed the Object Lock retention ({args.object_lock.days})")
        if args.object_lock and not 1 <= args.object_lock.days <= 36500:
            raise ValueError(f"{name}: object_lock.days must be 1-36500")
        if args.replicate_to is not None and args.object_lock:
            raise ValueError(f"{name}: replicate_to from an Object Lock bucket needs a token from AWS Support; "
                             "lock the destination instead")
        if args.replicate_to is not None and args.sse_algorithm == "aws:kms" and (
                args.kms_key is None or args.replicate_to.kms_key is None):
            raise ValueError(f"{name}: replicate_to with SSE-KMS needs a kms_key on this bucket and on the destination "
                             "(S3 replicates SSE-KMS objects only with named keys)")
        self.kms_key = args.kms_key

        self.bucket = aws.s3.Bucket(
            name,
            bucket=args.bucket_name,
            force_destroy=args.force_destroy,
            object_lock_enabled=True if args.object_lock else None,
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        bucket_id = self.bucket.id
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=self.child(),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self.child(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm=args.sse_algorithm,
                        kms_master_key_id=args.kms_key.arn if args.kms_key else None,
                    ),
                    bucket_key_enabled=args.sse_algorithm == "aws:kms",
                )
            ],
            opts=self.child(),
        )
        versioning = None
        if args.versioning or args.object_lock or args.replicate_to is not None:
            versioning = aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=bucket_id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=self.child(),
            )
        if args.object_lock:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=bucket_id,
                object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=args.object_lock.mode, days=args.object_lock.days
                    )
                ),
                opts=self.child(depends_on=[versioning] if versioning else None),
            )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=bucket_id,
                target_bucket=args.access_log_bucket,
                target_prefix=args.access_log_prefix or f"{name}/",
                opts=self.child(),
            )
        self._lifecycle(name, args, bucket_id, versioning)
        if args.replicate_to is not None:
            self._replication(name, args, args.replicate_to, versioning)

        statements: list[Any] = []
        if args.tls_only:
            statements.append(
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            )
        if args.accepts_access_logs:
            statements.append(
                {
                    "Sid": "AllowS3ServerAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                    "Condition": {"StringEquals": {"aws:SourceAccount": self.aws_account_id}},
                }
            )
        statements.extend(args.policy_statements)
        if statements:
            aws.s3.BucketPolicy(
                f"{name}-policy",
                bucket=bucket_id,
                policy=policy_json(statements),
                opts=self.child(depends_on=[public_access]),
            )

        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})

    def _replication(self, name: str, args: EncryptedBucketArgs, destination: "EncryptedBucket",
                     versioning: Optional[aws.s3.BucketVersioning]) -> None:
        """S3 Replication of every new object to `destination` (S3 user guide, "Setting up
        permissions for live replication": the role reads versions here and replicates there;
        for SSE-KMS objects it decrypts with this bucket's key and encrypts with the replica's)."""
        # "repl": a 24-character blueprint name's staging role must fit IAM's 64 with Pulumi's suffix.
        role = self.service_role("repl-role", "s3.amazonaws.com", tags=args.tags,
                                 condition=self.source_account_condition())
        statements: list[Any] = [
            {"Sid": "ReadSourceConfiguration", "Effect": "Allow",
             "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": self.bucket.arn},
            {"Sid": "ReadSourceVersions", "Effect": "Allow",
             "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
             "Resource": pulumi.Output.concat(self.bucket.arn, "/*")},
            {"Sid": "WriteReplicas", "Effect": "Allow",
             "Action": ["s3:ReplicateObject", "s3:ReplicateTags"],
             "Resource": pulumi.Output.concat(destination.arn, "/*")},
        ]
        sse_kms = args.sse_algorithm == "aws:kms"  # then both keys are set (checked in __init__)
        if sse_kms:
            statements += [
                {"Sid": "DecryptSource", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": args.kms_key.arn},
                {"Sid": "EncryptReplicas", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                 "Resource": destination.kms_key.arn},
            ]
        policy = self.role_policy("repl-policy", role, statements)
        R = aws.s3
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=self.bucket.id,
            role=role.arn,
            rules=[R.BucketReplicationConfigRuleArgs(
                id="every-object",
                status="Enabled",
                filter=R.BucketReplicationConfigRuleFilterArgs(prefix=""),
                # Deletes stay here: the replica is the evidence.
                delete_marker_replication=R.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Disabled"),
                destination=R.BucketReplicationConfigRuleDestinationArgs(
                    bucket=destination.arn,
                    encryption_configuration=R.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                        replica_kms_key_id=destination.kms_key.arn) if sse_kms else None,
                ),
                source_selection_criteria=R.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                    sse_kms_encrypted_objects=R.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                        status="Enabled")) if sse_kms else None,
            )],
            opts=self.child(depends_on=[d for d in (versioning, policy) if d is not None]),
        )

    def _lifecycle(self, name: str, args: EncryptedBucketArgs, bucket_id: pulumi.Output[str],
                   versioning: Optional[aws.s3.BucketVersioning]) -> None:
        L = aws.s3
        rules = [
            L.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-multipart-uploads",
                status="Enabled",
                filter=L.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=L.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7
                ),
            )
        ]
        if args.expiration_days is not None or args.glacier_transition_days is not None:
            rules.append(
                L.BucketLifecycleConfigurationRuleArgs(
                    id="retention",
                    status="Enabled",
                    filter=L.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=L.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expiration_days)
                    if args.expiration_days is not None else None,
                    transitions=[L.BucketLifecycleConfigurationRuleTransitionArgs(
                        storage_class="GLACIER", days=args.glacier_transition_days)]
                    if args.glacier_transition_days is not None else None,
                )
            )
        if versioning is not None and args.noncurrent_expiration_days is not None:
            rules.append(
                L.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=L.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=L.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_expiration_days
                    ),
                )
            )
        L.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=rules,
            opts=self.child(depends_on=[versioning] if versioning else None),
        )
