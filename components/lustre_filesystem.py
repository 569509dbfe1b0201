"""FSx for Lustre (PERSISTENT_2) in a private subnet, encrypted, logged, linked to S3 buckets, with
the Lustre rules on its own security group and on its clients' groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, StatefulOptions, merge_tags
from components.isolated_vpc import IsolatedVpc
from components.kms_key import KmsKey

# Lustre clients and servers talk on 988 (LNet) and 1018-1023 (the client's reserved ports), in
# both directions: file servers also connect back to clients. The FSx for Lustre User Guide, "File
# system access control with Amazon VPC" (https://docs.aws.amazon.com/fsx/latest/LustreGuide/
# limit-access-security-groups.html), lists these TCP rules: on the file system's group, inbound
# and outbound to itself and to the clients' groups; on the clients' groups ("Lustre client VPC
# security group rules"), inbound and outbound to themselves and to the file system's group.
LUSTRE_PORTS: tuple[tuple[int, int], ...] = ((988, 988), (1018, 1023))
PERSISTENT_2_THROUGHPUTS = (125, 250, 500, 1000)  # MB/s per TiB
_EVENTS = ("NEW", "CHANGED", "DELETED")


@dataclass(frozen=True, kw_only=True)
class DataRepository:
    """An S3 bucket (or prefix) linked to a directory of the file system."""

    bucket_name: pulumi.Input[str]
    """The linked bucket. Required."""
    file_system_path: str
    """Directory on the file system, e.g. "/data". Required; one per repository, not "/"."""
    prefix: str = ""
    """Key prefix inside the bucket, without leading `/`, ending in `/` when set. Default: whole bucket."""
    import_events: Sequence[str] = _EVENTS
    """S3 changes imported automatically (NEW, CHANGED, DELETED). Default all three."""
    export_events: Sequence[str] = _EVENTS
    """File-system changes exported automatically (NEW, CHANGED, DELETED). Default all three;
    leave DELETED out for buckets under Object Lock."""
    kms_key: Optional[KmsKey] = None
    """The bucket's CMK, if any: FSx's per-file-system S3 service-linked role gets a KMS grant
    for it once the link exists. Default None (SSE-S3 or the aws/s3 key need no grant)."""


@dataclass(frozen=True, kw_only=True)
class LustreFilesystemArgs:
    vpc: IsolatedVpc
    """The file system lives in the VPC's first private subnet. Required."""
    storage_capacity_gib: int = 1200
    """1200 GiB or a multiple of 2400 GiB. Default 1200."""
    per_unit_storage_throughput: int = 125
    """MB/s per TiB: 125, 250, 500 or 1000. Default 125."""
    kms_key: Optional[KmsKey] = None
    """CMK for data at rest. Default None: FSx's AWS managed key (still encrypted)."""
    data_repositories: Sequence[DataRepository] = ()
    """S3 links (data repository associations). Default none."""
    client_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Security groups of the Lustre clients (e.g. the EKS cluster security group on the nodes).
    Each gets the rules AWS documents for clients: TCP 988 and 1018-1023 inbound and outbound to
    the file system's group and to itself; the file system's group admits it likewise. Default
    none."""
    client_cidrs: Sequence[pulumi.Input[str]] = ()
    """CIDRs allowed to mount (Lustre ports only) besides the client security groups. Default
    empty: the VPC CIDR when client_security_group_ids is empty, else none (the groups say who
    the clients are)."""
    log_retention_days: int = 365
    """Retention of the data-repository event log group. Default 365."""
    log_kms_key: Optional[KmsKey] = None
    """CMK for that log group. Default None: service-owned encryption."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the file system, its links and its log group. Default: protected."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child."""


class LustreFilesystem(Component):
    file_system_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    mount_name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: LustreFilesystemArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fsx", "LustreFilesystem", name, opts)
        if args.per_unit_storage_throughput not in PERSISTENT_2_THROUGHPUTS:
            raise ValueError(f"{name}: per_unit_storage_throughput must be one of {PERSISTENT_2_THROUGHPUTS}")
        if not (args.storage_capacity_gib == 1200 or (args.storage_capacity_gib > 0 and args.storage_capacity_gib % 2400 == 0)):
            raise ValueError(f"{name}: storage_capacity_gib must be 1200 or a multiple of 2400")
        paths = [r.file_system_path for r in args.data_repositories]
        if len(set(paths)) != len(paths) or any(p == "/" or not p.startswith("/") for p in paths):
            raise ValueError(f"{name}: each data repository needs its own absolute file_system_path other than /")
        for repo in args.data_repositories:
            if not set(repo.import_events) | set(repo.export_events) <= set(_EVENTS):
                raise ValueError(f"{name}: import/export events are {_EVENTS}")

        self.security_group, rules = self._create_security_group(name, args)
        log_group = self.log_group(
            "logs", f"/aws/fsx/lustre/{name}",  # FSx only writes to groups under /aws/fsx
            retention_days=args.log_retention_days, kms_key=args.log_kms_key, stateful=args.stateful, tags=args.tags)
        self.file_system = aws.fsx.LustreFileSystem(
            f"{name}-fs",
            deployment_type="PERSISTENT_2",
            file_system_type_version="2.15",
            storage_type="SSD",
            storage_capacity=args.storage_capacity_gib,
            per_unit_storage_throughput=args.per_unit_storage_throughput,
            subnet_ids=args.vpc.private_subnet_ids[0],
            security_group_ids=[self.security_group.id],
            kms_key_id=args.kms_key.arn if args.kms_key else None,
            data_compression_type="LZ4",
            log_configuration=aws.fsx.LustreFileSystemLogConfigurationArgs(level="WARN_ERROR", destination=log_group.arn),
            tags=merge_tags(name, args.tags),
            # FSx refuses to create a file system whose security groups do not yet admit LNet on
            # 988 ("Creating an FSx for Lustre file system fails"): the rules come first.
            opts=self.stateful_child(args.stateful, depends_on=rules),
        )
        for i, repo in enumerate(args.data_repositories):
            link = aws.fsx.DataRepositoryAssociation(
                f"{name}-link-{i}",
                file_system_id=self.file_system.id,
                file_system_path=repo.file_system_path,
                data_repository_path=pulumi.Output.concat("s3://", repo.bucket_name, "/", repo.prefix),
                batch_import_meta_data_on_create=True,
                delete_data_in_filesystem=False,
                s3=aws.fsx.DataRepositoryAssociationS3Args(
                    auto_import_policy=aws.fsx.DataRepositoryAssociationS3AutoImportPolicyArgs(events=list(repo.import_events))
                    if repo.import_events else None,
                    auto_export_policy=aws.fsx.DataRepositoryAssociationS3AutoExportPolicyArgs(events=list(repo.export_events))
                    if repo.export_events else None,
                ),
                tags=merge_tags(f"{name}-link-{i}", args.tags),
                opts=self.stateful_child(args.stateful),
            )
            if repo.kms_key is not None:
                # FSx moves data with a service-linked role named after the file system, which
                # exists once the first link does.
                aws.kms.Grant(
                    f"{name}-link-{i}-key",
                    key_id=repo.kms_key.key_id,
                    grantee_principal=pulumi.Output.concat(
                        "arn:", self.aws_partition, ":iam::", self.aws_account_id,
                        ":role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/AWSServiceRoleForFSxS3Access_",
                        self.file_system.id),
                    operations=["Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"],
                    opts=self.child(depends_on=[link]),
                )

        self.file_system_id = self.file_system.id
        self.arn = self.file_system.arn
        self.dns_name = self.file_system.dns_name
        self.mount_name = self.file_system.mount_name
        self.security_group_id = self.security_group.id
        self.log_group_name = log_group.name
        self.register_outputs({
            "file_system_id": self.file_system_id,
            "arn": self.arn,
            "dns_name": self.dns_name,
            "mount_name": self.mount_name,
            "security_group_id": self.security_group_id,
            "log_group_name": self.log_group_name,
        })

    def _create_security_group(self, name: str, args: LustreFilesystemArgs
                               ) -> tuple[aws.ec2.SecurityGroup, list[pulumi.Resource]]:
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc.vpc_id,
            description="Lustre (988, 1018-1023) from clients and between file servers",
            tags=merge_tags(f"{name}-sg", args.tags),
            opts=self.child(),
        )
        rules: list[pulumi.Resource] = []
        clients = list(args.client_cidrs) or ([] if args.client_security_group_ids else [args.vpc.cidr_block])
        for low, high in LUSTRE_PORTS:
            ports = f"{low}" if low == high else f"{low}-{high}"
            rules.append(aws.vpc.SecurityGroupIngressRule(
                f"{name}-self-in-{ports}", security_group_id=group.id, referenced_security_group_id=group.id,
                ip_protocol="tcp", from_port=low, to_port=high, description="Lustre between file servers",
                opts=self.child(),
            ))
            rules.append(aws.vpc.SecurityGroupEgressRule(
                f"{name}-self-out-{ports}", security_group_id=group.id, referenced_security_group_id=group.id,
                ip_protocol="tcp", from_port=low, to_port=high, description="Lustre between file servers",
                opts=self.child(),
            ))
            for j, cidr in enumerate(clients):
                rules.append(aws.vpc.SecurityGroupIngressRule(
                    f"{name}-clients-in-{ports}-{j}", security_group_id=group.id, cidr_ipv4=cidr,
                    ip_protocol="tcp", from_port=low, to_port=high, description="Lustre from clients",
                    opts=self.child(),
                ))
                rules.append(aws.vpc.SecurityGroupEgressRule(
                    f"{name}-clients-out-{ports}-{j}", security_group_id=group.id, cidr_ipv4=cidr,
                    ip_protocol="tcp", from_port=low, to_port=high, description="Lustre replies to clients",
                    opts=self.child(),
                ))
            for k, client in enumerate(args.client_security_group_ids):
                rules += self._client_rules(name, f"{ports}-{k}", group.id, client, low, high)
        return group, rules

    def _client_rules(self, name: str, suffix: str, fs_group: pulumi.Input[str], client: pulumi.Input[str],
                      low: int, high: int) -> list[pulumi.Resource]:
        """Lustre on `low`-`high` between the file system's group and one client group, both ways
        on both groups, and between the clients of that group (AWS's client rules)."""
        rules = (
            # (resource suffix, rule type, group the rule is on, the other side, description)
            ("fs-from-sg", aws.vpc.SecurityGroupIngressRule, fs_group, client, "Lustre from clients"),
            ("fs-to-sg", aws.vpc.SecurityGroupEgressRule, fs_group, client, "Lustre to clients"),
            ("client-from-fs", aws.vpc.SecurityGroupIngressRule, client, fs_group, "Lustre from the FSx file servers"),
            ("client-to-fs", aws.vpc.SecurityGroupEgressRule, client, fs_group, "Lustre to the FSx file servers"),
            ("client-from-self", aws.vpc.SecurityGroupIngressRule, client, client, "Lustre between Lustre clients"),
            ("client-to-self", aws.vpc.SecurityGroupEgressRule, client, client, "Lustre between Lustre clients"),
        )
        return [rule(f"{name}-{label}-{suffix}", security_group_id=on, referenced_security_group_id=other,
                     ip_protocol="tcp", from_port=low, to_port=high, description=description, opts=self.child())
                for label, rule, on, other, description in rules]
