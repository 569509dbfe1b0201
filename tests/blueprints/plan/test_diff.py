"""`blueprint diff`: what a change does, matched by logical URN, with replace and security rules."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Optional

import pytest

from blueprints.plan.diff import REPLACE_ON_CHANGE, diff_plans, format_diff, logical_urn
from blueprints.plan.engine import Plan, load_stack_file, render_stack

STACKS = Path(__file__).resolve().parents[3] / "stacks"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
CLUSTER = "aws:eks/cluster:Cluster"
KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
NAT = "aws:ec2/natGateway:NatGateway"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def plan_doc(stack: str, resources: list[tuple[str, str, dict[str, Any]]], *, region: str = "us-east-1",
             options: Optional[dict[str, dict[str, Any]]] = None) -> dict[str, Any]:
    """A plan document as `blueprint plan --json` writes it: the stack, one AWS provider in
    `region`, and `resources` as (type, name, inputs). Values the engine would derive from the
    stack name (ids, ARNs) are derived from it here too; an input string "@name.id" or
    "@name.arn" refers to another resource. `options[name]` may set `parent` (the name of a
    component in the list), `protect` and `retainOnDelete`."""
    options = options or {}
    stack_urn = f"urn:pulumi:{stack}::ai-blueprints::pulumi:pulumi:Stack::ai-blueprints-{stack}"
    provider_urn = f"urn:pulumi:{stack}::ai-blueprints::pulumi:pulumi:Stack$pulumi:providers:aws::aws-{region}"
    provider_id = hashlib.sha256(f"{stack}/{region}".encode()).hexdigest()[:12]
    types = {name: typ for typ, name, _ in resources}

    def urn_of(name: str) -> str:
        parent = options.get(name, {}).get("parent")
        qualified = f"{types[parent]}${types[name]}" if parent else f"pulumi:pulumi:Stack${types[name]}"
        return f"urn:pulumi:{stack}::ai-blueprints::{qualified}::{name}"

    def derived(name: str) -> dict[str, str]:
        rid = types[name].split(":")[1].split("/")[0] + "-" + hashlib.sha256(f"{stack}/{name}".encode()).hexdigest()[:10]
        return {"id": rid, "arn": f"arn:aws:svc:{region}:123456789012:thing/{rid}"}

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            for other in types:
                for key, derived_value in derived(other).items():
                    value = value.replace(f"@{other}.{key}", derived_value)
            return value
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    steps = [
        {"op": "create", "urn": stack_urn, "newState": {"urn": stack_urn, "type": "pulumi:pulumi:Stack", "custom": False,
                                                        "inputs": {}, "outputs": {}, "dependencies": [], "protect": False}},
        {"op": "create", "urn": provider_urn, "newState": {
            "urn": provider_urn, "type": "pulumi:providers:aws", "custom": True, "id": provider_id, "parent": stack_urn,
            "inputs": {"region": region}, "outputs": {"region": region}, "dependencies": [], "protect": False}},
    ]
    for typ, name, inputs in resources:
        opts = options.get(name, {})
        custom = not typ.startswith("aiblueprints:")
        state: dict[str, Any] = {"urn": urn_of(name), "type": typ, "custom": custom,
                                 "parent": urn_of(opts["parent"]) if opts.get("parent") else stack_urn}
        if custom:
            state["id"] = derived(name)["id"]
            state["provider"] = f"{provider_urn}::{provider_id}"
        state["inputs"] = resolve(copy.deepcopy(inputs))
        state["outputs"] = {**state["inputs"], **derived(name)} if custom else {}
        state["dependencies"] = []
        state["protect"] = bool(opts.get("protect"))
        if opts.get("retainOnDelete"):
            state["retainOnDelete"] = True
        steps.append({"op": "create", "urn": state["urn"], "newState": state})
    return {"version": 1, "project": "ai-blueprints", "stack": stack, "tier": "internal", "steps": steps}


NETWORK: list[tuple[str, str, dict[str, Any]]] = [
    (VPC, "demo-vpc", {"cidrBlock": "10.20.0.0/16", "tags": {"Name": "demo-vpc", "Owner": "ml@example.com"}}),
    (SUBNET, "demo-private-0", {"vpcId": "@demo-vpc.id", "cidrBlock": "10.20.0.0/20", "availabilityZone": "us-east-1a"}),
    (SUBNET, "demo-private-1", {"vpcId": "@demo-vpc.id", "cidrBlock": "10.20.16.0/20", "availabilityZone": "us-east-1b"}),
    (KEY, "demo-key", {"enableKeyRotation": True, "keyUsage": "ENCRYPT_DECRYPT",
                       "policy": '{"Statement": [{"Resource": "@demo-key.arn"}]}'}),
    (CLUSTER, "demo-cluster", {"name": "demo", "vpcConfig": {
        "subnetIds": ["@demo-private-0.id", "@demo-private-1.id"], "endpointPrivateAccess": True,
        "endpointPublicAccess": False}, "encryptionConfig": {"provider": {"keyArn": "@demo-key.arn"},
                                                               "resources": ["secrets"]}}),
    (BUCKET, "demo-models", {"bucket": "demo-models", "tags": {"Name": "demo-models"}}),
]


def network_plan(stack: str = "demo", edit=None, extra: tuple = (), **kwargs: Any) -> Plan:
    """The NETWORK plan plus `extra` resources, after `edit(inputs_by_name)` changed a copy of
    its inputs (deleting a name removes that resource)."""
    by_name = {name: copy.deepcopy(inputs) for _, name, inputs in NETWORK}
    if edit is not None:
        edit(by_name)
    resources = [(typ, name, by_name[name]) for typ, name, _ in NETWORK if name in by_name] + list(extra)
    return Plan.from_dict(plan_doc(stack, resources, **kwargs))


def only(diff, op: Optional[str] = None):
    changes = diff.changes if op is None else diff.of_op(op)
    assert len(changes) == 1, [(c.op, c.name) for c in diff.changes]
    return changes[0]


# -- matching -------------------------------------------------------------------------------


def test_identical_plans_have_no_changes(example_plan):
    plan = example_plan("restricted")
    diff = diff_plans(plan, plan)
    assert diff.changes == []
    assert diff.summary() == {"create": 0, "update": 0, "replace": 0, "delete": 0, "same": len(plan.resources)}
    text = format_diff(diff, "markdown")
    assert "**No changes.**" in text and "Security-relevant" not in text


def test_a_plan_read_back_from_json_has_no_changes(example_plan):
    plan = example_plan("internal")
    assert diff_plans(plan, Plan.from_dict(json.loads(plan.to_json()))).changes == []


def test_two_stacks_with_the_same_config_match_despite_stack_derived_ids_and_arns():
    base, head = network_plan("staging"), network_plan("prod")
    assert base.by_urn().keys().isdisjoint(head.by_urn().keys())
    # the mock ids and ARNs differ, inside references and inside the key policy JSON too
    assert base.of_type(SUBNET)[0].inputs["vpcId"] != head.of_type(SUBNET)[0].inputs["vpcId"]
    diff = diff_plans(base, head)
    assert diff.changes == []
    assert diff.summary()["same"] == len(base.resources)


def test_logical_urn_drops_the_stack_segment_and_names_the_stack_resource_by_type():
    urn = "urn:pulumi:prod::ai-blueprints::aiblueprints:network:IsolatedVpc$aws:ec2/vpc:Vpc::demo-vpc"
    assert logical_urn(urn) == "ai-blueprints::aiblueprints:network:IsolatedVpc$aws:ec2/vpc:Vpc::demo-vpc"
    assert logical_urn("urn:pulumi:prod::ai-blueprints::pulumi:pulumi:Stack::ai-blueprints-prod") == "pulumi:pulumi:Stack"


def test_comparing_two_stacks_aligns_their_blueprint_names():
    def named(blueprint: str) -> list[tuple[str, str, dict[str, Any]]]:
        text = json.dumps([[t, n, {**i, "tags": {**i.get("tags", {}), "Blueprint": "demo"}}] for t, n, i in NETWORK])
        return [tuple(r) for r in json.loads(text.replace("demo", blueprint))]

    base = Plan.from_dict(plan_doc("docs-example", named("docs-assistant")))
    head = Plan.from_dict(plan_doc("fraud-example", named("fraud-models")))
    assert base.by_urn().keys().isdisjoint(head.by_urn().keys())
    diff = diff_plans(base, head)
    assert diff.changes == [] and diff.summary()["same"] == len(head.resources)
    # within one stack a renamed blueprint really is a new set of resources
    renamed = Plan.from_dict(plan_doc("docs-example", named("fraud-models")))
    assert diff_plans(base, renamed).summary() == {"create": 6, "update": 0, "replace": 0, "delete": 6, "same": 2}


# -- updates and replacements ---------------------------------------------------------------


def test_opening_the_eks_endpoint_is_an_update_with_the_exact_key_paths_and_is_security_relevant():
    def open_endpoint(r):
        r["demo-cluster"]["vpcConfig"]["endpointPublicAccess"] = True
        r["demo-cluster"]["vpcConfig"]["publicAccessCidrs"] = ["0.0.0.0/0"]

    diff = diff_plans(network_plan(), network_plan(edit=open_endpoint))
    change = only(diff)
    assert (change.op, change.type, change.name) == ("update", CLUSTER, "demo-cluster")
    assert change.changed_keys == ["vpcConfig.endpointPublicAccess", "vpcConfig.publicAccessCidrs"]
    assert change.before == {"vpcConfig.endpointPublicAccess": False, "vpcConfig.publicAccessCidrs": None}
    assert change.after == {"vpcConfig.endpointPublicAccess": True, "vpcConfig.publicAccessCidrs": ["0.0.0.0/0"]}
    assert change.replace_keys == []
    assert any("endpointPublicAccess" in r for r in change.security)
    assert any("admits the whole internet" in r for r in change.security)
    assert diff.summary() == {"create": 0, "update": 1, "replace": 0, "delete": 0, "same": 7}
    text = format_diff(diff, "markdown")
    assert "**+0 to create, ~1 to update, ±0 to replace, -0 to delete**" in text
    security = text.split("#### Security-relevant changes", 1)[1].split("####", 1)[0]
    assert "demo-cluster" in security and "vpcConfig.endpointPublicAccess" in security
    assert "| `aws:eks/cluster:Cluster` | demo-cluster | `vpcConfig.endpointPublicAccess`: false → true" in text


def test_a_tag_change_is_an_update_that_is_not_security_relevant():
    diff = diff_plans(network_plan(), network_plan(edit=lambda r: r["demo-vpc"]["tags"].update(Owner="ai@example.com")))
    change = only(diff)
    assert (change.op, change.changed_keys) == ("update", ["tags.Owner"])
    assert change.security == []
    assert "None: no change touches a security control" in format_diff(diff, "markdown")


def test_a_replace_forcing_property_makes_a_replace():
    diff = diff_plans(network_plan(), network_plan(edit=lambda r: r["demo-private-1"].update(cidrBlock="10.20.32.0/20")))
    change = only(diff)
    assert (change.op, change.name, change.changed_keys, change.replace_keys) == (
        "replace", "demo-private-1", ["cidrBlock"], ["cidrBlock"])
    assert "cidrBlock" in REPLACE_ON_CHANGE[SUBNET]
    assert "| `aws:ec2/subnet:Subnet` | demo-private-1 | **`cidrBlock`**" in format_diff(diff, "markdown")


def test_nested_replace_paths_match_the_keys_below_them():
    def move_subnets(r):
        r["demo-cluster"]["vpcConfig"]["subnetIds"] = list(reversed(r["demo-cluster"]["vpcConfig"]["subnetIds"]))

    change = only(diff_plans(network_plan(), network_plan(edit=move_subnets)))
    # list order is significant, and a changed list is reported whole
    assert (change.op, change.changed_keys, change.replace_keys) == (
        "replace", ["vpcConfig.subnetIds"], ["vpcConfig.subnetIds"])


def test_object_lock_on_a_bucket_is_a_security_relevant_replace():
    change = only(diff_plans(network_plan(), network_plan(edit=lambda r: r["demo-models"].update(objectLockEnabled=True))))
    assert (change.op, change.replace_keys) == ("replace", ["objectLockEnabled"])
    assert change.security == ["objectLockEnabled: (absent) -> true"]


def test_moving_a_resource_to_another_region_replaces_it():
    change_set = diff_plans(network_plan(), network_plan(region="us-west-2"))
    provider = [c for c in change_set.changes if c.type == "pulumi:providers:aws"]
    assert {c.op for c in change_set.changes} == {"create", "delete", "replace"}
    assert {c.op for c in provider} == {"create", "delete"}  # the provider is named after its region
    moved = [c for c in change_set.changes if c.op == "replace"]
    assert {c.name for c in moved} == {name for _, name, _ in NETWORK}
    assert all("provider" in c.replace_keys for c in moved)


def test_a_rotation_change_on_a_kms_key_is_an_update_flagged_as_security_relevant():
    change = only(diff_plans(network_plan(), network_plan(edit=lambda r: r["demo-key"].update(enableKeyRotation=False))))
    assert (change.op, change.changed_keys) == ("update", ["enableKeyRotation"])
    assert change.security == ["enableKeyRotation: true -> false"]


def test_removing_protect_is_a_security_relevant_update_without_input_changes():
    diff = diff_plans(network_plan(options={"demo-models": {"protect": True}}), network_plan())
    change = only(diff)
    assert (change.op, change.changed_keys, change.protect) == ("update", [], (True, False))
    assert change.security == ["protect removed"]
    assert "`protect`: true → false" in format_diff(diff, "markdown")


# -- creates and deletes --------------------------------------------------------------------


def test_created_and_deleted_resources_are_detected_and_internet_paths_flagged():
    def drop_key(r):
        del r["demo-key"]
        del r["demo-cluster"]["encryptionConfig"]

    extra = (
        (NAT, "demo-nat-0", {"subnetId": "@demo-private-0.id"}),
        (INGRESS, "demo-https", {"cidrIpv4": "0.0.0.0/0", "fromPort": 443, "toPort": 443, "ipProtocol": "tcp"}),
        ("aws:apigateway/method:Method", "demo-health-get", {"authorization": "NONE", "httpMethod": "GET"}),
    )
    diff = diff_plans(network_plan(options={"demo-key": {"protect": True}}), network_plan(edit=drop_key, extra=extra))
    assert {(c.op, c.name) for c in diff.changes} == {
        ("create", "demo-nat-0"), ("create", "demo-https"), ("create", "demo-health-get"), ("delete", "demo-key"),
        ("replace", "demo-cluster")}
    created = {c.name: c for c in diff.of_op("create")}
    assert created["demo-nat-0"].security == ["creates a NAT gateway (internet egress)"]
    assert created["demo-https"].security == ["cidrIpv4 admits the whole internet"]
    assert created["demo-health-get"].security == ['created with authorization = "NONE"']
    deleted = only(diff, "delete")
    assert deleted.security == ["deletes a security control (aws:kms/key:Key)",
                                "deletes a protected resource: `pulumi up` refuses until it is unprotected"]
    assert diff.summary() == {"create": 3, "update": 0, "replace": 1, "delete": 1, "same": 6}
    text = format_diff(diff, "markdown")
    assert "**+3 to create, ~0 to update, ±1 to replace, -1 to delete** (6 unchanged)" in text
    assert "#### To create (3)" in text and "#### To delete (1)" in text
    assert "- **create** `aws:ec2/natGateway:NatGateway` demo-nat-0: creates a NAT gateway" in text


# -- formats --------------------------------------------------------------------------------


def test_json_is_valid_machine_readable_and_stable():
    def edit(r):
        r["demo-cluster"]["vpcConfig"]["endpointPublicAccess"] = True
        r["demo-private-0"]["cidrBlock"] = "10.20.64.0/20"

    diff = diff_plans(network_plan(), network_plan(edit=edit))
    text = format_diff(diff, "json")
    doc = json.loads(text)
    assert text == format_diff(diff_plans(network_plan(), network_plan(edit=edit)), "json")
    assert list(doc) == ["baseStack", "headStack", "summary", "securityRelevant", "changes"]
    assert doc["summary"] == {"create": 0, "update": 1, "replace": 1, "delete": 0, "same": 6}
    assert [(c["op"], c["name"], c["changedKeys"]) for c in doc["changes"]] == [
        ("replace", "demo-private-0", ["cidrBlock"]), ("update", "demo-cluster", ["vpcConfig.endpointPublicAccess"])]
    assert doc["changes"][0]["before"] == {"cidrBlock": "10.20.0.0/20"}
    assert doc["changes"][0]["after"] == {"cidrBlock": "10.20.64.0/20"}
    assert doc["securityRelevant"] == 1


def test_unknown_format_names_the_allowed_values():
    diff = diff_plans(network_plan(), network_plan())
    with pytest.raises(ValueError, match="markdown, json"):
        format_diff(diff, "html")


# -- a real config change --------------------------------------------------------------------


def test_a_config_change_is_an_update_of_exactly_the_resources_it_reaches(example_plan):
    base = example_plan("internal")
    stack_file = load_stack_file(STACKS / "Pulumi.internal-example.yaml")
    blueprint = copy.deepcopy(stack_file.config["ai-blueprints:blueprint"])
    assert blueprint["adminCidrs"] == ["198.51.100.0/24"]
    blueprint["adminCidrs"].append("203.0.113.0/24")
    head = render_stack(dataclasses.replace(stack_file, config={**stack_file.config, "ai-blueprints:blueprint": blueprint}))
    diff = diff_plans(base, head)
    # every EKS cluster with a public endpoint (training and each inference region) takes the new allowlist
    assert diff.changes and diff.summary()["same"] == len(head.resources) - len(diff.changes)
    for change in diff.changes:
        assert (change.op, change.type, change.changed_keys) == ("update", CLUSTER, ["vpcConfig.publicAccessCidrs"])
        assert change.after["vpcConfig.publicAccessCidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]
        assert change.security == ['vpcConfig.publicAccessCidrs: ["198.51.100.0/24"] -> ["198.51.100.0/24", "203.0.113.0/24"]']


def test_an_api_change_shows_as_a_redeployment():
    """The deployment's triggers hash the API's definition (components/rest_api.py); a changed
    trigger replaces the deployment, as the provider does (triggers are ForceNew)."""
    deployment = "aws:apigateway/deployment:Deployment"

    def plan(trigger: str) -> Plan:
        return Plan.from_dict(plan_doc("demo", [(deployment, "demo-api-deployment",
                                  {"restApi": "api-1", "triggers": {"demo-api-predict-post": trigger}})]))

    change = only(diff_plans(plan("aaa"), plan("bbb")))
    assert (change.op, change.replace_keys) == ("replace", ["triggers.demo-api-predict-post"])


# -- long values show the part that changed (issue 16, item 4) -------------------------------

def test_a_changed_json_string_shows_the_paths_that_changed_inside_it():
    def drop_caller(r):
        r["demo-key"]["policy"] = json.dumps({"Statement": [{"Resource": "@demo-key.arn", "Sid": "Admins",
                                                             "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]})

    def keep_caller(r):
        r["demo-key"]["policy"] = json.dumps({"Statement": [{"Resource": "@demo-key.arn", "Sid": "Admins",
                                                             "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}}]})

    change = only(diff_plans(network_plan(edit=drop_caller), network_plan(edit=keep_caller)))
    assert change.security == ['policy: JSON Statement[0].Principal.AWS: "arn:aws:iam::123456789012:root" -> '
                               '"arn:aws:iam::123456789012:role/x"']
    assert 'JSON Statement[0].Principal.AWS: "arn:aws:iam::123456789012:root" → ' in format_diff(
        diff_plans(network_plan(edit=drop_caller), network_plan(edit=keep_caller)), "markdown")


def test_a_long_plain_string_shows_a_window_around_its_first_difference():
    from blueprints.plan.diff import show_change

    prefix = "$context.requestId $context.identity.caller $context.status $context.responseLatency "
    shown = show_change(prefix + "$context.model-v1", prefix + "$context.model-v2")
    before, after = shown.split(" → ")
    assert before != after and before.endswith('v1"') and after.endswith('v2"') and before.startswith('"…')
    assert show_change("short", "other") == '"short" → "other"'
