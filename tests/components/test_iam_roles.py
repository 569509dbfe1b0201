"""IamRoles: MFA-only trust, a shared permissions boundary, role chaining inside the set."""

import functools
import json

import pytest

from blueprints.plan.engine import run_program
from components.iam_roles import IamRoles, IamRolesArgs, RoleDefinition

READ = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}
BOUNDARY = [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/*"}]


def _run(roles, **kwargs):
    return run_program(lambda: IamRoles("team", IamRolesArgs(roles=roles, boundary_statements=BOUNDARY, **kwargs)),
                       stack="iam-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


@functools.lru_cache(maxsize=None)
def plan():
    return _run([
        RoleDefinition(key="engineer", description="starts jobs", statements=[READ]),
        RoleDefinition(key="operator", description="runs jobs", statements=[READ], assumed_by="engineer"),
    ])


def roles_by_key(p):
    return {r.inputs["name"].removeprefix("team-"): r for r in p.of_type("aws:iam/role:Role")}


def test_people_assume_roles_only_with_mfa():
    engineer = roles_by_key(plan())["engineer"]
    (trust,) = json.loads(engineer.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert engineer.inputs["maxSessionDuration"] == 3600


def test_chained_role_trusts_only_the_role_that_assumes_it():
    roles = roles_by_key(plan())
    (trust,) = json.loads(roles["operator"].inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": roles["engineer"].outputs["arn"]}
    policies = {p.inputs["role"]: json.loads(p.inputs["policy"]) for p in plan().of_type("aws:iam/rolePolicy:RolePolicy")}
    engineer_statements = policies[roles["engineer"].id]["Statement"]
    assert {"Sid": "AssumeOperator", "Effect": "Allow", "Action": "sts:AssumeRole",
            "Resource": roles["operator"].outputs["arn"]} in engineer_statements
    assert not [s for s in policies[roles["operator"].id]["Statement"] if s["Action"] == "sts:AssumeRole"]


def test_every_role_has_the_boundary():
    boundary = plan().of_type("aws:iam/policy:Policy")[0]
    statements = json.loads(boundary.inputs["policy"])["Statement"]
    assert statements[0] == BOUNDARY[0]
    assert all(r.inputs["permissionsBoundary"] == boundary.outputs["arn"] for r in plan().of_type("aws:iam/role:Role"))


def test_mfa_can_be_waived_explicitly():
    p = _run([RoleDefinition(key="reader", description="reads", statements=[READ])], require_mfa=False)
    (trust,) = json.loads(p.of_type("aws:iam/role:Role")[0].inputs["assumeRolePolicy"])["Statement"]
    assert "Condition" not in trust


@pytest.mark.parametrize("roles, message", [
    ([RoleDefinition(key="a", description="x", statements=[READ])], "must match"),
    ([RoleDefinition(key="aa", description="x", statements=[READ], assumed_by="bb")], "must name another role"),
    ([RoleDefinition(key="aa", description="x", statements=[READ]),
      RoleDefinition(key="aa", description="y", statements=[READ])], "unique keys"),
    ([RoleDefinition(key="aa", description="x", statements=[READ], assumed_by="bb"),
      RoleDefinition(key="bb", description="y", statements=[READ], assumed_by="aa")], "forms a cycle"),
])
def test_invalid_role_sets_are_rejected(roles, message):
    with pytest.raises(Exception, match=message):
        _run(roles)


def test_people_and_the_chain_stay_in_the_account_of_the_provider():
    """Under a provider that deploys into another account (an assumed deploy role), the roles
    trust that account's people and chain within that account, not the deploying one."""
    import pulumi
    import pulumi_aws as aws

    def program():
        provider = aws.Provider("training", region="eu-west-1", assume_roles=[aws.ProviderAssumeRoleArgs(
            role_arn="arn:aws:iam::111111111111:role/deployer")])
        IamRoles("team", IamRolesArgs(roles=[RoleDefinition(key="engineer", description="starts jobs", statements=[READ])],
                                      boundary_statements=BOUNDARY), opts=pulumi.ResourceOptions(provider=provider))

    p = run_program(program, stack="iam-test", config={"aws:region": "eu-west-1"}, secret_keys=[])
    (trust,) = json.loads(roles_by_key(p)["engineer"].inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    chain = json.loads(p.of_type("aws:iam/policy:Policy")[0].inputs["policy"])["Statement"][-1]
    assert chain["Sid"] == "ChainWithinTheSet" and chain["Resource"].startswith("arn:aws:iam::111111111111:role/team/")
