"""Container Insights for an EKS cluster: the amazon-cloudwatch-observability add-on with its
agent's permissions through EKS Pod Identity, and the performance log group created first so it
is encrypted and expires (the agent would otherwise create it unencrypted, kept forever)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import ASSUME_AND_TAG_SESSION, Component, StatefulOptions
from components.eks_cluster import EksCluster, eks_addon
from components.kms_key import KmsKey

ADDON = "amazon-cloudwatch-observability"
AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"


@dataclass(frozen=True, kw_only=True)
class ContainerInsightsArgs:
    cluster: EksCluster
    """The cluster to observe. Required."""
    log_retention_days: int = 365
    """Retention of the performance log group (the metrics' source events). Default 365."""
    log_kms_key: Optional[KmsKey] = None
    """CMK for the performance log group. Default None: CloudWatch's service-owned encryption."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the log group. Default: protected."""
    tags: Mapping[str, str] = field(default_factory=dict)


class ContainerInsights(Component):
    """Publishes ContainerInsights metrics (pods, services, nodes) such as
    service_number_of_running_pods per ClusterName/Namespace/Service."""

    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerInsightsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("eks", "ContainerInsights", name, opts)
        cluster = args.cluster
        log_group = self.log_group(
            "performance", pulumi.Output.concat("/aws/containerinsights/", cluster.cluster_name, "/performance"),
            retention_days=args.log_retention_days, kms_key=args.log_kms_key, stateful=args.stateful, tags=args.tags)
        role = self.service_role("agent-role", "pods.eks.amazonaws.com", tags=args.tags,
                                 actions=ASSUME_AND_TAG_SESSION, condition=self.source_account_condition())
        attachment = self.managed_policy("agent-policy", role, "CloudWatchAgentServerPolicy")
        eks_addon(
            f"{name}-addon", cluster.cluster_name, ADDON, self.child(depends_on=[log_group, attachment]),
            tags=args.tags,
            pod_identity_associations=[aws.eks.AddonPodIdentityAssociationArgs(
                role_arn=role.arn, service_account=AGENT_SERVICE_ACCOUNT)],
        )
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.register_outputs({"role_arn": self.role_arn, "log_group_name": self.log_group_name})
