"""LustreFilesystem: PERSISTENT_2 in one private subnet, encrypted, Lustre ports only, S3 links."""

import functools

import pulumi_aws as aws
import pytest

from blueprints.plan.engine import run_program
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.kms_key import KmsKey, KmsKeyArgs
from components.lustre_filesystem import DataRepository, LustreFilesystem, LustreFilesystemArgs


def _run(**kwargs):
    def program():
        vpc = IsolatedVpc("v", IsolatedVpcArgs(cidr_block="10.9.0.0/16"))
        key = KmsKey("data", KmsKeyArgs(description="data", grant_services=["fsx"])) if kwargs.pop("cmk", False) else None
        repos = [DataRepository(bucket_name="data-bucket", file_system_path="/data", kms_key=key),
                 DataRepository(bucket_name="model-bucket", file_system_path="/models", import_events=("NEW",),
                                export_events=("NEW", "CHANGED"))] if kwargs.pop("linked", False) else []
        if kwargs.pop("client_group", False):
            nodes = aws.ec2.SecurityGroup("nodes", vpc_id=vpc.vpc_id, description="Lustre clients")
            kwargs["client_security_group_ids"] = [nodes.id]
        LustreFilesystem("fsx", LustreFilesystemArgs(vpc=vpc, kms_key=key, data_repositories=repos, **kwargs))
    return run_program(program, stack="fsx-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


@functools.lru_cache(maxsize=None)
def default_plan():
    return _run()


@functools.lru_cache(maxsize=None)
def linked_plan():
    return _run(cmk=True, linked=True, storage_capacity_gib=4800, per_unit_storage_throughput=500)


@functools.lru_cache(maxsize=None)
def client_group_plan():
    return _run(client_group=True)


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


def test_persistent_2_in_the_first_private_subnet_with_logs():
    plan = default_plan()
    fs = one(plan, "aws:fsx/lustreFileSystem:LustreFileSystem")
    assert fs.inputs["deploymentType"] == "PERSISTENT_2"
    assert fs.inputs["storageCapacity"] == 1200 and fs.inputs["perUnitStorageThroughput"] == 125
    first = next(s for s in plan.of_type("aws:ec2/subnet:Subnet") if s.name == "v-private-0")
    assert fs.inputs["subnetIds"] == first.id
    assert "kmsKeyId" not in fs.inputs
    group = next(g for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == "fsx-logs")
    assert group.inputs["name"].startswith("/aws/fsx/")
    assert fs.inputs["logConfiguration"] == {"level": "WARN_ERROR", "destination": group.outputs["arn"]}
    assert fs.protect is True and group.protect is True


def test_security_group_opens_only_lustre_ports_to_the_vpc_and_itself():
    plan = default_plan()
    sg = next(g for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name == "fsx-sg")
    assert one(plan, "aws:fsx/lustreFileSystem:LustreFileSystem").inputs["securityGroupIds"] == [sg.id]
    rules = [r for t in ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                         "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
             for r in plan.of_type(t) if r.inputs["securityGroupId"] == sg.id]
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {(988, 988), (1018, 1023)}
    assert {r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId") for r in rules} == {"10.9.0.0/16", sg.id}
    assert all(r.inputs["ipProtocol"] == "tcp" for r in rules)


INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def lustre_rules(plan, group_id):
    """(direction, other side, from port, to port) of the TCP rules on a security group."""
    rules = set()
    for type_, direction in ((INGRESS, "in"), (EGRESS, "out")):
        for r in plan.of_type(type_):
            if r.inputs["securityGroupId"] == group_id:
                assert r.inputs["ipProtocol"] == "tcp"
                other = r.inputs.get("referencedSecurityGroupId") or r.inputs.get("cidrIpv4")
                rules.add((direction, other, r.inputs["fromPort"], r.inputs["toPort"]))
    return rules


def test_clients_admit_lustre_from_the_file_system_as_aws_documents():
    """File servers connect back to clients on 988 and 1018-1023: a client group that does not
    admit them from the file system's group (an EKS cluster group admits only itself) cannot
    mount. Both groups get exactly the rules the FSx for Lustre guide lists."""
    plan = client_group_plan()
    fs_group = next(g for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name == "fsx-sg").id
    client = next(g for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name == "nodes").id
    ports = [(988, 988), (1018, 1023)]
    both_ways = {(d, other, low, high) for d in ("in", "out") for low, high in ports for other in (fs_group, client)}
    assert lustre_rules(plan, client) == both_ways
    # The file system's group: itself and the client group, and no longer the whole VPC CIDR.
    assert lustre_rules(plan, fs_group) == both_ways


def test_the_file_system_waits_for_its_lustre_rules():
    """FSx checks at creation that the file system's groups admit LNet (988): created alongside
    its rules instead of after them, the file system fails to create."""
    plan = client_group_plan()
    fs = one(plan, "aws:fsx/lustreFileSystem:LustreFileSystem")
    rules = [r.urn for t in (INGRESS, EGRESS) for r in plan.of_type(t) if r.name.startswith("fsx-")]
    assert len(rules) == 16 and set(rules) <= set(fs.dependencies)


def test_cmk_and_links_to_s3():
    plan = linked_plan()
    key = one(plan, "aws:kms/key:Key")
    fs = one(plan, "aws:fsx/lustreFileSystem:LustreFileSystem")
    assert fs.inputs["kmsKeyId"] == key.outputs["arn"]
    assert fs.inputs["storageCapacity"] == 4800 and fs.inputs["perUnitStorageThroughput"] == 500
    links = {r.inputs["fileSystemPath"]: r for r in plan.of_type("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation")}
    assert links["/data"].inputs["dataRepositoryPath"] == "s3://data-bucket/"
    assert links["/data"].inputs["s3"] == {"autoImportPolicy": {"events": ["NEW", "CHANGED", "DELETED"]},
                                           "autoExportPolicy": {"events": ["NEW", "CHANGED", "DELETED"]}}
    assert links["/models"].inputs["s3"] == {"autoImportPolicy": {"events": ["NEW"]},
                                             "autoExportPolicy": {"events": ["NEW", "CHANGED"]}}
    assert all(link.inputs["fileSystemId"] == fs.id and link.protect for link in links.values())
    # Only the CMK-encrypted bucket's link needs a grant for FSx's per-file-system S3 role.
    grant = one(plan, "aws:kms/grant:Grant")
    assert grant.inputs["granteePrincipal"].endswith(f"AWSServiceRoleForFSxS3Access_{fs.id}")
    assert links["/data"].urn in grant.dependencies


@pytest.mark.parametrize("args, message", [
    (dict(per_unit_storage_throughput=200), "per_unit_storage_throughput must be one of"),
    (dict(storage_capacity_gib=2000), "storage_capacity_gib must be 1200 or a multiple of 2400"),
    (dict(log_retention_days=10), "log_retention_days must be one of"),
])
def test_invalid_arguments_are_rejected(args, message):
    with pytest.raises(Exception, match=message):
        _run(**args)
