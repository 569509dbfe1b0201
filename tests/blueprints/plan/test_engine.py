"""The offline engine: stack files in, deterministic plans in DESIGN.md's shape out."""

import json

import pytest

from blueprints.plan import engine
from blueprints.plan.engine import StackFileError, load_plan_file, load_stack_file, render_stack
from blueprints.spec import SpecError
from tests.conftest import STACKS, spec_config, write_stack


def test_plan_json_has_the_design_shape(example_plan):
    doc = example_plan("restricted").to_dict()
    assert list(doc) == ["version", "project", "stack", "tier", "accounts", "organization", "steps", "changeSummary"]
    assert doc["organization"] == "o-a1b2c3d4e5"
    assert engine.Plan.from_dict(doc).organization == "o-a1b2c3d4e5"
    assert (doc["version"], doc["project"], doc["stack"], doc["tier"]) == (1, "ai-blueprints", "restricted-example", "restricted")
    assert doc["changeSummary"] == {"create": len(doc["steps"])}
    bucket = next(s for s in doc["steps"] if s["newState"]["type"] == "aws:s3/bucket:Bucket")
    assert bucket["op"] == "create" and bucket["urn"].startswith("urn:pulumi:restricted-example::ai-blueprints::")
    state = bucket["newState"]
    assert {"urn", "type", "custom", "id", "parent", "provider", "inputs", "outputs", "dependencies", "protect"} <= set(state)
    assert state["provider"] == bucket["provider"]
    assert state["outputs"]["arn"] == f"arn:aws:s3:::{state['id']}"
    assert list(example_plan("public").to_dict()) == ["version", "project", "stack", "tier", "steps", "changeSummary"]


# The simplest example and the one with every feature (three accounts, two regions, canary-ready
# API, foundation models): a second render in this process must match the first byte for byte
# (under xdist the first may even come from the other worker's process).
@pytest.mark.parametrize("tier", ["public", "restricted"])
def test_same_input_gives_byte_identical_output(example_plan, tier):
    again = render_stack(load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml")).to_json()
    assert again == example_plan(tier).to_json()
    doc = json.loads(again)
    assert doc["tier"] == tier and doc["changeSummary"]["create"] == len(doc["steps"]) > 100


def test_steps_come_after_their_parents_providers_and_dependencies(example_plan):
    plan = example_plan("restricted")
    position = {r.urn: i for i, r in enumerate(plan.resources)}
    for r in plan.resources:
        if r.parent:
            assert position[r.parent] < position[r.urn]
        if r.provider:
            assert position[r.provider.rsplit("::", 1)[0]] < position[r.urn]
        for dep in r.dependencies:
            assert position[dep] < position[r.urn]


def test_ids_and_arns_look_real(example_plan):
    plan = example_plan("restricted")
    (vpc, *_) = plan.of_type("aws:ec2/vpc:Vpc")
    assert vpc.id.startswith("vpc-") and len(vpc.id) == 21
    for key in plan.of_type("aws:kms/key:Key"):
        assert key.outputs["arn"].startswith(f"arn:aws:kms:{key.region}:") and key.outputs["arn"].endswith(f":key/{key.id}")
    assert {key.region for key in plan.of_type("aws:kms/key:Key")} == {"eu-west-1", "eu-central-1"}
    assert len(key.id) == 36 and key.id.count("-") == 4


def test_invokes_are_answered_per_region(example_plan):
    plan = example_plan("confidential")
    subnets = [s for s in plan.of_type("aws:ec2/subnet:Subnet") if plan.provider_region(s) == "eu-central-1"]
    assert subnets and {s.inputs["availabilityZone"][:-1] for s in subnets} == {"eu-central-1"}


def test_secure_values_never_reach_the_plan(example_plan):
    text = (STACKS / "Pulumi.restricted-example.yaml").read_text()
    ciphertext = text.split("secure:")[1].split()[0]
    stack = load_stack_file(STACKS / "Pulumi.restricted-example.yaml")
    config, secret_keys = stack.runtime_config()
    assert secret_keys == ["ai-blueprints:blueprint"]
    assert json.loads(config["ai-blueprints:blueprint"])["siem"]["token"] == "[secret]"
    assert ciphertext not in example_plan("restricted").to_json()  # rendered from that same file


def test_every_registered_resource_is_recorded_with_its_parent(example_plan):
    plan = example_plan("internal")
    urns = {r.urn for r in plan.resources}
    stack_urn = next(r.urn for r in plan.resources if r.type == "pulumi:pulumi:Stack")
    for r in plan.resources:
        if r.type != "pulumi:pulumi:Stack" and not r.name.startswith("default_"):
            assert r.parent in urns, r.urn
    assert all(r.parent == stack_urn for r in plan.of_type("pulumi:providers:aws"))


def test_plan_round_trips_through_json(tmp_path, example_plan):
    plan = example_plan("public")
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    again = load_plan_file(path)
    assert again.to_json() == plan.to_json()
    assert [again.provider_region(r) for r in again.resources] == [plan.provider_region(r) for r in plan.resources]


def test_invalid_spec_registers_nothing(tmp_path, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the program ran although the spec is invalid")

    monkeypatch.setattr(engine, "run_program", must_not_run)
    path = write_stack(tmp_path, spec_config("restricted", {"inference": {"auth": "jwt"}}))
    with pytest.raises(SpecError):
        render_stack(load_stack_file(path))


def test_program_refuses_invalid_config_before_building(monkeypatch):
    import pulumi

    from blueprints import blueprint

    calls = []
    monkeypatch.setattr(blueprint, "build", lambda spec: calls.append(spec))
    config = {"aws:region": "eu-west-1", "ai-blueprints:blueprint": json.dumps(spec_config("restricted", {"tier": "nope"}))}
    from blueprints.program import main

    with pytest.raises(pulumi.RunError, match="tier: 'nope' is not allowed"):
        engine.run_program(main, stack="bad", config=config, secret_keys=[])
    assert calls == []


@pytest.mark.parametrize("content, message", [
    ("config: [1, 2", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("config:\n  aws:region: eu-west-1\nresources: {}\n", r"unknown top-level key\(s\) resources"),
])
def test_unreadable_stack_files_are_named(tmp_path, content, message):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(content)
    with pytest.raises(StackFileError, match=message):
        load_stack_file(path)


def test_missing_stack_file_and_bad_name(tmp_path):
    with pytest.raises(StackFileError, match="no such stack file"):
        load_stack_file(tmp_path / "Pulumi.none.yaml")
    other = tmp_path / "stack.yaml"
    other.write_text("config: {}\n")
    with pytest.raises(StackFileError, match=r"Pulumi.<stack>.yaml"):
        load_stack_file(other)


def test_unanswered_invoke_is_an_error_not_a_silent_empty_answer():
    mocks = engine.RecordingMocks("eu-west-1", "t")

    class Args:
        token, args, provider = "aws:ec2/getVpc:getVpc", {}, ""

    with pytest.raises(engine.EngineError, match="no answer for invoke aws:ec2/getVpc:getVpc"):
        mocks.call(Args())


def test_each_account_gets_providers_that_assume_its_deploy_role_and_arns_carry_it(example_plan):
    """Multi-account: one provider per (account, region), assuming the deploy role with a session
    name and the external id; what a provider creates carries its account in every ARN, and its
    lookups (caller identity) answer as that account."""
    plan = example_plan("restricted")
    providers = plan.of_type("pulumi:providers:aws")
    roles = {}
    for p in providers:
        (assume,) = json.loads(p.inputs["assumeRoles"]) if isinstance(p.inputs["assumeRoles"], str) else p.inputs["assumeRoles"]
        account = assume["roleArn"].split(":")[4]
        assert assume == {"roleArn": f"arn:aws:iam::{account}:role/ai-blueprints-deployer",
                          "sessionName": "ai-blueprints-fraud-models", "externalId": "ai-blueprints-fraud-models"}
        assert p.name == f"aws-{account}-{p.inputs['region']}"
        roles[f"{p.urn}::{p.id}"] = account
    assert set(roles.values()) >= {"111111111111", "222222222222"}
    for key in plan.of_type("aws:kms/key:Key"):
        assert key.outputs["arn"] == f"arn:aws:kms:{key.region}:{roles[key.provider]}:key/{key.id}"
    doc = plan.to_dict()
    assert doc["accounts"] == {"training": "111111111111", "inference": "222222222222", "logArchive": "333333333333"}
    # the deploy role of each account administers that account's clusters (access entries)
    for entry in plan.of_type("aws:eks/accessEntry:AccessEntry"):
        if entry.inputs.get("principalArn", "").endswith(":role/ai-blueprints-deployer"):
            assert entry.inputs["principalArn"] == f"arn:aws:iam::{roles[entry.provider]}:role/ai-blueprints-deployer"


def test_a_single_account_plan_declares_no_accounts_and_assumes_no_role(example_plan):
    doc = example_plan("public").to_dict()
    assert "accounts" not in doc and "organization" not in doc
    assert all("assumeRoles" not in r.inputs for r in example_plan("public").of_type("pulumi:providers:aws"))



def test_a_program_that_fails_with_an_unresolved_deferred_output_fails_instead_of_hanging():
    import pulumi

    def program():
        _, resolve = pulumi.deferred_output()
        raise ValueError("a defect in a component")

    with pytest.raises(Exception, match="a defect in a component"):
        engine.run_program(program, stack="t", config={"aws:region": "eu-west-1"}, secret_keys=[])
