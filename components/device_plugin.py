"""A Kubernetes device-plugin DaemonSet (NVIDIA GPUs, AWS EFA) for EKS GPU nodes.

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
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import DaemonSetSpecArgs, DaemonSetUpdateStrategyArgs
from pulumi_kubernetes.core.v1 import (
    CapabilitiesArgs, ContainerArgs, EnvVarArgs, HostPathVolumeSourceArgs, PodSecurityContextArgs, PodSpecArgs,
    PodTemplateSpecArgs, ResourceRequirementsArgs, SeccompProfileArgs, SecurityContextArgs, TolerationArgs, VolumeArgs,
    VolumeMountArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import NetworkPolicySpecArgs

from components.node_group import GPU_LABEL, GPU_TAINT_KEY

SYSTEM_NAMESPACE = "kube-system"
DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
NVIDIA_APP = "nvidia-device-plugin"


def device_plugin_daemonset(resource_name: str, app: str, image: pulumi.Input[str], opts: pulumi.ResourceOptions, *,
                   node_label: str, host_network: bool, env: Optional[Mapping[str, str]] = None,
                   extra_host_paths: Optional[Mapping[str, str]] = None,
                   annotations: Optional[Mapping[str, str]] = None) -> k8s.apps.v1.DaemonSet:
    """A device-plugin DaemonSet in kube-system on the nodes labelled `node_label`: no privilege
    escalation, no capabilities, no service-account token, the runtime's default seccomp profile,
    only the kubelet's device-plugin socket directory (and `extra_host_paths`) mounted, and, off
    the host network, a NetworkPolicy `<app>-deny-all` that isolates its pods (NetworkPolicies do
    not apply to host-network pods). `annotations` go on the DaemonSet's metadata (e.g.
    components._base.SKIP_AWAIT)."""
    host_paths = {"device-plugin": DEVICE_PLUGIN_DIR, **(extra_host_paths or {})}
    labels = {"app.kubernetes.io/name": app}
    if not host_network:
        # kube-system also runs EKS's own add-ons (CoreDNS, metrics-server), so it gets no
        # namespace-wide deny: the plugin's own pods are denied everything instead.
        k8s.networking.v1.NetworkPolicy(
            f"{resource_name}-deny-all",
            metadata=ObjectMetaArgs(name=f"{app}-deny-all", namespace=SYSTEM_NAMESPACE, labels=labels),
            spec=NetworkPolicySpecArgs(pod_selector=LabelSelectorArgs(match_labels=labels),
                                       policy_types=["Ingress", "Egress"]),
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
                    automount_service_account_token=False,
                    security_context=PodSecurityContextArgs(seccomp_profile=SeccompProfileArgs(type="RuntimeDefault")),
                    node_selector={node_label: "true"},
                    tolerations=[
                        TolerationArgs(key="CriticalAddonsOnly", operator="Exists"),
                        TolerationArgs(key=GPU_TAINT_KEY, operator="Exists", effect="NoSchedule"),
                    ],
                    containers=[ContainerArgs(
                        name=app,
                        image=image,
                        env=[EnvVarArgs(name=k, value=v) for k, v in (env or {}).items()] or None,
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
