"""Model lineage: S3 events of the model and training-data buckets on EventBridge, and a rule that
sends every object created or deleted under the model bucket's promotion prefix to an SNS topic and,
where given, to the SIEM's Firehose stream.

S3 sends all of a bucket's events to EventBridge once its notification configuration says
`EventBridgeConfiguration` (S3 User Guide, "Using EventBridge"); the events carry who (requester,
source IP) and when, and are matched by `detail.bucket.name` and a `detail.object.key` prefix
("Amazon S3 event notifications in EventBridge": detail-types "Object Created", "Object Deleted").
A bucket has one notification configuration: nothing else may manage it.

The stream target takes a role only events.amazonaws.com may assume, for this account and this
rule only (aws:SourceAccount, aws:SourceArn), allowed PutRecord/PutRecordBatch on that stream only.
The topic's policy must admit events.amazonaws.com from `rule_arn` (NotificationTopic).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags


@dataclass(frozen=True, kw_only=True)
class LineageEventsArgs:
    notified_buckets: Sequence[pulumi.Input[str]]
    """Bucket names whose events go to EventBridge (the model and training-data buckets). Required."""
    watched_bucket: pulumi.Input[str]
    """The bucket whose promotions the rule matches (one of `notified_buckets`). Required."""
    prefix: str
    """The key prefix of promoted objects, e.g. "approved/". Required, not empty."""
    rule_name: str
    """Name of the EventBridge rule (its ARN is what the topic policy admits). Required."""
    topic_arn: pulumi.Input[str]
    """SNS topic every promotion is sent to. Required."""
    siem_stream_arn: Optional[pulumi.Input[str]] = None
    """The SIEM's Firehose stream in this account and region. Default None: SNS only."""
    tags: Mapping[str, str] = field(default_factory=dict)


def promotion_pattern(bucket: str, prefix: str) -> dict:
    """The event pattern: objects created or deleted under `prefix` in `bucket`."""
    return {"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}}}


class LineageEvents(Component):
    rule_arn: pulumi.Output[str]

    def __init__(self, name: str, args: LineageEventsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("monitoring", "LineageEvents", name, opts)
        if not args.prefix:
            raise ValueError(f"{name}: prefix must not be empty (the rule would match every object)")
        if not args.notified_buckets:
            raise ValueError(f"{name}: notified_buckets must name at least one bucket")
        for i, bucket in enumerate(args.notified_buckets):
            aws.s3.BucketNotification(f"{name}-bucket-{i}", bucket=bucket, eventbridge=True, opts=self.child())
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=args.rule_name,
            description=f"objects created or deleted under {args.prefix} (model promotions)",
            event_pattern=pulumi.Output.from_input(args.watched_bucket).apply(
                lambda bucket: json.dumps(promotion_pattern(bucket, args.prefix), sort_keys=True)),
            tags=merge_tags(f"{name}-rule", args.tags),
            opts=self.child(),
        )
        aws.cloudwatch.EventTarget(f"{name}-to-sns", rule=rule.name, arn=args.topic_arn, opts=self.child())
        if args.siem_stream_arn is not None:
            role = self.service_role("siem-role", "events.amazonaws.com", tags=args.tags, condition={
                "StringEquals": {"aws:SourceAccount": self.aws_account_id},
                "ArnEquals": {"aws:SourceArn": rule.arn}})
            policy = self.role_policy("siem-policy", role, [{
                "Sid": "PutPromotionEvents", "Effect": "Allow",
                "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": args.siem_stream_arn}])
            aws.cloudwatch.EventTarget(f"{name}-to-siem", rule=rule.name, arn=args.siem_stream_arn, role_arn=role.arn,
                                       opts=self.child(depends_on=[policy]))
        self.rule_arn = rule.arn
        self.register_outputs({"rule_arn": self.rule_arn})
