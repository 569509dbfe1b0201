"""NodeGroup: NVIDIA AMI and GPU taint, IMDSv2, encrypted root volume, EFA + placement group +
EFA security group, Cluster Autoscaler node-template tags for groups that scale from zero."""

import functools
import json

import pulumi_aws as aws
import pytest

from blueprints.plan.engine import run_program
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.kms_key import KmsKey, KmsKeyArgs
from components.node_group import NodeGroup, NodeGroupArgs


def _run(**node_args):
    def program():
        vpc = IsolatedVpc("v", IsolatedVpcArgs())
        cluster = EksCluster("c", EksClusterArgs(vpc=vpc))
        key = KmsKey("ebs", KmsKeyArgs(description="ebs", grant_services=["ec2"])) if node_args.pop("cmk", False) else None
        NodeGroup("ng", NodeGroupArgs(cluster=cluster, subnet_ids=vpc.private_subnet_ids, vpc_id=vpc.vpc_id,
                                      ebs_kms_key=key, **node_args))
    return run_program(program, stack="ng-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


@functools.lru_cache(maxsize=None)
def plan_for(instance_type: str, **kwargs):
    return _run(instance_types=[instance_type], **kwargs)


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


def test_gpu_nodes_use_the_nvidia_ami_and_are_tainted():
    group = one(plan_for("g6.xlarge"), "aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert group.inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert group.inputs["labels"] == {"nvidia.com/gpu.present": "true"}
    assert group.inputs["capacityType"] == "ON_DEMAND"
    assert group.inputs["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}


def test_launch_template_requires_imdsv2_and_encrypts_the_root_volume():
    plan = plan_for("g6.xlarge")
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (volume,) = template.inputs["blockDeviceMappings"]
    assert volume["deviceName"] == "/dev/xvda" and volume["ebs"]["encrypted"] == "true"
    group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}


def test_a_cmk_encrypts_the_root_volume():
    plan = plan_for("g6.xlarge", cmk=True)
    key = one(plan, "aws:kms/key:Key")
    (volume,) = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs["blockDeviceMappings"]
    assert volume["ebs"]["kmsKeyId"] == key.outputs["arn"]
    (default_volume,) = one(plan_for("g6.xlarge"), "aws:ec2/launchTemplate:LaunchTemplate").inputs["blockDeviceMappings"]
    assert "kmsKeyId" not in default_volume["ebs"] and default_volume["ebs"]["encrypted"] == "true"


def test_node_role_has_only_worker_cni_and_ecr_pull():
    plan = plan_for("g6.xlarge")
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.name == "ng-node-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {a.inputs["policyArn"] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == role.outputs["name"]}
    assert attached == {"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"}
    assert not [p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]


def test_p5_gets_32_efa_interfaces_a_cluster_placement_group_and_one_subnet():
    plan = plan_for("p5.48xlarge")
    group = one(plan, "aws:ec2/placementGroup:PlacementGroup")
    assert group.inputs["strategy"] == "cluster"
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["placement"] == {"groupName": group.outputs["name"]}
    interfaces = template.inputs["networkInterfaces"]
    assert len(interfaces) == 32
    assert {i["interfaceType"] for i in interfaces} == {"efa"}
    assert [i["networkCardIndex"] for i in interfaces] == list(range(32))
    assert [i["deviceIndex"] for i in interfaces[:2]] == [0, 1]
    # EC2 rejects associatePublicIpAddress on a launch with more than one interface.
    assert not [i for i in interfaces if "associatePublicIpAddress" in i]
    nodes = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert len(nodes.inputs["subnetIds"]) == 1
    assert nodes.inputs["labels"]["vpc.amazonaws.com/efa.present"] == "true"


SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULES = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")


@pytest.mark.parametrize("instance_type, interfaces", [("p5.48xlarge", 32), ("p4d.24xlarge", 4), ("trn1.32xlarge", 8)])
def test_every_efa_interface_carries_a_group_that_admits_all_traffic_to_and_from_itself(instance_type, interfaces):
    """EFA's OS-bypass traffic only matches rules that reference a security group: without an
    all-traffic self rule in both directions on a group of every EFA interface, NCCL between
    nodes is blocked."""
    plan = plan_for(instance_type)
    (efa_group,) = [g for g in plan.of_type(SG) if g.name == "ng-efa-sg"]
    vpc = one(plan, "aws:ec2/vpc:Vpc")
    assert efa_group.inputs["vpcId"] == vpc.id
    rules = {(r.type.rsplit(":", 1)[-1], r.inputs["ipProtocol"], r.inputs.get("referencedSecurityGroupId"))
             for t in SG_RULES for r in plan.of_type(t) if r.inputs["securityGroupId"] == efa_group.id}
    assert rules == {("SecurityGroupIngressRule", "-1", efa_group.id), ("SecurityGroupEgressRule", "-1", efa_group.id)}
    cluster = one(plan, "aws:eks/cluster:Cluster")
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(template.inputs["networkInterfaces"]) == interfaces
    # The cluster security group (kubelet, control plane) and the EFA group, on every interface.
    assert {tuple(i["securityGroups"]) for i in template.inputs["networkInterfaces"]} == {
        (cluster.outputs["vpcConfig"]["clusterSecurityGroupId"], efa_group.id)}


def test_non_efa_nodes_get_no_efa_security_group():
    assert not [g for g in plan_for("g6.xlarge").of_type(SG) if g.name.endswith("-efa-sg")]


CA = "k8s.io/cluster-autoscaler/node-template/"


def autoscaler_tags(plan):
    """{tag key: value} on the node group's Auto Scaling group, checking every tag is on it."""
    nodes = one(plan, "aws:eks/nodeGroup:NodeGroup")
    asg = nodes.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    tags = plan.of_type("aws:autoscaling/tag:Tag")
    assert all(t.inputs["autoscalingGroupName"] == asg for t in tags)
    assert all(t.inputs["tag"]["propagateAtLaunch"] is False and nodes.urn in t.dependencies for t in tags)
    return {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in tags}


@pytest.mark.parametrize("instance_type, resources", [
    ("p5.48xlarge", {"nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32"}),
    ("g6.xlarge", {"nvidia.com/gpu": "1"}),
    # Neuron nodes advertise Neuron devices and cores, never nvidia.com/gpu.
    ("trn1.32xlarge", {"aws.amazon.com/neuron": "16", "aws.amazon.com/neuroncore": "32", "vpc.amazonaws.com/efa": "8"}),
])
def test_a_group_at_zero_tells_the_autoscaler_its_labels_taints_and_resources(instance_type, resources):
    """Managed node groups copy none of these to their Auto Scaling group: without the tags the
    Cluster Autoscaler cannot know that a node of an empty group would tolerate the GPU taint or
    offer GPUs, and never scales it up from zero."""
    plan = plan_for(instance_type)
    efa = "vpc.amazonaws.com/efa" in resources
    vendor = "aws.amazon.com/neuron" if "aws.amazon.com/neuron" in resources else "nvidia.com/gpu"
    expected = {
        f"{CA}label/{vendor}.present": "true",
        f"{CA}taint/{vendor}": "true:NoSchedule",
        **({f"{CA}label/vpc.amazonaws.com/efa.present": "true"} if efa else {}),
        **{f"{CA}resources/{name}": count for name, count in resources.items()},
    }
    assert autoscaler_tags(plan) == expected


@pytest.mark.parametrize("instance_type", ["trn1.32xlarge", "trn2.48xlarge", "inf2.xlarge"])
def test_neuron_nodes_carry_the_neuron_label_and_taint_and_nothing_of_nvidia(instance_type):
    nodes = one(plan_for(instance_type), "aws:eks/nodeGroup:NodeGroup")
    assert nodes.inputs["labels"]["aws.amazon.com/neuron.present"] == "true"
    assert not [k for k in nodes.inputs["labels"] if k.startswith("nvidia.com")]
    assert [(t["key"], t["value"], t["effect"]) for t in nodes.inputs["taints"]] == [
        ("aws.amazon.com/neuron", "true", "NO_SCHEDULE")]


def test_nvidia_nodes_carry_no_neuron_label_or_taint():
    nodes = one(plan_for("p5.48xlarge"), "aws:eks/nodeGroup:NodeGroup")
    assert nodes.inputs["labels"]["nvidia.com/gpu.present"] == "true"
    assert not [k for k in nodes.inputs["labels"] if k.startswith("aws.amazon.com/neuron")]
    assert [t["key"] for t in nodes.inputs["taints"]] == ["nvidia.com/gpu"]


def test_extra_labels_and_taints_reach_the_node_template():
    plan = _run(instance_types=["g6e.12xlarge"], labels={"workload": "training"},
                taints=[aws.eks.NodeGroupTaintArgs(key="dedicated", value="training", effect="NO_EXECUTE")])
    tags = autoscaler_tags(plan)
    assert tags[f"{CA}label/workload"] == "training"
    assert tags[f"{CA}taint/dedicated"] == "training:NoExecute"
    assert tags[f"{CA}resources/nvidia.com/gpu"] == "4"


def test_a_group_that_never_reaches_zero_needs_no_node_template_tags():
    plan = plan_for("m7i.large", gpu=False, min_size=2, max_size=3)
    assert not plan.of_type("aws:autoscaling/tag:Tag")


@pytest.mark.parametrize("instance_type, ami", [
    ("trn1.32xlarge", "AL2023_x86_64_NEURON"),
    ("trn2.48xlarge", "AL2023_x86_64_NEURON"),
    ("inf2.xlarge", "AL2023_x86_64_NEURON"),
    ("p5.48xlarge", "AL2023_x86_64_NVIDIA"),
])
def test_trainium_and_inferentia_get_the_neuron_ami(instance_type, ami):
    assert one(plan_for(instance_type), "aws:eks/nodeGroup:NodeGroup").inputs["amiType"] == ami


def test_trainium_keeps_efa_with_the_neuron_ami():
    plan = plan_for("trn1.32xlarge")
    assert len(one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs["networkInterfaces"]) == 8
    assert one(plan, "aws:ec2/placementGroup:PlacementGroup").inputs["strategy"] == "cluster"


def test_non_efa_types_get_no_placement_group_and_all_subnets():
    plan = plan_for("g6.xlarge")
    assert not plan.of_type("aws:ec2/placementGroup:PlacementGroup")
    assert "networkInterfaces" not in one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert len(one(plan, "aws:eks/nodeGroup:NodeGroup").inputs["subnetIds"]) == 3


def test_efa_can_be_turned_off_explicitly():
    plan = plan_for("p4d.24xlarge", efa=False)
    assert not plan.of_type("aws:ec2/placementGroup:PlacementGroup")


def test_system_nodes_are_standard_untainted_and_host_coredns():
    plan = plan_for("m7i.large", gpu=False, min_size=2, max_size=3, capacity_type="SPOT", cluster_addons=("coredns",))
    nodes = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert nodes.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert "taints" not in nodes.inputs
    assert nodes.inputs["capacityType"] == "SPOT"
    assert nodes.inputs["scalingConfig"] == {"minSize": 2, "maxSize": 3, "desiredSize": 2}
    coredns = next(a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "coredns")
    assert nodes.urn in coredns.dependencies


@pytest.mark.parametrize("args, message", [
    (dict(instance_types=["g6.xlarge"], min_size=3, max_size=2), "min_size <= desired_size <= max_size"),
    (dict(instance_types=[]), "instance_types is empty"),
    (dict(instance_types=["g6.xlarge"], imds_hop_limit=3), "imds_hop_limit must be 1 or 2"),
    (dict(instance_types=["trn1.32xlarge", "p4d.24xlarge"]), "mixes Neuron"),
])
def test_invalid_arguments_are_rejected(args, message):
    with pytest.raises(Exception, match=message):
        _run(**args)
