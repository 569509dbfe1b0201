"""The training blueprint, per tier, on the plans of the example stacks."""

import json

import pytest

from blueprints.context import BlueprintContext, region_code
from blueprints.plan.engine import ACCOUNT_ID
from policies.model import assumed_account
from blueprints.spec import parse_spec
from blueprints.tiers import TIERS
from blueprints.platform import AIR_GAP_INTERFACE_ENDPOINTS as TRAINING_INTERFACE_ENDPOINTS
from tests.conftest import ADDON_DIGESTS, STACKS, spec_config

# Example stack: (blueprint name, home region, GPU type, maxNodes, GPUs per node, EFA interfaces).
EXAMPLES = {
    "public": ("docs-assistant", "us-east-1", "g6e.12xlarge", 2, 4, 0),
    "internal": ("support-copilot", "us-east-2", "p4d.24xlarge", 2, 8, 4),
    "confidential": ("claims-triage", "eu-central-1", "p5.48xlarge", 2, 8, 32),
    "restricted": ("fraud-models", "eu-west-1", "p5.48xlarge", 4, 8, 32),
}
AIR_GAPPED = [t for t in EXAMPLES if TIERS[t].air_gapped]
WITH_EGRESS = [t for t in EXAMPLES if not TIERS[t].air_gapped]


def named(plan, type_, name):
    (resource,) = [r for r in plan.of_type(type_) if r.name == name]
    return resource


def component(plan, type_, name):
    return named(plan, f"aiblueprints:{type_}", name)


def under(plan, type_, name):
    """Resources inside a component."""
    return plan.descendants(component(plan, type_, name).urn)


# Deployer networks in the example stacks (deployerCidrs): private-only EKS APIs need them.
DEPLOYER_CIDRS = {"confidential": ["10.100.0.0/16"], "restricted": ["10.100.0.0/16"]}
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
AUTOSCALING_SLR = "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
MACIE_SLR = "macie.amazonaws.com/AWSServiceRoleForAmazonMacie"
MALWARE_SLR = "malware-protection.guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDutyMalwareProtection"


def training_account(plan):
    """The account training lives in: `accounts.training`, else the deploying account."""
    return plan.accounts.get("training", ACCOUNT_ID)


def key(plan, tier, domain):
    """The tier's CMK for a data domain in the training account (one shared "platform" key on a
    `cmk` tier; qualified `-trn` where the stack names accounts)."""
    name, region = EXAMPLES[tier][:2]
    domain = "platform" if TIERS[tier].keys == "cmk" else domain
    label = f"{domain}-trn" if plan.accounts else domain
    return named(plan, "aws:kms/key:Key", f"{name}-{label}-{region_code(region)}-key")


def key_arn(plan, tier, domain):
    return key(plan, tier, domain).outputs["arn"]


@pytest.fixture(params=list(EXAMPLES))
def tier(request):
    return request.param


# -- network ---------------------------------------------------------------------------

@pytest.mark.parametrize("tier", AIR_GAPPED)
def test_air_gapped_tiers_have_no_internet_gateway_or_nat(example_plan, tier):
    plan = example_plan(tier)
    assert not plan.of_type("aws:ec2/internetGateway:InternetGateway")
    assert not plan.of_type("aws:ec2/natGateway:NatGateway")


@pytest.mark.parametrize("tier", AIR_GAPPED)
def test_air_gapped_training_vpc_reaches_aws_only_through_every_endpoint(example_plan, tier):
    plan = example_plan(tier)
    name, region = EXAMPLES[tier][:2]
    endpoints = [r for r in under(plan, "network:IsolatedVpc", f"{name}-training") if r.type == "aws:ec2/vpcEndpoint:VpcEndpoint"]
    services = {(r.inputs["serviceName"].removeprefix(f"com.amazonaws.{region}."), r.inputs["vpcEndpointType"])
                for r in endpoints}
    # S3 twice: the gateway for the cluster, an interface endpoint for people (deployerCidrs are set).
    assert services == {*((s, "Interface") for s in TRAINING_INTERFACE_ENDPOINTS), ("s3", "Gateway"), ("s3", "Interface")}
    assert {"ecr.api", "ecr.dkr", "ec2", "sts", "logs", "eks", "eks-auth", "kms", "ssm", "ssmmessages", "ec2messages",
            "elasticloadbalancing", "autoscaling", "monitoring"} <= {s for s, _ in services}


@pytest.mark.parametrize("tier", WITH_EGRESS)
def test_cheaper_tiers_give_the_training_vpc_nat_egress(example_plan, tier):
    plan = example_plan(tier)
    inside = under(plan, "network:IsolatedVpc", f"{EXAMPLES[tier][0]}-training")
    assert [r for r in inside if r.type == "aws:ec2/natGateway:NatGateway"]
    assert [r for r in inside if r.type == "aws:ec2/internetGateway:InternetGateway"]


@pytest.mark.parametrize("tier, expected", [
    ("public", 1),  # one NAT gateway per VPC, cost first
    ("internal", 3),  # one per AZ, zone-independent egress
])
def test_nat_gateways_per_vpc_follow_the_tiers_default(render, tier, expected):
    """(`natGateways` choosing otherwise: test_quotas renders public per-az.)"""
    plan = render(tier, {"inference": {"enabled": False}})
    inside = under(plan, "network:IsolatedVpc", f"demo-{tier}-training")
    assert len([r for r in inside if r.type == "aws:ec2/natGateway:NatGateway"]) == expected
    assert len([r for r in inside if r.type == "aws:ec2/eip:Eip"]) == expected
    assert len([r for r in inside if r.type == "aws:ec2/route:Route" and "natGatewayId" in r.inputs]) == 3


# -- cluster and nodes -----------------------------------------------------------------

def test_cluster_endpoint_and_secrets_encryption_follow_the_tier(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    cluster = named(plan, "aws:eks/cluster:Cluster", f"{name}-training-cluster")
    vpc_config = cluster.inputs["vpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    expected_public = {"public": ["203.0.113.0/24"], "internal": ["198.51.100.0/24"]}.get(tier)
    assert vpc_config["endpointPublicAccess"] is bool(expected_public)
    assert vpc_config.get("publicAccessCidrs") == expected_public
    if TIERS[tier].cmk:
        assert cluster.inputs["encryptionConfig"] == {"provider": {"keyArn": key_arn(plan, tier, "compute")},
                                                      "resources": ["secrets"]}
    else:
        assert "encryptionConfig" not in cluster.inputs
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"


def test_deployer_networks_reach_every_cluster_api_through_the_cluster_security_group(example_plan, tier):
    plan = example_plan(tier)
    name, *_, efa = EXAMPLES[tier]
    clusters = plan.of_type("aiblueprints:eks:EksCluster")
    assert len(clusters) >= 2  # training and inference
    for cluster in clusters:
        rules = [r for r in plan.of_type(SG_INGRESS) if r.parent == cluster.urn]
        assert [r.inputs["cidrIpv4"] for r in rules] == DEPLOYER_CIDRS.get(tier, [])
        assert all((r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", 443, 443) for r in rules)
        (eks,) = [c for c in plan.children(cluster.urn) if c.type == "aws:eks/cluster:Cluster"]
        assert {r.inputs["securityGroupId"] for r in rules} <= {eks.outputs["vpcConfig"]["clusterSecurityGroupId"]}
    if efa and tier in DEPLOYER_CIDRS:
        # The EFA interfaces carry the EKS cluster security group (first, then the EFA group): the
        # rules land on that group.
        template = named(plan, "aws:ec2/launchTemplate:LaunchTemplate", f"{name}-training-gpu-lt")
        (cluster_sg,) = {i["securityGroups"][0] for i in template.inputs["networkInterfaces"]}
        training = component(plan, "eks:EksCluster", f"{name}-training")
        assert {r.inputs["securityGroupId"] for r in plan.of_type(SG_INGRESS) if r.parent == training.urn} == {cluster_sg}


def test_cluster_autoscaler_follows_the_cluster_minor_version(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    version = named(plan, "aws:eks/cluster:Cluster", f"{name}-training-cluster").inputs["version"]
    assert version == "1.35"
    deployment = named(plan, "kubernetes:apps/v1:Deployment", f"{name}-training-autoscaler-deployment")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert f"/cluster-autoscaler:v{version}.0" in container["image"]  # and `@sha256:` where known


@pytest.mark.parametrize("tier, admin_cidrs, expected", [
    ("public", [], ("0.0.0.0/0",)),
    ("public", ["203.0.113.0/24"], ("203.0.113.0/24",)),
    ("internal", [], ()),
    ("internal", ["198.51.100.0/24"], ("198.51.100.0/24",)),
    ("confidential", [], ()),
    ("restricted", [], ()),
])
def test_public_endpoint_allowlist_per_tier(tier, admin_cidrs, expected):
    spec = parse_spec(spec_config(tier, {"adminCidrs": admin_cidrs}), region="eu-west-1", token_is_secret=False)
    assert BlueprintContext(spec).eks_public_access_cidrs() == expected


def test_control_plane_logs_keep_the_tiers_retention_and_reach_the_siem(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    group = named(plan, "aws:cloudwatch/logGroup:LogGroup", f"{name}-training-control-plane-logs")
    assert group.inputs["name"] == f"/aws/eks/{name}-training/cluster"
    assert group.inputs["retentionInDays"] == TIERS[tier].log_retention_days
    assert group.protect is TIERS[tier].protect_stateful
    shipped = {f.inputs["logGroup"] for f in plan.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")}
    assert (group.inputs["name"] in shipped) is TIERS[tier].ships("eks-audit")


def test_gpu_nodes_nvidia_ami_capacity_and_efa(example_plan, tier):
    plan = example_plan(tier)
    name, _, gpu_type, max_nodes, _, efa = EXAMPLES[tier]
    nodes = named(plan, "aws:eks/nodeGroup:NodeGroup", f"{name}-training-gpu-nodes")
    assert nodes.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert nodes.inputs["instanceTypes"] == [gpu_type]
    assert nodes.inputs["scalingConfig"] == {"minSize": 0, "maxSize": max_nodes, "desiredSize": 0}
    # The examples ask for spot wherever the tier allows it for training.
    assert nodes.inputs["capacityType"] == {"restricted": "ON_DEMAND"}.get(tier, "SPOT")
    assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"} in nodes.inputs["taints"]
    template = named(plan, "aws:ec2/launchTemplate:LaunchTemplate", f"{name}-training-gpu-lt")
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert len(template.inputs.get("networkInterfaces", [])) == efa
    groups = [r for r in under(plan, "eks:NodeGroup", f"{name}-training-gpu") if r.type == "aws:ec2/placementGroup:PlacementGroup"]
    assert [g.inputs["strategy"] for g in groups] == (["cluster"] if efa else [])
    (volume,) = template.inputs["blockDeviceMappings"]
    assert volume["ebs"]["encrypted"] == "true"
    assert volume["ebs"].get("kmsKeyId") == (key_arn(plan, tier, "compute") if TIERS[tier].cmk else None)


SG = "aws:ec2/securityGroup:SecurityGroup"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CA = "k8s.io/cluster-autoscaler/node-template/"


def rules_on(plan, group_id):
    """(direction, protocol, other group or CIDR, from port, to port) of a group's separate rules."""
    return {(("in" if r.type == SG_INGRESS else "out"), r.inputs["ipProtocol"],
             r.inputs.get("referencedSecurityGroupId") or r.inputs.get("cidrIpv4"),
             r.inputs.get("fromPort"), r.inputs.get("toPort"))
            for t in (SG_INGRESS, SG_EGRESS) for r in plan.of_type(t) if r.inputs["securityGroupId"] == group_id}


def test_efa_interfaces_carry_a_group_open_to_itself_in_both_directions(example_plan, tier):
    """EFA (SRD) traffic only matches rules that reference a security group: every EFA interface
    needs a group with all-traffic ingress and egress to itself, or NCCL between nodes fails."""
    plan = example_plan(tier)
    name, *_, efa = EXAMPLES[tier]
    groups = [g for g in plan.of_type(SG) if g.name == f"{name}-training-gpu-efa-sg"]
    if not efa:
        assert not groups
        return
    (group,) = groups
    assert rules_on(plan, group.id) == {("in", "-1", group.id, None, None), ("out", "-1", group.id, None, None)}
    assert group.inputs["vpcId"] == named(plan, "aws:ec2/vpc:Vpc", f"{name}-training-vpc").id
    template = named(plan, "aws:ec2/launchTemplate:LaunchTemplate", f"{name}-training-gpu-lt")
    cluster_group = named(plan, "aws:eks/cluster:Cluster", f"{name}-training-cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert {tuple(i["securityGroups"]) for i in template.inputs["networkInterfaces"]} == {(cluster_group, group.id)}


def test_the_autoscaler_can_scale_the_gpu_nodes_up_from_zero(example_plan, tier):
    """The GPU node group starts at zero: its Auto Scaling group carries the node template
    (labels, the GPU taint, GPUs and EFA interfaces) that managed node groups do not copy."""
    plan = example_plan(tier)
    name, _, gpu_type, _, gpus, efa = EXAMPLES[tier]
    nodes = named(plan, "aws:eks/nodeGroup:NodeGroup", f"{name}-training-gpu-nodes")
    asg = nodes.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    tags = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in plan.of_type("aws:autoscaling/tag:Tag")
            if t.inputs["autoscalingGroupName"] == asg}
    assert tags == {
        f"{CA}label/workload": "training",
        f"{CA}label/nvidia.com/gpu.present": "true",
        f"{CA}taint/nvidia.com/gpu": "true:NoSchedule",
        f"{CA}resources/nvidia.com/gpu": str(gpus),
        **({f"{CA}label/vpc.amazonaws.com/efa.present": "true", f"{CA}resources/vpc.amazonaws.com/efa": str(efa)}
           if efa else {}),
    }
    # The system nodes never go below two: nothing to tell the autoscaler.
    system = named(plan, "aws:eks/nodeGroup:NodeGroup", f"{name}-training-system-nodes")
    system_asg = system.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    assert not [t for t in plan.of_type("aws:autoscaling/tag:Tag") if t.inputs["autoscalingGroupName"] == system_asg]


def test_lustre_and_its_clients_admit_each_other_on_the_lustre_ports(example_plan, tier):
    """FSx for Lustre servers connect back to their clients: the nodes' (cluster) security group
    must admit 988 and 1018-1023 from the file system's group, and the file system's group the
    nodes' group (FSx for Lustre guide, "File system access control with Amazon VPC")."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    fs_group = named(plan, SG, f"{name}-training-lustre-sg").id
    cluster_group = named(plan, "aws:eks/cluster:Cluster", f"{name}-training-cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    lustre = {(d, "tcp", other, low, high) for d in ("in", "out") for other in (fs_group, cluster_group)
              for low, high in ((988, 988), (1018, 1023))}
    assert rules_on(plan, fs_group) == lustre
    assert lustre <= rules_on(plan, cluster_group)


def test_gpu_nodes_go_to_the_chosen_availability_zone(render):
    """training.availabilityZone is the training VPC's first zone (any zone of the home region,
    not only the first three) and the GPU nodes' (and so the placement group's) only subnet;
    without it the VPC spans the first available zones and EFA nodes use the first.
    (Training-only stacks: inference plays no part.)"""
    def training_only(tier: str, training: dict):
        # (no training key at all: the render test_diagram.py shares)
        return render(tier, {**({"training": training} if training else {}), "inference": {"enabled": False}})

    def zones(plan, tier: str) -> list[str]:
        return [named(plan, "aws:ec2/subnet:Subnet", f"demo-{tier}-training-private-{i}").inputs["availabilityZone"]
                for i in range(3)]

    # The zones are the tier's business nowhere: the (cheaper) public renders serve.
    for zone, spanned in ((None, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
                          ("eu-west-1d", ["eu-west-1d", "eu-west-1a", "eu-west-1b"])):
        plan = training_only("public", {"availabilityZone": zone} if zone else {})
        assert zones(plan, "public") == spanned
        nodes = named(plan, "aws:eks/nodeGroup:NodeGroup", "demo-public-training-gpu-nodes")
        assert nodes.inputs["subnetIds"] == [named(plan, "aws:ec2/subnet:Subnet", "demo-public-training-private-0").id]
    # A non-EFA type spreads over every AZ unless a zone is chosen.
    g6 = training_only("public", {"gpuInstanceType": "g6e.12xlarge"})
    assert len(named(g6, "aws:eks/nodeGroup:NodeGroup", "demo-public-training-gpu-nodes").inputs["subnetIds"]) == 3
    pinned = training_only("public", {"gpuInstanceType": "g6e.12xlarge", "availabilityZone": "eu-west-1c"})
    assert zones(pinned, "public") == ["eu-west-1c", "eu-west-1a", "eu-west-1b"]
    assert named(pinned, "aws:eks/nodeGroup:NodeGroup", "demo-public-training-gpu-nodes").inputs["subnetIds"] == [
        named(pinned, "aws:ec2/subnet:Subnet", "demo-public-training-private-0").id]
    public_nat = named(pinned, "aws:ec2/subnet:Subnet", "demo-public-training-public-0")
    assert public_nat.inputs["availabilityZone"] == "eu-west-1c"  # NAT subnets follow the same zones


def test_a_small_on_demand_system_node_group_hosts_coredns(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    nodes = named(plan, "aws:eks/nodeGroup:NodeGroup", f"{name}-training-system-nodes")
    assert nodes.inputs["amiType"] == "AL2023_x86_64_STANDARD" and nodes.inputs["capacityType"] == "ON_DEMAND"
    assert nodes.inputs["scalingConfig"]["minSize"] == 2
    coredns = named(plan, "aws:eks/addon:Addon", f"{name}-training-system-addon-coredns")
    assert nodes.urn in coredns.dependencies


# -- images ----------------------------------------------------------------------------

def test_private_repositories_hold_every_image_the_cluster_runs(example_plan, tier):
    plan = example_plan(tier)
    name, region, *_, efa = EXAMPLES[tier]
    repos = {r.inputs["name"]: r for r in plan.of_type("aws:ecr/repository:Repository")
             if r.inputs["name"].startswith(f"{name}/training/")}
    expected = {"trainer", "nvidia-device-plugin", "cluster-autoscaler"} | ({"efa-device-plugin"} if efa else set())
    assert set(repos) == {f"{name}/training/{image}" for image in expected}
    for repo in repos.values():
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        expected_encryption = ({"encryptionType": "KMS", "kmsKey": key_arn(plan, tier, "models")} if TIERS[tier].cmk
                               else {"encryptionType": "AES256"})
        assert repo.inputs["encryptionConfigurations"] == [expected_encryption]
    images = {d.inputs["metadata"]["name"]: d.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
              for d in plan.of_type("kubernetes:apps/v1:DaemonSet")
              if "device-plugin" in d.inputs["metadata"]["name"] and "-training-" in d.name}
    assert images["nvidia-device-plugin"].startswith(repos[f"{name}/training/nvidia-device-plugin"].outputs["repositoryUrl"] + ":")
    assert ("aws-efa-k8s-device-plugin" in images) is bool(efa)


# -- storage ---------------------------------------------------------------------------

def _bucket_policy(plan, bucket_component):
    return json.loads(named(plan, "aws:s3/bucketPolicy:BucketPolicy", f"{bucket_component}-policy").inputs["policy"])


def test_air_gapped_buckets_serve_objects_only_through_the_training_vpc_endpoint(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    gateway = named(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", f"{name}-training-s3-gateway")
    for bucket in (f"{name}-training-data", f"{name}-models"):
        try:
            statements = _bucket_policy(plan, bucket)["Statement"]
        except ValueError:
            statements = []  # no policy at all on the public tier
        denies = [s for s in statements if s.get("Sid") == "DenyObjectAccessOutsideTrainingVpc"]
        if not TIERS[tier].air_gapped:
            assert not denies
            continue
        (deny,) = denies
        arn = named(plan, "aws:s3/bucket:Bucket", bucket).outputs["arn"]
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Resource"] == f"{arn}/*"
        # The gateway (the cluster) and the interface endpoint (people; deployerCidrs are set).
        people = named(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", f"{name}-training-s3-interface")
        assert deny["Condition"]["StringNotEquals"]["aws:SourceVpce"] == [gateway.id, people.id]
        assert "s3:GetObject" in deny["Action"] and "s3:PutObject" in deny["Action"]
        assert not [a for a in deny["Action"] if a.startswith("s3:PutBucket") or a == "s3:*"]


# -- people's path to air-gapped data -----------------------------------------------------

INTERFACE_S3 = "demo-restricted-training-s3-interface"


def _training_only(render, tier: str = "restricted", **top):
    return render(tier, {"inference": {"enabled": False}, **top})


def _deny_endpoints(plan, bucket: str):
    (deny,) = [s for s in _bucket_policy(plan, bucket)["Statement"] if s.get("Sid") == "DenyObjectAccessOutsideTrainingVpc"]
    return deny["Condition"]["StringNotEquals"]["aws:SourceVpce"]


def test_people_reach_air_gapped_buckets_through_an_s3_interface_endpoint_from_their_networks(render):
    """The gateway endpoint serves only the VPC; people come over the Transit Gateway / VPN to an
    interface endpoint that the bucket policy names and that admits HTTPS from
    training.dataAccessCidrs only (not from deployerCidrs once it is set, not from the VPC)."""
    plan = _training_only(render, deployerCidrs=["10.100.0.0/16"], training={"dataAccessCidrs": ["10.200.0.0/16"]})
    people = named(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", INTERFACE_S3)
    assert people.inputs["vpcEndpointType"] == "Interface" and people.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    vpc = named(plan, "aws:ec2/vpc:Vpc", "demo-restricted-training-vpc")
    assert people.inputs["vpcId"] == vpc.id
    (group,) = people.inputs["securityGroupIds"]
    assert [(r.inputs["cidrIpv4"], r.inputs["fromPort"], r.inputs["toPort"]) for r in plan.of_type(SG_INGRESS)
            if r.inputs["securityGroupId"] == group] == [("10.200.0.0/16", 443, 443)]
    gateway = named(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", "demo-restricted-training-s3-gateway")
    buckets = [named(plan, "aws:s3/bucket:Bucket", b).outputs["arn"] for b in ("demo-restricted-training-data",
                                                                               "demo-restricted-models")]
    for bucket in ("demo-restricted-training-data", "demo-restricted-models"):
        assert _deny_endpoints(plan, bucket) == [gateway.id, people.id]
    # Its endpoint policy: this account's principals, to these two buckets only.
    (statement,) = json.loads(people.inputs["policy"])["Statement"]
    assert sorted(statement["Resource"]) == sorted([*buckets, *(f"{b}/*" for b in buckets)])
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": training_account(plan)}}


def test_without_people_networks_there_is_no_interface_endpoint_and_only_the_gateway_is_named(render):
    """No deployerCidrs and no training.dataAccessCidrs (the base config): no people path.
    (Which networks the spec resolves to is test_spec's.)"""
    plan = _training_only(render, training={})
    assert not [e for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.name == INTERFACE_S3]
    gateway = named(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", "demo-restricted-training-s3-gateway")
    assert _deny_endpoints(plan, "demo-restricted-models") == gateway.id


def test_tiers_with_nat_need_no_s3_interface_endpoint(render):
    plan = _training_only(render, "internal")
    assert not [e for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["vpcEndpointType"] == "Interface"]


def test_engineers_load_data_and_approvers_promote_models_with_the_object_actions_the_endpoint_carries(render):
    from blueprints.training import VPCE_ONLY_ACTIONS

    plan = _training_only(render, deployerCidrs=["10.100.0.0/16"], training={"dataAccessCidrs": ["10.200.0.0/16"]})
    data = named(plan, "aws:s3/bucket:Bucket", "demo-restricted-training-data").outputs["arn"]
    models = named(plan, "aws:s3/bucket:Bucket", "demo-restricted-models").outputs["arn"]

    def grants(role: str) -> set:
        policy = named(plan, "aws:iam/rolePolicy:RolePolicy", f"demo-restricted-training-{role}-policy")
        return {(a, r) for st in json.loads(policy.inputs["policy"])["Statement"] if st["Effect"] == "Allow"
                for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
                for r in ([st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"])}

    assert ("s3:PutObject", f"{data}/*") in grants("ml-engineer")
    assert ("s3:GetObject", f"{models}/candidates/*") in grants("approver")
    assert ("s3:PutObject", f"{models}/approved/*") in grants("approver")
    assert {"s3:GetObject", "s3:PutObject"} <= set(VPCE_ONLY_ACTIONS)  # so only through the endpoints


def test_lustre_is_persistent_2_encrypted_and_linked_to_both_buckets(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    fs = named(plan, "aws:fsx/lustreFileSystem:LustreFileSystem", f"{name}-training-lustre-fs")
    assert fs.inputs["deploymentType"] == "PERSISTENT_2"
    assert fs.inputs["perUnitStorageThroughput"] in (125, 250, 500, 1000)
    assert fs.inputs.get("kmsKeyId") == (key_arn(plan, tier, "training-data") if TIERS[tier].cmk else None)
    assert fs.protect is TIERS[tier].protect_stateful
    assert fs.retain_on_delete is TIERS[tier].retain_on_delete
    private = named(plan, "aws:ec2/subnet:Subnet", f"{name}-training-private-0")
    assert fs.inputs["subnetIds"] == private.id
    links = {r.inputs["fileSystemPath"]: r.inputs["dataRepositoryPath"]
             for r in plan.of_type("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation")}
    assert links == {"/data": f"s3://{named(plan, 'aws:s3/bucket:Bucket', f'{name}-training-data').outputs['bucket']}/",
                     "/models": f"s3://{named(plan, 'aws:s3/bucket:Bucket', f'{name}-models').outputs['bucket']}/"}


def test_ebs_is_encrypted_by_default_in_the_training_region(example_plan, tier):
    plan = example_plan(tier)
    name, region = EXAMPLES[tier][:2]
    default = named(plan, "aws:ebs/encryptionByDefault:EncryptionByDefault", f"{name}-ebs-encryption-{region_code(region)}")
    assert default.inputs["enabled"] is True and plan.provider_region(default) == region
    keys = plan.of_type("aws:ebs/defaultKmsKey:DefaultKmsKey")
    assert [k.inputs["keyArn"] for k in keys] == ([key_arn(plan, tier, "compute")] if TIERS[tier].cmk else [])


def service_linked_roles(plan, tier, domain):
    """The service-linked roles a key policy admits, each by aws:PrincipalArn under a wildcard
    principal held to the account (KMS rejects a named principal that does not exist yet)."""
    statements = json.loads(key(plan, tier, domain).inputs["policy"])["Statement"]
    roles = set()
    for statement in statements:
        assert "aws-service-role" not in json.dumps(statement["Principal"])
        if statement["Principal"] == {"AWS": "*"}:
            assert statement["Condition"]["StringEquals"] == {"aws:PrincipalAccount": training_account(plan)}
            roles.add(statement["Condition"]["ArnLike"]["aws:PrincipalArn"].split(":role/aws-service-role/")[1])
    return roles


def test_keys_admit_the_service_linked_roles_of_the_tiers_services(example_plan, tier):
    plan = example_plan(tier)
    t = TIERS[tier]
    if not t.cmk:
        # AWS managed keys for training; the only CMKs are those a service requires (the
        # alarm topics), and none of them needs a service-linked role.
        keys = plan.of_type("aws:kms/key:Key")
        assert keys and all("-logs-" in k.name for k in keys)
        assert all("aws-service-role" not in k.inputs["policy"] for k in keys)
        return
    compute = service_linked_roles(plan, tier, "compute")
    data = service_linked_roles(plan, tier, "training-data")
    assert AUTOSCALING_SLR in compute  # launches the encrypted node volumes
    assert (MALWARE_SLR in compute) is t.guardduty_s3_malware  # scans them
    assert (MACIE_SLR in data) is t.macie  # classifies the training data
    # Only the shared platform key of a `cmk` tier carries them beyond those two domains.
    assert service_linked_roles(plan, tier, "logs") == (compute if t.keys == "cmk" else set())


def test_stateful_storage_is_protected_where_the_tier_says(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    for bucket in (f"{name}-training-data", f"{name}-models"):
        resource = named(plan, "aws:s3/bucket:Bucket", bucket)
        assert resource.protect is TIERS[tier].protect_stateful
        assert resource.retain_on_delete is TIERS[tier].retain_on_delete
    locks = [r for r in plan.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
             if r.name == f"{name}-models-object-lock"]
    assert bool(locks) is TIERS[tier].s3_object_lock


# -- Kubernetes ------------------------------------------------------------------------

def test_kubernetes_layer_on_the_training_cluster(example_plan, tier):
    plan = example_plan(tier)
    name, _, _, max_nodes, gpus, _ = EXAMPLES[tier]
    provider = named(plan, "pulumi:providers:kubernetes", f"{name}-training-k8s")
    inside = [r for r in under(plan, "k8s:TrainingNamespace", f"{name}-training-k8s") if r.type.startswith("kubernetes:")]
    assert inside and all(r.provider.startswith(provider.urn) for r in inside)
    by_kind = {}
    for r in inside:
        by_kind.setdefault(r.type.rsplit(":", 1)[-1], []).append(r)
    (namespace,) = by_kind["Namespace"]
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (quota,) = by_kind["ResourceQuota"]
    assert quota.inputs["spec"]["hard"] == {"requests.nvidia.com/gpu": str(max_nodes * gpus)}
    assert by_kind["LimitRange"]
    policies = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in by_kind["NetworkPolicy"]}
    assert policies["default-deny"]["policyTypes"] == ["Ingress", "Egress"]
    vpc_cidr = named(plan, "aws:ec2/vpc:Vpc", f"{name}-training-vpc").inputs["cidrBlock"]
    # HTTPS anywhere: S3 through the gateway endpoint answers on S3's public ranges; routing keeps
    # air-gapped VPCs on their endpoints.
    assert policies["allow-https"]["egress"] == [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                                 "ports": [{"protocol": "TCP", "port": 443}]}]
    assert policies["allow-pod-identity-agent"]["egress"] == [{"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}],
                                                              "ports": [{"protocol": "TCP", "port": 80}]}]
    assert policies["allow-lustre"]["egress"][0]["to"] == [{"ipBlock": {"cidr": vpc_cidr}}]
    assert {"allow-dns", "allow-within-namespace"} <= set(policies)
    (binding,) = by_kind["RoleBinding"]
    assert binding.inputs["subjects"][0]["name"] == "fine-tune-operators"
    (cluster_binding,) = by_kind["ClusterRoleBinding"]
    assert cluster_binding.inputs["subjects"][0]["name"] == "auditors"


def test_iam_roles_are_mapped_to_kubernetes_groups(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    roles = {r.inputs["name"].removeprefix(f"{name}-training-"): r for r in under(plan, "iam:IamRoles", f"{name}-training")
             if r.type == "aws:iam/role:Role"}
    assert set(roles) == {"ml-engineer", "fine-tune-operator", "approver", "auditor"}
    entries = {e.inputs["principalArn"]: e.inputs.get("kubernetesGroups") for e in plan.of_type("aws:eks/accessEntry:AccessEntry")
               if e.inputs["clusterName"] == f"{name}-training"}
    assert entries[roles["fine-tune-operator"].outputs["arn"]] == ["fine-tune-operators"]
    assert entries[roles["auditor"].outputs["arn"]] == ["auditors"]
    assert roles["ml-engineer"].outputs["arn"] not in entries  # engineers act only through the operator role


def test_people_need_mfa_and_stay_inside_the_boundary(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    inside = under(plan, "iam:IamRoles", f"{name}-training")
    (boundary,) = [r for r in inside if r.type == "aws:iam/policy:Policy"]
    roles = {r.inputs["name"].removeprefix(f"{name}-training-"): r for r in inside if r.type == "aws:iam/role:Role"}
    for key, role in roles.items():
        assert role.inputs["permissionsBoundary"] == boundary.outputs["arn"]
        (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        if key == "fine-tune-operator":
            assert trust["Principal"] == {"AWS": roles["ml-engineer"].outputs["arn"]}
        else:
            assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    allowed = {a for s in json.loads(boundary.inputs["policy"])["Statement"] for a in
               ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not [a for a in allowed if a.endswith(":*") or a.startswith(("iam:", "s3:Delete", "s3:PutBucket"))]


# -- DLP -------------------------------------------------------------------------------

def test_macie_classifies_the_training_data_where_the_tier_says(example_plan, tier):
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    jobs = plan.of_type("aws:macie2/classificationJob:ClassificationJob")
    if not TIERS[tier].macie:
        assert not jobs and not plan.of_type("aws:macie2/account:Account")
        return
    (job,) = jobs
    bucket = named(plan, "aws:s3/bucket:Bucket", f"{name}-training-data").outputs["bucket"]
    assert job.inputs["s3JobDefinition"]["bucketDefinitions"] == [{"accountId": training_account(plan), "buckets": [bucket]}]
    assert job.inputs["jobType"] == "SCHEDULED"


def test_everything_in_training_lives_in_the_home_region(example_plan, tier):
    plan = example_plan(tier)
    name, region = EXAMPLES[tier][:2]
    training = [r for r in plan.resources if r.custom and r.name.startswith(f"{name}-training")
                and not r.type.startswith(("pulumi:providers:", "kubernetes:"))]
    assert training and {plan.provider_region(r) for r in training} == {region}


def test_workloads_on_freshly_created_mirrors_are_not_awaited(example_plan, tier):
    """The training images live in repositories this stack creates, empty on the first run:
    the device plugins and the autoscaler must not hold `pulumi up` waiting for readiness."""
    plan = example_plan(tier)
    workloads = [r for r in plan.resources if r.type in ("kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:Deployment")
                 and "-training-" in r.name]
    assert workloads
    for w in workloads:
        assert w.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}, w.name


# -- accounts and model promotion ------------------------------------------------------------
SEPARATE_ACCOUNTS = [t for t in EXAMPLES if TIERS[t].separate_accounts]
ONE_ACCOUNT = [t for t in EXAMPLES if not TIERS[t].separate_accounts]
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


def account_of(plan, resource):
    """The account whose deploy role the resource's provider assumes ("" for the deploying account)."""
    providers = {f"{p.urn}::{p.id}": p for p in plan.resources if p.type.startswith("pulumi:providers:aws")}
    provider = providers.get(resource.provider)
    return assumed_account(provider.inputs) if provider is not None else ""


def top_level(plan):
    """Each resource's top-level ancestor (a child of the stack), by URN."""
    by_urn = plan.by_urn()
    stack = next(r.urn for r in plan.resources if r.type == "pulumi:pulumi:Stack")
    tops = {}
    for r in plan.resources:
        current = r
        while current.parent and current.parent != stack and current.parent in by_urn:
            current = by_urn[current.parent]
        tops[r.urn] = current
    return tops


def is_training(name: str, blueprint: str) -> bool:
    """A top-level part the training blueprint builds: the cluster, VPC, node groups, mirrors,
    Lustre, roles, Kubernetes layer (`<name>-training*`), the model bucket, EBS defaults, and
    the training account's keys and access-log buckets (`-trn-`)."""
    return (name.startswith((f"{blueprint}-training", f"{blueprint}-ebs-")) or name == f"{blueprint}-models"
            or "-trn-" in name)


@pytest.mark.parametrize("tier", SEPARATE_ACCOUNTS)
def test_training_lives_in_the_training_account(example_plan, tier):
    """Every AWS resource of the training VPC, cluster, buckets, Lustre, ECR mirrors, keys and
    roles is registered with a provider that assumes the deploy role in accounts.training."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    tops = top_level(plan)
    training = [r for r in plan.resources if r.custom and r.type.startswith("aws:")
                and is_training(tops[r.urn].name, name)]
    kinds = {r.type for r in training}
    assert {"aws:ec2/vpc:Vpc", "aws:eks/cluster:Cluster", "aws:s3/bucket:Bucket", "aws:fsx/lustreFileSystem:LustreFileSystem",
            "aws:ecr/repository:Repository", "aws:kms/key:Key", "aws:iam/role:Role"} <= kinds
    assert {r.name: account_of(plan, r) for r in training} == {r.name: plan.accounts["training"] for r in training}


def promotion(plan, tier):
    """(training model bucket, its replication config, {region: inference model bucket})."""
    name = EXAMPLES[tier][0]
    source = named(plan, "aws:s3/bucket:Bucket", f"{name}-models")
    (config,) = [c for c in plan.of_type(REPLICATION) if c.inputs["bucket"] == source.id]
    replicas = {region: named(plan, "aws:s3/bucket:Bucket", f"{name}-inf-{region_code(region)}-models")
                for region in inference_regions(tier)}
    return source, config, replicas


def inference_regions(tier):
    """`inference.regions` of the tier's example stack."""
    import yaml

    from tests.conftest import STACKS
    doc = yaml.safe_load((STACKS / f"Pulumi.{tier}-example.yaml").read_text())
    return doc["config"]["ai-blueprints:blueprint"]["inference"]["regions"]


@pytest.mark.parametrize("tier", SEPARATE_ACCOUNTS)
def test_approved_models_replicate_into_the_inference_accounts_model_bucket_in_every_region(example_plan, tier):
    """Only `approved/` crosses, from the training account, one rule per inference region, into
    a bucket of the inference account that owns the replicas (owner override) and encrypts them
    under its own models key in that region."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    source, config, replicas = promotion(plan, tier)
    assert account_of(plan, config) == plan.accounts["training"]
    assert [r["destination"]["bucket"] for r in config.inputs["rules"]] == [b.outputs["arn"] for b in replicas.values()]
    for rule, (region, replica) in zip(config.inputs["rules"], replicas.items()):
        assert account_of(plan, replica) == plan.accounts["inference"] and plan.provider_region(replica) == region
        assert rule["filter"] == {"prefix": "approved/"} and rule["status"] == "Enabled"
        assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
        key = named(plan, "aws:kms/key:Key", f"{name}-models-inf-{region_code(region)}-key")
        assert account_of(plan, key) == plan.accounts["inference"]
        rtc = {"replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
               "metrics": {"status": "Enabled", "eventThreshold": {"minutes": 15}}} \
            if TIERS[tier].model_replication_sla else {}
        assert rule["destination"] == {"bucket": replica.outputs["arn"], "account": plan.accounts["inference"],
                                       "accessControlTranslation": {"owner": "Destination"},
                                       "encryptionConfiguration": {"replicaKmsKeyId": key.outputs["arn"]}, **rtc}
        ownership = [o for o in plan.of_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
                     if o.inputs["bucket"] == replica.id]
        assert [o.inputs["rule"] for o in ownership] == [{"objectOwnership": "BucketOwnerEnforced"}]


@pytest.mark.parametrize("tier", SEPARATE_ACCOUNTS)
def test_inference_model_buckets_and_keys_admit_exactly_the_training_account(example_plan, tier):
    """The destination bucket's policy admits the training bucket's replication role and nobody
    else; the destination key admits the training account (whose role policy names that key
    alone among the inference account's)."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    source, config, replicas = promotion(plan, tier)
    role_arn = config.inputs["role"]
    assert role_arn.startswith(f"arn:aws:iam::{plan.accounts['training']}:role/")
    for region, replica in replicas.items():
        (policy,) = [p for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == replica.id]
        allowed = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"]
        assert allowed and all(s["Principal"] == {"AWS": role_arn} for s in allowed)
        assert {a for s in allowed for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} == {
            "s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner", "s3:GetBucketVersioning"}
        key = named(plan, "aws:kms/key:Key", f"{name}-models-inf-{region_code(region)}-key")
        foreign = [s for s in json.loads(key.inputs["policy"])["Statement"]
                   if "AWS" in s["Principal"] and f":{plan.accounts['inference']}:" not in json.dumps(s["Principal"])]
        assert [s["Principal"] for s in foreign] == [{"AWS": [f"arn:aws:iam::{plan.accounts['training']}:root"]}]
    role_policy = next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == f"{name}-models-repl-policy")
    statements = {s["Sid"]: s for s in json.loads(role_policy.inputs["policy"])["Statement"]}
    inference_keys = [named(plan, "aws:kms/key:Key", f"{name}-models-inf-{region_code(r)}-key").outputs["arn"]
                      for r in replicas]
    assert statements["EncryptReplicas"]["Resource"] == (inference_keys if len(inference_keys) > 1 else inference_keys[0])
    assert statements["DecryptSource"]["Resource"] == key_arn(plan, tier, "models")


@pytest.mark.parametrize("tier", SEPARATE_ACCOUNTS)
def test_replicas_are_locked_where_the_training_model_bucket_is(example_plan, tier):
    plan = example_plan(tier)
    source, _, replicas = promotion(plan, tier)
    locks = {c.inputs["bucket"]: c.inputs["rule"] for c in
             plan.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")}
    expected = {"defaultRetention": {"days": TIERS[tier].log_retention_days, "mode": "COMPLIANCE"}} \
        if TIERS[tier].s3_object_lock else None
    assert locks.get(source.id) == expected
    for replica in replicas.values():
        assert locks.get(replica.id) == expected
        assert bool(replica.inputs.get("objectLockEnabled")) is TIERS[tier].s3_object_lock


@pytest.mark.parametrize("tier", SEPARATE_ACCOUNTS)
def test_only_the_approver_writes_approved_models_where_they_reach_production(example_plan, tier):
    """approved/ replicates into production: the bucket denies writes there to every principal but
    the approver's role (the ml-engineer, and Lustre's export of /models, included)."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    source, _, _ = promotion(plan, tier)
    approver = named(plan, "aws:iam/role:Role", f"{name}-training-approver")
    (policy,) = [p for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == source.id]
    (deny,) = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s.get("Sid") == "OnlyTheApproverPromotes"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:PutObject"
    assert deny["Resource"] == source.outputs["arn"] + "/approved/*"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": approver.outputs["arn"]}}


@pytest.mark.parametrize("tier", ONE_ACCOUNT)
def test_one_account_stacks_promote_nothing(example_plan, tier):
    """Training and production inference share the account: the model bucket is already where
    production reads; no second copy, no replication, no extra deny."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    assert not plan.accounts
    # (the inference regions' own buckets: invocation logs, not model copies)
    assert not [b for b in plan.of_type("aws:s3/bucket:Bucket") if b.name.startswith(f"{name}-inf-")
                and not b.name.endswith("-fm-logs")]
    source = named(plan, "aws:s3/bucket:Bucket", f"{name}-models")
    assert not [c for c in plan.of_type(REPLICATION) if c.inputs["bucket"] == source.id]
    assert "OnlyTheApproverPromotes" not in json.dumps([p.inputs for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")])


def serving_model_env(plan, name, region):
    """The MODEL_* environment of the model server in `region`."""
    deployment = named(plan, "kubernetes:apps/v1:Deployment", f"{name}-inf-{region_code(region)}-serving-deployment")
    return {e["name"]: e["value"] for e in deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
            if e["name"] in ("MODEL_BUCKET", "MODEL_PREFIX", "AWS_REGION")}


@pytest.mark.parametrize("tier", SEPARATE_ACCOUNTS)
def test_each_regions_model_servers_read_the_copy_in_their_own_region(example_plan, tier):
    """Losing a region leaves the others serving: each region's server is told its own region's
    bucket and may read approved/ there, and nothing else."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    _, _, replicas = promotion(plan, tier)
    for region, replica in replicas.items():
        assert serving_model_env(plan, name, region) == {
            "MODEL_BUCKET": replica.outputs["bucket"], "MODEL_PREFIX": "approved/", "AWS_REGION": region}
        reader = named(plan, "aws:iam/rolePolicy:RolePolicy", f"{name}-inf-{region_code(region)}-serving-model-reader")
        statements = {s["Sid"]: s for s in json.loads(reader.inputs["policy"])["Statement"]}
        assert statements["ReadModelPrefix"]["Resource"] == replica.outputs["arn"] + "/approved/*"
        key = named(plan, "aws:kms/key:Key", f"{name}-models-inf-{region_code(region)}-key")
        assert statements["DecryptModelsThroughS3"]["Resource"] == key.outputs["arn"]
        assert account_of(plan, reader) == plan.accounts["inference"]


# One shared account, two inference regions, the home region second.
SHARED_TWO_REGIONS = {"inference": {"regions": ["eu-central-1", "eu-west-1"]}}


def test_one_account_stacks_copy_approved_models_into_every_other_inference_region(render):
    """The home region's servers read the training model bucket itself; every other inference
    region gets a copy of approved/ in its own bucket, under its own region's models key (a CMK:
    replication needs named keys), without the owner override (same account)."""
    plan = render("internal", SHARED_TWO_REGIONS)
    source = named(plan, "aws:s3/bucket:Bucket", "demo-internal-models")
    replica = named(plan, "aws:s3/bucket:Bucket", "demo-internal-inf-euc1-models")
    assert plan.provider_region(replica) == "eu-central-1"
    assert not [b for b in plan.of_type("aws:s3/bucket:Bucket") if b.name == "demo-internal-inf-euw1-models"]
    (config,) = [c for c in plan.of_type(REPLICATION) if c.inputs["bucket"] == source.id]
    (rule,) = config.inputs["rules"]
    sse = {c.inputs["bucket"]: c.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] for c in
           plan.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")}
    (key,) = [k for k in plan.of_type("aws:kms/key:Key") if k.outputs["arn"] == sse[replica.id]]
    assert plan.provider_region(key) == "eu-central-1"
    assert rule["filter"] == {"prefix": "approved/"}
    assert rule["destination"] == {"bucket": replica.outputs["arn"],
                                   "encryptionConfiguration": {"replicaKmsKeyId": key.outputs["arn"]}}
    assert serving_model_env(plan, "demo-internal", "eu-central-1")["MODEL_BUCKET"] == replica.outputs["bucket"]
    assert serving_model_env(plan, "demo-internal", "eu-west-1")["MODEL_BUCKET"] == source.outputs["bucket"]


def test_a_tier_on_aws_managed_keys_promotes_under_customer_managed_keys(render):
    """The aws/s3 key cannot be shared with another account: where a public stack names separate
    accounts, the training model bucket and its replicas get CMKs."""
    plan = render("public", {"accounts": {"training": "111111111111", "inference": "222222222222"}})
    source = named(plan, "aws:s3/bucket:Bucket", "demo-public-models")
    (config,) = [c for c in plan.of_type(REPLICATION) if c.inputs["bucket"] == source.id]
    (rule,) = config.inputs["rules"]
    sse = {c.inputs["bucket"]: c.inputs["rules"][0]["applyServerSideEncryptionByDefault"] for c in
           plan.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")}
    source_key = named(plan, "aws:kms/key:Key", "demo-public-models-trn-euw1-key")
    replica_key = named(plan, "aws:kms/key:Key", "demo-public-models-inf-euw1-key")
    assert sse[source.id] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": source_key.outputs["arn"]}
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": replica_key.outputs["arn"]}
    assert account_of(plan, replica_key) == "222222222222" and account_of(plan, source_key) == "111111111111"
    # The training data keeps the tier's AWS managed key: only what crosses accounts needs a CMK.
    data = named(plan, "aws:s3/bucket:Bucket", "demo-public-training-data")
    assert sse[data.id] == {"sseAlgorithm": "aws:kms"}


@pytest.mark.parametrize("tier", SEPARATE_ACCOUNTS)
def test_people_act_in_the_training_account(example_plan, tier):
    """The ml-engineer, fine-tune-operator, approver and auditor live where they act: their
    roles, trust (people of the training account, with MFA) and the cluster's access entries for
    them are the training account's; the approver promotes by writing approved/ there."""
    plan = example_plan(tier)
    name = EXAMPLES[tier][0]
    training = plan.accounts["training"]
    roles = {r.name.removeprefix(f"{name}-training-"): r for r in plan.of_type("aws:iam/role:Role")
             if r.name.startswith(f"{name}-training-") and r.name.rsplit("-", 1)[-1] in
             ("engineer", "operator", "approver", "auditor")}
    assert set(roles) == {"ml-engineer", "fine-tune-operator", "approver", "auditor"}
    for key, role in roles.items():
        assert account_of(plan, role) == training and role.outputs["arn"].startswith(f"arn:aws:iam::{training}:")
        (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        if key != "fine-tune-operator":
            assert trust["Principal"] == {"AWS": f"arn:aws:iam::{training}:root"}
    source = named(plan, "aws:s3/bucket:Bucket", f"{name}-models")
    policy = next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == f"{name}-training-approver-policy")
    (promote,) = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "PromoteModels"]
    assert promote == {"Sid": "PromoteModels", "Effect": "Allow", "Action": "s3:PutObject",
                       "Resource": source.outputs["arn"] + "/approved/*"}
    entries = [e for e in plan.of_type("aws:eks/accessEntry:AccessEntry") if e.name.startswith(f"{name}-training-")]
    assert entries and all(e.inputs["principalArn"].startswith(f"arn:aws:iam::{training}:role/") for e in entries)


@pytest.mark.parametrize("tier,expected", [("restricted", True), ("public", False)])
def test_clusters_authenticate_through_their_account_provider_where_accounts_are_named(monkeypatch, tmp_path,
                                                                                      tier, expected):
    """In a multi-account stack the ambient credentials cannot assume the deploy role (its trust
    requires the external id): Kubernetes gets its token through the account's AWS provider."""
    from blueprints import platform
    from blueprints.plan.engine import load_stack_file, render_stack
    from tests.conftest import spec_config, write_stack

    seen = []
    real = platform.EksCluster

    def recording(name, args, opts=None):
        seen.append(args.provider_token)
        return real(name, args, opts)

    monkeypatch.setattr(platform, "EksCluster", recording)
    render_stack(load_stack_file(write_stack(tmp_path, spec_config(tier, {"inference": {"enabled": False}}))))
    assert seen == [expected]


def test_trainium_training_gets_a_neuron_node_group_and_the_neuron_device_plugin(render):
    """Issue 11: trn1.32xlarge renders a Neuron node group (Neuron AMI, label and taint, never the
    NVIDIA ones) with the Neuron device plugin from the stack's private mirror, which tolerates the
    Neuron taint and calls the Kubernetes API as its own least-privilege service account."""
    plan = render("restricted", {"training": {"gpuInstanceType": "trn1.32xlarge"}, "inference": {"enabled": False}})
    nodes = [r for r in plan.of_type("aws:eks/nodeGroup:NodeGroup") if r.name.endswith("-training-gpu-nodes")]
    (nodes,) = nodes
    assert nodes.inputs["amiType"] == "AL2023_x86_64_NEURON"
    assert [t["key"] for t in nodes.inputs["taints"]] == ["aws.amazon.com/neuron"]
    assert nodes.inputs["labels"]["aws.amazon.com/neuron.present"] == "true"
    assert not [k for k in nodes.inputs["labels"] if k.startswith("nvidia.com")]

    daemonsets = {r.inputs["metadata"]["name"]: r for r in plan.of_type("kubernetes:apps/v1:DaemonSet")}
    pod = daemonsets["neuron-device-plugin"].inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"aws.amazon.com/neuron.present": "true"}
    assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["serviceAccountName"] == "neuron-device-plugin" and pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    repositories = {r.inputs.get("name") for r in plan.of_type("aws:ecr/repository:Repository")}
    assert any(str(n).endswith("training/neuron-device-plugin") for n in repositories), repositories
    assert container["image"].endswith("training/neuron-device-plugin:2.28.27.0@" + ADDON_DIGESTS["neuron-device-plugin"])
    # The EFA plugin (trn1.32xlarge has 8 EFA interfaces) must reach the Neuron-tainted nodes too.
    efa = daemonsets["aws-efa-k8s-device-plugin"].inputs["spec"]["template"]["spec"]
    assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in efa["tolerations"]
    (role,) = [r for r in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
               if r.inputs["metadata"]["name"] == "neuron-device-plugin"]
    assert {"nodes", "nodes/status", "pods", "events"} == {res for rule in role.inputs["rules"] for res in rule["resources"]}
    assert not [rule for rule in role.inputs["rules"] if "*" in rule["verbs"] or "secrets" in rule["resources"]]
    # The namespace's quota caps Neuron devices (16 per trn1.32xlarge, 2 nodes at most), and no
    # NVIDIA device plugin or mirror is built for nodes that have no NVIDIA GPU.
    (quota,) = [r for r in plan.of_type("kubernetes:core/v1:ResourceQuota") if r.inputs["metadata"]["name"] == "gpu-quota"]
    assert quota.inputs["spec"]["hard"] == {"requests.aws.amazon.com/neuron": "32"}
    assert "nvidia-device-plugin" not in daemonsets
    assert not any(str(n).endswith("training/nvidia-device-plugin") for n in repositories)


def test_a_trainium_stack_passes_its_tier_with_the_neuron_plugin_exempt_for_its_reasons(render):
    """The Neuron device plugin needs what the NVIDIA one does (root, the kubelet's socket
    directory) plus the API token and /run: declared exemptions with reasons, not violations."""
    from policies.runner import check

    plan = render("restricted", {"training": {"gpuInstanceType": "trn1.32xlarge"}, "inference": {"enabled": False}})
    text, code = check(plan.to_dict(), fmt="json")
    assert code == 0
    exempt = {f["rule"] for f in json.loads(text)["findings"]
              if f["outcome"] == "exempt" and f["resourceName"].endswith("neuron-device-plugin")}
    assert exempt == {"AIB-102", "AIB-106", "AIB-109"}


def test_the_stack_lists_each_training_image_to_push_into_its_repository():
    """Training never pulls from the internet: the `images_to_push` output names each image the
    cluster runs and the repository URL and tag it must be copied to (and the trainer's repository)."""
    from blueprints import training
    from blueprints.plan.engine import load_stack_file, run_program
    from blueprints.program import load_spec

    config, secrets = load_stack_file(STACKS / "Pulumi.restricted-example.yaml").runtime_config()
    spec = load_spec(config, secrets)
    contexts = []

    def program() -> None:
        ctx = BlueprintContext(spec)
        training.build(ctx.account("training"))
        contexts.append(ctx)

    run_program(program, stack="pushes-test", config=config, secret_keys=secrets)
    pushes = {p.image: p for p in contexts[0].image_pushes}
    # restricted: each add-on by the digest the stack pins (the example's `images`, the shipped one)
    addons = ("nvidia-device-plugin", "efa-device-plugin", "cluster-autoscaler")
    assert set(pushes) == {spec.addon_image(a).upstream(spec.addon_image(a).digest) for a in addons} | {
        "(your fine-tuning image)"}
    assert all("@sha256:" in image for image in pushes if not image.startswith("("))
    assert {(p.region, p.account) for p in pushes.values()} == {("eu-west-1", "training")}
