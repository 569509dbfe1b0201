"""Security monitoring: audit trails, SIEM shipping, immutable archives, threat detection (issues 5, 17).

Runs last: it ships the log sources that training and inference registered on the context
(`ctx.log_sources`, `ctx.web_acls`, each naming the account it lives in), plus the trails' own
log groups, to the spec's SIEM.

Where each part lives (`accounts`; a stack without it has one account and everything is there):
- the log archive account (`ctx.account("logArchive")`) holds the evidence: the audit bucket every
  trail delivers into, per region that ships anything an archive bucket (Object Lock where the
  tier says; where it is locked, Firehose and AWS Config deliver to an unlocked staging bucket that
  S3 replicates into it: neither service sends the Content-MD5 or checksum a default retention
  requires), their keys, and an auditor role that can read them and nothing else;
- every account the stack watches (Spec.regions_by_account: training, inference, the log archive
  itself) has its own multi-region trail in its home region, with its CloudWatch log group; and
  per (account, region) with something to ship a SiemShipper (transform Lambda, Firehose stream
  to splunk / http / s3, subscription filters, `aws-waf-logs-` streams), archiving across into the
  log archive; and, where the tier runs GuardDuty, ThreatDetection (findings to that shipper and
  an SNS topic) and an AWS Config recorder delivering into the log archive (Security Hub's
  control checks are Config rules) unless `compliance.recorder` says the organisation runs one.

Across accounts every path is admitted by name: the audit bucket admits exactly the stack's trails
(aws:SourceArn), the archive and staging buckets exactly the other accounts' Firehose and Config
roles, each under its own `AWSLogs/<account>/` prefix; the log archive's key trusts exactly the
stack's accounts (BlueprintContext.key). Nothing deletes an archived object, and only the deploy
role changes how an archive bucket is configured (_immutable).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import pulumi

from blueprints import compliance
from blueprints.context import BlueprintContext, LogSource
from blueprints.training import VPCE_EXEMPT_TAG
from components.audit_trail import (AuditTrail, AuditTrailArgs, DeliveringTrail, cloudtrail_delivery_statements,
                                    trail_arn)
from components.config_recorder import ConfigRecorder, ConfigRecorderArgs
from components.config_rules import ConfigRules, ConfigRulesArgs
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs, ObjectLock
from components.iam_roles import IamRoles, IamRolesArgs, RoleDefinition
from components.kms_key import KmsKey
from components.siem_shipper import ShippedLogGroup, ShippedWebAcl, SiemShipper, SiemShipperArgs
from components.threat_detection import ThreatDetection, ThreatDetectionArgs

# Glacier Flexible Retrieval bills 90 days at least: archives move there after 90 days, and only
# where they are kept for at least twice that long.
GLACIER_AFTER_DAYS = 90
# How long a staging bucket keeps what it has replicated into the locked archive: long enough to
# notice and fix a failing replication (objects that fail stay here), short enough not to hold a
# second, unlocked copy of the evidence.
STAGING_DAYS = 30
# What nobody may do to an archived object, whoever they are (S3 lifecycle expiry is not a request
# and is not affected).
DELETE_ACTIONS = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
# How an archive bucket is configured: only the deploy role may change it (_immutable).
CONFIGURATION_ACTIONS = [
    "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketPolicy", "s3:PutBucketAcl",
    "s3:PutBucketOwnershipControls", "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration", "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration", "s3:PutBucketLogging",
]
AUDITOR_ROLES = "log-archive"  # IamRoles name: <blueprint>-log-archive-auditor


@dataclass
class Security:
    trail: Optional[AuditTrail]  # the training account's trail (the stack's only one in a single account)
    trails: dict[str, AuditTrail] = field(default_factory=dict)  # by account role
    audit_bucket: Optional[EncryptedBucket] = None
    audit_replica: Optional[EncryptedBucket] = None  # its copy in a second region (tier audit_replica)
    archives: dict[str, EncryptedBucket] = field(default_factory=dict)  # by region, in the log archive
    deliveries: dict[str, EncryptedBucket] = field(default_factory=dict)  # where services write: archive or staging
    shippers: dict[tuple[str, str], SiemShipper] = field(default_factory=dict)  # by (account role, region)
    threat_detection: dict[tuple[str, str], ThreatDetection] = field(default_factory=dict)
    config_recorders: dict[tuple[str, str], ConfigRecorder] = field(default_factory=dict)
    config_rules: dict[tuple[str, str], ConfigRules] = field(default_factory=dict)  # where frameworks are declared
    auditor: Optional[IamRoles] = None  # in the log archive, where the stack names accounts


def build(ctx: BlueprintContext) -> Security:
    """Security monitoring of the whole stack; `ctx` is any view (each part is placed in its
    account here). A single-account stack gets what it always had: one trail, and per region one
    archive, shipper, detector and recorder, all in the one account."""
    archive = owner(ctx, "logArchive")
    # The accounts the stack watches and the regions each works in, home first (Spec.regions_by_account).
    watched = {ctx.account(role): regions for role, regions in ctx.spec.regions_by_account().items()}

    # 1. CloudTrail: a trail per watched account, delivering into the log archive's audit bucket.
    security = _trails(ctx, archive, watched)

    # 2. What ships where: one shipper per (account, region) with a shipped log group, a logged web
    #    ACL or threat detection; the log archive keeps an archive in each of those regions.
    slots = _shipping_slots(ctx, watched)
    regions = list(dict.fromkeys(region for _, region in slots))
    recorders = [(view, region) for view, view_regions in watched.items() for region in view_regions] \
        if ctx.spec.config_recorder else []
    cross = ctx.multi_account
    # The other accounts' Firehose and Config roles the log archive's buckets admit: their ARNs
    # come with the shippers and recorders, built after the buckets that must name them.
    firehose_roles = {(v.role, r): pulumi.deferred_output() for v, r in slots if cross and v is not archive}
    config_roles = {(v.role, r): pulumi.deferred_output() for v, r in recorders if cross and v is not archive}

    # 3. The archives (and staging buckets) in the log archive.
    for region in regions:
        admitted = [(ctx.account(role), arn) for (role, r), (arn, _) in firehose_roles.items() if r == region]
        recording = [(ctx.account(role), arn) for (role, r), (arn, _) in config_roles.items() if r == region]
        _archive(ctx, archive, region, security, admitted, recording)

    # 4. SIEM shipping in each account, archiving into the log archive.
    for view, region in slots:
        security.shippers[(view.role, region)] = _shipper(ctx, archive, view, region, security.deliveries[region])

    # 5. Threat detection and AWS Config in each watched account and region.
    if ctx.spec.threat_detection:
        for view, view_regions in watched.items():
            for region in view_regions:
                security.threat_detection[(view.role, region)] = _threat_detection(
                    ctx, view, region, security.shippers[(view.role, region)])
        for view, region in recorders:
            security.config_recorders[(view.role, region)] = ConfigRecorder(
                ctx.regional(view.per_account("config"), region),
                ConfigRecorderArgs(
                    bucket=security.deliveries[region],
                    bucket_other_account=cross and view is not archive,
                    kms_key=_archive_key(archive, region),
                    # Global types (IAM) once per account, in its home region: recorded in several
                    # regions they are recorded, and billed, several times.
                    include_global_resource_types=region == watched[view][0],
                    tags=ctx.tags,
                ),
                opts=view.opts(region),
            )
        # 5b. Declared frameworks: the tier's guardrails kept checking by AWS Config where it records.
        if compliance.declared(ctx.spec):
            for view, view_regions in watched.items():
                for region in view_regions:
                    security.config_rules[(view.role, region)] = _config_rules(ctx, view, region, view_regions[0],
                                                                              security)

    for (role, region), (_, resolve) in firehose_roles.items():
        resolve(security.shippers[(role, region)].role_arn)
    for (role, region), (_, resolve) in config_roles.items():
        resolve(security.config_recorders[(role, region)].role_arn)

    # 6. People: the auditor reads the evidence where it lives.
    if cross:
        security.auditor = _auditor(ctx, archive, security, regions)
    return security


def owner(ctx: BlueprintContext, role: str) -> BlueprintContext:
    """The view that builds account-wide things for the account `role` lives in: the first role
    (ACCOUNT_ROLES order) naming that account, so that an account two roles share gets one copy;
    an omitted logArchive is its own view (the account `pulumi up` runs with). In a single-account
    stack the one view."""
    account = ctx.account(role).aws_account
    return next((view for view in ctx.accounts() if view.aws_account == account), ctx.account(role))


# -- 1. trails -------------------------------------------------------------------------------------
def _trails(ctx: BlueprintContext, archive: BlueprintContext,
            watched: dict[BlueprintContext, list[str]]) -> Security:
    """One account: one trail with its own audit bucket. Several: the log archive's audit bucket,
    admitting exactly the stack's trails, and a trail in each watched account's home region (the
    log archive's own too: who changed or read the evidence is recorded there, in its account)."""
    tier, data_owner = ctx.tier, owner(ctx, "training")
    data_event_buckets = list(ctx.data_buckets.values()) if tier.cloudtrail_data_events else []
    if not ctx.multi_account:
        home = ctx.home
        trail = AuditTrail(
            f"{ctx.name}-audit",
            AuditTrailArgs(
                bucket=_log_bucket_args(ctx, home, object_lock=tier.s3_object_lock),
                kms_key=ctx.key("logs", home),
                log_retention_days=tier.log_retention_days,
                data_event_buckets=data_event_buckets,
                stateful=ctx.stateful,
                tags=ctx.tags,
            ),
            opts=ctx.opts(home),
        )
        ctx.log_sources.append(LogSource(kind="cloudtrail", region=home, log_group_name=trail.log_group_name,
                                         log_group_arn=trail.log_group_arn))
        return Security(trail=trail, trails={data_owner.role: trail}, audit_bucket=trail.bucket)

    security = Security(trail=None)
    if not watched:
        return security
    home = ctx.home
    admitted = [DeliveringTrail(account_id=view.aws_account,
                                trail_arn=trail_arn(view.partition(regions[0]), regions[0], view.aws_account,
                                                    _trail_name(ctx, view)))
                for view, regions in watched.items() if view.aws_account is not None]
    # `<blueprint>-audit-<account>-<region>`, like a single account's: the policy names the bucket.
    bucket_name, bucket_arn = _audit_bucket_name(ctx, archive, home)
    replica = None
    if tier.audit_replica:
        # A locked copy in a second region of the residency: losing the home region loses no evidence.
        second = ctx.spec.audit_replica_region or ""
        replica_name, replica_arn = _audit_bucket_name(ctx, archive, second)
        replica = security.audit_replica = EncryptedBucket(
            f"{ctx.name}-audit-replica",
            replace(_log_bucket_args(archive, second, object_lock=tier.s3_object_lock), bucket_name=replica_name,
                    policy_statements=_immutable(archive, second, replica_arn)),
            opts=archive.opts(second, stateful=True),
        )
    security.audit_bucket = EncryptedBucket(
        f"{ctx.name}-audit-bucket",
        replace(_log_bucket_args(archive, home, object_lock=tier.s3_object_lock), bucket_name=bucket_name,
                policy_statements=[*cloudtrail_delivery_statements(bucket_arn, admitted),
                                   *_immutable(archive, home, bucket_arn)],
                replicate_to=replica),
        opts=archive.opts(home, stateful=True),
    )
    for view, regions in watched.items():
        region = regions[0]
        trail = security.trails[view.role] = AuditTrail(
            _trail_name(ctx, view),
            AuditTrailArgs(
                delivery_bucket=security.audit_bucket,
                kms_key=view.key("logs", region),  # the trail's log group, in its account
                log_files_kms_key=_archive_key(archive, home),
                log_retention_days=tier.log_retention_days,
                # Object-level access to the training buckets is recorded where they live.
                data_event_buckets=data_event_buckets if view is data_owner else [],
                stateful=ctx.stateful,
                tags=ctx.tags,
            ),
            opts=view.opts(region),
        )
        ctx.log_sources.append(LogSource(kind="cloudtrail", region=region, account=view.role,
                                         log_group_name=trail.log_group_name, log_group_arn=trail.log_group_arn))
    security.trail = security.trails.get(data_owner.role) or next(iter(security.trails.values()))
    return security


def _trail_name(ctx: BlueprintContext, view: BlueprintContext) -> str:
    return f"{ctx.name}-{view.per_account('audit')}"


# -- 2. what ships where ---------------------------------------------------------------------------
def _shipping_slots(ctx: BlueprintContext,
                    watched: dict[BlueprintContext, list[str]]) -> list[tuple[BlueprintContext, str]]:
    """(account view, region) of every shipper: where a shipped log group (the trails' included)
    or a logged web ACL lives and, where threat detection runs, every watched region (findings go
    to that account's stream in the region), in the order they appear."""
    slots: list[tuple[BlueprintContext, str]] = []
    candidates = [(owner(ctx, s.account), s.region) for s in shipped_sources(ctx)]
    if ctx.tier.ships("waf"):
        candidates += [(owner(ctx, a.account), a.region) for a in ctx.web_acls]
    if ctx.spec.threat_detection:
        candidates += [(view, region) for view, regions in watched.items() for region in regions]
    for slot in candidates:
        if slot not in slots:
            slots.append(slot)
    return slots


def shipped_sources(ctx: BlueprintContext, region: Optional[str] = None,
                    view: Optional[BlueprintContext] = None) -> list[LogSource]:
    """The log sources the tier ships (optionally in one region, of the account `view` builds for)."""
    return [s for s in ctx.log_sources if ctx.tier.ships(s.kind) and region in (None, s.region)
            and (view is None or owner(ctx, s.account) is view)]


# -- 3. the archives -------------------------------------------------------------------------------
def _archive(ctx: BlueprintContext, archive: BlueprintContext, region: str, security: Security,
             shippers: list[tuple[BlueprintContext, pulumi.Output[str]]],
             recorders: list[tuple[BlueprintContext, pulumi.Output[str]]]) -> None:
    """The region's archive in the log archive and, where it is locked, the staging bucket that
    Firehose and AWS Config write to instead. Where the stack names accounts, the bucket they
    write to admits the other accounts' `shippers` (Firehose roles) and `recorders` (AWS Config
    roles), each under `AWSLogs/<its account>/` only, and both buckets are _immutable."""
    locked = ctx.tier.siem_archive_object_lock
    name = ctx.regional("siem-archive", region)
    if not ctx.multi_account:
        bucket = EncryptedBucket(name, _log_bucket_args(archive, region, object_lock=locked),
                                 opts=archive.opts(region, stateful=True))
        security.archives[region] = bucket
        security.deliveries[region] = _staging(ctx, archive, region, bucket) if locked else bucket
        return

    def policy(bucket_arn: pulumi.Output[str], *, services: bool) -> list[Any]:
        admitted = [*_firehose_statements(bucket_arn, shippers), *_config_statements(bucket_arn, recorders)]
        return [*(admitted if services else []), *_immutable(archive, region, bucket_arn)]

    # Each policy names its own bucket, which the component creates: resolve the ARN afterwards.
    archive_arn, resolve_archive = pulumi.deferred_output()
    bucket = EncryptedBucket(
        name,
        replace(_log_bucket_args(archive, region, object_lock=locked),
                policy_statements=policy(archive_arn, services=not locked)),
        opts=archive.opts(region, stateful=True),
    )
    resolve_archive(bucket.arn)
    security.archives[region] = security.deliveries[region] = bucket
    if locked:
        staging_arn, resolve_staging = pulumi.deferred_output()
        staging = security.deliveries[region] = _staging(ctx, archive, region, bucket,
                                                         policy(staging_arn, services=True))
        resolve_staging(staging.arn)


def _staging(ctx: BlueprintContext, archive: BlueprintContext, region: str, destination: EncryptedBucket,
             statements: Optional[list[Any]] = None) -> EncryptedBucket:
    """An unlocked bucket that S3 replicates, object by object, into the locked `destination`: what
    Firehose and AWS Config write lands under Object Lock without them having to send checksums."""
    return EncryptedBucket(
        ctx.regional("audit-staging", region),
        archive.bucket_args("logs", region, kms_key=_archive_key(archive, region), expiration_days=STAGING_DAYS,
                            noncurrent_expiration_days=1, replicate_to=destination,
                            policy_statements=statements or ()),
        opts=archive.opts(region, stateful=True),
    )


def _firehose_statements(bucket_arn: pulumi.Output[str],
                         shippers: list[tuple[BlueprintContext, pulumi.Output[str]]]) -> list[Any]:
    """Each other account's Firehose role may find the bucket and write, read back and abort its
    own uploads under `AWSLogs/<its account>/siem*/` (SiemShipperArgs.archive_prefix), handing
    them to this account (Firehose developer guide, "Cross-account delivery to an Amazon S3
    destination": the role's ARN as principal, s3:PutObjectAcl for the owner's ACL)."""
    statements: list[Any] = []
    for view, role_arn in shippers:
        account = view.aws_account
        statements += [
            {"Sid": f"FirehoseFindsBucket{account}", "Effect": "Allow", "Principal": {"AWS": role_arn},
             "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
             "Resource": bucket_arn},
            {"Sid": f"FirehoseArchives{account}", "Effect": "Allow", "Principal": {"AWS": role_arn},
             "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"],
             "Resource": [pulumi.Output.concat(bucket_arn, f"/AWSLogs/{account}/siem/*"),
                          pulumi.Output.concat(bucket_arn, f"/AWSLogs/{account}/siem-errors/*")]},
        ]
    return statements


def _config_statements(bucket_arn: pulumi.Output[str],
                       recorders: list[tuple[BlueprintContext, pulumi.Output[str]]]) -> list[Any]:
    """Each other account's AWS Config role may check the bucket and deliver under
    `AWSLogs/<its account>/Config/`, handing the objects to this account (Config developer guide,
    "Permissions for the Amazon S3 Bucket for the AWS Config Delivery Channel": Config delivers
    with the recorder's role first; the config.amazonaws.com principal, its fallback, is not
    admitted, so every object is written by a role the policy names)."""
    statements: list[Any] = []
    for view, role_arn in recorders:
        account = view.aws_account
        statements += [
            {"Sid": f"ConfigChecksBucket{account}", "Effect": "Allow", "Principal": {"AWS": role_arn},
             "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": bucket_arn},
            {"Sid": f"ConfigDelivers{account}", "Effect": "Allow", "Principal": {"AWS": role_arn},
             "Action": ["s3:PutObject", "s3:PutObjectAcl"],
             "Resource": pulumi.Output.concat(bucket_arn, f"/AWSLogs/{account}/Config/*"),
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
        ]
    return statements


def _audit_bucket_name(ctx: BlueprintContext, archive: BlueprintContext,
                       region: str) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """`<blueprint>-audit-<account>-<region>` and its ARN: named before it exists, so that its own
    policy can name it."""
    name = pulumi.Output.concat(ctx.name, "-audit-", archive.account_id(region), "-", region)
    return name, pulumi.Output.concat("arn:", archive.partition(region), ":s3:::", name)


def _immutable(archive: BlueprintContext, region: str, bucket_arn: pulumi.Output[str]) -> list[Any]:
    """What a regulator expects of a log archive: nothing deletes evidence, and nobody but the
    deployment pipeline reconfigures where it is kept.

    - No principal at all may delete an object or a version: not the log archive's administrators,
      not the deploy role (`pulumi up` never deletes objects, and `pulumi destroy` leaves these
      protected, retained buckets alone), not the workload accounts. S3 lifecycle expiry, which
      ends the retention period, is not a request and is not denied. Object Lock adds WORM where
      the tier locks the bucket; this deny holds where it does not (staging, confidential).
    - Only the deploy role `pulumi up` assumes in the log archive may change the bucket's policy,
      versioning, Object Lock, encryption, lifecycle, replication, logging, ownership or public
      access block, or delete the bucket: it manages them, so it is the exception, and its changes
      are reviewed (the stack's code) and recorded (the log archive's own trail). An administrator
      of the account cannot shorten the lifecycle or open the policy by hand. The account's root
      user can still delete the bucket policy (S3 lets it, whatever the policy says): that is the
      break-glass path, and its use is recorded too.
    Service deliveries (CloudTrail, Firehose, AWS Config, S3 replication) use none of these actions."""
    return [
        {"Sid": "DenyDeletingEvidence", "Effect": "Deny", "Principal": "*", "Action": DELETE_ACTIONS,
         "Resource": pulumi.Output.concat(bucket_arn, "/*")},
        {"Sid": "DenyReconfigurationOutsideTheDeployRole", "Effect": "Deny", "Principal": "*",
         "Action": CONFIGURATION_ACTIONS, "Resource": bucket_arn,
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": archive.deployer_arn(region)}}},
    ]


def _archive_key(archive: BlueprintContext, region: str) -> Optional[KmsKey]:
    """The log archive's key in the region. Other accounts write under it, which no AWS managed
    key allows (its policy cannot name them): a CMK on every tier once the stack names accounts."""
    return archive.key("logs", region, required=archive.multi_account)


def _log_bucket_args(archive: BlueprintContext, region: str, *, object_lock: bool) -> EncryptedBucketArgs:
    """An audit/archive bucket: kept for the tier's log retention (WORM where `object_lock`),
    then expired; to Glacier first when kept long enough for it to pay."""
    retention = archive.tier.log_retention_days
    return archive.bucket_args(
        "logs", region,
        kms_key=_archive_key(archive, region),
        object_lock=ObjectLock(mode="COMPLIANCE", days=retention) if object_lock else None,
        expiration_days=retention + 1,
        glacier_transition_days=GLACIER_AFTER_DAYS if retention >= 2 * GLACIER_AFTER_DAYS else None,
    )


# -- 4. shipping and threat detection ------------------------------------------------------------
def _shipper(ctx: BlueprintContext, archive: BlueprintContext, view: BlueprintContext, region: str,
             delivery: EncryptedBucket) -> SiemShipper:
    """The SiemShipper of `view`'s account in `region`: its log groups and web ACLs there, archived
    into the log archive's `delivery` bucket under that account's prefix and the archive's key."""
    tier, multi = ctx.tier, ctx.multi_account
    return SiemShipper(
        ctx.regional(view.per_account("siem"), region),
        SiemShipperArgs(
            archive_bucket=delivery,
            archive_other_account=multi and view is not archive,
            archive_prefix=f"AWSLogs/{view.aws_account}/" if multi and view.aws_account else "",
            archive_kms_key=_archive_key(archive, region) if multi else None,
            destination=ctx.spec.siem.destination,
            endpoint=ctx.spec.siem.endpoint,
            token=ctx.spec.siem_token(),
            kms_key=view.key("logs", region),
            log_groups=[ShippedLogGroup(kind=s.kind, log_group_name=s.log_group_name)
                        for s in shipped_sources(ctx, region, view)],
            web_acls=[ShippedWebAcl(name=a.name, web_acl_arn=a.web_acl_arn) for a in ctx.web_acls
                      if a.region == region and owner(ctx, a.account) is view] if tier.ships("waf") else [],
            classification=ctx.tags["DataClassification"],
            blueprint=ctx.name,
            log_retention_days=tier.log_retention_days,
            stateful=ctx.stateful,
            tags=ctx.tags,
        ),
        opts=view.opts(region),
    )


def _threat_detection(ctx: BlueprintContext, view: BlueprintContext, region: str,
                      shipper: SiemShipper) -> ThreatDetection:
    """GuardDuty and Security Hub in `view`'s account and region; malware scans of the training
    data where it lives (the training account's home region)."""
    tier = ctx.tier
    key = view.key("logs", region, required=True)  # the findings topic needs a CMK
    holds_data = view is owner(ctx, "training") and region == ctx.home
    scanned = ctx.data_buckets.get("training-data") if tier.guardduty_s3_malware and holds_data else None
    return ThreatDetection(
        ctx.regional(view.per_account("td"), region),
        ThreatDetectionArgs(
            kms_key=key,
            siem=shipper,
            runtime_monitoring=tier.guardduty_eks_runtime,
            # The tier's malware protection row covers EBS volumes and new S3 objects.
            ebs_malware_protection=tier.guardduty_s3_malware,
            malware_scanned_buckets=[scanned] if scanned else [],
            # The scanner reads objects from outside the training VPC: carry the tag the
            # air-gapped bucket policy exempts (blueprints/training.py).
            malware_scan_role_tags=dict([VPCE_EXEMPT_TAG]) if scanned and tier.air_gapped else {},
            security_hub_standards=compliance.security_hub_standards(ctx.spec),
            compliance_rule_prefix=compliance.routed_prefix(ctx.spec),
            tags=ctx.tags,
        ),
        opts=view.opts(region),
    )


def _config_rules(ctx: BlueprintContext, view: BlueprintContext, region: str, home: str,
                  security: Security) -> ConfigRules:
    """The AWS Config rules of the tier's mandatory guardrails in `view`'s account and `region`:
    change-triggered ones scoped to the resources tagged with this blueprint's name, after the
    region's recorder where this stack creates it (the organisation's otherwise); global types
    (IAM) in the account's home region, where they are recorded."""
    return ConfigRules(
        ctx.regional(view.per_account("config-rules"), region),
        ConfigRulesArgs(
            rules=compliance.config_rules(ctx.tier, home=region == home),
            name_prefix=compliance.rule_name_prefix(ctx.spec),
            tag_key="Blueprint",
            tag_value=ctx.tags["Blueprint"],
            recorder=security.config_recorders.get((view.role, region)),
            tags=ctx.tags,
        ),
        opts=view.opts(region),
    )


# -- 5. people -------------------------------------------------------------------------------------
def _auditor(ctx: BlueprintContext, archive: BlueprintContext, security: Security, regions: list[str]) -> IamRoles:
    """An auditor in the log archive account: reads every archived record (the trails' log and
    digest files, the SIEM archives, the S3 access logs of both) and how the buckets and their
    keys are configured, and can delete or change nothing, anywhere.

    It is not the training account's auditor (blueprints/training.py), which reads the training
    resources' configuration where they live: evidence is read where it is kept, by a role of that
    account that people assume with MFA. No role of a workload account is admitted to the archive,
    so an administrator of a workload account, who controls that account's roles, can neither read
    nor touch the evidence about it."""
    home = ctx.home
    replica_region = [ctx.spec.audit_replica_region] if security.audit_replica is not None else []
    places = list(dict.fromkeys([home, *regions, *replica_region]))
    logs = [archive.access_log_bucket(r) for r in places]
    buckets = [b for b in [security.audit_bucket, security.audit_replica, *security.archives.values(), *logs]
               if b is not None]
    buckets = list({id(b): b for b in buckets}.values())
    keys = {r: k for r in places if (k := _archive_key(archive, r)) is not None}
    key_arns = list({id(k): k.arn for k in keys.values()}.values())
    bucket_arns = [b.arn for b in buckets]
    reads: list[Any] = [
        {"Sid": "ListArchives", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation"], "Resource": bucket_arns},
        {"Sid": "ReadArchivedRecords", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention", "s3:GetObjectLegalHold"],
         "Resource": [pulumi.Output.concat(arn, "/*") for arn in bucket_arns]},
        {"Sid": "ReadArchiveConfiguration", "Effect": "Allow",
         "Action": ["s3:GetBucketPolicy", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration",
                    "s3:GetBucketPublicAccessBlock", "s3:GetBucketLogging", "s3:GetBucketObjectLockConfiguration",
                    "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:GetBucketOwnershipControls"],
         "Resource": bucket_arns},
        # Trail log files and SIEM archives are SSE-KMS objects: decrypting them through S3 only.
        {"Sid": "DecryptArchivedRecords", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arns,
         "Condition": {"StringEquals": {"kms:ViaService": [f"s3.{r}.amazonaws.com" for r in keys]}}},
        {"Sid": "ReadArchiveKeys", "Effect": "Allow",
         "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"], "Resource": key_arns},
        # Log file integrity (`aws cloudtrail validate-logs`) and the log archive's own trail.
        {"Sid": "ReadTrails", "Effect": "Allow",
         "Action": ["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
                    "cloudtrail:ListPublicKeys", "cloudtrail:LookupEvents"],
         "Resource": "*"},
    ]
    never = {"Sid": "NeverDeleteOrChangeEvidence", "Effect": "Deny",
             "Action": ["s3:Delete*", "s3:Put*", "s3:Replicate*", "s3:BypassGovernanceRetention",
                        "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy",
                        "cloudtrail:DeleteTrail", "cloudtrail:StopLogging", "cloudtrail:UpdateTrail",
                        "cloudtrail:PutEventSelectors"],
             "Resource": "*"}
    return IamRoles(
        f"{ctx.name}-{AUDITOR_ROLES}",
        IamRolesArgs(
            roles=[RoleDefinition(
                key="auditor",
                description="Read-only: the log archive's trails, SIEM archives and access logs, their configuration and keys",
                statements=[*reads, never],
            )],
            # The most it may ever do: read (and the role chaining IamRoles adds, with no role to chain to).
            boundary_statements=reads,
            tags=ctx.tags,
        ),
        opts=archive.opts(home),
    )
