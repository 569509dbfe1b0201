"""Workload security: how every pod the plan runs on a cluster is confined, and the network
policies that isolate it.

A *workload* is any resource that makes pods: Deployment, DaemonSet, StatefulSet, ReplicaSet,
Job, CronJob, ReplicationController and a bare Pod. Each is judged once per rule, on its pod
template (a CronJob's at `spec.jobTemplate.spec.template`), init and ephemeral containers
included; a finding names the offending containers.

Some workloads need what a rule forbids: the device plugins run as root on the host's
device-plugin directory, the EFA plugin on the host network, the Cluster Autoscaler with its
service-account token. Those are `EXEMPTIONS` below: data, matched by the workload's kind,
namespace and name, each with its reason and, where the rule finds several things, exactly which
it allows (a host path, a host namespace). A workload matched by an exemption is reported
`exempt` with the reason; anything the exemption does not allow still fails.

The cluster a Kubernetes object belongs to is its Kubernetes provider (one per EKS cluster).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from policies.controls import BOUNDARY, CHANGE_CONTROL, HARDENING, INTEGRITY, LEAST_PRIVILEGE, merge
from policies.model import PolicyPlan, PolicyResource, as_list, dig, is_unknown
from policies.rule import (
    PROHIBITION, Exemption, Result, RuleContext, always, declare_exemptions, exempt, fail, mandatory_if, na, ok, plan_rule,
    resource_rule,
)
from policies.rules._aws import CLUSTERS, EKS_CLUSTER, known, truthy

AREA = "workload security"

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
REPLICATION_CONTROLLER = "kubernetes:core/v1:ReplicationController"
POD = "kubernetes:core/v1:Pod"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NAMESPACE = "kubernetes:core/v1:Namespace"
EKS_ADDON = "aws:eks/addon:Addon"

# Where each kind keeps its pod template (None: the resource is the pod).
_TEMPLATE: dict[str, Optional[tuple[str, ...]]] = {
    DEPLOYMENT: ("spec", "template"),
    DAEMON_SET: ("spec", "template"),
    STATEFUL_SET: ("spec", "template"),
    REPLICA_SET: ("spec", "template"),
    JOB: ("spec", "template"),
    CRON_JOB: ("spec", "jobTemplate", "spec", "template"),
    REPLICATION_CONTROLLER: ("spec", "template"),
    POD: None,
}
WORKLOADS = tuple(_TEMPLATE)

DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
SECCOMP_CONFINED = ("RuntimeDefault", "Localhost")

# A container breaking out of its sandbox reaches the node (its IAM role, every other pod on it).
CONTAINER_ISOLATION = merge(HARDENING, LEAST_PRIVILEGE, {
    "nist-800-53-r5": ["SC-39", "AC-6(10)"],
    "pci-dss-4.0": ["2.2.4"],
    "hipaa": ["164.312(a)(1)"],
    "gdpr": ["Art. 32(1)(b)"],
})
RESOURCE_BOUNDS = {
    "nist-800-53-r5": ["SC-5", "SC-6"],
    "gdpr": ["Art. 32(1)(b)"],
    "sox-itgc": ["ITGC-CO"],
}
POD_NETWORK = merge(BOUNDARY, {"nist-800-53-r5": ["SC-7(5)", "AC-4"], "pci-dss-4.0": ["1.2.1"]})


# -- exemptions: data, each with its reason ----------------------------------------------------------
@dataclass(frozen=True)
class WorkloadExemption(Exemption):
    """Matched by the workload's kind, namespace and metadata.name."""

    kind: str = ""  # DaemonSet, Deployment, ...
    namespace: str = ""
    name: str = ""
    allows: tuple[str, ...] = ()
    """Exactly what is exempt, where the rule finds several things: host paths (AIB-106), host
    namespaces `hostNetwork`/`hostPID`/`hostIPC` (AIB-105), added capabilities (AIB-104), a
    host-network pod no NetworkPolicy can isolate (`hostNetwork`, AIB-110). Empty: whatever the
    rule finds on this workload."""

    @property
    def subject(self) -> str:
        allowed = f" ({', '.join(self.allows)} only)" if self.allows else ""
        return f"{self.kind} {self.namespace}/{self.name}{allowed}"

    def covers(self, key: str) -> bool:
        return not self.allows or key in self.allows


NVIDIA_PLUGIN = ("DaemonSet", "kube-system", "nvidia-device-plugin")
EFA_PLUGIN = ("DaemonSet", "kube-system", "aws-efa-k8s-device-plugin")
NEURON_PLUGIN = ("DaemonSet", "kube-system", "neuron-device-plugin")
_PLUGIN_SOCKETS = ("it registers with the kubelet over /var/lib/kubelet/device-plugins/kubelet.sock and serves its "
                   "own socket in that root-owned directory")

EXEMPTIONS: tuple[WorkloadExemption, ...] = declare_exemptions(
    WorkloadExemption("AIB-102", *NVIDIA_PLUGIN,
        reason=f"the NVIDIA device plugin runs as root with every capability dropped: {_PLUGIN_SOCKETS}, as NVIDIA's own "
        "manifest runs it (NVIDIA/k8s-device-plugin deployments/static/nvidia-device-plugin.yml)"),
    WorkloadExemption("AIB-102", *EFA_PLUGIN,
        reason=f"the EFA device plugin runs as root with every capability dropped: {_PLUGIN_SOCKETS}; AWS's manifests set "
        "runAsNonRoot: false (aws-samples/aws-efa-eks manifest/efa-k8s-device-plugin.yml, aws/eks-charts)"),
    WorkloadExemption("AIB-106", *NVIDIA_PLUGIN,
        reason="the kubelet's device-plugin directory holds kubelet.sock and the plugin's own socket: the Kubernetes "
        "device-plugin API has no other channel",
        allows=(DEVICE_PLUGIN_DIR,)),
    WorkloadExemption("AIB-106", *EFA_PLUGIN,
        reason="the kubelet's device-plugin directory (kubelet.sock and the plugin's socket), and /dev/infiniband, "
        "where rdma-core opens the EFA uverbs device nodes (aws/eks-charts#1069)",
        allows=(DEVICE_PLUGIN_DIR, "/dev/infiniband")),
    WorkloadExemption("AIB-105", *EFA_PLUGIN,
        reason="AWS runs the EFA device plugin on the node's network, where the EFA interfaces attach (hostNetwork: "
        "true in both aws-samples/aws-efa-eks and aws/eks-charts); it listens on no port",
        allows=("hostNetwork",)),
    WorkloadExemption("AIB-110", *EFA_PLUGIN,
        reason="a host-network pod shares the node's network namespace, which NetworkPolicies cannot isolate (the VPC "
        "CNI's network policy controller leaves host-network pods out: aws/amazon-network-policy-controller-k8s"
        "#206); the plugin serves the kubelet over a Unix socket and listens on no port",
        allows=("hostNetwork",)),
    WorkloadExemption("AIB-102", *NEURON_PLUGIN,
        reason=f"the Neuron device plugin runs as root with every capability dropped: {_PLUGIN_SOCKETS}, as AWS's "
        "manifest runs it (aws-neuron/neuron-helm-charts, k8-neuron-device-plugin.yml)"),
    WorkloadExemption("AIB-106", *NEURON_PLUGIN,
        reason="the kubelet's device-plugin directory (kubelet.sock and the plugin's socket), and /run, where the "
        "Neuron driver publishes the device map the plugin reads to tell NeuronCores apart, as AWS's manifest mounts "
        "it (aws-neuron/neuron-helm-charts)",
        allows=(DEVICE_PLUGIN_DIR, "/run")),
    WorkloadExemption("AIB-109", *NEURON_PLUGIN,
        reason="the Neuron device plugin patches its node's status and annotates the pods it allocates NeuronCores "
        "to, through the Kubernetes API with its service-account token (its ClusterRole in "
        "components/device_plugin.py; egress to the API server only)"),
    WorkloadExemption("AIB-109", "Deployment", "kube-system", "cluster-autoscaler",
        reason="the Cluster Autoscaler watches pods and nodes, evicts pods and writes its status ConfigMap and leader "
        "lease through the Kubernetes API with its service-account token (its RBAC in "
        "components/cluster_autoscaler.py)"),
)


def exemption_for(rule_id: str, w: "Workload") -> Optional[WorkloadExemption]:
    return next((e for e in EXEMPTIONS if (e.rule, e.kind, e.namespace, e.name) == (rule_id, w.kind, w.namespace, w.name)),
                None)


# -- the workload model ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Container:
    name: str
    spec: Mapping[str, Any]

    def context(self, key: str) -> Any:
        return dig(self.spec, "securityContext", key)


@dataclass(frozen=True)
class Workload:
    resource: PolicyResource
    kind: str
    namespace: str
    name: str
    pod: Mapping[str, Any]  # the pod spec
    labels: Mapping[str, Any]  # the pod template's labels

    @property
    def containers(self) -> Optional[list[Container]]:
        """Every container, init and ephemeral ones included; None when the list is unknown."""
        found: list[Container] = []
        for key in ("initContainers", "containers", "ephemeralContainers"):
            items = self.pod.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                return None
            for i, item in enumerate(items):
                if isinstance(item, Mapping):
                    name = item.get("name")
                    found.append(Container(name if isinstance(name, str) and known(name) else f"#{i}", item))
        return found if self.pod.get("containers") is not None else None

    def pod_context(self, key: str) -> Any:
        return dig(self.pod, "securityContext", key)

    def effective(self, c: Container, key: str) -> Any:
        """A container's security setting, else the pod's (how Kubernetes resolves runAsNonRoot,
        runAsUser and seccompProfile)."""
        value = c.context(key)
        return self.pod_context(key) if value is None else value

    def title(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def workload(r: PolicyResource, plan: Optional[PolicyPlan] = None) -> Workload:
    path = _TEMPLATE[r.type]
    template = r.inputs if path is None else (dig(r.inputs, *path) or {})
    if not isinstance(template, Mapping):
        template = {}
    pod = template.get("spec")
    labels = dig(template, "metadata", "labels")
    name = r.get("metadata", "name")
    return Workload(resource=r, kind=r.type.rsplit(":", 1)[-1], namespace=namespace_of(r, plan),
                    name=str(name) if known(name) else r.name, pod=pod if isinstance(pod, Mapping) else {},
                    labels=labels if isinstance(labels, Mapping) else {})


def namespace_of(r: PolicyResource, plan: Optional[PolicyPlan] = None) -> str:
    """metadata.namespace; during a preview an unknown one is the Namespace the object depends
    on; unset is Kubernetes' `default`."""
    value = r.get("metadata", "namespace")
    if isinstance(value, str) and value and not is_unknown(value):
        return value
    if is_unknown(value) and plan is not None:
        for ns in plan.dependencies_of(r, NAMESPACE):
            name = ns.get("metadata", "name")
            if isinstance(name, str) and known(name):
                return name
        return "?"
    return "?" if is_unknown(value) else "default"


@dataclass(frozen=True)
class Problem:
    key: str  # what an exemption's `allows` matches: a container, a host path, a host namespace
    text: str


def judge(rule_id: str, w: Workload, problems: Sequence[Problem], passed: str) -> Result:
    """Pass, fail with every problem, or exempt where a declared exemption covers them all."""
    exemption = exemption_for(rule_id, w)
    covered = [p for p in problems if exemption is not None and exemption.covers(p.key)]
    remaining = [p for p in problems if p not in covered]
    if remaining:
        text = "; ".join(p.text for p in remaining)
        if covered:
            text += f" (exempt: {'; '.join(p.text for p in covered)})"
        return fail(f"{w.title()}: {text}", w.resource)
    if covered:
        return exempt(f"{w.title()}: {'; '.join(p.text for p in covered)}; exempt: {exemption.reason}", w.resource)
    return ok(f"{w.title()}: {passed}", w.resource)


def _per_container(rule_id: str, r: PolicyResource, passed: str, check) -> Result:
    """`check(workload, container)` -> a problem text or None, for every container."""
    w = workload(r)
    containers = w.containers
    if containers is None:
        return na(f"{w.title()}: its containers are unknown until the apply")
    problems = [Problem(c.name, f"container {c.name} {text}") for c in containers for text in [check(w, c)] if text]
    return judge(rule_id, w, problems, f"{passed} ({len(containers)} container(s))")


def _true(value: Any) -> bool:
    """True, or unknown until the apply (a computed value counts as set)."""
    return is_unknown(value) or truthy(value)


# -- container confinement ---------------------------------------------------------------------------
_WORKLOAD_RULE = dict(scope=PROHIBITION, area=AREA, types=WORKLOADS, level=always("mandatory"))


@resource_rule(id="AIB-100", title="No container is privileged", severity="critical", controls=CONTAINER_ISOLATION,
               **_WORKLOAD_RULE)
def no_privileged_containers(r: PolicyResource, ctx: RuleContext) -> Result:
    """A privileged container has every device and capability of the node: it is root on the
    host, with the node's IAM role and every other pod's secrets."""
    return _per_container("AIB-100", r, "no privileged container", lambda w, c: (
        "is privileged" if truthy(c.context("privileged")) else None))


@resource_rule(id="AIB-101", title="Every container sets allowPrivilegeEscalation: false", severity="high",
               controls=CONTAINER_ISOLATION, **_WORKLOAD_RULE)
def no_privilege_escalation(r: PolicyResource, ctx: RuleContext) -> Result:
    """Without it a process gains privileges through setuid binaries or file capabilities
    (Kubernetes leaves no_new_privs off when the field is unset)."""
    def check(w: Workload, c: Container) -> Optional[str]:
        value = c.context("allowPrivilegeEscalation")
        if value is False or is_unknown(value):
            return None
        return "allows privilege escalation (allowPrivilegeEscalation is " + ("not set" if value is None else "true") + ")"
    return _per_container("AIB-101", r, "no container can escalate privileges", check)


@resource_rule(id="AIB-102", title="Every container runs as non-root (runAsNonRoot true, never runAsUser 0)",
               severity="high", controls=CONTAINER_ISOLATION, **_WORKLOAD_RULE)
def runs_as_non_root(r: PolicyResource, ctx: RuleContext) -> Result:
    """Root in a container is root on the node's files it can reach and one kernel bug away from
    root on the node; runAsNonRoot makes the kubelet refuse an image that would start as root."""
    def check(w: Workload, c: Container) -> Optional[str]:
        issues = []
        if not _true(w.effective(c, "runAsNonRoot")):
            issues.append("runAsNonRoot is not true at pod or container level")
        user = w.effective(c, "runAsUser")
        if not is_unknown(user) and user is not None and str(user) == "0":
            issues.append("runAsUser is 0")
        return "runs as root (" + ", ".join(issues) + ")" if issues else None
    return _per_container("AIB-102", r, "every container runs as non-root", check)


@resource_rule(id="AIB-103", title="Every container has a read-only root filesystem", severity="medium",
               controls=CONTAINER_ISOLATION, **_WORKLOAD_RULE)
def read_only_root_filesystem(r: PolicyResource, ctx: RuleContext) -> Result:
    """A writable root filesystem lets an intruder drop tools and persist across restarts of
    the process; scratch space belongs in an emptyDir."""
    return _per_container("AIB-103", r, "every root filesystem is read-only", lambda w, c: (
        None if _true(c.context("readOnlyRootFilesystem")) else "has a writable root filesystem "
        "(readOnlyRootFilesystem is not true)"))


@resource_rule(id="AIB-104", title="Every container drops ALL capabilities and adds none", severity="high",
               controls=CONTAINER_ISOLATION, **_WORKLOAD_RULE)
def capabilities_dropped(r: PolicyResource, ctx: RuleContext) -> Result:
    """The runtime's default capabilities (NET_RAW, CHOWN, SETUID, ...) are attack surface no
    model server needs; added ones (SYS_ADMIN, NET_ADMIN) are most of the way to the host. An
    exemption may allow named capabilities."""
    w = workload(r)
    containers = w.containers
    if containers is None:
        return na(f"{w.title()}: its containers are unknown until the apply")
    problems = []
    for c in containers:
        caps = c.context("capabilities")
        if is_unknown(caps):
            continue
        caps = caps if isinstance(caps, Mapping) else {}
        drop = caps.get("drop")
        if not is_unknown(drop) and "ALL" not in [str(d).upper() for d in as_list(drop)]:
            problems.append(Problem(f"{c.name}:drop", f"container {c.name} does not drop ALL capabilities"))
        for cap in as_list(caps.get("add")):
            if not is_unknown(cap):
                problems.append(Problem(str(cap), f"container {c.name} adds {cap}"))
    return judge("AIB-104", w, problems, f"every container drops ALL capabilities and adds none ({len(containers)} container(s))")


@resource_rule(id="AIB-105", title="No workload shares the node's network, PID or IPC namespace", severity="high",
               controls=CONTAINER_ISOLATION, **_WORKLOAD_RULE)
def no_host_namespaces(r: PolicyResource, ctx: RuleContext) -> Result:
    """hostNetwork puts a pod on the node's interfaces (the instance metadata service, every
    port, outside NetworkPolicy); hostPID lets it see and signal the node's processes; hostIPC
    lets it read their shared memory."""
    w = workload(r)
    problems = [Problem(key, f"{key} is true") for key in ("hostNetwork", "hostPID", "hostIPC") if truthy(w.pod.get(key))]
    return judge("AIB-105", w, problems, "uses none of the node's namespaces")


def _host_path(path: Any) -> str:
    if not isinstance(path, str) or is_unknown(path):
        return "(unknown path)"
    return path.rstrip("/") or "/"


@resource_rule(id="AIB-106", title="No workload mounts a hostPath volume", severity="high",
               controls=CONTAINER_ISOLATION, **_WORKLOAD_RULE)
def no_host_path_volumes(r: PolicyResource, ctx: RuleContext) -> Result:
    """A hostPath volume reaches past the container into the node's filesystem (kubelet
    credentials, the container runtime's socket); an exemption names the exact paths it allows."""
    w = workload(r)
    problems = []
    for volume in as_list(w.pod.get("volumes")):
        if isinstance(volume, Mapping) and volume.get("hostPath") is not None:
            path = _host_path(dig(volume, "hostPath", "path"))
            problems.append(Problem(path, f"volume {volume.get('name')} mounts host path {path}"))
    return judge("AIB-106", w, problems, "mounts no host path")


@resource_rule(id="AIB-107", title="Every container runs under the RuntimeDefault (or a Localhost) seccomp profile",
               severity="medium", controls=CONTAINER_ISOLATION, **_WORKLOAD_RULE)
def seccomp_confined(r: PolicyResource, ctx: RuleContext) -> Result:
    """Unconfined (Kubernetes' default) leaves every syscall open to an intruder, including the
    rarely used ones where kernel exploits live."""
    def check(w: Workload, c: Container) -> Optional[str]:
        profile = w.effective(c, "seccompProfile")
        kind = profile.get("type") if isinstance(profile, Mapping) else profile
        if is_unknown(kind) or kind in SECCOMP_CONFINED:
            return None
        return f"runs {'unconfined' if kind in (None, 'Unconfined') else f'under seccomp {kind}'} " \
               "(no RuntimeDefault or Localhost seccompProfile at pod or container level)"
    return _per_container("AIB-107", r, "every container runs under a confining seccomp profile", check)


@resource_rule(id="AIB-108", title="Every container requests CPU and memory and has a memory limit",
               severity="medium", controls=RESOURCE_BOUNDS, **_WORKLOAD_RULE)
def resources_bounded(r: PolicyResource, ctx: RuleContext) -> Result:
    """Without requests the scheduler packs blindly; without a memory limit one leaking or
    hostile pod takes the node's memory from every other pod (and the kubelet)."""
    def check(w: Workload, c: Container) -> Optional[str]:
        resources = c.spec.get("resources")
        if is_unknown(resources):
            return None
        missing = [what for what, path in (("cpu request", ("requests", "cpu")), ("memory request", ("requests", "memory")),
                                           ("memory limit", ("limits", "memory")))
                   if dig(resources, *path) in (None, "")]
        return "has no " + " and no ".join(missing) if missing else None
    return _per_container("AIB-108", r, "every container requests CPU and memory and has a memory limit", check)


# An image reference pinned to content: `@sha256:` and 64 hex digits, after the tag if any.
_PINNED = re.compile(r"@sha256:[a-f0-9]{64}$")


@resource_rule(id="AIB-112", title="Every container image is pinned by digest (@sha256:) where the tier pins images",
               severity="high", controls=merge(INTEGRITY, CHANGE_CONTROL), scope=PROHIBITION, area=AREA,
               types=WORKLOADS, level=mandatory_if("image_digests", otherwise="disabled",
                                                   where="the tier pins images (`image_digests`)"))
def images_pinned_by_digest(r: PolicyResource, ctx: RuleContext) -> Result:
    """A tag is a pointer anyone with push rights can move (or a registry can serve differently):
    a digest names the exact bytes that were reviewed and scanned, so what runs is what was
    approved, in every region and on every node restart."""
    def check(w: Workload, c: Container) -> Optional[str]:
        image = c.spec.get("image")
        if is_unknown(image) or (isinstance(image, str) and _PINNED.search(image)):
            return None
        return f"runs {image!r}, not pinned by digest (<repository>:<tag>@sha256:<digest>)"
    return _per_container("AIB-112", r, "every image is pinned by digest", check)


# -- the service-account token -------------------------------------------------------------------------
def _service_account(plan: PolicyPlan, w: Workload, name: str) -> Optional[PolicyResource]:
    return next((sa for sa in plan.of_type(SERVICE_ACCOUNT)
                 if sa.provider == w.resource.provider and namespace_of(sa, plan) == w.namespace
                 and sa.get("metadata", "name") == name), None)


@plan_rule(id="AIB-109", scope=PROHIBITION, area=AREA, types=(*WORKLOADS, SERVICE_ACCOUNT),
           title="No workload mounts a service-account token unless it calls the Kubernetes API (a declared exemption)",
           severity="medium", controls=merge(LEAST_PRIVILEGE, CONTAINER_ISOLATION), level=always("mandatory"))
def no_service_account_token(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A mounted token is a credential for the Kubernetes API that anyone who gets into the pod
    can read; a pod that never calls the API opts out (automountServiceAccountToken: false on the
    pod, or on its service account)."""
    for r in plan.of_type(*WORKLOADS):
        w = workload(r, plan)
        mounted, why = _token(plan, w)
        yield judge("AIB-109", w, [Problem("token", why)] if mounted else [], why)


def _token(plan: PolicyPlan, w: Workload) -> tuple[bool, str]:
    """(the pod mounts a service-account token, why)."""
    value = w.pod.get("automountServiceAccountToken")
    if value is False or is_unknown(value):
        return False, "the pod sets automountServiceAccountToken: false"
    if value is not None:
        return True, "the pod sets automountServiceAccountToken: true"
    account = w.pod.get("serviceAccountName") or w.pod.get("serviceAccount") or "default"
    if is_unknown(account):
        return False, "its service account is computed during the preview"
    sa = _service_account(plan, w, account)
    if sa is None:
        return True, (f"the pod mounts the token of service account {account} (not in the plan; Kubernetes mounts it "
                      "unless the pod sets automountServiceAccountToken: false)")
    if sa.get("automountServiceAccountToken") is False or is_unknown(sa.get("automountServiceAccountToken")):
        return False, f"its service account {account} sets automountServiceAccountToken: false"
    return True, (f"the pod mounts the token of service account {account} (automountServiceAccountToken is not false "
                  "on the pod or the account)")


# -- network policies ------------------------------------------------------------------------------------
# Namespaces the blueprint shares with EKS's own add-ons, where a namespace-wide deny would cut
# them off: there each of the blueprint's workloads is denied by a policy selecting its own pods.
SHARED_NAMESPACES: dict[str, str] = {
    "kube-system": "EKS runs its own add-ons here (CoreDNS, which every namespace's pods query; metrics-server, "
                   "which the API server calls for the HPA; the VPC CNI, kube-proxy and the Pod Identity agent), "
                   "whose traffic EKS defines and changes with each add-on version",
}


def _selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A label selector (matchLabels, matchExpressions) selects pods with these labels; unknown
    values during a preview count as matching."""
    if is_unknown(selector) or not isinstance(selector, Mapping):
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if not is_unknown(value) and not is_unknown(labels.get(key)) and labels.get(key) != value:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        if not isinstance(expr, Mapping):
            continue
        key, op, values = expr.get("key"), expr.get("operator"), as_list(expr.get("values"))
        present, value = key in labels, labels.get(key)
        if is_unknown(value) or any(is_unknown(v) for v in values):
            continue
        if (op == "In" and value not in values) or (op == "NotIn" and present and value in values) \
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def _selects_all(selector: Any) -> bool:
    """`podSelector: {}` (or omitted, which Kubernetes reads as empty): every pod of the namespace."""
    return selector is None or (isinstance(selector, Mapping) and not selector.get("matchLabels")
                                and not selector.get("matchExpressions"))


def _policy_types(policy: PolicyResource) -> set[str]:
    """Kubernetes' defaults when policyTypes is unset: Ingress, and Egress if it has egress rules."""
    declared = policy.get("spec", "policyTypes")
    if isinstance(declared, list) and declared:
        return {str(t) for t in declared}
    return {"Ingress"} | ({"Egress"} if policy.get("spec", "egress") else set())


def _denies(policy: PolicyResource, direction: str) -> bool:
    """The policy isolates its pods in `direction` (Ingress | Egress) and allows nothing there."""
    return direction in _policy_types(policy) and policy.get("spec", direction.lower()) in (None, [])


def _policy_name(policy: PolicyResource) -> str:
    name = policy.get("metadata", "name")
    return str(name) if known(name) else policy.name


@plan_rule(id="AIB-110", scope=CLUSTERS, requires=(NETWORK_POLICY,), area=AREA,
           types=(*WORKLOADS, NETWORK_POLICY, NAMESPACE),
           missing="no namespace running workloads under a default-deny NetworkPolicy",
           title="Every workload runs under a default-deny NetworkPolicy (namespace-wide; its own in kube-system)",
           severity="high", controls=POD_NETWORK, level=always("mandatory"))
def default_deny_network_policies(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Kubernetes lets every pod reach every other pod until a policy selects it: one compromised
    pod probes the model server, the autoscaler, every namespace. Each (cluster, namespace) that
    runs a workload has a NetworkPolicy with `podSelector: {}`, `policyTypes` including Ingress
    (and Egress where the namespace's own policies declare egress) and no rules of its own. In
    kube-system, which EKS's add-ons share (SHARED_NAMESPACES), each of the blueprint's workloads
    is instead selected by a deny policy of its own. Judged per workload."""
    policies_by_ns: dict[tuple[str, str], list[PolicyResource]] = {}
    for policy in plan.of_type(NETWORK_POLICY):
        policies_by_ns.setdefault((policy.provider, namespace_of(policy, plan)), []).append(policy)
    for r in plan.of_type(*WORKLOADS):
        w = workload(r, plan)
        policies = policies_by_ns.get((r.provider, w.namespace), [])
        yield judge("AIB-110", w, _network_problems(w, policies), _network_passed(w, policies))


def _namespace_deny(policies: list[PolicyResource], direction: str) -> list[PolicyResource]:
    return [p for p in policies if _selects_all(p.get("spec", "podSelector")) and _denies(p, direction)]


def _own_deny(w: Workload, policies: list[PolicyResource]) -> list[PolicyResource]:
    return [p for p in policies if _selects(p.get("spec", "podSelector"), w.labels) and _denies(p, "Ingress")]


def _network_problems(w: Workload, policies: list[PolicyResource]) -> list[Problem]:
    """Keyed `hostNetwork` for a host-network pod (which an exemption may allow: no policy can
    isolate it), else `deny` / `deny-egress`."""
    where = f"namespace {w.namespace}"
    key = "hostNetwork" if truthy(w.pod.get("hostNetwork")) else "deny"
    if w.namespace in SHARED_NAMESPACES:
        if _own_deny(w, policies):
            return []
        return [Problem(key, f"no NetworkPolicy in {where} denies ingress to its pods (podSelector matching "
                             f"{_labels(w.labels)}, policyTypes Ingress, no ingress rules); {where} is shared with "
                             "EKS's own add-ons, so each workload there needs a deny policy of its own")]
    problems = []
    if not _namespace_deny(policies, "Ingress"):
        problems.append(Problem(key, f"{where} has no default-deny NetworkPolicy (podSelector {{}}, policyTypes Ingress, "
                                     "no ingress rules)"))
    egress_declared = sorted(_policy_name(p) for p in policies if "Egress" in _policy_types(p))
    if egress_declared and not _namespace_deny(policies, "Egress"):
        problems.append(Problem("deny-egress", f"{where} declares egress policies ({', '.join(egress_declared)}) but no "
                                               "default-deny covers Egress (podSelector {}, policyTypes Egress, no "
                                               "egress rules)"))
    return problems


def _labels(labels: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "its pods"


def _network_passed(w: Workload, policies: list[PolicyResource]) -> str:
    if w.namespace in SHARED_NAMESPACES:
        return f"ingress to its pods denied by {', '.join(sorted(map(_policy_name, _own_deny(w, policies))))}"
    denies = _namespace_deny(policies, "Ingress") + _namespace_deny(policies, "Egress")
    return f"namespace {w.namespace} denies by default ({', '.join(sorted(set(map(_policy_name, denies))))})"


def _configuration(addon: PolicyResource) -> Optional[Mapping[str, Any]]:
    value = addon.get("configurationValues")
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value:
        return {}
    if is_unknown(value):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, Mapping) else {}


@plan_rule(id="AIB-111", scope=CLUSTERS, requires=(EKS_CLUSTER, EKS_ADDON), area=AREA, types=(EKS_CLUSTER, EKS_ADDON),
           missing="no EKS cluster with its vpc-cni add-on enforcing NetworkPolicies",
           title="Every EKS cluster enforces NetworkPolicies (the vpc-cni add-on sets enableNetworkPolicy \"true\")",
           severity="high", controls=POD_NETWORK, level=always("mandatory"))
def network_policies_enforced(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """EKS accepts NetworkPolicies on every cluster but enforces them only when the VPC CNI's
    network policy agent is on, which it is not by default (EKS best practices, network
    security): without it every default-deny above is decoration."""
    addons = [a for a in plan.of_type(EKS_ADDON) if a.get("addonName") == "vpc-cni"]
    for cluster in plan.of_type(EKS_CLUSTER):
        mine = [a for a in addons if plan.resolve(a, "clusterName", [EKS_CLUSTER]) is cluster]
        if not mine:
            yield fail("no vpc-cni add-on: the VPC CNI EKS installs on its own does not enforce NetworkPolicies", cluster)
            continue
        configs = [_configuration(a) for a in mine]
        if any(c is None or str(c.get("enableNetworkPolicy", "")).lower() == "true" for c in configs):
            yield ok("the vpc-cni add-on enforces NetworkPolicies (enableNetworkPolicy \"true\")", cluster)
        else:
            yield fail("the vpc-cni add-on does not set enableNetworkPolicy \"true\" in configurationValues: "
                       "NetworkPolicies are accepted but not enforced", cluster)
