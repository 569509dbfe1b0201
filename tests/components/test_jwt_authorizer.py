"""JwtAuthorizer: the Lambda packaging and role, and the handler's RS256 JWT validation (tokens
signed here with a throwaway RSA key)."""

import base64
import functools
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from blueprints.plan.engine import run_program
from components.jwt_authorizer import HANDLER, JwtAuthorizer, JwtAuthorizerArgs
from components.lambdas.jwt_authorizer import handler
from tests.components.serving_stack import one

ISSUER = "https://login.example.com/"
METHOD_ARN = "arn:aws:execute-api:us-east-2:123456789012:abc123/v1/POST/predict"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@functools.lru_cache(maxsize=None)
def key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def jwks(bits: int = 2048) -> dict:
    numbers = key(bits).public_key().public_numbers()
    as_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, "big")  # noqa: E731
    return {"k1": {"kty": "RSA", "kid": "k1", "n": b64(as_bytes(numbers.n)), "e": b64(as_bytes(numbers.e))}}


def token(claims: dict, *, alg: str = "RS256", kid: str = "k1", bits: int = 2048) -> str:
    header = b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = key(bits).sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64(signature)}"


def claims(**overrides):
    now = int(time.time())
    return {"iss": ISSUER, "sub": "user-1", "aud": "inference", "exp": now + 300, "iat": now, **overrides}


def validate(tok, audience="inference", keys=None):
    return handler.validate(tok, issuer=ISSUER, audience=audience, keys=keys or jwks())


def test_a_valid_token_is_accepted():
    assert validate(token(claims()))["sub"] == "user-1"


@pytest.mark.parametrize("bad", [
    claims(exp=int(time.time()) - 3600),
    claims(iss="https://evil.example.com/"),
    claims(aud="someone-else"),
    claims(nbf=int(time.time()) + 3600),
    claims(sub=""),
])
def test_expired_foreign_or_misaddressed_tokens_are_refused(bad):
    with pytest.raises(handler.Unauthorized):
        validate(token(bad))


def test_a_tampered_payload_or_unknown_key_or_alg_none_is_refused():
    header, _, signature = token(claims()).split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(handler.Unauthorized):
        validate(f"{header}.{forged}.{signature}")
    with pytest.raises(handler.Unauthorized):
        validate(token(claims(), kid="other"))
    none_header = b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    with pytest.raises(handler.Unauthorized):
        validate(f"{none_header}.{forged}.")
    with pytest.raises(handler.Unauthorized):
        validate("not-a-jwt")


def test_short_rsa_keys_are_refused():
    with pytest.raises(handler.Unauthorized):
        validate(token(claims(), bits=1024), keys=jwks(1024))


def test_handler_returns_an_allow_policy_for_the_stage(monkeypatch):
    monkeypatch.setenv("JWT_ISSUER", ISSUER)
    monkeypatch.setenv("JWT_AUDIENCE", "inference")
    monkeypatch.setattr(handler, "_keys", lambda issuer: jwks())
    result = handler.handler({"authorizationToken": "Bearer " + token(claims()), "methodArn": METHOD_ARN})
    assert result["principalId"] == "user-1"
    (statement,) = result["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow",
                         "Resource": "arn:aws:execute-api:us-east-2:123456789012:abc123/v1/*"}
    with pytest.raises(handler.Unauthorized):
        handler.handler({"authorizationToken": token(claims()), "methodArn": METHOD_ARN})


def test_keys_come_from_the_issuers_discovery_document():
    documents = {
        "https://login.example.com/.well-known/openid-configuration": {
            "issuer": ISSUER, "jwks_uri": "https://login.example.com/jwks"},
        "https://login.example.com/jwks": {"keys": list(jwks().values()) + [{"kty": "EC", "kid": "ec"}]},
    }
    assert set(handler.fetch_jwks(ISSUER, documents.__getitem__)) == {"k1"}


@functools.lru_cache(maxsize=None)
def plan():
    return run_program(lambda: JwtAuthorizer("jwt", JwtAuthorizerArgs(issuer=ISSUER, audience="inference")),
                       stack="jwt-test", config={"aws:region": "us-east-2"}, secret_keys=[])


def test_function_is_packaged_from_the_repo_with_its_issuer_and_its_own_log_group():
    function = one(plan(), "aws:lambda/function:Function")
    assert function.inputs["handler"] == "handler.handler" and function.inputs["runtime"] == "python3.12"
    assert function.inputs["code"]["archive"]["assets"] == ["handler.py"]  # the one file, no __pycache__
    assert HANDLER.is_file() and HANDLER.relative_to(HANDLER.parents[3]).as_posix() == "components/lambdas/jwt_authorizer/handler.py"
    assert function.inputs["architectures"] == ["arm64"] and function.inputs["timeout"] == 5
    assert function.inputs["environment"]["variables"]["JWT_ISSUER"] == ISSUER
    assert function.inputs["tracingConfig"] == {"mode": "Active"}
    logs = one(plan(), "aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["name"] == "/aws/lambda/jwt" and logs.protect is True
    assert function.inputs["loggingConfig"]["logGroup"] == "/aws/lambda/jwt"


def test_role_is_for_lambda_in_this_account_and_may_write_only_its_logs_and_traces():
    function = one(plan(), "aws:lambda/function:Function")
    role = one(plan(), "aws:iam/role:Role")
    assert function.inputs["role"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    policy = one(plan(), "aws:iam/rolePolicy:RolePolicy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    logs = one(plan(), "aws:cloudwatch/logGroup:LogGroup")
    assert statements["WriteOwnLogs"]["Resource"] == logs.outputs["arn"] + ":log-stream:*"
    assert set(statements) == {"WriteOwnLogs", "WriteTraces"}  # no CMK here: nothing to decrypt
