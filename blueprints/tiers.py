"""The four data-classification tiers and their guardrail matrix, as data.

This module is the one source of truth for what a tier promises. The stack spec
(`blueprints/spec.py`) enforces it on config, the blueprints read it to choose component
arguments, the guardrail packs (`policies/`) read it to decide which rules apply, and
`blueprint tiers` prints it. Nothing else hard-codes a tier's behaviour.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable, Literal

TierName = Literal["public", "internal", "confidential", "restricted"]
TIER_NAMES: tuple[str, ...] = ("public", "internal", "confidential", "restricted")

# Every data source the SIEM shipping can carry, in the order the matrix lists them.
SIEM_SOURCES: tuple[str, ...] = ("cloudtrail", "waf", "api-access", "vpc-flow", "eks-audit")
API_ACCESS_SOURCE = "api-access"
# Bedrock model invocation logs (spec `foundationModels`): shipped wherever `api-access` is.
FM_SIEM_SOURCE = "bedrock-invocations"

# Foundation-model guardrail settings, weakest first.
PII_ACTIONS: tuple[str, ...] = ("none", "anonymize", "block")
PROMPT_ATTACK_STRENGTHS: tuple[str, ...] = ("none", "low", "medium", "high")

WAF_COMMON = "AWSManagedRulesCommonRuleSet"
WAF_KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
WAF_IP_REPUTATION = "AWSManagedRulesAmazonIpReputationList"
WAF_SQLI = "AWSManagedRulesSQLiRuleSet"
WAF_ANONYMOUS_IP = "AWSManagedRulesAnonymousIpList"

# API Gateway method `authorization` values for the spec's `inference.auth` choices.
API_AUTHORIZATION_TYPES: dict[str, str] = {"iam": "AWS_IAM", "cognito": "COGNITO_USER_POOLS", "jwt": "CUSTOM"}

# AWS commercial regions this project renders for, by residency. A region outside these is
# rejected by the spec, so a typo ("eu-west-4") never reaches a provider.
RESIDENCY_REGIONS: dict[str, tuple[str, ...]] = {
    "eu": (
        "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
        "eu-west-1", "eu-west-2", "eu-west-3",
    ),
    "us": ("us-east-1", "us-east-2", "us-west-1", "us-west-2"),
}
OTHER_REGIONS: tuple[str, ...] = (
    "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ca-central-1", "ca-west-1", "il-central-1", "me-central-1",
    "me-south-1", "sa-east-1",
)
ALL_REGIONS: tuple[str, ...] = tuple(
    sorted({r for regions in RESIDENCY_REGIONS.values() for r in regions} | set(OTHER_REGIONS))
)

# ISO 3166 country codes a restricted WAF admits, by residency (EU/EEA for `eu`).
RESIDENCY_COUNTRIES: dict[str, tuple[str, ...]] = {
    "eu": (
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE",
        "SI", "SK",
    ),
    "us": ("US",),
}


def regions_for_residency(residency: str) -> tuple[str, ...]:
    """Regions allowed by a residency (`any` allows every known region)."""
    return RESIDENCY_REGIONS.get(residency, ALL_REGIONS)


@dataclass(frozen=True)
class Tier:
    """What one classification tier promises. Field order follows DESIGN.md's matrix."""

    name: str
    rank: int  # 0 (public) .. 3 (restricted): higher is stricter
    summary: str
    # Network
    training_egress: Literal["nat", "endpoints"]  # endpoints: no IGW, no NAT, VPC endpoints only
    # The inference VPCs' way out, the same choice for the serving network: with `endpoints` no
    # internet gateway, NAT gateway or default route there either (the model server and the
    # gateway function reach AWS through VPC endpoints; clients come in through API Gateway).
    inference_egress: Literal["nat", "endpoints"]
    eks_public_endpoint: Literal["open", "allowlisted", "none"]  # private endpoint is always on
    # NAT gateways per VPC where VPCs have NAT (the training VPC on `nat`, and the inference VPCs):
    # the default of spec `natGateways`, which may choose either; None where there is no NAT.
    # "single" saves NAT hours and Elastic IPs (two VPCs x three zones pass AWS's default of 5 EIPs
    # per region) but makes its zone a single point of failure for egress (IsolatedVpcArgs).
    nat_gateways: Literal["per-az", "single", None]
    # Keys
    keys: Literal["aws-managed", "cmk", "cmk-per-domain"]
    key_rotation: bool
    # S3 (public access block and SSE hold on every tier)
    s3_tls_only: bool
    s3_versioning: bool
    s3_access_logging: bool
    s3_object_lock: bool  # on the audit and model buckets
    # Logs
    log_retention_days: int
    # Edge
    waf_managed_rule_groups: tuple[str, ...]
    waf_geo_allowlist: bool
    # Whether spec `inference.payload: prompt` may set the managed groups' request-body rules
    # (SQLi_BODY, CrossSiteScripting_BODY, ...) to count, labelled and alarmed, instead of block:
    # LLM prompts carry code and SQL those rules cannot tell from attacks, and the model server
    # executes neither. Header, URI, query and cookie rules block on every tier. Restricted keeps
    # every body rule blocking: there the SQLi body rules are the last check before prompts reach
    # the text-to-SQL and agent tools that get wired to regulated databases, and PCI DSS v4.0
    # req. 6.4.2 accepts a detect-only web-attack control only where every alert is investigated
    # at once, which a blueprint cannot promise.
    waf_prompt_payload: bool
    # Accounts: `shared` (training, inference and the log archive may share one account),
    # `training-inference` (training and production inference in different accounts; a log
    # archive account advised), `three` (training, inference and log archive: three accounts).
    accounts: Literal["shared", "training-inference", "three"]
    api_auth: tuple[str, ...]  # allowed inference.auth values; the first is the default
    # Capacity
    spot_training: bool
    spot_inference: bool
    min_inference_regions: int
    dns_routing: Literal["latency", "failover"]  # between inference regions (custom domain)
    residency_required: bool
    # Security monitoring
    siem_sources: tuple[str, ...]
    siem_archive_object_lock: bool
    # The audit bucket (every trail's) replicates into a locked copy in a second region of the
    # residency: losing the home region loses no evidence.
    audit_replica: bool
    # S3 Replication Time Control on the model replicas (approved/ into every inference region):
    # a promoted model reaches every region within 15 minutes (99.99%), with a replication
    # metric and an event for any object that misses it. Billed per GB replicated.
    model_replication_sla: bool
    cloudtrail_data_events: bool  # S3 object-level events on the training-data and model buckets
    guardduty: bool
    guardduty_eks_runtime: bool
    guardduty_s3_malware: bool
    macie: bool
    # Foundation models (spec `foundationModels`, Amazon Bedrock): which inference profiles a
    # model id may be. `global` admits `global.` (any commercial region worldwide), the
    # residency's geographic profile (`eu.`, `us.`) and base models; `geographic` admits only base
    # models (invoked in the inference regions) and the residency's geographic profile. A profile
    # of another geography is an error wherever the stack has a residency.
    fm_profiles: Literal["global", "geographic"]
    # Guardrail PII actions the tier allows (spec foundationModels.guardrail.piiAction); the first
    # is the default.
    fm_pii_actions: tuple[str, ...]
    # The weakest prompt-attack filter strength allowed (none < low < medium < high).
    fm_prompt_attack_min: Literal["none", "low", "medium", "high"]
    # Every container image a cluster runs (model server, device plugins, autoscaler) is referenced
    # by digest (`@sha256:`), not by a tag alone (blueprints/images.py, spec `images`).
    image_digests: bool
    # Operations (blueprints/operations.py). The width of the CloudWatch anomaly-detection band, in
    # standard deviations, of the request-count and p99-latency alarms in every inference region:
    # narrower on stricter tiers, which page on smaller departures from the learned pattern.
    anomaly_band_width: float
    # Whether cost notifications (budget, Cost Explorer anomalies) may also go to the owner as plain
    # email; above that they go to the encrypted SNS topic only (email leaves AWS unencrypted).
    plain_email_notifications: bool
    # Whether model promotions (objects created or deleted under the model bucket's approved/) are
    # sent to the SIEM stream as well as to the SNS topic.
    lineage_to_siem: bool
    # Stateful resources (buckets, keys, file systems, log groups)
    protect_stateful: bool
    retain_on_delete: bool

    @property
    def cmk(self) -> bool:
        return self.keys != "aws-managed"

    @property
    def separate_accounts(self) -> bool:
        """Training and production inference must live in different accounts."""
        return self.accounts != "shared"

    @property
    def air_gapped(self) -> bool:
        return self.training_egress == "endpoints"

    @property
    def inference_air_gapped(self) -> bool:
        return self.inference_egress == "endpoints"

    def air_gapped_for(self, part: str) -> bool:
        """Whether the `part` network (training or inference) has no egress but VPC endpoints."""
        return self.inference_air_gapped if part == "inference" else self.air_gapped

    def ships(self, source: str) -> bool:
        """Whether the SIEM shipping carries `source`. Bedrock invocation logs travel with the
        API access logs: a tier that ships one ships the other (where foundation models are on)."""
        if source == FM_SIEM_SOURCE:
            return API_ACCESS_SOURCE in self.siem_sources
        return source in self.siem_sources

    def fm_prompt_attack_allowed(self, strength: str) -> bool:
        return PROMPT_ATTACK_STRENGTHS.index(strength) >= PROMPT_ATTACK_STRENGTHS.index(self.fm_prompt_attack_min)


TIERS: dict[str, Tier] = {
    "public": Tier(
        name="public", rank=0,
        summary="Public or synthetic data: defended edge, NAT egress, AWS-managed keys.",
        training_egress="nat", inference_egress="nat", eks_public_endpoint="open", nat_gateways="single",
        keys="aws-managed", key_rotation=False,
        s3_tls_only=False, s3_versioning=False, s3_access_logging=False, s3_object_lock=False,
        log_retention_days=30,
        waf_managed_rule_groups=(WAF_COMMON,), waf_geo_allowlist=False, waf_prompt_payload=True, accounts="shared",
        api_auth=("iam", "cognito", "jwt"),
        spot_training=True, spot_inference=True,
        min_inference_regions=1, dns_routing="latency", residency_required=False,
        siem_sources=("cloudtrail",), siem_archive_object_lock=False, audit_replica=False,
        model_replication_sla=False, cloudtrail_data_events=False,
        guardduty=False, guardduty_eks_runtime=False, guardduty_s3_malware=False,
        fm_profiles="global", fm_pii_actions=("anonymize", "block", "none"), fm_prompt_attack_min="none",
        anomaly_band_width=3, plain_email_notifications=True, lineage_to_siem=False,
        macie=False, image_digests=False, protect_stateful=False, retain_on_delete=False,
    ),
    "internal": Tier(
        name="internal", rank=1,
        summary="Internal business data: CMKs with rotation, TLS-only buckets, GuardDuty.",
        training_egress="nat", inference_egress="nat", eks_public_endpoint="allowlisted", nat_gateways="per-az",
        keys="cmk", key_rotation=True,
        s3_tls_only=True, s3_versioning=True, s3_access_logging=False, s3_object_lock=False,
        log_retention_days=90,
        waf_managed_rule_groups=(WAF_COMMON, WAF_KNOWN_BAD_INPUTS, WAF_IP_REPUTATION),
        waf_geo_allowlist=False, waf_prompt_payload=True, accounts="shared",
        api_auth=("iam", "cognito", "jwt"),
        spot_training=True, spot_inference=True,
        min_inference_regions=1, dns_routing="latency", residency_required=False,
        siem_sources=("cloudtrail", "waf", "api-access"), siem_archive_object_lock=False, audit_replica=False,
        model_replication_sla=False, cloudtrail_data_events=False,
        guardduty=True, guardduty_eks_runtime=False, guardduty_s3_malware=False,
        fm_profiles="global", fm_pii_actions=("anonymize", "block"), fm_prompt_attack_min="medium",
        anomaly_band_width=3, plain_email_notifications=True, lineage_to_siem=False,
        macie=False, image_digests=False, protect_stateful=False, retain_on_delete=False,
    ),
    "confidential": Tier(
        name="confidential", rank=2,
        summary="Customer or proprietary data: air-gapped training, CMK per data domain, DLP.",
        training_egress="endpoints", inference_egress="endpoints", eks_public_endpoint="none", nat_gateways=None,
        keys="cmk-per-domain", key_rotation=True,
        s3_tls_only=True, s3_versioning=True, s3_access_logging=True, s3_object_lock=False,
        log_retention_days=365,
        waf_managed_rule_groups=(
            WAF_COMMON, WAF_KNOWN_BAD_INPUTS, WAF_IP_REPUTATION, WAF_SQLI, WAF_ANONYMOUS_IP,
        ),
        waf_geo_allowlist=False, waf_prompt_payload=True, accounts="training-inference",
        api_auth=("iam", "cognito"),
        spot_training=True, spot_inference=False,
        min_inference_regions=2, dns_routing="latency", residency_required=True,
        siem_sources=("cloudtrail", "waf", "api-access", "vpc-flow", "eks-audit"),
        siem_archive_object_lock=False, audit_replica=False, model_replication_sla=False,
        cloudtrail_data_events=True,
        guardduty=True, guardduty_eks_runtime=True, guardduty_s3_malware=False,
        fm_profiles="geographic", fm_pii_actions=("block", "anonymize"), fm_prompt_attack_min="medium",
        anomaly_band_width=2.5, plain_email_notifications=False, lineage_to_siem=True,
        macie=True, image_digests=False, protect_stateful=True, retain_on_delete=False,
    ),
    "restricted": Tier(
        name="restricted", rank=3,
        summary="Regulated data (PHI, PCI, trading): all of confidential, immutable audit, "
        "IAM-only API, geo allowlist, no spot.",
        training_egress="endpoints", inference_egress="endpoints", eks_public_endpoint="none", nat_gateways=None,
        keys="cmk-per-domain", key_rotation=True,
        s3_tls_only=True, s3_versioning=True, s3_access_logging=True, s3_object_lock=True,
        log_retention_days=2557,
        waf_managed_rule_groups=(
            WAF_COMMON, WAF_KNOWN_BAD_INPUTS, WAF_IP_REPUTATION, WAF_SQLI, WAF_ANONYMOUS_IP,
        ),
        waf_geo_allowlist=True, waf_prompt_payload=False, accounts="three",
        api_auth=("iam",),
        spot_training=False, spot_inference=False,
        min_inference_regions=2, dns_routing="failover", residency_required=True,
        siem_sources=("cloudtrail", "waf", "api-access", "vpc-flow", "eks-audit"),
        siem_archive_object_lock=True, audit_replica=True, model_replication_sla=True,
        cloudtrail_data_events=True,
        guardduty=True, guardduty_eks_runtime=True, guardduty_s3_malware=True,
        fm_profiles="geographic", fm_pii_actions=("block",), fm_prompt_attack_min="high",
        anomaly_band_width=2, plain_email_notifications=False, lineage_to_siem=True,
        macie=True, image_digests=True, protect_stateful=True, retain_on_delete=True,
    ),
}


def get_tier(name: str) -> Tier:
    try:
        return TIERS[name]
    except KeyError:
        raise KeyError(f"unknown tier {name!r}: use one of {', '.join(TIER_NAMES)}") from None


# ---------------------------------------------------------------------------------------
# The matrix as people read it (DESIGN.md): one row per guardrail, one cell per tier.
# ---------------------------------------------------------------------------------------

_WAF_SHORT = {
    WAF_COMMON: "Common",
    WAF_KNOWN_BAD_INPUTS: "KnownBadInputs",
    WAF_IP_REPUTATION: "IpReputation",
    WAF_SQLI: "SQLi",
    WAF_ANONYMOUS_IP: "AnonymousIp",
}


def _egress(t: Tier) -> str:
    return "NAT" if t.training_egress == "nat" else "none: VPC endpoints only"


def _inference_egress(t: Tier) -> str:
    return "NAT" if t.inference_egress == "nat" else "none: VPC endpoints only"


def _eks(t: Tier) -> str:
    return {
        "open": "public + private",
        "allowlisted": "private, public allowlisted",
        "none": "private only",
    }[t.eks_public_endpoint]


def _keys(t: Tier) -> str:
    return {
        "aws-managed": "KMS (AWS managed)",
        "cmk": "CMK",
        "cmk-per-domain": "CMK per data domain",
    }[t.keys] + (", rotation" if t.key_rotation else "")


def _s3(t: Tier) -> str:
    parts = ["block public", "SSE"]
    if t.s3_tls_only:
        parts.append("TLS-only")
    if t.s3_versioning:
        parts.append("versioning")
    if t.s3_access_logging:
        parts.append("access logging")
    if t.s3_object_lock:
        parts.append("Object Lock on audit and model buckets")
    return ", ".join(parts)


def _waf(t: Tier) -> str:
    groups = [_WAF_SHORT[g] for g in t.waf_managed_rule_groups] + ["rate limit"]
    if t.waf_geo_allowlist:
        groups.append("geo allowlist from residency")
    return ", ".join(groups)


def _waf_prompt(t: Tier) -> str:
    return "count, labelled + alarmed" if t.waf_prompt_payload else "block (no prompt payload)"


def _spot(t: Tier) -> str:
    if t.spot_training and t.spot_inference:
        return "yes"
    if t.spot_training:
        return "training only"
    return "no"


def _siem(t: Tier) -> str:
    text = ", ".join(t.siem_sources)
    if t.cloudtrail_data_events:
        text += ", S3 data events"
    text += ", Object Lock archive" if t.siem_archive_object_lock else ""
    return text + (", audit copy in a second region" if t.audit_replica else "")


def _threats(t: Tier) -> str:
    if not t.guardduty:
        return "optional"
    parts = ["GuardDuty"]
    if t.guardduty_eks_runtime:
        parts.append("EKS runtime")
    if t.guardduty_s3_malware:
        parts.append("S3 malware protection")
    return ", ".join(parts)


def _stateful(t: Tier) -> str:
    if t.retain_on_delete:
        return "protect + retainOnDelete"
    return "protect" if t.protect_stateful else "-"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _accounts(t: Tier) -> str:
    return {
        "shared": "one account allowed",
        "training-inference": "training and inference separate (log archive advised)",
        "three": "training, inference, log archive: three accounts",
    }[t.accounts]


def _foundation_models(t: Tier) -> str:
    profiles = ("global., residency's geographic profile or base model" if t.fm_profiles == "global"
                else "base model or the residency's geographic profile (eu., us.)")
    pii = "/".join(t.fm_pii_actions)
    return f"{profiles}; PII {pii}; prompt attack >= {t.fm_prompt_attack_min}; invocation logging"


MATRIX_ROWS: tuple[tuple[str, Callable[[Tier], str]], ...] = (
    ("accounts", _accounts),
    ("training VPC egress", _egress),
    ("inference VPC egress", _inference_egress),
    ("EKS API endpoint", _eks),
    ("keys", _keys),
    ("S3", _s3),
    ("log retention (days)", lambda t: str(t.log_retention_days)),
    ("WAF", _waf),
    ("WAF body rules, prompt payload", _waf_prompt),
    ("API auth", lambda t: ", ".join(t.api_auth)),
    ("spot capacity", _spot),
    ("inference regions (min)", lambda t: str(t.min_inference_regions)),
    ("DNS between regions", lambda t: t.dns_routing),
    ("residency", lambda t: "required" if t.residency_required else "any"),
    ("SIEM sources", _siem),
    ("threat detection", _threats),
    ("DLP (Macie) on training data", lambda t: _yes_no(t.macie)),
    ("foundation models", _foundation_models),
    ("model replicas per inference region", lambda t: "S3 RTC: within 15 minutes" if t.model_replication_sla
     else "S3 Replication, best effort"),
    ("container images", lambda t: "by digest (@sha256:)" if t.image_digests else "tag or digest"),
    ("stateful resources", _stateful),
    ("anomaly detection band (std devs)", lambda t: f"{t.anomaly_band_width:g}"),
    ("cost notifications", lambda t: "SNS + owner email" if t.plain_email_notifications else "SNS only (encrypted)"),
    ("model promotion events", lambda t: "SNS + SIEM" if t.lineage_to_siem else "SNS"),
)


def matrix() -> list[dict[str, str]]:
    """The guardrail matrix: one dict per row, `guardrail` plus one key per tier."""
    return [
        {"guardrail": label, **{name: cell(TIERS[name]) for name in TIER_NAMES}}
        for label, cell in MATRIX_ROWS
    ]


def matrix_markdown() -> str:
    rows = matrix()
    header = "| guardrail | " + " | ".join(TIER_NAMES) + " |"
    sep = "|---" * (len(TIER_NAMES) + 1) + "|"
    body = [
        "| " + " | ".join([row["guardrail"], *(row[t] for t in TIER_NAMES)]) + " |"
        for row in rows
    ]
    return "\n".join([header, sep, *body]) + "\n"


def matrix_json() -> str:
    """Machine-readable: the display matrix and every tier's raw settings."""
    return json.dumps(
        {"matrix": matrix(), "tiers": {name: asdict(TIERS[name]) for name in TIER_NAMES}},
        indent=2,
    ) + "\n"
