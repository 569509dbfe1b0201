"""The helpers every component shares: argument checks against AWS's limits, bounded names, and
the account, partition and region each component asks for once."""

import pulumi
import pytest

from components._base import Component, bounded_name, check_log_retention, check_range


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
