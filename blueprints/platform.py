"""The platform both workloads stand on, composed one way for training and inference: a VPC
with the tier's egress, an EKS cluster with the tier's endpoint, keys and log retention, and a
system node group. Each registers its logs on the context for the security blueprint to ship.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

from blueprints.context import BlueprintContext, LogSource
from blueprints.spec import Spec
from components.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.ecr_repository import EcrRepository, EcrRepositoryArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs, S3InterfaceEndpoint
from components.node_group import NodeGroup, NodeGroupArgs

# AWS services a VPC with no egress reaches through interface endpoints: ECR (images), STS and
# eks-auth (IRSA / Pod Identity), EC2 and Auto Scaling (node bootstrap, the autoscaler), EKS,
# KMS, CloudWatch Logs and metrics, SSM (node management) and ELB.
AIR_GAP_INTERFACE_ENDPOINTS = (
    "ecr.api", "ecr.dkr", "ec2", "sts", "logs", "eks", "eks-auth", "kms", "ssm", "ssmmessages",
    "ec2messages", "elasticloadbalancing", "autoscaling", "monitoring",
)
SYSTEM_INSTANCE_TYPES = ("m7i.large",)


def egress(spec: Spec, part: str = "training") -> dict[str, Any]:
    """The IsolatedVpcArgs that decide a VPC's way out, and so its NAT gateways and Elastic IPs:
    NAT where the tier allows it for that `part` (training_egress, inference_egress), laid out as
    `natGateways` (or the tier) says. The VPCs below and the quota report (blueprints/quotas.py)
    both read it."""
    return {"nat_egress": not spec.tier.air_gapped_for(part), "nat_gateways": spec.nat_gateways or "per-az"}


def network_regions(spec: Spec) -> list[tuple[Optional[str], str, str]]:
    """(account, region, part) of every VPC the stack builds, one entry per VPC: the training VPC
    in the home region of the training account, an inference VPC in each inference region of the
    inference account (training.build, inference.build); None: the deploying account."""
    return ([(spec.account("training"), spec.region, "training")] if spec.training.enabled else []) + (
        [(spec.account("inference"), r, "inference") for r in spec.inference_regions] if spec.inference.enabled else [])


def network(ctx: BlueprintContext, name: str, region: str, cidr_block: str,
            first_zone: Optional[str] = None,
            s3_interface_endpoint: Optional[S3InterfaceEndpoint] = None, part: str = "training") -> IsolatedVpc:
    """A VPC with NAT egress where the tier allows it and VPC endpoints only where it does not;
    `first_zone`: an AZ it must span, first (IsolatedVpcArgs.first_zone); `s3_interface_endpoint`:
    S3 for networks outside the VPC (IsolatedVpcArgs.s3_interface_endpoint)."""
    tier = ctx.tier
    vpc = IsolatedVpc(
        name,
        IsolatedVpcArgs(
            cidr_block=cidr_block,
            first_zone=first_zone,
            **egress(ctx.spec, part),
            interface_endpoints=AIR_GAP_INTERFACE_ENDPOINTS if tier.air_gapped_for(part) else (),
            s3_interface_endpoint=s3_interface_endpoint,
            flow_log_retention_days=tier.log_retention_days,
            flow_log_kms_key=ctx.key("logs", region),
            stateful=ctx.stateful,
            tags=ctx.tags,
        ),
        opts=ctx.opts(region),
    )
    ctx.log_sources.append(LogSource(kind="vpc-flow", region=region, account=ctx.role, log_group_name=vpc.flow_log_group_name,
                                     log_group_arn=vpc.flow_log_group_arn))
    return vpc


def cluster(ctx: BlueprintContext, name: str, region: str, vpc: IsolatedVpc) -> EksCluster:
    """An EKS cluster with the tier's API endpoint, secrets key and control-plane log retention.
    The deployer gets an admin access entry and, from the spec's deployerCidrs, a network path to
    the private endpoint: this program's own Kubernetes provider needs both."""
    tier = ctx.tier
    eks = EksCluster(
        name,
        EksClusterArgs(
            vpc=vpc,
            public_access_cidrs=ctx.eks_public_access_cidrs(),
            private_access_cidrs=ctx.deployer_cidrs,
            secrets_kms_key=ctx.key("compute", region),
            log_kms_key=ctx.key("logs", region),
            log_retention_days=tier.log_retention_days,
            stateful=ctx.stateful,
            admin_role_arns=[ctx.deployer_arn(region)],
            # Kubernetes calls as the account's deploy role, which the ambient credentials reach
            # only through the provider (its trust requires the external id).
            provider_token=ctx.multi_account,
            tags=ctx.tags,
        ),
        opts=ctx.opts(region),
    )
    ctx.log_sources.append(LogSource(kind="eks-audit", region=region, account=ctx.role, log_group_name=eks.log_group_name,
                                     log_group_arn=eks.log_group_arn))
    return eks


def system_nodes(ctx: BlueprintContext, name: str, region: str, eks: EksCluster, vpc: IsolatedVpc,
                 addons: Sequence[str]) -> NodeGroup:
    """Two to three small nodes for the add-ons that need nodes (DNS, metrics, autoscaler)."""
    return NodeGroup(
        name,
        NodeGroupArgs(cluster=eks, subnet_ids=vpc.private_subnet_ids, instance_types=SYSTEM_INSTANCE_TYPES,
                      gpu=False, min_size=2, max_size=3, ebs_kms_key=ctx.key("compute", region),
                      cluster_addons=tuple(addons), tags=ctx.tags),
        opts=ctx.opts(region),
    )


def mirror(ctx: BlueprintContext, name: str, region: str, repository: str) -> EcrRepository:
    """A private ECR repository `<blueprint>/<repository>` in `region` that holds a copy of an
    image: nodes without egress pull only from their own region's registry."""
    return EcrRepository(
        name,
        EcrRepositoryArgs(repository_name=f"{ctx.name}/{repository}", kms_key=ctx.key("models", region), tags=ctx.tags),
        opts=ctx.opts(region),
    )


def autoscaler(ctx: BlueprintContext, name: str, region: str, eks: EksCluster, vpc: IsolatedVpc,
               image: pulumi.Input[str], *, skip_await: bool) -> ClusterAutoscaler:
    """The Cluster Autoscaler for a cluster in `vpc` (whose nodes' kubelets probe it); `skip_await`
    where its image sits in a mirror this stack creates (empty until the image is copied in)."""
    return ClusterAutoscaler(name, ClusterAutoscalerArgs(cluster=eks, image=image, skip_await=skip_await,
                                                         probe_cidrs=[vpc.cidr_block], tags=ctx.tags),
                             opts=ctx.opts(region))
