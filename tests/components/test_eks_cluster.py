"""EksCluster: private API, encrypted secrets, every control-plane log, API-mode access entries."""

import functools
import json

import pytest

from blueprints.plan.engine import run_program
from components.eks_cluster import CONTROL_PLANE_LOG_TYPES, EksCluster, EksClusterArgs, _kubeconfig
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.kms_key import KmsKey, KmsKeyArgs

ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
DEPLOYER_CIDRS = ["10.100.0.0/16", "192.168.8.0/22"]


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


def _run(program):
    return run_program(program, stack="eks-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


@functools.lru_cache(maxsize=None)
def default_plan():
    return _run(lambda: EksCluster("plain", EksClusterArgs(vpc=IsolatedVpc("v", IsolatedVpcArgs()))))


@functools.lru_cache(maxsize=None)
def hardened_plan():
    def program():
        vpc = IsolatedVpc("v", IsolatedVpcArgs())
        secrets = KmsKey("secrets", KmsKeyArgs(description="eks secrets", grant_services=["eks"]))
        logs = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["logs"]))
        EksCluster("ml", EksClusterArgs(vpc=vpc, secrets_kms_key=secrets, log_kms_key=logs, log_retention_days=2557,
                                        admin_role_arns=[ADMIN], public_access_cidrs=["203.0.113.0/24"],
                                        private_access_cidrs=DEPLOYER_CIDRS))
    return _run(program)


def test_endpoint_is_private_only_by_default():
    vpc_config = one(default_plan(), "aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc_config
    subnets = [s.id for s in default_plan().of_type("aws:ec2/subnet:Subnet")]
    assert sorted(vpc_config["subnetIds"]) == sorted(subnets)


def test_public_endpoint_only_with_the_explicit_allowlist():
    vpc_config = one(hardened_plan(), "aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPublicAccess"] is True
    assert vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_deployer_networks_reach_the_private_endpoint_through_the_cluster_security_group():
    plan = hardened_plan()
    (component,) = plan.of_type("aiblueprints:eks:EksCluster")
    rules = [r for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.parent == component.urn]
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == sorted(DEPLOYER_CIDRS)
    for rule in rules:
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 443, 443)
    # The EKS-created cluster security group on the control-plane ENIs, not one of the VPC's.
    (group_id,) = {r.inputs["securityGroupId"] for r in rules}
    (vpc,) = plan.of_type("aws:ec2/vpc:Vpc")
    ours = {g.id for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup")} | {vpc.outputs["defaultSecurityGroupId"]}
    assert group_id.startswith("sg-") and group_id not in ours
    (default_component,) = default_plan().of_type("aiblueprints:eks:EksCluster")
    assert not [r for r in default_plan().of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                if r.parent == default_component.urn]


def test_default_kubernetes_version_is_in_standard_support():
    assert one(default_plan(), "aws:eks/cluster:Cluster").inputs["version"] == "1.35"


def test_access_entries_only_and_no_creator_admin():
    cluster = one(default_plan(), "aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"] == {"authenticationMode": "API",
                                              "bootstrapClusterCreatorAdminPermissions": False}
    assert not default_plan().of_type("aws:eks/accessEntry:AccessEntry")
    assert not [r for r in default_plan().resources if r.type == "kubernetes:core/v1:ConfigMap"]


def test_admin_roles_get_cluster_admin_policy():
    plan = hardened_plan()
    entry = one(plan, "aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["principalArn"] == ADMIN and entry.inputs["type"] == "STANDARD"
    association = one(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert association.inputs["accessScope"] == {"type": "cluster"}
    assert association.inputs["clusterName"] == "ml"


def test_secrets_are_envelope_encrypted_with_the_cmk_only_when_given():
    assert "encryptionConfig" not in one(default_plan(), "aws:eks/cluster:Cluster").inputs
    plan = hardened_plan()
    key = next(k for k in plan.of_type("aws:kms/key:Key") if k.name == "secrets-key")
    config = one(plan, "aws:eks/cluster:Cluster").inputs["encryptionConfig"]
    assert config == {"provider": {"keyArn": key.outputs["arn"]}, "resources": ["secrets"]}
    # The cluster role may use that key (EKS calls KMS with it) and nothing else.
    role_policy = json.loads(next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
                                  if p.name == "ml-cluster-secrets-key").inputs["policy"])
    (statement,) = role_policy["Statement"]
    assert statement["Resource"] == key.outputs["arn"]


def test_every_control_plane_log_goes_to_an_encrypted_group_created_first():
    plan = hardened_plan()
    cluster = one(plan, "aws:eks/cluster:Cluster")
    assert cluster.inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES) == [
        "api", "audit", "authenticator", "controllerManager", "scheduler"]
    group = next(g for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == "ml-control-plane-logs")
    assert cluster.inputs["name"] == "ml"
    assert group.inputs["name"] == "/aws/eks/ml/cluster"
    assert group.inputs["retentionInDays"] == 2557
    logs_key = next(k for k in plan.of_type("aws:kms/key:Key") if k.name == "logs-key")
    assert group.inputs["kmsKeyId"] == logs_key.outputs["arn"]
    assert group.urn in cluster.dependencies
    assert group.protect is True


def test_cluster_role_trusts_eks_with_the_cluster_policy():
    plan = default_plan()
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.name == "plain-cluster-role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "eks.amazonaws.com"}
    attachment = one(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
    cluster = one(plan, "aws:eks/cluster:Cluster")
    assert cluster.inputs["roleArn"] == role.outputs["arn"]
    assert attachment.urn in cluster.dependencies


def test_oidc_provider_trusts_the_cluster_issuer_for_sts():
    plan = default_plan()
    cluster = one(plan, "aws:eks/cluster:Cluster")
    oidc = one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"] == cluster.outputs["identities"][0]["oidcs"][0]["issuer"]
    assert oidc.inputs["url"].startswith("https://oidc.eks.eu-west-1.amazonaws.com/id/")
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_core_addons_that_need_no_nodes_are_installed():
    addons = {a.inputs["addonName"]: a for a in default_plan().of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "kube-proxy", "eks-pod-identity-agent"}
    assert all(a.inputs["clusterName"] == "plain" for a in addons.values())
    # Without the CNI's network policy agent, NetworkPolicies are accepted but never enforced.
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_kubernetes_provider_waits_for_the_admin_access_policies():
    plan = hardened_plan()
    association = one(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.urn in one(plan, "pulumi:providers:kubernetes").dependencies


def test_kubernetes_provider_is_a_child_with_a_secret_kubeconfig():
    plan = default_plan()
    component = one(plan, "aiblueprints:eks:EksCluster")
    provider = one(plan, "pulumi:providers:kubernetes")
    assert provider.parent == component.urn
    assert provider.inputs["kubeconfig"] == "[secret]"


def test_kubeconfig_uses_aws_eks_get_token_and_no_static_credentials():
    config = json.loads(_kubeconfig("ml", "https://X.gr7.eu-west-1.eks.amazonaws.com", "Q0E=", "eu-west-1"))
    (user,) = config["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "ml"]
    assert "token" not in user["user"]
    assert config["clusters"][0]["cluster"]["certificate-authority-data"] == "Q0E="


def test_every_child_uses_the_region_of_the_parent_provider():
    plan = default_plan()
    assert {plan.provider_region(r) for r in plan.of_type("aws:eks/cluster:Cluster")} == {"eu-west-1"}


@pytest.mark.parametrize("args, message", [
    (dict(log_retention_days=100), "log_retention_days must be one of"),
    (dict(kubernetes_version="latest"), "kubernetes_version is a minor version"),
    (dict(private_access_cidrs=["10.100.0.0/33"]), "not an IPv4 CIDR block"),
    (dict(private_access_cidrs=["0.0.0.0/0"]), "admits everyone"),
])
def test_invalid_arguments_are_rejected(args, message):
    with pytest.raises(Exception, match=message):
        _run(lambda: EksCluster("bad", EksClusterArgs(vpc=IsolatedVpc("v", IsolatedVpcArgs()), **args)))


def _kubeconfig_of(provider_token: bool) -> dict:
    seen: list[str] = []

    def program():
        cluster = EksCluster("ml", EksClusterArgs(vpc=IsolatedVpc("v", IsolatedVpcArgs()), provider_token=provider_token))
        cluster.kubeconfig.apply(seen.append)
    _run(program)
    return json.loads(seen[0])


def test_kubernetes_authenticates_as_the_providers_role_where_asked():
    """provider_token: a token fetched through the component's AWS provider (the role it assumes,
    with its external id) instead of `aws eks get-token` with the ambient credentials."""
    (user,) = _kubeconfig_of(provider_token=True)["users"]
    assert list(user["user"]) == ["token"] and user["user"]["token"].startswith("k8s-aws-v1.")
    (user,) = _kubeconfig_of(provider_token=False)["users"]
    assert user["user"]["exec"]["args"][:2] == ["eks", "get-token"]
