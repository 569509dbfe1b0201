"""A Lambda function that validates JWTs for an API Gateway TOKEN authorizer (code in
components/lambdas/jwt_authorizer/handler.py), with its own role and an encrypted, retained log group."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

import pulumi

from components._base import Component, StatefulOptions
from components.kms_key import KmsKey
from components.rest_api import TokenAuthorizer

HANDLER = Path(__file__).resolve().parent / "lambdas" / "jwt_authorizer" / "handler.py"


@dataclass(frozen=True, kw_only=True)
class JwtAuthorizerArgs:
    issuer: str
    """The tokens' `iss`, an https URL serving /.well-known/openid-configuration. Required."""
    audience: Optional[str] = None
    """Required `aud`. Default None: any audience of the issuer."""
    ttl_seconds: int = 300
    """How long API Gateway caches a decision per token (0-3600). Default 300."""
    log_retention_days: int = 365
    """Function log retention; one of CloudWatch's values. Default 365."""
    kms_key: Optional[KmsKey] = None
    """CMK for the log group and the function's environment. Default None: AWS managed keys."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the log group. Default: protected."""
    tags: Mapping[str, str] = field(default_factory=dict)


class JwtAuthorizer(Component):
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    authorizer: TokenAuthorizer
    """What RestApiArgs.token_authorizer takes."""

    def __init__(self, name: str, args: JwtAuthorizerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("auth", "JwtAuthorizer", name, opts)
        if not args.issuer.startswith("https://"):
            raise ValueError(f"{name}: issuer must be an https URL, got {args.issuer!r}")
        function = self.lambda_function(
            "function",
            function_name=name,
            source=HANDLER,
            description="API Gateway TOKEN authorizer: RS256 JWT validation",
            variables={
                "JWT_ISSUER": args.issuer,
                **({"JWT_AUDIENCE": args.audience} if args.audience else {}),
                "JWKS_CACHE_SECONDS": "3600",
            },
            timeout=5,
            tracing=True,
            retention_days=args.log_retention_days,
            kms_key=args.kms_key,
            stateful=args.stateful,
            tags=args.tags,
        )
        self.function_name = function.name
        self.function_arn = function.arn
        self.invoke_arn = function.invoke_arn
        self.authorizer = TokenAuthorizer(function_name=function.name, invoke_arn=function.invoke_arn,
                                          ttl_seconds=args.ttl_seconds)
        self.register_outputs({
            "function_name": self.function_name,
            "function_arn": self.function_arn,
            "invoke_arn": self.invoke_arn,
        })
