"""Data protection: buckets are private, TLS-only, versioned and (for audit evidence and models)
immutable; ACLs are off; images are immutable and scanned; training data is classified (Macie).

Audit buckets are found from data: CloudTrail's `s3BucketName` and every S3 destination or
backup of a Firehose stream (the SIEM archive). The model bucket is the one whose logical name
has a `model`/`models` segment (the training blueprint's `<name>-models`).
"""

from __future__ import annotations

from typing import Iterable, Optional

from policies.controls import (
    DATA_DISCOVERY, IMMUTABILITY, IN_TRANSIT, PUBLIC_ACCESS, RECOVERY, VULNERABILITY, merge,
)
from policies.model import PolicyPlan, PolicyResource, as_list, dig, policy_document, statements, urn_name
from policies.rule import (
    PROHIBITION, Result, RuleContext, always, check, fail, mandatory_if, na, ok, plan_rule, resource_rule,
)
from policies.rules._aws import (
    BUCKET, BUCKET_OBJECT_LOCK, BUCKET_OWNERSHIP, BUCKET_PAB, BUCKET_POLICY, BUCKET_REPLICATION, BUCKET_VERSIONING,
    ECR_REPOSITORY,
    EVERY_STACK, MACIE_ACCOUNT, MACIE_JOB, TRAINING, audit_buckets, bucket_parts, bucket_policy_documents,
    is_model_bucket, truthy,
)
from policies.rules._statements import BUCKET_POLICY as BUCKET_POLICY_KIND, describe_open

AREA = "data protection"
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@plan_rule(
    id="AIB-070", scope=EVERY_STACK, missing="no S3 bucket with a public access block", title="Every S3 bucket blocks all public access",
    severity="critical", area=AREA, types=(BUCKET, BUCKET_PAB), controls=PUBLIC_ACCESS,
    level=always("mandatory"),
)
def bucket_public_access_block(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A BucketPublicAccessBlock with all four flags true."""
    for bucket in plan.of_type(BUCKET):
        blocks = bucket_parts(plan, bucket, BUCKET_PAB)
        full = [b for b in blocks if all(truthy(b.get(f)) for f in PAB_FLAGS)]
        if full:
            yield ok("all public access blocked", bucket)
        elif blocks:
            off = sorted({f for b in blocks for f in PAB_FLAGS if not truthy(b.get(f))})
            yield fail(f"public access block has {', '.join(off)} off", bucket)
        else:
            yield fail("no public access block", bucket)


def _denies_insecure_transport(doc) -> bool:
    for stmt in statements(doc):
        condition = stmt.get("Condition") or {}
        if stmt.get("Effect") == "Deny" and str((condition.get("Bool") or {}).get("aws:SecureTransport")).lower() == "false":
            return True
    return False


@plan_rule(
    id="AIB-071", scope=EVERY_STACK, missing="no S3 bucket with a TLS-only policy", title="Every S3 bucket policy denies requests that do not use TLS",
    severity="high", area=AREA, types=(BUCKET, BUCKET_POLICY), controls=IN_TRANSIT,
    level=mandatory_if("s3_tls_only", otherwise="disabled"),
)
def bucket_tls_only(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A Deny statement conditioned on aws:SecureTransport false."""
    for bucket in plan.of_type(BUCKET):
        docs = bucket_policy_documents(plan, bucket)
        if docs and all(d is None for d in docs):
            yield na("bucket policy unknown until apply", bucket)
            continue
        yield check(any(_denies_insecure_transport(d) for d in docs), "TLS-only bucket policy",
                    "no bucket policy statement denies aws:SecureTransport false", bucket)


@plan_rule(
    id="AIB-072", scope=EVERY_STACK, missing="no S3 bucket with versioning", title="Every S3 bucket has versioning enabled",
    severity="medium", area=AREA, types=(BUCKET, BUCKET_VERSIONING), controls=RECOVERY,
    level=mandatory_if("s3_versioning", otherwise="disabled"),
)
def bucket_versioning(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A BucketVersioning with status Enabled: overwritten or deleted objects can be recovered."""
    for bucket in plan.of_type(BUCKET):
        on = any((v.get("versioningConfiguration") or {}).get("status") == "Enabled"
                 for v in bucket_parts(plan, bucket, BUCKET_VERSIONING))
        on = on or truthy(bucket.get("versioning", "enabled"))
        yield check(on, "versioning enabled", "versioning not enabled", bucket)


@plan_rule(
    id="AIB-073", scope=EVERY_STACK, missing="no audit or model bucket under Object Lock", title="Audit and model buckets have Object Lock in COMPLIANCE mode where the tier requires it",
    severity="high", area=AREA, types=(BUCKET, BUCKET_OBJECT_LOCK, BUCKET_REPLICATION), controls=IMMUTABILITY,
    requires=(BUCKET, BUCKET_OBJECT_LOCK),
    level=lambda t: "mandatory" if t.s3_object_lock or t.siem_archive_object_lock else "disabled",
    level_doc="mandatory where `s3_object_lock` (or `siem_archive_object_lock`); off otherwise",
)
def bucket_object_lock(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """objectLockEnabled on the bucket and a default retention in COMPLIANCE mode, so nobody
    (root included) can shorten or delete the evidence. An audit bucket that a service must
    write to without checksums (Firehose, AWS Config) may instead be a staging bucket: one
    enabled replication rule for every object into a bucket of the stack that is itself locked
    in COMPLIANCE mode."""
    audit = {b.urn for b in audit_buckets(plan)}
    for bucket in plan.of_type(BUCKET):
        if bucket.urn not in audit and not is_model_bucket(bucket):
            continue
        what = "audit bucket" if bucket.urn in audit else "model bucket"
        if truthy(bucket.get("objectLockEnabled")):
            yield check(_locked(plan, bucket), f"{what} locked in COMPLIANCE mode",
                        f"{what} has no COMPLIANCE default retention", bucket)
            continue
        target = _replicates_every_object_to(plan, bucket) if what == "audit bucket" else None
        if target is not None and _locked(plan, target):
            yield ok(f"staging bucket: S3 replicates every object into {urn_name(target.urn)}, locked in COMPLIANCE mode",
                     bucket)
        else:
            yield fail(f"{what} without Object Lock (objectLockEnabled) and not replicated into a locked bucket", bucket)


def _locked(plan: PolicyPlan, bucket: PolicyResource) -> bool:
    modes = [(c.get("rule") or {}).get("defaultRetention", {}).get("mode")
             for c in bucket_parts(plan, bucket, BUCKET_OBJECT_LOCK)]
    return truthy(bucket.get("objectLockEnabled")) and "COMPLIANCE" in modes


def _replicates_every_object_to(plan: PolicyPlan, bucket: PolicyResource) -> Optional[PolicyResource]:
    """The bucket of this plan that an enabled, unfiltered replication rule copies every object to."""
    for config in bucket_parts(plan, bucket, BUCKET_REPLICATION):
        for rule in as_list(config.get("rules")):
            if not isinstance(rule, dict) or rule.get("status") != "Enabled":
                continue
            prefix = dig(rule, "filter", "prefix", default="")
            if prefix or dig(rule, "filter", "tag") or dig(rule, "filter", "and"):
                continue
            target = plan.lookup(dig(rule, "destination", "bucket"), [BUCKET])
            if target is not None:
                return target
    return None


@plan_rule(
    id="AIB-074", scope=EVERY_STACK, missing="no S3 bucket with ACLs disabled", title="Every S3 bucket disables ACLs (BucketOwnerEnforced)",
    severity="medium", area=AREA, types=(BUCKET, BUCKET_OWNERSHIP), controls=PUBLIC_ACCESS,
    level=always("mandatory"),
)
def bucket_acls_disabled(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Object ownership BucketOwnerEnforced: access is decided by policies alone."""
    for bucket in plan.of_type(BUCKET):
        enforced = any((c.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced"
                       for c in bucket_parts(plan, bucket, BUCKET_OWNERSHIP))
        yield check(enforced, "ACLs disabled", "object ownership is not BucketOwnerEnforced", bucket)


@resource_rule(
    id="AIB-075", scope=PROHIBITION, title="No S3 bucket policy allows anonymous access",
    severity="critical", area=AREA, types=(BUCKET_POLICY,), controls=PUBLIC_ACCESS,
    level=always("mandatory"),
)
def bucket_policy_not_public(r: PolicyResource, ctx: RuleContext) -> Result:
    """No Allow for any principal ("*", {"AWS": "*"}, NotPrincipal) without a condition that
    limits who: the caller's account or organization, the source a service acts for, the VPC
    endpoint, or the account's access points (the test every resource policy gets,
    `policies/rules/_statements.py`). aws:SecureTransport or aws:SourceIp alone leave the
    bucket open to every AWS account, and to anonymous requests."""
    doc = policy_document(r.get("policy"))
    if doc is None:
        return na("policy unknown until apply")
    public = describe_open(doc, BUCKET_POLICY_KIND)
    return check(not public, "no anonymous Allow",
                 f"allows any principal with no condition that limits who: {'; '.join(public)}")


@plan_rule(
    id="AIB-076", scope=TRAINING, missing="no Macie account and classification job", title="Macie classifies the training data where the tier requires DLP",
    severity="high", area=AREA, types=(MACIE_ACCOUNT, MACIE_JOB), controls=DATA_DISCOVERY,
    level=mandatory_if("macie", otherwise="disabled"),
)
def macie_enabled(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A Macie account (status ENABLED) and a classification job, once training (and its data)
    is in the plan."""
    accounts = plan.of_type(MACIE_ACCOUNT)
    jobs = plan.of_type(MACIE_JOB)
    for account in accounts:
        yield check(account.get("status", default="ENABLED") == "ENABLED", "Macie enabled", "Macie status is PAUSED", account)
    for job in jobs:
        yield ok("classification job over the training data", job)
    if jobs and not accounts:
        yield fail("no Macie account (aws:macie2/account:Account)", plan.stack_urn)
    if accounts and not jobs:
        yield fail("no Macie classification job over the training data", plan.stack_urn)


@resource_rule(
    id="AIB-077", scope=TRAINING, missing="no ECR repository for the training images", title="ECR repositories have immutable image tags",
    severity="medium", area=AREA, types=(ECR_REPOSITORY,), controls=merge(IMMUTABILITY, {"sox-itgc": ["ITGC-PC"]}),
    level=always("mandatory"),
)
def ecr_immutable_tags(r: PolicyResource, ctx: RuleContext) -> Result:
    """imageTagMutability IMMUTABLE: a deployed tag always names the same image."""
    value = r.get("imageTagMutability", default="MUTABLE")
    return check(str(value).startswith("IMMUTABLE"), "tags immutable", f"imageTagMutability {value}")


@resource_rule(
    id="AIB-078", scope=TRAINING, missing="no ECR repository for the training images", title="ECR repositories scan images on push",
    severity="medium", area=AREA, types=(ECR_REPOSITORY,), controls=VULNERABILITY,
    level=always("mandatory"),
)
def ecr_scan_on_push(r: PolicyResource, ctx: RuleContext) -> Result:
    """imageScanningConfiguration.scanOnPush true."""
    return check(truthy(r.get("imageScanningConfiguration", "scanOnPush")), "scan on push",
                 "imageScanningConfiguration.scanOnPush is not true")
