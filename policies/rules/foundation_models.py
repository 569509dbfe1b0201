"""Foundation models (Amazon Bedrock): every call to a managed model is logged and encrypted,
goes through a guardrail that meets the tier's minimums (PII action, prompt-attack filter, CMK,
a published version), reaches only models the tier and the residency allow, and cannot be made
without the guardrail.

The foundation-model path is in a plan when it has a Bedrock guardrail, an interface endpoint
for `bedrock-runtime`, or an IAM policy that allows model invocation; a plan with none of them
has nothing to judge (not applicable). Where the path exists, a missing guardrail, invocation
log or invoke policy is a finding.

Which IAM actions invoke a model: bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream
(the Converse and ConverseStream APIs are authorised by them) and
bedrock:InvokeModelWithBidirectionalStream; `bedrock:Converse*` is matched too because policy
authors write it. A statement allows them through `*`, `bedrock:*`, `bedrock:Invoke*` or a
NotAction that does not exclude them (IAM matches actions case-insensitively).

How a model resource is read (Bedrock User Guide, "Supported Regions and models for inference
profiles" and "Prerequisites for inference profiles"): `arn:aws:bedrock:<region>::foundation-model/<id>`
is a base model invoked in <region>; `arn:aws:bedrock:<region>:<account>:inference-profile/<geo>.<id>`
is a cross-region inference profile called in <region> that routes to the regions of <geo>
(`global` routes to any commercial region). A geographic profile also needs the foundation-model
ARNs of its destination regions, a global one the foundation-model ARN with any region, so a
foundation-model ARN with a wildcard or empty region is what a global profile needs, and only
the tiers that allow global profiles admit it.

The guardrail condition (Bedrock User Guide, "Enforce the use of specific guardrails in model
inference requests"): `bedrock:GuardrailIdentifier` carries the guardrail ARN, optionally with
`:<version>`. IAM evaluates a negated operator (StringNotEquals, StringNotLike, with or without
IfExists) as true when the key is absent from the request (IAM User Guide, "Condition operators"),
so a Deny with `StringNotEquals bedrock:GuardrailIdentifier <arn>` denies both a call with another
guardrail and a call with none.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any, Iterable, Mapping, Optional

from blueprints.tiers import ALL_REGIONS, PROMPT_ATTACK_STRENGTHS
from policies.controls import (
    AT_REST, AUDIT_LOGGING, CHANGE_CONTROL, KEY_MANAGEMENT, LEAST_PRIVILEGE, LOG_PROTECTION, LOG_RETENTION, RESIDENCY,
    merge,
)
from policies.model import PolicyPlan, PolicyResource, as_list, dig, is_unknown, log_group_name, policy_document, statements
from policies.rule import Result, RuleContext, Scope, always, check, fail, na, ok, plan_rule, resource_rule
from policies.rules._aws import (
    BUCKET, GUARDRAIL, GUARDRAIL_VERSION, IAM_GROUP_POLICY, IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY, IAM_USER_POLICY,
    INVOCATION_LOGGING, LOG_GROUP, VPC_ENDPOINT, is_set, names, region_anchor, truthy,
)
from policies.rules._statements import allows, describe
from policies.rules.resource_policies import VPC_ENDPOINT_POLICY

# Inference-profile geographies (a copy of blueprints.spec.BEDROCK_GEOGRAPHIES, which policies may
# not import): `global.` routes worldwide, the others within their geography.
BEDROCK_GEOGRAPHIES: tuple[str, ...] = ("global", "us", "eu", "apac", "jp", "au", "ca", "us-gov")
INVOKE_ACTIONS: tuple[str, ...] = (
    "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:InvokeModelWithBidirectionalStream",
    "bedrock:Converse", "bedrock:ConverseStream",
)
GUARDRAIL_KEY = "bedrock:guardrailidentifier"
IAM_POLICY_TYPES = (IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY, IAM_ROLE)
# com.amazonaws.<region>.bedrock-runtime (and its FIPS variant): the endpoint model calls use.
_BEDROCK_RUNTIME = re.compile(r"^com\.amazonaws\.[a-z0-9-]+\.bedrock-runtime(-fips)?$")
_MODEL_TYPES = ("foundation-model", "inference-profile", "application-inference-profile")
_WILDCARD = re.compile(r"[*?]")
_VERSION = re.compile(r"^(\d+|DRAFT)$")

PII_FILTERING = {
    "nist-800-53-r5": ["SI-15", "AC-4", "PT-2"],
    "pci-dss-4.0": ["3.4.1"],
    "gdpr": ["Art. 25(1)", "Art. 32(1)(a)"],
}
INPUT_VALIDATION = {
    "nist-800-53-r5": ["SI-10", "SI-3"],
    "pci-dss-4.0": ["6.2.4"],
    "gdpr": ["Art. 32(1)(b)"],
}
GUARDRAIL_ENFORCEMENT = {"nist-800-53-r5": ["AC-4", "SI-10"]}
BASELINE = {"nist-800-53-r5": ["CM-2"]}


# -- reading policies ---------------------------------------------------------------------------
def _lower_patterns(values: Any) -> list[str]:
    return [v.lower() for v in as_list(values) if isinstance(v, str) and not is_unknown(v)]


def invoke_actions(stmt: Mapping[str, Any]) -> list[str]:
    """The model-invocation actions the statement names (through Action or NotAction)."""
    if "NotAction" in stmt:
        excluded = _lower_patterns(stmt["NotAction"])
        return [a for a in INVOKE_ACTIONS if not any(fnmatchcase(a.lower(), p) for p in excluded)]
    patterns = _lower_patterns(stmt.get("Action"))
    return [a for a in INVOKE_ACTIONS if any(fnmatchcase(a.lower(), p) for p in patterns)]


def _bedrock_arn(value: str) -> bool:
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and fnmatchcase("bedrock", parts[2].lower())


def model_resources(stmt: Mapping[str, Any]) -> list[Any]:
    """The statement's resources that may be Bedrock models: "*", Bedrock ARNs (or ARNs whose
    service is a wildcard), and, where an action names `bedrock:` explicitly, values unknown until
    apply. NotResource reads as ["NotResource"]."""
    if "NotResource" in stmt:
        return ["NotResource"]
    explicit = any(p.startswith("bedrock:") for p in _lower_patterns(stmt.get("NotAction", stmt.get("Action"))))
    found = []
    for value in as_list(stmt.get("Resource")):
        if is_unknown(value):
            if explicit:
                found.append(value)
        elif isinstance(value, str) and (value == "*" or _bedrock_arn(value)):
            found.append(value)
    return found


def grants_invoke(stmt: Mapping[str, Any]) -> bool:
    """An Allow of a model-invocation action on resources that may be Bedrock models."""
    return allows(stmt) and bool(invoke_actions(stmt)) and bool(model_resources(stmt))


def policy_texts(r: PolicyResource) -> list[Any]:
    """The policy documents (JSON text or objects) an IAM resource carries: a role's inline
    policies, else its `policy`."""
    if r.type == IAM_ROLE:
        return [p.get("policy") for p in as_list(r.get("inlinePolicies")) if isinstance(p, Mapping)]
    return [r.get("policy")]


def _documents(texts: list[Any]) -> tuple[list[dict[str, Any]], bool]:
    """(parsed documents, whether any set document is unknown until apply)."""
    docs, unknown = [], False
    for text in texts:
        if not is_set(text):
            continue
        doc = policy_document(text)
        if doc is None:
            unknown = True
        else:
            docs.append(doc)
    return docs, unknown


def is_bedrock_endpoint(r: PolicyResource) -> bool:
    service = r.get("serviceName")
    return isinstance(service, str) and bool(_BEDROCK_RUNTIME.match(service))


def endpoint_texts(plan: PolicyPlan, endpoint: PolicyResource) -> list[Any]:
    texts = [endpoint.get("policy")] if is_set(endpoint.get("policy")) else []
    return texts + [p.get("policy") for p in plan.linked(endpoint, [VPC_ENDPOINT_POLICY], "vpcEndpointId")
                    if is_set(p.get("policy"))]


def _invoking_policies(plan: PolicyPlan) -> list[PolicyResource]:
    out = []
    for r in plan.of_type(*IAM_POLICY_TYPES):
        docs, _ = _documents(policy_texts(r))
        if any(grants_invoke(s) for d in docs for s in statements(d)):
            out.append(r)
    return out


def foundation_models_present(plan: PolicyPlan) -> bool:
    """A Bedrock guardrail, a bedrock-runtime endpoint or an IAM policy that allows model
    invocation is in the plan."""
    return (plan.has(GUARDRAIL) or any(is_bedrock_endpoint(e) for e in plan.of_type(VPC_ENDPOINT))
            or bool(_invoking_policies(plan)))


FOUNDATION_MODELS = Scope(
    "foundation models", foundation_models_present,
    where="where the plan has a foundation-model path (a Bedrock guardrail, a bedrock-runtime endpoint or a "
          "policy that allows model invocation)")


# -- guardrails -----------------------------------------------------------------------------------
def guardrail_refs(g: PolicyResource) -> set[str]:
    """What a policy or a version may name the guardrail by: its ARN (`guardrailArn`), its id."""
    refs = set()
    for source in (g.outputs, g.inputs):
        for key in ("guardrailArn", "guardrailId", "arn", "id"):
            value = source.get(key)
            if isinstance(value, str) and value and not is_unknown(value):
                refs.add(value)
    if g.id and not is_unknown(g.id):
        refs.add(g.id)
    return refs


def names_guardrail(value: Any, guardrails: list[PolicyResource]) -> bool:
    """`value` is a guardrail of the plan: its ARN or id, optionally `:<version>`."""
    if not isinstance(value, str):
        return False
    base, _, suffix = value.rpartition(":")
    candidates = {value} | ({base} if base and _VERSION.match(suffix) else set())
    return any(candidates & guardrail_refs(g) for g in guardrails)


def versions_of(plan: PolicyPlan, g: PolicyResource) -> list[PolicyResource]:
    found = []
    for v in plan.of_type(GUARDRAIL_VERSION):
        ref = v.get("guardrailArn")
        if names_guardrail(ref, [g]) or ((is_unknown(ref) or not is_set(ref)) and g.urn in v.dependencies):
            found.append(v)
    return found


def _strength(value: Any) -> str:
    return str(value).lower() if isinstance(value, str) else "none"


# ==============================================================================================
# AIB-170: invocation logging
# ==============================================================================================
def _log_group(plan: PolicyPlan, config: PolicyResource, ref: Any) -> Optional[PolicyResource]:
    name = log_group_name(ref)
    if name is None:
        deps = plan.dependencies_of(config, LOG_GROUP)
        return deps[0] if len(deps) == 1 else None
    return next((g for g in plan.of_type(LOG_GROUP)
                 if g.region == config.region and log_group_name(g.get("name")) == name), None)


def _bucket(plan: PolicyPlan, config: PolicyResource, ref: Any) -> Optional[PolicyResource]:
    found = plan.lookup(ref, [BUCKET])
    if found is None and is_unknown(ref):
        deps = plan.dependencies_of(config, BUCKET)
        return deps[0] if len(deps) == 1 else None
    return found


def _logging_problems(plan: PolicyPlan, config: PolicyResource, ctx: RuleContext) -> list[str]:
    tier = ctx.tier
    settings = config.get("loggingConfig")
    if not isinstance(settings, Mapping):
        return ["no loggingConfig"] if not is_unknown(settings) else []
    problems = []
    if not truthy(settings.get("textDataDeliveryEnabled")) and not is_unknown(settings.get("textDataDeliveryEnabled")):
        problems.append("textDataDeliveryEnabled is not true: prompts and completions are not logged")
    cloudwatch = settings.get("cloudwatchConfig")
    if not isinstance(cloudwatch, Mapping) or not is_set(cloudwatch.get("logGroupName")):
        problems.append("no CloudWatch delivery (cloudwatchConfig.logGroupName)")
    else:
        if not is_set(cloudwatch.get("roleArn")):
            problems.append("cloudwatchConfig.roleArn not set: Bedrock cannot write the log group")
        group = _log_group(plan, config, cloudwatch.get("logGroupName"))
        if group is None:
            if not is_unknown(cloudwatch.get("logGroupName")):
                problems.append(f"log group {cloudwatch.get('logGroupName')} is not one the stack creates in "
                                f"{config.region}: its key and retention are not governed")
        else:
            if tier.cmk and not is_set(group.get("kmsKeyId")):
                problems.append(f"log group {log_group_name(group.get('name')) or group.name} has no kmsKeyId; the "
                                f"{tier.name} tier encrypts logs with a CMK")
            days = group.get("retentionInDays")
            if not is_unknown(days) and (not isinstance(days, (int, float)) or days < tier.log_retention_days):
                problems.append(f"log group retention {days or 'not set'} is below the {tier.name} tier's "
                                f"{tier.log_retention_days} days")
        large = cloudwatch.get("largeDataDeliveryS3Config")
        if isinstance(large, Mapping) and is_set(large.get("bucketName")) and \
                _bucket(plan, config, large.get("bucketName")) is None and not is_unknown(large.get("bucketName")):
            problems.append(f"large-data bucket {large.get('bucketName')} is not one the stack creates")
    s3 = settings.get("s3Config")
    if not isinstance(s3, Mapping) or not is_set(s3.get("bucketName")):
        problems.append("no S3 delivery (s3Config.bucketName)")
    elif _bucket(plan, config, s3.get("bucketName")) is None and not is_unknown(s3.get("bucketName")):
        problems.append(f"bucket {s3.get('bucketName')} is not one the stack creates: its encryption and access are "
                        "not governed")
    return problems


@plan_rule(
    id="AIB-170", scope=FOUNDATION_MODELS, requires=(INVOCATION_LOGGING, LOG_GROUP, BUCKET),
    missing="no Bedrock model invocation logging",
    title="Model invocation logging is on in every region with a foundation-model path, to an encrypted log group "
          "and bucket of the stack",
    severity="high", area="logging and retention", types=(INVOCATION_LOGGING, GUARDRAIL, VPC_ENDPOINT, LOG_GROUP, BUCKET),
    controls=merge(AUDIT_LOGGING, LOG_PROTECTION, LOG_RETENTION), level=always("mandatory"),
    level_doc=", with the tier's `log_retention_days` and, where `cmk`, a KMS key on the log group",
)
def invocation_logging(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Without invocation logs nobody can tell who sent which prompt to which model, what it
    answered or when a guardrail intervened: the audit trail of the foundation-model path. In every
    region (of each account) with a guardrail or a bedrock-runtime endpoint, an InvocationLoggingConfiguration
    delivers to CloudWatch Logs (a log group of the stack in that region, with the tier's
    retention and, where the tier has CMKs, a KMS key) and to S3 (a bucket of the stack, whose
    encryption the bucket rules judge), with text data delivery on. The setting is one per account
    and region: a second configuration in a region overwrites the first."""
    places = {(r.account, r.region) for r in plan.of_type(GUARDRAIL)} | {
        (e.account, e.region) for e in plan.of_type(VPC_ENDPOINT) if is_bedrock_endpoint(e)}
    configs = plan.of_type(INVOCATION_LOGGING)
    for account, region in sorted(places - {(c.account, c.region) for c in configs}):
        where = f"{region} of account {account}" if account else region
        yield fail(f"no InvocationLoggingConfiguration in {where}: model invocations there are not logged",
                   region_anchor(plan, region, account))
    by_place: dict[tuple[str, str], list[PolicyResource]] = {}
    for config in configs:
        by_place.setdefault((config.account, config.region), []).append(config)
    for config in configs:
        problems = _logging_problems(plan, config, ctx)
        rivals = [c for c in by_place[(config.account, config.region)] if c is not config]
        if rivals:
            problems.append(f"{names(rivals)} configures the same account and region: only one setting applies")
        yield check(not problems, f"logs to CloudWatch and S3 with text data in {config.region}", "; ".join(problems),
                    config)


# ==============================================================================================
# AIB-171 .. AIB-174: the guardrail
# ==============================================================================================
# What the four guardrail rules share: they judge each guardrail, and its absence where the stack
# serves foundation models.
_GUARDRAIL_RULE = dict(scope=FOUNDATION_MODELS, missing="no Bedrock guardrail", types=(GUARDRAIL,),
                       level=always("mandatory"))

@resource_rule(
    id="AIB-171", requires=(GUARDRAIL,), **_GUARDRAIL_RULE,
    title="Every Bedrock guardrail filters PII with an action the tier allows",
    severity="high", area="data protection", controls=PII_FILTERING,
    level_doc=", with the tier's `fm_pii_actions` (public: anonymize, block or none; internal and confidential: "
              "anonymize or block; restricted: block)",
)
def guardrail_pii(r: PolicyResource, ctx: RuleContext) -> Result:
    """Prompts carry customer data to a model provider and answers can repeat it: the
    sensitive-information policy masks (ANONYMIZE) or refuses (BLOCK) PII entities in both
    directions. Every PII entity's action, per direction (inputAction / outputAction, else
    `action`; a direction with inputEnabled / outputEnabled false counts as NONE), is one the tier
    allows; no sensitive-information policy at all counts as `none`."""
    allowed = ctx.tier.fm_pii_actions
    config = r.get("sensitiveInformationPolicyConfig")
    if is_unknown(config):
        return na("sensitive-information policy unknown until apply")
    entities = [e for e in as_list(dig(config, "piiEntitiesConfigs")) if isinstance(e, Mapping)]
    if not entities:
        return check("none" in allowed, "no PII filter, which the tier allows",
                     f"no PII entities filtered (action none); the {ctx.tier.name} tier requires "
                     f"{' or '.join(allowed)}")
    bad, unknown = [], False
    for e in entities:
        for direction in ("input", "output"):
            enabled = e.get(f"{direction}Enabled")
            action = e.get(f"{direction}Action") or e.get("action")
            if is_unknown(action) or is_unknown(enabled):
                unknown = True
                continue
            effective = "none" if enabled is False or str(enabled).lower() == "false" else str(action or "none").lower()
            if effective not in allowed:
                bad.append(f"{e.get('type')} {direction} {effective.upper()}")
    if bad:
        return fail(f"PII actions below the {ctx.tier.name} tier's {' or '.join(a.upper() for a in allowed)}: "
                    + ", ".join(bad))
    if unknown:
        return na("PII actions unknown until apply")
    return ok(f"{len(entities)} PII entities, actions {', '.join(sorted({str(e.get('action')) for e in entities}))}")


@resource_rule(
    id="AIB-172", requires=(GUARDRAIL,), **_GUARDRAIL_RULE,
    title="Every Bedrock guardrail filters prompt attacks at the tier's strength or stronger",
    severity="high", area="workload security", controls=INPUT_VALIDATION,
    level_doc=", with the tier's `fm_prompt_attack_min` (public: none; internal and confidential: medium; "
              "restricted: high)",
)
def guardrail_prompt_attack(r: PolicyResource, ctx: RuleContext) -> Result:
    """A prompt attack (jailbreak, prompt injection) talks the model out of its instructions and
    the guardrail's other filters. The content policy has a PROMPT_ATTACK filter whose
    inputStrength is at least the tier's minimum; an absent filter, inputEnabled false or
    inputAction NONE (detect only) count as NONE."""
    minimum = ctx.tier.fm_prompt_attack_min
    filters = dig(r.get("contentPolicyConfig"), "filtersConfigs")
    if is_unknown(r.get("contentPolicyConfig")) or is_unknown(filters):
        return na("content policy unknown until apply")
    found = [f for f in as_list(filters) if isinstance(f, Mapping) and f.get("type") == "PROMPT_ATTACK"]
    strengths = []
    for f in found:
        if is_unknown(f.get("inputStrength")):
            return na("prompt-attack strength unknown until apply")
        off = f.get("inputEnabled") is False or str(f.get("inputAction", "")).upper() == "NONE"
        strengths.append("none" if off else _strength(f.get("inputStrength")))
    strength = max(strengths, key=lambda s: PROMPT_ATTACK_STRENGTHS.index(s) if s in PROMPT_ATTACK_STRENGTHS else -1,
                   default="none")
    if strength not in PROMPT_ATTACK_STRENGTHS:
        return fail(f"PROMPT_ATTACK inputStrength {strength.upper()} is not one of NONE, LOW, MEDIUM, HIGH")
    described = f"PROMPT_ATTACK at {strength.upper()}" if found else "no PROMPT_ATTACK filter (NONE)"
    return check(ctx.tier.fm_prompt_attack_allowed(strength), described,
                 f"{described}; the {ctx.tier.name} tier requires at least {minimum.upper()}")


@resource_rule(
    id="AIB-173", requires=(GUARDRAIL,), **_GUARDRAIL_RULE,
    title="Every Bedrock guardrail is encrypted with a customer managed KMS key where the tier has CMKs",
    severity="medium", area="encryption", controls=merge(AT_REST, KEY_MANAGEMENT),
    level_doc=", judged where the tier's `cmk` holds (internal and up)",
)
def guardrail_cmk(r: PolicyResource, ctx: RuleContext) -> Result:
    """The guardrail holds the organisation's denied topics, word lists and PII regexes: where the
    tier keeps its data under its own keys, kmsKeyArn names a CMK, so that revoking the key
    revokes the guardrail and every use of the key is in CloudTrail."""
    if not ctx.tier.cmk:
        return ok(f"the {ctx.tier.name} tier uses AWS managed keys")
    return check(is_set(r.get("kmsKeyArn")), "encrypted with a CMK",
                 f"kmsKeyArn not set: the {ctx.tier.name} tier encrypts with CMKs")


@plan_rule(
    id="AIB-174", scope=FOUNDATION_MODELS, requires=(GUARDRAIL, GUARDRAIL_VERSION), missing="no Bedrock guardrail",
    title="Every Bedrock guardrail has a published version",
    severity="medium", area="workload security", types=(GUARDRAIL, GUARDRAIL_VERSION),
    controls=merge(CHANGE_CONTROL, BASELINE), level=always("mandatory"),
)
def guardrail_version(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Only the DRAFT of a guardrail without a GuardrailVersion exists, and the DRAFT changes with
    every edit: a published version is the immutable configuration that callers and the IAM
    condition pin, so a change to the guardrail is a reviewed new version, not a silent edit."""
    for g in plan.of_type(GUARDRAIL):
        versions = versions_of(plan, g)
        yield check(bool(versions), f"published as {names(versions)}", "no GuardrailVersion: only the DRAFT exists", g)


# ==============================================================================================
# AIB-175: models within the tier and the residency
# ==============================================================================================
def _region_problem(region: str, ctx: RuleContext, any_region_ok: bool) -> Optional[str]:
    if ctx.residency == "any":
        return None
    pattern = region or "*"
    if _WILDCARD.search(pattern):
        if any_region_ok:
            return None
        outside = [r for r in ALL_REGIONS if fnmatchcase(r, pattern) and r not in ctx.allowed_regions]
        return f"region {pattern!r} admits regions outside residency {ctx.residency}" if outside or pattern == "*" else None
    if pattern not in ctx.allowed_regions:
        return f"region {pattern} is outside residency {ctx.residency}"
    return None


def model_problem(value: Any, ctx: RuleContext) -> Optional[str]:
    """Why a resource of an invoke Allow admits a model outside the tier or the residency; None
    when it does not (or is not a model, or is unknown until apply)."""
    if is_unknown(value) or not isinstance(value, str):
        return None
    if value == "NotResource":
        return "NotResource admits every model but those it lists"
    if value == "*":
        return 'Resource "*" admits every model'
    parts = value.split(":", 5)
    if len(parts) != 6 or not _bedrock_arn(value):
        return None
    region, resource = parts[3], parts[5]
    kind, _, model_id = resource.partition("/")
    if _WILDCARD.search(kind) or not kind:
        return f"{value} admits every Bedrock model"
    if kind not in _MODEL_TYPES:
        return None
    if not model_id or _WILDCARD.search(model_id):
        return f"{value} names models by a pattern, which admits models nobody listed"
    tier = ctx.tier
    problems = []
    if kind == "inference-profile":
        geo = model_id.split(".", 1)[0]
        if geo == "global" and tier.fm_profiles != "global":
            problems.append(f"{value} is a global inference profile (any region worldwide); the {tier.name} tier "
                            "allows only base models and the residency's geographic profile")
        elif geo in BEDROCK_GEOGRAPHIES and geo != "global":
            if ctx.residency != "any" and geo != ctx.residency:
                problems.append(f"{value} is a `{geo}.` profile, which routes outside residency {ctx.residency}")
            elif ctx.residency == "any" and tier.fm_profiles != "global":
                problems.append(f"{value} is a cross-region profile; without a residency the {tier.name} tier "
                                "allows only base models")
    region_problem = _region_problem(region, ctx, any_region_ok=kind == "foundation-model" and tier.fm_profiles == "global")
    if region_problem:
        problems.append(f"{value}: {region_problem}")
    return "; ".join(problems) or None


def _statement_problems(docs: list[dict[str, Any]], ctx: RuleContext) -> tuple[list[str], int]:
    """(problems, how many statements allow invocation) over the documents' invoke Allows."""
    problems, granting = [], 0
    for doc in docs:
        for i, stmt in enumerate(statements(doc)):
            if not grants_invoke(stmt):
                continue
            granting += 1
            found = [p for p in (model_problem(v, ctx) for v in model_resources(stmt)) if p]
            problems += [f"{describe(stmt, i)}: {p}" for p in found]
    return problems, granting


@plan_rule(
    id="AIB-175", scope=FOUNDATION_MODELS, requires=(), missing="no IAM or VPC endpoint policy names the models",
    title="IAM and bedrock-runtime endpoint policies admit only named models within the tier's inference profiles "
          "and the residency",
    severity="high", area="availability and residency", types=(*IAM_POLICY_TYPES, VPC_ENDPOINT, VPC_ENDPOINT_POLICY),
    controls=merge(RESIDENCY, LEAST_PRIVILEGE), level=always("mandatory"),
    level_doc=", with the tier's `fm_profiles` (public, internal: global; confidential, restricted: geographic) and "
              "the residency",
)
def models_within_tier(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A model call sends the prompt, and the data in it, to wherever the model runs. Every Allow
    of model invocation in an IAM policy (managed, inline, a role's inline policies) and in a
    bedrock-runtime endpoint's policy names its models: no `*`, no NotResource, no pattern; a
    `global.` inference profile (and the any-region foundation-model ARN it needs) only where the
    tier's `fm_profiles` is `global`; a geographic profile only of the residency's geography (and
    none without a residency on a geographic tier); every concrete region within the residency.
    A bedrock-runtime endpoint without a policy gets AWS's default, which admits every model."""
    present = foundation_models_present(plan)
    for r in plan.of_type(*IAM_POLICY_TYPES):
        docs, unknown = _documents(policy_texts(r))
        problems, granting = _statement_problems(docs, ctx)
        if problems:
            yield fail("; ".join(problems), r)
        elif granting:
            yield ok(f"{granting} invoke statement(s) name models within the tier and residency", r)
        elif unknown and present:
            yield na("policy unknown until apply", r)
    for endpoint in plan.of_type(VPC_ENDPOINT):
        if not is_bedrock_endpoint(endpoint):
            continue
        texts = endpoint_texts(plan, endpoint)
        if not texts:
            yield fail("bedrock-runtime endpoint without a policy: AWS's default endpoint policy admits every model",
                       endpoint)
            continue
        docs, unknown = _documents(texts)
        problems, granting = _statement_problems(docs, ctx)
        if problems:
            yield fail("; ".join(problems), endpoint)
        elif unknown:
            yield na("endpoint policy unknown until apply", endpoint)
        else:
            yield ok(f"{granting} invoke statement(s) name models within the tier and residency", endpoint)


# ==============================================================================================
# AIB-176: no invocation without the guardrail
# ==============================================================================================
def _condition_problem(stmt: Mapping[str, Any], guardrails: list[PolicyResource]) -> Optional[str]:
    """None when an Allow carries a positive bedrock:GuardrailIdentifier condition naming only
    guardrails of the plan; "unknown" when a value is unknown until apply; else the problem."""
    block = stmt.get("Condition")
    found = False
    for operator, pairs in (block.items() if isinstance(block, Mapping) else ()):
        if not isinstance(pairs, Mapping):
            continue
        for key, values in pairs.items():
            if str(key).lower() != GUARDRAIL_KEY:
                continue
            op = str(operator).lower().removeprefix("foranyvalue:")
            if op not in ("stringequals", "stringlike"):
                return f"{operator} on bedrock:GuardrailIdentifier does not require the guardrail"
            found = True
            values = as_list(values)
            if not values:
                return "bedrock:GuardrailIdentifier condition with no value"
            if any(is_unknown(v) for v in values):
                return "unknown"
            strays = [str(v) for v in values if not names_guardrail(v, guardrails) or _WILDCARD.search(str(v))]
            if strays:
                return f"bedrock:GuardrailIdentifier {', '.join(strays)} is not a guardrail of this stack"
    return None if found else "no bedrock:GuardrailIdentifier condition"


def _covers(patterns: list[str], value: str) -> bool:
    return any(fnmatchcase(value.lower(), p) for p in patterns)


def _deny_covers(doc: Mapping[str, Any], allow: Mapping[str, Any], guardrails: list[PolicyResource]) -> Optional[str]:
    """"yes" when a Deny in the same document denies the Allow's invoke actions on its resources
    whenever the guardrail identifier is another or absent (only a negated string condition on
    bedrock:GuardrailIdentifier naming guardrails of the plan); "unknown" when its values are
    unknown until apply; else None."""
    actions = invoke_actions(allow)
    resources = [str(v) for v in model_resources(allow)]
    for deny in statements(doc):
        if deny.get("Effect") != "Deny" or "NotResource" in deny:
            continue
        denied = set(invoke_actions(deny))
        if not set(actions) <= denied:
            continue
        deny_resources = _lower_patterns(deny.get("Resource"))
        if "*" not in deny_resources and not all(not is_unknown(v) and _covers(deny_resources, v) for v in resources):
            continue
        conditions = [(str(op).lower(), str(k).lower(), as_list(v)) for op, pairs in
                      (deny.get("Condition") or {}).items() if isinstance(pairs, Mapping) for k, v in pairs.items()]
        if not conditions or any(k != GUARDRAIL_KEY or op.removesuffix("ifexists") not in ("stringnotequals", "stringnotlike")
                                 for op, k, _ in conditions):
            continue
        values = [v for _, _, vs in conditions for v in vs]
        if any(is_unknown(v) for v in values):
            return "unknown"
        if values and all(names_guardrail(v, guardrails) for v in values):
            return "yes"
    return None


@plan_rule(
    id="AIB-176", scope=FOUNDATION_MODELS, requires=(), missing="no IAM policy allows model invocation with the guardrail",
    title="Every IAM policy that allows model invocation requires a guardrail of the stack (bedrock:GuardrailIdentifier)",
    severity="critical", area="identity and access", types=IAM_POLICY_TYPES + (GUARDRAIL,),
    controls=merge(LEAST_PRIVILEGE, GUARDRAIL_ENFORCEMENT), level=always("mandatory"),
)
def invoke_requires_guardrail(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The API applies the guardrail, but a role that may call Bedrock directly can skip it, and
    with it the PII and prompt-attack filters. Every Allow of model invocation in an IAM policy
    (managed, inline, a role's inline policies) carries a StringEquals (or exact StringLike)
    bedrock:GuardrailIdentifier condition naming a guardrail of the stack (its ARN, optionally
    `:<version>`), or the same policy has a Deny of those actions on those resources whenever
    the identifier is not such a guardrail (StringNotEquals, which also matches a call without
    one). Endpoint policies are AIB-175's."""
    guardrails = plan.of_type(GUARDRAIL)
    present = foundation_models_present(plan)
    for r in plan.of_type(*IAM_POLICY_TYPES):
        docs, unknown = _documents(policy_texts(r))
        problems, granting = [], 0
        for doc in docs:
            for i, stmt in enumerate(statements(doc)):
                if not grants_invoke(stmt):
                    continue
                granting += 1
                problem = _condition_problem(stmt, guardrails)
                if problem is None:
                    continue
                covered = _deny_covers(doc, stmt, guardrails)
                if covered == "yes":
                    continue
                if problem == "unknown" or covered == "unknown":
                    unknown = True
                    continue
                problems.append(f"{describe(stmt, i)}: {problem}")
        if problems:
            yield fail("invocation without the guardrail: " + "; ".join(problems), r)
        elif unknown and (granting or present):
            yield na("guardrail condition unknown until apply", r)
        elif granting:
            yield ok(f"{granting} invoke statement(s) require a guardrail of the stack", r)

