"""ClusterAutoscaler: Pod Identity role scoped to this cluster's Auto Scaling groups, RBAC, and a
Deployment configured for a private cluster."""

import functools
import json

from blueprints.plan.engine import run_program
from components.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from tests.components.serving_stack import one

MIRROR = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/demo/cluster-autoscaler:v1.33.0"


@functools.lru_cache(maxsize=None)
def plan(skip_await: bool = False, probe_cidrs: tuple = ()):
    def program():
        vpc = IsolatedVpc("ca", IsolatedVpcArgs())
        cluster = EksCluster("ca-cluster", EksClusterArgs(vpc=vpc))
        ClusterAutoscaler("ca", ClusterAutoscalerArgs(cluster=cluster, image=MIRROR, skip_await=skip_await,
                                                      probe_cidrs=probe_cidrs))
    return run_program(program, stack="ca-test", config={"aws:region": "eu-central-1"}, secret_keys=[])


def container():
    deployment = one(plan(), "kubernetes:apps/v1:Deployment")
    (found,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return found


def test_role_trusts_eks_pod_identity_and_is_associated_with_the_service_account():
    role = one(plan(), "aws:iam/role:Role", "ca-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    association = one(plan(), "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert association.inputs["clusterName"] == "ca-cluster"
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == ("kube-system", "cluster-autoscaler")
    assert association.inputs["roleArn"] == role.outputs["arn"]


def test_scaling_actions_are_limited_to_this_clusters_groups():
    policy = json.loads(one(plan(), "aws:iam/rolePolicy:RolePolicy", "ca-autoscaling").inputs["policy"])
    write = next(s for s in policy["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert write["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/ca-cluster": "owned"}}
    read = next(s for s in policy["Statement"] if s is not write)
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in read["Action"])


def test_deployment_is_configured_for_a_private_cluster():
    found = container()
    assert found["image"] == MIRROR
    assert "--aws-use-static-instance-list=true" in found["command"]
    assert ("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
            "k8s.io/cluster-autoscaler/ca-cluster") in found["command"]
    env = {e["name"]: e["value"] for e in found["env"]}
    assert env == {"AWS_REGION": "eu-central-1", "AWS_STS_REGIONAL_ENDPOINTS": "regional"}
    assert found["securityContext"]["readOnlyRootFilesystem"] is True


def test_rbac_binds_the_service_account():
    binding = one(plan(), "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "cluster-autoscaler", "namespace": "kube-system"}]
    assert binding.inputs["roleRef"]["name"] == "cluster-autoscaler"


def test_pulumi_waits_for_the_autoscaler_unless_its_image_is_in_a_new_mirror():
    assert "annotations" not in one(plan(), "kubernetes:apps/v1:Deployment").inputs["metadata"]
    skipping = one(plan(skip_await=True), "kubernetes:apps/v1:Deployment")
    assert skipping.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


def test_nothing_reaches_the_autoscaler_but_it_keeps_its_api_token():
    """kube-system is shared with EKS's add-ons: the autoscaler's own pods are denied ingress.
    It calls the Kubernetes API, so its service account mounts a token."""
    deployment = one(plan(), "kubernetes:apps/v1:Deployment").inputs
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    policy = one(plan(), "kubernetes:networking.k8s.io/v1:NetworkPolicy").inputs
    assert (policy["metadata"]["name"], policy["metadata"]["namespace"]) == ("cluster-autoscaler-deny-ingress", "kube-system")
    assert policy["spec"] == {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"]}
    account = one(plan(), "kubernetes:core/v1:ServiceAccount").inputs
    assert account["automountServiceAccountToken"] is True
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_a_hung_autoscaler_is_restarted_and_it_cannot_starve_its_node():
    found = container()
    assert found["livenessProbe"]["httpGet"] == {"path": "/health-check", "port": 8085}
    assert found["ports"] == [{"name": "health", "containerPort": 8085, "protocol": "TCP"}]
    assert found["resources"]["limits"] == {"cpu": "1", "memory": "600Mi"}


def test_the_kubelets_probe_is_admitted_from_the_node_network_only():
    """Policies add up: the deny stays, and a second policy admits the health port from the VPC."""
    probed = plan(probe_cidrs=("10.9.0.0/16",))
    policies = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in probed.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert policies["cluster-autoscaler-deny-ingress"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in policies["cluster-autoscaler-deny-ingress"]
    assert policies["cluster-autoscaler-allow-probe"]["ingress"] == [
        {"from": [{"ipBlock": {"cidr": "10.9.0.0/16"}}], "ports": [{"port": 8085, "protocol": "TCP"}]}]
