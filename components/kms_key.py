"""A customer managed KMS key with rotation, a key policy scoped to the account, and an alias."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, check_range, merge_tags, policy_json

# Services whose KMS requests carry no aws:SourceAccount/aws:SourceArn: EventBridge delivering
# to an encrypted SNS topic (the SNS developer guide, "compatibility between event sources from
# AWS services and encrypted topics"). A source condition would silently drop every event.
_NO_SOURCE_CONTEXT = frozenset({"events"})

_USE_ACTIONS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
]


@dataclass(frozen=True, kw_only=True)
class KmsKeyArgs:
    description: str
    """What the key protects (shown in the console). Required."""
    service_principals: Sequence[str] = ()
    """AWS services that may use the key, e.g. "s3", "logs", "firehose", "sns" (bare service
    names; `logs` is scoped to this region's log groups). Default: none, only the account."""
    grant_services: Sequence[str] = ()
    """Services that also need kms:CreateGrant (EKS, EBS via autoscaling, FSx). Default: none."""
    service_linked_roles: Sequence[str] = ()
    """Service-linked roles (path after `role/aws-service-role/`, e.g.
    "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling") that may use the key and create
    grants: EC2 Auto Scaling launches encrypted EBS volumes through its SLR. They need not exist
    yet: the statement's principal is any principal of this account whose ARN is the role's
    (aws:PrincipalAccount + aws:PrincipalArn conditions). Default none."""
    trusted_accounts: Sequence[pulumi.Input[str]] = ()
    """Other AWS accounts (12-digit ids) whose principals may use the key to encrypt and decrypt,
    for cross-account delivery (CloudTrail and Firehose writing into a log archive, S3 replicating
    models into another account). The key policy delegates to that account's IAM (its root), whose
    own policies must name the key too (AWS KMS developer guide, "Allowing users in other accounts
    to use a KMS key"). Default none."""
    enable_key_rotation: bool = True
    """Annual automatic rotation. Default on; turning it off conflicts with every tier above public."""
    rotation_period_days: int = 365
    """Days between rotations (90-2560). Default 365."""
    deletion_window_days: int = 30
    """Waiting period before deletion (7-30). Default 30, the longest."""
    alias: Optional[str] = None
    """Alias without the `alias/` prefix. Default: the component name."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags merged after Name and before nothing else."""


class KmsKey(Component):
    """A CMK whose policy lets the account administer it (via IAM) and lets only the named AWS
    services in this account use it."""

    key_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(self, name: str, args: KmsKeyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("kms", "KmsKey", name, opts)
        check_range(name, "rotation_period_days", args.rotation_period_days, 90, 2560)
        check_range(name, "deletion_window_days", args.deletion_window_days, 7, 30)
        account_root = pulumi.Output.concat("arn:", self.aws_partition, ":iam::", self.aws_account_id, ":root")
        statements: list = [
            {
                "Sid": "AccountAdministersKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": account_root},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        for service in sorted(set(args.service_principals) | set(args.grant_services)):
            principal = pulumi.Output.concat(service, ".", self.aws_region, ".amazonaws.com") if service == "logs" else f"{service}.amazonaws.com"
            statement = {
                "Sid": f"Allow{service.replace('-', '').replace('.', '').title()}Use",
                "Effect": "Allow",
                "Principal": {"Service": principal},
                "Action": _USE_ACTIONS + (["kms:CreateGrant"] if service in args.grant_services else []),
                "Resource": "*",
                # Services act for this account, and for the trusted ones (CloudTrail and
                # Firehose of a workload account delivering into a log archive).
                "Condition": {"StringEquals": {"aws:SourceAccount": [self.aws_account_id, *args.trusted_accounts]
                                               if args.trusted_accounts else self.aws_account_id}},
            }
            if service in _NO_SOURCE_CONTEXT:
                del statement["Condition"]
            elif service == "logs":
                statement["Condition"] = {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                            "arn:", self.aws_partition, ":logs:", self.aws_region, ":", self.aws_account_id, ":*"
                        )
                    }
                }
            statements.append(statement)

        if args.trusted_accounts:
            statements.append({
                "Sid": "AllowTrustedAccountsUse",
                "Effect": "Allow",
                "Principal": {"AWS": [pulumi.Output.concat("arn:", self.aws_partition, ":iam::", a, ":root")
                                      for a in args.trusted_accounts]},
                "Action": _USE_ACTIONS,
                "Resource": "*",
            })

        for slr in sorted(set(args.service_linked_roles)):
            # KMS rejects a policy whose principals do not exist, and a service-linked role may
            # not exist yet (the service creates it on first use, possibly later in this very
            # deployment). Condition values are not validated: name the role there, constrained
            # to this account.
            statements.append({
                "Sid": "AllowServiceLinkedRole" + slr.rsplit("/", 1)[-1].removeprefix("AWSServiceRoleFor"),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": _USE_ACTIONS + ["kms:CreateGrant"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalAccount": self.aws_account_id},
                    "ArnLike": {"aws:PrincipalArn": pulumi.Output.concat(
                        "arn:", self.aws_partition, ":iam::", self.aws_account_id, ":role/aws-service-role/", slr)},
                },
            })

        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=args.enable_key_rotation,
            rotation_period_in_days=args.rotation_period_days if args.enable_key_rotation else None,
            deletion_window_in_days=args.deletion_window_days,
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            policy=policy_json(statements),
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias or name}",
            target_key_id=self.key.key_id,
            opts=self.child(),
        )
        self.key_id = self.key.key_id
        self.arn = self.key.arn
        self.alias_name = self.alias.name
        self.register_outputs({"key_id": self.key_id, "arn": self.arn, "alias_name": self.alias_name})
