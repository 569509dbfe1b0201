"""Threat detection in one region: GuardDuty, Security Hub, and findings routed to the SIEM and SNS."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags, policy_json
from components.encrypted_bucket import EncryptedBucket
from components.kms_key import KmsKey
from components.siem_shipper import SiemShipper

# Longest component name: rule and role names (64) = name + "-securityhub" + Pulumi's 8-character suffix.
MAX_NAME = 44
FOUNDATIONAL_BEST_PRACTICES = "aws-foundational-security-best-practices/v/1.0.0"

# EventBridge patterns of the findings each service publishes.
_FINDINGS = {
    "guardduty": {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]},
    "securityhub": {"source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"]},
}


@dataclass(frozen=True, kw_only=True)
class ThreatDetectionArgs:
    kms_key: KmsKey
    """CMK of the findings alert topic; its policy must let events.amazonaws.com use it (EventBridge
    cannot publish to a topic under the AWS managed aws/sns key). Required."""
    siem: Optional[SiemShipper] = None
    """The region's SIEM shipper; findings go to its delivery stream. Default None: SNS only."""
    finding_publishing_frequency: Literal["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] = "FIFTEEN_MINUTES"
    """How often GuardDuty re-publishes updated findings. Default FIFTEEN_MINUTES, the fastest."""
    s3_protection: bool = True
    """GuardDuty S3 protection (S3_DATA_EVENTS). Default on."""
    eks_audit_logs: bool = True
    """GuardDuty EKS audit log monitoring (EKS_AUDIT_LOGS). Default on."""
    runtime_monitoring: bool = True
    """GuardDuty runtime monitoring with the managed EKS add-on (RUNTIME_MONITORING +
    EKS_ADDON_MANAGEMENT). Default on."""
    ebs_malware_protection: bool = True
    """Scan EBS volumes of instances with suspicious findings (EBS_MALWARE_PROTECTION). Default on."""
    malware_scanned_buckets: Sequence[EncryptedBucket] = ()
    """Buckets in this region whose new objects GuardDuty scans for malware (and tags with the
    verdict). Default none."""
    malware_scan_role_tags: Mapping[str, str] = field(default_factory=dict)
    """Extra tags on the malware-scan service role, e.g. the principal tag a bucket policy
    exempts from its VPC-endpoint-only rule. Default none."""
    security_hub: bool = True
    """Enable Security Hub (consolidated control findings) in this region. Default on."""
    security_hub_standards: Sequence[str] = (FOUNDATIONAL_BEST_PRACTICES,)
    """Standards to subscribe to (`standards/<this>` ARNs). Default: AWS Foundational Security
    Best Practices. Ignored without security_hub."""
    compliance_rule_prefix: Optional[str] = None
    """Route AWS Config compliance changes to NON_COMPLIANT of the rules whose names start with this
    prefix (this stack's) to the SIEM stream and the topic, like findings. Default None: not routed."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags merged after Name."""


def compliance_changes(prefix: str) -> dict[str, Any]:
    """The EventBridge pattern of AWS Config's "Config Rules Compliance Change" events in which a
    rule named `prefix...` found a resource NON_COMPLIANT (the event's detail carries the rule's
    name and newEvaluationResult; Config developer guide, "Example Compliance Change Notification")."""
    return {"source": ["aws.config"], "detail-type": ["Config Rules Compliance Change"],
            "detail": {"configRuleName": [{"prefix": prefix}],
                       "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]}}}


class ThreatDetection(Component):
    """GuardDuty detector + features + S3 malware protection plans, Security Hub + standards,
    an encrypted SNS topic, and EventBridge rules sending findings to the SIEM stream and SNS."""

    detector_id: pulumi.Output[str]
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ThreatDetectionArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("security", "ThreatDetection", name, opts)
        if len(name) > MAX_NAME:
            raise ValueError(f"{name}: at most {MAX_NAME} characters (EventBridge rule and IAM role names derived from it)")
        if args.kms_key is None:
            raise ValueError(f"{name}: kms_key is required (EventBridge cannot publish to an aws/sns-encrypted topic)")

        self.detector = aws.guardduty.Detector(
            f"{name}-guardduty",
            enable=True,
            finding_publishing_frequency=args.finding_publishing_frequency,
            tags=merge_tags(f"{name}-guardduty", args.tags),
            opts=self.child(),
        )
        self._create_features(name, args)
        for i, bucket in enumerate(args.malware_scanned_buckets, start=1):
            self._create_malware_plan(f"scan-{i}", args, bucket)
        sources = ["guardduty"]
        if args.security_hub:
            hub = aws.securityhub.Account(
                f"{name}-securityhub",
                enable_default_standards=False,
                control_finding_generator="SECURITY_CONTROL",
                auto_enable_controls=True,
                opts=self.child(),
            )
            for standard in args.security_hub_standards:
                aws.securityhub.StandardsSubscription(
                    f"{name}-standard-{standard.split('/')[0]}",
                    standards_arn=pulumi.Output.concat("arn:", self.aws_partition, ":securityhub:", self.aws_region,
                                                       "::standards/", standard),
                    opts=self.child(depends_on=[hub]),
                )
            sources.append("securityhub")
        patterns = {source: _FINDINGS[source] for source in sources}
        if args.compliance_rule_prefix:
            patterns["config"] = compliance_changes(args.compliance_rule_prefix)
        self.topic = self._create_routing(name, args, patterns)

        self.detector_id = self.detector.id
        self.topic_arn = self.topic.arn
        self.register_outputs({"detector_id": self.detector_id, "topic_arn": self.topic_arn})

    def _create_features(self, name: str, args: ThreatDetectionArgs) -> None:
        G = aws.guardduty
        features: list[tuple[str, list[Any]]] = []
        if args.s3_protection:
            features.append(("S3_DATA_EVENTS", []))
        if args.eks_audit_logs:
            features.append(("EKS_AUDIT_LOGS", []))
        if args.runtime_monitoring:
            features.append(("RUNTIME_MONITORING", [
                G.DetectorFeatureAdditionalConfigurationArgs(name="EKS_ADDON_MANAGEMENT", status="ENABLED")]))
        if args.ebs_malware_protection:
            features.append(("EBS_MALWARE_PROTECTION", []))
        for feature, extra in features:
            G.DetectorFeature(
                f"{name}-{feature.lower().replace('_', '-')}",
                detector_id=self.detector.id,
                name=feature,
                status="ENABLED",
                additional_configurations=extra or None,
                opts=self.child(),
            )

    def _create_malware_plan(self, suffix: str, args: ThreatDetectionArgs, bucket: EncryptedBucket) -> None:
        label = f"{self._name}-{suffix}"
        role = self.service_role(f"{suffix}-role", "malware-protection-plan.guardduty.amazonaws.com", tags=args.tags,
                                 extra_tags=args.malware_scan_role_tags, condition=self.source_account_condition())
        rules = pulumi.Output.concat("arn:", self.aws_partition, ":events:", self.aws_region, ":", self.aws_account_id,
                                     ":rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*")
        objects = pulumi.Output.concat(bucket.arn, "/*")
        # The policy AWS documents for a malware protection plan's service role.
        policy = self.role_policy(f"{suffix}-policy", role, [
            {"Sid": "ManageScanRules", "Effect": "Allow",
             "Action": ["events:PutRule", "events:DeleteRule", "events:PutTargets", "events:RemoveTargets"],
             "Resource": rules,
             "Condition": {"StringLike": {"events:ManagedBy": "malware-protection-plan.guardduty.amazonaws.com"}}},
            {"Sid": "ReadScanRules", "Effect": "Allow",
             "Action": ["events:DescribeRule", "events:ListTargetsByRule"], "Resource": rules},
            {"Sid": "BucketNotifications", "Effect": "Allow",
             "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification", "s3:ListBucket"],
             "Resource": bucket.arn},
            {"Sid": "ValidationObject", "Effect": "Allow", "Action": "s3:PutObject",
             "Resource": pulumi.Output.concat(bucket.arn, "/malware-protection-resource-validation-object")},
            {"Sid": "ScanAndTagObjects", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
                        "s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
             "Resource": objects},
            {"Sid": "DecryptObjects", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
             "Resource": pulumi.Output.concat("arn:", self.aws_partition, ":kms:", self.aws_region, ":", self.aws_account_id, ":key/*"),
             "Condition": {"StringLike": {"kms:ViaService": pulumi.Output.concat("s3.", self.aws_region, ".amazonaws.com")}}},
        ])
        aws.guardduty.MalwareProtectionPlan(
            label,
            role=role.arn,
            protected_resource=aws.guardduty.MalwareProtectionPlanProtectedResourceArgs(
                s3_bucket=aws.guardduty.MalwareProtectionPlanProtectedResourceS3BucketArgs(bucket_name=bucket.bucket_name)),
            actions=[aws.guardduty.MalwareProtectionPlanActionArgs(
                taggings=[aws.guardduty.MalwareProtectionPlanActionTaggingArgs(status="ENABLED")])],
            tags=merge_tags(label, args.tags),
            opts=self.child(depends_on=[policy]),
        )

    def _create_routing(self, name: str, args: ThreatDetectionArgs,
                        patterns: Mapping[str, Mapping[str, Any]]) -> aws.sns.Topic:
        topic = aws.sns.Topic(
            f"{name}-findings",
            kms_master_key_id=args.kms_key.arn,
            tags=merge_tags(f"{name}-findings", args.tags),
            opts=self.child(),
        )
        to_siem = None
        if args.siem is not None:
            role = self.service_role("events-role", "events.amazonaws.com", tags=args.tags,
                                     condition=self.source_account_condition())
            policy = self.role_policy("events-policy", role, [{
                "Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                "Resource": args.siem.stream_arn}])
            to_siem = (role, policy)
        rule_arns = []
        for source, pattern in patterns.items():
            what = "non-compliance" if source == "config" else "findings"
            rule = aws.cloudwatch.EventRule(
                f"{name}-{source}",
                description=f"{source} {what} to the SIEM and the alert topic",
                event_pattern=json.dumps(pattern, sort_keys=True),
                tags=merge_tags(f"{name}-{source}", args.tags),
                opts=self.child(),
            )
            rule_arns.append(rule.arn)
            aws.cloudwatch.EventTarget(f"{name}-{source}-to-sns", rule=rule.name, arn=topic.arn, opts=self.child())
            if to_siem is not None:
                aws.cloudwatch.EventTarget(
                    f"{name}-{source}-to-siem",
                    rule=rule.name,
                    arn=args.siem.stream_arn,
                    role_arn=to_siem[0].arn,
                    opts=self.child(depends_on=[to_siem[1]]),
                )
        aws.sns.TopicPolicy(
            f"{name}-findings-policy",
            arn=topic.arn,
            policy=policy_json([{
                "Sid": "EventBridgePublishesFindings",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
            }]),
            opts=self.child(),
        )
        return topic
