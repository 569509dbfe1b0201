"""The AWS quotas a plan needs, per region, beside AWS's defaults: computed from the plan (Elastic
IPs, node-group vCPUs per instance quota, Firehose streams), printed by `blueprint plan`, listed in
the README."""

import pytest
from typer.testing import CliRunner

from blueprints.cli import app
from blueprints.plan.engine import Plan, Resource
from blueprints.quotas import (
    EIP_QUOTA, FIREHOSE_DIRECT_PUT, INSTANCE_QUOTAS, elastic_ip_warnings, elastic_ips_from_spec, instance_quota, quota_needs,
)
from blueprints.spec import parse_spec
from components.accelerators import CATALOG, vcpus
from tests.conftest import ROOT, STACKS, spec_config

EIPS = EIP_QUOTA[0]
P_ON_DEMAND, G_ON_DEMAND = "Running On-Demand P instances", "Running On-Demand G and VT instances"
G_SPOT = "All G and VT Spot Instance Requests"
STANDARD = "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"


def resource(type_, name, region, **inputs):
    return Resource(urn=f"urn:pulumi:s::p::{type_}::{name}", type=type_, name=name, custom=True, parent="",
                    provider="", inputs=inputs, dependencies=[], protect=False, retain_on_delete=False,
                    id=name, outputs={"__region": region})


def node_group(name, region, instance_type, max_size, capacity="ON_DEMAND"):
    return resource("aws:eks/nodeGroup:NodeGroup", name, region, instanceTypes=[instance_type],
                    scalingConfig={"minSize": 0, "maxSize": max_size, "desiredSize": 0}, capacityType=capacity)


def needs(plan):
    """{(region, quota): QuotaNeed}"""
    return {(n.region, n.quota): n for n in quota_needs(plan)}


def test_elastic_ips_are_counted_per_region_from_the_plan():
    plan = Plan("s", "public", [*(resource("aws:ec2/eip:Eip", f"nat-{i}", "eu-west-1") for i in range(6)),
                                resource("aws:ec2/eip:Eip", "nat-x", "eu-central-1")])
    found = needs(plan)
    assert (found["eu-west-1", EIPS].needed, found["eu-west-1", EIPS].default) == (6, 5)
    assert found["eu-west-1", EIPS].above_default
    assert found["eu-central-1", EIPS].needed == 1 and not found["eu-central-1", EIPS].above_default


def test_vcpus_add_up_per_region_and_quota_from_max_sizes():
    plan = Plan("s", "restricted", [
        node_group("train", "eu-west-1", "p5.48xlarge", 4),
        node_group("serve", "eu-west-1", "g6.xlarge", 20),
        node_group("serve-2", "eu-west-1", "g6e.12xlarge", 2),
        node_group("serve-spot", "eu-west-1", "g6.xlarge", 3, capacity="SPOT"),
        node_group("system", "eu-west-1", "m7i.large", 3),
        node_group("serve", "eu-central-1", "g6.xlarge", 20),
    ])
    found = needs(plan)
    assert found["eu-west-1", P_ON_DEMAND].needed == 4 * 192
    assert found["eu-west-1", G_ON_DEMAND].needed == 20 * 4 + 2 * 48
    assert found["eu-west-1", G_SPOT].needed == 3 * 4  # Spot counts against its own quota
    assert found["eu-west-1", STANDARD].needed == 3 * 2 and found["eu-west-1", STANDARD].default == 5
    assert found["eu-central-1", G_ON_DEMAND].needed == 80
    assert found["eu-west-1", P_ON_DEMAND].default == 0 and found["eu-west-1", P_ON_DEMAND].above_default


def test_trainium_and_inferentia_nodes_count_their_catalog_vcpus_against_the_trn_and_inf_quotas():
    plan = Plan("s", "public", [node_group("train", "us-east-1", "trn1.32xlarge", 2),
                                node_group("train-spot", "us-east-1", "trn2.48xlarge", 1, capacity="SPOT"),
                                node_group("serve", "us-east-1", "inf2.24xlarge", 3)])
    found = needs(plan)
    assert found["us-east-1", "Running On-Demand Trn instances"].needed == 2 * CATALOG["trn1.32xlarge"].vcpus == 256
    assert found["us-east-1", "All Trn Spot Instance Requests"].needed == 192
    assert found["us-east-1", "Running On-Demand Inf instances"].needed == 3 * 96
    assert not any("G and VT" in quota or " P " in quota for _, quota in found)


def test_a_type_of_unknown_size_is_reported_as_unknown_not_as_zero():
    assert "g4dn.xlarge" not in CATALOG and vcpus("g4dn.xlarge") is None
    plan = Plan("s", "public", [node_group("a", "us-east-1", "g4dn.xlarge", 2), node_group("b", "us-east-1", "g6.xlarge", 2)])
    need = needs(plan)["us-east-1", G_ON_DEMAND]
    assert need.needed is None and "g4dn.xlarge (vCPUs unknown)" in need.basis


def test_neuron_types_count_against_their_own_quota():
    found = needs(Plan("s", "public", [node_group("trn", "us-east-1", "trn1.32xlarge", 2)]))
    assert found["us-east-1", "Running On-Demand Trn instances"].needed == 256


def test_firehose_streams_and_their_direct_put_default_per_region():
    plan = Plan("s", "confidential", [
        resource("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "a", "eu-west-1"),
        resource("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "b", "eu-central-1"),
        resource("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "c", "eu-central-1"),
    ])
    found = needs(plan)
    assert found["eu-central-1", "Firehose streams"].needed == 2
    assert found["eu-central-1", "Firehose streams"].default == 2000
    # 5 MiB/s per stream only in us-east-1, us-west-2 and eu-west-1; 1 MiB/s elsewhere.
    assert found["eu-west-1", FIREHOSE_DIRECT_PUT].default == 5
    assert found["eu-central-1", FIREHOSE_DIRECT_PUT].default == 1


@pytest.mark.parametrize("tier", ["public", "internal", "confidential", "restricted"])
def test_every_example_plan_lists_its_eips_vcpus_and_firehose_streams(example_plan, tier):
    """Per account and region: quotas are an account's, in a region."""
    from policies.model import assumed_account

    plan = example_plan(tier)
    accounts = {f"{p.urn}::{p.id}": assumed_account(p.inputs) for p in plan.of_type("pulumi:providers:aws")}

    def at(r) -> tuple[str, str]:
        return accounts.get(r.provider, ""), r.region

    found = {(n.account, n.region, n.quota): n for n in quota_needs(plan)}
    places = {at(r) for r in plan.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")}
    assert places and all((*place, "Firehose streams") in found for place in places)
    for place in {at(r) for r in plan.of_type("aws:ec2/eip:Eip")}:
        assert found[(*place, EIPS)].needed == len([r for r in plan.of_type("aws:ec2/eip:Eip") if at(r) == place])
    expected: dict = {}
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        (instance_type,) = group.inputs["instanceTypes"]
        quota = instance_quota(instance_type)
        name = quota.spot if group.inputs["capacityType"] == "SPOT" else quota.on_demand
        needed = group.inputs["scalingConfig"]["maxSize"] * vcpus(instance_type)
        expected[(*at(group), name)] = expected.get((*at(group), name), 0) + needed
    assert expected and {key: found[key].needed for key in expected} == expected


def _example_spec(tier):
    from blueprints.plan.engine import load_stack_file
    from blueprints.program import load_spec

    return load_spec(*load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml").runtime_config())


def _eips_in(plan):
    counts: dict = {}
    for eip in plan.of_type("aws:ec2/eip:Eip"):
        counts[eip.region] = counts.get(eip.region, 0) + 1
    return counts


@pytest.mark.parametrize("tier", ["public", "internal", "confidential", "restricted"])
def test_validate_predicts_from_the_spec_the_elastic_ips_the_plan_renders(example_plan, tier):
    """`validate` does not render: its count must be the plan's, region by region."""
    predicted = {n.region: n.needed for n in elastic_ips_from_spec(_example_spec(tier))}
    assert predicted == _eips_in(example_plan(tier))


def test_the_prediction_follows_regions_and_layout_without_training(render):
    changes = {"natGateways": "per-az", "training": {"enabled": False},
               "inference": {"regions": ["eu-west-1", "eu-central-1"]}}
    predicted = {n.region: n.needed for n in elastic_ips_from_spec(parse_spec(spec_config("public", changes),
                                                                              region="eu-west-1"))}
    assert predicted == _eips_in(render("public", changes)) == {"eu-west-1": 3, "eu-central-1": 3}


def test_two_vpcs_with_a_nat_gateway_per_az_pass_the_default_quota_in_the_home_region():
    """The internal example: training and inference VPC in us-east-2, three NAT gateways each."""
    (need,) = elastic_ips_from_spec(_example_spec("internal"))
    assert (need.region, need.needed, need.default, need.above_default) == ("us-east-2", 6, 5, True)
    (line,) = elastic_ip_warnings(_example_spec("internal"))
    assert line.startswith("us-east-2 needs 6 Elastic IPs (2 VPCs with NAT x 3 NAT gateways each, natGateways: per-az)")
    assert "AWS's default quota is 5 per region" in line and "AddressLimitExceeded" in line
    assert ("aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-0263D0A3 "
            "--desired-value 6 --region us-east-2") in line
    assert "natGateways: single (2 Elastic IPs" in line
    # The public example's single NAT gateway per VPC stays under the default; air-gapped tiers have none.
    for tier in ("public", "confidential", "restricted"):
        assert elastic_ip_warnings(_example_spec(tier)) == []
    assert [n.needed for n in elastic_ips_from_spec(_example_spec("public"))] == [2]


def test_internal_with_a_single_nat_gateway_per_vpc_needs_no_warning():
    spec = parse_spec(spec_config("internal", {"natGateways": "single"}), region="eu-west-1")
    assert [(n.region, n.needed) for n in elastic_ips_from_spec(spec)] == [("eu-west-1", 2)]
    assert elastic_ip_warnings(spec) == []


def test_plan_prints_the_quotas_beside_the_defaults(cli_renders):
    result = CliRunner().invoke(app, ["plan", str(STACKS / "Pulumi.restricted-example.yaml")])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "AWS quotas this stack needs" in text
    # Restricted example: training 4 x p5.48xlarge on demand in eu-west-1, against a default of 0.
    line = next(line for line in text.splitlines() if "eu-west-1" in line and P_ON_DEMAND in line)
    assert "768 (above default)" in line and " 0 " in line
    assert any("eu-central-1" in line and G_ON_DEMAND in line for line in text.splitlines())
    assert "Firehose streams" in text


def test_the_readme_lists_every_quota_the_plan_can_report():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploying for real")[1].split("\n## ")[0]
    for name in {EIPS, "Firehose streams", "Direct PUT", *(q.on_demand for q in INSTANCE_QUOTAS.values()),
                 *(q.spot for q in INSTANCE_QUOTAS.values())}:
        assert name in section, name
    assert "aws ec2 describe-instance-type-offerings --location-type availability-zone" in section
    assert "availabilityZone" in readme.split("## Stack config")[1]


def test_quotas_are_counted_per_account_and_region(render):
    """An internal stack with training and inference in two accounts needs 3 Elastic IPs in each
    account's home region, not 6 in one: no warning, and the plan's count agrees."""
    from blueprints.spec import parse_spec
    from tests.conftest import spec_config

    changes = {"accounts": {"training": "777777777777", "inference": "888888888888"}}
    spec = parse_spec(spec_config("internal", changes), region="eu-west-1")
    assert sorted((n.account, n.region, n.needed) for n in elastic_ips_from_spec(spec)) == [
        ("777777777777", "eu-west-1", 3), ("888888888888", "eu-west-1", 3)]
    assert elastic_ip_warnings(spec) == []
    planned = [(n.account, n.region, n.needed) for n in quota_needs(render("internal", changes))
               if n.quota == EIP_QUOTA[0]]
    assert sorted(planned) == [("777777777777", "eu-west-1", 3), ("888888888888", "eu-west-1", 3)]


def test_the_prediction_counts_each_network_by_its_own_egress():
    """A tier whose inference VPCs have no NAT (inference_egress: endpoints) while training keeps
    it needs Elastic IPs for the training VPC only."""
    import dataclasses
    from unittest import mock

    from blueprints.spec import Spec
    from blueprints.tiers import TIERS

    spec = parse_spec(spec_config("internal"), region="eu-west-1")
    assert [n.needed for n in elastic_ips_from_spec(spec)] == [6]  # training + inference, 3 NAT each
    closed = dataclasses.replace(TIERS["internal"], inference_egress="endpoints")
    with mock.patch.object(Spec, "tier", new_callable=mock.PropertyMock, return_value=closed):
        assert [(n.needed, n.basis) for n in elastic_ips_from_spec(spec)] == [
            (3, "1 VPC with NAT x 3 NAT gateways each, natGateways: per-az")]
