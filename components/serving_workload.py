"""A GPU model server on Kubernetes: namespace, hardened Deployment, NodePort Service, HPA, PDB,
NetworkPolicies that admit only the load-balancer path, optionally the NVIDIA device plugin, and
optionally read access to the model's S3 prefix (a Pod Identity role).

The HPA owns the replica count: the Deployment leaves `spec.replicas` unset (Kubernetes starts
one pod, the HPA raises it to `min_replicas` at once) and ignores changes to it, so an update
never resets a scaled-out server. The Deployment waits for the GPU node group and the device
plugin and allows 30 minutes to create or roll out (GPU nodes and multi-GB model images are slow)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._base import ASSUME_AND_TAG_SESSION, Component, SKIP_AWAIT, check_range, merge_tags
from components.eks_cluster import EksCluster
# The device-plugin DaemonSet the training namespace also runs (one hardened definition).
from components.device_plugin import nvidia_device_plugin
from components.node_group import GPU_RESOURCE, GPU_TAINT_KEY, NodeGroup

core, apps, meta = k8s.core.v1, k8s.apps.v1, k8s.meta.v1
# Starting a GPU node and pulling a large model image take far longer than the provider's default
# 10-minute wait for a Deployment.
ROLLOUT_TIMEOUT = "30m"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class ModelSource:
    """The S3 prefix the server loads its model from (ServingWorkloadArgs.model_source), in the
    workload's own region so that a region serves without any other."""

    bucket_name: pulumi.Input[str]
    """The bucket, told to the server as MODEL_BUCKET. Required."""
    bucket_arn: pulumi.Input[str]
    """Its ARN, for the read policy. Required."""
    prefix: str
    """The key prefix the server may list and read (MODEL_PREFIX), e.g. "approved/". Required."""
    kms_key_arn: Optional[pulumi.Input[str]] = None
    """The CMK the objects are encrypted under: the role may decrypt with it through S3 in this
    region only (kms:ViaService). Default None: SSE-S3 or the AWS managed key."""


@dataclass(frozen=True, kw_only=True)
class ServingWorkloadArgs:
    cluster: EksCluster
    """The cluster to deploy to (its `k8s_provider`). Required."""
    image: pulumi.Input[str]
    """Model-server image, pinned by tag or digest (e.g. a private mirror's
    `<repository_url>:<tag>`). Required."""
    model_version: str
    """Exposed to the server as MODEL_VERSION and as a pod label. Required."""
    namespace: str = "inference"
    """Namespace created for the workload. Default "inference"."""
    app_name: str = "model-server"
    """Name of the Deployment, Service, HPA, PDB and pod label `app`. Default "model-server"."""
    container_port: int = 8080
    """Port the server listens on (HTTP). Default 8080."""
    node_port: int = 30080
    """Fixed NodePort (30000-32767) the load balancer targets on every GPU node. Default 30080."""
    health_path: str = "/health"
    """HTTP path of the liveness and readiness probes. Default /health."""
    min_replicas: int = 2
    """HPA minimum. Default 2. The Deployment sets no replica count of its own (the HPA owns it)."""
    max_replicas: int = 10
    """HPA maximum. Default 10."""
    target_cpu_utilization: int = 70
    """HPA target average CPU utilisation, percent. Default 70."""
    gpus_per_replica: int = 1
    """`nvidia.com/gpu` request and limit per pod. Default 1."""
    cpu_request: str = "2"
    """CPU request per pod. Default 2 cores."""
    memory: str = "12Gi"
    """Memory request and limit per pod. Default 12Gi."""
    scratch_size: str = "8Gi"
    """Size of the writable emptyDir at /tmp (the root filesystem is read-only). Default 8Gi."""
    gpu_taint_key: Optional[str] = GPU_TAINT_KEY
    """Key of the NoSchedule taint on GPU nodes (value "true") that the pods tolerate. Default
    nvidia.com/gpu; None: no toleration."""
    device_plugin_image: Optional[pulumi.Input[str]] = None
    """NVIDIA Kubernetes device plugin image (nvcr.io/nvidia/k8s-device-plugin or a private
    mirror). When set, a DaemonSet in kube-system on the nodes labelled nvidia.com/gpu.present
    advertises `nvidia.com/gpu` (the EKS AL2023 NVIDIA AMI ships drivers but not the plugin).
    Default None: the cluster already runs one (e.g. a training namespace on the same cluster);
    without any plugin the pods never schedule."""
    node_group: Optional[NodeGroup] = None
    """The GPU node group the pods run on: the Deployment is created after its EKS node group.
    Default None: no such dependency (the nodes exist already)."""
    skip_await: bool = False
    """Annotate the Deployment and the device-plugin DaemonSet `pulumi.com/skipAwait: "true"`.
    Set it when `image` / `device_plugin_image` live in a repository this same stack creates:
    it is empty until the images are copied in, so the pods cannot become Ready during the first
    `pulumi up`. Default off: Pulumi waits for the rollout."""
    ingress_cidrs: Sequence[pulumi.Input[str]] = ()
    """Source CIDRs admitted on `container_port` (the load balancer's VPC). Default none: every
    ingress to the pods is denied."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object."""
    model_source: Optional[ModelSource] = None
    """Where the model comes from: the pods' ServiceAccount gets, through EKS Pod Identity, a role
    that lists and reads exactly that prefix (and decrypts it through S3), and the server is told
    MODEL_BUCKET, MODEL_PREFIX and AWS_REGION. Default None: the image carries the model and the
    pods get no AWS credentials at all."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """AWS tags on the model-reader role and its Pod Identity association."""


class ServingWorkload(Component):
    """Everything the model server needs inside the cluster, in its own namespace."""

    namespace: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    hpa_name: pulumi.Output[str]
    node_port: int

    def __init__(self, name: str, args: ServingWorkloadArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("kubernetes", "ServingWorkload", name, opts)
        check_range(name, "node_port", args.node_port, 30000, 32767)
        if not 1 <= args.min_replicas <= args.max_replicas:
            raise ValueError(f"{name}: need 1 <= min_replicas <= max_replicas, got {args.min_replicas}..{args.max_replicas}")
        for label, value in (("namespace", args.namespace), ("app_name", args.app_name)):
            if not _DNS_LABEL.match(value):
                raise ValueError(f"{name}: {label} must be a DNS label (lowercase, digits, '-'), got {value!r}")
        self.node_port = args.node_port
        k8s_opts = dict(provider=args.cluster.k8s_provider)
        selector = {"app": args.app_name}
        labels = {**dict(args.labels), **selector, "app.kubernetes.io/managed-by": "pulumi"}

        ns = core.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(name=args.namespace, labels={**labels, "pod-security.kubernetes.io/enforce": "restricted"}),
            opts=self.child(**k8s_opts),
        )
        md = lambda: meta.ObjectMetaArgs(name=args.app_name, namespace=ns.metadata.name, labels=labels)  # noqa: E731
        account = core.ServiceAccount(
            f"{name}-service-account", metadata=md(), automount_service_account_token=False, opts=self.child(**k8s_opts))
        annotations = SKIP_AWAIT if args.skip_await else None
        # The pods need a GPU node and `nvidia.com/gpu` advertised before they can start, and
        # their model-reading credentials.
        after: list[pulumi.Resource] = [args.node_group.node_group] if args.node_group else []
        if args.model_source is not None:
            after.append(self._model_reader(name, args, ns, account))
        if args.device_plugin_image is not None:
            after.append(nvidia_device_plugin(f"{name}-nvidia-device-plugin", args.device_plugin_image,
                                              self.child(**k8s_opts), annotations))
        deployment = apps.Deployment(
            f"{name}-deployment",
            metadata=meta.ObjectMetaArgs(name=args.app_name, namespace=ns.metadata.name, labels=labels,
                                         annotations=annotations),
            spec=apps.DeploymentSpecArgs(
                selector=meta.LabelSelectorArgs(match_labels=selector),
                strategy=apps.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=apps.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0)),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels={**labels, "model-version": args.model_version}),
                    spec=self._pod_spec(args, account.metadata.name, selector),
                ),
            ),
            opts=self.child(depends_on=after, ignore_changes=["spec.replicas"],
                            custom_timeouts=pulumi.CustomTimeouts(create=ROLLOUT_TIMEOUT, update=ROLLOUT_TIMEOUT),
                            **k8s_opts),
        )
        service = core.Service(
            f"{name}-service",
            metadata=md(),
            spec=core.ServiceSpecArgs(
                type="NodePort",
                selector=selector,
                # Local: a node answers the NLB health check only while it runs a ready pod.
                external_traffic_policy="Local",
                ports=[core.ServicePortArgs(name="http", port=args.container_port, target_port=args.container_port,
                                            node_port=args.node_port, protocol="TCP")],
            ),
            opts=self.child(**k8s_opts),
        )
        hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=md(),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment.metadata.name),
                min_replicas=args.min_replicas,
                max_replicas=args.max_replicas,
                metrics=[k8s.autoscaling.v2.MetricSpecArgs(
                    type="Resource",
                    resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                        name="cpu",
                        target=k8s.autoscaling.v2.MetricTargetArgs(
                            type="Utilization", average_utilization=args.target_cpu_utilization)),
                )],
            ),
            opts=self.child(**k8s_opts),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=md(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=meta.LabelSelectorArgs(match_labels=selector)),
            opts=self.child(**k8s_opts),
        )
        self._create_network_policies(name, args, ns, labels, selector, k8s_opts)

        self.namespace = ns.metadata.name
        self.deployment_name = deployment.metadata.name
        self.service_name = service.metadata.name
        self.hpa_name = hpa.metadata.name
        self.register_outputs({
            "namespace": self.namespace,
            "deployment_name": self.deployment_name,
            "service_name": self.service_name,
            "hpa_name": self.hpa_name,
            "node_port": self.node_port,
        })

    def _pod_spec(self, args: ServingWorkloadArgs, account: pulumi.Output[str], selector: dict) -> core.PodSpecArgs:
        gpus = str(args.gpus_per_replica)
        probe = lambda delay, failures: core.ProbeArgs(  # noqa: E731
            http_get=core.HTTPGetActionArgs(path=args.health_path, port=args.container_port),
            initial_delay_seconds=delay, period_seconds=10, timeout_seconds=5, failure_threshold=failures)
        return core.PodSpecArgs(
            service_account_name=account,
            automount_service_account_token=False,
            security_context=core.PodSecurityContextArgs(
                run_as_non_root=True, run_as_user=10001, run_as_group=10001, fs_group=10001,
                seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault")),
            tolerations=[core.TolerationArgs(key=args.gpu_taint_key, operator="Equal", value="true",
                                             effect="NoSchedule")] if args.gpu_taint_key else None,
            topology_spread_constraints=[core.TopologySpreadConstraintArgs(
                max_skew=1, topology_key="topology.kubernetes.io/zone", when_unsatisfiable="ScheduleAnyway",
                label_selector=meta.LabelSelectorArgs(match_labels=selector))],
            containers=[core.ContainerArgs(
                name=args.app_name,
                image=args.image,
                image_pull_policy="IfNotPresent",
                ports=[core.ContainerPortArgs(name="http", container_port=args.container_port, protocol="TCP")],
                env=[core.EnvVarArgs(name="MODEL_VERSION", value=args.model_version),
                     core.EnvVarArgs(name="PORT", value=str(args.container_port)),
                     *self._model_env(args.model_source)],
                resources=core.ResourceRequirementsArgs(
                    requests={"cpu": args.cpu_request, "memory": args.memory, GPU_RESOURCE: gpus},
                    limits={"memory": args.memory, GPU_RESOURCE: gpus},
                ),
                # Model loading takes a while: liveness waits longer than readiness.
                readiness_probe=probe(15, 3),
                liveness_probe=probe(120, 6),
                security_context=core.SecurityContextArgs(
                    run_as_non_root=True,
                    read_only_root_filesystem=True,
                    allow_privilege_escalation=False,
                    privileged=False,
                    capabilities=core.CapabilitiesArgs(drop=["ALL"]),
                    seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
                ),
                volume_mounts=[core.VolumeMountArgs(name="scratch", mount_path="/tmp")],
            )],
            volumes=[core.VolumeArgs(name="scratch", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=args.scratch_size))],
        )

    def _model_reader(self, name: str, args: ServingWorkloadArgs, ns: core.Namespace,
                      account: core.ServiceAccount) -> aws.eks.PodIdentityAssociation:
        """The role the pods read their model prefix with, bound to their ServiceAccount through
        EKS Pod Identity (the cluster runs the eks-pod-identity-agent add-on). The agent's webhook
        mounts its own projected token into the pods, so the Kubernetes API token stays unmounted
        (EKS user guide, "Learn how EKS Pod Identity grants pods access to AWS services")."""
        source = args.model_source
        assert source is not None
        role = self.service_role("model-reader", "pods.eks.amazonaws.com", tags=args.tags,
                                 actions=ASSUME_AND_TAG_SESSION, condition=self.source_account_condition())
        statements: list[dict] = [
            {"Sid": "ListModelPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": source.bucket_arn,
             "Condition": {"StringLike": {"s3:prefix": [f"{source.prefix}*"]}}},
            {"Sid": "ReadModelPrefix", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": pulumi.Output.concat(source.bucket_arn, "/", source.prefix, "*")},
        ]
        if source.kms_key_arn is not None:
            statements.append({
                "Sid": "DecryptModelsThroughS3", "Effect": "Allow", "Action": "kms:Decrypt",
                "Resource": source.kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": pulumi.Output.concat("s3.", self.aws_region,
                                                                                      ".amazonaws.com")}},
            })
        policy = self.role_policy("model-reader", role, statements)
        return aws.eks.PodIdentityAssociation(
            f"{name}-model-reader",
            cluster_name=args.cluster.cluster_name,
            namespace=ns.metadata.name,
            service_account=account.metadata.name,
            role_arn=role.arn,
            tags=merge_tags(f"{name}-model-reader", args.tags),
            opts=self.child(depends_on=[policy]),
        )

    def _model_env(self, source: Optional[ModelSource]) -> list[core.EnvVarArgs]:
        if source is None:
            return []
        return [core.EnvVarArgs(name="MODEL_BUCKET", value=source.bucket_name),
                core.EnvVarArgs(name="MODEL_PREFIX", value=source.prefix),
                # The SDK's region without an IMDS lookup (the nodes' hop limit is 1).
                core.EnvVarArgs(name="AWS_REGION", value=self.aws_region)]

    def _create_network_policies(self, name: str, args: ServingWorkloadArgs, ns: core.Namespace, labels: dict,
                                 selector: dict, k8s_opts: dict) -> None:
        net = k8s.networking.v1
        net.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta.ObjectMetaArgs(name="default-deny-ingress", namespace=ns.metadata.name, labels=labels),
            spec=net.NetworkPolicySpecArgs(pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress"]),
            opts=self.child(**k8s_opts),
        )
        net.NetworkPolicy(
            f"{name}-allow-load-balancer",
            metadata=meta.ObjectMetaArgs(name=f"{args.app_name}-from-load-balancer", namespace=ns.metadata.name,
                                         labels=labels),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress"],
                ingress=[net.NetworkPolicyIngressRuleArgs(
                    from_=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr)) for cidr in args.ingress_cidrs],
                    ports=[net.NetworkPolicyPortArgs(port=args.container_port, protocol="TCP")],
                )] if args.ingress_cidrs else [],
            ),
            opts=self.child(**k8s_opts),
        )
