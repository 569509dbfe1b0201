"""What every component shares: the type-token scheme, child options, tag merging, the account,
partition and region lookups, and the children many components create alike (service roles and
their policies, retained log groups, single-file Lambda functions)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:  # kms_key imports this module
    from components.kms_key import KmsKey

# CloudWatch Logs accepts only these retention periods, in days (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
# The trust actions EKS (the cluster role) and EKS Pod Identity need: session tags carry the
# cluster, namespace and service account.
ASSUME_AND_TAG_SESSION = ("sts:AssumeRole", "sts:TagSession")
# Kubernetes metadata annotation telling Pulumi not to wait for a workload to become Ready. For
# Deployments/DaemonSets whose image lives in a repository the same stack creates: it is empty
# until someone copies the image in, so the first `pulumi up` would time out on pods that cannot pull.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


@dataclass(frozen=True, kw_only=True)
class StatefulOptions:
    """How a component treats the stateful resources inside it (log groups, file systems):
    the data that outlives a `pulumi destroy` mistake."""

    protect: bool = True
    """Refuse to delete them. Default on."""
    retain_on_delete: bool = False
    """Leave them in the account when Pulumi deletes them. Default off."""


@dataclass(frozen=True, kw_only=True)
class LambdaVpcConfig:
    """Where a Lambda function's network interfaces go (`Component.lambda_function`)."""

    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets, one per Availability Zone the function may run in. Required, at least one."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Security groups of the interfaces (their egress rules are all the function may reach).
    Required, 1-5 (Lambda's limit)."""


class Component(pulumi.ComponentResource):
    """A ComponentResource typed `aiblueprints:<module>:<Type>`.

    `protect` set on the component's options is inherited by every child (Pulumi does that);
    `retain_on_delete` is not, so `child()` carries it down explicitly. That way a blueprint
    marks a stateful component once and every resource inside it is kept.
    """

    def __init__(self, module: str, type_name: str, name: str, opts: Optional[pulumi.ResourceOptions]):
        super().__init__(f"aiblueprints:{module}:{type_name}", name, None, opts)
        self._name = name
        self._retain = opts.retain_on_delete if opts is not None else None

    def child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child resource: parented to this component, retention carried down."""
        return pulumi.ResourceOptions(parent=self, retain_on_delete=self._retain, **kwargs)

    def stateful_child(self, stateful: StatefulOptions, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a stateful child (a log group, a file system) inside a component that is
        otherwise disposable."""
        return pulumi.ResourceOptions(
            parent=self,
            protect=stateful.protect,
            retain_on_delete=stateful.retain_on_delete or self._retain,
            **kwargs,
        )

    def invoke_opts(self) -> pulumi.InvokeOutputOptions:
        """Invoke options that use this component's provider (its region)."""
        return pulumi.InvokeOutputOptions(parent=self)

    # -- the account, partition and region, asked once per component through its provider ----
    @functools.cached_property
    def aws_account_id(self) -> pulumi.Output[str]:
        """The deploying account's id (getCallerIdentity through this component's provider)."""
        return aws.get_caller_identity_output(opts=self.invoke_opts()).account_id

    @functools.cached_property
    def aws_partition(self) -> pulumi.Output[str]:
        """The partition (`aws`, `aws-cn`, `aws-us-gov`) of this component's provider."""
        return aws.get_partition_output(opts=self.invoke_opts()).partition

    @functools.cached_property
    def aws_region(self) -> pulumi.Output[str]:
        """The region (e.g. `eu-west-1`) of this component's provider."""
        return aws.get_region_output(opts=self.invoke_opts()).region

    def source_account_condition(self) -> dict[str, Any]:
        """The trust-policy Condition that lets a service act for this account only (the
        confused-deputy guard): `StringEquals aws:SourceAccount <account id>`."""
        return {"StringEquals": {"aws:SourceAccount": self.aws_account_id}}

    # -- shared children -------------------------------------------------------------
    def service_role(
        self,
        suffix: str,
        service: pulumi.Input[str],
        *,
        tags: Optional[Mapping[str, str]],
        extra_tags: Optional[Mapping[str, str]] = None,
        actions: Union[str, Sequence[str]] = "sts:AssumeRole",
        condition: Optional[Mapping[str, Any]] = None,
    ) -> aws.iam.Role:
        """An IAM role `<name>-<suffix>` that only the AWS service principal `service` (e.g.
        "lambda.amazonaws.com") may assume.

        `actions`: the trust statement's Action, "sts:AssumeRole" (default) or a list such as
        ASSUME_AND_TAG_SESSION. `condition`: the statement's Condition, e.g.
        `self.source_account_condition()`; default None: no condition. Tagged Name=<name>-<suffix>,
        then `tags`, then `extra_tags`. Permissions are attached by the caller (`role_policy`,
        `managed_policy`)."""
        logical = f"{self._name}-{suffix}"
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": actions if isinstance(actions, str) else list(actions),
        }
        if condition is not None:
            statement["Condition"] = condition
        return aws.iam.Role(
            logical,
            assume_role_policy=policy_json([statement]),
            tags=merge_tags(logical, tags, extra_tags),
            opts=self.child(),
        )

    def role_policy(self, suffix: str, role: aws.iam.Role, statements: list[Any]) -> aws.iam.RolePolicy:
        """The inline policy `<name>-<suffix>` of `role`, from statements that may hold Outputs."""
        return aws.iam.RolePolicy(
            f"{self._name}-{suffix}", role=role.id, policy=policy_json(statements), opts=self.child()
        )

    def managed_policy(self, suffix: str, role: aws.iam.Role, policy: str) -> aws.iam.RolePolicyAttachment:
        """Attach the AWS managed policy `arn:<partition>:iam::aws:policy/<policy>` (e.g.
        "AmazonEKSClusterPolicy", "service-role/...") to `role` as `<name>-<suffix>`."""
        return aws.iam.RolePolicyAttachment(
            f"{self._name}-{suffix}",
            role=role.name,
            policy_arn=pulumi.Output.concat("arn:", self.aws_partition, ":iam::aws:policy/", policy),
            opts=self.child(),
        )

    def log_group(
        self,
        suffix: str,
        log_name: pulumi.Input[str],
        *,
        retention_days: int,
        kms_key: Optional["KmsKey"],
        stateful: StatefulOptions,
        tags: Optional[Mapping[str, str]],
        retention_arg: str = "log_retention_days",
    ) -> aws.cloudwatch.LogGroup:
        """The CloudWatch log group `log_name` as the stateful child `<name>-<suffix>`: created
        before the service that writes to it, so retention and encryption hold from the first line.

        `retention_days`: one of LOG_RETENTION_DAYS, else ValueError naming `retention_arg` (the
        component argument it came from; default "log_retention_days"). `kms_key`: its CMK; None:
        CloudWatch's service-owned encryption. `stateful`: protection and retention of the group.
        Tagged Name=<name>-<suffix>, then `tags`."""
        check_log_retention(self._name, retention_arg, retention_days)
        logical = f"{self._name}-{suffix}"
        return aws.cloudwatch.LogGroup(
            logical,
            name=log_name,
            retention_in_days=retention_days,
            kms_key_id=kms_key.arn if kms_key else None,
            tags=merge_tags(logical, tags),
            opts=self.stateful_child(stateful),
        )

    def lambda_function(
        self,
        suffix: str,
        *,
        source: Path,
        description: str,
        variables: Mapping[str, pulumi.Input[str]],
        timeout: int,
        retention_days: int,
        kms_key: Optional["KmsKey"],
        stateful: StatefulOptions,
        tags: Optional[Mapping[str, str]],
        function_name: Optional[str] = None,
        runtime: str = "python3.12",
        memory_size: int = 256,
        tracing: bool = False,
        vpc_config: Optional[LambdaVpcConfig] = None,
        reserved_concurrency: Optional[int] = None,
    ) -> aws.lambda_.Function:
        """An arm64 Lambda function `<name>-<suffix>` (named `function_name`, default the same)
        running the single file `source` as handler.py (entry point `handler.handler`; only that
        file is zipped, never __pycache__), with its children:

        - `<name>-<suffix>-logs`: its log group /aws/lambda/<function name> (`retention_days`,
          validated as `log_retention_days`; `kms_key`; `stateful`), JSON log format;
        - `<name>-<suffix>-role`: a role only lambda.amazonaws.com acting for this account may
          assume (`source_account_condition`);
        - `<name>-<suffix>-policy`: write its own log streams, kms:Decrypt on `kms_key` (which
          encrypts `variables`; None: Lambda's AWS managed key), and X-Ray writes when `tracing`
          (active tracing).

        `memory_size` in MB. `vpc_config`: run in those subnets with those security groups, the
        policy then also lets Lambda manage the function's network interfaces there
        (`vpc_network_interface_statements`); default None: not in a VPC. `reserved_concurrency`:
        the most instances that may run at once (also reserved from the account's pool); default
        None: unreserved. Created after its policy; tagged Name=<name>-<suffix>, then `tags`."""
        logical = f"{self._name}-{suffix}"
        name = function_name or logical
        if vpc_config is not None:
            # Lambda's VpcConfig: at most 16 subnets and 5 security groups (Lambda API reference, VpcConfig).
            check_range(logical, "vpc_config.subnet_ids (count)", len(vpc_config.subnet_ids), 1, 16)
            check_range(logical, "vpc_config.security_group_ids (count)", len(vpc_config.security_group_ids), 1, 5)
        if reserved_concurrency is not None and reserved_concurrency < 0:
            raise ValueError(f"{logical}: reserved_concurrency must be 0 or more, got {reserved_concurrency}")
        log_group = self.log_group(f"{suffix}-logs", f"/aws/lambda/{name}", retention_days=retention_days,
                                   kms_key=kms_key, stateful=stateful, tags=tags)
        role = self.service_role(f"{suffix}-role", "lambda.amazonaws.com", tags=tags,
                                 condition=self.source_account_condition())
        allowed: list[Any] = [{
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(log_group.arn, ":log-stream:*"),
        }]
        if kms_key is not None:
            allowed.append({"Sid": "DecryptEnvironment", "Effect": "Allow", "Action": "kms:Decrypt",
                            "Resource": kms_key.arn})
        if tracing:
            allowed.append({"Sid": "WriteTraces", "Effect": "Allow",
                            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"})
        if vpc_config is not None:
            allowed.extend(self.vpc_network_interface_statements(vpc_config))
        policy = self.role_policy(f"{suffix}-policy", role, allowed)
        return aws.lambda_.Function(
            logical,
            name=name,
            description=description,
            role=role.arn,
            runtime=runtime,
            architectures=["arm64"],
            handler="handler.handler",
            code=pulumi.AssetArchive({"handler.py": pulumi.FileAsset(str(source))}),
            timeout=timeout,
            memory_size=memory_size,
            kms_key_arn=kms_key.arn if kms_key else None,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(variables)),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active") if tracing else None,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(vpc_config.subnet_ids), security_group_ids=list(vpc_config.security_group_ids),
            ) if vpc_config is not None else None,
            reserved_concurrent_executions=reserved_concurrency,
            tags=merge_tags(logical, tags),
            opts=self.child(depends_on=[policy]),
        )

    def vpc_network_interface_statements(self, vpc_config: LambdaVpcConfig) -> list[Any]:
        """What AWSLambdaVPCAccessExecutionRole grants for network interfaces, scoped to this
        account and region, and creation to the function's subnets and security groups
        (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html, "Required IAM
        permissions"). The Describe actions support no resource-level permissions: Lambda's
        guide requires `"Resource": "*"` for DescribeNetworkInterfaces. Lambda uses them to create
        the function's interfaces when it creates or updates the function, not to invoke it."""
        ec2 = pulumi.Output.concat("arn:", self.aws_partition, ":ec2:", self.aws_region, ":", self.aws_account_id, ":")
        interfaces = pulumi.Output.concat(ec2, "network-interface/*")
        return [
            {"Sid": "DescribeNetworkInterfaces", "Effect": "Allow",
             "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], "Resource": "*"},
            {"Sid": "CreateNetworkInterfaces", "Effect": "Allow", "Action": "ec2:CreateNetworkInterface",
             "Resource": [interfaces,
                          *[pulumi.Output.concat(ec2, "subnet/", s) for s in vpc_config.subnet_ids],
                          *[pulumi.Output.concat(ec2, "security-group/", g) for g in vpc_config.security_group_ids]]},
            {"Sid": "ManageNetworkInterfaces", "Effect": "Allow",
             "Action": ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses"],
             "Resource": interfaces},
        ]


def merge_tags(name: str, common: Optional[Mapping[str, str]], extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Tags in the house order: Name, then the common tags, then per-resource tags."""
    return {"Name": name, **dict(common or {}), **dict(extra or {})}


def policy_json(statements: list[Any]) -> pulumi.Output[str]:
    """A JSON IAM policy document from statements that may hold Outputs."""
    return pulumi.Output.from_input({"Version": "2012-10-17", "Statement": statements}).apply(
        lambda doc: json.dumps(doc, sort_keys=True)
    )


def check_range(name: str, arg: str, value: float, low: float, high: float) -> None:
    """Raise ValueError naming the component, the argument and AWS's allowed range when
    `value` lies outside [low, high]."""
    if not low <= value <= high:
        raise ValueError(f"{name}: {arg} must be {low}-{high}, got {value}")


def check_log_retention(name: str, arg: str, days: int) -> None:
    """Raise ValueError naming the component and the argument when `days` is not a retention
    CloudWatch Logs accepts (LOG_RETENTION_DAYS)."""
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"{name}: {arg} must be one of {LOG_RETENTION_DAYS}")


def bounded_name(name: str, limit: int) -> str:
    """`name` if it fits `limit` characters, else its head plus an 8-character hash of the whole,
    so that long names stay unique and readable (load balancers allow 32 characters, Route 53
    caller references 38)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"
