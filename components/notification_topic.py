"""An encrypted SNS topic that named AWS services publish to on this account's behalf only.

Each publisher is a service principal with the source ARNs it publishes from: the topic policy
admits it for `sns:Publish` on this topic only, with `aws:SourceAccount` (this account) and
`aws:SourceArn` conditions, the confused-deputy guard the services document (AWS Budgets:
"Creating an Amazon SNS topic for budget notifications"; Cost Anomaly Detection: "Creating an
Amazon SNS topic for anomaly notifications"; EventBridge: "Amazon SNS permissions" of the
EventBridge User Guide). The topic's CMK must admit the same services (their key-policy grants
live with the key: components/kms_key.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags, policy_json
from components.kms_key import KmsKey


@dataclass(frozen=True, kw_only=True)
class TopicPublisher:
    """An AWS service that may publish, and from where."""

    service: str
    """Service principal, e.g. "budgets.amazonaws.com". Required."""
    source_arns: Sequence[pulumi.Input[str]]
    """ARNs (wildcards allowed, ArnLike) of the service's resources that publish, in this
    account. Required, at least one."""


@dataclass(frozen=True, kw_only=True)
class NotificationTopicArgs:
    kms_key: KmsKey
    """CMK of the topic. Required: services cannot publish to a topic under the AWS managed aws/sns
    key; its policy must admit every publisher's service."""
    publishers: Sequence[TopicPublisher]
    """Who may publish (besides this account's own principals, which the topic policy does not
    name). Required, at least one."""
    tags: Mapping[str, str] = field(default_factory=dict)


class NotificationTopic(Component):
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: NotificationTopicArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("monitoring", "NotificationTopic", name, opts)
        if not args.publishers or any(not p.source_arns for p in args.publishers):
            raise ValueError(f"{name}: publishers must name at least one service, each with its source ARNs")
        self.topic = aws.sns.Topic(f"{name}-topic", name=name, kms_master_key_id=args.kms_key.arn,
                                   tags=merge_tags(f"{name}-topic", args.tags), opts=self.child())
        statements = [{
            "Sid": "Publish" + p.service.split(".", 1)[0].title().replace("-", ""),
            "Effect": "Allow",
            "Principal": {"Service": p.service},
            "Action": "sns:Publish",
            "Resource": self.topic.arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": self.aws_account_id},
                          "ArnLike": {"aws:SourceArn": list(p.source_arns)}},
        } for p in args.publishers]
        aws.sns.TopicPolicy(f"{name}-policy", arn=self.topic.arn, policy=policy_json(statements), opts=self.child())
        self.topic_arn = self.topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})
