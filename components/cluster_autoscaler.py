"""Cluster Autoscaler for an EKS cluster's managed node groups, with EKS Pod Identity and
least-privilege IAM, configured for a private cluster (no internet needed at run time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._base import ASSUME_AND_TAG_SESSION, SKIP_AWAIT, Component, merge_tags
from components.eks_cluster import EksCluster

core, apps, meta, rbac = k8s.core.v1, k8s.apps.v1, k8s.meta.v1, k8s.rbac.v1
# Where the autoscaler serves /health-check (and its metrics).
HEALTH_PORT = 8085
# EKS managed node groups tag their Auto Scaling groups with these keys, so auto-discovery finds
# them and IAM can scope write actions to this cluster's groups only.
ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"


def owner_tag(cluster_name: str) -> str:
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


@dataclass(frozen=True, kw_only=True)
class ClusterAutoscalerArgs:
    cluster: EksCluster
    """The cluster whose node groups are scaled. Required."""
    image: pulumi.Input[str]
    """Full image reference (registry.k8s.io/autoscaling/cluster-autoscaler:<version>, best with
    `@sha256:<digest>`), whose minor version matches the cluster's. Required. Nodes without
    internet egress need a private mirror: an EcrRepository in this region populated once with
    `crane copy registry.k8s.io/autoscaling/cluster-autoscaler:<version> <repo>:<version>`."""
    probe_cidrs: Sequence[pulumi.Input[str]] = ()
    """Where the kubelet's liveness probe comes from (the nodes' VPC CIDR): admitted on the health
    port, and nothing else reaches the pods. Default none: every ingress is denied, which a CNI
    that enforces NetworkPolicy on node-to-pod traffic applies to the probe too."""
    namespace: str = "kube-system"
    """Namespace of the Deployment and ServiceAccount. Default kube-system."""
    service_account: str = "cluster-autoscaler"
    """ServiceAccount name bound to the IAM role through Pod Identity. Default cluster-autoscaler."""
    scale_down_unneeded_time: str = "10m"
    """How long a node must be unneeded before it is removed. Default 10m."""
    skip_await: bool = False
    """Annotate the Deployment `pulumi.com/skipAwait: "true"`. Set it when `image` lives in a
    repository this same stack creates: it is empty until the image is copied in, so the pod
    cannot become Ready during the first `pulumi up`. Default off: Pulumi waits for the rollout."""
    tags: Mapping[str, str] = field(default_factory=dict)


class ClusterAutoscaler(Component):
    """IAM role (trusting pods.eks.amazonaws.com) + Pod Identity association + RBAC + Deployment
    + a NetworkPolicy denying ingress to its pods.

    It keeps its service-account token: it watches pods and nodes, evicts pods and writes its
    status ConfigMap and leader lease through the Kubernetes API (the RBAC below).

    Private-cluster settings: a static instance list (no pricing API call), the regional STS
    endpoint, and the region from the environment (no IMDS lookup: the node's hop limit is 1)."""

    role_arn: pulumi.Output[str]
    image: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("eks", "ClusterAutoscaler", name, opts)
        cluster = args.cluster
        self.image = pulumi.Output.from_input(args.image)
        role = self._create_role(args)
        association = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            cluster_name=cluster.cluster_name,
            namespace=args.namespace,
            service_account=args.service_account,
            role_arn=role.arn,
            tags=merge_tags(f"{name}-pod-identity", args.tags),
            opts=self.child(),
        )
        k8s_opts = dict(provider=cluster.k8s_provider)
        labels = {"app.kubernetes.io/name": "cluster-autoscaler", "app.kubernetes.io/managed-by": "pulumi"}
        md = lambda n, namespaced=True: meta.ObjectMetaArgs(  # noqa: E731
            name=n, namespace=args.namespace if namespaced else None, labels=labels)
        account = core.ServiceAccount(f"{name}-sa", metadata=md(args.service_account),
                                      automount_service_account_token=True, opts=self.child(**k8s_opts))
        subject = [rbac.SubjectArgs(kind="ServiceAccount", name=args.service_account, namespace=args.namespace)]
        cluster_role = rbac.ClusterRole(f"{name}-cluster-role", metadata=md("cluster-autoscaler", False),
                                        rules=_CLUSTER_RULES, opts=self.child(**k8s_opts))
        rbac.ClusterRoleBinding(
            f"{name}-cluster-role-binding", metadata=md("cluster-autoscaler", False),
            role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                      name=cluster_role.metadata.name),
            subjects=subject, opts=self.child(**k8s_opts))
        role_k8s = rbac.Role(
            f"{name}-role", metadata=md("cluster-autoscaler"),
            rules=[rbac.PolicyRuleArgs(api_groups=[""], resources=["configmaps"],
                                       verbs=["create", "list", "watch"]),
                   rbac.PolicyRuleArgs(api_groups=[""], resources=["configmaps"],
                                       resource_names=["cluster-autoscaler-status"],
                                       verbs=["delete", "get", "update", "watch"])],
            opts=self.child(**k8s_opts))
        rbac.RoleBinding(
            f"{name}-role-binding", metadata=md("cluster-autoscaler"),
            role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=role_k8s.metadata.name),
            subjects=subject, opts=self.child(**k8s_opts))

        command = cluster.cluster_name.apply(lambda cluster_name: [
            "./cluster-autoscaler",
            "--cloud-provider=aws",
            f"--node-group-auto-discovery=asg:tag={ENABLED_TAG},{owner_tag(cluster_name)}",
            "--aws-use-static-instance-list=true",
            "--balance-similar-node-groups=true",
            "--skip-nodes-with-system-pods=false",
            "--expander=least-waste",
            f"--scale-down-unneeded-time={args.scale_down_unneeded_time}",
            "--stderrthreshold=info",
            "--v=2",
        ])
        apps.Deployment(
            f"{name}-deployment",
            metadata=meta.ObjectMetaArgs(name="cluster-autoscaler", namespace=args.namespace, labels=labels,
                                         annotations=SKIP_AWAIT if args.skip_await else None),
            spec=apps.DeploymentSpecArgs(
                replicas=1,
                selector=meta.LabelSelectorArgs(match_labels=labels),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels),
                    spec=core.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        priority_class_name="system-cluster-critical",
                        security_context=core.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=65534, run_as_group=65534, fs_group=65534,
                            seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault")),
                        containers=[core.ContainerArgs(
                            name="cluster-autoscaler",
                            image=self.image,
                            image_pull_policy="IfNotPresent",
                            command=command,
                            env=[core.EnvVarArgs(name="AWS_REGION", value=self.aws_region),
                                 core.EnvVarArgs(name="AWS_STS_REGIONAL_ENDPOINTS", value="regional")],
                            ports=[core.ContainerPortArgs(name="health", container_port=HEALTH_PORT, protocol="TCP")],
                            # A hung autoscaler stops scaling silently: the kubelet restarts it.
                            liveness_probe=core.ProbeArgs(
                                http_get=core.HTTPGetActionArgs(path="/health-check", port=HEALTH_PORT),
                                initial_delay_seconds=30, period_seconds=10, timeout_seconds=5, failure_threshold=6),
                            # Bounded: it cannot starve the system pods it shares a node with.
                            resources=core.ResourceRequirementsArgs(
                                requests={"cpu": "100m", "memory": "600Mi"}, limits={"cpu": "1", "memory": "600Mi"}),
                            security_context=core.SecurityContextArgs(
                                read_only_root_filesystem=True, allow_privilege_escalation=False,
                                capabilities=core.CapabilitiesArgs(drop=["ALL"])),
                        )],
                    ),
                ),
            ),
            opts=self.child(depends_on=[association], **k8s_opts),
        )
        # Only the kubelet's probe reaches the autoscaler (it serves its health and metrics on
        # :8085, which nothing here scrapes). kube-system also runs EKS's own add-ons (CoreDNS,
        # metrics-server), so it gets no namespace-wide deny: the autoscaler's pods are denied
        # ingress, and a second policy (policies add up) admits the probe. Its egress (API
        # server, AWS APIs, the Pod Identity agent, DNS) stays open.
        net = k8s.networking.v1
        selector = meta.LabelSelectorArgs(match_labels=labels)
        net.NetworkPolicy(
            f"{name}-deny-ingress",
            metadata=md("cluster-autoscaler-deny-ingress"),
            spec=net.NetworkPolicySpecArgs(pod_selector=selector, policy_types=["Ingress"]),
            opts=self.child(**k8s_opts),
        )
        if args.probe_cidrs:
            net.NetworkPolicy(
                f"{name}-allow-probe",
                metadata=md("cluster-autoscaler-allow-probe"),
                spec=net.NetworkPolicySpecArgs(
                    pod_selector=selector, policy_types=["Ingress"],
                    ingress=[net.NetworkPolicyIngressRuleArgs(
                        from_=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=c)) for c in args.probe_cidrs],
                        ports=[net.NetworkPolicyPortArgs(port=HEALTH_PORT, protocol="TCP")])]),
                opts=self.child(**k8s_opts),
            )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn, "image": self.image})

    def _create_role(self, args: ClusterAutoscalerArgs) -> aws.iam.Role:
        role = self.service_role("role", "pods.eks.amazonaws.com", tags=args.tags,
                                 actions=ASSUME_AND_TAG_SESSION, condition=self.source_account_condition())
        owner = args.cluster.cluster_name.apply(owner_tag)
        self.role_policy("autoscaling", role, [
            {
                "Sid": "Discover",
                "Effect": "Allow",
                "Action": ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                           "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                           "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                           "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
                           "eks:DescribeNodegroup"],
                "Resource": "*",
            },
            {
                "Sid": "ScaleOnlyThisClustersGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": "*",
                "Condition": owner.apply(lambda tag: {"StringEquals": {f"aws:ResourceTag/{tag}": "owned"}}),
            },
        ])
        return role


_CLUSTER_RULES = [
    rbac.PolicyRuleArgs(api_groups=[""], resources=["events", "endpoints"], verbs=["create", "patch"]),
    rbac.PolicyRuleArgs(api_groups=[""], resources=["pods/eviction"], verbs=["create"]),
    rbac.PolicyRuleArgs(api_groups=[""], resources=["pods/status"], verbs=["update"]),
    rbac.PolicyRuleArgs(api_groups=[""], resources=["endpoints"], resource_names=["cluster-autoscaler"],
                        verbs=["get", "update"]),
    rbac.PolicyRuleArgs(api_groups=[""], resources=["nodes"], verbs=["watch", "list", "get", "update"]),
    rbac.PolicyRuleArgs(api_groups=[""], resources=["namespaces", "pods", "services", "replicationcontrollers",
                                                    "persistentvolumeclaims", "persistentvolumes"],
                        verbs=["watch", "list", "get"]),
    rbac.PolicyRuleArgs(api_groups=["extensions"], resources=["replicasets", "daemonsets"], verbs=["watch", "list", "get"]),
    rbac.PolicyRuleArgs(api_groups=["policy"], resources=["poddisruptionbudgets"], verbs=["watch", "list"]),
    rbac.PolicyRuleArgs(api_groups=["apps"], resources=["statefulsets", "replicasets", "daemonsets"],
                        verbs=["watch", "list", "get"]),
    rbac.PolicyRuleArgs(api_groups=["storage.k8s.io"], resources=["storageclasses", "csinodes", "csidrivers",
                                                                  "csistoragecapacities"],
                        verbs=["watch", "list", "get"]),
    rbac.PolicyRuleArgs(api_groups=["batch", "extensions"], resources=["jobs"], verbs=["get", "list", "watch", "patch"]),
    rbac.PolicyRuleArgs(api_groups=["coordination.k8s.io"], resources=["leases"], verbs=["create"]),
    rbac.PolicyRuleArgs(api_groups=["coordination.k8s.io"], resources=["leases"], resource_names=["cluster-autoscaler"],
                        verbs=["get", "update"]),
]
