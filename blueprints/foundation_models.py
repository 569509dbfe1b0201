"""Governed access to managed foundation models (Amazon Bedrock), in every inference region
(spec `foundationModels`; issue 10).

Per inference region, in the inference account, before the region's REST API:
- a Bedrock guardrail from the spec (PII action, prompt-attack filter, content filters, denied
  topics), published as a version, encrypted with the region's models key where the tier has CMKs;
- model invocation logging (one setting per account and region) to an encrypted, retained log
  group, shipped to the SIEM as `bedrock-invocations` wherever the tier ships `api-access`, and
  to an encrypted bucket;
- a `bedrock-runtime` interface endpoint in the inference VPC whose policy admits only the listed
  models and the guardrail, for this account's principals;
- one managed invoke policy: only the listed models (their profile and foundation-model ARNs),
  only with the guardrail's published version, on air-gapped tiers only through the endpoint;
  attached to the gateway's function and to an application role for the account's own callers;
- the gateway function (`POST /foundation-models/{modelId}/converse` on the region's API, behind
  the same WAF, auth, validation, throttling and access logs as /predict);
and after the serving alarms, alarms on guardrail interventions, throttles and errors to their
topic. The training VPC gets its own endpoint (fine-tuning jobs reach Bedrock privately; the
guardrail and the gateway are production's).
"""

from __future__ import annotations

from dataclasses import dataclass
import pulumi

from blueprints.context import BlueprintContext, LogSource
from blueprints.spec import FoundationModelsSpec
from blueprints.tiers import FM_SIEM_SOURCE, RESIDENCY_REGIONS
from components.bedrock import (
    BedrockAccessPolicy, BedrockAccessPolicyArgs, BedrockAlarms, BedrockAlarmsArgs, BedrockEndpoint,
    BedrockEndpointArgs, BedrockGuardrail, BedrockGuardrailArgs, DeniedTopic, InvocationLogging, InvocationLoggingArgs,
    invocation_log_bucket_statements, model_resource_arns,
)
from components.encrypted_bucket import EncryptedBucket
from components.fm_gateway import FoundationModelProxy, FoundationModelProxyArgs, FoundationModelProxyVpc
from components.isolated_vpc import IsolatedVpc

# Where a geographic inference profile may send a request: the regions of its geography this
# project knows (a superset of each profile's destinations; the invoke policy names the model in
# each, so a new destination inside the geography needs no change).
GEOGRAPHY_REGIONS = {geo: list(regions) for geo, regions in RESIDENCY_REGIONS.items()}
INVOCATION_LOG_PREFIX = "bedrock-invocations"


@dataclass
class FoundationModelRegion:
    guardrail: BedrockGuardrail
    logging: InvocationLogging
    log_bucket: EncryptedBucket
    endpoint: BedrockEndpoint
    access: BedrockAccessPolicy
    proxy: FoundationModelProxy


def model_arns(ctx: BlueprintContext, region: str, models: list[str]) -> pulumi.Output[list[str]]:
    """The IAM resource ARNs of `models` invoked from `region` in ctx's account."""
    return pulumi.Output.all(ctx.account_id(region), ctx.partition(region)).apply(
        lambda ap: model_resource_arns(models, region=region, account_id=ap[0], partition=ap[1],
                                       geography_regions=GEOGRAPHY_REGIONS))


def build_region(ctx: BlueprintContext, region: str, base: str, vpc: IsolatedVpc, vpc_cidr: str,
                 fm: FoundationModelsSpec) -> FoundationModelRegion:
    """The region's guardrail, logging, endpoint, invoke policy and gateway function (the caller
    adds `proxy.route` to the region's REST API). `vpc_cidr`: the VPC's block, whose clients
    (the gateway function, the serving nodes) the endpoint admits."""
    tier, opts = ctx.tier, ctx.opts(region)
    guard = fm.guardrail
    guardrail = BedrockGuardrail(
        f"{base}-guardrail",
        BedrockGuardrailArgs(
            pii_action=ctx.spec.pii_action.upper(),  # type: ignore[arg-type]
            prompt_attack=guard.prompt_attack.upper(),  # type: ignore[arg-type]
            denied_topics=tuple(DeniedTopic(name=t.name, definition=t.definition, examples=tuple(t.examples))
                                for t in guard.denied_topics),
            kms_key=ctx.key("models", region),
            tags=ctx.tags,
        ),
        opts=opts,
    )
    logging, log_bucket = _invocation_logging(ctx, region, f"{base}-fm")
    arns = model_arns(ctx, region, fm.models)
    endpoint = BedrockEndpoint(
        f"{base}-bedrock",
        BedrockEndpointArgs(vpc_id=vpc.vpc_id, subnet_ids=vpc.private_subnet_ids, model_arns=arns,
                            guardrail_arn=guardrail.guardrail_arn, principal_accounts=[ctx.account_id(region)],
                            client_cidrs=[vpc_cidr], tags=ctx.tags),
        opts=opts,
    )
    access = BedrockAccessPolicy(
        f"{base}-fm-invoke",
        BedrockAccessPolicyArgs(
            model_arns=arns, guardrail=guardrail,
            # Air-gapped tiers: only through the endpoint, so a stolen credential is useless outside the VPC.
            source_vpce_ids=[endpoint.endpoint_id] if tier.air_gapped else (),
            application_role_trust=[pulumi.Output.concat("arn:", ctx.partition(region), ":iam::",
                                                         ctx.account_id(region), ":root")],
            tags=ctx.tags,
        ),
        opts=opts,
    )
    proxy = FoundationModelProxy(
        f"{base}-fm-gateway",
        FoundationModelProxyArgs(
            allowed_models=tuple(fm.models), guardrail_id=guardrail.guardrail_id, guardrail_version=guardrail.version,
            invoke_policy_arn=access.policy_arn,
            vpc=FoundationModelProxyVpc(vpc_id=vpc.vpc_id, subnet_ids=vpc.private_subnet_ids,
                                        endpoint_security_group_ids=[endpoint.security_group_id]),
            log_retention_days=tier.log_retention_days, kms_key=ctx.key("logs", region), stateful=ctx.stateful,
            tags=ctx.tags,
        ),
        opts=opts,
    )
    return FoundationModelRegion(guardrail=guardrail, logging=logging, log_bucket=log_bucket, endpoint=endpoint,
                                 access=access, proxy=proxy)


def _invocation_logging(ctx: BlueprintContext, region: str, base: str) -> tuple[InvocationLogging, EncryptedBucket]:
    """Invocation logging of ctx's account in `region` (`<base>-logs`, `<base>-invocations`): the
    bucket (named before it exists, so its policy can admit Bedrock), the log group and the
    configuration; the log group is a SIEM source."""
    bucket_name = pulumi.Output.concat(ctx.name, "-fmlogs-", ctx.account_id(region), "-", region)
    bucket_arn = pulumi.Output.concat("arn:", ctx.partition(region), ":s3:::", bucket_name)
    retention = ctx.tier.log_retention_days
    bucket = EncryptedBucket(
        f"{base}-logs",
        ctx.bucket_args("logs", region, bucket_name=bucket_name, expiration_days=retention + 1,
                        policy_statements=invocation_log_bucket_statements(
                            bucket_arn, ctx.account_id(region), region, ctx.partition(region), INVOCATION_LOG_PREFIX)),
        opts=ctx.opts(region, stateful=True),
    )
    logging = InvocationLogging(
        f"{base}-invocations",
        InvocationLoggingArgs(bucket_name=bucket.bucket_name, key_prefix=INVOCATION_LOG_PREFIX, retention_days=retention,
                              kms_key=ctx.key("logs", region), stateful=ctx.stateful,
                              depends_on=[bucket.policy] if bucket.policy is not None else [bucket], tags=ctx.tags),
        opts=ctx.opts(region, stateful=True),
    )
    ctx.log_sources.append(LogSource(kind=FM_SIEM_SOURCE, region=region, account=ctx.role,
                                     log_group_name=logging.log_group_name, log_group_arn=logging.log_group_arn))
    return logging, bucket


def alarms(ctx: BlueprintContext, region: str, base: str, fm: FoundationModelsSpec, built: FoundationModelRegion,
           topic_arn: pulumi.Input[str]) -> BedrockAlarms:
    """Guardrail interventions, invocation throttles and errors of the region, to `topic_arn`."""
    return BedrockAlarms(
        f"{base}-fm-alarms",
        BedrockAlarmsArgs(topic_arn=topic_arn, model_ids=tuple(fm.models), guardrail=built.guardrail, tags=ctx.tags),
        opts=ctx.opts(region),
    )


def training_endpoint(ctx: BlueprintContext, vpc: IsolatedVpc, vpc_cidr: str, fm: FoundationModelsSpec) -> BedrockEndpoint:
    """The training VPC's private path to the listed models (fine-tuning jobs, evaluation): the
    same model list, for the training account's principals, and invocation logging in that
    account and region (where training has an account of its own, its invocations are logged
    there; in one account, the inference region's logging already covers the home region)."""
    region = ctx.home
    if ctx.multi_account or region not in ctx.spec.inference_regions:
        _invocation_logging(ctx, region, ctx.regional(ctx.per_account("fm"), region))
    return BedrockEndpoint(
        f"{ctx.name}-training-bedrock",
        BedrockEndpointArgs(vpc_id=vpc.vpc_id, subnet_ids=vpc.private_subnet_ids,
                            model_arns=model_arns(ctx, region, fm.models), guardrail_arn=None,
                            principal_accounts=[ctx.account_id(region)], client_cidrs=[vpc_cidr], tags=ctx.tags),
        opts=ctx.opts(region),
    )
