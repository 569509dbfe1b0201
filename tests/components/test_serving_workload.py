"""ServingWorkload: a hardened GPU Deployment, a fixed NodePort, HPA, PDB, and NetworkPolicies
that admit only the load balancer's VPC on the serving port."""

import json

import pytest

from blueprints.plan.engine import run_program
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.serving_workload import ModelSource, ServingWorkload, ServingWorkloadArgs
from tests.components.serving_stack import DEVICE_PLUGIN, IMAGE, one, render


def pod_spec(plan):
    return one(plan, "kubernetes:apps/v1:Deployment", "svc-serving-deployment").inputs["spec"]["template"]["spec"]


def test_every_object_goes_through_the_clusters_kubernetes_provider():
    plan = render()
    (provider,) = plan.of_type("pulumi:providers:kubernetes")
    workload = one(plan, "aiblueprints:kubernetes:ServingWorkload")
    children = plan.descendants(workload.urn)
    assert len(children) == 10  # 8 of its own, the device plugin and the plugin's NetworkPolicy
    assert all(r.provider == f"{provider.urn}::{provider.id}" for r in children)


def test_the_container_requests_and_limits_one_gpu_and_knows_its_model_version():
    (container,) = pod_spec(render())["containers"]
    assert container["image"] == IMAGE
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"name": "MODEL_VERSION", "value": "1.4.2"} in container["env"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8080}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8080}


def test_the_pod_is_locked_down():
    spec = pod_spec(render())
    (container,) = spec["containers"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["runAsNonRoot"] is True
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    namespace = one(render(), "kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_service_is_a_fixed_nodeport_for_the_load_balancer():
    spec = one(render(), "kubernetes:core/v1:Service").inputs["spec"]
    assert spec["type"] == "NodePort" and spec["externalTrafficPolicy"] == "Local"
    assert spec["ports"] == [{"name": "http", "port": 8080, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]


def test_hpa_and_pdb_follow_the_replica_bounds():
    plan = render()
    hpa = one(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "model-server"}
    pdb = one(plan, "kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    assert pdb == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "model-server"}}}


def test_network_policies_deny_everything_but_the_vpc_on_the_serving_port():
    plan = render()
    deny = one(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc-serving-default-deny").inputs["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = one(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc-serving-allow-load-balancer").inputs["spec"]
    assert allow["ingress"] == [{"from": [{"ipBlock": {"cidr": "10.40.0.0/16"}}], "ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_the_nvidia_device_plugin_runs_on_the_gpu_nodes_only():
    plugin = one(render(), "kubernetes:apps/v1:DaemonSet").inputs
    assert plugin["metadata"]["namespace"] == "kube-system"
    spec = plugin["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    (container,) = spec["containers"]
    assert container["image"] == DEVICE_PLUGIN
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    deny = one(render(), "kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc-serving-nvidia-device-plugin-deny-all").inputs
    assert deny["metadata"]["namespace"] == "kube-system"
    assert deny["spec"] == {"podSelector": {"matchLabels": plugin["spec"]["template"]["metadata"]["labels"]},
                            "policyTypes": ["Ingress", "Egress"]}


def test_no_device_plugin_unless_asked():
    assert not _workload().of_type("kubernetes:apps/v1:DaemonSet")


def _workload(**kwargs):
    def program():
        vpc = IsolatedVpc("w", IsolatedVpcArgs())
        cluster = EksCluster("w", EksClusterArgs(vpc=vpc))
        ServingWorkload("w", ServingWorkloadArgs(cluster=cluster, image=IMAGE, model_version="1", **kwargs))
    return run_program(program, stack="workload-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_without_ingress_cidrs_the_pods_admit_nothing():
    allow = one(_workload(), "kubernetes:networking.k8s.io/v1:NetworkPolicy", "w-allow-load-balancer").inputs["spec"]
    assert allow.get("ingress", []) == []


@pytest.mark.parametrize("bad", [dict(node_port=8080), dict(min_replicas=5, max_replicas=2), dict(namespace="Bad_NS")])
def test_invalid_arguments_are_rejected(bad):
    with pytest.raises(Exception, match="w:"):
        _workload(**bad)


def test_the_hpa_owns_the_replica_count():
    deployment = one(render(), "kubernetes:apps/v1:Deployment")
    assert "replicas" not in deployment.inputs["spec"]
    assert deployment.ignore_changes == ["spec.replicas"]


def test_the_deployment_waits_for_gpu_nodes_and_the_device_plugin_and_allows_slow_rollouts():
    plan = render()
    deployment = one(plan, "kubernetes:apps/v1:Deployment")
    node_group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    plugin = one(plan, "kubernetes:apps/v1:DaemonSet")
    assert {node_group.urn, plugin.urn} <= set(deployment.dependencies)
    assert deployment.custom_timeouts == {"create": "30m", "update": "30m"}


def test_pulumi_waits_for_readiness_unless_the_images_are_in_a_new_mirror():
    plan = render()
    for type_ in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet"):
        assert "annotations" not in one(plan, type_).inputs["metadata"]
    skipping = _workload(skip_await=True, device_plugin_image=DEVICE_PLUGIN)
    for type_ in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet"):
        assert one(skipping, type_).inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


def test_a_model_source_gives_the_pods_read_access_to_that_prefix_only_and_tells_the_server():
    source = ModelSource(bucket_name="models-euw1", bucket_arn="arn:aws:s3:::models-euw1", prefix="approved/",
                         kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/models")
    plan = _workload(model_source=source, tags={"owner": "ml"})
    role = one(plan, "aws:iam/role:Role", "w-model-reader")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"] and "aws:SourceAccount" in json.dumps(trust)
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy", "w-model-reader").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ListModelPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["approved/*"]}}
    assert statements["ReadModelPrefix"]["Action"] == "s3:GetObject"
    assert statements["ReadModelPrefix"]["Resource"] == "arn:aws:s3:::models-euw1/approved/*"
    assert statements["DecryptModelsThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} \
        == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}  # reads only: no write, no delete
    # bound to the pods' own ServiceAccount, before the pods start
    association = one(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    account = one(plan, "kubernetes:core/v1:ServiceAccount")
    assert association.inputs["serviceAccount"] == account.inputs["metadata"]["name"] == "model-server"
    assert association.inputs["namespace"] == "inference" and association.inputs["roleArn"] == role.outputs["arn"]
    deployment = one(plan, "kubernetes:apps/v1:Deployment")
    assert association.urn in deployment.dependencies
    env = {e["name"]: e["value"] for e in deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODEL_BUCKET"] == "models-euw1" and env["MODEL_PREFIX"] == "approved/" and env["AWS_REGION"] == "eu-west-1"


def test_without_a_model_source_the_pods_get_no_aws_credentials():
    plan = _workload()
    assert not plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert not plan.of_type("aws:iam/role:Role") or all("model-reader" not in r.name for r in plan.of_type("aws:iam/role:Role"))
    env = one(plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    assert not {"MODEL_BUCKET", "MODEL_PREFIX"} & {e["name"] for e in env}
