"""An S3 bucket that is private, encrypted and TLS-only by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence, Union

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags, policy_json
from components.kms_key import KmsKey

# S3 Replication Time Control's one threshold: 15 minutes (the only value S3 accepts).
RTC_MINUTES = 15


@dataclass(frozen=True, kw_only=True)
class ObjectLock:
    """Default retention for every new object version (WORM)."""

    mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    """COMPLIANCE: nobody, root included, can shorten or remove it. Default COMPLIANCE."""
    days: int = 365
    """Retention in days (1-36500). Default 365."""


@dataclass(frozen=True, kw_only=True)
class Replica:
    """A destination of S3 Replication (EncryptedBucketArgs.replicate_to)."""

    bucket: "EncryptedBucket"
    """The destination. With SSE-KMS both buckets need a kms_key; where this bucket has
    object_lock the destination needs it too (S3 fails those replicas otherwise:
    DstBucketObjectLockConfigMissing). Required."""
    prefix: str = ""
    """Replicate only the keys under this prefix, e.g. "approved/". Default "": every object."""
    other_account: bool = False
    """The destination belongs to another AWS account (the account of its provider): replicas
    become that account's (the owner override: `access_control_translation` Destination and the
    destination's `account`, S3 user guide "Changing the replica owner"). That account must admit
    this bucket's `replication_role_arn` in the destination's policy
    (EncryptedBucketArgs.accepts_replicas_from) and let this account use the destination's key
    (KmsKeyArgs.trusted_accounts). Default off: the same account."""
    time_control: bool = False
    """S3 Replication Time Control: S3 replicates 99.99% of new objects within 15 minutes and
    publishes replication metrics, with an `s3:Replication:OperationMissedThreshold` event for any
    object that misses it (S3 user guide, "Meeting compliance requirements with S3 Replication
    Time Control": RTC requires metrics, both at 15 minutes). Billed per GB replicated. Default off."""


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
    replicate_to: Union["EncryptedBucket", Replica, Sequence[Replica], None] = None
    """Copy new object versions to these buckets (S3 Replication, replicas encrypted with each
    destination's key; deletes are not replicated). A bare bucket is `Replica(bucket=...)`: every
    object, same account. Use it to land what a service cannot write under Object Lock (AWS Config
    and Firehose send no Content-MD5 or checksum, which a default retention requires) in a locked
    bucket: the service writes here, S3 replicates into the locked one, where the replica takes
    that bucket's default retention; or to hand a prefix to another account (Replica.prefix,
    Replica.other_account). Forces versioning on. Default None."""
    accepts_replicas_from: Sequence[pulumi.Input[str]] = ()
    """ARNs of the replication roles of buckets in other accounts that replicate into this one
    (their `replication_role_arn`): the policy admits exactly them to write replicas and hand
    them over to this account (S3 user guide, "Granting permissions when the source and
    destination buckets are owned by different AWS accounts"). The source names this bucket, so
    pass a `pulumi.deferred_output()` and resolve it with the source's role once it exists.
    Forces versioning on. Default none."""
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
    object_lock: Optional[ObjectLock]
    versioning: Optional[aws.s3.BucketVersioning]
    policy: Optional[aws.s3.BucketPolicy]
    replication_role_arn: Optional[pulumi.Output[str]]
    """The role S3 replicates with (None without replicate_to): what a destination in another
    account admits (EncryptedBucketArgs.accepts_replicas_from)."""

    def __init__(self, name: str, args: EncryptedBucketArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("s3", "EncryptedBucket", name, opts)
        replicas = _replicas(args.replicate_to)
        if args.kms_key is not None and args.sse_algorithm == "AES256":
            raise ValueError(f"{name}: kms_key conflicts with sse_algorithm AES256")
        if args.accepts_access_logs and args.sse_algorithm != "AES256":
            raise ValueError(f"{name}: a server-access-log target must use sse_algorithm AES256 (S3 requires it)")
        if args.object_lock and args.expiration_days is not None and args.expiration_days <= args.object_lock.days:
            raise ValueError(f"{name}: expiration_days must exceed the Object Lock retention ({args.object_lock.days})")
        if args.object_lock and not 1 <= args.object_lock.days <= 36500:
            raise ValueError(f"{name}: object_lock.days must be 1-36500")
        for replica in replicas:
            # Locked objects replicate with their retention, into a locked bucket only (S3 user
            # guide, "Using S3 Object Lock with replication"; both locked at creation, no support case).
            if args.object_lock and replica.bucket.object_lock is None:
                raise ValueError(f"{name}: replicate_to from an Object Lock bucket needs Object Lock on every "
                                 "destination (S3 fails the replicas otherwise)")
            if args.sse_algorithm == "aws:kms" and (args.kms_key is None or replica.bucket.kms_key is None):
                raise ValueError(f"{name}: replicate_to with SSE-KMS needs a kms_key on this bucket and on the "
                                 "destination (S3 replicates SSE-KMS objects only with named keys)")
            if replica.prefix.startswith("/"):
                raise ValueError(f"{name}: a replica prefix is a key prefix without a leading '/', got {replica.prefix!r}")
        self.kms_key = args.kms_key
        self.object_lock = args.object_lock
        self.replication_role_arn = None

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
        if args.versioning or args.object_lock or replicas or args.accepts_replicas_from:
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
        self.versioning = versioning
        self._lifecycle(name, args, bucket_id, versioning)
        if replicas:
            self._replication(name, args, replicas, versioning)

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
        if args.accepts_replicas_from:
            sources = list(args.accepts_replicas_from)
            principal = {"AWS": sources[0] if len(sources) == 1 else sources}
            statements += [
                {
                    # Replicas, their tags, and handing them over to this account (the owner override).
                    "Sid": "AcceptReplicasFromSourceRoles",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"],
                    "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                },
                {
                    # S3 checks that the destination keeps versions before it replicates into it;
                    # the source has no business changing that (no s3:PutBucketVersioning).
                    "Sid": "SourceRolesReadVersioning",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:GetBucketVersioning",
                    "Resource": self.bucket.arn,
                },
            ]
        statements.extend(args.policy_statements)
        self.policy = None
        if statements:
            self.policy = aws.s3.BucketPolicy(
                f"{name}-policy",
                bucket=bucket_id,
                policy=policy_json(statements),
                opts=self.child(depends_on=[public_access]),
            )

        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})

    def _replication(self, name: str, args: EncryptedBucketArgs, replicas: list[Replica],
                     versioning: Optional[aws.s3.BucketVersioning]) -> None:
        """S3 Replication to each of `replicas` (S3 user guide, "Setting up permissions for live
        replication": the role reads versions here and replicates there; for SSE-KMS objects it
        decrypts with this bucket's key and encrypts with each replica's). One rule per
        destination; with several, each gets its own priority (S3 requires distinct ones)."""
        # "repl": a 24-character blueprint name's staging role must fit IAM's 64 with Pulumi's suffix.
        role = self.service_role("repl-role", "s3.amazonaws.com", tags=args.tags,
                                 condition=self.source_account_condition())
        self.replication_role_arn = role.arn
        sse_kms = args.sse_algorithm == "aws:kms"  # then every key is set (checked in __init__)
        prefixes = list(dict.fromkeys(r.prefix for r in replicas))
        # Locked versions carry their retention and legal hold into the replica (S3 user guide,
        # "Using S3 Object Lock with replication": the role reads both).
        read_versions = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
                         *(["s3:GetObjectRetention", "s3:GetObjectLegalHold"] if args.object_lock else [])]
        statements: list[Any] = [
            {"Sid": "ReadSourceConfiguration", "Effect": "Allow",
             "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": self.bucket.arn},
            {"Sid": "ReadSourceVersions", "Effect": "Allow", "Action": read_versions,
             "Resource": _one_or_many([_objects(self.bucket.arn, p) for p in ([""] if "" in prefixes else prefixes)])},
        ]
        same = [r for r in replicas if not r.other_account]
        other = [r for r in replicas if r.other_account]
        if same:
            statements.append({"Sid": "WriteReplicas", "Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateTags"],
                               "Resource": _one_or_many([_objects(r.bucket.arn, r.prefix) for r in same])})
        if other:
            # The owner override: the replicas become the destination account's (S3 user guide,
            # "Changing the replica owner"), whose bucket policy admits this role for the same actions.
            statements.append({"Sid": "WriteReplicasForOtherAccounts", "Effect": "Allow",
                               "Action": ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"],
                               "Resource": _one_or_many([_objects(r.bucket.arn, r.prefix) for r in other])})
        if sse_kms:
            replica_keys = list({id(r.bucket.kms_key): r.bucket.kms_key for r in replicas}.values())
            statements += [
                {"Sid": "DecryptSource", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": args.kms_key.arn},
                # kms:Decrypt too: with an S3 Bucket Key, S3 verifies the destination's bucket key
                # with it (S3 user guide, "Replicating objects created with server-side encryption
                # (SSE) using AWS KMS keys"). Another account's key must admit this account too.
                {"Sid": "EncryptReplicas", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                 "Resource": _one_or_many([k.arn for k in replica_keys])},
            ]
        policy = self.role_policy("repl-policy", role, statements)
        R = aws.s3
        many = len(replicas) > 1
        rules = []
        for index, replica in enumerate(replicas):
            destination = replica.bucket
            label = replica.prefix.strip("/").replace("/", "-") or "every-object"
            rules.append(R.BucketReplicationConfigRuleArgs(
                id=f"{label}-{index + 1}" if many else label,
                priority=index + 1 if many else None,
                status="Enabled",
                filter=R.BucketReplicationConfigRuleFilterArgs(prefix=replica.prefix),
                # Deletes stay here: the replica is the evidence (or what production serves).
                delete_marker_replication=R.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Disabled"),
                destination=R.BucketReplicationConfigRuleDestinationArgs(
                    bucket=destination.arn,
                    account=destination.aws_account_id if replica.other_account else None,
                    access_control_translation=R.BucketReplicationConfigRuleDestinationAccessControlTranslationArgs(
                        owner="Destination") if replica.other_account else None,
                    encryption_configuration=R.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                        replica_kms_key_id=destination.kms_key.arn) if sse_kms else None,
                    replication_time=R.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                        status="Enabled", time=R.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(
                            minutes=RTC_MINUTES)) if replica.time_control else None,
                    metrics=R.BucketReplicationConfigRuleDestinationMetricsArgs(
                        status="Enabled", event_threshold=R.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                            minutes=RTC_MINUTES)) if replica.time_control else None,
                ),
                source_selection_criteria=R.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                    sse_kms_encrypted_objects=R.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                        status="Enabled")) if sse_kms else None,
            ))
        # S3 refuses a destination that keeps no versions, and replicas into another account fail
        # until its bucket policy admits the role: both first.
        ready = [versioning, policy, *(r.bucket.versioning for r in replicas),
                 *(r.bucket.policy for r in other)]
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=self.bucket.id,
            role=role.arn,
            rules=rules,
            opts=self.child(depends_on=list({id(d): d for d in ready if d is not None}.values())),
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


def _replicas(replicate_to: Union["EncryptedBucket", Replica, Sequence[Replica], None]) -> list[Replica]:
    """EncryptedBucketArgs.replicate_to as a list of Replicas (a bare bucket: every object, same account)."""
    if replicate_to is None:
        return []
    if isinstance(replicate_to, EncryptedBucket):
        return [Replica(bucket=replicate_to)]
    if isinstance(replicate_to, Replica):
        return [replicate_to]
    return list(replicate_to)


def _objects(bucket_arn: pulumi.Input[str], prefix: str) -> pulumi.Output[str]:
    """The ARN of a bucket's objects under `prefix` (all of them for "")."""
    return pulumi.Output.concat(bucket_arn, "/", prefix, "*")


def _one_or_many(values: list[Any]) -> Any:
    """A policy Resource: the one value, else the list."""
    return values[0] if len(values) == 1 else values
