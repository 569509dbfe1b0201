"""Fixtures of the workload-security rules (policies/rules/workloads.py): small plans of
Kubernetes workloads on one or two clusters, and the exact findings each rule returns."""

from __future__ import annotations

import copy
from typing import Any, Optional

from policies.rules._aws import EKS_CLUSTER as EKS, REST_API
from policies.rules.workloads import (
    CRON_JOB, DAEMON_SET, DEPLOYMENT, EKS_ADDON, JOB, NETWORK_POLICY, POD, SERVICE_ACCOUNT, STATEFUL_SET,
)
from tests.policies.plans import PlanBuilder, Ref
from tests.policies.scenarios import FAIL, PASS, STACK, scenario

EXEMPT = "exempt"
K8S_PROVIDER = "pulumi:providers:kubernetes"


# -- shapes ---------------------------------------------------------------------------------------------
def cluster(b: PlanBuilder, name: str = "c1") -> str:
    """A cluster's Kubernetes provider (how the rules tell clusters apart); its reference."""
    ref = b._add(K8S_PROVIDER, f"{name}-k8s", inputs={}, provider=None)
    return f"{ref.urn}::{ref.id}"


def merged(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def container(name: str = "app", **changes: Any) -> dict:
    """A container that passes every rule; `changes` deep-merge into it."""
    return merged({
        "name": name, "image": "repo/app:1",
        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}},
    }, changes)


def pod(*containers: dict, init: tuple[dict, ...] = (), **changes: Any) -> dict:
    """A pod spec that passes every rule (the hardened `container()` unless given)."""
    spec = merged({
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": list(containers) or [container()],
    }, changes)
    if init:
        spec["initContainers"] = list(init)
    return spec


def workload(b: PlanBuilder, provider: str, kind: str, name: str, spec: Optional[dict] = None, *,
             namespace: str = "apps", labels: Optional[dict] = None, resource: Optional[str] = None) -> Ref:
    """A workload `name` of `kind` in `namespace` on the cluster of `provider`; the resource is
    named `resource` (default: `name`)."""
    labels = labels or {"app": name}
    spec = spec or pod()
    metadata = {"name": name, "namespace": namespace}
    template = {"metadata": {"labels": labels}, "spec": spec}
    if kind == POD:
        inputs = {"metadata": {**metadata, "labels": labels}, "spec": spec}
    elif kind == CRON_JOB:
        inputs = {"metadata": metadata, "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    elif kind == JOB:
        inputs = {"metadata": metadata, "spec": {"template": template}}
    else:
        inputs = {"metadata": metadata, "spec": {"selector": {"matchLabels": labels}, "template": template}}
    return b._add(kind, resource or name, inputs=inputs, provider=provider)


def network_policy(b: PlanBuilder, provider: str, name: str, namespace: str = "apps", *, selector: Optional[dict] = None,
                   types: tuple[str, ...] = ("Ingress",), resource: Optional[str] = None, **rules: Any) -> Ref:
    spec = {"podSelector": selector or {}, "policyTypes": list(types), **rules}
    return b._add(NETWORK_POLICY, resource or f"{namespace}-{name}", provider=provider,
                  inputs={"metadata": {"name": name, "namespace": namespace}, "spec": spec})


def eks_cluster(b: PlanBuilder, name: str = "c1") -> Ref:
    """An EKS cluster outside training: the clusters scope is in the plan."""
    return b.add(EKS, f"{name}-cluster", {"name": name})


NVIDIA = dict(kind=DAEMON_SET, name="nvidia-device-plugin", namespace="kube-system")
EFA = dict(kind=DAEMON_SET, name="aws-efa-k8s-device-plugin", namespace="kube-system")
ROOT = {"runAsNonRoot": None, "runAsUser": None}  # a pod security context that says nothing about the user


def plugin(b: PlanBuilder, provider: str, which: dict, resource: str, *, volumes: dict[str, str],
           namespace: Optional[str] = None, **pod_changes: Any) -> Ref:
    """A device-plugin DaemonSet as components/device_plugin.py makes it: root, host paths."""
    spec = pod(container(which["name"], securityContext={"runAsNonRoot": None}),
               securityContext=ROOT, volumes=[{"name": n, "hostPath": {"path": p}} for n, p in volumes.items()],
               **pod_changes)
    spec["securityContext"] = {k: v for k, v in spec["securityContext"].items() if v is not None}
    spec["containers"][0]["securityContext"] = {k: v for k, v in spec["containers"][0]["securityContext"].items()
                                                 if v is not None}
    return workload(b, provider, which["kind"], which["name"], spec, namespace=namespace or which["namespace"],
                    labels={"app.kubernetes.io/name": which["name"]}, resource=resource)


KUBELET = {"device-plugin": "/var/lib/kubelet/device-plugins"}


# ==============================================================================================
# AIB-100 no privileged container
# ==============================================================================================
@scenario("AIB-100", "hardened-workloads-of-every-kind",
          {"deploy": PASS, "daemon": PASS, "stateful": PASS, "job": PASS, "cron": PASS, "bare-pod": PASS})
def _(b):
    k = cluster(b)
    for kind, name in ((DEPLOYMENT, "deploy"), (DAEMON_SET, "daemon"), (STATEFUL_SET, "stateful"), (JOB, "job"),
                       (CRON_JOB, "cron"), (POD, "bare-pod")):
        workload(b, k, kind, name)


@scenario("AIB-100", "model-server-made-privileged-and-a-privileged-init-container",
          {"model-server": FAIL, "migrate": FAIL, "fine": PASS})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "model-server", pod(container("server", securityContext={"privileged": True})))
    workload(b, k, CRON_JOB, "migrate", pod(init=(container("setup", securityContext={"privileged": True}),)))
    workload(b, k, DEPLOYMENT, "fine")


# ==============================================================================================
# AIB-101 no privilege escalation
# ==============================================================================================
@scenario("AIB-101", "escalation-off-on-every-container", {"server": PASS})
def _(b):
    workload(b, cluster(b), DEPLOYMENT, "server", pod(container("a"), container("b"), init=(container("init"),)))


@scenario("AIB-101", "escalation-unset-or-allowed", {"unset": FAIL, "init-allows": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "unset", pod(container(securityContext={"allowPrivilegeEscalation": None})))
    workload(b, k, JOB, "init-allows", pod(init=(container("init", securityContext={"allowPrivilegeEscalation": True}),)))


# ==============================================================================================
# AIB-102 non-root
# ==============================================================================================
@scenario("AIB-102", "non-root-at-pod-or-container-level", {"pod-level": PASS, "container-level": PASS})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "pod-level", pod(container(securityContext={"runAsNonRoot": None})))
    workload(b, k, DEPLOYMENT, "container-level", pod(securityContext={"runAsNonRoot": None, "runAsUser": None}))


@scenario("AIB-102", "model-server-run-as-root", {"uid-zero": FAIL, "overrides-pod": FAIL, "says-nothing": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "uid-zero", pod(container(securityContext={"runAsUser": 0})))
    workload(b, k, DEPLOYMENT, "overrides-pod", pod(container(securityContext={"runAsNonRoot": False})))
    bare = pod(container(securityContext={"runAsNonRoot": None}), securityContext=ROOT)
    workload(b, k, STATEFUL_SET, "says-nothing", bare)


@scenario("AIB-102", "device-plugins-run-as-root-by-exemption-only-where-declared",
          {"nvidia": EXEMPT, "efa": EXEMPT, "nvidia-elsewhere": FAIL})
def _(b):
    k = cluster(b)
    plugin(b, k, NVIDIA, "nvidia", volumes=KUBELET)
    plugin(b, k, EFA, "efa", volumes=KUBELET, hostNetwork=True)
    plugin(b, k, NVIDIA, "nvidia-elsewhere", volumes=KUBELET, namespace="apps")  # same name, other namespace


# ==============================================================================================
# AIB-103 read-only root filesystem
# ==============================================================================================
@scenario("AIB-103", "read-only-root-filesystems", {"server": PASS})
def _(b):
    workload(b, cluster(b), DEPLOYMENT, "server", pod(container("a"), init=(container("init"),)))


@scenario("AIB-103", "writable-root-filesystem", {"server": FAIL})
def _(b):
    workload(b, cluster(b), DEPLOYMENT, "server",
             pod(container("a"), container("sidecar", securityContext={"readOnlyRootFilesystem": False})))


# ==============================================================================================
# AIB-104 capabilities
# ==============================================================================================
@scenario("AIB-104", "all-capabilities-dropped", {"server": PASS})
def _(b):
    workload(b, cluster(b), DEPLOYMENT, "server", pod(container(securityContext={"capabilities": {"drop": ["all"]}})))


@scenario("AIB-104", "capabilities-kept-or-added", {"keeps-defaults": FAIL, "adds-net-admin": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "keeps-defaults", pod(container(securityContext={"capabilities": {"drop": ["NET_RAW"]}})))
    workload(b, k, DAEMON_SET, "adds-net-admin",
             pod(container(securityContext={"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}})))


# ==============================================================================================
# AIB-105 host namespaces
# ==============================================================================================
@scenario("AIB-105", "pod-namespaces-only", {"server": PASS, "efa": EXEMPT})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "server", pod(hostNetwork=False))
    plugin(b, k, EFA, "efa", volumes=KUBELET, hostNetwork=True)


@scenario("AIB-105", "host-pid-and-more-than-the-exemption-allows", {"debugger": FAIL, "efa": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DAEMON_SET, "debugger", pod(hostPID=True, hostIPC=True))
    plugin(b, k, EFA, "efa", volumes=KUBELET, hostNetwork=True, hostPID=True)  # hostNetwork is exempt, hostPID is not


# ==============================================================================================
# AIB-106 hostPath volumes
# ==============================================================================================
@scenario("AIB-106", "empty-dir-scratch-and-the-kubelet-directory-by-exemption", {"server": PASS, "nvidia": EXEMPT})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "server", pod(volumes=[{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}]))
    plugin(b, k, NVIDIA, "nvidia", volumes={"device-plugin": "/var/lib/kubelet/device-plugins/"})


@scenario("AIB-106", "host-paths-beyond-the-exemption", {"server": FAIL, "nvidia": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "server", pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]))
    plugin(b, k, NVIDIA, "nvidia", volumes={**KUBELET, "runtime": "/run/containerd/containerd.sock"})


# ==============================================================================================
# AIB-107 seccomp
# ==============================================================================================
@scenario("AIB-107", "runtime-default-or-localhost", {"pod-level": PASS, "container-level": PASS})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "pod-level")
    workload(b, k, DEPLOYMENT, "container-level", pod(
        container(securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}}),
        securityContext={"seccompProfile": None}))


@scenario("AIB-107", "unconfined", {"unset": FAIL, "overrides-pod": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "unset", pod(securityContext={"seccompProfile": None}))
    workload(b, k, DEPLOYMENT, "overrides-pod", pod(container(securityContext={"seccompProfile": {"type": "Unconfined"}})))


# ==============================================================================================
# AIB-108 requests and limits
# ==============================================================================================
@scenario("AIB-108", "requests-and-memory-limits", {"server": PASS})
def _(b):
    workload(b, cluster(b), DEPLOYMENT, "server", pod(container("a"), init=(container("init"),)))


@scenario("AIB-108", "unbounded-containers", {"no-limit": FAIL, "init-no-requests": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "no-limit", pod(container(resources={"limits": {"memory": None}})))
    init = container("init")
    init["resources"] = {"limits": {"memory": "1Gi"}}
    workload(b, k, JOB, "init-no-requests", pod(init=(init,)))


# ==============================================================================================
# AIB-112 images pinned by digest
# ==============================================================================================
PINNED = "repo/app:1@sha256:" + "a" * 64


@scenario("AIB-112", "every-image-by-tag-and-digest-or-digest-alone", {"server": PASS, "job": PASS})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "server", pod(container("a", image=PINNED), init=(container("init", image=PINNED),)))
    workload(b, k, JOB, "job", pod(container("a", image="repo/app@sha256:" + "b" * 64)))


@scenario("AIB-112", "a-tag-alone-a-truncated-digest-or-a-tagged-init-container",
          {"tagged": FAIL, "short-digest": FAIL, "init-tagged": FAIL})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "tagged", pod(container("a", image="repo/app:1")))
    workload(b, k, DAEMON_SET, "short-digest", pod(container("a", image="repo/app@sha256:abc")))
    workload(b, k, CRON_JOB, "init-tagged", pod(container("a", image=PINNED), init=(container("init"),)))


# ==============================================================================================
# AIB-109 service-account token
# ==============================================================================================
def service_account(b: PlanBuilder, provider: str, name: str, namespace: str = "apps", automount: Any = None) -> Ref:
    inputs: dict[str, Any] = {"metadata": {"name": name, "namespace": namespace}}
    if automount is not None:
        inputs["automountServiceAccountToken"] = automount
    return b._add(SERVICE_ACCOUNT, f"{namespace}-{name}-sa", inputs=inputs, provider=provider)


@scenario("AIB-109", "no-token-on-the-pod-or-its-account", {"pod-opts-out": PASS, "account-opts-out": PASS,
                                                          "cluster-autoscaler": EXEMPT})
def _(b):
    k = cluster(b)
    workload(b, k, DEPLOYMENT, "pod-opts-out")
    service_account(b, k, "quiet", automount=False)
    workload(b, k, DEPLOYMENT, "account-opts-out", pod(automountServiceAccountToken=None, serviceAccountName="quiet"))
    service_account(b, k, "cluster-autoscaler", "kube-system", automount=True)
    workload(b, k, DEPLOYMENT, "cluster-autoscaler", pod(automountServiceAccountToken=None,
                                                         serviceAccountName="cluster-autoscaler"), namespace="kube-system")


@scenario("AIB-109", "tokens-mounted", {"pod-opts-in": FAIL, "default-account": FAIL, "account-on-other-cluster": FAIL})
def _(b):
    k, other = cluster(b), cluster(b, "c2")
    workload(b, k, DEPLOYMENT, "pod-opts-in", pod(automountServiceAccountToken=True))
    workload(b, k, DEPLOYMENT, "default-account", pod(automountServiceAccountToken=None))
    service_account(b, other, "quiet", automount=False)  # same name and namespace, another cluster
    workload(b, k, DEPLOYMENT, "account-on-other-cluster", pod(automountServiceAccountToken=None,
                                                               serviceAccountName="quiet"))


# ==============================================================================================
# AIB-110 default-deny network policies
# ==============================================================================================
@scenario("AIB-110", "namespace-default-deny-and-own-policies-in-kube-system",
          {"model-server": PASS, "worker": PASS, "cluster-autoscaler": PASS, "nvidia": PASS, "efa": EXEMPT})
def _(b):
    k = cluster(b)
    eks_cluster(b)
    workload(b, k, DEPLOYMENT, "model-server", namespace="inference")
    network_policy(b, k, "default-deny-ingress", "inference")
    network_policy(b, k, "allow-load-balancer", "inference", selector={"matchLabels": {"app": "model-server"}},
                   ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}])
    # training declares egress allowances: its default deny covers Egress too
    workload(b, k, JOB, "worker", namespace="training")
    network_policy(b, k, "default-deny", "training", types=("Ingress", "Egress"))
    network_policy(b, k, "allow-dns", "training", types=("Egress",), egress=[{"ports": [{"port": 53}]}])
    # kube-system is shared with EKS's add-ons: each blueprint workload has its own deny
    workload(b, k, DEPLOYMENT, "cluster-autoscaler", namespace="kube-system",
             labels={"app.kubernetes.io/name": "cluster-autoscaler"})
    network_policy(b, k, "cluster-autoscaler-deny-ingress", "kube-system",
                   selector={"matchLabels": {"app.kubernetes.io/name": "cluster-autoscaler"}})
    plugin(b, k, NVIDIA, "nvidia", volumes=KUBELET)
    network_policy(b, k, "nvidia-device-plugin-deny-all", "kube-system", types=("Ingress", "Egress"),
                   selector={"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                                   "values": ["nvidia-device-plugin"]}]})
    plugin(b, k, EFA, "efa", volumes=KUBELET, hostNetwork=True)  # host network: no policy can isolate it


@scenario("AIB-110", "every-network-policy-deleted", {"model-server": FAIL, "cluster-autoscaler": FAIL, "efa": EXEMPT})
def _(b):
    k = cluster(b)
    eks_cluster(b)
    workload(b, k, DEPLOYMENT, "model-server", namespace="inference")
    workload(b, k, DEPLOYMENT, "cluster-autoscaler", namespace="kube-system")
    plugin(b, k, EFA, "efa", volumes=KUBELET, hostNetwork=True)


@scenario("AIB-110", "policies-that-do-not-deny",
          {"admits-all": FAIL, "egress-open": FAIL, "other-cluster": FAIL, "selects-others": FAIL})
def _(b):
    k, other = cluster(b), cluster(b, "c2")
    eks_cluster(b)
    workload(b, k, DEPLOYMENT, "admits-all", namespace="a")
    network_policy(b, k, "allow-all", "a", ingress=[{}])  # podSelector {} but admits everyone
    workload(b, k, DEPLOYMENT, "egress-open", namespace="b")
    network_policy(b, k, "default-deny-ingress", "b")
    network_policy(b, k, "allow-https", "b", types=("Egress",), egress=[{"ports": [{"port": 443}]}])
    workload(b, k, DEPLOYMENT, "other-cluster", namespace="c")
    network_policy(b, other, "default-deny", "c", resource="c2-c-default-deny")  # same namespace, another cluster
    workload(b, k, DEPLOYMENT, "selects-others", namespace="kube-system", labels={"app": "mine"})
    network_policy(b, k, "deny-theirs", "kube-system", selector={"matchLabels": {"app": "theirs"}})


@scenario("AIB-110", "efa-plugin-off-the-host-network-loses-its-exemption", {"efa": FAIL})
def _(b):
    k = cluster(b)
    eks_cluster(b)
    plugin(b, k, EFA, "efa", volumes=KUBELET)  # not on the host network: a policy can isolate it, and must


@scenario("AIB-110", "cluster-stack-with-no-workload", {STACK: FAIL})
def _(b):
    eks_cluster(b)


# ==============================================================================================
# AIB-111 network policies enforced
# ==============================================================================================
def vpc_cni(b: PlanBuilder, cluster_ref: Ref, cluster_name: str, configuration: Optional[str]) -> Ref:
    inputs: dict[str, Any] = {"addonName": "vpc-cni", "clusterName": cluster_name}
    if configuration is not None:
        inputs["configurationValues"] = configuration
    return b.add(EKS_ADDON, f"{cluster_name}-addon-vpc-cni", inputs, deps=[cluster_ref])


@scenario("AIB-111", "vpc-cni-enforces-network-policies", {"c1-cluster": PASS})
def _(b):
    c = eks_cluster(b)
    vpc_cni(b, c, "c1", '{"enableNetworkPolicy": "true"}')
    b.add(EKS_ADDON, "c1-addon-kube-proxy", {"addonName": "kube-proxy", "clusterName": "c1"})


@scenario("AIB-111", "network-policies-not-enforced", {"c1-cluster": FAIL, "c2-cluster": FAIL, "c3-cluster": FAIL})
def _(b):
    c1, c2 = eks_cluster(b), eks_cluster(b, "c2")
    eks_cluster(b, "c3")
    vpc_cni(b, c1, "c1", None)  # EKS's default: the network policy agent off
    vpc_cni(b, c2, "c2", '{"enableNetworkPolicy": "false"}')
    b.add(EKS_ADDON, "c9-addon-vpc-cni", {"addonName": "vpc-cni", "clusterName": "c9",  # another cluster's
                                          "configurationValues": '{"enableNetworkPolicy": "true"}'})
    # c3 has no vpc-cni add-on at all


@scenario("AIB-111", "every-cluster-deleted", {STACK: FAIL})
def _(b):
    b.add(REST_API, "api", {"name": "api"})
    b.add(EKS_ADDON, "c1-addon-vpc-cni", {"addonName": "vpc-cni", "clusterName": "c1",
                                          "configurationValues": '{"enableNetworkPolicy": "true"}'})
