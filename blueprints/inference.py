"""Inference: multi-region GPU serving behind API Gateway, WAF and autoscaling (issue 4).

Each region in `inference.regions` gets, with that region's explicit provider: its own VPC, an
EKS cluster with a GPU node group, a system node group and the Cluster Autoscaler; the model
server (Deployment, NodePort Service, HPA, PDB, NetworkPolicies); an internal NLB reached from
a REST API through a VPC Link; a WAF web ACL on the stage; alarms; and a Route 53 health check
(plus certificate, custom domain and a latency or failover record when a domain is given).

Images on air-gapped tiers (`tier.air_gapped`): the serving VPCs have no egress and a region's
ECR interface endpoints reach only that region's registry, so each region gets private
repositories and the cluster pulls from them: `<name>/inference/model-server` for the model
server (served as `<repository>:<tag>` or `@<digest>` of `inference.modelImage`) and one per
add-on (`<name>/inference/cluster-autoscaler`, `<name>/inference/nvidia-device-plugin`). Copy
the images into every region's repositories before traffic is expected, e.g. `crane copy
<inference.modelImage> <repository_url>:<tag>` or ECR cross-region replication (a canary's image
goes into the model server's repository under its own tag); until then the workloads stay
pending (Pulumi does not wait for them: `pulumi.com/skipAwait`). On tiers with egress the spec's
model images and the public add-on images are used as they are.

Canary (`inference.canary`): a second model server (its own namespace, Deployment, NodePort
Service, HPA, PDB and NetworkPolicies, hardened like the first) runs `canary.image` on the same
GPU node group, which grows by the canary's replicas; the ingress gets a second target group and
listener for it, and the stage's canary settings send `canary.percent` of requests there (the
`backend` stage variable). The canary runs its share of the stage's replicas, at least one.
Promote: set `modelImage` to the canary's image and remove `canary`; roll back: remove `canary`.

Deletion protection of the NLB and the Cognito user pool follows `tier.protect_stateful`.

Accounts: everything here is built in the inference account (`ctx` is its view). DNS records
(health checks, the certificate's validation record, the latency or failover records) are
written by the inference account's deploy role, so `inference.hostedZoneId` must be a hosted
zone of the inference account: where the parent domain lives elsewhere (a shared networking
account), delegate a subdomain (e.g. `api.example.com`) to a zone in the inference account.
Where training runs in another account, each inference region also gets a model bucket that the
training account's approved models replicate into (`model_bucket`, built by training.build).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from blueprints import foundation_models, platform
from blueprints.context import BlueprintContext, ImagePush, LogSource, WebAclSource
from blueprints.images import SERVING_ADDONS
from blueprints.spec import CanarySpec, InferenceSpec, image_version
from blueprints.tiers import API_AUTHORIZATION_TYPES, RESIDENCY_COUNTRIES
from components.container_insights import ContainerInsights, ContainerInsightsArgs
from components.eks_cluster import EksCluster
from components.encrypted_bucket import EncryptedBucket, ObjectLock
from components.isolated_vpc import IsolatedVpc
from components.jwt_authorizer import JwtAuthorizer, JwtAuthorizerArgs
from components.node_group import NodeGroup, NodeGroupArgs
from components.private_ingress import PrivateIngress, PrivateIngressArgs
from components.regional_dns import RegionalDns, RegionalDnsArgs
from components.rest_api import CognitoAuthorizer, LambdaRoute, RestApi, RestApiArgs, StageCanary
from components.serving_alarms import ServingAlarms, ServingAlarmsArgs
from components.serving_workload import ServingWorkload, ServingWorkloadArgs
from components.user_pool import UserPool, UserPoolArgs
from components.web_acl import WebAcl, WebAclArgs

SERVING_NODE_PORT = 30080
CANARY_NODE_PORT = 30081
CANARY_NAMESPACE = "inference-canary"
# EKS add-ons that need nodes: DNS, and the resource metrics the HPA scales on.
SYSTEM_ADDONS = ("coredns", "metrics-server")
# Cluster add-on images: upstream where the nodes have egress, else a private mirror per region.
MODEL_SERVER = "model-server"
CANARY = "canary"  # the canary's model image, in `_images`
MAX_BODY_KIB = 64  # the WAF body-size rule: the largest request body API Gateway forwards to WAF


def _cidr(index: int) -> str:
    """A distinct /16 per inference region (10.40.0.0/16, 10.41.0.0/16, ...), clear of training's."""
    return f"10.{40 + index}.0.0/16"


def _image_reference(image: str, digest: bool = True) -> str:
    """What follows the repository in an image URI (the spec requires one): `:1.4.2`,
    `@sha256:<digest>` or both; `digest=False`: the tag alone where there is one (what a copy is
    pushed under: ECR expires untagged images)."""
    name, at, pinned = image.rsplit("/", 1)[-1].partition("@")
    _, colon, tag = name.rpartition(":")
    if not digest and colon:
        return colon + tag
    return (colon + tag if colon else "") + (at + pinned if at else "")


def _model_version(image: str) -> str:
    """The image tag, else the digest's first 12 hex digits: `llm-server:1.4.2` -> `1.4.2`."""
    version = image_version(image)
    return version.removeprefix("sha256:")[:12] if version.startswith("sha256:") else version


def _images(ctx: BlueprintContext, region: str, base: str) -> dict[str, pulumi.Input[str]]:
    """The model server's and the add-ons' images for one region. Where the tier is air-gapped
    the nodes reach neither the internet nor another region's registry: each image comes from a
    private ECR mirror in the region, same tag or digest (copy it in once with `crane copy
    <image> <repository>:<tag>` or ECR replication); elsewhere the images are used as given."""
    addons = {name: ctx.spec.addon_image(name) for name in SERVING_ADDONS}
    upstream = {**{name: a.upstream(a.digest) for name, a in addons.items()},
                MODEL_SERVER: ctx.spec.inference.model_image or ""}
    canary = ctx.spec.inference.canary
    if not ctx.tier.air_gapped:
        return {**upstream, **({CANARY: canary.image} if canary else {})}
    images: dict[str, pulumi.Input[str]] = {}
    # Pushed to the first inference region only: ECR replicates the others (_replicate_mirrors).
    first = region == ctx.spec.inference_regions[0]
    for image, source in upstream.items():
        mirror = platform.mirror(ctx, f"{base}-{image}-mirror", region, f"inference/{image}")
        images[image] = pulumi.Output.concat(mirror.repository_url, _image_reference(source))
        if first:
            ctx.image_pushes.append(ImagePush(image=source, region=region, account=ctx.role, push_to=pulumi.Output.concat(
                mirror.repository_url, _image_reference(source, digest=False))))
        if image == MODEL_SERVER and canary:
            # The second model version sits in the same repository under its own tag or digest.
            images[CANARY] = pulumi.Output.concat(mirror.repository_url, _image_reference(canary.image))
            if first:
                ctx.image_pushes.append(ImagePush(
                    image=canary.image, region=region, account=ctx.role,
                    push_to=pulumi.Output.concat(mirror.repository_url, _image_reference(canary.image, digest=False))))
    return images


def _replicate_mirrors(ctx: BlueprintContext, regions: list[str]) -> Optional[aws.ecr.ReplicationConfiguration]:
    """Where the regions pull from mirrors: the first region's registry replicates every
    `<name>/inference/...` repository into the same-named repository of each other inference
    region (ECR private registry replication, same account; images pushed from then on), so an
    image is pushed once. A registry has one replication configuration per region: a stack that
    shares its inference account's first region with another replicating stack must merge them."""
    if not ctx.tier.air_gapped or len(regions) < 2:
        return None
    first = regions[0]
    ecr = aws.ecr
    return ecr.ReplicationConfiguration(
        f"{ctx.regional('inf', first)}-mirror-replication",
        replication_configuration=ecr.ReplicationConfigurationReplicationConfigurationArgs(rules=[
            ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                destinations=[ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                    region=region, registry_id=ctx.account_id(first)) for region in regions[1:]],
                repository_filters=[ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                    filter=f"{ctx.name}/inference/", filter_type="PREFIX_MATCH")],
            ),
        ]),
        opts=ctx.opts(first),
    )


def canary_replicas(inference: InferenceSpec) -> tuple[int, int]:
    """The canary's HPA minimum and maximum: its percent of the stage's, at least one replica."""
    share = (inference.canary.percent if inference.canary else 0) / 100
    low = max(1, math.ceil(inference.min_replicas * share))
    return low, max(low, math.ceil(inference.max_replicas * share))


@dataclass
class InferenceRegion:
    region: str
    vpc: IsolatedVpc
    cluster: EksCluster
    gpu_nodes: NodeGroup
    workload: ServingWorkload
    canary: Optional[ServingWorkload]
    ingress: PrivateIngress
    api: RestApi
    web_acl: WebAcl
    alarms: ServingAlarms
    dns: RegionalDns
    foundation_models: Optional[foundation_models.FoundationModelRegion] = None


@dataclass
class Inference:
    regions: dict[str, InferenceRegion]
    user_pool: Optional[UserPool]


def build(ctx: BlueprintContext) -> Inference:
    """Compose one serving stack per region in ctx.spec.inference_regions."""
    regions = ctx.spec.inference_regions
    user_pool = None
    if ctx.spec.auth == "cognito":
        # One user pool (in the first region) signs tokens every regional API accepts, so a
        # client keeps its identity when DNS moves it to another region.
        user_pool = UserPool(
            f"{ctx.name}-inference-users",
            UserPoolArgs(deletion_protection=ctx.tier.protect_stateful, tags=ctx.tags),
            opts=ctx.opts(regions[0]),
        )
    built: dict[str, InferenceRegion] = {}
    for index, region in enumerate(regions):
        # The first region owns the certificate validation record every region's ACM
        # certificate for the domain asks for.
        first = built[regions[0]].dns if index else None
        built[region] = _build_region(ctx, region, index, user_pool, first)
    _replicate_mirrors(ctx, regions)
    return Inference(regions=built, user_pool=user_pool)


def _build_region(ctx: BlueprintContext, region: str, index: int, user_pool: Optional[UserPool],
                  first_dns: Optional[RegionalDns]) -> InferenceRegion:
    tier, inference = ctx.tier, ctx.spec.inference
    base = ctx.regional("inf", region)
    opts = ctx.opts(region)
    model_version = _model_version(inference.model_image or "")
    images = _images(ctx, region, base)

    vpc = platform.network(ctx, f"{base}-net", region, _cidr(index), part="inference")
    fm_spec = ctx.spec.foundation_models
    fm = foundation_models.build_region(ctx, region, base, vpc, _cidr(index), fm_spec) if fm_spec else None
    cluster, gpu_nodes = _serving_cluster(ctx, region, base, vpc, images)
    workload = ServingWorkload(
        f"{base}-serving",
        ServingWorkloadArgs(
            cluster=cluster, image=images[MODEL_SERVER], model_version=model_version,
            node_port=SERVING_NODE_PORT, device_plugin_image=images["nvidia-device-plugin"],
            min_replicas=inference.min_replicas, max_replicas=inference.max_replicas,
            ingress_cidrs=[vpc.cidr_block], node_group=gpu_nodes,
            # The model comes from this region's copy of approved/ where the stack trains.
            model_source=ctx.model_sources.get(region), tags=ctx.tags,
            # The images come from this stack's (initially empty) mirrors exactly where air-gapped.
            skip_await=tier.air_gapped,
        ),
        opts=opts,
    )
    canary = None
    if inference.canary is not None:
        canary = _canary_workload(ctx, region, base, inference.canary, cluster, gpu_nodes, vpc, images)
    ingress = PrivateIngress(
        f"{base}-ingress",
        PrivateIngressArgs(vpc=vpc, node_group=gpu_nodes, node_security_group_id=cluster.cluster_security_group_id,
                           node_port=workload.node_port, canary_node_port=canary.node_port if canary else None,
                           deletion_protection=tier.protect_stateful, tags=ctx.tags),
        opts=opts,
    )
    # Where the WAF admits only the residency's countries, Route 53's checkers (which probe from
    # several continents) would be blocked: health then comes from an alarm and the API keeps
    # no anonymous route at all.
    alarm_health = tier.waf_geo_allowlist
    api = _rest_api(ctx, region, base, ingress, user_pool, model_version, health_route=not alarm_health,
                    lambda_routes=[fm.proxy.route] if fm else [])
    web_acl = _web_acl(ctx, region, base, api)

    # Alarms come before DNS: the alarm-based health check refers to one.
    alarms = ServingAlarms(
        f"{base}-alarms",
        ServingAlarmsArgs(api=api, web_acl=web_acl, ingress=ingress, cluster_name=cluster.cluster_name,
                          namespace=workload.namespace, service_name=workload.service_name,
                          max_replicas=inference.max_replicas,
                          kms_key=ctx.key("logs", region, required=True), tags=ctx.tags),
        opts=opts,
    )
    if fm is not None and fm_spec is not None:
        foundation_models.alarms(ctx, region, base, fm_spec, fm, alarms.topic_arn)
    dns = RegionalDns(
        f"{base}-dns",
        RegionalDnsArgs(
            api=api,
            health_alarm_name=alarms.no_healthy_backend_alarm_name if alarm_health else None,
            domain_name=inference.domain_name,
            hosted_zone_id=inference.hosted_zone_id,
            routing=tier.dns_routing,
            failover_role="PRIMARY" if index == 0 else "SECONDARY",
            validation_record_fqdn=first_dns.validation_record_fqdn if first_dns else None,
            tags=ctx.tags,
        ),
        opts=opts,
    )
    return InferenceRegion(region=region, vpc=vpc, cluster=cluster, gpu_nodes=gpu_nodes, workload=workload,
                           canary=canary, ingress=ingress, api=api, web_acl=web_acl, alarms=alarms, dns=dns,
                           foundation_models=fm)


def model_bucket(ctx: BlueprintContext, region: str, *, replicated_from: Optional[pulumi.Input[str]],
                 object_lock: Optional[ObjectLock]) -> EncryptedBucket:
    """The model bucket of `region`, which the region's model servers read (ModelSource): where
    models the approver promoted (the training model bucket's `approved/`) arrive by S3
    Replication, encrypted under the models key of this account in the region. From another
    account (`replicated_from`: the training bucket's replication role, which its policy admits
    exactly) the replicas become this account's, and the key admits the training account
    (context._trusted_accounts); None: the training bucket is in this account. Locked like the
    training model bucket (`object_lock`): S3 replicates a locked bucket's objects only into a
    locked bucket."""
    return EncryptedBucket(
        f"{ctx.regional('inf', region)}-models",
        ctx.bucket_args("models", region, kms_key=ctx.key("models", region, required=True),
                        accepts_replicas_from=[replicated_from] if replicated_from is not None else [],
                        object_lock=object_lock),
        opts=ctx.opts(region, stateful=True),
    )


def _canary_workload(ctx: BlueprintContext, region: str, base: str, canary: CanarySpec, cluster: EksCluster,
                     gpu_nodes: NodeGroup, vpc: IsolatedVpc, images: dict[str, pulumi.Input[str]]) -> ServingWorkload:
    """The second model version: the same hardened workload in its own namespace and NodePort
    (the device plugin is the stage's)."""
    low, high = canary_replicas(ctx.spec.inference)
    return ServingWorkload(
        f"{base}-serving-canary",
        ServingWorkloadArgs(
            cluster=cluster, image=images[CANARY], model_version=_model_version(canary.image),
            namespace=CANARY_NAMESPACE, node_port=CANARY_NODE_PORT, min_replicas=low, max_replicas=high,
            ingress_cidrs=[vpc.cidr_block], node_group=gpu_nodes, skip_await=ctx.tier.air_gapped,
            model_source=ctx.model_sources.get(region), tags=ctx.tags,
        ),
        opts=ctx.opts(region),
    )


def _serving_cluster(ctx: BlueprintContext, region: str, base: str, vpc: IsolatedVpc,
                     images: dict[str, pulumi.Input[str]]) -> tuple[EksCluster, NodeGroup]:
    """EKS control plane, system and GPU node groups, the Cluster Autoscaler, Container Insights."""
    tier, inference, opts = ctx.tier, ctx.spec.inference, ctx.opts(region)
    compute_key, logs_key = ctx.key("compute", region), ctx.key("logs", region)
    cluster = platform.cluster(ctx, base, region, vpc)
    platform.system_nodes(ctx, f"{base}-system", region, cluster, vpc, addons=SYSTEM_ADDONS)
    # One GPU per replica and one replica per node on the single-GPU serving instance types; a
    # canary's replicas run on the same group, which grows by them.
    canary_low, canary_high = canary_replicas(inference) if inference.canary else (0, 0)
    # IMDS hop limit stays at the node group's default 1: Container Insights' pods (the
    # CloudWatch agent and Fluent Bit of amazon-cloudwatch-observability) run with hostNetwork,
    # so their IMDSv2 calls take no extra hop, and their AWS credentials come from Pod Identity.
    # The same holds for the system node group; no other pod here needs instance metadata.
    gpu_nodes = NodeGroup(
        f"{base}-gpu",
        NodeGroupArgs(cluster=cluster, subnet_ids=vpc.private_subnet_ids,
                      instance_types=(inference.gpu_instance_type,), gpu=True,
                      min_size=inference.min_replicas + canary_low, max_size=inference.max_replicas + canary_high,
                      capacity_type="SPOT" if inference.capacity == "spot" else "ON_DEMAND",
                      ebs_kms_key=compute_key, efa=False, tags=ctx.tags),
        opts=opts,
    )
    platform.autoscaler(ctx, f"{base}-autoscaler", region, cluster, vpc, images["cluster-autoscaler"],
                        skip_await=tier.air_gapped)
    # Container Insights publishes the running-pods metric the HPA-at-maximum alarm watches.
    ContainerInsights(f"{base}-insights", ContainerInsightsArgs(
        cluster=cluster, log_retention_days=tier.log_retention_days, log_kms_key=logs_key, stateful=ctx.stateful,
        tags=ctx.tags), opts=opts)
    return cluster, gpu_nodes


def _rest_api(ctx: BlueprintContext, region: str, base: str, ingress: PrivateIngress, user_pool: Optional[UserPool],
              model_version: str, *, health_route: bool, lambda_routes: list[LambdaRoute]) -> RestApi:
    """The REST API with the spec's authentication (allowed by the tier), its access logs handed
    to the security blueprint."""
    tier, spec, inference, opts = ctx.tier, ctx.spec, ctx.spec.inference, ctx.opts(region)
    logs_key = ctx.key("logs", region)
    token_authorizer = None
    if spec.auth == "jwt":
        token_authorizer = JwtAuthorizer(
            f"{base}-jwt",
            JwtAuthorizerArgs(issuer=inference.jwt_issuer or "", log_retention_days=tier.log_retention_days,
                              kms_key=logs_key, stateful=ctx.stateful, tags=ctx.tags),
            opts=opts,
        ).authorizer
    canary = None
    if inference.canary is not None:
        canary = StageCanary(model_version=_model_version(inference.canary.image), percent=inference.canary.percent)
    api = RestApi(
        f"{base}-api",
        RestApiArgs(
            ingress=ingress,
            model_version=model_version,
            authorization=API_AUTHORIZATION_TYPES[spec.auth],
            cognito=CognitoAuthorizer(user_pool_arns=[user_pool.user_pool_arn]) if user_pool else None,
            token_authorizer=token_authorizer,
            api_key_required=inference.api_key_required,
            health_route=health_route,
            lambda_routes=tuple(lambda_routes),
            canary=canary,
            log_retention_days=tier.log_retention_days,
            log_kms_key=logs_key,
            stateful=ctx.stateful,
            tags=ctx.tags,
        ),
        opts=opts,
    )
    # The canary's access log group exists (and is shipped) whether or not a canary runs.
    ctx.log_sources.append(LogSource(kind="api-access", region=region, account=ctx.role, log_group_name=api.access_log_group_name,
                                     log_group_arn=api.access_log_group_arn))
    ctx.log_sources.append(LogSource(kind="api-access", region=region, account=ctx.role,
                                     log_group_name=api.canary_access_log_group_name,
                                     log_group_arn=api.canary_access_log_group_arn))
    return api


def _web_acl(ctx: BlueprintContext, region: str, base: str, api: RestApi) -> WebAcl:
    """The stage's web ACL from the tier; its logging is the security blueprint's (ctx.web_acls).
    For `inference.payload: prompt` (which the spec admits only where the tier allows it) the
    managed groups' body rules count instead of block; the alarms watch their matches."""
    tier, inference = ctx.tier, ctx.spec.inference
    web_acl = WebAcl(
        f"{base}-waf",
        WebAclArgs(
            resource_arn=api.stage_arn,
            managed_rule_groups=tier.waf_managed_rule_groups,
            rate_limit=inference.rate_limit_per_5min,
            rate_window_seconds=300,
            max_body_kib=MAX_BODY_KIB,
            allowed_countries=RESIDENCY_COUNTRIES.get(ctx.spec.residency, ()) if tier.waf_geo_allowlist else (),
            count_body_rules=inference.payload == "prompt",
            tags=ctx.tags,
        ),
        opts=ctx.opts(region),
    )
    ctx.web_acls.append(WebAclSource(region=region, name=f"{base}-waf", web_acl_arn=web_acl.web_acl_arn, account=ctx.role))
    return web_acl
