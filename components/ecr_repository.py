"""A private ECR repository: immutable tags, scan on push, KMS encryption, untagged clean-up."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags
from components.kms_key import KmsKey

_REPOSITORY_NAME = re.compile(r"^(?=.{2,256}$)[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


@dataclass(frozen=True, kw_only=True)
class EcrRepositoryArgs:
    repository_name: str
    """Repository name, e.g. "fraud-models/trainer" (lowercase, 2-256 chars, `/` namespaces).
    Required."""
    kms_key: Optional[KmsKey] = None
    """CMK for image layers (encryption type KMS). Default None: AES256 (ECR-managed keys).
    Encryption settings cannot change after creation."""
    immutable_tags: bool = True
    """A pushed tag can never point at another image. Default on."""
    scan_on_push: bool = True
    """Basic vulnerability scan of every pushed image. Default on."""
    untagged_expiry_days: Optional[int] = 14
    """Expire untagged images after N days. Default 14; None keeps them."""
    force_delete: bool = False
    """Let `pulumi destroy` delete a repository that still holds images. Default off."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the repository."""


class EcrRepository(Component):
    repository_url: pulumi.Output[str]
    """`<account>.dkr.ecr.<region>.amazonaws.com/<name>`: append `:<tag>` for an image."""
    repository_arn: pulumi.Output[str]
    repository_name: pulumi.Output[str]

    def __init__(self, name: str, args: EcrRepositoryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("ecr", "EcrRepository", name, opts)
        if not _REPOSITORY_NAME.match(args.repository_name):
            raise ValueError(f"{name}: repository_name {args.repository_name!r} is not a valid ECR name "
                             "(lowercase letters, digits, . _ - separated, `/` between namespaces)")
        if args.untagged_expiry_days is not None and args.untagged_expiry_days < 1:
            raise ValueError(f"{name}: untagged_expiry_days must be at least 1")
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE" if args.immutable_tags else "MUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=args.scan_on_push),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(
                encryption_type="KMS" if args.kms_key else "AES256",
                kms_key=args.kms_key.arn if args.kms_key else None,
            )],
            force_delete=args.force_delete,
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        if args.untagged_expiry_days is not None:
            aws.ecr.LifecyclePolicy(
                f"{name}-lifecycle",
                repository=self.repository.name,
                policy=json.dumps({"rules": [{
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {args.untagged_expiry_days} days",
                    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                                  "countNumber": args.untagged_expiry_days},
                    "action": {"type": "expire"},
                }]}, sort_keys=True),
                opts=self.child(),
            )
        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        self.repository_name = self.repository.name
        self.register_outputs({
            "repository_url": self.repository_url,
            "repository_arn": self.repository_arn,
            "repository_name": self.repository_name,
        })
