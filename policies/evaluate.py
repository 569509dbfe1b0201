"""Run a tier's pack over a plan: findings, suppressions and the exit decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from blueprints.tiers import RESIDENCY_REGIONS, TIER_NAMES, TIERS, Tier
from policies.model import PolicyPlan, urn_name
from policies.packs import pack
from policies.rule import Rule, RuleContext, Status, all_rules, get_rule


class SuppressionError(ValueError):
    """A suppression in the stack config is malformed (missing reason, unknown rule id)."""


@dataclass(frozen=True)
class Suppression:
    rule: str
    resource: str  # a URN or a resource's logical name
    reason: str

    def matches(self, rule_id: str, urn: str) -> bool:
        return self.rule == rule_id and self.resource in (urn, urn_name(urn))


def find_suppression(suppressions: Iterable[Suppression], rule_id: str, urn: str) -> Optional[Suppression]:
    """The first suppression that covers `rule_id`'s finding on `urn`, if any."""
    return next((s for s in suppressions if s.matches(rule_id, urn)), None)


def parse_suppressions(items: Iterable[Mapping[str, Any]]) -> list[Suppression]:
    """Validate suppressions; every error names the key (`suppressions[0].reason`) and the fix."""
    out = []
    for i, item in enumerate(items or ()):
        where = f"suppressions[{i}]"
        if not isinstance(item, Mapping):
            raise SuppressionError(f"{where}: must be a mapping with rule, resource and reason")
        unknown = sorted(set(item) - {"rule", "resource", "reason"})
        if unknown:
            raise SuppressionError(f"{where}: unknown key(s) {', '.join(unknown)}; a suppression has rule, resource and reason")
        rule_id = str(item.get("rule") or "").strip()
        if not rule_id:
            raise SuppressionError(f"{where}.rule: required; name the rule id to suppress, e.g. AIB-005 (see docs/RULES.md)")
        if get_rule(rule_id) is None:
            raise SuppressionError(f"{where}.rule: unknown rule id {rule_id!r}; use an id from docs/RULES.md")
        resource = str(item.get("resource") or "").strip()
        if not resource:
            raise SuppressionError(f"{where}.resource: required; give the resource's URN or logical name")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise SuppressionError(f"{where}.reason: required; explain why {rule_id} does not apply to {resource} "
                                   "(a suppression without a reason is not accepted)")
        out.append(Suppression(rule=rule_id, resource=resource, reason=reason.strip()))
    return out


@dataclass(frozen=True)
class Finding:
    rule: Rule
    level: str  # mandatory | advisory
    status: Status
    resource: str  # URN
    message: str
    suppressed_by: Optional[Suppression] = None

    @property
    def resource_name(self) -> str:
        return urn_name(self.resource)

    @property
    def outcome(self) -> str:
        """pass | violation | suppressed | exempt | not-applicable."""
        if self.status is Status.FAIL:
            return "suppressed" if self.suppressed_by else "violation"
        return self.status.value

    @property
    def blocking(self) -> bool:
        return self.outcome == "violation" and self.level == "mandatory"


@dataclass
class CheckResult:
    stack: str
    tier: Tier
    residency: str
    findings: list[Finding]
    levels: dict[str, str]
    not_applicable: list[Rule] = field(default_factory=list)  # enforced, but nothing to judge
    unused_suppressions: list[Suppression] = field(default_factory=list)
    evaluated: dict[str, int] = field(default_factory=dict)  # rule id -> resources it judged

    @property
    def coverage(self) -> dict[str, dict[str, Any]]:
        """Per rule the pack runs: its level and how many resources it judged (pass, fail or
        exempt; a missing control judged nothing, so it counts 0)."""
        return {r.id: {"level": self.levels[r.id], "evaluated": self.evaluated.get(r.id, 0)} for r in self.rules}

    @property
    def rules(self) -> list[Rule]:
        return [r for r in all_rules() if self.levels[r.id] != "disabled"]

    def of(self, outcome: str) -> list[Finding]:
        return [f for f in self.findings if f.outcome == outcome]

    @property
    def exit_code(self) -> int:
        return 1 if any(f.blocking for f in self.findings) else 0


def resolve_tier(plan: Mapping[str, Any], tier: Optional[str]) -> Tier:
    name = tier or plan.get("tier")
    if not name:
        raise ValueError("the plan names no tier; pass one with --tier (" + ", ".join(TIER_NAMES) + ")")
    if name not in TIERS:
        raise ValueError(f"unknown tier {name!r}; use one of {', '.join(TIER_NAMES)}")
    return TIERS[name]


def resolve_residency(residency: Optional[str], home_region: str) -> str:
    """The caller's residency, else the residency whose regions hold the home region, else any."""
    if residency:
        if residency != "any" and residency not in RESIDENCY_REGIONS:
            raise ValueError(f"unknown residency {residency!r}; use one of {', '.join([*RESIDENCY_REGIONS, 'any'])}")
        return residency
    return next((name for name, regions in RESIDENCY_REGIONS.items() if home_region in regions), "any")


def evaluate(plan: PolicyPlan, tier: Tier, residency: str, suppressions: Sequence[Suppression] = ()) -> CheckResult:
    levels = pack(tier)
    ctx = RuleContext(tier=tier, residency=residency)
    findings: list[Finding] = []
    not_applicable: list[Rule] = []
    evaluated: dict[str, int] = {}
    used: set[Suppression] = set()
    for rule in all_rules():
        level = levels[rule.id]
        if level == "disabled":
            continue
        results = rule.evaluate(plan, ctx)
        judged = {r.resource for r in results if r.status is not Status.NOT_APPLICABLE} - {plan.stack_urn}
        evaluated[rule.id] = len(judged)
        if all(r.status is Status.NOT_APPLICABLE for r in results):
            not_applicable.append(rule)
        for result in results:
            match = None
            if result.status is Status.FAIL:
                match = find_suppression(suppressions, rule.id, result.resource)
                if match:
                    used.add(match)
            findings.append(Finding(rule=rule, level=level, status=result.status, resource=result.resource,
                                    message=result.reason, suppressed_by=match))
    return CheckResult(stack=plan.stack, tier=tier, residency=residency, findings=findings, levels=levels,
                       not_applicable=not_applicable, evaluated=evaluated,
                       unused_suppressions=[s for s in suppressions if s not in used])
