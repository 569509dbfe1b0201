"""The Kubernetes side of a training cluster: a locked-down namespace for fine-tuning jobs,
GPU and EFA device plugins from private images, quotas, default-deny networking and RBAC
mapped from IAM roles through EKS access entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import LimitRangeItemArgs, LimitRangeSpecArgs, ResourceQuotaSpecArgs
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import (
    IPBlockArgs, NetworkPolicyEgressRuleArgs, NetworkPolicyIngressRuleArgs, NetworkPolicyPeerArgs,
    NetworkPolicyPortArgs, NetworkPolicySpecArgs,
)
from pulumi_kubernetes.rbac.v1 import PolicyRuleArgs, RoleRefArgs, SubjectArgs

from components._base import SKIP_AWAIT, Component, merge_tags
from components.eks_cluster import EksCluster
from components.lustre_filesystem import LUSTRE_PORTS
from components.device_plugin import SYSTEM_NAMESPACE, device_plugin_daemonset, neuron_device_plugin, nvidia_device_plugin
from components.node_group import EFA_LABEL, GPU_RESOURCE

# The EKS Pod Identity agent (a host-network DaemonSet) serves pod credentials on this
# link-local address of every node.
POD_IDENTITY_AGENT_CIDR = "169.254.170.23/32"
POD_IDENTITY_AGENT_PORT = 80
# Everything an auditor may read, cluster-wide; Secrets are deliberately absent.
AUDITOR_READABLE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("namespaces", "nodes", "pods", "services", "endpoints", "events", "configmaps", "serviceaccounts",
          "resourcequotas", "limitranges", "persistentvolumes", "persistentvolumeclaims")),
    ("apps", ("daemonsets", "deployments", "replicasets", "statefulsets")),
    ("batch", ("jobs", "cronjobs")),
    ("networking.k8s.io", ("networkpolicies",)),
    ("rbac.authorization.k8s.io", ("roles", "rolebindings", "clusterroles", "clusterrolebindings")),
    ("policy", ("poddisruptionbudgets",)),
)


@dataclass(frozen=True, kw_only=True)
class TrainingNamespaceArgs:
    cluster: EksCluster
    """The cluster; its k8s_provider creates every Kubernetes object. Required."""
    nvidia_device_plugin_image: Optional[pulumi.Input[str]] = None
    """NVIDIA device plugin image (e.g. a private ECR `repo:tag`), for NVIDIA GPU nodes. Default
    None: no NVIDIA plugin. One of this and neuron_device_plugin_image is required."""
    neuron_device_plugin_image: Optional[pulumi.Input[str]] = None
    """AWS Neuron device plugin image, for Trainium / Inferentia nodes (it advertises
    aws.amazon.com/neuron and aws.amazon.com/neuroncore). Default None: no Neuron plugin."""
    efa_device_plugin_image: Optional[pulumi.Input[str]] = None
    """EFA device plugin image. Default None: no EFA plugin (no EFA nodes)."""
    skip_await: bool = False
    """Do not wait for the device plugins to become ready: set it when their images live in a
    mirror this same stack creates, which is empty until someone copies the images in. Default off."""
    namespace: str = "training"
    """Namespace for fine-tuning jobs. Default "training"."""
    pod_security_level: Literal["restricted", "baseline", "privileged"] = "restricted"
    """Pod Security Standard enforced on the namespace. Default restricted (the device plugins
    run in kube-system, so jobs need no privileges)."""
    gpu_quota: int = 0
    """Most accelerators (`requests.<accelerator_resource>`) the namespace may request at once.
    Default 0: none."""
    accelerator_resource: str = GPU_RESOURCE
    """The extended resource gpu_quota caps: nvidia.com/gpu (default) or aws.amazon.com/neuron."""
    default_cpu_request: str = "500m"
    """CPU request of a container that sets none. Default 500m."""
    default_memory_request: str = "1Gi"
    """Memory request of a container that sets none. Default 1Gi."""
    default_cpu_limit: str = "4"
    """CPU limit of a container that sets none. Default 4."""
    default_memory_limit: str = "16Gi"
    """Memory limit of a container that sets none. Default 16Gi."""
    https_egress_cidrs: Sequence[pulumi.Input[str]] = ()
    """Where pods may open TCP 443 (AWS APIs: the VPC's interface endpoints, and S3, which its
    gateway endpoint serves on S3's public addresses). Default none."""
    pod_identity_agent: bool = True
    """Let pods reach the EKS Pod Identity agent on their node (169.254.170.23/32, TCP 80), where
    the AWS SDKs get a pod's credentials. Default on."""
    lustre_cidrs: Sequence[pulumi.Input[str]] = ()
    """Where pods may reach Lustre (988, 1018-1023). Default none."""
    operator_group: str = "fine-tune-operators"
    """Kubernetes group that may run Jobs in the namespace. Default fine-tune-operators."""
    operator_role_arns: Sequence[pulumi.Input[str]] = ()
    """IAM roles mapped to operator_group by EKS access entries. Default none."""
    auditor_group: str = "auditors"
    """Kubernetes group with cluster-wide read-only access (no Secrets). Default auditors."""
    auditor_role_arns: Sequence[pulumi.Input[str]] = ()
    """IAM roles mapped to auditor_group. Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the access entries."""


class TrainingNamespace(Component):
    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: TrainingNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("k8s", "TrainingNamespace", name, opts)
        if args.gpu_quota < 0:
            raise ValueError(f"{name}: gpu_quota must be >= 0")
        if args.nvidia_device_plugin_image is None and args.neuron_device_plugin_image is None:
            raise ValueError(f"{name}: give nvidia_device_plugin_image or neuron_device_plugin_image "
                             "(without a device plugin no accelerator is ever advertised)")
        for group in (args.operator_group, args.auditor_group):
            if group.startswith("system:"):
                raise ValueError(f"{name}: EKS access entries cannot map to {group!r} (system: groups are reserved)")
        self._k8s = self.child(provider=args.cluster.k8s_provider)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=ObjectMetaArgs(name=args.namespace, labels={
                f"pod-security.kubernetes.io/{mode}": args.pod_security_level for mode in ("enforce", "audit", "warn")
            } | {"pod-security.kubernetes.io/enforce-version": "latest"}),
            opts=self._k8s,
        )
        ns = namespace.metadata.name
        self._device_plugins(name, args)
        self._quotas(name, args, ns)
        self._network_policies(name, args, ns)
        self._rbac(name, args, ns)

        self.namespace_name = ns
        self.register_outputs({"namespace_name": self.namespace_name})

    def _device_plugins(self, name: str, args: TrainingNamespaceArgs) -> None:
        annotations = SKIP_AWAIT if args.skip_await else None
        if args.nvidia_device_plugin_image is not None:
            nvidia_device_plugin(f"{name}-nvidia-device-plugin", args.nvidia_device_plugin_image, self._k8s, annotations)
        if args.neuron_device_plugin_image is not None:
            neuron_device_plugin(f"{name}-neuron-device-plugin", args.neuron_device_plugin_image, self._k8s, annotations)
        if args.efa_device_plugin_image is not None:
            device_plugin_daemonset(f"{name}-efa-device-plugin", "aws-efa-k8s-device-plugin", args.efa_device_plugin_image,
                                    self._k8s, node_label=EFA_LABEL, host_network=True,
                                    extra_host_paths={"infiniband": "/dev/infiniband"}, annotations=annotations)

    def _quotas(self, name: str, args: TrainingNamespaceArgs, ns: pulumi.Output[str]) -> None:
        k8s.core.v1.ResourceQuota(
            f"{name}-gpu-quota",
            metadata=ObjectMetaArgs(name="gpu-quota", namespace=ns),
            spec=ResourceQuotaSpecArgs(hard={f"requests.{args.accelerator_resource}": str(args.gpu_quota)}),
            opts=self._k8s,
        )
        k8s.core.v1.LimitRange(
            f"{name}-container-defaults",
            metadata=ObjectMetaArgs(name="container-defaults", namespace=ns),
            spec=LimitRangeSpecArgs(limits=[LimitRangeItemArgs(
                type="Container",
                default_request={"cpu": args.default_cpu_request, "memory": args.default_memory_request},
                default={"cpu": args.default_cpu_limit, "memory": args.default_memory_limit},
            )]),
            opts=self._k8s,
        )

    def _network_policies(self, name: str, args: TrainingNamespaceArgs, ns: pulumi.Output[str]) -> None:
        every_pod = LabelSelectorArgs()

        def policy(suffix: str, policy_types: list[str], egress=None, ingress=None) -> None:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{suffix}",
                metadata=ObjectMetaArgs(name=suffix, namespace=ns),
                spec=NetworkPolicySpecArgs(pod_selector=every_pod, policy_types=policy_types, egress=egress, ingress=ingress),
                opts=self._k8s,
            )

        policy("default-deny", ["Ingress", "Egress"])
        policy("allow-dns", ["Egress"], egress=[NetworkPolicyEgressRuleArgs(
            to=[NetworkPolicyPeerArgs(
                namespace_selector=LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": SYSTEM_NAMESPACE}),
                pod_selector=LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
            )],
            ports=[NetworkPolicyPortArgs(protocol=p, port=53) for p in ("UDP", "TCP")],
        )])
        # Distributed training: workers rendezvous (torch.distributed, NCCL bootstrap) over TCP.
        policy("allow-within-namespace", ["Ingress", "Egress"],
               ingress=[NetworkPolicyIngressRuleArgs(from_=[NetworkPolicyPeerArgs(pod_selector=every_pod)])],
               egress=[NetworkPolicyEgressRuleArgs(to=[NetworkPolicyPeerArgs(pod_selector=every_pod)])])
        if args.pod_identity_agent:
            policy("allow-pod-identity-agent", ["Egress"], egress=[NetworkPolicyEgressRuleArgs(
                to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr=POD_IDENTITY_AGENT_CIDR))],
                ports=[NetworkPolicyPortArgs(protocol="TCP", port=POD_IDENTITY_AGENT_PORT)],
            )])
        if args.https_egress_cidrs:
            policy("allow-https", ["Egress"], egress=[NetworkPolicyEgressRuleArgs(
                to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr=c)) for c in args.https_egress_cidrs],
                ports=[NetworkPolicyPortArgs(protocol="TCP", port=443)],
            )])
        if args.lustre_cidrs:
            policy("allow-lustre", ["Egress"], egress=[NetworkPolicyEgressRuleArgs(
                to=[NetworkPolicyPeerArgs(ip_block=IPBlockArgs(cidr=c)) for c in args.lustre_cidrs],
                ports=[NetworkPolicyPortArgs(protocol="TCP", port=low, end_port=high if high != low else None)
                       for low, high in LUSTRE_PORTS],
            )])

    def _rbac(self, name: str, args: TrainingNamespaceArgs, ns: pulumi.Output[str]) -> None:
        role = k8s.rbac.v1.Role(
            f"{name}-operator-role",
            metadata=ObjectMetaArgs(name="fine-tune-operator", namespace=ns),
            rules=[
                PolicyRuleArgs(api_groups=["batch"], resources=["jobs"], verbs=["create", "get", "list", "watch", "delete"]),
                PolicyRuleArgs(api_groups=[""], resources=["pods", "events"], verbs=["get", "list", "watch"]),
                PolicyRuleArgs(api_groups=[""], resources=["pods/log"], verbs=["get"]),
            ],
            opts=self._k8s,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-operator-binding",
            metadata=ObjectMetaArgs(name="fine-tune-operators", namespace=ns),
            role_ref=RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name),
            subjects=[SubjectArgs(kind="Group", name=args.operator_group, api_group="rbac.authorization.k8s.io")],
            opts=self._k8s,
        )
        auditor = k8s.rbac.v1.ClusterRole(
            f"{name}-auditor-role",
            metadata=ObjectMetaArgs(name=f"{args.namespace}-auditor"),
            rules=[PolicyRuleArgs(api_groups=[group], resources=list(resources), verbs=["get", "list", "watch"])
                   for group, resources in AUDITOR_READABLE],
            opts=self._k8s,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-auditor-binding",
            metadata=ObjectMetaArgs(name=f"{args.namespace}-auditors"),
            role_ref=RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=auditor.metadata.name),
            subjects=[SubjectArgs(kind="Group", name=args.auditor_group, api_group="rbac.authorization.k8s.io")],
            opts=self._k8s,
        )
        for group, arns in (("operator", args.operator_role_arns), ("auditor", args.auditor_role_arns)):
            for i, arn in enumerate(arns):
                aws.eks.AccessEntry(
                    f"{name}-{group}-access-{i}",
                    cluster_name=args.cluster.cluster_name,
                    principal_arn=arn,
                    type="STANDARD",
                    kubernetes_groups=[args.operator_group if group == "operator" else args.auditor_group],
                    tags=merge_tags(f"{name}-{group}-access-{i}", args.tags),
                    opts=self.child(),
                )
