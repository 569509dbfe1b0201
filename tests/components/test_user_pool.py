"""UserPool: admin-created users, MFA on, strong passwords, deletion protection, no client secret."""

import functools

from blueprints.plan.engine import run_program
from components.user_pool import UserPool, UserPoolArgs
from tests.components.serving_stack import one


@functools.lru_cache(maxsize=None)
def plan():
    return run_program(lambda: UserPool("users", UserPoolArgs()), stack="pool-test",
                       config={"aws:region": "us-east-1"}, secret_keys=[])


def test_pool_is_closed_to_self_signup_and_requires_mfa():
    pool = one(plan(), "aws:cognito/userPool:UserPool").inputs
    assert pool["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert pool["mfaConfiguration"] == "ON" and pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool["deletionProtection"] == "ACTIVE"
    assert pool["passwordPolicy"]["minimumLength"] == 14


def test_client_uses_srp_and_hides_user_existence():
    client = one(plan(), "aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["generateSecret"] is False
    assert client["explicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["preventUserExistenceErrors"] == "ENABLED" and client["enableTokenRevocation"] is True
