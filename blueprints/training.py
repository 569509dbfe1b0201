"""Training: an isolated GPU cluster with encrypted storage for fine-tuning on proprietary data.

In the home region: the training VPC (VPC endpoints only on air-gapped tiers), a private EKS
cluster with a GPU node group (EFA + cluster placement group where the instance has EFA) and a
system node group, private ECR repositories for every image the cluster runs, the training-data
and model buckets (reachable only through the VPC's S3 endpoint on air-gapped tiers), FSx for
Lustre linked to both buckets, EBS encryption by default, the Kubernetes layer (namespace,
device plugins, quota, default-deny network policies, RBAC), IAM roles for the people involved
and, where the tier says, a Macie job on the training data.

Accounts: `ctx` is the training account's view; everything above lives there, and so do the
people's roles (they act on the training resources). Where production inference runs in another
account, model promotion crosses into it: the model bucket's `approved/` prefix replicates into a
model bucket of the inference account in every inference region (_promotion), and only the
approver may write `approved/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from blueprints import compliance, foundation_models, inference, platform
from blueprints.context import BlueprintContext, ImagePush
from blueprints.images import addons_for
from components.container_insights import ContainerInsights, ContainerInsightsArgs
from components.ecr_repository import EcrRepository
from components.eks_cluster import EksCluster
from components.encrypted_bucket import EncryptedBucket, ObjectLock, Replica
from components.iam_roles import IamRoles, IamRolesArgs, RoleDefinition
from components.isolated_vpc import IsolatedVpc, S3InterfaceEndpoint
from components.k8s_training import TrainingNamespace, TrainingNamespaceArgs
from components.kms_key import KmsKey
from components.lustre_filesystem import DataRepository, LustreFilesystem, LustreFilesystemArgs
from components.macie_job import MacieJob, MacieJobArgs
from components.serving_workload import ModelSource
from components.scheduled_capacity import ScheduledCapacity, ScheduledCapacityArgs
from components.node_group import (
    GPU_RESOURCE, NEURON_RESOURCE, NodeGroup, NodeGroupArgs, gpus_per_node, neuron, neuron_devices_per_node,
)

GPU_ROOT_VOLUME_GIB = 200  # CUDA images are large; the data itself lives on Lustre
LUSTRE_THROUGHPUT = 250  # MB/s per TiB (PERSISTENT_2)
TRAINING_CIDR = "10.20.0.0/16"
# Object actions an air-gapped bucket serves only through the training VPC's S3 endpoints: the
# gateway (the cluster) and, where people have a path, the interface endpoint (people).
VPCE_ONLY_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                     "s3:DeleteObjectVersion", "s3:RestoreObject"]
# Service-linked roles that move data outside the VPC on the stack's behalf: FSx (the Lustre
# links, one role per file system) and Macie (classification). Exempt from the endpoint rule.
EXEMPT_SERVICE_ROLES = ("s3.data-source.lustre.fsx.amazonaws.com/AWSServiceRoleForFSxS3Access_*",
                        "macie.amazonaws.com/AWSServiceRoleForAmazonMacie")
# Roles that read an air-gapped bucket from the AWS side on the account's behalf (e.g. the
# GuardDuty malware-scan role) carry this principal tag to be exempt from the endpoint rule.
VPCE_EXEMPT_TAG = ("aiblueprints:s3-outside-training-vpc", "allowed")
OPERATOR_GROUP = "fine-tune-operators"
AUDITOR_GROUP = "auditors"
CANDIDATES_PREFIX = "candidates/"  # ml-engineers write fine-tuned models here
APPROVED_PREFIX = "approved/"  # approvers promote them here


@dataclass
class Training:
    vpc: IsolatedVpc
    data_bucket: EncryptedBucket
    model_bucket: EncryptedBucket
    cluster: EksCluster
    gpu_nodes: NodeGroup
    system_nodes: NodeGroup
    repositories: dict[str, EcrRepository]
    lustre: LustreFilesystem
    namespace: TrainingNamespace
    roles: IamRoles
    macie: Optional[MacieJob]
    schedule: Optional[ScheduledCapacity]  # the off-peak window (`training.schedule`)
    # The inference account's model buckets that `approved/` replicates into, by region (empty
    # where training and production inference share an account: ctx.model_sources names the
    # same-account replicas there).
    promoted_to: dict[str, EncryptedBucket]


def build(ctx: BlueprintContext) -> Training:
    tier, region, name, spec = ctx.tier, ctx.home, ctx.name, ctx.spec.training
    opts = ctx.opts(region)
    promotes = _promotes(ctx)
    data_key = ctx.key("training-data", region)
    compute_key, logs_key = ctx.key("compute", region), ctx.key("logs", region)

    # 1. Network: no internet gateway or NAT on air-gapped tiers, only VPC endpoints. There the
    #    buckets serve objects only through the VPC's S3 endpoints, and the gateway endpoint serves
    #    only the VPC itself: people (loading data, promoting models) come through an S3 interface
    #    endpoint that their networks reach over the Transit Gateway / VPN (_people_endpoint).
    people_endpoint, resolve_bucket_arns = _people_endpoint(ctx)
    vpc = platform.network(ctx, f"{name}-training", region, TRAINING_CIDR, first_zone=spec.availability_zone,
                           s3_interface_endpoint=people_endpoint)
    if ctx.spec.foundation_models is not None:
        # Fine-tuning and evaluation jobs reach the listed foundation models privately.
        foundation_models.training_endpoint(ctx, vpc, TRAINING_CIDR, ctx.spec.foundation_models)

    # 2. Storage: the buckets, EBS encryption by default. What the approver promotes (approved/)
    #    replicates into a model bucket in each inference region (_model_replicas): the
    #    inference account's where production runs in another account (only the approver writes
    #    approved/ then; the approver's role comes later, in step 6: its ARN is resolved there).
    model_lock = ObjectLock(mode="COMPLIANCE", days=tier.log_retention_days) if tier.s3_object_lock else None
    replicas, resolve_replication_role = _model_replicas(ctx, model_lock, promotes)
    # Replicating SSE-KMS objects needs named keys on both sides: a CMK where the tier would use
    # the AWS managed key (which no replication role can be granted either).
    model_key = ctx.key("models", region, required=bool(replicas))
    approver_arn, resolve_approver = pulumi.deferred_output() if promotes else (None, None)
    # Under GDPR an erased record's old versions expire within a month (compliance.ERASURE_DAYS).
    data_bucket = _bucket(ctx, f"{name}-training-data", "training-data", vpc,
                          **compliance.training_data_lifecycle(ctx.spec))
    model_bucket = _bucket(
        ctx, f"{name}-models", "models", vpc, only_writer_of_approved=approver_arn,
        object_lock=model_lock, kms_key=model_key,
        replicate_to=[Replica(bucket=b, prefix=APPROVED_PREFIX, other_account=promotes,
                              time_control=tier.model_replication_sla) for b in replicas.values()],
    )
    if resolve_replication_role is not None:
        resolve_replication_role(model_bucket.replication_role_arn)
    for serving_region in ctx.spec.inference_regions if ctx.spec.inference.enabled else ():
        source = replicas.get(serving_region, model_bucket)
        ctx.model_sources[serving_region] = ModelSource(
            bucket_name=source.bucket_name, bucket_arn=source.arn, prefix=APPROVED_PREFIX,
            kms_key_arn=source.kms_key.arn if source.kms_key is not None else None)
    if resolve_bucket_arns is not None:
        resolve_bucket_arns(pulumi.Output.all(data_bucket.arn, model_bucket.arn))
    ctx.data_buckets.update({"training-data": data_bucket, "models": model_bucket})
    aws.ebs.EncryptionByDefault(ctx.regional("ebs-encryption", region), enabled=True, opts=opts)
    if compute_key is not None:
        aws.ebs.DefaultKmsKey(ctx.regional("ebs-default-key", region), key_arn=compute_key.arn, opts=opts)

    # 3. The cluster and its nodes.
    cluster = platform.cluster(ctx, f"{name}-training", region, vpc)
    system_nodes = platform.system_nodes(ctx, f"{name}-training-system", region, cluster, vpc, addons=("coredns",))
    # GPU nodes in training.availabilityZone if set: the VPC spans it as its first zone (EFA pins
    # the nodes to one AZ, the first).
    gpu_subnets = vpc.private_subnet_ids if spec.availability_zone is None else vpc.private_subnet_ids[:1]
    gpu_nodes = NodeGroup(
        f"{name}-training-gpu",
        NodeGroupArgs(cluster=cluster, subnet_ids=gpu_subnets, vpc_id=vpc.vpc_id, instance_types=[spec.gpu_instance_type],
                      min_size=spec.min_nodes, max_size=spec.max_nodes,
                      capacity_type="SPOT" if spec.capacity == "spot" else "ON_DEMAND",
                      ebs_kms_key=compute_key, root_volume_gib=GPU_ROOT_VOLUME_GIB,
                      labels={"workload": "training"}, tags=ctx.tags),
        opts=opts,
    )
    schedule = _schedule(ctx, gpu_nodes)
    # Container Insights: the GPU use and node counts on the operations dashboard.
    ContainerInsights(f"{name}-training-insights", ContainerInsightsArgs(
        cluster=cluster, log_retention_days=tier.log_retention_days, log_kms_key=logs_key, stateful=ctx.stateful,
        tags=ctx.tags), opts=opts)

    # 4. Private images: nothing is pulled from the internet. Each add-on is copied into its mirror
    #    under its tag and referenced by tag and digest where the stack pins one (images.py).
    neuron_nodes = neuron(spec.gpu_instance_type)
    addons = addons_for(spec.gpu_instance_type, inference=False)
    repositories = {image: platform.mirror(ctx, f"{name}-training-{image}", region, f"training/{image}")
                    for image in ["trainer", *addons]}

    def image_ref(image: str) -> pulumi.Output[str]:
        addon = ctx.spec.addon_image(image)
        ctx.image_pushes.append(ImagePush(
            image=addon.upstream(addon.digest), region=region, account=ctx.role,
            push_to=pulumi.Output.concat(repositories[image].repository_url, addon.reference(None))))
        return pulumi.Output.concat(repositories[image].repository_url, addon.reference(addon.digest))

    ctx.image_pushes.append(ImagePush(image="(your fine-tuning image)", push_to=pulumi.Output.concat(
        repositories["trainer"].repository_url, ":<tag>"), region=region, account=ctx.role))

    platform.autoscaler(ctx, f"{name}-training-autoscaler", region, cluster, vpc,
                        image_ref("cluster-autoscaler"), skip_await=True)

    # 5. FSx for Lustre: /data linked to the training data, /models to the model bucket. Its
    #    clients are the nodes, which all carry the cluster security group.
    lustre = LustreFilesystem(
        f"{name}-training-lustre",
        LustreFilesystemArgs(
            vpc=vpc,
            client_security_group_ids=[cluster.cluster_security_group_id],
            storage_capacity_gib=spec.lustre_capacity_gib,
            per_unit_storage_throughput=LUSTRE_THROUGHPUT,
            kms_key=data_key,
            data_repositories=[
                DataRepository(bucket_name=data_bucket.bucket_name, file_system_path="/data", kms_key=data_key),
                # Models are only ever added: nothing deleted on Lustre deletes an artifact.
                DataRepository(bucket_name=model_bucket.bucket_name, file_system_path="/models",
                               import_events=("NEW",), export_events=("NEW", "CHANGED"), kms_key=model_key),
            ],
            log_retention_days=tier.log_retention_days,
            log_kms_key=logs_key,
            stateful=ctx.stateful,
            tags=ctx.tags,
        ),
        opts=opts,
    )

    # 6. People: IAM roles, mapped into Kubernetes by access entries.
    roles = _roles(ctx, cluster, data_bucket, model_bucket, data_key, model_key)
    if resolve_approver is not None:
        resolve_approver(roles.role_arns["approver"])

    # 7. The Kubernetes layer.
    namespace = TrainingNamespace(
        f"{name}-training-k8s",
        TrainingNamespaceArgs(
            cluster=cluster,
            # Every training image comes from a repository this stack creates (empty until the
            # images are copied in): do not hold the deployment waiting for them.
            skip_await=True,
            nvidia_device_plugin_image=image_ref("nvidia-device-plugin") if "nvidia-device-plugin" in addons else None,
            # Trainium nodes: the Neuron plugin advertises aws.amazon.com/neuron(core) there, and
            # the namespace's quota caps Neuron devices instead of GPUs.
            neuron_device_plugin_image=image_ref("neuron-device-plugin") if neuron_nodes else None,
            efa_device_plugin_image=image_ref("efa-device-plugin") if "efa-device-plugin" in addons else None,
            gpu_quota=spec.max_nodes * (neuron_devices_per_node if neuron_nodes else gpus_per_node)(spec.gpu_instance_type),
            accelerator_resource=NEURON_RESOURCE if neuron_nodes else GPU_RESOURCE,
            # AWS APIs over HTTPS anywhere: S3 answers through the gateway endpoint on its public
            # ranges, which a NetworkPolicy cannot name as a prefix list. Routing already confines
            # an air-gapped VPC to its endpoints (no internet gateway, no NAT), and tiers with NAT
            # allow egress anyway.
            https_egress_cidrs=["0.0.0.0/0"],
            lustre_cidrs=[vpc.cidr_block],
            operator_group=OPERATOR_GROUP,
            operator_role_arns=[roles.role_arns["fine-tune-operator"]],
            auditor_group=AUDITOR_GROUP,
            auditor_role_arns=[roles.role_arns["auditor"]],
            tags=ctx.tags,
        ),
        opts=opts,
    )


    # 8. DLP on the training data.
    macie = None
    if tier.macie:
        macie = MacieJob(f"{name}-training-data-dlp",
                         MacieJobArgs(bucket_names=[data_bucket.bucket_name], schedule="DAILY", tags=ctx.tags),
                         opts=opts)

    return Training(vpc=vpc, data_bucket=data_bucket, model_bucket=model_bucket, cluster=cluster, gpu_nodes=gpu_nodes,
                    system_nodes=system_nodes, repositories=repositories, lustre=lustre, namespace=namespace,
                    roles=roles, macie=macie, schedule=schedule, promoted_to=replicas if promotes else {})


def _schedule(ctx: BlueprintContext, gpu_nodes: NodeGroup) -> Optional[ScheduledCapacity]:
    """Off-peak training (`training.schedule`): the GPU node group's Auto Scaling group gets
    minNodes/maxNodes at scaleUp and 0/0 at scaleDown. Inside the window the Cluster Autoscaler
    sizes the group as before; outside it may add nothing (max 0), running nodes are removed at
    scaleDown (jobs still running are interrupted: checkpoint to /models), and pending jobs wait
    for the next window. EKS keeps the node group's own scaling config (Pulumi's): an update of
    the node group (a new launch template version, a Kubernetes upgrade) puts those sizes back on
    the Auto Scaling group until the next scheduled action, so roll updates inside the window."""
    spec = ctx.spec.training
    if spec.schedule is None:
        return None
    # EKS names the group and reports it on the node group (resources[0].autoscalingGroups[0].name).
    asg_name = gpu_nodes.node_group.resources.apply(lambda rs: rs[0].autoscaling_groups[0].name)
    return ScheduledCapacity(
        f"{ctx.name}-training-gpu-schedule",
        ScheduledCapacityArgs(autoscaling_group_name=asg_name, min_size=spec.min_nodes, max_size=spec.max_nodes,
                              scale_up=spec.schedule.scale_up, scale_down=spec.schedule.scale_down,
                              time_zone=spec.schedule.timezone),
        opts=ctx.opts(ctx.home),
    )


def _promotes(ctx: BlueprintContext) -> bool:
    """Approved models cross into another account: production inference runs, in an account of
    its own. Where training and inference share an account (the stack names none, or the same one
    twice) the training model bucket is already where production reads, and a copy would only
    cost."""
    serving = ctx.account("inference")
    return ctx.spec.inference.enabled and serving.aws_account != ctx.aws_account


def _model_replicas(ctx: BlueprintContext, model_lock: Optional[ObjectLock],
                    promotes: bool) -> tuple[dict[str, EncryptedBucket], Any]:
    """The model buckets `approved/` replicates into, by inference region, and the resolver of the
    replication role their policies admit (None where nothing needs it), so that each region's
    model servers read a copy in their own region and losing a region leaves the others serving:
    in the inference account, every inference region (_promotion); in one shared account, every
    inference region but the home one, whose servers read the training model bucket itself.
    Same residency by construction (the spec keeps every region inside it); each replica is
    encrypted under the models key of its region; S3 Replication Time Control where the tier
    promises it (model_replication_sla)."""
    if promotes:
        return _promotion(ctx, model_lock)
    if not ctx.spec.inference.enabled:
        return {}, None
    serving = ctx.account("inference")
    return {region: inference.model_bucket(serving, region, replicated_from=None, object_lock=model_lock)
            for region in ctx.spec.inference_regions if region != ctx.home}, None


def _promotion(ctx: BlueprintContext, model_lock: Optional[ObjectLock]) -> tuple[dict[str, EncryptedBucket], Any]:
    """The inference account's model bucket in each inference region (inference.model_bucket),
    built here because the training model bucket's replication names them, and the resolver of
    the replication role their policies admit (the role comes with the training bucket).

    What makes the copy least-privilege and encrypted end to end: only `approved/` replicates; the
    destination's policy admits exactly the training bucket's replication role; replicas are
    owned by the inference account (BucketOwnerEnforced, and the owner override on the rule) and
    encrypted under its models key in the region, which admits the training account
    (KmsKeyArgs.trusted_accounts), while the role's own policy names those keys and no other of
    that account's. Deletes do not replicate; where the tier locks the training model bucket the
    replicas are locked too."""
    serving = ctx.account("inference")
    role_arn, resolve = pulumi.deferred_output()
    buckets = {region: inference.model_bucket(serving, region, replicated_from=role_arn, object_lock=model_lock)
               for region in ctx.spec.inference_regions}
    return buckets, resolve


def _people_endpoint(ctx: BlueprintContext) -> tuple[Optional[S3InterfaceEndpoint], Any]:
    """The S3 interface endpoint people reach the air-gapped buckets through, and the resolver of
    the bucket ARNs its policy admits (the buckets come after the VPC); (None, None) where the
    tier needs none or `training.dataAccessCidrs` is empty.

    Why an interface endpoint rather than exempting the people roles from the endpoint rule: the
    data then never travels S3's public regional endpoint, not even over TLS from an MFA session;
    it goes from the people's network over the Transit Gateway / VPN / Direct Connect to private
    addresses in the training VPC, and the bucket policy still names exactly which endpoints may
    carry object traffic (aws:SourceVpce), so an exemption for a role (stolen session included)
    never turns into access from anywhere. Its security group admits HTTPS from
    `training.dataAccessCidrs` (default: deployerCidrs, already routed to the VPC) only."""
    cidrs = ctx.spec.data_access_cidrs
    if not cidrs:
        return None, None
    bucket_arns, resolve = pulumi.deferred_output()
    return S3InterfaceEndpoint(client_cidrs=cidrs, bucket_arns=bucket_arns), resolve


def _bucket(ctx: BlueprintContext, name: str, domain: str, vpc: IsolatedVpc, *,
            only_writer_of_approved: Optional[pulumi.Input[str]] = None, **overrides: Any) -> EncryptedBucket:
    """A stateful bucket; on air-gapped tiers its objects are served only through the training
    VPC's S3 endpoints: the gateway endpoint (the cluster, Lustre's nodes) and, where people have
    a path, the interface endpoint (_people_endpoint), which the people roles use from outside.

    The deny covers object reads and writes only: bucket configuration (policy, encryption,
    lifecycle) stays with the account's administrators and this program, wherever they run, so
    nobody is locked out of managing the bucket. FSx and Macie, which reach S3 from the AWS side
    through their service-linked roles, are exempt by aws:PrincipalArn; other service roles (the
    GuardDuty malware-scan role) by carrying the VPCE_EXEMPT_TAG principal tag. People are not
    exempt: the console cannot reach the objects, the CLI through the interface endpoint can.

    `only_writer_of_approved`: the one principal (the approver's role) that may write
    APPROVED_PREFIX, where that prefix reaches production (it replicates into the inference
    account): nobody else, not the ml-engineer, not Lustre's export of /models, puts a model there.
    """
    region = ctx.home
    statements: list[Any] = []
    resolve_arn = None
    if ctx.tier.air_gapped or only_writer_of_approved is not None:
        # The policy names the bucket, which the component creates: resolve its ARN afterwards.
        bucket_arn, resolve_arn = pulumi.deferred_output()
    if only_writer_of_approved is not None:
        statements.append({
            "Sid": "OnlyTheApproverPromotes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(bucket_arn, "/", APPROVED_PREFIX, "*"),
            # For a role's sessions aws:PrincipalArn is the role's ARN (IAM User Guide, "AWS
            # global condition context keys").
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": only_writer_of_approved}},
        })
    if ctx.tier.air_gapped:
        account, partition = ctx.account_id(region), ctx.partition(region)
        endpoints = [vpc.gateway_endpoint_ids["s3"]]
        if vpc.s3_interface_endpoint_id is not None:
            endpoints.append(vpc.s3_interface_endpoint_id)
        statements.append({
            "Sid": "DenyObjectAccessOutsideTrainingVpc",
            "Effect": "Deny",
            "Principal": "*",
            "Action": VPCE_ONLY_ACTIONS,
            "Resource": pulumi.Output.concat(bucket_arn, "/*"),
            "Condition": {
                # Deny unless the request came through one of the endpoints (StringNotEquals with
                # several values: true only when the key matches none of them).
                "StringNotEquals": {"aws:SourceVpce": endpoints[0] if len(endpoints) == 1 else endpoints,
                                    f"aws:PrincipalTag/{VPCE_EXEMPT_TAG[0]}": VPCE_EXEMPT_TAG[1]},
                "ArnNotLike": {"aws:PrincipalArn": [
                    pulumi.Output.concat("arn:", partition, ":iam::", account, ":role/aws-service-role/", role)
                    for role in EXEMPT_SERVICE_ROLES
                ]},
            },
        })
    bucket = EncryptedBucket(name, ctx.bucket_args(domain, region, policy_statements=statements, **overrides),
                             opts=ctx.opts(region, stateful=True))
    if resolve_arn is not None:
        resolve_arn(bucket.arn)
    return bucket


def _roles(ctx: BlueprintContext, cluster: EksCluster, data_bucket: EncryptedBucket, model_bucket: EncryptedBucket,
           data_key: Optional[KmsKey], model_key: Optional[KmsKey]) -> IamRoles:
    """ml-engineer (prepares and starts fine-tuning through fine-tune-operator), approver
    (promotes candidate models), auditor (reads configuration and trails, never data).

    People assume ml-engineer, approver and auditor from the account with MFA; fine-tune-operator
    only from ml-engineer. Every role is capped by one permissions boundary over the training
    resources."""
    region = ctx.home
    account, partition = ctx.account_id(region), ctx.partition(region)
    eks_children = pulumi.Output.concat("arn:", partition, ":eks:", region, ":", account, ":*/", cluster.cluster_name, "/*")
    data_objects = pulumi.Output.concat(data_bucket.arn, "/*")
    model_objects = pulumi.Output.concat(model_bucket.arn, "/*")
    candidates = pulumi.Output.concat(model_bucket.arn, "/", CANDIDATES_PREFIX, "*")
    approved = pulumi.Output.concat(model_bucket.arn, "/", APPROVED_PREFIX, "*")
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}

    def describe_cluster() -> dict[str, Any]:
        return {"Sid": "FindTheCluster", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": cluster.cluster_arn}

    def key_use(keys: list[Optional[KmsKey]], actions: list[str]) -> list[dict[str, Any]]:
        arns = [k.arn for k in keys if k is not None]
        return [{"Sid": "UseKeysThroughS3", "Effect": "Allow", "Action": actions, "Resource": arns,
                 "Condition": via_s3}] if arns else []

    def list_prefix(bucket: EncryptedBucket, prefixes: list[str]) -> dict[str, Any]:
        return {"Sid": "ListModelPrefixes", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket.arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}}

    macie_read = ["macie2:ListFindings", "macie2:GetFindings", "macie2:GetFindingStatistics",
                  "macie2:DescribeClassificationJob", "macie2:ListClassificationJobs"] if ctx.tier.macie else []
    roles = [
        RoleDefinition(
            key="ml-engineer",
            description="Prepares training data and starts fine-tuning (through fine-tune-operator)",
            statements=[
                describe_cluster(),
                {"Sid": "ReadTrainingData", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                 "Resource": [data_bucket.arn, data_objects]},
                # Loading data is preparing it: new objects reach /data on Lustre by auto-import.
                # No delete: versioning (from internal up) keeps what was overwritten.
                {"Sid": "LoadTrainingData", "Effect": "Allow", "Action": "s3:PutObject", "Resource": data_objects},
                list_prefix(model_bucket, [CANDIDATES_PREFIX]),
                {"Sid": "WriteCandidateModels", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                 "Resource": candidates},
                *key_use([data_key, model_key], ["kms:Decrypt", "kms:GenerateDataKey"]),
            ],
        ),
        RoleDefinition(
            key="fine-tune-operator",
            description=f"Runs fine-tuning Jobs in the training namespace (Kubernetes group {OPERATOR_GROUP})",
            statements=[describe_cluster()],
            assumed_by="ml-engineer",
        ),
        RoleDefinition(
            key="approver",
            description="Reviews candidate models and DLP findings; promotes approved models",
            statements=[
                describe_cluster(),
                list_prefix(model_bucket, [CANDIDATES_PREFIX, APPROVED_PREFIX]),
                {"Sid": "ReadModels", "Effect": "Allow", "Action": "s3:GetObject", "Resource": [candidates, approved]},
                {"Sid": "PromoteModels", "Effect": "Allow", "Action": "s3:PutObject", "Resource": approved},
                *key_use([model_key], ["kms:Decrypt", "kms:GenerateDataKey"]),
                *([{"Sid": "ReadDlpFindings", "Effect": "Allow", "Action": macie_read, "Resource": "*"}]
                  if macie_read else []),
            ],
        ),
        RoleDefinition(
            key="auditor",
            description=f"Read-only: cluster, access and bucket configuration, trails (Kubernetes group {AUDITOR_GROUP})",
            statements=[
                {"Sid": "ReadCluster", "Effect": "Allow",
                 "Action": ["eks:DescribeCluster", "eks:ListNodegroups", "eks:DescribeNodegroup", "eks:ListAddons",
                            "eks:DescribeAddon", "eks:ListAccessEntries", "eks:DescribeAccessEntry",
                            "eks:ListAssociatedAccessPolicies"],
                 "Resource": [cluster.cluster_arn, eks_children]},
                {"Sid": "ReadControlPlaneLogs", "Effect": "Allow",
                 "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"],
                 "Resource": [cluster.log_group_arn, pulumi.Output.concat(cluster.log_group_arn, ":*")]},
                {"Sid": "ReadBucketConfiguration", "Effect": "Allow",
                 "Action": ["s3:GetBucketPolicy", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration",
                            "s3:GetBucketPublicAccessBlock", "s3:GetBucketLogging", "s3:GetBucketObjectLockConfiguration"],
                 "Resource": [data_bucket.arn, model_bucket.arn]},
                {"Sid": "LookUpTrails", "Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"},
            ],
        ),
    ]
    key_arns = [k.arn for k in (data_key, model_key) if k is not None]
    boundary = [
        {"Sid": "TrainingCluster", "Effect": "Allow", "Action": ["eks:Describe*", "eks:List*"],
         "Resource": [cluster.cluster_arn, eks_children]},
        {"Sid": "TrainingBuckets", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject",
                                                                  "s3:GetBucket*", "s3:GetEncryptionConfiguration"],
         "Resource": [data_bucket.arn, data_objects, model_bucket.arn, model_objects]},
        {"Sid": "ControlPlaneLogs", "Effect": "Allow",
         "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"],
         "Resource": [cluster.log_group_arn, pulumi.Output.concat(cluster.log_group_arn, ":*")]},
        {"Sid": "Trails", "Effect": "Allow", "Action": ["cloudtrail:LookupEvents", *macie_read], "Resource": "*"},
        *([{"Sid": "TrainingKeys", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arns, "Condition": via_s3}] if key_arns else []),
    ]
    return IamRoles(f"{ctx.name}-training", IamRolesArgs(roles=roles, boundary_statements=boundary, tags=ctx.tags),
                    opts=ctx.opts(region))
