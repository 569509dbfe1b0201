"""Account separation: training, production inference and the audit evidence each live in the
account the tier gives them, the account that keeps the evidence runs no workload, and no
resource policy lets in an account outside the stack.

Where a tier separates accounts (`accounts` in the tier matrix: `training-inference`, `three`),
the account boundary is what keeps whoever administers one part from the others: an
administrator of the training account cannot change the production model or the API in front
of it, and nobody who runs a workload can delete the evidence of what it did (the AWS Security
Reference Architecture puts workloads, security tooling and the log archive in accounts of their
own: its Log Archive account "is dedicated to ingesting and archiving all security-related logs
and backups", immutable storage "accessed only by controlled, automated, and monitored
mechanisms", https://docs.aws.amazon.com/prescriptive-guidance/latest/security-reference-architecture/log-archive.html).

Where a resource lives is read from the plan: each resource's account is the one its AWS
provider assumes a role in (`PolicyResource.account`; "" is the deploying account, the one
`pulumi up` runs with), a Kubernetes object's is its cluster's. The accounts the stack means
are the plan's `accounts` (role -> id, from the stack config's `accounts`; CrossGuard reads
them from the policy config or the stack config).

Which part is which, from data:
- training: every AWS resource of the training tree (`PolicyPlan.in_training`), every FSx for
  Lustre file system, and the model bucket training writes (a model bucket that is not a
  replica of another), with the keys those buckets are encrypted with;
- production inference: clusters and node groups outside training, the REST API and its stages,
  the web ACL with its association and logging configuration, load balancers, the VPC link,
  Route 53 records and health checks, the alarms on serving metrics, and the promoted model
  copies (replicas of the training model bucket);
- audit evidence: the buckets CloudTrail, Firehose (SIEM backups) and AWS Config deliver to
  (`audit_buckets`), the buckets those replicate into (the locked archives), and their keys.

A policy that admits a whole AWS Organizations organisation (aws:PrincipalOrgID and the like)
admits accounts outside the stack's: it fails AIB-165 unless it is the organisation the stack
declares (spec `accounts.organization`, the plan's `organization`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from blueprints.tiers import Tier
from policies.controls import BOUNDARY, LEAST_PRIVILEGE, LOG_PROTECTION, merge
from policies.model import (
    ACCOUNT_ROLES, AWS_PROVIDER_TYPE, PolicyPlan, PolicyResource, arn_account, as_list, assumed_account,
    has_training_segment, is_unknown, policy_document, statements, urn_name,
)
from policies.rule import (
    PROHIBITION, Exemption, Result, RuleContext, always, check, declare_exemptions, exempt, fail, na, ok, plan_rule,
    tier_level,
)
from policies.rules._aws import (
    API_STAGE, BUCKET, BUCKET_REPLICATION, BUCKET_SSE, CONFIG_DELIVERY_CHANNEL, ECR_REPOSITORY, EKS_CLUSTER,
    EKS_NODE_GROUP, EVERY_STACK, FIREHOSE, FSX_LUSTRE, INFERENCE, INSTANCE, KMS_KEY, LAMBDA_FUNCTION, LAUNCH_TEMPLATE, LOAD_BALANCER, METRIC_ALARM,
    R53_HEALTH_CHECK, R53_RECORD, REST_API, TRAIL, TRAINING, VPC, WEB_ACL, WEB_ACL_ASSOCIATION, WEB_ACL_LOGGING,
    audit_buckets, aws_present, bucket_parts, is_model_bucket, replica_buckets,
)
from policies.rules._statements import (
    ACCOUNT, ARN, ORG, ORG_PATH, allows, limiting_keys, principal_values,
)
from policies.rules.resource_policies import (
    EVENT_PERMISSION, LAMBDA_LAYER_PERMISSION, LAMBDA_PERMISSION, PERMISSIONS, SERVICE_DOCUMENTS,
)
from policies.rules.transport import ALB_LOAD_BALANCER, VPC_LINK

KMS_GRANT = "aws:kms/grant:Grant"

# Separating training (pre-production) from production, and the duties of whoever runs each.
SEPARATION = {
    "nist-800-53-r5": ["SC-32", "AC-5", "CM-4(1)"],
    "hipaa": ["164.312(a)(1)"],
    "pci-dss-4.0": ["6.5.3", "6.5.4"],
    "gdpr": ["Art. 25(1)", "Art. 32(1)(b)"],
    "sox-itgc": ["ITGC-APD", "ITGC-PC"],
}
# Audit records kept apart from the systems they record (AU-9(2): on separate components).
EVIDENCE_APART = merge(LOG_PROTECTION, {"nist-800-53-r5": ["AU-9(2)", "AC-5"]})

_separated = tier_level(lambda t: "mandatory" if t.separate_accounts else "disabled",
                        "mandatory where `accounts` separates training and inference (`training-inference`, "
                        "`three`); off otherwise")

ROLE_WORDS = {"training": "training", "inference": "inference", "logArchive": "log archive"}
PART_WORDS = {"training": "training", "inference": "production inference", "logArchive": "audit evidence"}
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


def required_roles(tier: Tier) -> tuple[str, ...]:
    """The parts of a stack the tier puts in accounts of their own."""
    if tier.accounts == "three":
        return ACCOUNT_ROLES
    return ("training", "inference") if tier.separate_accounts else ()


def describe_account(plan: PolicyPlan, account: Optional[str]) -> str:
    """An account in words: its role in the stack, or what it is."""
    if account is None:
        return "an account unknown until apply"
    if not account:
        return "the deploying account (its provider assumes no role)"
    roles = [ROLE_WORDS[r] for r in ACCOUNT_ROLES if plan.accounts.get(r) == account]
    if roles:
        return f"the {' and '.join(roles)} account {account}"
    return f"account {account}, which the stack does not declare"


def _undeclared(plan: PolicyPlan, ctx: RuleContext) -> str:
    words = [("the " if r == "logArchive" else "") + ROLE_WORDS[r] for r in required_roles(ctx.tier) or ACCOUNT_ROLES]
    roles = ", ".join(words[:-1]) + " and " + words[-1]
    return (f"the plan declares no accounts: the {ctx.tier.name} tier puts {roles} in accounts of their own (stack "
            "config `accounts`; for CrossGuard, the policy config's or the stack config's `accounts`)")


def provider_urn(ref: str) -> str:
    """The provider's URN from a provider reference (`urn::id`)."""
    return ref.rsplit("::", 1)[0] if ref else ""


def account_of(plan: PolicyPlan, r: PolicyResource) -> Optional[str]:
    """The account a resource lives in: its AWS provider's ("" the deploying account); a
    Kubernetes object's is the account of the EKS cluster its Kubernetes provider is built from
    (None when the plan does not say)."""
    if r.type.startswith("kubernetes:"):
        provider = plan.get(provider_urn(r.provider))
        clusters = plan.dependencies_of(provider, EKS_CLUSTER) if provider is not None else []
        return clusters[0].account if clusters else None
    return r.account


def bucket_keys(plan: PolicyPlan, bucket: PolicyResource) -> list[Any]:
    """The KMS keys (ARN, id or alias as written) the bucket's default encryption names."""
    keys = []
    for config in bucket_parts(plan, bucket, BUCKET_SSE):
        for rule in as_list(config.get("rules")):
            default = rule.get("applyServerSideEncryptionByDefault") if isinstance(rule, Mapping) else None
            key = default.get("kmsMasterKeyId") if isinstance(default, Mapping) else None
            if key:
                keys.append(key)
    return keys


# -- the parts of the stack ----------------------------------------------------------------------
def _replicas(plan: PolicyPlan, sources: Iterable[PolicyResource]) -> list[PolicyResource]:
    """Every bucket the sources replicate into, and those replicate into, and so on."""
    found: dict[str, PolicyResource] = {}
    frontier = list(sources)
    while frontier:
        for target in replica_buckets(plan, frontier.pop()):
            if target.urn not in found:
                found[target.urn] = target
                frontier.append(target)
    return list(found.values())


def model_buckets(plan: PolicyPlan) -> tuple[list[PolicyResource], list[PolicyResource]]:
    """(the model buckets training writes, the promoted copies serving reads): a model bucket
    that is a replica of another model bucket, or any replica of the training one, is a copy."""
    models = [b for b in plan.of_type(BUCKET) if is_model_bucket(b)]
    copies = {c.urn: c for c in _replicas(plan, models)}
    return [m for m in models if m.urn not in copies], list(copies.values())


def evidence_buckets(plan: PolicyPlan) -> list[PolicyResource]:
    """The buckets that hold audit evidence: `audit_buckets` and the archives they replicate into."""
    audit = audit_buckets(plan)
    found = {b.urn: b for b in audit}
    for b in _replicas(plan, audit):
        found.setdefault(b.urn, b)
    return list(found.values())


def _with_keys(plan: PolicyPlan, parts: dict[str, tuple[PolicyResource, str]], buckets: Iterable[PolicyResource],
               extra_keys: Iterable[tuple[Any, str]] = ()) -> dict[str, list[tuple[str, str]]]:
    """Adds the plan's KMS keys that the buckets (and `extra_keys`) are encrypted with to
    `parts`; returns, per owner URN, the keys outside the plan as (ARN account, key)."""
    outside: dict[str, list[tuple[str, str]]] = {}
    refs = [(key, bucket.urn, f"key of {urn_name(bucket.urn)}") for bucket in buckets for key in bucket_keys(plan, bucket)]
    refs += [(key, "", what) for key, what in extra_keys]
    for key, owner, what in refs:
        resource = plan.lookup(key, [KMS_KEY])
        if resource is not None:
            parts.setdefault(resource.urn, (resource, what))
        elif owner and arn_account(key):
            outside.setdefault(owner, []).append((str(arn_account(key)), str(key)))
    return outside


def training_parts(plan: PolicyPlan) -> tuple[dict[str, tuple[PolicyResource, str]], dict[str, list[tuple[str, str]]]]:
    """The training part of the stack, URN -> (resource, what it is), and the keys outside the plan."""
    parts: dict[str, tuple[PolicyResource, str]] = {}
    for r in plan.resources:
        if r.type.startswith("aws:") and (plan.in_training(r) or r.type == FSX_LUSTRE):
            parts[r.urn] = (r, f"training {r.type.rsplit(':', 1)[-1]}")
    models, _ = model_buckets(plan)
    for bucket in models:
        parts.setdefault(bucket.urn, (bucket, "the model bucket training writes"))
    buckets = [r for r, _ in parts.values() if r.type == BUCKET]
    return parts, _with_keys(plan, parts, buckets)


# Metric namespaces of the serving path: the API, its WAF, the load balancers, DNS health checks.
SERVING_NAMESPACES = frozenset({"AWS/ApiGateway", "AWS/WAFV2", "AWS/NetworkELB", "AWS/ApplicationELB", "AWS/ELB",
                                "AWS/Route53"})
SERVING_TYPES: dict[str, str] = {
    REST_API: "REST API", API_STAGE: "API stage", WEB_ACL: "web ACL", WEB_ACL_ASSOCIATION: "web ACL association",
    # The logging configuration is the web ACL's own setting, made with its account's credentials
    # (AWS WAF Developer Guide, "AWS WAF logging destinations": the destination is configured in
    # the web ACL's Region "using the same account as you use to manage the web ACL").
    WEB_ACL_LOGGING: "web ACL logging configuration", LOAD_BALANCER: "load balancer",
    ALB_LOAD_BALANCER: "load balancer", VPC_LINK: "VPC link", R53_RECORD: "DNS record",
    R53_HEALTH_CHECK: "DNS health check",
}


def _alarm_namespaces(alarm: PolicyResource) -> set[str]:
    found = {alarm.get("namespace")}
    for query in as_list(alarm.get("metricQueries")):
        metric = query.get("metric") if isinstance(query, Mapping) else None
        if isinstance(metric, Mapping):
            found.add(metric.get("namespace"))
    return {n for n in found if isinstance(n, str)}


def _serving_alarm(alarm: PolicyResource) -> bool:
    """An alarm on the serving path: on the API, WAF, load balancer or DNS metrics, or on
    Container Insights of a cluster outside training."""
    namespaces = _alarm_namespaces(alarm)
    if namespaces & SERVING_NAMESPACES:
        return True
    cluster = alarm.get("dimensions", "ClusterName")
    return "ContainerInsights" in namespaces and isinstance(cluster, str) and not has_training_segment(cluster)


def serving_parts(plan: PolicyPlan) -> dict[str, tuple[PolicyResource, str]]:
    """The production inference part of the stack, URN -> (resource, what it is)."""
    parts: dict[str, tuple[PolicyResource, str]] = {}
    for r in plan.of_type(EKS_CLUSTER, EKS_NODE_GROUP):
        if not plan.in_training(r):
            parts[r.urn] = (r, "serving cluster" if r.type == EKS_CLUSTER else "serving node group")
    for r in plan.of_type(*SERVING_TYPES):
        if not plan.in_training(r):
            parts[r.urn] = (r, SERVING_TYPES[r.type])
    for r in plan.of_type(METRIC_ALARM):
        if _serving_alarm(r):
            parts[r.urn] = (r, "serving alarm")
    _, copies = model_buckets(plan)
    for bucket in copies:
        parts[bucket.urn] = (bucket, "promoted model copy")
    return parts


def evidence_parts(plan: PolicyPlan) -> tuple[dict[str, tuple[PolicyResource, str]], dict[str, list[tuple[str, str]]]]:
    """The audit evidence, URN -> (resource, what it is): its buckets and the keys they (and the
    trail's log files) are encrypted with; and the keys outside the plan. Without an evidence
    bucket there is no evidence to place (the keys alone are not the control)."""
    parts = {b.urn: (b, "audit evidence bucket") for b in evidence_buckets(plan)}
    buckets = [b for b, _ in parts.values()]
    if not buckets:
        return {}, {}
    trail_keys = [(t.get("kmsKeyId"), f"key of the trail {urn_name(t.urn)}") for t in plan.of_type(TRAIL) if t.get("kmsKeyId")]
    return parts, _with_keys(plan, parts, buckets, trail_keys)


def _place(plan: PolicyPlan, ctx: RuleContext, parts: Mapping[str, tuple[PolicyResource, str]],
           outside: Mapping[str, list[tuple[str, str]]], role: str) -> Iterable[Result]:
    """The parts in the `role` account; nothing to judge without parts, one failure without accounts."""
    if not parts:
        return
    if not plan.accounts:
        yield fail(_undeclared(plan, ctx), plan.stack_urn)
        return
    yield from _judge(plan, parts, outside, role)


def _judge(plan: PolicyPlan, parts: Mapping[str, tuple[PolicyResource, str]], outside: Mapping[str, list[tuple[str, str]]],
           role: str, apart_from: Optional[set[str]] = None) -> Iterable[Result]:
    """One result per part (and the keys outside the plan it uses): in the `role` account, or,
    with `apart_from`, in none of those accounts."""
    expected = plan.accounts.get(role, "")
    word = ROLE_WORDS[role]
    if apart_from is None and not expected:
        yield fail(f"the plan declares no {word} account, so {PART_WORDS[role]} has none of its own", plan.stack_urn)
        return
    if apart_from is None:
        def placed_in(account: str) -> bool:
            return account == expected
        where = f"in the {word} account {expected}"
    else:
        def placed_in(account: str) -> bool:
            return account not in apart_from
        where = "outside the workload accounts"
    for urn in sorted(parts):
        r, what = parts[urn]
        placed = placed_in(r.account)
        wrong_keys = [f"its key {key} is in {describe_account(plan, acct)}" for acct, key in outside.get(urn, [])
                      if not placed_in(acct)]
        if placed and not wrong_keys:
            yield ok(f"{what}: {where}", r)
        else:
            problems = ([] if placed else [f"it is in {describe_account(plan, r.account)}"]) + wrong_keys
            yield fail(f"{what}: {' and '.join(problems)}; {PART_WORDS[role]} belongs {where}", r)


# -- AIB-160 ----------------------------------------------------------------------------------------
@plan_rule(
    id="AIB-160", scope=EVERY_STACK, requires=(),
    missing="no accounts declared",
    title="The stack declares separate accounts for training, production inference (and the log archive where the tier "
    "requires one), and every provider that assumes a role does so in one of them",
    severity="high", area="identity and access", types=(AWS_PROVIDER_TYPE,), controls=SEPARATION, level=_separated,
)
def accounts_declared(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The plan's `accounts` names a twelve-digit account for each part the tier separates, and
    no two of them are the same account (training is not production inference; the log archive
    is neither); each AWS provider that assumes a role assumes it in one of those accounts. A
    provider in an account the stack does not declare puts resources where none of the account
    rules look, and an account shared between training and production gives one administrator
    both. A provider that assumes no role deploys into the account `pulumi up` runs with (on
    `training-inference`, where the log archive is only advised, that is where the archives go);
    what it holds is the placement rules' to judge."""
    if not aws_present(plan):
        return
    declared = plan.accounts
    if not declared:
        yield fail(_undeclared(plan, ctx), plan.stack_urn)
    else:
        problems = [f"no {ROLE_WORDS[r]} account" for r in required_roles(ctx.tier) if not declared.get(r)]
        problems += [f"{ROLE_WORDS.get(r, r)} account {a!r} is not a 12-digit account id"
                     for r, a in declared.items() if not _ACCOUNT_ID.match(a)]
        training, inference, archive = (declared.get(r) for r in ACCOUNT_ROLES)
        if training and training == inference:
            problems.append(f"training and inference share account {training}")
        if ctx.tier.accounts == "three" and archive and archive in (training, inference):
            problems.append(f"the log archive account {archive} is also a workload account")
        yield check(not problems, "accounts declared as the tier separates them: " + ", ".join(
            f"{ROLE_WORDS.get(r, r)} {a}" for r, a in declared.items()),
            f"the accounts do not separate what the {ctx.tier.name} tier separates: {'; '.join(problems)}", plan.stack_urn)
    for provider in plan.of_type(AWS_PROVIDER_TYPE):
        account = assumed_account(provider.inputs)
        if not account:
            yield na("assumes no role: deploys into the account `pulumi up` runs with", provider)
        else:
            yield check(account in declared.values(), f"assumes a role in {describe_account(plan, account)}",
                        f"assumes a role in {describe_account(plan, account)}: its resources are outside the stack's "
                        "accounts", provider)


# -- AIB-161 ----------------------------------------------------------------------------------------
@plan_rule(
    id="AIB-161", scope=TRAINING, requires=(),
    missing="no training resource to place",
    title="Training (its network, cluster, node groups, file system, registries, data and model buckets and their keys) "
    "is in the training account",
    severity="critical", area="identity and access",
    types=(VPC, EKS_CLUSTER, EKS_NODE_GROUP, LAUNCH_TEMPLATE, INSTANCE, FSX_LUSTRE, ECR_REPOSITORY, BUCKET, BUCKET_SSE,
           BUCKET_REPLICATION, KMS_KEY),
    controls=SEPARATION, level=_separated,
)
def training_in_training_account(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Every AWS resource of the training tree, every FSx for Lustre file system, the model
    bucket training writes (a model bucket that is not a replica) and the keys those buckets use
    are in `accounts.training`. Training data in the inference account is readable by whoever
    administers production; a training key there lets production's administrator disable or
    re-grant it. (The training tree is the component tree under the training blueprint's
    `<name>-training...` components: its VPC, cluster, node groups, registries and buckets.)"""
    yield from _place(plan, ctx, *training_parts(plan), "training")


# -- AIB-162 ----------------------------------------------------------------------------------------
@plan_rule(
    id="AIB-162", scope=INFERENCE, requires=(),
    missing="no serving resource to place",
    title="Production inference (serving clusters, API, WAF, load balancers, VPC link, DNS, serving alarms, promoted "
    "models) is in the inference account",
    severity="critical", area="identity and access",
    types=(EKS_CLUSTER, EKS_NODE_GROUP, *SERVING_TYPES, METRIC_ALARM, BUCKET, BUCKET_REPLICATION),
    controls=SEPARATION, level=_separated,
)
def serving_in_inference_account(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Clusters and node groups outside training, the REST API and its stages, web ACLs with
    their associations and logging configurations, load balancers, VPC links, Route 53 records
    and health checks, alarms on the serving metrics (API Gateway, WAF, load balancers, Route 53,
    Container Insights of a serving cluster) and the promoted model copies (replicas of the
    training model bucket) are in `accounts.inference`. Production in the training account is
    changeable by everyone who may run experiments there: the model served, the API's auth, the
    WAF in front of it."""
    yield from _place(plan, ctx, serving_parts(plan), {}, "inference")


# -- AIB-163 ----------------------------------------------------------------------------------------
@plan_rule(
    id="AIB-163", scope=EVERY_STACK, requires=(BUCKET,),
    missing="no audit evidence bucket (CloudTrail, SIEM archive, AWS Config delivery) to place",
    title="Audit evidence (CloudTrail, SIEM and AWS Config buckets, their archive replicas and their keys) is in the log "
    "archive account, never in a workload account",
    severity="critical", area="logging and retention",
    types=(BUCKET, BUCKET_SSE, BUCKET_REPLICATION, TRAIL, FIREHOSE, CONFIG_DELIVERY_CHANNEL, KMS_KEY),
    controls=EVIDENCE_APART, level=_separated,
)
def evidence_in_log_archive(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The buckets CloudTrail, Firehose and AWS Config deliver to, the archives they replicate
    into, and the keys those buckets and the trail's log files are encrypted with, are in
    `accounts.logArchive`. Where the tier only advises a log archive (`training-inference`) and
    none is declared, they are at least outside the training and inference accounts (in the
    account `pulumi up` runs with). Evidence in a workload account can be deleted, or its key
    disabled, by the administrator whose actions it records."""
    parts, outside = evidence_parts(plan)
    if not parts:
        return
    declared = plan.accounts
    if not declared:
        yield fail(_undeclared(plan, ctx), plan.stack_urn)
    elif declared.get("logArchive"):
        yield from _judge(plan, parts, outside, "logArchive")
    elif "logArchive" in required_roles(ctx.tier):
        yield fail(f"the plan declares no log archive account: the {ctx.tier.name} tier keeps the audit evidence in an "
                   "account of its own", plan.stack_urn)
    else:
        workloads = {a for a in (declared.get("training"), declared.get("inference")) if a}
        yield from _judge(plan, parts, outside, "logArchive", apart_from=workloads)


# -- AIB-164 ----------------------------------------------------------------------------------------
# What runs code or serves requests, and so is a workload; the log archive holds none of them
# (the AWS SRA's Log Archive account ingests and archives logs, nothing else: see the module
# docstring). It may hold what stores and delivers evidence: buckets and their parts, KMS keys, log groups,
# Firehose streams, IAM roles and policies for delivery, replication and the auditor, CloudTrail,
# AWS Config, GuardDuty, Security Hub. A VPC (subnets, endpoints) runs nothing by itself, and
# everything that would run in one is on this list; a Lambda function that is a Firehose
# stream's record transformer of the same account is delivery, not a workload.
WORKLOAD_TYPES: dict[str, str] = {
    EKS_CLUSTER: "EKS cluster", EKS_NODE_GROUP: "EKS node group", "aws:eks/fargateProfile:FargateProfile": "Fargate profile",
    INSTANCE: "EC2 instance", LAUNCH_TEMPLATE: "launch template", "aws:autoscaling/group:Group": "Auto Scaling group",
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest": "spot instance request",
    "aws:ec2/spotFleetRequest:SpotFleetRequest": "spot fleet", "aws:ec2/fleet:Fleet": "EC2 fleet",
    "aws:ecs/cluster:Cluster": "ECS cluster", "aws:ecs/service:Service": "ECS service",
    "aws:batch/computeEnvironment:ComputeEnvironment": "Batch compute environment",
    "aws:sagemaker/endpoint:Endpoint": "SageMaker endpoint", "aws:sagemaker/notebookInstance:NotebookInstance":
    "SageMaker notebook", LAMBDA_FUNCTION: "Lambda function",
    REST_API: "REST API", "aws:apigatewayv2/api:Api": "HTTP/WebSocket API", VPC_LINK: "VPC link",
    LOAD_BALANCER: "load balancer", ALB_LOAD_BALANCER: "load balancer", "aws:elb/loadBalancer:LoadBalancer":
    "classic load balancer", "aws:cloudfront/distribution:Distribution": "CloudFront distribution",
    FSX_LUSTRE: "FSx for Lustre file system", "aws:efs/fileSystem:FileSystem": "EFS file system",
    ECR_REPOSITORY: "ECR repository",
    "kubernetes:apps/v1:Deployment": "Kubernetes Deployment", "kubernetes:apps/v1:DaemonSet": "Kubernetes DaemonSet",
    "kubernetes:apps/v1:StatefulSet": "Kubernetes StatefulSet", "kubernetes:batch/v1:Job": "Kubernetes Job",
    "kubernetes:batch/v1:CronJob": "Kubernetes CronJob", "kubernetes:core/v1:Pod": "Kubernetes Pod",
}


def _function_arn(value: Any) -> Optional[str]:
    """A Lambda function's ARN without its version or alias qualifier."""
    if not isinstance(value, str) or is_unknown(value) or not value.startswith("arn:"):
        return None
    return ":".join(value.split(":")[:7])


def _transformer_arns(stream: PolicyResource) -> list[Any]:
    """The `LambdaArn` parameters of a Firehose stream's record processors, in any destination
    configuration (extendedS3Configuration, splunkConfiguration, httpEndpointConfiguration, ...)."""
    arns = []
    for config in stream.inputs.values():
        processing = config.get("processingConfiguration") if isinstance(config, Mapping) else None
        processors = processing.get("processors") if isinstance(processing, Mapping) else None
        for processor in as_list(processors):
            parameters = processor.get("parameters") if isinstance(processor, Mapping) else None
            arns += [p.get("parameterValue") for p in as_list(parameters)
                     if isinstance(p, Mapping) and p.get("parameterName") == "LambdaArn"]
    return arns


def _record_transformers(plan: PolicyPlan) -> set[str]:
    """URNs of the Lambda functions a Firehose stream of the same account transforms records with."""
    found = set()
    for stream in plan.of_type(FIREHOSE):
        arns = _transformer_arns(stream)
        functions = [plan.lookup(_function_arn(a), [LAMBDA_FUNCTION]) for a in arns]
        if any(is_unknown(a) for a in arns):
            functions += plan.dependencies_of(stream, LAMBDA_FUNCTION)
        found |= {f.urn for f in functions if f is not None and f.account == stream.account}
    return found


@plan_rule(
    id="AIB-164", scope=PROHIBITION,
    title="The account that keeps the audit evidence runs no workload (no cluster, instance, function, API, load "
    "balancer, file system or registry)",
    severity="high", area="logging and retention", types=tuple(WORKLOAD_TYPES) + (AWS_PROVIDER_TYPE, BUCKET, FIREHOSE),
    controls=EVIDENCE_APART, level=_separated,
)
def log_archive_runs_no_workload(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Nothing in the log archive account (where none is declared: the accounts the evidence
    buckets are in) runs code or serves requests: no EKS, ECS or Batch compute, EC2 instances or
    launch templates, Lambda functions (but a Firehose stream's record transformer), SageMaker,
    APIs, load balancers, CloudFront, FSx or EFS file systems, ECR repositories, or Kubernetes
    workloads on a cluster there. A workload's role, or anyone who can change its code, acts with
    that account's credentials, beside the evidence of what they did. The log archive may hold
    buckets and their parts, KMS keys, log groups, Firehose streams, IAM roles and policies for
    delivery, replication and the auditor, CloudTrail, AWS Config, GuardDuty and Security Hub."""
    archive = plan.accounts.get("logArchive")
    accounts = {archive} if archive else {b.account for b in evidence_buckets(plan)}
    if not accounts:
        return
    transformers = _record_transformers(plan)
    where = {a: describe_account(plan, a) for a in accounts}
    holding: set[str] = set()
    for r in plan.of_type(*WORKLOAD_TYPES):
        account = account_of(plan, r)
        if account not in accounts or r.urn in transformers:
            continue
        holding.add(account)
        yield fail(f"{WORKLOAD_TYPES[r.type]} in {where[account]}, which keeps the audit evidence", r)
    for provider in plan.of_type(AWS_PROVIDER_TYPE):
        account = assumed_account(provider.inputs)
        if account in accounts and account not in holding:
            yield ok(f"{where[account]} keeps the audit evidence and runs no workload", provider)


# -- AIB-165 ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountExemption(Exemption):
    """An account outside the stack that AWS itself uses to deliver to, or act on, this stack's
    resources (a service's own account that AWS documents for a resource policy). Matched by
    the rule, the policy kind and the account id exactly."""

    kind: str = ""  # BUCKET_POLICY, KEY_POLICY, ...
    account: str = ""

    @property
    def subject(self) -> str:
        return f"account `{self.account}` in a {self.kind}"


# None of the blueprints' resource policies names an AWS-owned account today (they name AWS
# services by service principal, limited to this stack's accounts by aws:SourceAccount).
ACCOUNT_EXEMPTIONS: tuple[AccountExemption, ...] = declare_exemptions()

_NEGATED = re.compile(r"not")
# The encryption context CloudTrail and CloudWatch Logs put on their KMS requests names the
# trail or log group by ARN (its account included).
_CONTEXT_ARN = re.compile(r"^kms:encryptioncontext:aws:[a-z0-9-]+:arn$")


def stack_accounts(plan: PolicyPlan) -> set[str]:
    """The accounts of the stack: those the plan declares, those its providers assume roles in,
    and those its own resources' ARNs name (the deploying account of a single-account stack)."""
    found = {a for a in plan.accounts.values() if _ACCOUNT_ID.match(a)}
    found |= {assumed_account(p.inputs) for p in plan.of_type(AWS_PROVIDER_TYPE)} - {""}
    for r in plan.resources:
        account = arn_account(r.arn) if r.type.startswith("aws:") else None
        if account and _ACCOUNT_ID.match(account):
            found.add(account)
    return found


def _account_ids(value: Any, shape: str) -> list[tuple[str, str]]:
    """(kind, id) for a value of `shape`: ("account", 12 digits) or ("organisation", o-... or
    a path); nothing for unknown or unrecognised values (wildcards are AIB-120's and AIB-121's)."""
    if not isinstance(value, str) or is_unknown(value):
        return []
    if shape == ACCOUNT and _ACCOUNT_ID.match(value):
        return [("account", value)]
    if shape == ARN:
        account = arn_account(value)
        return [("account", account)] if account and _ACCOUNT_ID.match(account) else []
    if shape in (ORG, ORG_PATH) and value.startswith("o-"):
        return [("organisation", value.split("/", 1)[0])]
    return []


def _principal_ids(value: Any) -> list[tuple[str, str]]:
    """An AWS or federated principal: a bare account id or an ARN that names an account."""
    if isinstance(value, str) and _ACCOUNT_ID.match(value):
        return [("account", value)]
    return _account_ids(value, ARN)


def statement_admits(stmt: Mapping[str, Any], kind: str) -> list[tuple[str, str, str]]:
    """(kind, id, where) of every account and organisation an Allow names as who may act, or
    for whom a service may act: AWS and federated principals (account ids and ARNs), and the
    values of positive conditions on the caller, the source and the network
    (aws:PrincipalAccount, aws:PrincipalArn, aws:SourceAccount, aws:SourceArn, kms:CallerAccount,
    aws:PrincipalOrgID, ...). A negated condition names who is kept out, so it admits nobody."""
    if not allows(stmt):
        return []
    found = []
    for type_, values in principal_values(stmt).items():
        if type_ in ("AWS", "Federated"):
            found += [(k, i, f"Principal {type_}") for v in values for k, i in _principal_ids(v)]
    keys = limiting_keys(kind)
    block = stmt.get("Condition")
    for operator, pairs in (block.items() if isinstance(block, Mapping) else ()):
        if not isinstance(pairs, Mapping) or _NEGATED.search(operator.lower().split(":")[-1]):
            continue
        for key, values in pairs.items():
            name = str(key).lower()
            shape = keys.get(name) or (ARN if _CONTEXT_ARN.match(name) else None)
            if shape in (ACCOUNT, ARN, ORG, ORG_PATH):
                found += [(k, i, f"condition {key}") for v in as_list(values) for k, i in _account_ids(v, shape)]
    return found


def _permission_admits(r: PolicyResource) -> list[tuple[str, str, str]]:
    """What a Lambda, Lambda layer or EventBridge permission, or a KMS grant, names."""
    found = []
    if r.type == KMS_GRANT:
        for key in ("granteePrincipal", "retiringPrincipal"):
            found += [(k, i, key) for k, i in _principal_ids(r.get(key))]
        return found
    found += [(k, i, "principal") for k, i in _principal_ids(r.get("principal"))]
    if r.type == LAMBDA_PERMISSION:
        found += [(k, i, "sourceAccount") for k, i in _account_ids(r.get("sourceAccount"), ACCOUNT)]
        found += [(k, i, "sourceArn") for k, i in _account_ids(r.get("sourceArn"), ARN)]
        found += [(k, i, "principalOrgId") for k, i in _account_ids(r.get("principalOrgId"), ORG)]
    elif r.type == LAMBDA_LAYER_PERMISSION:
        found += [(k, i, "organizationId") for k, i in _account_ids(r.get("organizationId"), ORG)]
    elif r.type == EVENT_PERMISSION:
        condition = r.get("condition")
        if isinstance(condition, Mapping) and str(condition.get("key", "")).lower() == "aws:principalorgid":
            found += [(k, i, "condition aws:PrincipalOrgID") for k, i in _account_ids(condition.get("value"), ORG)]
    return found


def account_exemption(kind: str, account: str) -> Optional[AccountExemption]:
    return next((e for e in ACCOUNT_EXEMPTIONS if (e.rule, e.kind, e.account) == ("AIB-165", kind, account)), None)


@plan_rule(
    id="AIB-165", scope=PROHIBITION,
    title="No resource policy, permission or grant admits an account outside the stack's accounts",
    severity="critical", area="identity and access", types=(*SERVICE_DOCUMENTS, *PERMISSIONS, KMS_GRANT),
    controls=merge(LEAST_PRIVILEGE, BOUNDARY),
    level=always("mandatory"),
)
def no_foreign_accounts(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Every account a key, bucket, topic, queue, endpoint, repository, secret, API, log or
    trust policy names in an Allow (as a principal, or in a condition on the caller, the source or
    the network: aws:PrincipalAccount, aws:SourceAccount, aws:SourceArn, kms:CallerAccount, ...),
    and every account a Lambda permission or KMS grant names, is one of the stack's: those the
    plan declares (`accounts`), those its providers assume roles in, and the deploying account its
    own ARNs show. A policy that names another account lets that account's principals in, or lets
    an AWS service write that account's data here: a copy of the training data or the model
    leaves the stack's control. An organisation (aws:PrincipalOrgID, aws:SourceOrgID, ...) admits
    every account in it: only the one the stack declares (`accounts.organization`) passes. An
    account the stack does not name fails even when it belongs to that organisation: offline
    nothing can tell, and a policy should name the organisation rather than one of its accounts.
    Accounts AWS itself uses are declared exemptions (`ACCOUNT_EXEMPTIONS`, none today)."""
    accounts = stack_accounts(plan)
    for r in plan.of_type(*SERVICE_DOCUMENTS, *PERMISSIONS, KMS_GRANT):
        if r.type in SERVICE_DOCUMENTS:
            key, kind = SERVICE_DOCUMENTS[r.type]
            value = r.get(key)
            if value in (None, "", {}, []):
                continue
            doc = policy_document(value)
            if doc is None:
                yield na(f"{kind} unknown until apply", r)
                continue
            named = [(k, i, w) for stmt in statements(doc) for k, i, w in statement_admits(stmt, kind)]
        else:
            kind = "grant" if r.type == KMS_GRANT else "permission"
            named = _permission_admits(r)
        if not accounts:
            yield na("the stack's accounts are unknown until apply (no declared accounts, no role assumed, no known ARN)", r)
            continue
        # An organisation is the stack's only where the plan declares it.
        foreign = sorted({(what, ident, where) for what, ident, where in named
                          if (ident != plan.organization if what == "organisation" else ident not in accounts)})
        failing = [(what, ident, where) for what, ident, where in foreign
                   if what == "organisation" or not account_exemption(kind, ident)]
        if failing:
            listed = "; ".join(f"{what} {ident} ({where})" for what, ident, where in failing)
            own = ", ".join(sorted(accounts)) + (f"; organisation {plan.organization}" if plan.organization else "")
            yield fail(f"{kind} admits what is outside the stack's accounts ({own}): {listed}", r)
        elif foreign:
            reasons = sorted({f"account {ident}: {account_exemption(kind, ident).reason}" for _, ident, _ in foreign})
            yield exempt("; ".join(reasons), r)
        else:
            ids = sorted({ident for _, ident, _ in named})
            yield ok(f"{kind} names only the stack's accounts ({', '.join(ids)})" if ids else f"{kind} names no account", r)
