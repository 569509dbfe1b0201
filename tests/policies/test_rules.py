"""Each rule against its named fixtures: the exact set of resources that pass and fail."""

from __future__ import annotations

import pytest

from blueprints.tiers import TIERS
from policies.model import PolicyPlan, urn_name
from policies.controls import FRAMEWORKS
from policies.rule import REGISTRY, RULE_ID, SEVERITIES, RuleContext, all_rules, always, get_rule, resource_rule
from tests.policies.plans import PlanBuilder
from tests.policies.scenarios import SCENARIOS, Scenario


def findings(s: Scenario) -> list[tuple[str, str]]:
    b = PlanBuilder(tier=s.tier)
    s.build(b)
    plan = PolicyPlan.from_dict(b.to_dict())
    rule = get_rule(s.rule)
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


def test_registering_a_rule_with_an_unknown_framework_raises() -> None:
    with pytest.raises(ValueError, match="unknown frameworks"):
        resource_rule(id="AIB-999", title="t", severity="low", area="encryption", types=("aws:kms/key:Key",),
                      controls={"nist-800-53-r5": ("SC-28",), "made-up": ("X-1",)}, level=always("advisory"),
                      level_doc="advisory")
    assert "AIB-999" not in REGISTRY


def test_level_docs_agree_with_the_packs() -> None:
    """The level docs in docs/RULES.md come from the level helpers: check them against the levels."""
    for rule in all_rules():
        levels = {rule.level_for(t) for t in TIERS.values()}
        every = rule.level_doc.split(" on every tier")[0] if " on every tier" in rule.level_doc else None
        if every is not None:
            assert levels == {every}, rule.id
        else:  # "mandatory where ...; off|advisory ..."
            otherwise = "disabled" if "; off " in rule.level_doc else "advisory"
            assert rule.level_doc.startswith("mandatory where ") and levels <= {"mandatory", otherwise}, rule.id


def test_a_level_function_without_a_doc_needs_a_level_doc() -> None:
    with pytest.raises(ValueError, match="level_doc is required"):
        resource_rule(id="AIB-998", title="t", severity="low", area="encryption", types=("aws:kms/key:Key",),
                      controls={"nist-800-53-r5": ("SC-28",)}, level=lambda tier: "advisory")
    assert "AIB-998" not in REGISTRY
