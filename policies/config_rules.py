"""Which AWS Config managed rule keeps checking a guardrail after deploy, as data next to the rules.

`blueprint check` judges the plan before `pulumi up`; once deployed, a console change (a bucket
policy opened, trail validation switched off) goes unseen until an audit. Where AWS Config has a
managed rule that checks the same condition in the account, the blueprint deploys it (per account
and region that records, blueprints/compliance.py) for every rule the tier makes mandatory, and
docs/RULES.md names it. A rule with no entry here is "checked before deploy only".

Every identifier, trigger type and parameter name below is the one in the AWS Config developer
guide page of that rule (https://docs.aws.amazon.com/config/latest/developerguide/<rule-name>.html,
`ManagedConfigRule.doc_url`). Two constraints of AWS Config shape the table:
- A change-triggered rule is scoped to the blueprint's resources: its resource types and the
  `Blueprint` tag every resource carries. A periodic rule cannot be scoped (PutConfigRule rejects a
  Scope on a periodic rule with InvalidParameterValueException), so it evaluates every resource of
  its type in the account and region; its parameters narrow it where the rule has any.
- Rules that would judge resources the guardrail exempts are left out rather than deployed to report
  false findings: S3 server access logging and CMK encryption (the access-log targets, which S3
  requires to use SSE-S3 and which do not log themselves), Object Lock (only the audit and model
  buckets are locked) and S3 data events (recorded for the training buckets only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping, Optional

from blueprints.tiers import Tier

# What docs/RULES.md says of a rule without a managed equivalent.
NO_CONFIG_RULE = "none: checked before deploy only"
# CW_LOGGROUP_RETENTION_PERIOD_CHECK's MinRetentionTime accepts only these values (days).
CONFIG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)

S3_BUCKET = "AWS::S3::Bucket"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"


def _always(tier: Tier) -> bool:
    return True


def _none(tier: Tier) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class ManagedConfigRule:
    identifier: str  # the managed rule's SourceIdentifier, e.g. S3_BUCKET_SSL_REQUESTS_ONLY
    trigger: Literal["change", "periodic"]
    resource_types: tuple[str, ...]  # CloudFormation types it evaluates; a change-triggered rule's scope
    parameters: Callable[[Tier], Mapping[str, str]] = field(default=_none, repr=False, compare=False)
    applies: Callable[[Tier], bool] = field(default=_always, repr=False, compare=False)  # same condition on this tier
    global_types: bool = False  # evaluates global resources (IAM): only where they are recorded
    note: str = ""  # how it differs from the guardrail, for docs/RULES.md

    @property
    def name(self) -> str:
        """The rule's name in the AWS Config docs (S3_BUCKET_SSL_REQUESTS_ONLY -> s3-bucket-ssl-requests-only),
        except where AWS names the page differently."""
        return _DOC_NAMES.get(self.identifier, self.identifier.lower().replace("_", "-"))

    @property
    def doc_url(self) -> str:
        return f"https://docs.aws.amazon.com/config/latest/developerguide/{self.name}.html"

    def __post_init__(self) -> None:
        if self.trigger == "change" and not self.resource_types:
            raise ValueError(f"{self.identifier}: a change-triggered rule is scoped by resource type; name them")


_DOC_NAMES = {"MULTI_REGION_CLOUD_TRAIL_ENABLED": "multi-region-cloudtrail-enabled"}


def config_retention_days(days: int) -> int:
    """The longest MinRetentionTime AWS Config accepts that does not exceed `days` (the tier keeps
    2557 days on restricted; AWS Config checks 1827, and the guardrail checks 2557 before deploy)."""
    return max(d for d in CONFIG_RETENTION_DAYS if d <= days)


def _retention(tier: Tier) -> Mapping[str, str]:
    return {"MinRetentionTime": str(config_retention_days(tier.log_retention_days))}


def change(identifier: str, *types: str, **kw) -> ManagedConfigRule:
    return ManagedConfigRule(identifier, "change", tuple(types), **kw)


def periodic(identifier: str, *types: str, **kw) -> ManagedConfigRule:
    return ManagedConfigRule(identifier, "periodic", tuple(types), **kw)


# AIB rule id -> the managed rule that keeps checking it.
CONFIG_RULES: dict[str, ManagedConfigRule] = {
    # network isolation
    "AIB-005": change("VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS", SECURITY_GROUP,
                      note="no port authorized: any port open to 0.0.0.0/0 is non-compliant (IPv4 only)"),
    "AIB-006": change("VPC_DEFAULT_SECURITY_GROUP_CLOSED", SECURITY_GROUP),
    "AIB-007": periodic("VPC_FLOW_LOGS_ENABLED", "AWS::EC2::VPC", parameters=lambda tier: {"trafficType": "ALL"}),
    "AIB-008": change("SUBNET_AUTO_ASSIGN_PUBLIC_IP_DISABLED", "AWS::EC2::Subnet"),
    "AIB-010": periodic("EKS_ENDPOINT_NO_PUBLIC_ACCESS", "AWS::EKS::Cluster",
                        applies=lambda tier: tier.eks_public_endpoint == "none",
                        note="where the tier keeps the API endpoint private only"),
    # encryption
    "AIB-020": change("S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", S3_BUCKET),
    "AIB-022": periodic("CMK_BACKING_KEY_ROTATION_ENABLED", "AWS::KMS::Key"),
    "AIB-023": periodic("CLOUDWATCH_LOG_GROUP_ENCRYPTED", "AWS::Logs::LogGroup",
                        note="any KMS key; the guardrail also requires a customer managed one"),
    "AIB-024": periodic("EKS_SECRETS_ENCRYPTED", "AWS::EKS::Cluster"),
    "AIB-025": change("ENCRYPTED_VOLUMES", "AWS::EC2::Volume", note="attached volumes, any KMS key"),
    "AIB-028": change("SNS_ENCRYPTED_KMS", "AWS::SNS::Topic"),
    "AIB-030": periodic("CLOUD_TRAIL_ENCRYPTION_ENABLED", "AWS::CloudTrail::Trail"),
    # logging and retention
    "AIB-040": periodic("CW_LOGGROUP_RETENTION_PERIOD_CHECK", "AWS::Logs::LogGroup", parameters=_retention,
                        note="MinRetentionTime is the longest AWS Config accepts within the tier's retention"),
    "AIB-041": periodic("MULTI_REGION_CLOUD_TRAIL_ENABLED", "AWS::CloudTrail::Trail"),
    "AIB-042": periodic("CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED", "AWS::CloudTrail::Trail"),
    "AIB-043": periodic("WAFV2_LOGGING_ENABLED", "AWS::WAFv2::WebACL", note="the logging part"),
    "AIB-047": change("API_GW_EXECUTION_LOGGING_ENABLED", "AWS::ApiGateway::Stage"),
    # identity and access
    "AIB-061": change("IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS", "AWS::IAM::Policy", global_types=True,
                      note="customer managed policies; IAM is global, checked in the home region"),
    "AIB-063": change("EC2_IMDSV2_CHECK", "AWS::EC2::Instance", note="instances (the launch templates before deploy)"),
    # data protection
    "AIB-070": change("S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", S3_BUCKET),
    "AIB-071": change("S3_BUCKET_SSL_REQUESTS_ONLY", S3_BUCKET),
    "AIB-072": change("S3_BUCKET_VERSIONING_ENABLED", S3_BUCKET),
    "AIB-074": change("S3_BUCKET_ACL_PROHIBITED", S3_BUCKET),
    "AIB-077": change("ECR_PRIVATE_TAG_IMMUTABILITY_ENABLED", "AWS::ECR::Repository"),
    "AIB-078": change("ECR_PRIVATE_IMAGE_SCANNING_ENABLED", "AWS::ECR::Repository"),
    # threat detection
    "AIB-080": periodic("GUARDDUTY_ENABLED_CENTRALIZED", "AWS::::Account"),
    "AIB-083": periodic("SECURITYHUB_ENABLED", "AWS::::Account"),
    # edge protection
    "AIB-085": change("API_GW_ASSOCIATED_WITH_WAF", "AWS::ApiGateway::Stage"),
}


def config_rule(rule_id: str, tier: Tier) -> Optional[ManagedConfigRule]:
    """The managed rule that checks `rule_id` after deploy on `tier`, or None."""
    managed = CONFIG_RULES.get(rule_id)
    return managed if managed is not None and managed.applies(tier) else None


def describe(rule_id: str) -> str:
    """docs/RULES.md's "AWS Config rule" cell for a rule."""
    managed = CONFIG_RULES.get(rule_id)
    if managed is None:
        return NO_CONFIG_RULE
    return f"`{managed.identifier}` ({managed.trigger})" + (f": {managed.note}" if managed.note else "")
