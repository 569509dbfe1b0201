"""Encryption at rest: default bucket encryption with the tier's keys, key rotation, and KMS on
every service that stores data or logs (EKS secrets, EBS, FSx, ECR, SNS, Firehose, CloudTrail,
Lambda environments, log groups)."""

from __future__ import annotations

from typing import Iterable, Optional

from policies.controls import AT_REST, KEY_MANAGEMENT, LOG_PROTECTION, merge
from policies.model import PolicyPlan, PolicyResource, as_list, is_unknown
from policies.rule import (
    PROHIBITION, Result, RuleContext, always, check, fail, mandatory_if, na, ok, plan_rule, resource_rule, tier_level,
)
from policies.rules._aws import (
    BUCKET, BUCKET_SSE, CLUSTERS, EBS_VOLUME, ECR_REPOSITORY, EKS_CLUSTER, EVERY_STACK, FIREHOSE, FSX_LUSTRE, INFERENCE,
    INSTANCE, KMS_KEY, LAMBDA_FUNCTION, LAUNCH_TEMPLATE, LOG_GROUP, SNS_TOPIC, TRAIL, TRAINING, audit_buckets,
    bucket_parts, is_access_log_target, is_model_bucket, is_set, truthy,
)

AREA = "encryption"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
_CMK_WHERE = "the tier uses customer managed keys (`keys` is `cmk` or `cmk-per-domain`)"
_cmk_only = mandatory_if("cmk", otherwise="disabled", where=_CMK_WHERE)
_cmk_or_off = mandatory_if("cmk", otherwise="disabled", where=_CMK_WHERE)


def _sse_defaults(plan: PolicyPlan, bucket: PolicyResource) -> list[dict]:
    """Every default-encryption rule of a bucket (its SSE configuration, or the legacy inline one)."""
    rules = [rule for cfg in bucket_parts(plan, bucket, BUCKET_SSE) for rule in as_list(cfg.get("rules"))]
    rules += as_list(bucket.get("serverSideEncryptionConfiguration", "rule"))
    return [rule.get("applyServerSideEncryptionByDefault") or {} for rule in rules if isinstance(rule, dict)]


@plan_rule(
    id="AIB-020", scope=EVERY_STACK, missing="no S3 bucket with default encryption", title="Every S3 bucket has default server-side encryption",
    severity="high", area=AREA, types=(BUCKET, BUCKET_SSE), controls=AT_REST,
    level=always("mandatory"),
)
def bucket_default_encryption(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A bucket without a managed encryption configuration depends on account defaults."""
    for bucket in plan.of_type(BUCKET):
        algorithms = sorted({str(d.get("sseAlgorithm")) for d in _sse_defaults(plan, bucket) if d.get("sseAlgorithm")})
        yield check(bool(algorithms), f"default encryption {', '.join(algorithms)}",
                    "no server-side encryption configuration", bucket)


@plan_rule(
    id="AIB-021", scope=EVERY_STACK, missing="no S3 bucket encrypted with a customer managed key", title="Every S3 bucket encrypts with a customer managed KMS key (server-access-log targets use SSE-S3, as S3 requires)",
    severity="high", area=AREA, types=(BUCKET, BUCKET_SSE), controls=merge(AT_REST, KEY_MANAGEMENT),
    level=_cmk_only,
)
def bucket_cmk_encryption(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """SSE-KMS with kmsMasterKeyId set. The exception is recognised from data, not names: a
    bucket whose policy allows `logging.s3.amazonaws.com` to write is a server-access-log
    target, and S3 only delivers access logs to SSE-S3 (AES256) buckets."""
    for bucket in plan.of_type(BUCKET):
        defaults = _sse_defaults(plan, bucket)
        if is_access_log_target(plan, bucket):
            aes = any(d.get("sseAlgorithm") == "AES256" for d in defaults)
            yield check(aes, "server-access-log target encrypted with SSE-S3 (required by S3)",
                        "server-access-log target must use SSE-S3 (AES256)", bucket)
            continue
        cmk = [d for d in defaults if d.get("sseAlgorithm") in KMS_ALGORITHMS and is_set(d.get("kmsMasterKeyId"))]
        if cmk:
            yield ok("SSE-KMS with a customer managed key", bucket)
        elif defaults:
            yield fail("default encryption does not name a KMS key (kmsMasterKeyId)", bucket)
        else:
            yield fail("no server-side encryption configuration", bucket)


@resource_rule(
    id="AIB-022", scope=EVERY_STACK, missing="no KMS key", title="KMS keys rotate automatically",
    severity="high", area=AREA, types=(KMS_KEY,), controls=KEY_MANAGEMENT,
    level=mandatory_if("key_rotation"),
)
def kms_key_rotation(r: PolicyResource, ctx: RuleContext) -> Result:
    """Only symmetric encryption keys can rotate; other key specs are not applicable."""
    spec = r.get("customerMasterKeySpec") or r.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        return na(f"{spec} keys cannot rotate automatically")
    return check(truthy(r.get("enableKeyRotation")), "rotation on", "enableKeyRotation is not true")


def _key_set(field: str, what: str):
    def rule(r: PolicyResource, ctx: RuleContext) -> Result:
        return check(is_set(r.get(field)), f"{what} with a customer managed key", f"{field} not set")
    rule.__doc__ = f"{what} with a customer managed key ({field})."
    return rule


resource_rule(
    id="AIB-023", scope=EVERY_STACK, missing="no CloudWatch log group", title="CloudWatch log groups are encrypted with a customer managed KMS key",
    severity="medium", area=AREA, types=(LOG_GROUP,), controls=merge(AT_REST, LOG_PROTECTION),
    level=_cmk_only,
    description="Log groups hold audit evidence and request data; kmsKeyId names the tier's logs key.",
)(_key_set("kmsKeyId", "log group encrypted"))


@resource_rule(
    id="AIB-024", scope=CLUSTERS, missing="no EKS cluster", title="EKS encrypts Kubernetes secrets with a KMS key",
    severity="high", area=AREA, types=(EKS_CLUSTER,), controls=merge(AT_REST, KEY_MANAGEMENT),
    level=_cmk_or_off,
)
def eks_secrets_encryption(r: PolicyResource, ctx: RuleContext) -> Result:
    """Envelope encryption of secrets with encryptionConfig (resources ["secrets"], provider.keyArn)."""
    configs = as_list(r.get("encryptionConfig"))
    good = [c for c in configs if isinstance(c, dict) and "secrets" in as_list(c.get("resources"))
            and is_set((c.get("provider") or {}).get("keyArn"))]
    return check(bool(good), "secrets envelope-encrypted with a KMS key", "encryptionConfig for secrets with provider.keyArn not set")


def _block_devices(r: PolicyResource) -> list[dict]:
    if r.type == EBS_VOLUME:
        return [dict(r.inputs)]
    devices = [d.get("ebs") or {} for d in as_list(r.get("blockDeviceMappings")) if isinstance(d, dict)]
    if r.type == INSTANCE:
        devices += [d for d in as_list(r.get("ebsBlockDevices")) if isinstance(d, dict)]
        if isinstance(r.get("rootBlockDevice"), dict):
            devices.append(r.get("rootBlockDevice"))
    return devices


@resource_rule(
    id="AIB-025", scope=CLUSTERS, requires=(LAUNCH_TEMPLATE,), missing="no launch template declares the nodes' encrypted volumes", title="EBS volumes (launch templates, instances, volumes) are encrypted, with a customer managed key where the tier uses CMKs",
    severity="high", area=AREA, types=(LAUNCH_TEMPLATE, INSTANCE, EBS_VOLUME), controls=AT_REST,
    level=always("mandatory"), level_doc=" (the key is required where the tier uses CMKs)",
)
def ebs_encryption(r: PolicyResource, ctx: RuleContext) -> Result:
    """Node root volumes hold model weights and cached training data. A launch template must
    declare its volumes so that encryption does not depend on the account default."""
    devices = _block_devices(r)
    if not devices:
        return fail("no block device mapping declares an encrypted volume")
    plain = [d for d in devices if not truthy(d.get("encrypted"))]
    if plain:
        return fail(f"{len(plain)} volume(s) not encrypted")
    if ctx.tier.cmk and not all(is_set(d.get("kmsKeyId")) for d in devices):
        return fail("encrypted with the AWS managed key; the tier requires a customer managed kmsKeyId")
    return ok(f"{len(devices)} volume(s) encrypted")


resource_rule(
    id="AIB-026", scope=TRAINING, missing="no FSx for Lustre file system", title="FSx for Lustre file systems are encrypted with a customer managed KMS key",
    severity="high", area=AREA, types=(FSX_LUSTRE,), controls=merge(AT_REST, KEY_MANAGEMENT),
    level=_cmk_only,
    description="The Lustre scratch of training data is encrypted with the training-data key (kmsKeyId).",
)(_key_set("kmsKeyId", "file system encrypted"))


@resource_rule(
    id="AIB-027", scope=TRAINING, missing="no ECR repository for the training images", title="ECR repositories are encrypted with a customer managed KMS key",
    severity="medium", area=AREA, types=(ECR_REPOSITORY,), controls=merge(AT_REST, KEY_MANAGEMENT),
    level=_cmk_only,
)
def ecr_kms(r: PolicyResource, ctx: RuleContext) -> Result:
    """encryptionConfigurations[].encryptionType KMS with kmsKey (the models key)."""
    configs = [c for c in as_list(r.get("encryptionConfigurations")) if isinstance(c, dict)]
    good = [c for c in configs if c.get("encryptionType") == "KMS" and is_set(c.get("kmsKey"))]
    return check(bool(good), "images encrypted with a customer managed key", "encryptionType KMS with kmsKey not set (AES256 default)")


resource_rule(
    id="AIB-028", scope=INFERENCE, missing="no SNS topic for alarms", title="SNS topics are encrypted with a KMS key",
    severity="medium", area=AREA, types=(SNS_TOPIC,), controls=AT_REST,
    level=_cmk_or_off,
    description="Alarm and finding notifications can carry resource names and data; kmsMasterKeyId is set.",
)(_key_set("kmsMasterKeyId", "topic encrypted"))


@resource_rule(
    id="AIB-029", scope=EVERY_STACK, missing="no Firehose delivery stream ships to the SIEM", title="Firehose delivery streams encrypt at rest (with a customer managed key where the tier uses CMKs)",
    severity="high", area=AREA, types=(FIREHOSE,), controls=merge(AT_REST, LOG_PROTECTION),
    level=always("mandatory"), level_doc=" (CUSTOMER_MANAGED_CMK where the tier uses CMKs)",
)
def firehose_encryption(r: PolicyResource, ctx: RuleContext) -> Result:
    """Direct-PUT streams buffer SIEM data; serverSideEncryption.enabled, and keyType
    CUSTOMER_MANAGED_CMK with keyArn on CMK tiers. Streams fed by a Kinesis stream inherit its
    encryption and are not applicable."""
    if is_set(r.get("kinesisSourceConfiguration")) or is_set(r.get("mskSourceConfiguration")):
        return na("the source stream's encryption applies")
    sse = r.get("serverSideEncryption") or {}
    if not truthy(sse.get("enabled")):
        return fail("serverSideEncryption.enabled is not true")
    if ctx.tier.cmk and not (sse.get("keyType") == "CUSTOMER_MANAGED_CMK" and is_set(sse.get("keyArn"))):
        return fail("serverSideEncryption keyType is not CUSTOMER_MANAGED_CMK with a keyArn")
    return ok("encrypted at rest")


resource_rule(
    id="AIB-030", scope=EVERY_STACK, missing="no CloudTrail trail", title="CloudTrail encrypts its log files with a KMS key",
    severity="high", area=AREA, types=(TRAIL,), controls=merge(AT_REST, LOG_PROTECTION),
    level=_cmk_or_off,
    description="SSE-KMS on the trail (kmsKeyId) on top of the bucket's encryption restricts who can read the audit log.",
)(_key_set("kmsKeyId", "trail encrypted"))


@resource_rule(
    id="AIB-031", scope=PROHIBITION, title="Lambda environment variables are encrypted with a customer managed KMS key",
    severity="medium", area=AREA, types=(LAMBDA_FUNCTION,), controls=AT_REST,
    level=_cmk_only,
)
def lambda_environment_kms(r: PolicyResource, ctx: RuleContext) -> Result:
    """Functions with environment variables set kmsKeyArn; functions without are not applicable."""
    if not is_set(r.get("environment", "variables")):
        return na("no environment variables")
    return check(is_set(r.get("kmsKeyArn")), "environment encrypted with a customer managed key", "kmsKeyArn not set")


def _key_of(plan: PolicyPlan, bucket: PolicyResource) -> Optional[str]:
    """The CMK a bucket's default encryption names: its ARN, "" when none is named, None when
    it is unknown until apply."""
    keys = [d.get("kmsMasterKeyId") for d in _sse_defaults(plan, bucket)
            if d.get("sseAlgorithm") in KMS_ALGORITHMS and is_set(d.get("kmsMasterKeyId"))]
    if any(is_unknown(k) for k in keys):
        return None
    return str(keys[0]) if keys else ""


def data_domain(plan: PolicyPlan, bucket: PolicyResource, audit: set[str]) -> Optional[str]:
    """The data domain a bucket holds: audit evidence, models, or training data (any other
    bucket of the training tree); None for the rest (server-access-log targets among them)."""
    if bucket.urn in audit:
        return "audit"
    if is_access_log_target(plan, bucket):
        return None
    if is_model_bucket(bucket):
        return "models"
    return "training data" if plan.in_training(bucket) else None


@plan_rule(
    id="AIB-032", scope=TRAINING, requires=(BUCKET, BUCKET_SSE),
    missing="no training-data or model bucket encrypted with its own key",
    title="Training data, models and audit evidence are encrypted with separate customer managed keys where the tier keys per data domain",
    severity="high", area=AREA, types=(BUCKET, BUCKET_SSE, TRAIL, FIREHOSE), controls=merge(AT_REST, KEY_MANAGEMENT),
    level=tier_level(lambda t: "mandatory" if t.keys == "cmk-per-domain" else "disabled",
                     "mandatory where `keys` is `cmk-per-domain`; off otherwise"),
)
def key_per_data_domain(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Each domain's buckets use a key no other domain's bucket uses: whoever may decrypt the
    audit trail cannot, by that grant alone, read training data or models (and the reverse). A
    domain's bucket without a named CMK fails; one whose key is unknown until apply is not
    applicable."""
    audit = {b.urn for b in audit_buckets(plan)}
    keyed: list[tuple[PolicyResource, str, str]] = []
    for bucket in plan.of_type(BUCKET):
        domain = data_domain(plan, bucket, audit)
        if domain is None:
            continue
        key = _key_of(plan, bucket)
        if key is None:
            yield na("key unknown until apply", bucket)
        elif not key:
            yield fail(f"{domain} bucket names no customer managed key, so none of its own", bucket)
        else:
            keyed.append((bucket, domain, key))
    for bucket, domain, key in keyed:
        shared = sorted({d for _, d, k in keyed if k == key and d != domain})
        yield check(not shared, f"{domain} key used by no other data domain",
                    f"{domain} bucket shares its key with {', '.join(shared)}", bucket)
