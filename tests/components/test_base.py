"""The helpers every component shares: argument checks against AWS's limits, bounded names, and
the account, partition and region each component asks for once."""

import json
from pathlib import Path

import pulumi
import pytest

from components._base import (Component, LambdaVpcConfig, StatefulOptions, bounded_name, check_log_retention,
                              check_range)


def test_check_range_names_the_component_the_argument_and_the_range():
    check_range("key", "deletion_window_days", 7, 7, 30)
    check_range("key", "deletion_window_days", 30, 7, 30)
    with pytest.raises(ValueError, match=r"^key: deletion_window_days must be 7-30, got 31$"):
        check_range("key", "deletion_window_days", 31, 7, 30)


def test_check_log_retention_accepts_only_cloudwatch_values():
    check_log_retention("vpc", "flow_log_retention_days", 2557)
    with pytest.raises(ValueError, match="vpc: flow_log_retention_days must be one of"):
        check_log_retention("vpc", "flow_log_retention_days", 100)


def test_bounded_name_keeps_short_names_and_hashes_long_ones_uniquely():
    assert bounded_name("api-nlb", 32) == "api-nlb"
    a = bounded_name("a23456789012345678901234-inf-apne3-ingress-nlb", 32)
    b = bounded_name("a23456789012345678901234-inf-apse4-ingress-nlb", 32)
    assert len(a) <= 32 and len(b) <= 32 and a != b
    assert a.startswith("a23456789012345678901") and not a.endswith("-")


def test_account_partition_and_region_are_asked_once_per_component_through_its_provider(render_component):
    seen = {}

    def program():
        probe = Component("test", "Probe", "probe", None)
        lookups = ("aws_account_id", "aws_partition", "aws_region")
        seen["cached"] = [getattr(probe, a) is getattr(probe, a) for a in lookups]
        pulumi.Output.all(*[getattr(probe, a) for a in lookups]).apply(lambda values: seen.update(values=values))
        probe.register_outputs({})

    render_component(program, region="eu-central-1")
    assert seen["cached"] == [True, True, True]
    assert seen["values"] == ["123456789012", "aws", "eu-central-1"]


# -- lambda_function: VPC placement -----------------------------------------------------------
HANDLER = Path(__file__).resolve().parents[2] / "components" / "lambdas" / "jwt_authorizer" / "handler.py"


def _render_function(render_component, **kwargs):
    def program():
        probe = Component("test", "Probe", "probe", None)
        probe.lambda_function("fn", source=HANDLER, description="probe", variables={}, timeout=5,
                              retention_days=30, kms_key=None, stateful=StatefulOptions(), tags={}, **kwargs)
        probe.register_outputs({})

    plan = render_component(program)
    (function,) = plan.of_type("aws:lambda/function:Function")
    (policy,) = plan.of_type("aws:iam/rolePolicy:RolePolicy")
    return function, json.loads(policy.inputs["policy"])["Statement"]


def test_a_lambda_outside_a_vpc_has_no_vpc_config_and_no_network_interface_permissions(render_component):
    function, statements = _render_function(render_component)
    assert "vpcConfig" not in function.inputs and "reservedConcurrentExecutions" not in function.inputs
    assert [s["Sid"] for s in statements] == ["WriteOwnLogs"]


def test_a_lambda_in_a_vpc_gets_its_subnets_and_groups_and_scoped_interface_permissions(render_component):
    function, statements = _render_function(render_component, reserved_concurrency=7, vpc_config=LambdaVpcConfig(
        subnet_ids=["subnet-0a", "subnet-0b"], security_group_ids=["sg-0f"]))
    assert function.inputs["vpcConfig"] == {"subnetIds": ["subnet-0a", "subnet-0b"], "securityGroupIds": ["sg-0f"]}
    assert function.inputs["reservedConcurrentExecutions"] == 7
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["DescribeNetworkInterfaces"]["Resource"] == "*"
    assert set(by_sid["DescribeNetworkInterfaces"]["Action"]) == {
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"}
    ec2 = "arn:aws:ec2:eu-west-1:123456789012:"
    assert by_sid["CreateNetworkInterfaces"]["Resource"] == [
        f"{ec2}network-interface/*", f"{ec2}subnet/subnet-0a", f"{ec2}subnet/subnet-0b", f"{ec2}security-group/sg-0f"]
    assert by_sid["ManageNetworkInterfaces"]["Resource"] == f"{ec2}network-interface/*"
    assert set(by_sid["ManageNetworkInterfaces"]["Action"]) == {
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}


@pytest.mark.parametrize("kwargs, message", [
    (dict(vpc_config=LambdaVpcConfig(subnet_ids=[], security_group_ids=["sg-1"])), "vpc_config.subnet_ids"),
    (dict(vpc_config=LambdaVpcConfig(subnet_ids=["s"], security_group_ids=[f"sg-{i}" for i in range(6)])),
     "vpc_config.security_group_ids"),
    (dict(reserved_concurrency=-1), "reserved_concurrency"),
])
def test_bad_lambda_placement_is_rejected_naming_the_argument(render_component, kwargs, message):
    with pytest.raises(Exception, match=message):
        _render_function(render_component, **kwargs)
