"""Continuous compliance (issue 14): the regulations a stack declares (`compliance.frameworks`),
what each demands of the tier, and what the account keeps checking after deploy.

- Spec: each framework's demands on the tier and the stack (`framework_problems`): PCI DSS and
  HIPAA need a tier of at least confidential, the API access logs (PCI DSS) or every audit log
  (HIPAA) kept long enough, HIPAA customer managed keys everywhere, GDPR a residency. Declared
  frameworks need threat detection: Security Hub runs their standards and the findings topic and
  SIEM stream it routes to are what non-compliance is sent to.
- Build (blueprints/security.py calls these where threat detection runs, per account and region):
  the AWS Config managed rules of the tier's mandatory guardrails (`config_rules`: the mapping is
  policies/config_rules.py, next to the rules), the Security Hub standards of the frameworks
  (`security_hub_standards`), and the prefix every rule name starts with, which the EventBridge
  rule routing compliance changes matches (`RULE_PREFIX`).
- GDPR erasure: an erased training record must not live on as a non-current version for the
  bucket's default 90 days (`training_data_lifecycle`).

This is the one blueprint module that reads the guardrails (policies/): the Config rules are the
guardrails, kept checking in the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from blueprints.tiers import TIER_NAMES, TIERS, Tier
from policies.config_rules import CONFIG_RULES
from policies.frameworks import FRAMEWORK_NAMES, FRAMEWORKS
from policies.packs import pack
from policies.rule import get_rule

if TYPE_CHECKING:  # pragma: no cover
    from blueprints.spec import BlueprintSpec, Spec
    from components.config_rules import ManagedRule

# The spec validates frameworks through this module: the components (and with them the provider
# SDKs) are imported by the functions that build, so validating a stack or serving a cached plan
# never loads them.

# The AIB rules a stack's Config rules are named after: `<blueprint>-aib-071-s3-bucket-ssl-requests-only`.
RULE_PREFIX = "aib-"
# GDPR Art. 12(3): a data subject's request is answered within one month. An erased training record
# survives as a non-current version of its object until the lifecycle expires it.
ERASURE_DAYS = 30


@dataclass(frozen=True)
class Demands:
    """What a framework demands of the tier and the stack, each with the text that says why."""

    min_tier: str = "public"
    min_tier_why: str = ""
    log_retention_days: int = 0  # the tier's log retention (every log group and audit archive)
    log_retention_why: str = ""
    cmk: bool = False
    residency: bool = False
    waf_on_api: bool = False
    erasure: bool = False

    def tier_falls_short(self, tier: Tier) -> list[str]:
        """What `tier` lacks, one phrase each (empty when it satisfies every demand)."""
        short = []
        if tier.rank < TIERS[self.min_tier].rank:
            short.append(f"tier {self.min_tier} or above ({self.min_tier_why})")
        if tier.log_retention_days < self.log_retention_days:
            short.append(f"logs kept at least {self.log_retention_days} days ({self.log_retention_why}); tier "
                         f"{tier.name} keeps them {tier.log_retention_days} days (log retention)")
        if self.cmk and not tier.cmk:
            short.append(f"customer managed KMS keys everywhere; tier {tier.name} uses AWS managed keys")
        if self.waf_on_api and not tier.waf_managed_rule_groups:
            short.append(f"a WAF on every API stage; tier {tier.name} has no WAF rule groups")
        return short

    @property
    def needed_tier(self) -> str:
        """The lowest tier that satisfies every demand on the tier."""
        return next(name for name in TIER_NAMES if not self.tier_falls_short(TIERS[name]))


DEMANDS: dict[str, Demands] = {
    # PCI DSS v4.0.1 6.4.2 (an automated solution in front of public-facing web applications) and
    # 10.5.1 (audit log history kept for at least 12 months).
    "pci-dss": Demands(min_tier="confidential", min_tier_why="cardholder data is confidential or restricted",
                       log_retention_days=365, log_retention_why="PCI DSS 10.5.1: at least 12 months",
                       waf_on_api=True),
    # HIPAA 45 CFR 164.316(b)(2)(i): documentation (audit records among it) kept six years;
    # 164.312(a)(2)(iv): encryption and decryption of ePHI under the entity's control.
    "hipaa": Demands(min_tier="confidential", min_tier_why="protected health information is confidential or restricted",
                     log_retention_days=6 * 365, log_retention_why="HIPAA 164.316(b)(2)(i): six years", cmk=True),
    # GDPR Art. 44: transfers outside the residency are governed; Art. 17: erasure honoured.
    "gdpr": Demands(residency=True, erasure=True),
    "sox": Demands(),
    "nist-800-53": Demands(),
}
assert set(DEMANDS) == set(FRAMEWORK_NAMES)


def framework_problems(model: "BlueprintSpec", tier: Tier, residency: str, threat_detection: bool,
                       rule: Callable[[str, str, str], None]) -> list[str]:
    """`compliance.frameworks` against the tier and the stack. Tier rules go through `rule`
    (path, text, rule name); the returned lines are the stack's own problems."""
    frameworks = model.compliance.frameworks
    problems: list[str] = []
    if not frameworks:
        return problems
    if not threat_detection:
        problems.append(f"compliance.frameworks: {', '.join(frameworks)} need threat detection (Security Hub runs "
                        "the frameworks' standards, and non-compliance is sent to its findings topic and the SIEM); "
                        "set threatDetection: true")
    for i, key in enumerate(frameworks):
        demands, path = DEMANDS[key], f"compliance.frameworks[{i}]"
        short = demands.tier_falls_short(tier)
        if short:
            rule(path, f"{key} needs tier {demands.needed_tier}: " + "; ".join(short), "compliance frameworks")
        if demands.residency and residency == "any" and not tier.residency_required:
            rule("residency", f"{key} needs a residency (personal data stays where its transfers are governed, "
                 "GDPR Art. 44); set residency: eu or us", "compliance frameworks")
    return problems


def declared(spec: "Spec") -> bool:
    return bool(spec.model.compliance.frameworks)


def security_hub_standards(spec: "Spec") -> tuple[str, ...]:
    """FSBP (every hub), then the standard of each declared framework that has one."""
    from components.threat_detection import FOUNDATIONAL_BEST_PRACTICES

    extra = [FRAMEWORKS[k].security_hub_standard for k in spec.model.compliance.frameworks]
    return (FOUNDATIONAL_BEST_PRACTICES, *dict.fromkeys(s for s in extra if s))


def config_rules(tier: Tier, *, home: bool) -> list[ManagedRule]:
    """The AWS Config managed rules that keep checking `tier`'s mandatory guardrails: one per
    guardrail with a managed equivalent on this tier (policies/config_rules.py), with the tier's
    parameters; rules on global resources (IAM) only where they are recorded (`home`)."""
    from components.config_rules import ManagedRule

    levels = pack(tier)
    rules = []
    for rule_id, managed in sorted(CONFIG_RULES.items()):
        if levels.get(rule_id) != "mandatory" or not managed.applies(tier) or (managed.global_types and not home):
            continue
        guardrail = get_rule(rule_id)
        rules.append(ManagedRule(
            name=f"{rule_id.lower()}-{managed.name}",
            identifier=managed.identifier,
            periodic=managed.trigger == "periodic",
            resource_types=managed.resource_types,
            parameters=dict(managed.parameters(tier)),
            description=f"{rule_id}: {guardrail.title if guardrail else rule_id}"[:256],
        ))
    return rules


def training_data_lifecycle(spec: "Spec") -> dict[str, Any]:
    """EncryptedBucketArgs overrides for the training-data bucket: under GDPR, non-current versions
    expire after ERASURE_DAYS, so an erased record is gone within a month; never Object Lock (a
    locked version cannot be erased)."""
    if not any(DEMANDS[k].erasure for k in spec.model.compliance.frameworks):
        return {}
    return {"noncurrent_expiration_days": ERASURE_DAYS, "object_lock": None}


def rule_name_prefix(spec: "Spec") -> str:
    return f"{spec.name}-"


def routed_prefix(spec: "Spec") -> Optional[str]:
    """The prefix of the stack's Config rule names that compliance changes are routed for, or None
    where no framework is declared (no rules)."""
    return rule_name_prefix(spec) + RULE_PREFIX if declared(spec) else None
