"""Fixtures of the foundation-model rules (AIB-170 to AIB-176): invocation logging, the
guardrail's tier minimums and published version, models within the tier and the residency in
IAM and endpoint policies, and invocation only with the stack's guardrail."""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from policies.rules._aws import (
    GUARDRAIL, GUARDRAIL_VERSION, IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY, INVOCATION_LOGGING, LOG_GROUP,
    VPC_ENDPOINT,
)
from tests.policies.plans import ACCOUNT, KEY_ARN, PlanBuilder, Ref, bucket
from tests.policies.scenarios import FAIL, NA, PASS, STACK, scenario

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown string during a preview
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
INVOKE = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def guardrail_arn(name: str = "guardrail", region: str = "eu-west-1") -> str:
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:guardrail/{name}"


def fm_arn(model: str = MODEL, region: str = "eu-west-1") -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model}"


def profile_arn(profile: str, region: str = "eu-west-1") -> str:
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile}"


def guardrail(b: PlanBuilder, name: str = "guardrail", *, pii: Optional[str] = "BLOCK", prompt: Optional[str] = "HIGH",
              kms: bool = True, region: str = "eu-west-1", version: bool = True, **entity: Any) -> Ref:
    """A guardrail (PII entities with `pii`, a PROMPT_ATTACK filter at `prompt`, a CMK) and its
    published version; None drops the policy."""
    inputs: dict[str, Any] = {"name": name, "blockedInputMessaging": "blocked", "blockedOutputsMessaging": "blocked"}
    if pii:
        inputs["sensitiveInformationPolicyConfig"] = {"piiEntitiesConfigs": [
            {"type": t, "action": pii, **entity} for t in ("EMAIL", "NAME")]}
    filters = [{"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"}]
    if prompt:
        filters.append({"type": "PROMPT_ATTACK", "inputStrength": prompt, "outputStrength": "NONE"})
    inputs["contentPolicyConfig"] = {"filtersConfigs": filters}
    if kms:
        inputs["kmsKeyArn"] = KEY_ARN
    arn = guardrail_arn(name, region)
    g = b.add(GUARDRAIL, name, inputs, region=region, id=name,
              outputs={"guardrailArn": arn, "guardrailId": name, "version": "DRAFT"})
    if version:
        b.add(GUARDRAIL_VERSION, f"{name}-version", {"guardrailArn": arn}, region=region, deps=[g],
              outputs={"version": "1"})
    return g


def invocation_logging(b: PlanBuilder, name: str = "fm-logging", *, region: str = "eu-west-1", kms: bool = True,
                       retention: int = 2557, text: bool = True, own_bucket: bool = True, own_group: bool = True) -> Ref:
    group_name = f"/aws/bedrock/{name}"
    deps = []
    if own_group:
        group_inputs: dict[str, Any] = {"name": group_name, "retentionInDays": retention}
        if kms:
            group_inputs["kmsKeyId"] = KEY_ARN
        deps.append(b.add(LOG_GROUP, f"{name}-group", group_inputs, region=region, id=group_name))
    bucket_name = f"{name}-invocations"
    if own_bucket:
        deps.append(bucket(b, bucket_name))
    return b.add(INVOCATION_LOGGING, name, {"loggingConfig": {
        "cloudwatchConfig": {"logGroupName": group_name, "roleArn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-logs",
                             "largeDataDeliveryS3Config": {"bucketName": bucket_name, "keyPrefix": "large/"}},
        "s3Config": {"bucketName": bucket_name, "keyPrefix": "invocations/"},
        "textDataDeliveryEnabled": text, "imageDataDeliveryEnabled": True, "embeddingDataDeliveryEnabled": True,
    }}, region=region, deps=deps)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def invoke(resources: Sequence[str], guardrail: Optional[str] = None, sid: str = "Invoke", actions=INVOKE,
           **condition: Any) -> dict:
    stmt: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    if guardrail is not None:
        stmt["Condition"] = {"StringEquals": {"bedrock:GuardrailIdentifier": guardrail}}
    if condition:
        stmt["Condition"] = condition
    return stmt


EU_MODELS = [profile_arn(f"eu.{MODEL}"), fm_arn(), fm_arn(region="eu-central-1"), fm_arn(region="eu-west-3")]


def endpoint(b: PlanBuilder, name: str = "bedrock-endpoint", policy: Optional[str] = None,
             service: str = "com.amazonaws.eu-west-1.bedrock-runtime") -> Ref:
    inputs: dict[str, Any] = {"vpcId": "vpc-1", "serviceName": service, "vpcEndpointType": "Interface",
                              "privateDnsEnabled": True}
    if policy is not None:
        inputs["policy"] = policy
    return b.add(VPC_ENDPOINT, name, inputs)


# ==============================================================================================
# AIB-170: invocation logging
# ==============================================================================================
@scenario("AIB-170", "logged-to-cmk-group-and-stack-bucket", {"fm-logging": PASS})
def _(b):
    guardrail(b)
    invocation_logging(b)


@scenario("AIB-170", "public-tier-aws-managed-keys-30-days", {"fm-logging": PASS}, tier="public", residency="any")
def _(b):
    guardrail(b, kms=False)
    invocation_logging(b, kms=False, retention=30)


@scenario("AIB-170", "second-region-without-logging", {"fm-logging": PASS, "aws-eu-central-1": FAIL})
def _(b):
    guardrail(b)
    guardrail(b, "guardrail-fra", region="eu-central-1")
    invocation_logging(b)


@scenario("AIB-170", "endpoint-region-without-logging", {"aws-eu-west-1": FAIL})
def _(b):
    endpoint(b, policy=doc(invoke(EU_MODELS)))


@scenario("AIB-170", "another-accounts-logging-does-not-cover-this-one",
          {"fm-logging": PASS, "aws-111111111111-eu-west-1": FAIL})
def _(b):
    # Invocation logging is one setting per account and region: the inference account's covers
    # none of the training account's calls through its own endpoint in the same region.
    from tests.policies.scenarios_accounts import INF, TRN, declare, in_account

    declare(b, training=TRN, inference=INF)
    with in_account(b, INF):
        guardrail(b)
        invocation_logging(b)
    with in_account(b, TRN):
        endpoint(b, "training-endpoint", policy=doc(invoke(EU_MODELS)))


@scenario("AIB-170", "weak-group-foreign-bucket-no-text", {"fm-logging": FAIL})
def _(b):
    guardrail(b)
    invocation_logging(b, kms=False, retention=30, text=False, own_bucket=False)


@scenario("AIB-170", "log-group-outside-the-stack", {"fm-logging": FAIL})
def _(b):
    guardrail(b)
    invocation_logging(b, own_group=False)


@scenario("AIB-170", "two-settings-in-one-region", {"fm-logging": FAIL, "fm-logging-2": FAIL})
def _(b):
    guardrail(b)
    invocation_logging(b)
    invocation_logging(b, "fm-logging-2")


@scenario("AIB-170", "invoke-policy-without-any-logging", {STACK: FAIL})
def _(b):
    b.add(IAM_POLICY, "app-policy", {"policy": doc(invoke(EU_MODELS, guardrail_arn()))})


@scenario("AIB-170", "no-foundation-model-path", {})
def _(b):
    endpoint(b, "s3-endpoint", doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}),
             service="com.amazonaws.eu-west-1.s3")
    b.add(IAM_POLICY, "s3-reader", {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": "arn:aws:s3:::data/*"})})


# ==============================================================================================
# AIB-171: PII action
# ==============================================================================================
@scenario("AIB-171", "restricted-blocks-pii", {"guardrail": PASS})
def _(b):
    guardrail(b)


@scenario("AIB-171", "restricted-anonymize-override-or-no-pii",
          {"anonymize": FAIL, "output-anonymize": FAIL, "input-disabled": FAIL, "no-pii": FAIL})
def _(b):
    guardrail(b, "anonymize", pii="ANONYMIZE")
    guardrail(b, "output-anonymize", outputAction="ANONYMIZE")
    guardrail(b, "input-disabled", inputEnabled=False)
    guardrail(b, "no-pii", pii=None)


@scenario("AIB-171", "internal-anonymizes", {"guardrail": PASS}, tier="internal")
def _(b):
    guardrail(b, pii="ANONYMIZE")


@scenario("AIB-171", "internal-detect-only-or-none", {"detect-only": FAIL, "no-pii": FAIL}, tier="internal")
def _(b):
    guardrail(b, "detect-only", pii="NONE")
    guardrail(b, "no-pii", pii=None)


@scenario("AIB-171", "public-may-skip-pii", {"guardrail": PASS}, tier="public", residency="any")
def _(b):
    guardrail(b, pii=None)


@scenario("AIB-171", "pii-unknown-until-apply", {"guardrail": NA})
def _(b):
    guardrail(b, pii=UNKNOWN)


@scenario("AIB-171", "endpoint-without-a-guardrail", {STACK: FAIL})
def _(b):
    endpoint(b, policy=doc(invoke(EU_MODELS)))


# ==============================================================================================
# AIB-172: prompt attack
# ==============================================================================================
@scenario("AIB-172", "restricted-high", {"guardrail": PASS})
def _(b):
    guardrail(b)


@scenario("AIB-172", "restricted-medium-missing-or-detect-only", {"medium": FAIL, "missing": FAIL, "detect-only": FAIL})
def _(b):
    guardrail(b, "medium", prompt="MEDIUM")
    guardrail(b, "missing", prompt=None)
    g = guardrail(b, "detect-only")
    for step in b.steps:
        if step["urn"] == g.urn:
            step["newState"]["inputs"]["contentPolicyConfig"]["filtersConfigs"][1]["inputAction"] = "NONE"


@scenario("AIB-172", "internal-medium", {"guardrail": PASS}, tier="internal")
def _(b):
    guardrail(b, prompt="MEDIUM")


@scenario("AIB-172", "internal-low", {"guardrail": FAIL}, tier="internal")
def _(b):
    guardrail(b, prompt="LOW")


@scenario("AIB-172", "public-without-filter", {"guardrail": PASS}, tier="public", residency="any")
def _(b):
    guardrail(b, prompt=None)


# ==============================================================================================
# AIB-173: guardrail CMK
# ==============================================================================================
@scenario("AIB-173", "restricted-cmk", {"guardrail": PASS})
def _(b):
    guardrail(b)


@scenario("AIB-173", "restricted-aws-owned-key", {"guardrail": FAIL})
def _(b):
    guardrail(b, kms=False)


@scenario("AIB-173", "public-aws-owned-key", {"guardrail": PASS}, tier="public", residency="any")
def _(b):
    guardrail(b, kms=False)


# ==============================================================================================
# AIB-174: published version
# ==============================================================================================
@scenario("AIB-174", "versions-by-arn-and-by-dependency", {"guardrail": PASS, "previewed": PASS})
def _(b):
    guardrail(b)
    g = guardrail(b, "previewed", version=False)
    b.add(GUARDRAIL_VERSION, "previewed-version", {"guardrailArn": UNKNOWN}, deps=[g])


@scenario("AIB-174", "draft-only", {"draft": FAIL, "guardrail": PASS})
def _(b):
    guardrail(b)
    guardrail(b, "draft", version=False)


@scenario("AIB-174", "version-of-another-guardrail", {"guardrail": FAIL})
def _(b):
    guardrail(b, version=False)
    b.add(GUARDRAIL_VERSION, "stray-version", {"guardrailArn": guardrail_arn("elsewhere")})


# ==============================================================================================
# AIB-175: models within the tier and the residency
# ==============================================================================================
@scenario("AIB-175", "eu-profile-and-eu-base-models", {"app-policy": PASS, "bedrock-endpoint": PASS, "app-role": PASS})
def _(b):
    b.add(IAM_POLICY, "app-policy", {"policy": doc(invoke(EU_MODELS, guardrail_arn()))})
    b.add(IAM_ROLE, "app-role", {"assumeRolePolicy": "{}", "inlinePolicies": [
        {"name": "invoke", "policy": doc(invoke([fm_arn("amazon.titan-embed-text-v2:0")]))}]})
    endpoint(b, policy=doc({**invoke(EU_MODELS), "Principal": "*"}))
    # Not a model path: judged by other rules, not this one.
    endpoint(b, "s3-endpoint", doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}),
             service="com.amazonaws.eu-west-1.s3")


@scenario("AIB-175", "global-us-wildcards-and-foreign-regions",
          {"global": FAIL, "us-profile": FAIL, "any-model": FAIL, "star": FAIL, "any-region": FAIL, "us-east-1": FAIL,
           "not-resource": FAIL, "pattern": FAIL, "role-policy": FAIL, "bedrock-endpoint": FAIL})
def _(b):
    cases = {
        "global": [profile_arn(f"global.{MODEL}")],
        "us-profile": [profile_arn(f"us.{MODEL}")],
        "any-model": ["arn:aws:bedrock:eu-west-1::foundation-model/*"],
        "star": ["*"],
        "any-region": [fm_arn(region="*")],
        "us-east-1": [fm_arn(region="us-east-1")],
        "pattern": [profile_arn("*.anthropic.claude-sonnet-4-5-20250929-v1:0")],
    }
    for name, resources in cases.items():
        b.add(IAM_POLICY, name, {"policy": doc(invoke(resources, guardrail_arn()))})
    b.add(IAM_POLICY, "not-resource", {"policy": doc({"Effect": "Allow", "Action": "bedrock:*",
                                                       "NotResource": fm_arn("meta.llama3-70b-instruct-v1:0")})})
    b.add(IAM_ROLE_POLICY, "role-policy", {"role": "app", "policy": doc(invoke([fm_arn(region="eu-*")], actions=["bedrock:Invoke*"]),
                                                                          invoke([profile_arn(f"apac.{MODEL}")], sid="Apac"))})
    endpoint(b)  # no policy: AWS's default admits every model


@scenario("AIB-175", "internal-global-profile", {"app-policy": PASS}, tier="internal")
def _(b):
    b.add(IAM_POLICY, "app-policy", {"policy": doc(invoke(
        [profile_arn(f"global.{MODEL}"), fm_arn(region="*"), "arn:aws:bedrock:::foundation-model/" + MODEL],
        guardrail_arn()))})


@scenario("AIB-175", "internal-us-profile-on-eu-residency", {"app-policy": FAIL}, tier="internal")
def _(b):
    b.add(IAM_POLICY, "app-policy", {"policy": doc(invoke([profile_arn(f"us.{MODEL}")], guardrail_arn()))})


@scenario("AIB-175", "guardrail-but-nothing-names-models", {STACK: FAIL})
def _(b):
    guardrail(b)


@scenario("AIB-175", "policy-unknown-until-apply", {"app-policy": NA, "bedrock-endpoint": NA})
def _(b):
    guardrail(b)
    b.add(IAM_POLICY, "app-policy", {"policy": UNKNOWN})
    endpoint(b, policy=UNKNOWN)


# ==============================================================================================
# AIB-176: invocation only with the guardrail
# ==============================================================================================
_DENY_OTHER_GUARDRAILS = {"Sid": "DenyWithoutGuardrail", "Effect": "Deny", "Action": INVOKE,
                          "Resource": ["arn:aws:bedrock:*::foundation-model/*", "arn:aws:bedrock:*:*:inference-profile/*"],
                          "Condition": {"StringNotEquals": {"bedrock:GuardrailIdentifier": guardrail_arn() + ":1"}}}


@scenario("AIB-176", "condition-or-deny-names-the-stack-guardrail",
          {"versioned": PASS, "by-deny": PASS, "role": PASS, "previewed": NA})
def _(b):
    guardrail(b)
    b.add(IAM_POLICY, "versioned", {"policy": doc(invoke(EU_MODELS, guardrail_arn() + ":1"))})
    b.add(IAM_POLICY, "by-deny", {"policy": doc(invoke(EU_MODELS), _DENY_OTHER_GUARDRAILS)})
    b.add(IAM_ROLE, "role", {"assumeRolePolicy": "{}", "inlinePolicies": [
        {"name": "invoke", "policy": doc(invoke(EU_MODELS, guardrail_arn()))}]})
    b.add(IAM_POLICY, "previewed", {"policy": doc(invoke(EU_MODELS, UNKNOWN))})
    b.add(IAM_POLICY, "s3-reader", {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": "arn:aws:s3:::data/*"})})


@scenario("AIB-176", "no-foreign-if-exists-or-narrow-deny",
          {"no-condition": FAIL, "foreign": FAIL, "if-exists": FAIL, "narrow-deny": FAIL, "bedrock-star": FAIL,
           "role-policy": FAIL})
def _(b):
    guardrail(b)
    b.add(IAM_POLICY, "no-condition", {"policy": doc(invoke(EU_MODELS))})
    b.add(IAM_POLICY, "foreign", {"policy": doc(invoke(EU_MODELS, guardrail_arn("someone-elses")))})
    b.add(IAM_POLICY, "if-exists", {"policy": doc(invoke(
        EU_MODELS, StringEqualsIfExists={"bedrock:GuardrailIdentifier": guardrail_arn()}))})
    narrow = {**_DENY_OTHER_GUARDRAILS, "Condition": {**_DENY_OTHER_GUARDRAILS["Condition"],
                                                      "StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}
    b.add(IAM_POLICY, "narrow-deny", {"policy": doc(invoke(EU_MODELS), narrow)})
    b.add(IAM_POLICY, "bedrock-star", {"policy": doc({"Effect": "Allow", "Action": "bedrock:*", "Resource": EU_MODELS})})
    b.add(IAM_ROLE_POLICY, "role-policy", {"role": "app", "policy": doc(invoke(EU_MODELS, actions=["bedrock:Invoke*"]))})


@scenario("AIB-176", "guardrail-without-any-invoke-policy", {STACK: FAIL})
def _(b):
    guardrail(b)
    invocation_logging(b)
