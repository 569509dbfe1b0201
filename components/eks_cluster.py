"""An EKS control plane: private endpoint, encrypted secrets, audited, access entries only.

The cluster knows nothing of what runs on it (training or inference): node groups are
`components.node_group.NodeGroup`, workloads go through `k8s_provider`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._base import ASSUME_AND_TAG_SESSION, Component, StatefulOptions, merge_tags
from components.isolated_vpc import IsolatedVpc
from components.kms_key import KmsKey

# Every control-plane log type EKS can ship to CloudWatch.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# Add-ons that run as DaemonSets (or need no nodes to become ACTIVE), so they are installed with
# the control plane. CoreDNS is a Deployment: EKS reports it DEGRADED until a node exists, so it
# is installed by the node group that hosts it (NodeGroupArgs.cluster_addons).
NODELESS_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    vpc: IsolatedVpc
    """The VPC whose private subnets hold the control-plane ENIs (and, by convention, the nodes).
    Required."""
    kubernetes_version: str = "1.35"
    """Kubernetes minor version. Default 1.35 (in EKS standard support until 2027)."""
    public_access_cidrs: Sequence[str] = ()
    """CIDRs allowed to reach a public API endpoint. Default empty: no public endpoint at all
    (private only). Non-empty turns the public endpoint on with exactly this allowlist; the
    private endpoint stays on either way."""
    private_access_cidrs: Sequence[str] = ()
    """IPv4 networks outside the VPC (a CI runner VPC or a VPN reached through a Transit Gateway)
    whose HTTPS the cluster security group admits, so that they reach the private endpoint.
    0.0.0.0/0 is rejected. Default none: only the VPC itself (and the public allowlist, if any)."""
    secrets_kms_key: Optional[KmsKey] = None
    """CMK for envelope encryption of Kubernetes secrets (encryptionConfig). Default None: no
    envelope encryption (EKS still encrypts etcd volumes with an AWS-owned key)."""
    log_kms_key: Optional[KmsKey] = None
    """CMK for the control-plane log group. Default None: CloudWatch's service-owned encryption."""
    log_retention_days: int = 365
    """Control-plane log retention, one of CloudWatch's allowed values. Default 365."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the control-plane log group. Default: protected."""
    admin_role_arns: Sequence[pulumi.Input[str]] = ()
    """IAM principals given an access entry with AmazonEKSClusterAdminPolicy (cluster scope).
    Default none: the creator is NOT made admin either (bootstrap admin is off)."""
    provider_token: bool = False
    """Authenticate the cluster's Kubernetes provider with a token the component's AWS provider
    fetches (aws.eks.getClusterAuth), as the role that provider assumes, instead of `aws eks
    get-token` run with the ambient credentials. Needed where the provider assumes a role the
    ambient credentials cannot (a deploy role whose trust requires an external id, which
    `get-token --role-arn` cannot pass). A token lasts 15 minutes from when `pulumi up` fetches it,
    after the cluster exists: a Kubernetes phase longer than that fails and a rerun fetches a new
    one. Default off."""
    network_policy: bool = True
    """Turn on the VPC CNI's network policy agent, without which Kubernetes NetworkPolicies are
    accepted but not enforced. Default on."""
    addons: Sequence[str] = NODELESS_ADDONS
    """EKS add-ons installed with the control plane, at the version EKS defaults to for
    `kubernetes_version`. Default vpc-cni, kube-proxy, eks-pod-identity-agent (coredns needs
    nodes: see NodeGroupArgs.cluster_addons)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child."""


class EksCluster(Component):
    """Cluster IAM role + control-plane log group + EKS cluster (API auth mode, private endpoint,
    KMS-encrypted secrets) + OIDC provider + core add-ons + admin access entries + a Kubernetes
    provider for the cluster."""

    cluster: aws.eks.Cluster
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority_data: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    """The issuer with its scheme, `https://oidc.eks.<region>.amazonaws.com/id/<ID>`."""
    oidc_issuer: pulumi.Output[str]
    """The issuer without `https://`: the prefix of IAM condition keys (`<issuer>:sub`)."""
    cluster_security_group_id: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """A secret kubeconfig (JSON) that gets a token from `aws eks get-token`."""
    k8s_provider: k8s.Provider
    addons: dict[str, aws.eks.Addon]

    def __init__(self, name: str, args: EksClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("eks", "EksCluster", name, opts)
        if not _CLUSTER_NAME.match(name):
            raise ValueError(f"{name}: an EKS cluster name is 1-100 letters, digits, '-' or '_', starting alphanumeric")
        if not re.match(r"^1\.[0-9]{2}$", args.kubernetes_version):
            raise ValueError(f"{name}: kubernetes_version is a minor version such as 1.35, got {args.kubernetes_version!r}")
        for cidr in args.private_access_cidrs:
            try:
                network = ipaddress.IPv4Network(cidr)
            except ValueError:
                raise ValueError(f"{name}: private_access_cidrs: {cidr!r} is not an IPv4 CIDR block") from None
            if network.prefixlen == 0:
                raise ValueError(f"{name}: private_access_cidrs: {cidr} admits everyone; list the deployer networks")
        role, role_ready = self._create_role(args)
        # The name EKS writes control-plane logs to; created first so retention and the CMK apply
        # from the first log line (otherwise EKS creates it, unencrypted and kept forever).
        log_group = self.log_group(
            "control-plane-logs", f"/aws/eks/{name}/cluster", retention_days=args.log_retention_days,
            kms_key=args.log_kms_key, stateful=args.stateful, tags=args.tags)
        public = bool(args.public_access_cidrs)
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.vpc.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(args.public_access_cidrs) if public else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.secrets_kms_key.arn),
                resources=["secrets"],
            ) if args.secrets_kms_key else None,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            tags=merge_tags(name, args.tags),
            opts=self.child(depends_on=[log_group, *role_ready]),
        )
        self.cluster_name = self.cluster.name
        self.cluster_arn = self.cluster.arn
        self.endpoint = self.cluster.endpoint
        self.certificate_authority_data = self.cluster.certificate_authority.data
        self.oidc_issuer_url = self.cluster.identities[0].oidcs[0].issuer
        self.oidc_issuer = self.oidc_issuer_url.apply(lambda url: url.removeprefix("https://"))
        self.cluster_security_group_id = self.cluster.vpc_config.cluster_security_group_id
        # The EKS-created security group on the control-plane ENIs (the private endpoint).
        for i, cidr in enumerate(args.private_access_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-from-{i}",
                security_group_id=self.cluster_security_group_id,
                description=f"Kubernetes API (private endpoint) from {cidr}",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=cidr,
                tags=merge_tags(f"{name}-api-from-{i}", args.tags),
                opts=self.child(),
            )
        self.log_group_name = log_group.name
        self.log_group_arn = log_group.arn
        self.role_arn = role.arn

        # Thumbprints are left out: IAM fetches the issuer's top intermediate CA thumbprint itself
        # and, for the EKS OIDC issuer, validates against its own trusted CA library.
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.oidc_issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            tags=merge_tags(f"{name}-oidc", args.tags),
            opts=self.child(),
        )
        self.oidc_provider_arn = oidc.arn

        self.addons = {
            addon: eks_addon(
                f"{name}-addon-{addon}", self.cluster.name, addon, self.child(), tags=args.tags,
                configuration={"enableNetworkPolicy": "true"} if addon == "vpc-cni" and args.network_policy else None)
            for addon in args.addons
        }
        admin_access = self._create_admin_access(name, args)

        token = aws.eks.get_cluster_auth_output(name=self.cluster.name, opts=self.invoke_opts()).token \
            if args.provider_token else None
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.name, self.endpoint, self.certificate_authority_data, self.aws_region,
                              token).apply(lambda parts: _kubeconfig(*parts))
        )
        # Kubernetes calls wait for the admins' access policies (the deployer is usually one).
        self.k8s_provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                         opts=self.child(depends_on=admin_access))
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "cluster_arn": self.cluster_arn,
            "endpoint": self.endpoint,
            "certificate_authority_data": self.certificate_authority_data,
            "oidc_provider_arn": self.oidc_provider_arn,
            "oidc_issuer_url": self.oidc_issuer_url,
            "oidc_issuer": self.oidc_issuer,
            "cluster_security_group_id": self.cluster_security_group_id,
            "log_group_name": self.log_group_name,
            "log_group_arn": self.log_group_arn,
            "role_arn": self.role_arn,
            "kubeconfig": self.kubeconfig,
        })

    def _create_role(self, args: EksClusterArgs) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        role = self.service_role("cluster-role", "eks.amazonaws.com", tags=args.tags, actions=ASSUME_AND_TAG_SESSION)
        ready: list[pulumi.Resource] = [self.managed_policy("cluster-policy", role, "AmazonEKSClusterPolicy")]
        if args.secrets_kms_key is not None:
            # EKS calls KMS with the cluster role's credentials to wrap secret DEKs.
            ready.append(self.role_policy("cluster-secrets-key", role, [{
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants", "kms:CreateGrant"],
                "Resource": args.secrets_kms_key.arn,
            }]))
        return role, ready

    def _create_admin_access(self, name: str, args: EksClusterArgs) -> list[pulumi.Resource]:
        associations: list[pulumi.Resource] = []
        for i, principal in enumerate(args.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{i}",
                cluster_name=self.cluster.name,
                principal_arn=principal,
                type="STANDARD",
                tags=merge_tags(f"{name}-admin-{i}", args.tags),
                opts=self.child(),
            )
            associations.append(aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}-policy",
                cluster_name=self.cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=pulumi.Output.concat(
                    "arn:", self.aws_partition, ":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=self.child(),
            ))
        return associations


def eks_addon(resource_name: str, cluster_name: pulumi.Input[str], addon: str, opts: pulumi.ResourceOptions, *,
              tags: Optional[Mapping[str, str]], configuration: Optional[Mapping[str, Any]] = None,
              pod_identity_associations: Sequence[aws.eks.AddonPodIdentityAssociationArgs] = ()) -> aws.eks.Addon:
    """The EKS add-on `addon` (at the version EKS defaults to for the cluster) as `resource_name`:
    EKS overwrites conflicting fields on create and update (the add-on owns its objects).
    `configuration`: its configuration values (JSON); None: the add-on's defaults.
    `pod_identity_associations`: the IAM roles its service accounts get. Tagged Name=resource_name,
    then `tags`. Used by EksCluster, NodeGroup (add-ons that need nodes) and ContainerInsights."""
    return aws.eks.Addon(
        resource_name,
        cluster_name=cluster_name,
        addon_name=addon,
        configuration_values=json.dumps(dict(configuration), sort_keys=True) if configuration else None,
        pod_identity_associations=list(pod_identity_associations) or None,
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        tags=merge_tags(resource_name, tags),
        opts=opts,
    )


def _kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str, token: Optional[str] = None) -> str:
    """A kubeconfig that authenticates with the caller's AWS credentials (`aws eks get-token`),
    or with `token` where given (EksClusterArgs.provider_token)."""
    user: dict = {"token": token} if token else {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        "interactiveMode": "Never",
    }}
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": user}],
    }, sort_keys=True)
