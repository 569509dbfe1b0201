"""A set of IAM roles for people: MFA-only trust, least-privilege inline policies, one shared
permissions boundary, and role chaining inside the set (e.g. an engineer assumes an operator)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags, policy_json

_ROLE_KEY = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


@dataclass(frozen=True, kw_only=True)
class RoleDefinition:
    key: str
    """Short name, e.g. "ml-engineer"; the role is named `<component>-<key>`. Required."""
    description: str
    """What the role is for (shown in the console). Required."""
    statements: Sequence[pulumi.Input[Mapping[str, Any]]]
    """The role's inline policy statements. Required (least privilege: name resources)."""
    assumed_by: Optional[str] = None
    """Key of another role in the set that may assume this one (role chaining); its policy gets
    sts:AssumeRole on this role automatically. Default None: people in the account, with MFA."""
    max_session_hours: int = 1
    """Session length (1-12 hours). Default 1."""


@dataclass(frozen=True, kw_only=True)
class IamRolesArgs:
    roles: Sequence[RoleDefinition]
    """The roles. Required, at least one; keys unique."""
    boundary_statements: Sequence[pulumi.Input[Mapping[str, Any]]]
    """The permissions boundary on every role: the most any of them may ever do. Required.
    sts:AssumeRole within the set is added."""
    require_mfa: bool = True
    """People may assume a role only with MFA (aws:MultiFactorAuthPresent). Default on."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the roles and the boundary policy."""


class IamRoles(Component):
    roles: dict[str, aws.iam.Role]
    role_arns: dict[str, pulumi.Output[str]]
    role_names: dict[str, pulumi.Output[str]]
    boundary_arn: pulumi.Output[str]

    def __init__(self, name: str, args: IamRolesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("iam", "IamRoles", name, opts)
        keys = [r.key for r in args.roles]
        if not keys or len(set(keys)) != len(keys):
            raise ValueError(f"{name}: roles must be non-empty with unique keys")
        for role in args.roles:
            if not _ROLE_KEY.match(role.key):
                raise ValueError(f"{name}: role key {role.key!r} must match {_ROLE_KEY.pattern}")
            if len(f"{name}-{role.key}") > 64:
                raise ValueError(f"{name}: role name {name}-{role.key} exceeds IAM's 64 characters")
            if role.assumed_by is not None and (role.assumed_by not in keys or role.assumed_by == role.key):
                raise ValueError(f"{name}: {role.key}.assumed_by must name another role in the set")
            if not 1 <= role.max_session_hours <= 12:
                raise ValueError(f"{name}: {role.key}.max_session_hours must be 1-12")
        account_root = pulumi.Output.concat("arn:", self.aws_partition, ":iam::", self.aws_account_id, ":root")
        path = f"/{name}/"
        in_set = pulumi.Output.concat("arn:", self.aws_partition, ":iam::", self.aws_account_id, ":role", path, "*")

        boundary = aws.iam.Policy(
            f"{name}-boundary",
            name=f"{name}-boundary",
            path=path,
            description=f"{name}: the most any of these roles may do",
            policy=policy_json([
                *args.boundary_statements,
                {"Sid": "ChainWithinTheSet", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": in_set},
            ]),
            tags=merge_tags(f"{name}-boundary", args.tags),
            opts=self.child(),
        )
        self.boundary_arn = boundary.arn

        self.roles = {}
        for role in _chain_order(args.roles):
            if role.assumed_by is None:
                trust: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": account_root}, "Action": "sts:AssumeRole"}
                if args.require_mfa:
                    trust["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
            else:
                trust = {"Effect": "Allow", "Principal": {"AWS": self.roles[role.assumed_by].arn}, "Action": "sts:AssumeRole"}
            self.roles[role.key] = aws.iam.Role(
                f"{name}-{role.key}",
                name=f"{name}-{role.key}",
                path=path,
                description=role.description,
                assume_role_policy=policy_json([trust]),
                permissions_boundary=boundary.arn,
                max_session_duration=role.max_session_hours * 3600,
                tags=merge_tags(f"{name}-{role.key}", args.tags),
                opts=self.child(),
            )
        for role in args.roles:
            statements = list(role.statements) + [
                {"Sid": f"Assume{_pascal(other.key)}", "Effect": "Allow", "Action": "sts:AssumeRole",
                 "Resource": self.roles[other.key].arn}
                for other in args.roles if other.assumed_by == role.key
            ]
            aws.iam.RolePolicy(
                f"{name}-{role.key}-policy",
                role=self.roles[role.key].id,
                policy=policy_json(statements),
                opts=self.child(),
            )
        self.role_arns = {key: r.arn for key, r in self.roles.items()}
        self.role_names = {key: r.name for key, r in self.roles.items()}
        self.register_outputs({"role_arns": self.role_arns, "role_names": self.role_names, "boundary_arn": self.boundary_arn})


def _chain_order(roles: Sequence[RoleDefinition]) -> list[RoleDefinition]:
    """Roles ordered so that each comes after the role that assumes it (trust needs its ARN)."""
    ordered: list[RoleDefinition] = []
    pending = list(roles)
    while pending:
        ready = [r for r in pending if r.assumed_by is None or r.assumed_by in {o.key for o in ordered}]
        if not ready:
            raise ValueError("assumed_by forms a cycle: " + ", ".join(r.key for r in pending))
        ordered.extend(ready)
        done = {r.key for r in ready}
        pending = [r for r in pending if r.key not in done]
    return ordered


def _pascal(key: str) -> str:
    return "".join(part.title() for part in key.split("-"))
