"""Container Insights for an EKS cluster: the amazon-cloudwatch-observability add-on with its
agent's permissions through EKS Pod Identity, and the performance log group created first so it
is encrypted and expires (the agent would otherwise create it unencrypted, kept forever)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component, StatefulOptions, merge_tags, policy_json
from components.eks_cluster import EksCluster
from components.isolated_vpc import LOG_RETENTION_DAYS
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
        if args.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"{name}: log_retention_days must be one of {LOG_RETENTION_DAYS}")
        cluster = args.cluster
        partition = aws.get_partition_output(opts=self.invoke_opts())
        identity = aws.get_caller_identity_output(opts=self.invoke_opts())
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-performance",
            name=pulumi.Output.concat("/aws/containerinsights/", cluster.cluster_name, "/performance"),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key.arn if args.log_kms_key else None,
            tags=merge_tags(f"{name}-performance", args.tags),
            opts=self.stateful_child(args.stateful),
        )
        role = aws.iam.Role(
            f"{name}-agent-role",
            assume_role_policy=policy_json([{
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:SourceAccount": identity.account_id}},
            }]),
            tags=merge_tags(f"{name}-agent-role", args.tags),
            opts=self.child(),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-agent-policy",
            role=role.name,
            policy_arn=pulumi.Output.concat("arn:", partition.partition, ":iam::aws:policy/CloudWatchAgentServerPolicy"),
            opts=self.child(),
        )
        aws.eks.Addon(
            f"{name}-addon",
            cluster_name=cluster.cluster_name,
            addon_name=ADDON,
            pod_identity_associations=[aws.eks.AddonPodIdentityAssociationArgs(
                role_arn=role.arn, service_account=AGENT_SERVICE_ACCOUNT)],
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=merge_tags(f"{name}-addon", args.tags),
            opts=self.child(depends_on=[log_group, attachment]),
        )
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.register_outputs({"role_arn": self.role_arn, "log_group_name": self.log_group_name})
