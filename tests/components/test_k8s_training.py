"""TrainingNamespace: restricted namespace, device plugins in kube-system, quota, default-deny
network policies with DNS / endpoint / Lustre allowances, RBAC mapped from IAM roles."""

import functools

import pytest

from blueprints.plan.engine import run_program
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.k8s_training import TrainingNamespace, TrainingNamespaceArgs

OPERATOR = "arn:aws:iam::123456789012:role/operator"
AUDITOR = "arn:aws:iam::123456789012:role/auditor"


def _run(**kwargs):
    def program():
        vpc = IsolatedVpc("v", IsolatedVpcArgs(cidr_block="10.9.0.0/16"))
        cluster = EksCluster("c", EksClusterArgs(vpc=vpc))
        TrainingNamespace("t", TrainingNamespaceArgs(cluster=cluster, nvidia_device_plugin_image="repo/nvidia:v1", **kwargs))
    return run_program(program, stack="k8s-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


@functools.lru_cache(maxsize=None)
def full_plan():
    return _run(efa_device_plugin_image="repo/efa:v1", gpu_quota=16, https_egress_cidrs=["0.0.0.0/0"],
                lustre_cidrs=["10.9.0.0/16"], operator_role_arns=[OPERATOR], auditor_role_arns=[AUDITOR])


@functools.lru_cache(maxsize=None)
def minimal_plan():
    return _run(pod_identity_agent=False)


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


def policies(plan, namespace="training"):
    return {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if p.inputs["metadata"]["namespace"] == namespace}


def test_every_kubernetes_object_uses_the_clusters_provider():
    plan = full_plan()
    provider = one(plan, "pulumi:providers:kubernetes")
    k8s_objects = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert len(k8s_objects) >= 12
    assert all(r.provider.startswith(provider.urn) for r in k8s_objects)


def test_namespace_enforces_the_restricted_pod_security_standard():
    namespace = one(full_plan(), "kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert namespace.inputs["metadata"]["name"] == "training"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_device_plugins_run_unprivileged_in_kube_system_on_their_nodes():
    plugins = {d.inputs["metadata"]["name"]: d for d in full_plan().of_type("kubernetes:apps/v1:DaemonSet")}
    assert set(plugins) == {"nvidia-device-plugin", "aws-efa-k8s-device-plugin"}
    for daemonset in plugins.values():
        assert daemonset.inputs["metadata"]["namespace"] == "kube-system"
        pod = daemonset.inputs["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    nvidia = plugins["nvidia-device-plugin"].inputs["spec"]["template"]["spec"]
    assert nvidia["containers"][0]["image"] == "repo/nvidia:v1"
    assert nvidia["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    efa = plugins["aws-efa-k8s-device-plugin"].inputs["spec"]["template"]["spec"]
    assert efa["containers"][0]["image"] == "repo/efa:v1"
    assert efa["nodeSelector"] == {"vpc.amazonaws.com/efa.present": "true"}
    assert [d.inputs["metadata"]["name"] for d in minimal_plan().of_type("kubernetes:apps/v1:DaemonSet")] == ["nvidia-device-plugin"]


def test_device_plugins_keep_only_root_and_their_host_paths():
    """Root, the kubelet's socket directory (and /dev/infiniband and the host network for EFA)
    are what the upstream manifests need; the token, an unconfined seccomp profile and (off the
    host network) any network at all are not."""
    plugins = {d.inputs["metadata"]["name"]: d.inputs["spec"]["template"] for d in full_plan().of_type("kubernetes:apps/v1:DaemonSet")}
    for template in plugins.values():
        pod = template["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    paths = lambda name: sorted(v["hostPath"]["path"] for v in plugins[name]["spec"]["volumes"])  # noqa: E731
    assert paths("nvidia-device-plugin") == ["/var/lib/kubelet/device-plugins"]
    assert paths("aws-efa-k8s-device-plugin") == ["/dev/infiniband", "/var/lib/kubelet/device-plugins"]
    assert "hostNetwork" not in plugins["nvidia-device-plugin"]["spec"]
    assert plugins["aws-efa-k8s-device-plugin"]["spec"]["hostNetwork"] is True
    # The NVIDIA plugin talks to the kubelet over a Unix socket: its pods get no traffic at all.
    # NetworkPolicies cannot isolate the EFA plugin's host-network pods, so it gets none.
    system = policies(full_plan(), "kube-system")
    assert system == {"nvidia-device-plugin-deny-all": {
        "podSelector": {"matchLabels": plugins["nvidia-device-plugin"]["metadata"]["labels"]},
        "policyTypes": ["Ingress", "Egress"]}}


def test_neuron_nodes_get_the_neuron_plugin_and_a_neuron_quota_and_no_nvidia_plugin():
    def program():
        vpc = IsolatedVpc("v", IsolatedVpcArgs(cidr_block="10.9.0.0/16"))
        cluster = EksCluster("c", EksClusterArgs(vpc=vpc))
        TrainingNamespace("t", TrainingNamespaceArgs(cluster=cluster, neuron_device_plugin_image="repo/neuron:2",
                                                     gpu_quota=32, accelerator_resource="aws.amazon.com/neuron"))
    plan = run_program(program, stack="k8s-test", config={"aws:region": "eu-west-1"}, secret_keys=[])
    assert [d.inputs["metadata"]["name"] for d in plan.of_type("kubernetes:apps/v1:DaemonSet")] == ["neuron-device-plugin"]
    assert one(plan, "kubernetes:core/v1:ResourceQuota").inputs["spec"]["hard"] == {"requests.aws.amazon.com/neuron": "32"}


def test_a_namespace_without_any_device_plugin_is_refused():
    def program():
        vpc = IsolatedVpc("v", IsolatedVpcArgs(cidr_block="10.9.0.0/16"))
        TrainingNamespace("t", TrainingNamespaceArgs(cluster=EksCluster("c", EksClusterArgs(vpc=vpc))))
    with pytest.raises(Exception, match="t: give nvidia_device_plugin_image or neuron_device_plugin_image"):
        run_program(program, stack="k8s-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_gpu_quota_and_container_defaults():
    quota = one(full_plan(), "kubernetes:core/v1:ResourceQuota")
    assert quota.inputs["metadata"]["namespace"] == "training"
    assert quota.inputs["spec"]["hard"] == {"requests.nvidia.com/gpu": "16"}
    assert one(minimal_plan(), "kubernetes:core/v1:ResourceQuota").inputs["spec"]["hard"] == {"requests.nvidia.com/gpu": "0"}
    (limits,) = one(full_plan(), "kubernetes:core/v1:LimitRange").inputs["spec"]["limits"]
    assert limits["type"] == "Container" and limits["defaultRequest"] and limits["default"]


def test_default_deny_with_only_dns_https_pod_identity_lustre_and_peers_allowed():
    specs = policies(full_plan())
    assert specs["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (dns,) = specs["allow-dns"]["egress"]
    assert dns["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    # S3 through its gateway endpoint answers on S3's public addresses: HTTPS is not VPC-bound.
    (https,) = specs["allow-https"]["egress"]
    assert https == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    # Pod credentials come from the node's EKS Pod Identity agent.
    (agent,) = specs["allow-pod-identity-agent"]["egress"]
    assert agent == {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]}
    assert specs["allow-pod-identity-agent"]["policyTypes"] == ["Egress"]
    (lustre,) = specs["allow-lustre"]["egress"]
    assert lustre["ports"] == [{"protocol": "TCP", "port": 988}, {"protocol": "TCP", "port": 1018, "endPort": 1023}]
    assert set(policies(minimal_plan())) == {"default-deny", "allow-dns", "allow-within-namespace"}


def test_pod_identity_agent_is_reachable_by_default():
    plan = _run()
    assert "allow-pod-identity-agent" in policies(plan) and "allow-https" not in policies(plan)


def test_operators_may_run_jobs_only_in_the_namespace():
    plan = full_plan()
    role = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert role.inputs["metadata"]["namespace"] == "training"
    jobs = next(r for r in role.inputs["rules"] if r["resources"] == ["jobs"])
    assert jobs["apiGroups"] == ["batch"] and "create" in jobs["verbs"]
    assert not [r for r in role.inputs["rules"] if "secrets" in r["resources"] or "*" in r["verbs"]]
    binding = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    assert binding.inputs["subjects"] == [{"kind": "Group", "name": "fine-tune-operators", "apiGroup": "rbac.authorization.k8s.io"}]
    entries = {e.inputs["principalArn"]: e.inputs["kubernetesGroups"] for e in plan.of_type("aws:eks/accessEntry:AccessEntry")}
    assert entries == {OPERATOR: ["fine-tune-operators"], AUDITOR: ["auditors"]}


def test_auditors_read_everything_but_secrets_and_change_nothing():
    plan = full_plan()
    auditor = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in auditor.inputs["rules"])
    assert not [r for r in auditor.inputs["rules"] if "secrets" in r["resources"]]
    binding = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding.inputs["roleRef"]["name"] == auditor.inputs["metadata"]["name"]
    assert binding.inputs["subjects"][0]["name"] == "auditors"


def test_reserved_groups_are_rejected():
    with pytest.raises(Exception, match="system: groups are reserved"):
        _run(operator_group="system:masters")
