"""A Kubernetes device-plugin DaemonSet (NVIDIA GPUs, AWS Neuron, AWS EFA) for EKS accelerated nodes.

Neither plugin ships on the EKS AL2023 NVIDIA AMI, and without one the kubelet never advertises
`nvidia.com/gpu` / `vpc.amazonaws.com/efa`, so GPU pods never schedule. Training and serving
clusters both deploy them from here.

What a plugin keeps, and why (policies/rules/workloads.py declares the same as exemptions):
- root (UID 0, every capability dropped): it registers with the kubelet over
  /var/lib/kubelet/device-plugins/kubelet.sock and serves its own socket in that root-owned
  directory, as the upstream manifests run it (NVIDIA/k8s-device-plugin
  deployments/static/nvidia-device-plugin.yml; aws-samples/aws-efa-eks and aws/eks-charts set
  `runAsNonRoot: false` for the EFA plugin);
- that host path (and /dev/infiniband for EFA, where rdma-core opens the uverbs devices);
- the host network for EFA only, as both AWS manifests run it.
What it does not need, it does not get: no service-account token (neither plugin calls the
Kubernetes API; aws/eks-charts sets `automountServiceAccountToken: false` for EFA, and NVIDIA's
plugin only does with its optional config-manager sidecar, not deployed here), the runtime's
default seccomp profile, and (off the host network) no network at all: a NetworkPolicy denies
every packet to and from its pods, since it talks to the kubelet over a Unix socket only.

The Neuron plugin is the exception that needs the Kubernetes API: it annotates the pods it gives
devices to and patches its node's status (aws-neuron/neuron-helm-charts,
templates/device-plugin/device-plugin-rbac.yaml), so it runs as its own service account with
exactly that ClusterRole, gets that account's token, and its NetworkPolicy admits egress on TCP
443 (the API server) and nothing else. It mounts /run as upstream does, where the Neuron driver
keeps the device map it reads. It advertises two resources: `aws.amazon.com/neuron` (whole Neuron
devices, with all their cores) and `aws.amazon.com/neuroncore` (single NeuronCores); the node
group's scale-from-zero template advertises both, and quotas count `aws.amazon.com/neuron`.
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import DaemonSetSpecArgs, DaemonSetUpdateStrategyArgs
from pulumi_kubernetes.core.v1 import (
    CapabilitiesArgs, ContainerArgs, EnvVarArgs, EnvVarSourceArgs, HostPathVolumeSourceArgs, ObjectFieldSelectorArgs,
    PodSecurityContextArgs, PodSpecArgs,
    PodTemplateSpecArgs, ResourceRequirementsArgs, SeccompProfileArgs, SecurityContextArgs, TolerationArgs, VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import (
    NetworkPolicyEgressRuleArgs, NetworkPolicyPortArgs, NetworkPolicySpecArgs,
)
from pulumi_kubernetes.rbac.v1 import PolicyRuleArgs, RoleRefArgs, SubjectArgs

from components.node_group import GPU_LABEL, GPU_TAINT_KEY, NEURON_LABEL, NEURON_TAINT_KEY

SYSTEM_NAMESPACE = "kube-system"
DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
NVIDIA_APP = "nvidia-device-plugin"
NEURON_APP = "neuron-device-plugin"
# The Neuron device plugin's image (AWS's public ECR; the tag the Neuron Helm chart deploys,
# aws-neuron/neuron-helm-charts charts/neuron-helm-chart/values.yaml devicePlugin.image).
NEURON_DEVICE_PLUGIN_REPOSITORY = "public.ecr.aws/neuron/neuron-device-plugin"
# What the Neuron plugin does through the Kubernetes API, and nothing more (the upstream ClusterRole).
NEURON_RBAC = (
    ("nodes", ("get", "list", "watch")),
    ("nodes/status", ("patch", "update")),
    ("pods", ("get", "list", "watch", "update", "patch")),
    ("events", ("create", "patch")),
)
API_SERVER_PORT = 443
# Every accelerated node's NoSchedule taint: a plugin (EFA on a Trainium node, say) must run on both.
ACCELERATOR_TAINT_KEYS = (GPU_TAINT_KEY, NEURON_TAINT_KEY)


def device_plugin_daemonset(resource_name: str, app: str, image: pulumi.Input[str], opts: pulumi.ResourceOptions, *,
                   node_label: str, host_network: bool, env: Optional[Mapping[str, str]] = None,
                   extra_host_paths: Optional[Mapping[str, str]] = None,
                   annotations: Optional[Mapping[str, str]] = None,
                   field_env: Optional[Mapping[str, str]] = None,
                   service_account: Optional[str] = None) -> k8s.apps.v1.DaemonSet:
    """A device-plugin DaemonSet in kube-system on the nodes labelled `node_label`: no privilege
    escalation, no capabilities, no service-account token, the runtime's default seccomp profile,
    only the kubelet's device-plugin socket directory (and `extra_host_paths`) mounted, and, off
    the host network, a NetworkPolicy `<app>-deny-all` that isolates its pods (NetworkPolicies do
    not apply to host-network pods). `annotations` go on the DaemonSet's metadata (e.g.
    components._base.SKIP_AWAIT). `field_env`: env vars from the pod's own fields (name -> field
    path). `service_account`: a plugin that calls the Kubernetes API runs as this account with its
    token mounted, and its NetworkPolicy admits egress to the API server port (TCP 443) only."""
    host_paths = {"device-plugin": DEVICE_PLUGIN_DIR, **(extra_host_paths or {})}
    labels = {"app.kubernetes.io/name": app}
    if not host_network:
        # kube-system also runs EKS's own add-ons (CoreDNS, metrics-server), so it gets no
        # namespace-wide deny: the plugin's own pods are denied everything instead.
        k8s.networking.v1.NetworkPolicy(
            f"{resource_name}-deny-all",
            metadata=ObjectMetaArgs(name=f"{app}-deny-all", namespace=SYSTEM_NAMESPACE, labels=labels),
            spec=NetworkPolicySpecArgs(
                pod_selector=LabelSelectorArgs(match_labels=labels), policy_types=["Ingress", "Egress"],
                egress=[NetworkPolicyEgressRuleArgs(ports=[NetworkPolicyPortArgs(protocol="TCP", port=API_SERVER_PORT)])]
                if service_account else None),
            opts=opts,
        )
    return k8s.apps.v1.DaemonSet(
        resource_name,
        metadata=ObjectMetaArgs(name=app, namespace=SYSTEM_NAMESPACE, labels=labels,
                                annotations=dict(annotations) if annotations else None),
        spec=DaemonSetSpecArgs(
            selector=LabelSelectorArgs(match_labels=labels),
            update_strategy=DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
            template=PodTemplateSpecArgs(
                metadata=ObjectMetaArgs(labels=labels),
                spec=PodSpecArgs(
                    priority_class_name="system-node-critical",
                    host_network=host_network or None,
                    service_account_name=service_account,
                    automount_service_account_token=bool(service_account),
                    security_context=PodSecurityContextArgs(seccomp_profile=SeccompProfileArgs(type="RuntimeDefault")),
                    node_selector={node_label: "true"},
                    tolerations=[
                        TolerationArgs(key="CriticalAddonsOnly", operator="Exists"),
                        *(TolerationArgs(key=key, operator="Exists", effect="NoSchedule")
                          for key in ACCELERATOR_TAINT_KEYS),
                    ],
                    containers=[ContainerArgs(
                        name=app,
                        image=image,
                        env=[*(EnvVarArgs(name=k, value=v) for k, v in (env or {}).items()),
                             *(EnvVarArgs(name=k, value_from=EnvVarSourceArgs(
                                 field_ref=ObjectFieldSelectorArgs(field_path=path)))
                               for k, path in (field_env or {}).items())] or None,
                        security_context=SecurityContextArgs(
                            allow_privilege_escalation=False,
                            capabilities=CapabilitiesArgs(drop=["ALL"]),
                            read_only_root_filesystem=True,
                        ),
                        resources=ResourceRequirementsArgs(requests={"cpu": "10m", "memory": "20Mi"},
                                                           limits={"memory": "128Mi"}),
                        volume_mounts=[VolumeMountArgs(name=v, mount_path=p) for v, p in host_paths.items()],
                    )],
                    volumes=[VolumeArgs(name=v, host_path=HostPathVolumeSourceArgs(path=p)) for v, p in host_paths.items()],
                ),
            ),
        ),
        opts=opts,
    )


def nvidia_device_plugin(resource_name: str, image: pulumi.Input[str], opts: pulumi.ResourceOptions,
                         annotations: Optional[Mapping[str, str]] = None) -> k8s.apps.v1.DaemonSet:
    """The NVIDIA device plugin DaemonSet `nvidia-device-plugin` on the nodes labelled
    nvidia.com/gpu.present (NodeGroup's GPU label), which advertises `nvidia.com/gpu`. It keeps
    running on a node whose driver is not ready yet (FAIL_ON_INIT_ERROR=false) instead of crash-looping."""
    return device_plugin_daemonset(resource_name, NVIDIA_APP, image, opts, node_label=GPU_LABEL, host_network=False,
                                   env={"FAIL_ON_INIT_ERROR": "false"}, annotations=annotations)


def neuron_device_plugin(resource_name: str, image: pulumi.Input[str], opts: pulumi.ResourceOptions,
                         annotations: Optional[Mapping[str, str]] = None) -> k8s.apps.v1.DaemonSet:
    """The AWS Neuron device plugin DaemonSet `neuron-device-plugin` on the nodes labelled
    aws.amazon.com/neuron.present (NodeGroup's Neuron label), which advertises
    `aws.amazon.com/neuron` and `aws.amazon.com/neuroncore`; with its service account
    `neuron-device-plugin` and the ClusterRole upstream gives it (NEURON_RBAC)."""
    account = k8s.core.v1.ServiceAccount(
        f"{resource_name}-sa",
        metadata=ObjectMetaArgs(name=NEURON_APP, namespace=SYSTEM_NAMESPACE),
        opts=opts,
    )
    role = k8s.rbac.v1.ClusterRole(
        f"{resource_name}-role",
        metadata=ObjectMetaArgs(name=NEURON_APP),
        rules=[PolicyRuleArgs(api_groups=[""], resources=[resource], verbs=list(verbs)) for resource, verbs in NEURON_RBAC],
        opts=opts,
    )
    binding = k8s.rbac.v1.ClusterRoleBinding(
        f"{resource_name}-binding",
        metadata=ObjectMetaArgs(name=NEURON_APP),
        role_ref=RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=NEURON_APP),
        subjects=[SubjectArgs(kind="ServiceAccount", name=NEURON_APP, namespace=SYSTEM_NAMESPACE)],
        opts=opts,
    )
    return device_plugin_daemonset(
        resource_name, NEURON_APP, image, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            depends_on=[account, role, binding])),
        node_label=NEURON_LABEL, host_network=False, extra_host_paths={"neuron-device-map": "/run"},
        field_env={"NODE_NAME": "spec.nodeName"}, service_account=NEURON_APP, annotations=annotations)
