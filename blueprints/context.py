"""What the per-tier composition shares while it builds one stack.

The blueprints (training, inference, security) choose component arguments from the tier; this
context is where those choices live once: the explicit provider per region, the KMS keys per
data domain and region, the stateful-resource options, the tier's bucket defaults, and the
log sources that the security blueprint ships to the SIEM.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from blueprints.spec import Spec, provider_name
from blueprints.tiers import Tier
from components._base import StatefulOptions
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs
from components.kms_key import KmsKey, KmsKeyArgs

# Data domains and the AWS services that use each domain's key. On a `cmk` tier one key per
# region serves every domain (the union); on `cmk-per-domain` each domain has its own.
# `service_linked_roles` maps a role (path after `role/aws-service-role/`) to the Tier field that
# turns its service on, or None where the role is needed on every tier with CMKs.
KEY_DOMAINS: dict[str, dict[str, Any]] = {
    # Macie reads SSE-KMS objects through its service-linked role when it classifies them.
    "training-data": {"services": ("s3", "fsx"), "grants": ("fsx",),
                      "service_linked_roles": {"macie.amazonaws.com/AWSServiceRoleForAmazonMacie": "macie"}},
    "models": {"services": ("s3", "ecr"), "grants": ()},
    # EKS secrets envelope encryption; EBS root volumes, which EC2 Auto Scaling creates through
    # its service-linked role (a key policy grant is the only way it can use a CMK), and which
    # GuardDuty Malware Protection snapshots and scans through its own.
    "compute": {"services": ("eks",), "grants": ("eks",),
                "service_linked_roles": {
                    "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling": None,
                    "malware-protection.guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDutyMalwareProtection":
                        "guardduty_s3_malware",
                }},
    # cloudwatch: alarms publish to SNS topics encrypted with this key.
    "logs": {"services": ("logs", "s3", "firehose", "cloudtrail", "sns", "events", "delivery.logs", "cloudwatch"),
             "grants": ()},
}


_DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
               "northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw"}


def region_code(region: str) -> str:
    """A short, unambiguous region code for resource names: eu-central-1 -> euc1,
    ap-southeast-4 -> apse4. AWS name limits (64 for IAM roles, 32 for load balancers) leave
    no room for full region names next to a 24-character blueprint name."""
    geo, direction, number = region.split("-")
    return f"{geo}{_DIRECTIONS.get(direction, direction)}{number}"


@dataclass(frozen=True)
class LogSource:
    """A CloudWatch log group the SIEM shipping subscribes to."""

    kind: str  # one of blueprints.tiers.SIEM_SOURCES
    region: str
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]


@dataclass(frozen=True)
class WebAclSource:
    """A regional WAF web ACL whose logs the security blueprint ships."""

    region: str
    name: str
    web_acl_arn: pulumi.Output[str]


class BlueprintContext:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.tier: Tier = spec.tier
        self.name = spec.name
        self.home = spec.region
        self.tags = spec.tags
        self.log_sources: list[LogSource] = []
        self.web_acls: list[WebAclSource] = []
        # Buckets whose object-level access CloudTrail records (data events), by role.
        self.data_buckets: dict[str, EncryptedBucket] = {}
        self._providers: dict[str, aws.Provider] = {}
        self._callers: dict[str, Any] = {}
        self._partitions: dict[str, pulumi.Output[str]] = {}
        self._keys: dict[tuple[str, str], Optional[KmsKey]] = {}
        self._access_log_buckets: dict[str, Optional[EncryptedBucket]] = {}

    # -- regions -------------------------------------------------------------------
    def regional(self, label: str, region: str) -> str:
        """The name of a per-region thing: `<blueprint>-<label>-<region code>`."""
        return f"{self.name}-{label}-{region_code(region)}"

    def provider(self, region: str) -> aws.Provider:
        """The one explicit AWS provider for a region."""
        if region not in self._providers:
            self._providers[region] = aws.Provider(provider_name(region), region=region)
        return self._providers[region]

    def opts(self, region: str, *, stateful: bool = False, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a top-level component in `region`; stateful ones get the tier's
        protect / retainOnDelete."""
        if stateful:
            kwargs.setdefault("protect", self.tier.protect_stateful or None)
            kwargs.setdefault("retain_on_delete", self.tier.retain_on_delete or None)
        return pulumi.ResourceOptions(provider=self.provider(region), **kwargs)

    @property
    def stateful(self) -> StatefulOptions:
        """The tier's protection for stateful resources inside otherwise disposable components."""
        return StatefulOptions(protect=self.tier.protect_stateful, retain_on_delete=self.tier.retain_on_delete)

    @property
    def log_retention_days(self) -> int:
        return self.tier.log_retention_days

    # -- EKS access ----------------------------------------------------------------
    def eks_public_access_cidrs(self) -> tuple[str, ...]:
        """The EKS public endpoint's allowlist from the tier: none (private only), the admin
        CIDRs (none given: private only), or open (the admin CIDRs, else anywhere)."""
        mode, cidrs = self.tier.eks_public_endpoint, tuple(self.spec.model.admin_cidrs)
        if mode == "none":
            return ()
        if mode == "allowlisted":
            return cidrs
        return cidrs or ("0.0.0.0/0",)

    @property
    def deployer_cidrs(self) -> tuple[str, ...]:
        """Private networks `pulumi up` runs from (spec `deployerCidrs`): every EKS cluster's
        security group admits HTTPS from them, so the program reaches private-only API endpoints."""
        return tuple(self.spec.model.deployer_cidrs)

    def _invoke(self, region: str) -> pulumi.InvokeOutputOptions:
        return pulumi.InvokeOutputOptions(provider=self.provider(region))

    def caller(self, region: str) -> Any:
        """Who runs this deployment (account, ARN), looked up once per region."""
        if region not in self._callers:
            self._callers[region] = aws.get_caller_identity_output(opts=self._invoke(region))
        return self._callers[region]

    def account_id(self, region: str) -> pulumi.Output[str]:
        return self.caller(region).account_id

    def partition(self, region: str) -> pulumi.Output[str]:
        """The AWS partition (aws, aws-cn, aws-us-gov), looked up once per region."""
        if region not in self._partitions:
            self._partitions[region] = aws.get_partition_output(opts=self._invoke(region)).partition
        return self._partitions[region]

    def deployer_arn(self, region: str) -> pulumi.Output[str]:
        """The IAM role (or user) running this deployment: EKS clusters give it an admin access
        entry so that the program's own Kubernetes provider can create objects."""
        caller = self.caller(region)
        return aws.iam.get_session_context_output(arn=caller.arn, opts=self._invoke(region)).issuer_arn

    # -- keys ----------------------------------------------------------------------
    def key(self, domain: str, region: str, *, required: bool = False) -> Optional[KmsKey]:
        """The CMK for a data domain in a region, or None where the tier uses AWS managed keys.

        `required`: the caller cannot use an AWS managed key (CloudWatch and EventBridge cannot
        publish to an SNS topic under aws/sns), so a tier on AWS managed keys gets that domain's
        CMK, with rotation, for exactly those callers."""
        if domain not in KEY_DOMAINS:
            raise KeyError(f"unknown key domain {domain!r}; add it to KEY_DOMAINS")
        if not self.tier.cmk and not required:
            return None
        shared = self.tier.keys == "cmk"
        slot = ("platform" if shared else domain, region)
        if slot not in self._keys:
            domains = list(KEY_DOMAINS) if shared else [domain]
            services = sorted({s for d in domains for s in KEY_DOMAINS[d]["services"]})
            grants = sorted({s for d in domains for s in KEY_DOMAINS[d]["grants"]})
            linked = sorted({role for d in domains
                             for role, feature in KEY_DOMAINS[d].get("service_linked_roles", {}).items()
                             if feature is None or getattr(self.tier, feature)})
            label = slot[0]
            self._keys[slot] = KmsKey(
                self.regional(label, region),
                KmsKeyArgs(
                    description=f"{self.name} ({self.tier.name}): {label} in {region}",
                    service_principals=services,
                    grant_services=grants,
                    service_linked_roles=linked,
                    enable_key_rotation=self.tier.key_rotation or not self.tier.cmk,
                    alias=f"{self.name}/{label}/{region}",
                    tags=self.tags,
                ),
                opts=self.opts(region, stateful=True),
            )
        return self._keys[slot]

    # -- buckets -------------------------------------------------------------------
    def access_log_bucket(self, region: str) -> Optional[EncryptedBucket]:
        """The region's S3 server-access-log bucket, where the tier logs access."""
        if not self.tier.s3_access_logging:
            return None
        if region not in self._access_log_buckets:
            self._access_log_buckets[region] = EncryptedBucket(
                self.regional("s3-access-logs", region),
                EncryptedBucketArgs(
                    sse_algorithm="AES256",  # S3 requires SSE-S3 on access-log targets
                    accepts_access_logs=True,
                    tls_only=True,
                    versioning=True,
                    expiration_days=self.tier.log_retention_days,
                    tags=self.tags,
                ),
                opts=self.opts(region, stateful=True),
            )
        return self._access_log_buckets[region]

    def bucket_args(self, domain: str, region: str, **overrides: Any) -> EncryptedBucketArgs:
        """EncryptedBucketArgs with the tier's choices: key, TLS-only, versioning, access logs."""
        log_bucket = self.access_log_bucket(region)
        args = EncryptedBucketArgs(
            kms_key=self.key(domain, region),
            tls_only=self.tier.s3_tls_only,
            versioning=self.tier.s3_versioning,
            access_log_bucket=log_bucket.bucket_name if log_bucket else None,
            tags=self.tags,
        )
        return replace(args, **overrides)
