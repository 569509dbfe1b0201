"""What the per-tier composition shares while it builds one stack.

The blueprints (training, inference, security) choose component arguments from the tier; this
context is where those choices live once: the explicit provider per account and region, the KMS
keys per account, data domain and region, the stateful-resource options, the tier's bucket
defaults, and the log sources that the security blueprint ships to the SIEM.

Accounts: `ctx.account("training")` (or "inference", "logArchive") is the same context placed in
the account that part of the stack lives in (`accounts` in the spec): its providers assume the
deploy role there, its keys, buckets and lookups are that account's. A stack without `accounts`
has one account, the one `pulumi up` runs with, and every view of it is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from blueprints.spec import ACCOUNT_ROLES, Spec, provider_name
from blueprints.tiers import Tier
from components._base import StatefulOptions
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs
from components.kms_key import KmsKey, KmsKeyArgs
from components.serving_workload import ModelSource

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
    # cloudwatch: alarms publish to SNS topics encrypted with this key; budgets and costalerts (AWS
    # Budgets, Cost Anomaly Detection) to the operations topic (blueprints/operations.py).
    "logs": {"services": ("logs", "s3", "firehose", "cloudtrail", "sns", "events", "delivery.logs", "cloudwatch",
                          "budgets", "costalerts"),
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


# Short codes that tell apart the per-account copies of a per-region thing (keys, access-log
# buckets, SIEM shipping, threat detection) in a multi-account stack.
ROLE_CODES = {"training": "trn", "inference": "inf", "logArchive": "arc"}


@dataclass(frozen=True)
class LogSource:
    """A CloudWatch log group the SIEM shipping subscribes to (in the account that owns it)."""

    kind: str  # one of blueprints.tiers.SIEM_SOURCES
    region: str
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]
    account: str = "training"  # the role (ACCOUNT_ROLES) of the account the log group lives in


@dataclass(frozen=True)
class ImagePush:
    """An image someone must copy into a repository of the stack before its workload can run
    (the stack output `images_to_push`)."""

    image: str  # the upstream image (or the spec's), with its tag or digest
    push_to: pulumi.Output[str]  # `<repository URL>:<tag>` or `@<digest>`
    region: str
    account: str  # the role (ACCOUNT_ROLES) of the account the repository lives in


@dataclass(frozen=True)
class WebAclSource:
    """A regional WAF web ACL whose logs the security blueprint ships."""

    region: str
    name: str
    web_acl_arn: pulumi.Output[str]
    account: str = "inference"


class _Shared:
    """What every account's view of one stack shares: the caches and what the blueprints hand
    to each other."""

    def __init__(self) -> None:
        self.log_sources: list[LogSource] = []
        self.web_acls: list[WebAclSource] = []
        self.image_pushes: list[ImagePush] = []
        # Buckets whose object-level access CloudTrail records (data events), by role.
        self.data_buckets: dict[str, EncryptedBucket] = {}
        # Where the model servers of each inference region read approved models (training.build):
        # a bucket in that region, so a region serves without any other.
        self.model_sources: dict[str, ModelSource] = {}
        self.providers: dict[tuple[Optional[str], str], aws.Provider] = {}
        self.callers: dict[tuple[Optional[str], str], Any] = {}
        self.partitions: dict[tuple[Optional[str], str], pulumi.Output[str]] = {}
        self.keys: dict[tuple[Optional[str], str, str], Optional[KmsKey]] = {}
        self.access_log_buckets: dict[tuple[Optional[str], str], Optional[EncryptedBucket]] = {}
        self.views: dict[str, "BlueprintContext"] = {}


class BlueprintContext:
    def __init__(self, spec: Spec, role: str = "training", shared: Optional[_Shared] = None):
        self.spec = spec
        self.tier: Tier = spec.tier
        self.name = spec.name
        self.home = spec.region
        self.tags = spec.tags
        self.role = role
        self.aws_account: Optional[str] = spec.account(role)  # None: the account `pulumi up` runs with
        self._shared = shared or _Shared()
        self.log_sources = self._shared.log_sources
        self.web_acls = self._shared.web_acls
        self.image_pushes = self._shared.image_pushes
        self.data_buckets = self._shared.data_buckets
        self.model_sources = self._shared.model_sources

    # -- accounts ------------------------------------------------------------------
    def account(self, role: str) -> "BlueprintContext":
        """This context placed in the account `role` (training, inference, logArchive) lives in."""
        if role not in ACCOUNT_ROLES:
            raise KeyError(f"unknown account role {role!r}; use one of {', '.join(ACCOUNT_ROLES)}")
        if role not in self._shared.views:
            self._shared.views[role] = BlueprintContext(self.spec, role, self._shared)
        return self._shared.views[role]

    @property
    def multi_account(self) -> bool:
        return self.spec.model.accounts is not None

    def accounts(self) -> list["BlueprintContext"]:
        """One view per distinct account of the stack that runs workloads or holds the archive
        (for account-wide services: GuardDuty, Security Hub, AWS Config, CloudTrail), in
        ACCOUNT_ROLES order. An omitted logArchive (the deploying account) is not listed: it
        may be one of the others, and those services must exist once per account."""
        if not self.multi_account:
            return [self.account("training")]
        seen: dict[str, BlueprintContext] = {}
        for role in ACCOUNT_ROLES:
            view = self.account(role)
            if view.aws_account is not None and view.aws_account not in seen:
                seen[view.aws_account] = view
        return list(seen.values())

    def per_account(self, label: str) -> str:
        """`label`, qualified by this account's role code in a multi-account stack, for things
        each account has its own copy of in a region (keys, access-log buckets, shippers)."""
        return f"{label}-{ROLE_CODES[self.role]}" if self.multi_account else label

    # -- regions -------------------------------------------------------------------
    def regional(self, label: str, region: str) -> str:
        """The name of a per-region thing: `<blueprint>-<label>-<region code>`."""
        return f"{self.name}-{label}-{region_code(region)}"

    def provider(self, region: str) -> aws.Provider:
        """The one explicit AWS provider for this account and region: where the account is named,
        it assumes arn:aws:iam::<account>:role/<deployRole> (the project's regions are all in the
        commercial partition), with a session name and, where the tier separates accounts, an
        external id the deploy role's trust policy requires (README, 'Multi-account')."""
        slot = (self.aws_account, region)
        if slot not in self._shared.providers:
            assume = None
            if self.aws_account is not None:
                accounts = self.spec.model.accounts
                assume = [aws.ProviderAssumeRoleArgs(
                    role_arn=f"arn:aws:iam::{self.aws_account}:role/{accounts.deploy_role}",
                    session_name=f"ai-blueprints-{self.name}",
                    external_id=self.spec.external_id,
                )]
            self._shared.providers[slot] = aws.Provider(provider_name(region, self.aws_account), region=region,
                                                        assume_roles=assume)
        return self._shared.providers[slot]

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
        """Who runs this deployment in this account (account, ARN), looked up once per region."""
        slot = (self.aws_account, region)
        if slot not in self._shared.callers:
            self._shared.callers[slot] = aws.get_caller_identity_output(opts=self._invoke(region))
        return self._shared.callers[slot]

    def account_id(self, region: str) -> pulumi.Output[str]:
        return self.caller(region).account_id

    def partition(self, region: str) -> pulumi.Output[str]:
        """The AWS partition (aws, aws-cn, aws-us-gov), looked up once per region."""
        slot = (self.aws_account, region)
        if slot not in self._shared.partitions:
            self._shared.partitions[slot] = aws.get_partition_output(opts=self._invoke(region)).partition
        return self._shared.partitions[slot]

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
        slot = (self.aws_account, "platform" if shared else domain, region)
        if slot not in self._shared.keys:
            domains = list(KEY_DOMAINS) if shared else [domain]
            services = sorted({s for d in domains for s in KEY_DOMAINS[d]["services"]})
            grants = sorted({s for d in domains for s in KEY_DOMAINS[d]["grants"]})
            linked = sorted({role for d in domains
                             for role, feature in KEY_DOMAINS[d].get("service_linked_roles", {}).items()
                             if feature is None or getattr(self.tier, feature)})
            label = slot[1]
            self._shared.keys[slot] = KmsKey(
                self.regional(self.per_account(label), region),
                KmsKeyArgs(
                    description=f"{self.name} ({self.tier.name}): {label} in {region}",
                    service_principals=services,
                    grant_services=grants,
                    service_linked_roles=linked,
                    trusted_accounts=self._trusted_accounts(domains),
                    enable_key_rotation=self.tier.key_rotation or not self.tier.cmk,
                    alias=f"{self.name}/{self.per_account(label)}/{region}",
                    tags=self.tags,
                ),
                opts=self.opts(region, stateful=True),
            )
        return self._shared.keys[slot]

    def _trusted_accounts(self, domains: list[str]) -> list[str]:
        """The other accounts of the stack that write data under this account's key of `domains`:
        the workload accounts into the log archive's logs key (CloudTrail, Firehose, AWS Config),
        the training account into the inference account's models key (model promotion)."""
        others: list[Optional[str]] = []
        if self.role == "logArchive" and "logs" in domains:
            others = [self.spec.account("training"), self.spec.account("inference")]
        elif self.role == "inference" and "models" in domains:
            others = [self.spec.account("training")]
        return list(dict.fromkeys(a for a in others if a is not None and a != self.aws_account))

    # -- buckets -------------------------------------------------------------------
    def access_log_bucket(self, region: str) -> Optional[EncryptedBucket]:
        """The region's S3 server-access-log bucket, where the tier logs access."""
        if not self.tier.s3_access_logging:
            return None
        slot = (self.aws_account, region)
        if slot not in self._shared.access_log_buckets:
            self._shared.access_log_buckets[slot] = EncryptedBucket(
                self.regional(self.per_account("s3-access-logs"), region),
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
        return self._shared.access_log_buckets[slot]

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
