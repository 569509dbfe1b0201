"""Security monitoring: audit trail, SIEM shipping, immutable archive, threat detection (issue 5).

Runs last: it ships the log sources that training and inference registered on the context
(`ctx.log_sources`, `ctx.web_acls`), plus the trail's own log group, to the spec's SIEM.

Per region that ships anything (the home region always: CloudTrail):
- an archive bucket (Object Lock where the tier says) that receives every shipped record;
  where it is locked, Firehose and AWS Config deliver to an unlocked staging bucket that S3
  replicates into it (neither service sends the Content-MD5 or checksum that a default
  retention requires; the AWS Config developer guide says it does not deliver to such buckets);
- a SiemShipper: the transform Lambda, a Firehose stream to splunk / http / s3, one
  subscription filter per shipped log group, one `aws-waf-logs-` stream per web ACL.
Per region the stack uses, where the tier runs GuardDuty: ThreatDetection, whose findings go
to that region's stream and an SNS topic, and an AWS Config recorder (Security Hub's control
checks are Config rules) unless `compliance.recorder` says the organisation runs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from blueprints.context import BlueprintContext, LogSource
from blueprints.training import VPCE_EXEMPT_TAG
from components.audit_trail import AuditTrail, AuditTrailArgs
from components.config_recorder import ConfigRecorder, ConfigRecorderArgs
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs, ObjectLock
from components.siem_shipper import ShippedLogGroup, ShippedWebAcl, SiemShipper, SiemShipperArgs
from components.threat_detection import ThreatDetection, ThreatDetectionArgs

# Glacier Flexible Retrieval bills 90 days at least: archives move there after 90 days, and only
# where they are kept for at least twice that long.
GLACIER_AFTER_DAYS = 90
# How long a staging bucket keeps what it has replicated into the locked archive: long enough to
# notice and fix a failing replication (objects that fail stay here), short enough not to hold a
# second, unlocked copy of the evidence.
STAGING_DAYS = 30


@dataclass
class Security:
    trail: AuditTrail
    archives: dict[str, EncryptedBucket] = field(default_factory=dict)
    deliveries: dict[str, EncryptedBucket] = field(default_factory=dict)  # where services write: archive or staging
    shippers: dict[str, SiemShipper] = field(default_factory=dict)
    threat_detection: dict[str, ThreatDetection] = field(default_factory=dict)
    config_recorders: dict[str, ConfigRecorder] = field(default_factory=dict)


def build(ctx: BlueprintContext) -> Security:
    tier, home = ctx.tier, ctx.home
    data_event_buckets = list(ctx.data_buckets.values()) if tier.cloudtrail_data_events else []
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
    security = Security(trail=trail)

    for region in _shipping_regions(ctx):
        archive = EncryptedBucket(
            ctx.regional("siem-archive", region),
            _log_bucket_args(ctx, region, object_lock=tier.siem_archive_object_lock),
            opts=ctx.opts(region, stateful=True),
        )
        security.archives[region] = archive
        delivery = security.deliveries[region] = _staging(ctx, region, archive) if tier.siem_archive_object_lock \
            else archive
        security.shippers[region] = SiemShipper(
            ctx.regional("siem", region),
            SiemShipperArgs(
                archive_bucket=delivery,
                destination=ctx.spec.siem.destination,
                endpoint=ctx.spec.siem.endpoint,
                token=ctx.spec.siem_token(),
                kms_key=ctx.key("logs", region),
                log_groups=[ShippedLogGroup(kind=s.kind, log_group_name=s.log_group_name)
                            for s in shipped_sources(ctx, region)],
                web_acls=[ShippedWebAcl(name=a.name, web_acl_arn=a.web_acl_arn)
                          for a in ctx.web_acls if a.region == region] if tier.ships("waf") else [],
                classification=ctx.tags["DataClassification"],
                blueprint=ctx.name,
                log_retention_days=tier.log_retention_days,
                stateful=ctx.stateful,
                tags=ctx.tags,
            ),
            opts=ctx.opts(region),
        )

    if ctx.spec.threat_detection:
        for region in ctx.spec.regions:
            key = ctx.key("logs", region, required=True)  # the findings topic needs a CMK
            scanned = ctx.data_buckets.get("training-data") if tier.guardduty_s3_malware and region == home else None
            security.threat_detection[region] = ThreatDetection(
                ctx.regional("td", region),
                ThreatDetectionArgs(
                    kms_key=key,
                    siem=security.shippers[region],
                    runtime_monitoring=tier.guardduty_eks_runtime,
                    # The tier's malware protection row covers EBS volumes and new S3 objects.
                    ebs_malware_protection=tier.guardduty_s3_malware,
                    malware_scanned_buckets=[scanned] if scanned else [],
                    # The scanner reads objects from outside the training VPC: carry the tag the
                    # air-gapped bucket policy exempts (blueprints/training.py).
                    malware_scan_role_tags=dict([VPCE_EXEMPT_TAG]) if scanned and tier.air_gapped else {},
                    tags=ctx.tags,
                ),
                opts=ctx.opts(region),
            )
            if ctx.spec.config_recorder:
                security.config_recorders[region] = ConfigRecorder(
                    ctx.regional("config", region),
                    ConfigRecorderArgs(
                        bucket=security.deliveries[region],
                        kms_key=ctx.key("logs", region),
                        # Global types (IAM) once, in the home region: recorded in several regions
                        # they are recorded, and billed, several times.
                        include_global_resource_types=region == home,
                        tags=ctx.tags,
                    ),
                    opts=ctx.opts(region),
                )
    return security


def _staging(ctx: BlueprintContext, region: str, archive: EncryptedBucket) -> EncryptedBucket:
    """An unlocked bucket that S3 replicates, object by object, into the locked `archive`: what
    Firehose and AWS Config write lands under Object Lock without them having to send checksums."""
    return EncryptedBucket(
        ctx.regional("audit-staging", region),
        ctx.bucket_args("logs", region, expiration_days=STAGING_DAYS, noncurrent_expiration_days=1,
                        replicate_to=archive),
        opts=ctx.opts(region, stateful=True),
    )


def _log_bucket_args(ctx: BlueprintContext, region: str, *, object_lock: bool) -> EncryptedBucketArgs:
    """An audit/archive bucket: kept for the tier's log retention (WORM where `object_lock`),
    then expired; to Glacier first when kept long enough for it to pay."""
    retention = ctx.tier.log_retention_days
    return ctx.bucket_args(
        "logs", region,
        object_lock=ObjectLock(mode="COMPLIANCE", days=retention) if object_lock else None,
        expiration_days=retention + 1,
        glacier_transition_days=GLACIER_AFTER_DAYS if retention >= 2 * GLACIER_AFTER_DAYS else None,
    )


def _shipping_regions(ctx: BlueprintContext) -> list[str]:
    """Home first (CloudTrail), then every region with a shipped source, a logged web ACL or
    threat detection, in the order they appear."""
    tier = ctx.tier
    regions = [ctx.home]
    candidates = [s.region for s in shipped_sources(ctx)]
    if tier.ships("waf"):
        candidates += [a.region for a in ctx.web_acls]
    if ctx.spec.threat_detection:
        candidates += ctx.spec.regions
    for region in candidates:
        if region not in regions:
            regions.append(region)
    return regions


def shipped_sources(ctx: BlueprintContext, region: Optional[str] = None) -> list[LogSource]:
    """The log sources the tier ships (optionally in one region)."""
    return [s for s in ctx.log_sources if ctx.tier.ships(s.kind) and region in (None, s.region)]
