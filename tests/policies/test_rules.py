"""Each rule against its named fixtures: the exact set of resources that pass and fail."""

from __future__ import annotations

import pytest

from blueprints.tiers import TIERS
from policies.model import PolicyPlan, urn_name
from policies.rule import RULE_ID, SEVERITIES, RuleContext, all_rules
from policies.controls import FRAMEWORKS
from tests.policies.plans import PlanBuilder
from tests.policies.scenarios import SCENARIOS, Scenario


def findings(s: Scenario) -> list[tuple[str, str]]:
    b = PlanBuilder(tier=s.tier)
    s.build(b)
    plan = PolicyPlan.from_dict(b.to_dict())
    rule = {r.id: r for r in all_rules()}[s.rule]
    return sorted((urn_name(r.resource), r.status.value) for r in rule.evaluate(plan, RuleContext(TIERS[s.tier], s.residency)))


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
def test_rule_fixture_gives_exact_findings(s: Scenario) -> None:
    assert findings(s) == s.expected


def test_every_rule_has_a_compliant_and_a_non_compliant_fixture() -> None:
    missing = []
    for rule in all_rules():
        mine = [s for s in SCENARIOS if s.rule == rule.id]
        if not any(s.compliant for s in mine):
            missing.append(f"{rule.id}: no compliant fixture")
        if not any(s.violating for s in mine):
            missing.append(f"{rule.id}: no non-compliant fixture")
    assert not missing, missing


def test_fixture_names_are_unique_per_rule() -> None:
    keys = [str(s) for s in SCENARIOS]
    assert len(keys) == len(set(keys))


def test_every_rule_is_not_applicable_on_an_empty_plan() -> None:
    plan = PolicyPlan.from_dict(PlanBuilder().to_dict())
    for rule in all_rules():
        results = rule.evaluate(plan, RuleContext(TIERS["restricted"], "eu"))
        assert [r for r in results if r.status.value != "not-applicable"] == [], rule.id


def test_at_least_forty_rules_with_complete_metadata() -> None:
    rules = all_rules()
    assert len(rules) >= 40
    for rule in rules:
        assert RULE_ID.match(rule.id), rule.id
        assert rule.severity in SEVERITIES and rule.title and rule.types and rule.description, rule.id
        assert set(rule.controls) <= set(FRAMEWORKS) and rule.controls.get("nist-800-53-r5"), rule.id
    areas = {r.area for r in rules}
    assert {"network isolation", "encryption", "logging and retention", "identity and access", "data protection",
            "availability and residency"} <= areas
