"""An EKS managed node group: accelerated (NVIDIA or Neuron AMI, tainted) or system, IMDSv2,
encrypted root volume, EFA with a cluster placement group and a self-referencing EFA security
group on the instance types that have it, and Cluster Autoscaler node-template tags on its Auto
Scaling group when it can scale from zero."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags
from components.accelerators import accelerator, vcpus
from components.eks_cluster import EksCluster, eks_addon
from components.kms_key import KmsKey

# Instance facts (accelerators, counts, EFA interfaces, vCPUs) live in components/accelerators.py.
# The extended resource the NVIDIA device plugin advertises (what pods request) and the key of
# the NoSchedule taint on accelerated nodes.
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = GPU_RESOURCE
GPU_LABEL = "nvidia.com/gpu.present"
# Neuron nodes carry their own label and taint instead, never the NVIDIA ones: the taint key is
# the one the Neuron device plugin's upstream manifests tolerate (aws-neuron/neuron-helm-charts
# values.yaml, devicePlugin.tolerations), the label is the Neuron plugin's node selector.
NEURON_TAINT_KEY = "aws.amazon.com/neuron"
NEURON_LABEL = "aws.amazon.com/neuron.present"
EFA_LABEL = "vpc.amazonaws.com/efa.present"
# Extended resources the EFA and Neuron device plugins advertise.
EFA_RESOURCE = "vpc.amazonaws.com/efa"
NEURON_RESOURCE = "aws.amazon.com/neuron"
NEURONCORE_RESOURCE = "aws.amazon.com/neuroncore"
# Cluster Autoscaler node-template tags on an Auto Scaling group (cluster-autoscaler
# cloudprovider/aws README, "Auto-Discovery Setup"): with no node running, the autoscaler builds
# the node it would get from the instance type and these tags alone. A managed node group's labels
# and taints (and the device plugins' extended resources) are not on its Auto Scaling group, so
# without them a pod that tolerates the GPU taint and asks for GPUs never scales a group up from 0.
CA_TEMPLATE_PREFIX = "k8s.io/cluster-autoscaler/node-template"
# EKS's taint effects as Kubernetes (and the autoscaler's `<value>:<effect>` tag value) spell them.
TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
# What a node needs and nothing else: join the cluster, run the VPC CNI (which uses the node
# role: no per-pod identity for aws-node, so pods never see these rights with IMDS hop limit 1),
# and pull images from ECR (pull only, no listing).
NODE_MANAGED_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")
SSM_POLICY = "AmazonSSMManagedInstanceCore"


def _efa_interfaces(instance_type: str) -> int:
    """EFA interfaces of the type (1 for a type the catalog gives none, when EFA is forced on)."""
    entry = accelerator(instance_type)
    return entry.efa_interfaces if entry is not None and entry.efa_interfaces else 1


def efa_capable(instance_type: str) -> bool:
    entry = accelerator(instance_type)
    return entry is not None and entry.efa_interfaces > 0


def neuron(instance_type: str) -> bool:
    """Whether the type's accelerators are AWS Neuron devices (trn1, trn1n, trn2, inf2)."""
    entry = accelerator(instance_type)
    return entry is not None and entry.neuron


def ami_type(instance_type: str, gpu: bool) -> str:
    """The EKS AMI type for an instance type: standard without accelerators, else the AL2023 AMI
    with the NVIDIA or the Neuron drivers."""
    if not gpu:
        return "AL2023_x86_64_STANDARD"
    return "AL2023_x86_64_NEURON" if neuron(instance_type) else "AL2023_x86_64_NVIDIA"


def accelerator_label_and_taint(instance_types: Sequence[str]) -> tuple[str, str]:
    """The node label and NoSchedule taint key of an accelerated node group: the Neuron ones on
    Neuron types, the NVIDIA ones otherwise."""
    if instance_types and all(neuron(t) for t in instance_types):
        return NEURON_LABEL, NEURON_TAINT_KEY
    return GPU_LABEL, GPU_TAINT_KEY


def gpus_per_node(instance_type: str) -> int:
    """NVIDIA GPUs on one instance of the type: 0 on Neuron types, 1 for a type the catalog does
    not know."""
    entry = accelerator(instance_type)
    if entry is None:
        return 1
    return 0 if entry.neuron else entry.count


def neuron_devices_per_node(instance_type: str) -> int:
    """Neuron devices (`aws.amazon.com/neuron`) on one instance of the type; 0 on other types."""
    entry = accelerator(instance_type)
    return entry.count if entry is not None and entry.neuron else 0


def vcpus_per_node(instance_type: str) -> Optional[int]:
    """vCPUs of one instance of the type; None for a type components.accelerators does not know."""
    return vcpus(instance_type)


def node_template_resources(instance_types: Sequence[str], gpu: bool, efa_interfaces: int) -> dict[str, int]:
    """The extended resources one node of the group advertises once its device plugins run, for
    the Cluster Autoscaler's node template: `nvidia.com/gpu` on NVIDIA types, `aws.amazon.com/neuron`
    and `aws.amazon.com/neuroncore` on Neuron types (never nvidia.com/gpu), `vpc.amazonaws.com/efa`
    with EFA. Counts are the smallest across `instance_types`; a resource whose count is unknown for
    one of the types is left out (the autoscaler then relies on its own instance-type data)."""
    resources: dict[str, int] = {}
    entries = [accelerator(t) for t in instance_types]
    known = [e for e in entries if e is not None]
    if gpu and entries and len(known) == len(entries):
        if all(e.neuron for e in known):
            resources[NEURON_RESOURCE] = min(e.count for e in known)
            resources[NEURONCORE_RESOURCE] = min(e.neuron_cores for e in known)
        elif not any(e.neuron for e in known):
            resources[GPU_RESOURCE] = min(e.count for e in known)
    if efa_interfaces:
        resources[EFA_RESOURCE] = efa_interfaces
    return resources


@dataclass(frozen=True, kw_only=True)
class NodeGroupArgs:
    cluster: EksCluster
    """The cluster the nodes join. Required."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets for the nodes. Required. With EFA only the first is used (a cluster
    placement group lives in one AZ): pass the subnet of the AZ the instance type is offered in
    first, or alone."""
    vpc_id: Optional[pulumi.Input[str]] = None
    """The nodes' VPC, which holds the EFA security group. Default None: the cluster's VPC (the EKS
    cluster's vpc_config.vpc_id). Used only with EFA."""
    instance_types: Sequence[str]
    """EC2 instance types, e.g. ["p5.48xlarge"]. Required."""
    gpu: bool = True
    """Accelerated nodes: AMI AL2023_x86_64_NVIDIA, taint nvidia.com/gpu=true:NoSchedule, label
    nvidia.com/gpu.present=true; on Trainium and Inferentia 2 types (which cannot be mixed with NVIDIA
    types) AMI AL2023_x86_64_NEURON, taint aws.amazon.com/neuron=true:NoSchedule, label
    aws.amazon.com/neuron.present=true and no NVIDIA label or taint. Default on. False:
    AL2023_x86_64_STANDARD system nodes."""
    min_size: int = 0
    """Minimum nodes. Default 0."""
    max_size: int = 2
    """Maximum nodes (>= 1, >= min_size). Default 2."""
    desired_size: Optional[int] = None
    """Initial nodes (the cluster autoscaler owns it afterwards). Default None: min_size."""
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    """Default ON_DEMAND. SPOT conflicts with tiers that forbid spot."""
    ebs_kms_key: Optional[KmsKey] = None
    """CMK for the root volume, which is always encrypted. Default None: the region's default
    EBS key. The key policy must let the EC2 Auto Scaling service-linked role use it and create
    grants (KmsKeyArgs.service_linked_roles), or instances fail to launch."""
    root_volume_gib: int = 100
    """Root volume size (gp3). Default 100 GiB."""
    efa: Optional[bool] = None
    """EFA interfaces + a cluster placement group + an EFA security group (all traffic to and from
    itself) on every interface. Default None: on when every instance type is EFA-capable (p4d,
    p4de, p5, p5e, p5en, trn1, trn1n, trn2 at their full sizes)."""
    imds_hop_limit: int = 1
    """IMDSv2 (tokens required always) response hop limit. Default 1: pods outside the host
    network cannot reach instance metadata and the node role; 2 lets them."""
    ssm_access: bool = False
    """Attach AmazonSSMManagedInstanceCore for Session Manager. Default off."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra Kubernetes node labels. Default none."""
    taints: Sequence[aws.eks.NodeGroupTaintArgs] = ()
    """Extra taints beyond the GPU one, with plain-string key and effect. Default none."""
    cluster_addons: Sequence[str] = ()
    """EKS add-ons that need running nodes to become ACTIVE (e.g. "coredns"), installed once
    this node group exists. Set it on the system node group. Default none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child, the instances and their volumes."""


class NodeGroup(Component):
    node_group: aws.eks.NodeGroup
    node_group_name: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    node_role_name: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]
    placement_group_name: Optional[pulumi.Output[str]]
    efa_security_group_id: Optional[pulumi.Output[str]]
    """The EFA security group on every EFA interface (None without EFA)."""
    efa_interfaces: int
    """EFA interfaces per node (0 without EFA)."""
    autoscaler_tags: dict[str, pulumi.Input[str]]
    """Cluster Autoscaler node-template tags put on the Auto Scaling group (empty when min_size > 0)."""

    def __init__(self, name: str, args: NodeGroupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("eks", "NodeGroup", name, opts)
        if not args.instance_types:
            raise ValueError(f"{name}: instance_types is empty")
        if not args.subnet_ids:
            raise ValueError(f"{name}: subnet_ids is empty")
        (ami, *others) = {ami_type(t, args.gpu) for t in args.instance_types}
        if others:  # a node group runs one AMI
            raise ValueError(f"{name}: instance_types mixes Neuron (trn, inf2) and NVIDIA types; use a node group each")
        desired = args.min_size if args.desired_size is None else args.desired_size
        if not (0 <= args.min_size <= desired <= args.max_size and args.max_size >= 1):
            raise ValueError(f"{name}: need 0 <= min_size <= desired_size <= max_size and max_size >= 1, "
                             f"got {args.min_size}/{desired}/{args.max_size}")
        if args.imds_hop_limit not in (1, 2):
            raise ValueError(f"{name}: imds_hop_limit must be 1 or 2")
        efa = all(efa_capable(t) for t in args.instance_types) if args.efa is None else args.efa
        self.efa_interfaces = min(_efa_interfaces(t) for t in args.instance_types) if efa else 0
        cluster = args.cluster

        role, attachments = self._create_role(args)

        self.placement_group_name = None
        self.efa_security_group_id = None
        placement = None
        interface_groups: list[pulumi.Input[str]] = [cluster.cluster_security_group_id]
        if efa:
            self.efa_security_group_id = self._create_efa_security_group(name, args)
            interface_groups.append(self.efa_security_group_id)
            group = aws.ec2.PlacementGroup(
                f"{name}-placement",
                strategy="cluster",
                tags=merge_tags(f"{name}-placement", args.tags),
                opts=self.child(),
            )
            self.placement_group_name = group.name
            placement = aws.ec2.LaunchTemplatePlacementArgs(group_name=group.name)

        instance_tags = merge_tags(name, args.tags)
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"{name}: IMDSv2, encrypted root volume" + (", EFA" if efa else ""),
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=args.imds_hop_limit,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",  # the AL2023 EKS AMIs' root device
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=args.root_volume_gib,
                    volume_type="gp3",
                    encrypted="true",
                    kms_key_id=args.ebs_kms_key.arn if args.ebs_kms_key else None,
                    delete_on_termination="true",
                ),
            )],
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0 if card == 0 else 1,
                    network_card_index=card,
                    interface_type="efa",
                    # No associate_public_ip_address: EC2 rejects it on a launch with more than one
                    # interface. The private subnets do not map public IPs on launch anyway.
                    delete_on_termination="true",
                    # The cluster security group (kubelet, control plane, pods) and the EFA group:
                    # EKS adds no group of its own to interfaces a launch template defines.
                    security_groups=interface_groups,
                )
                for card in range(self.efa_interfaces)
            ] or None,
            placement=placement,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=merge_tags(f"{name}-lt", args.tags),
            opts=self.child(),
        )

        accelerator_label, taint_key = accelerator_label_and_taint(args.instance_types)
        labels = {**({accelerator_label: "true"} if args.gpu else {}), **({EFA_LABEL: "true"} if efa else {}),
                  **args.labels}
        taints = ([aws.eks.NodeGroupTaintArgs(key=taint_key, value="true", effect="NO_SCHEDULE")] if args.gpu else [])
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster.cluster_name,
            version=cluster.cluster.version,
            node_role_arn=role.arn,
            subnet_ids=[args.subnet_ids[0]] if efa else list(args.subnet_ids),
            instance_types=list(args.instance_types),
            ami_type=ami,
            capacity_type=args.capacity_type,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.min_size, max_size=args.max_size, desired_size=desired),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)),
            labels=labels or None,
            taints=[*taints, *args.taints] or None,
            tags=merge_tags(name, args.tags),
            # The cluster autoscaler moves desired size; Pulumi must not move it back.
            opts=self.child(depends_on=attachments, ignore_changes=["scalingConfig.desiredSize"]),
        )
        for addon in args.cluster_addons:
            eks_addon(f"{name}-addon-{addon}", cluster.cluster_name, addon,
                      self.child(depends_on=[self.node_group]), tags=args.tags)
        self.autoscaler_tags = {}
        if args.min_size == 0:
            self.autoscaler_tags = self._tag_node_template(
                name, labels, [*taints, *args.taints],
                node_template_resources(args.instance_types, args.gpu, self.efa_interfaces))

        self.node_group_name = self.node_group.node_group_name
        self.node_role_arn = role.arn
        self.node_role_name = role.name
        self.launch_template_id = template.id
        self.register_outputs({
            "node_group_name": self.node_group_name,
            "node_role_arn": self.node_role_arn,
            "node_role_name": self.node_role_name,
            "launch_template_id": self.launch_template_id,
            "placement_group_name": self.placement_group_name,
            "efa_security_group_id": self.efa_security_group_id,
        })

    def _create_efa_security_group(self, name: str, args: NodeGroupArgs) -> pulumi.Output[str]:
        """A security group that admits all traffic to and from itself, for the EFA interfaces.

        EFA's OS-bypass traffic (SRD) is matched only by rules that reference a security group,
        never by CIDR rules, so the cluster security group's 0.0.0.0/0 egress does not let it out:
        "the EFA must be a member of a security group that allows all inbound and outbound traffic
        to and from the security group itself" (Amazon EC2 User Guide, "Create and attach an EFA",
        and "Step 1: Prepare an EFA-enabled security group",
        https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-start.html#efa-start-security).
        Without both rules multi-node NCCL falls back to TCP or fails."""
        vpc_id = args.vpc_id if args.vpc_id is not None else args.cluster.cluster.vpc_config.vpc_id
        group = aws.ec2.SecurityGroup(
            f"{name}-efa-sg",
            vpc_id=vpc_id,
            description="EFA: all traffic to and from this group only (OS-bypass needs a self-referencing group)",
            tags=merge_tags(f"{name}-efa-sg", args.tags),
            opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-efa-self-in", security_group_id=group.id, referenced_security_group_id=group.id,
            ip_protocol="-1", description="EFA from the nodes of this group",
            tags=merge_tags(f"{name}-efa-self-in", args.tags), opts=self.child(),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-efa-self-out", security_group_id=group.id, referenced_security_group_id=group.id,
            ip_protocol="-1", description="EFA to the nodes of this group",
            tags=merge_tags(f"{name}-efa-self-out", args.tags), opts=self.child(),
        )
        return group.id

    def _tag_node_template(self, name: str, labels: Mapping[str, str], taints: Sequence[aws.eks.NodeGroupTaintArgs],
                           resources: Mapping[str, int]) -> dict[str, pulumi.Input[str]]:
        """Tag the node group's Auto Scaling group with what a node will carry: its labels
        (`.../label/<key>`: value), taints (`.../taint/<key>`: `<value>:<Effect>`) and extended
        resources (`.../resources/<name>`: count), so that the Cluster Autoscaler can scale the
        group up from zero nodes.

        A managed node group's own `tags` stay on the EKS resource and never reach its Auto
        Scaling group, so each tag is an aws.autoscaling.Tag on the group EKS created (one per
        managed node group: resources[0].autoscaling_groups[0]). Not propagated to instances."""
        tags: dict[str, pulumi.Input[str]] = {}
        for key, value in labels.items():
            tags[f"{CA_TEMPLATE_PREFIX}/label/{key}"] = value
        for taint in taints:
            key, value, effect = pulumi.get(taint, "key"), pulumi.get(taint, "value"), pulumi.get(taint, "effect")
            if not isinstance(key, str) or effect not in TAINT_EFFECTS:
                raise ValueError(f"{name}: a taint needs a plain-string key and an effect of {', '.join(TAINT_EFFECTS)}")
            tags[f"{CA_TEMPLATE_PREFIX}/taint/{key}"] = pulumi.Output.concat(value or "", ":", TAINT_EFFECTS[effect])
        for resource, count in resources.items():
            tags[f"{CA_TEMPLATE_PREFIX}/resources/{resource}"] = str(count)

        asg_name = self.node_group.resources.apply(lambda groups: groups[0].autoscaling_groups[0].name)
        seen: dict[str, str] = {}
        for key, value in tags.items():
            suffix = re.sub(r"[^a-z0-9]+", "-", key.removeprefix(CA_TEMPLATE_PREFIX + "/").lower()).strip("-")
            if suffix in seen:
                raise ValueError(f"{name}: node-template tags {seen[suffix]!r} and {key!r} need distinct names")
            seen[suffix] = key
            aws.autoscaling.Tag(
                f"{name}-asg-{suffix}",
                autoscaling_group_name=asg_name,
                tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=self.child(depends_on=[self.node_group]),
            )
        return tags

    def _create_role(self, args: NodeGroupArgs) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        role = self.service_role("node-role", "ec2.amazonaws.com", tags=args.tags)
        policies = NODE_MANAGED_POLICIES + ((SSM_POLICY,) if args.ssm_access else ())
        attachments: list[pulumi.Resource] = [self.managed_policy(policy, role, policy) for policy in policies]
        return role, attachments
