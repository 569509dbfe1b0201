"""Fixtures of the account rules (AIB-160 to AIB-165): the stack's declared accounts, training,
production inference and the audit evidence each in its own account, no workload where the
evidence is kept, and no resource policy that admits an account outside the stack.

A fixture declares the plan's accounts with `declare` and places resources in an account with
`in_account` (their provider assumes a role there, and their ARNs name it, as the offline
engine's mocks do); resources added outside it stay on the home provider, which assumes no role
(the deploying account, 123456789012 in the ARNs)."""

from __future__ import annotations

import contextlib
import json
from typing import Iterator, Optional

from policies.model import AWS_PROVIDER_TYPE
from policies.rules._aws import (
    BUCKET_REPLICATION, EKS_CLUSTER, FIREHOSE, FSX_LUSTRE, KMS_KEY, LAMBDA_FUNCTION, METRIC_ALARM, R53_HEALTH_CHECK,
    SNS_TOPIC, TRAIL, VPC, WEB_ACL_ASSOCIATION, WEB_ACL_LOGGING, ECR_REPOSITORY, CONFIG_DELIVERY_CHANNEL,
)
from policies.rules.accounts import KMS_GRANT
from policies.rules.resource_policies import LAMBDA_PERMISSION, SNS_TOPIC_POLICY
from tests.policies.plans import ACCOUNT, TLS_DENY, PlanBuilder, Ref, bucket, policy
from tests.policies.scenarios import FAIL, NA, PASS, STACK, TRAINING_VPC, scenario, stage, web_acl

TRN, INF, ARC = "111111111111", "222222222222", "333333333333"
FOREIGN = "999999999999"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def declare(b: PlanBuilder, organization: str = "", **accounts: str) -> None:
    """The plan's top-level `accounts` (role -> id), as a multi-account plan carries them, and
    its `organization` when given."""
    to_dict = b.to_dict
    extra = {"organization": organization} if organization else {}
    b.to_dict = lambda: {**to_dict(), "accounts": dict(accounts), **extra}  # type: ignore[method-assign]


def account_provider(b: PlanBuilder, account: str, region: str = "eu-west-1") -> str:
    """The explicit provider that assumes the deploy role in `account` (added once); its ref."""
    name = f"aws-{account}-{region}"
    for step in b.steps:
        if step["newState"]["type"] == AWS_PROVIDER_TYPE and step["urn"].endswith(f"::{name}"):
            return f"{step['urn']}::{step['newState']['id']}"
    roles = [{"roleArn": f"arn:aws:iam::{account}:role/ai-blueprints-deployer", "sessionName": "ai-blueprints-test"}]
    ref = b._add(AWS_PROVIDER_TYPE, name, inputs={"region": region, "assumeRoles": json.dumps(roles)}, provider=None)
    return f"{ref.urn}::{ref.id}"


@contextlib.contextmanager
def in_account(b: PlanBuilder, account: str, region: str = "eu-west-1") -> Iterator[None]:
    """Every resource added inside is registered with `account`'s provider, its ARN naming it."""
    provider = account_provider(b, account, region)
    start = len(b.steps)
    yield
    for step in b.steps[start:]:
        state = step["newState"]
        if "provider" not in state or state["type"] == AWS_PROVIDER_TYPE:
            continue
        step["provider"] = state["provider"] = provider
        arn = state["outputs"].get("arn")
        if isinstance(arn, str):
            state["outputs"]["arn"] = arn.replace(f":{ACCOUNT}:", f":{account}:")


def arn_in(ref: Ref, account: str) -> str:
    return ref.arn.replace(f":{ACCOUNT}:", f":{account}:")


def key_in(b: PlanBuilder, name: str, account: str) -> str:
    """A KMS key of the plan in `account`; its ARN."""
    with in_account(b, account):
        return arn_in(b.add(KMS_KEY, name, {"enableKeyRotation": True}), account)


def small_bucket(b: PlanBuilder, name: str, key: str, parent: Optional[Ref] = None, tags: Optional[dict] = None) -> Ref:
    """A bucket with only its default encryption (the part the account rules read)."""
    return bucket(b, name, key=key, pab=False, statements=(), versioning=False, logging=False, ownership=False,
                  parent=parent, tags=tags)


def replicate(b: PlanBuilder, source: Ref, target: Ref, name: str) -> None:
    b.add(BUCKET_REPLICATION, name, {"bucket": source.id, "role": "arn:aws:iam::1:role/r", "rules": [
        {"id": "all", "status": "Enabled", "filter": {"prefix": ""}, "destination": {"bucket": target.arn}}]},
        deps=[source])


MODEL_TAGS = {"Blueprint": "demo"}


# ==============================================================================================
# AIB-160: the accounts the tier separates are declared, and providers assume roles in them
# ==============================================================================================
@scenario("AIB-160", "three-accounts-and-providers-in-them",
          {STACK: PASS, f"aws-{TRN}-eu-west-1": PASS, f"aws-{ARC}-eu-west-1": PASS, "aws-eu-west-1": NA})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    key_in(b, "trn-key", TRN)
    key_in(b, "arc-key", ARC)
    b.add(KMS_KEY, "deployer-key", {})  # the home provider assumes no role


@scenario("AIB-160", "two-accounts-suffice-where-the-archive-is-advised",
          {STACK: PASS, f"aws-{INF}-eu-west-1": PASS, "aws-eu-west-1": NA}, tier="confidential")
def _(b):
    declare(b, training=TRN, inference=INF)
    key_in(b, "inf-key", INF)


@scenario("AIB-160", "shared-account-no-archive-and-a-provider-elsewhere",
          {STACK: FAIL, f"aws-{TRN}-eu-west-1": PASS, f"aws-{FOREIGN}-eu-west-1": FAIL, "aws-eu-west-1": NA})
def _(b):
    declare(b, training=TRN, inference=TRN)
    key_in(b, "trn-key", TRN)
    key_in(b, "stray-key", FOREIGN)


@scenario("AIB-160", "no-accounts-declared", {STACK: FAIL, "aws-eu-west-1": NA})
def _(b):
    b.add(KMS_KEY, "k", {})


# ==============================================================================================
# AIB-161: training in the training account
# ==============================================================================================
def training_part(b: PlanBuilder, data_account: str = TRN, key_account: str = TRN) -> None:
    """The training tree: its VPC and data bucket (with the training key) under `<name>-training`."""
    comp = b.component(TRAINING_VPC, "demo-training")
    key = key_in(b, "demo-training-key", key_account)
    with in_account(b, TRN):
        b.add(VPC, "demo-training-vpc", {"cidrBlock": "10.0.0.0/16"}, parent=comp)
    with in_account(b, data_account):
        small_bucket(b, "demo-training-data", key, parent=comp)


@scenario("AIB-161", "training-tree-file-system-and-model-bucket-in-training",
          {"demo-training-vpc": PASS, "demo-training-data": PASS, "demo-training-data-encryption": PASS,
           "demo-training-key": PASS, "demo-training-fs": PASS, "demo-models": PASS, "demo-models-key": PASS})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    training_part(b)
    key = key_in(b, "demo-models-key", TRN)
    with in_account(b, TRN):
        b.add(FSX_LUSTRE, "demo-training-fs", {"storageCapacity": 1200})
        small_bucket(b, "demo-models", key, tags=MODEL_TAGS)


@scenario("AIB-161", "data-bucket-moved-to-inference-key-elsewhere-and-lustre-in-the-deployer",
          {"demo-training-vpc": PASS, "demo-training-data": FAIL, "demo-training-data-encryption": FAIL,
           "demo-training-key": PASS, "demo-training-fs": FAIL, "demo-models": FAIL})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    training_part(b, data_account=INF)
    b.add(FSX_LUSTRE, "demo-training-fs", {"storageCapacity": 1200})  # no role assumed: the deploying account
    with in_account(b, TRN):  # its key is not in the plan: an inference account's key by ARN
        small_bucket(b, "demo-models", f"arn:aws:kms:eu-west-1:{INF}:key/2222", tags=MODEL_TAGS)


@scenario("AIB-161", "training-key-in-the-inference-account", {
    "demo-training-vpc": PASS, "demo-training-data": PASS, "demo-training-data-encryption": PASS,
    "demo-training-key": FAIL})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    training_part(b, key_account=INF)


@scenario("AIB-161", "accounts-undeclared-or-training-account-missing", {STACK: FAIL})
def _(b):
    training_part(b)


# ==============================================================================================
# AIB-162: production inference in the inference account
# ==============================================================================================
def serving_part(b: PlanBuilder, acl_logging_account: str = INF, cluster_account: str = INF) -> None:
    """An API stage behind a web ACL whose logs ship to a Firehose stream, a serving cluster and
    alarms, in the inference account but where the arguments place them."""
    with in_account(b, cluster_account):
        b.add(EKS_CLUSTER, "demo-inf-euw1-cluster", {"name": "demo-inf-euw1"})
    with in_account(b, INF):
        _, st = stage(b)
        acl = web_acl(b)
        b.add(WEB_ACL_ASSOCIATION, "acl-association", {"resourceArn": st.arn, "webAclArn": acl.arn}, deps=[st, acl])
        b.add(METRIC_ALARM, "p99-latency", {"namespace": "AWS/ApiGateway", "metricName": "Latency"})
        b.add(METRIC_ALARM, "hpa-at-max", {"namespace": "ContainerInsights", "metricName": "pods",
                                           "dimensions": {"ClusterName": "demo-inf-euw1"}})
        b.add(R53_HEALTH_CHECK, "health", {"type": "CLOUDWATCH_METRIC"})
    with in_account(b, acl_logging_account):
        b.add(WEB_ACL_LOGGING, "acl-logging", {"resourceArn": arn_in(acl, INF), "logDestinationConfigs": ["arn:x"]})


SERVING = {"api-api": PASS, "api-stage": PASS, "acl": PASS, "acl-association": PASS, "demo-inf-euw1-cluster": PASS,
           "p99-latency": PASS, "hpa-at-max": PASS, "health": PASS}


@scenario("AIB-162", "api-waf-cluster-alarms-and-promoted-model-in-inference",
          {**SERVING, "acl-logging": PASS, "demo-models-inf": PASS})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    serving_part(b)
    with in_account(b, TRN):  # not serving: the training cluster's alarm, a budget alarm
        b.add(METRIC_ALARM, "training-hpa", {"namespace": "ContainerInsights", "dimensions": {"ClusterName": "demo-training"}})
        b.add(METRIC_ALARM, "spend", {"namespace": "AWS/Billing", "metricName": "EstimatedCharges"})
        models = small_bucket(b, "demo-models", key_in(b, "models-key", TRN), tags=MODEL_TAGS)
    with in_account(b, INF):
        copy = small_bucket(b, "demo-models-inf", key_in(b, "models-inf-key", INF), tags=MODEL_TAGS)
    with in_account(b, TRN):
        replicate(b, models, copy, "promote")


@scenario("AIB-162", "waf-logging-cluster-and-model-copy-in-training",
          {**SERVING, "acl-logging": FAIL, "demo-inf-euw1-cluster": FAIL, "demo-models-inf": FAIL})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    serving_part(b, acl_logging_account=TRN, cluster_account=TRN)
    with in_account(b, TRN):
        models = small_bucket(b, "demo-models", key_in(b, "models-key", TRN), tags=MODEL_TAGS)
        copy = small_bucket(b, "demo-models-inf", key_in(b, "models-inf-key", TRN), tags=MODEL_TAGS)
        replicate(b, models, copy, "promote")


@scenario("AIB-162", "accounts-undeclared", {STACK: FAIL})
def _(b):
    stage(b)


# ==============================================================================================
# AIB-163: audit evidence in the log archive account
# ==============================================================================================
def evidence(b: PlanBuilder, trail_bucket: str = ARC, archive: str = ARC, archive_key: str = ARC,
             config_bucket: str = ARC) -> None:
    """The trail (in training) delivering to the audit bucket; a SIEM stream backing up to a
    staging bucket that replicates into the locked archive; AWS Config delivering to its bucket."""
    key = key_in(b, "logs-arc-key", ARC)
    with in_account(b, trail_bucket):
        audit = small_bucket(b, "audit-bucket", key)
    with in_account(b, ARC):
        staging = small_bucket(b, "audit-staging", key)
    with in_account(b, archive):
        locked = small_bucket(b, "siem-archive", f"arn:aws:kms:eu-west-1:{archive_key}:key/3333")
    with in_account(b, ARC):
        replicate(b, staging, locked, "staging-replication")
    with in_account(b, config_bucket):
        config = small_bucket(b, "config-bucket", key)
    with in_account(b, TRN):
        b.add(TRAIL, "audit", {"s3BucketName": audit.id, "kmsKeyId": key, "isMultiRegionTrail": True})
        b.add(FIREHOSE, "siem", {"destination": "splunk", "splunkConfiguration": {
            "s3BackupMode": "FailedEventsOnly", "s3Configuration": {"bucketArn": staging.arn}}})
        b.add(CONFIG_DELIVERY_CHANNEL, "config-delivery", {"s3BucketName": config.id})


EVIDENCE = {"audit-bucket": PASS, "audit-staging": PASS, "siem-archive": PASS, "config-bucket": PASS, "logs-arc-key": PASS}


@scenario("AIB-163", "trail-siem-and-config-buckets-archive-and-keys-in-the-log-archive", EVIDENCE)
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    evidence(b)


@scenario("AIB-163", "trail-bucket-in-training-archive-key-in-training-config-in-inference",
          {**EVIDENCE, "audit-bucket": FAIL, "siem-archive": FAIL, "config-bucket": FAIL})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    evidence(b, trail_bucket=TRN, archive_key=TRN, config_bucket=INF)


@scenario("AIB-163", "no-archive-declared-evidence-stays-with-the-deployer", {
    "audit-bucket": PASS, "audit-staging": PASS, "siem-archive": PASS, "config-bucket": PASS}, tier="confidential")
def _(b):
    declare(b, training=TRN, inference=INF)
    audit = small_bucket(b, "audit-bucket", "arn:aws:kms:eu-west-1:123456789012:key/1")
    staging = small_bucket(b, "audit-staging", "arn:aws:kms:eu-west-1:123456789012:key/1")
    locked = small_bucket(b, "siem-archive", "arn:aws:kms:eu-west-1:123456789012:key/1")
    replicate(b, staging, locked, "staging-replication")
    config = small_bucket(b, "config-bucket", "arn:aws:kms:eu-west-1:123456789012:key/1")
    with in_account(b, TRN):
        b.add(TRAIL, "audit", {"s3BucketName": audit.id})
        b.add(FIREHOSE, "siem", {"extendedS3Configuration": {"bucketArn": staging.arn}})
        b.add(CONFIG_DELIVERY_CHANNEL, "config-delivery", {"s3BucketName": config.id})


@scenario("AIB-163", "no-archive-declared-evidence-in-a-workload-account", {"audit-bucket": FAIL}, tier="confidential")
def _(b):
    declare(b, training=TRN, inference=INF)
    with in_account(b, INF):
        audit = small_bucket(b, "audit-bucket", "arn:aws:kms:eu-west-1:123456789012:key/1")
        b.add(TRAIL, "audit", {"s3BucketName": audit.id})


@scenario("AIB-163", "the-tier-requires-an-archive-account", {STACK: FAIL})
def _(b):
    declare(b, training=TRN, inference=INF)
    audit = small_bucket(b, "audit-bucket", "arn:aws:kms:eu-west-1:123456789012:key/1")
    b.add(TRAIL, "audit", {"s3BucketName": audit.id})


# ==============================================================================================
# AIB-164: the account that keeps the evidence runs no workload
# ==============================================================================================
def siem_with_transformer(b: PlanBuilder) -> None:
    """A Firehose stream and the Lambda function that transforms its records, in the log archive."""
    function = "arn:aws:lambda:eu-west-1:{}:function:siem-transform"
    with in_account(b, ARC):
        b.add(LAMBDA_FUNCTION, "siem-transform", {"runtime": "python3.12"}, outputs={"arn": function.format(ACCOUNT)})
        b.add(FIREHOSE, "siem", {"destination": "splunk", "splunkConfiguration": {"processingConfiguration": {
            "enabled": True, "processors": [{"type": "Lambda", "parameters": [
                {"parameterName": "LambdaArn", "parameterValue": function.format(ARC) + ":$LATEST"}]}]}}})


@scenario("AIB-164", "archive-holds-buckets-keys-and-delivery", {f"aws-{ARC}-eu-west-1": PASS})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    with in_account(b, ARC):
        small_bucket(b, "audit-bucket", "arn:aws:kms:eu-west-1:333333333333:key/1")
        b.add(SNS_TOPIC, "findings", {})
    siem_with_transformer(b)
    with in_account(b, TRN):  # workloads elsewhere are not this rule's
        b.add(EKS_CLUSTER, "demo-training-cluster", {"name": "demo-training"})
        b.add(LAMBDA_FUNCTION, "trainer-hook", {})


@scenario("AIB-164", "cluster-pods-function-and-registry-in-the-archive",
          {"arc-cluster": FAIL, "collector": FAIL, "scratch": FAIL, "images": FAIL})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    siem_with_transformer(b)
    with in_account(b, ARC):
        cluster = b.add(EKS_CLUSTER, "arc-cluster", {"name": "arc"})
        b.add(LAMBDA_FUNCTION, "scratch", {})
        b.add(ECR_REPOSITORY, "images", {})
    k8s = b._add(K8S_PROVIDER, "arc-k8s", inputs={}, provider=None, deps=[cluster])
    b._add("kubernetes:apps/v1:Deployment", "collector", inputs={"metadata": {"name": "collector"}},
           provider=f"{k8s.urn}::{k8s.id}")


@scenario("AIB-164", "one-account-evidence-beside-the-clusters", {"cluster": FAIL})
def _(b):
    audit = small_bucket(b, "audit-bucket", "arn:aws:kms:eu-west-1:123456789012:key/1")
    b.add(TRAIL, "audit", {"s3BucketName": audit.id})
    b.add(EKS_CLUSTER, "cluster", {"name": "c"})


# ==============================================================================================
# AIB-165: no resource policy admits an account outside the stack's
# ==============================================================================================
def key_policy(*statements: dict) -> str:
    return policy(*statements)


ROOT_OF = "arn:aws:iam::{}:root"


@scenario("AIB-165", "policies-name-only-the-stack-accounts",
          {"logs-key": PASS, "audit-policy": PASS, "alarms": PASS, "invoke": PASS, "deny-only": PASS, "lustre-grant": PASS,
           "unknown-policy": NA})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    with in_account(b, ARC):
        b.add(KMS_KEY, "logs-key", {"policy": key_policy(
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT_OF.format(ARC)}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Workloads", "Effect": "Allow", "Principal": {"AWS": [ROOT_OF.format(TRN), INF]},
             "Action": "kms:Encrypt", "Resource": "*"},
            {"Sid": "Trail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "kms:GenerateDataKey*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": [TRN, INF]},
                           "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{TRN}:trail/*"}}},
            # Naming an account to keep it out admits nobody.
            {"Sid": "NotThem", "Effect": "Allow", "Principal": {"AWS": ROOT_OF.format(ARC)}, "Action": "kms:Decrypt",
             "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalAccount": FOREIGN}}})})
        b.add("aws:s3/bucketPolicy:BucketPolicy", "audit-policy", {"bucket": "audit", "policy": policy(
            {"Sid": "Write", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::audit/*", "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudtrail:eu-west-1:{TRN}:trail/t"}}})})
    b.add(SNS_TOPIC, "alarms", {"policy": policy(  # the deploying account, as its own ARNs show it
        {"Effect": "Allow", "Principal": {"AWS": ROOT_OF.format(ACCOUNT)}, "Action": "sns:Publish", "Resource": "*"})})
    b.add(LAMBDA_PERMISSION, "invoke", {"principal": "s3.amazonaws.com", "sourceAccount": TRN, "function": "f"})
    b.add(SNS_TOPIC_POLICY, "deny-only", {"arn": "t", "policy": policy(
        {"Effect": "Deny", "Principal": "*", "Action": "sns:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalAccount": [FOREIGN]}}})})
    b.add(KMS_GRANT, "lustre-grant", {"keyId": "k", "granteePrincipal": f"arn:aws:iam::{TRN}:role/aws-service-role/fsx"})
    b.add(SNS_TOPIC_POLICY, "unknown-policy", {"arn": "t", "policy": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"})


@scenario("AIB-165", "foreign-principal-caller-source-organisation-and-grantee",
          {"audit-policy": FAIL, "logs-key": FAIL, "alarms": FAIL, "invoke": FAIL, "lustre-grant": FAIL, "trust": FAIL})
def _(b):
    declare(b, training=TRN, inference=INF, logArchive=ARC)
    with in_account(b, ARC):
        b.add("aws:s3/bucketPolicy:BucketPolicy", "audit-policy", {"bucket": "audit", "policy": policy(
            TLS_DENY, {"Effect": "Allow", "Principal": {"AWS": ROOT_OF.format(FOREIGN)}, "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::audit/*"})})
        b.add(KMS_KEY, "logs-key", {"policy": key_policy(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:CallerAccount": FOREIGN}}})})
    b.add(SNS_TOPIC, "alarms", {"policy": policy(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Subscribe", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})})
    b.add(LAMBDA_PERMISSION, "invoke", {"principal": "s3.amazonaws.com", "function": "f",
                                        "sourceArn": "arn:aws:s3:::x", "sourceAccount": FOREIGN})
    b.add(KMS_GRANT, "lustre-grant", {"keyId": "k", "granteePrincipal": f"arn:aws:iam::{FOREIGN}:role/x"})
    b.add("aws:iam/role:Role", "trust", {"assumeRolePolicy": policy(
        {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": FOREIGN}}})})


ORG = "o-a1b2c3d4e5"


@scenario("AIB-165", "the-declared-organisation-is-the-stacks", {"org-topic": PASS, "other-org": FAIL, "org-member": FAIL})
def _(b):
    declare(b, organization=ORG, training=TRN, inference=INF, logArchive=ARC)
    b.add(SNS_TOPIC, "org-topic", {"policy": policy(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}})})
    b.add(SNS_TOPIC, "other-org", {"policy": policy(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}}})})
    # An account of the organisation the stack does not name: offline nothing can tell it is one.
    b.add(SNS_TOPIC, "org-member", {"policy": policy(
        {"Effect": "Allow", "Principal": {"AWS": ROOT_OF.format(FOREIGN)}, "Action": "sns:Publish", "Resource": "*"})})


@scenario("AIB-165", "single-account-stack-names-another", {"k": FAIL}, tier="public")
def _(b):
    b.add(KMS_KEY, "k", {"policy": key_policy(
        {"Effect": "Allow", "Principal": {"AWS": [ROOT_OF.format(ACCOUNT), ROOT_OF.format(FOREIGN)]}, "Action": "kms:*",
         "Resource": "*"})})
