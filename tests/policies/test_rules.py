"""Each rule against its named fixtures: the exact set of resources that pass and fail."""

from __future__ import annotations

import pytest

from blueprints.tiers import TIERS
from policies.model import PolicyPlan, urn_name
from policies.controls import FRAMEWORKS
from policies.rule import (
    PROHIBITION, REGISTRY, RULE_ID, SEVERITIES, Rule, RuleContext, Scope, all_rules, always, get_rule, ok, resource_rule,
)
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
                      level_doc="advisory", scope=PROHIBITION)
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
                      controls={"nist-800-53-r5": ("SC-28",)}, level=lambda tier: "advisory", scope=PROHIBITION)
    assert "AIB-998" not in REGISTRY


# -- absence is a finding ---------------------------------------------------------------------------
def test_every_rule_declares_what_it_protects() -> None:
    """A scoped rule says what is missing and names required types among its own; a
    prohibition requires nothing."""
    for rule in all_rules():
        if rule.prohibition:
            assert rule.requires == () and rule.missing == "", rule.id
        else:
            assert rule.missing and set(rule.requires) <= set(rule.types), rule.id
    assert len([r for r in all_rules() if not r.prohibition]) > len(all_rules()) / 2


@pytest.mark.parametrize("meta,message", [
    ({"scope": None}, "scope must be a Scope"),
    ({"scope": "every stack"}, "scope must be a Scope"),
    ({"scope": Scope("x", lambda plan: True)}, "`missing` is required"),
    ({"scope": Scope("x", lambda plan: True), "missing": "no key", "requires": ("aws:s3/bucket:Bucket",)},
     "requires must name some of the rule's types"),
    ({"scope": PROHIBITION, "missing": "no key"}, "a prohibition has no `missing`"),
])
def test_registration_refuses_an_incomplete_scope(meta: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resource_rule(id="AIB-997", title="t", severity="low", area="encryption", types=("aws:kms/key:Key",),
                      controls={"nist-800-53-r5": ("SC-28",)}, level=always("mandatory"), **meta)
    assert "AIB-997" not in REGISTRY


def _probe_rule(level: str, present: bool):
    """An unregistered rule over KMS keys with a scope whose presence the test decides."""
    def fn(r, ctx):
        return ok("fine")
    return Rule(id="AIB-996", title="keys rotate", severity="low", area="encryption", types=("aws:kms/key:Key",),
                controls={"nist-800-53-r5": ("SC-12",)}, level=always(level), level_doc=level, description="d",
                kind="resource", fn=fn, scope=Scope("probe", lambda plan: present), requires=("aws:kms/key:Key",),
                missing="no KMS key")


def test_nothing_to_judge_fails_only_where_mandatory_and_in_scope() -> None:
    b = PlanBuilder()
    b.add("aws:s3/bucket:Bucket", "data", {})
    plan = PolicyPlan.from_dict(b.to_dict())
    ctx = RuleContext(TIERS["restricted"], "eu")
    [absent] = _probe_rule("mandatory", present=True).evaluate(plan, ctx)
    assert absent.status.value == "fail" and absent.resource == plan.stack_urn
    assert absent.reason == "no KMS key: the restricted tier requires it where probe is in the plan"
    assert _probe_rule("advisory", present=True).evaluate(plan, ctx) == []
    assert _probe_rule("mandatory", present=False).evaluate(plan, ctx) == []
    b.add("aws:kms/key:Key", "k", {})
    judged = _probe_rule("mandatory", present=True).evaluate(PolicyPlan.from_dict(b.to_dict()), ctx)
    assert [(urn_name(r.resource), r.status.value) for r in judged] == [("k", "pass")]


def test_every_exemption_names_a_rule_a_subject_and_a_reason_and_is_documented() -> None:
    from policies.docs import rules_markdown
    from policies.rule import EXEMPTIONS

    all_rules()
    assert EXEMPTIONS
    text = rules_markdown()
    for e in EXEMPTIONS:
        assert get_rule(e.rule) is not None and e.subject and len(e.reason) > 40, e
        assert f"- exempt: {e.subject.replace('|', chr(92) + '|')}: " in text
    with pytest.raises(ValueError, match="a reason is required"):
        from policies.rules.workloads import WorkloadExemption
        from policies.rule import declare_exemptions
        declare_exemptions(WorkloadExemption("AIB-100", kind="Deployment", namespace="x", name="y", reason=" "))
