"""`blueprint cost`: a dated list-price estimate by component, with its assumptions stated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blueprints.plan.cost import ESTIMATORS, REGION_MULTIPLIER, estimate, format_cost
from blueprints.plan.engine import UNKNOWN, Plan
from blueprints.tiers import ALL_REGIONS
from tests.blueprints.plan.test_diff import plan_doc

CLUSTER = ("aws:eks/cluster:Cluster", "demo-cluster", {"name": "demo"})
NAT = ("aws:ec2/natGateway:NatGateway", "demo-nat-0", {"subnetId": "subnet-1"})


def node_group(name: str, instance: str, desired: int, *, low: int = 0, high: int = 4, **inputs: Any):
    return ("aws:eks/nodeGroup:NodeGroup", name,
            {"instanceTypes": [instance], "scalingConfig": {"desiredSize": desired, "minSize": low, "maxSize": high},
             **inputs})


def plan(*resources, region: str = "us-east-1", options=None) -> Plan:
    return Plan.from_dict(plan_doc("cost-test", list(resources), region=region, options=options))


def monthly(e, kind: str) -> list[float]:
    return [line.monthly_usd for line in e.lines if line.kind == kind]


def test_cluster_two_on_demand_nodes_and_a_nat_gateway_cost_the_table_arithmetic():
    e = estimate(plan(CLUSTER, node_group("demo-system", "m7i.large", 2, low=2, high=3), NAT))
    # 0.10 x 730; 2 x 0.1008 x 730; 0.045 x 730; 100 GB x 0.045
    assert [(line.kind, line.monthly_usd) for line in e.lines] == [
        ("EKS node group", 147.17), ("EKS cluster", 73.00), ("NAT gateway", 32.85), ("NAT gateway data processing", 4.50)]
    assert e.total_monthly_usd == 257.52
    assert e.by_component() == {"demo-system": 147.17, "demo-cluster": 73.00, "demo-nat-0": 37.35}


def test_spot_capacity_gets_the_assumed_discount():
    e = estimate(plan(node_group("demo-gpu", "g6.xlarge", 2, capacityType="SPOT")))
    (line,) = e.lines
    assert line.monthly_usd == 470.00  # 2 x 0.8048 x 0.4 x 730
    assert "spot at an assumed 60% off" in line.assumption and "(g6.xlarge, spot)" in line.item


def test_the_regional_multiplier_is_applied_and_stated():
    e = estimate(plan(CLUSTER, region="eu-central-1"))
    assert monthly(e, "EKS cluster") == [86.87]  # 73.00 x 1.19
    assert e.lines[0].region == "eu-central-1"
    assert "eu-central-1 ×1.19" in " ".join(e.assumptions)


def test_every_supported_region_has_a_multiplier():
    assert set(ALL_REGIONS) <= set(REGION_MULTIPLIER)


def test_an_idle_gpu_group_costs_nothing_but_shows_its_node_hour_price():
    e = estimate(plan(node_group("demo-training", "p5.48xlarge", 0, low=0, high=4)))
    (line,) = e.lines
    assert line.monthly_usd == 0
    assert "$55.0400 per node-hour" in line.assumption and "at 4 nodes $160,717/month" in line.assumption


def test_an_unknown_instance_type_is_a_zero_line_not_a_crash():
    e = estimate(plan(node_group("demo-odd", "x9.superbig", 3), ("aws:eks/nodeGroup:NodeGroup", "demo-bare", {})))
    assert [line.monthly_usd for line in e.lines] == [0.0, 0.0]
    assert all("price unknown for instance type" in line.assumption for line in e.lines)
    assert "Priced at $0 because the price is unknown" in e.assumptions[-1]
    assert "x9.superbig" in format_cost(e, "table")


def test_a_node_group_without_instance_types_is_priced_from_its_launch_template():
    e = estimate(plan(
        ("aws:ec2/launchTemplate:LaunchTemplate", "demo-lt", {"instanceType": "g6e.xlarge"}),
        ("aws:eks/nodeGroup:NodeGroup", "demo-gpu", {"launchTemplate": {"id": "@demo-lt.id", "version": "1"},
                                                      "scalingConfig": {"desiredSize": 1, "minSize": 1, "maxSize": 2}}),
    ))
    assert monthly(e, "EKS node group") == [1358.53]  # 1.861 x 730


def test_interface_endpoints_cost_per_az_and_gateway_endpoints_are_free():
    e = estimate(plan(
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "demo-sts", {"vpcEndpointType": "Interface", "serviceName": "com.amazonaws.us-east-1.sts",
                                                         "subnetIds": ["subnet-a", "subnet-b", "subnet-c"]}),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "demo-s3", {"vpcEndpointType": "Gateway", "serviceName": "com.amazonaws.us-east-1.s3"}),
    ))
    assert [(line.item, line.monthly_usd) for line in e.lines] == [
        ("interface endpoint demo-sts (sts)", 21.90), ("interface endpoint data processing demo-sts", 0.20)]


def test_lustre_is_priced_by_deployment_type_throughput_and_capacity():
    e = estimate(plan(("aws:fsx/lustreFileSystem:LustreFileSystem", "demo-scratch",
                       {"deploymentType": "PERSISTENT_2", "perUnitStorageThroughput": 125, "storageCapacity": 1200})))
    assert monthly(e, "FSx for Lustre") == [174.00]  # 1200 x 0.145


def test_waf_trail_and_keys_follow_their_list_prices():
    rules = [{"name": f"r{i}", "priority": i} for i in range(3)]
    e = estimate(plan(
        ("aws:wafv2/webAcl:WebAcl", "demo-acl", {"rules": rules}),
        ("aws:cloudtrail/trail:Trail", "demo-trail", {}),
        ("aws:cloudtrail/trail:Trail", "demo-trail-2", {"eventSelectors": [{"dataResources": [{"type": "AWS::S3::Object"}]}]}),
        ("aws:kms/key:Key", "demo-key", {}),
    ))
    assert monthly(e, "WAF web ACL") + monthly(e, "WAF rules") + monthly(e, "WAF requests") == [5.00, 3.00, 6.00]
    assert monthly(e, "CloudTrail management events") == [0.0]  # the first trail's copy is free
    assert monthly(e, "CloudTrail management events (extra copy)") == [20.00]
    assert monthly(e, "CloudTrail data events") == [10.00]
    assert monthly(e, "KMS key") == [1.00]


def test_lines_belong_to_the_top_level_component_they_were_created_under():
    e = estimate(plan(
        ("aiblueprints:eks:EksCluster", "demo-training", {}), CLUSTER,
        ("aiblueprints:eks:NodeGroup", "demo-training-gpu", {}), node_group("demo-gpu", "g6.xlarge", 1),
        options={"demo-cluster": {"parent": "demo-training"}, "demo-training-gpu": {"parent": "demo-training"},
                 "demo-gpu": {"parent": "demo-training-gpu"}},
    ))
    assert {line.component for line in e.lines} == {"demo-training"}
    assert e.by_component() == {"demo-training": 660.50}  # 73.00 + 0.8048 x 730
    assert e.total_monthly_usd == 660.50


def test_formats_show_subtotals_total_and_assumptions():
    e = estimate(plan(CLUSTER, node_group("demo-system", "m7i.large", 2), NAT))
    table = format_cost(e, "table")
    assert table.startswith("Monthly cost ESTIMATE for stack cost-test")
    assert [line.split()[-1] for line in table.splitlines() if line.startswith(("demo-", "TOTAL"))] == [
        "$147.17", "$73.00", "$37.35", "$257.52"]
    assert "Spot capacity at an assumed 60% discount" in table
    doc = json.loads(format_cost(e, "json"))
    assert doc["totalMonthlyUsd"] == 257.52 and doc["estimate"] is True and doc["priceDate"]
    assert sum(line["monthlyUsd"] for line in doc["lines"]) == pytest.approx(257.52)
    assert format_cost(e, "json") == format_cost(estimate(plan(CLUSTER, node_group("demo-system", "m7i.large", 2), NAT)), "json")
    markdown = format_cost(e, "markdown")
    assert "**Total: $257.52 / month** (estimate)" in markdown and "| demo-nat-0 | $37.35 |" in markdown
    with pytest.raises(ValueError, match="table, json, markdown"):
        format_cost(e, "csv")


def test_the_restricted_example_costs_more_than_the_public_one(example_plan):
    public, restricted = estimate(example_plan("public")), estimate(example_plan("restricted"))
    assert restricted.total_monthly_usd > public.total_monthly_usd > 0
    # restricted is air-gapped (interface endpoints, no NAT) and runs in two regions
    assert monthly(restricted, "interface endpoint") and not monthly(restricted, "NAT gateway")
    assert monthly(public, "NAT gateway")
    assert {line.region for line in restricted.lines} >= {"eu-west-1", "eu-central-1"}


def test_inputs_the_engine_could_not_resolve_never_crash_the_estimate():
    garbage = {key: UNKNOWN for key in ("instanceTypes", "scalingConfig", "capacityType", "launchTemplate", "subnetIds",
                                        "vpcEndpointType", "storageCapacity", "perUnitStorageThroughput", "deploymentType",
                                        "rules", "eventSelectors", "advancedEventSelectors", "retentionInDays", "type",
                                        "requestInterval", "loadBalancerType", "cacheClusterEnabled", "status")}
    e = estimate(plan(*[(typ, f"demo-{i}", garbage) for i, typ in enumerate(ESTIMATORS)]))
    assert e.lines and e.total_monthly_usd >= 0
    format_cost(e, "table")


# -- accounts ---------------------------------------------------------------------------------

ACCOUNTS = {"training": "111111111111", "inference": "222222222222", "logArchive": "333333333333"}


def accounts_plan(placed: dict[str, list], *, accounts=ACCOUNTS, region: str = "us-east-1", options=None) -> Plan:
    """A multi-account plan document: one provider per account in `placed` (account id, or "" for
    the deploying account), each assuming the deploy role there, as the context registers them."""
    doc = plan_doc("cost-test", [r for resources in placed.values() for r in resources], region=region, options=options)
    doc["accounts"] = dict(accounts)
    stack_urn, deploying = doc["steps"][0]["urn"], doc["steps"][1]["newState"]
    refs = {"": f"{deploying['urn']}::{deploying['id']}"}
    for i, account in enumerate(a for a in placed if a):
        urn = f"{deploying['urn'].rsplit('::', 1)[0]}::aws-{account}-{region}"
        roles = json.dumps([{"roleArn": f"arn:aws:iam::{account}:role/ai-blueprints-deployer",
                             "externalId": "ai-blueprints-cost-test", "sessionName": "ai-blueprints-cost-test"}])
        doc["steps"].insert(2 + i, {"op": "create", "urn": urn, "newState": {
            "urn": urn, "type": "pulumi:providers:aws", "custom": True, "id": f"p{i}", "parent": stack_urn,
            "inputs": {"region": region, "assumeRoles": roles}, "outputs": {}, "dependencies": [], "protect": False}})
        refs[account] = f"{urn}::p{i}"
    owner = {name: account for account, resources in placed.items() for _, name, _ in resources}
    for step in doc["steps"]:
        state = step["newState"]
        if state.get("provider"):
            state["provider"] = step["provider"] = refs[owner[state["urn"].rsplit("::", 1)[-1]]]
    return Plan.from_dict(doc)


def test_a_multi_account_plan_is_grouped_by_account_then_component():
    e = estimate(accounts_plan({
        "111111111111": [CLUSTER, node_group("demo-system", "m7i.large", 2)],
        "222222222222": [("aws:eks/cluster:Cluster", "demo-inf-cluster", {"name": "inf"}), NAT],
        "333333333333": [("aws:kms/key:Key", "demo-logs-key", {})],
    }))
    assert e.by_account() == {"111111111111": 220.17, "222222222222": 110.35, "333333333333": 1.00}
    assert {line.item: line.account for line in e.lines}["EKS cluster demo-inf-cluster"] == "222222222222"
    table = format_cost(e, "table")
    heads = [line.split("  ")[0] for line in table.splitlines() if line and not line.startswith((" ", "-", "[", "Monthly"))]
    assert heads[:5] == ["account / component / item", "training account 111111111111", "inference account 222222222222",
                         "logArchive account 333333333333", "TOTAL"]
    # each component sits, indented, under the account that holds it
    assert table.index("  demo-system") < table.index("inference account") < table.index("  demo-nat-0")
    assert table.index("logArchive account") < table.index("    KMS key demo-logs-key")
    doc = json.loads(format_cost(e, "json"))
    assert doc["accounts"] == ACCOUNTS
    assert [(a["account"], a["roles"], a["monthlyUsd"]) for a in doc["byAccount"]] == [
        ("111111111111", ["training"], 220.17), ("222222222222", ["inference"], 110.35),
        ("333333333333", ["logArchive"], 1.00)]
    assert list(doc["byAccount"][1]["byComponent"].items()) == [("demo-inf-cluster", 73.00), ("demo-nat-0", 37.35)]
    assert {line["account"] for line in doc["lines"]} == set(ACCOUNTS.values())
    markdown = format_cost(e, "markdown")
    assert "| inference account 222222222222 | $110.35 |" in markdown
    assert "| inference account 222222222222 | demo-nat-0 | $37.35 |" in markdown
    assert "priced per account and region" in " ".join(e.assumptions)


def test_a_component_spanning_accounts_shows_its_share_under_each_and_the_deploying_account_last():
    e = estimate(accounts_plan(
        {"": [("aiblueprints:kms:Keys", "demo-keys", {}), ("aws:kms/key:Key", "demo-archive-key", {})],
         "111111111111": [("aws:kms/key:Key", "demo-training-key", {}), node_group("demo-system", "m7i.large", 1)],
         "222222222222": [("aws:kms/key:Key", "demo-models-key", {})]},
        accounts={"training": "111111111111", "inference": "222222222222"},
        options={name: {"parent": "demo-keys"} for name in ("demo-archive-key", "demo-training-key", "demo-models-key")},
    ))
    assert e.by_component() == {"demo-system": 73.58, "demo-keys": 3.00}
    assert list(e.by_account()) == ["111111111111", "222222222222", ""]  # declared order, the deploying account last
    assert e.account_label("") == "deploying account"
    doc = json.loads(format_cost(e, "json"))
    assert [a["byComponent"] for a in doc["byAccount"]] == [
        {"demo-system": 73.58, "demo-keys": 1.00}, {"demo-keys": 1.00}, {"demo-keys": 1.00}]
    table = format_cost(e, "table")
    assert table.count("  demo-keys") == 3
    assert table.index("inference account 222222222222") < table.index("deploying account")


def test_two_roles_in_one_account_are_named_together():
    e = estimate(accounts_plan({"111111111111": [CLUSTER]},
                               accounts={"training": "111111111111", "inference": "111111111111"}))
    assert e.account_label("111111111111") == "training + inference account 111111111111"


def test_each_account_gets_its_own_free_copy_of_management_events():
    trail = ("aws:cloudtrail/trail:Trail", "demo-trail", {})
    e = estimate(accounts_plan({"111111111111": [trail], "222222222222": [("aws:cloudtrail/trail:Trail", "demo-trail-inf", {})],
                                "333333333333": [("aws:cloudtrail/trail:Trail", "demo-trail-arc", {}),
                                                 ("aws:cloudtrail/trail:Trail", "demo-trail-arc-2", {})]}))
    assert monthly(e, "CloudTrail management events") == [0.0, 0.0, 0.0]
    (extra,) = [line for line in e.lines if line.kind == "CloudTrail management events (extra copy)"]
    assert extra.account == "333333333333" and extra.monthly_usd == 20.00


def test_a_single_account_plan_has_no_account_grouping(example_plan):
    e = estimate(example_plan("public"))
    assert not e.multi_account and {line.account for line in e.lines} == {""}
    assert "account" not in format_cost(e, "table").split("\n")[2]
    doc = json.loads(format_cost(e, "json"))
    assert list(doc) == ["stack", "tier", "currency", "priceDate", "estimate", "totalMonthlyUsd", "byComponent", "lines",
                         "assumptions"]
    assert "account" not in doc["lines"][0]
    assert "| account |" not in format_cost(e, "markdown")


def test_the_restricted_example_prices_training_and_serving_in_their_own_accounts(example_plan):
    e = estimate(example_plan("restricted"))
    accounts = example_plan("restricted").accounts
    clusters = {line.item: line.account for line in e.lines if line.kind == "EKS cluster"}
    assert clusters == {"EKS cluster fraud-models-training-cluster": accounts["training"],
                        "EKS cluster fraud-models-inf-euw1-cluster": accounts["inference"],
                        "EKS cluster fraud-models-inf-euc1-cluster": accounts["inference"]}
    assert sum(e.by_account().values()) == pytest.approx(e.total_monthly_usd)
    table = format_cost(e, "table")
    assert f"training account {accounts['training']}" in table and f"inference account {accounts['inference']}" in table
