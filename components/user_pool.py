"""A Cognito user pool for API callers: admin-created users only, MFA required, strong
passwords, deletion protection, and one app client without a secret (SRP sign-in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component, check_range, merge_tags

cognito = aws.cognito


@dataclass(frozen=True, kw_only=True)
class UserPoolArgs:
    mfa: bool = True
    """Require TOTP MFA for every user. Default on."""
    deletion_protection: bool = True
    """Refuse to delete the pool through the API. Default on."""
    password_min_length: int = 14
    """Minimum password length (8-99). Default 14."""
    access_token_minutes: int = 60
    """Access- and ID-token lifetime (5-1440 minutes). Default 60."""
    refresh_token_days: int = 1
    """Refresh-token lifetime (1-3650 days). Default 1."""
    tags: Mapping[str, str] = field(default_factory=dict)


class UserPool(Component):
    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    client_id: pulumi.Output[str]
    issuer: pulumi.Output[str]
    """`https://cognito-idp.<region>.amazonaws.com/<pool-id>`: the tokens' `iss`."""

    def __init__(self, name: str, args: UserPoolArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("auth", "UserPool", name, opts)
        check_range(name, "password_min_length", args.password_min_length, 8, 99)
        check_range(name, "access_token_minutes", args.access_token_minutes, 5, 1440)
        check_range(name, "refresh_token_days", args.refresh_token_days, 1, 3650)
        pool = cognito.UserPool(
            f"{name}-pool",
            name=name,
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            admin_create_user_config=cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            mfa_configuration="ON" if args.mfa else "OFF",
            software_token_mfa_configuration=cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True)
            if args.mfa else None,
            password_policy=cognito.UserPoolPasswordPolicyArgs(
                minimum_length=args.password_min_length, require_lowercase=True, require_uppercase=True,
                require_numbers=True, require_symbols=True, temporary_password_validity_days=1,
                password_history_size=24),
            account_recovery_setting=cognito.UserPoolAccountRecoverySettingArgs(recovery_mechanisms=[
                cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)]),
            auto_verified_attributes=["email"],
            username_attributes=["email"],
            tags=merge_tags(f"{name}-pool", args.tags),
            opts=self.child(),
        )
        client = cognito.UserPoolClient(
            f"{name}-client",
            name=f"{name}-api",
            user_pool_id=pool.id,
            generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=args.access_token_minutes,
            id_token_validity=args.access_token_minutes,
            refresh_token_validity=args.refresh_token_days,
            token_validity_units=cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes", id_token="minutes", refresh_token="days"),
            opts=self.child(),
        )
        self.user_pool_id = pool.id
        self.user_pool_arn = pool.arn
        self.client_id = client.id
        self.issuer = pulumi.Output.concat("https://", pool.endpoint)
        self.register_outputs({
            "user_pool_id": self.user_pool_id,
            "user_pool_arn": self.user_pool_arn,
            "client_id": self.client_id,
            "issuer": self.issuer,
        })
