"""The mutation suite: in each example stack's plan, every control its tier requires is deleted
in turn, and `check` must fail with the rule that covers it; the same deletions then go through
the CrossGuard pack.

The mutations are generated, not listed: for every rule the example's tier makes mandatory (the
packs read the tier matrix), each type the rule declares it `requires` is removed from the plan,
every resource of it, one type at a time. A rule that stays silent when its control is gone
passes a plan whose control was deleted: the hole this suite exists to close.
"""

from __future__ import annotations

from typing import Callable

import pytest

from blueprints.tiers import TIERS
from policies.crossguard.validators import Defaults, build_policies
from policies.model import PolicyPlan, urn_name
from policies.packs import pack
from policies.rule import Rule, RuleContext, Status, all_rules, get_rule
from policies.runner import run
from tests.conftest import EXAMPLES
from tests.policies.crossguard.harness import crossguard_violations
from tests.policies.test_examples import OPTIONAL_FEATURES, example_spec

# What CrossGuard cannot see, so cannot judge.
NOT_VISIBLE_TO_CROSSGUARD = {"AIB-092": "Pulumi does not hand the retainOnDelete option to policy packs"}


def mandatory_with_requirements(tier: str) -> list[str]:
    levels = pack(tier)
    return [rule.id for rule in all_rules() if levels[rule.id] == "mandatory" and rule.requires]


CASES = [(tier, rule_id) for tier in EXAMPLES for rule_id in mandatory_with_requirements(tier)]
_MODELS: dict[str, PolicyPlan] = {}


@pytest.fixture
def example_model(example_plan) -> Callable[[str], PolicyPlan]:
    def _go(tier: str) -> PolicyPlan:
        if tier not in _MODELS:
            _MODELS[tier] = PolicyPlan.from_dict(example_plan(tier).to_dict())
        return _MODELS[tier]
    return _go


def without(model: PolicyPlan, type_: str) -> PolicyPlan:
    """The plan with every resource of `type_` deleted."""
    return PolicyPlan(stack=model.stack, tier=model.tier, providers=model.providers, accounts=model.accounts,
                      resources=[r for r in model.resources if r.type != type_])


def blocking(rule: Rule, model: PolicyPlan, tier: str) -> list[str]:
    """The rule's unsuppressed violations, as `blueprint check` counts them toward exit 1."""
    spec = example_spec(tier)
    suppressed = {(s.rule, s.resource) for s in spec.model.suppressions}
    results = rule.evaluate(model, RuleContext(TIERS[tier], spec.residency))
    return [r.reason for r in results if r.status is Status.FAIL
            and not {(rule.id, r.resource), (rule.id, urn_name(r.resource))} & suppressed]


def test_the_suite_grows_with_the_tier() -> None:
    counts = [len(mandatory_with_requirements(t)) for t in EXAMPLES]
    assert counts[0] >= 25 and counts == sorted(counts) and counts[0] < counts[-1]


@pytest.mark.parametrize("tier,rule_id", CASES)
def test_deleting_a_required_control_fails_its_rule(example_model, tier: str, rule_id: str) -> None:
    model, rule = example_model(tier), get_rule(rule_id)
    assert blocking(rule, model, tier) == [], f"{rule_id} already fails the {tier} example"
    present = [t for t in rule.requires if model.has(t)]
    if not present:
        assert rule_id in OPTIONAL_FEATURES, f"the {tier} example has none of {rule.requires}: enable the feature"
        return
    missed = [t for t in present if not blocking(rule, without(model, t), tier)]
    assert not missed, f"deleting every {missed} from the {tier} example leaves {rule_id} passing"


# -- the same deletions through CrossGuard (the restricted example: every rule is mandatory there) --
CROSSGUARD_CASES = [rule_id for rule_id in mandatory_with_requirements("restricted") if rule_id not in NOT_VISIBLE_TO_CROSSGUARD]


@pytest.fixture(scope="module")
def restricted_policies() -> list:
    return build_policies(Defaults(tier="restricted"))


@pytest.mark.parametrize("rule_id", CROSSGUARD_CASES)
def test_crossguard_fails_the_same_deletion(example_plan, example_model, restricted_policies, rule_id: str) -> None:
    """One deletion per rule (the first required type the example has), through the rule's
    CrossGuard policies (`<id>-present` included) as a preview would run them."""
    model, rule = example_model("restricted"), get_rule(rule_id)
    type_ = next((t for t in rule.requires if model.has(t)), None)
    if type_ is None:
        assert rule_id in OPTIONAL_FEATURES
        return
    plan = example_plan("restricted").to_dict()
    plan = {**plan, "steps": [s for s in plan["steps"] if s["newState"]["type"] != type_]}
    config = {"tier": "restricted", "residency": "eu", "accounts": plan["accounts"]}
    found = crossguard_violations(plan, config, restricted_policies, only={rule_id})
    assert found, f"CrossGuard lets a plan without any {type_} pass {rule_id}"


# -- weakened controls, generated from the tier matrix ---------------------------------------------
# A weaker tier's example is a real plan whose controls are the weaker settings: checked against
# a stricter tier's pack, every rule the stricter tier makes mandatory and the weaker does not
# must fail, but where the weaker blueprint already does what the stricter tier demands:
WEAKER_BLUEPRINT_ALREADY_COMPLIES = {
    "AIB-010": "the public example allowlists its EKS public endpoints (adminCidrs), as internal requires",
    "AIB-022": "tiers on AWS managed keys still create rotating CMKs where AWS requires one (alarm and findings topics)",
    "AIB-028": "alarm and findings topics are encrypted on every tier (CloudWatch and EventBridge cannot use aws/sns)",
    "AIB-046": "every tier's clusters send all control-plane log types (api, audit, authenticator) to CloudWatch",
    "AIB-093": "the weaker examples use one residency's regions (us-east-1; eu-west-1), so they pass a residency check",
    "AIB-095": "the internal example runs on-demand capacity, which no tier forbids",
    "AIB-096": "KMS keys keep AWS's default 30-day deletion window on every tier",
    "AIB-150": "every tier health-checks each inference region with Route 53",
}
DOWNGRADES = [(weak, strict) for i, weak in enumerate(EXAMPLES) for strict in EXAMPLES[i + 1:]]
_UNMET: dict[tuple[str, str], set[str]] = {}


def stricter_rules(weak: str, strict: str) -> set[str]:
    weak_levels, strict_levels = pack(weak), pack(strict)
    return {rule for rule, level in strict_levels.items() if level == "mandatory" and weak_levels[rule] != "mandatory"}


@pytest.mark.parametrize("weak,strict", DOWNGRADES)
def test_a_weaker_tier_plan_fails_every_stricter_rule(example_plan, weak: str, strict: str) -> None:
    result = run(example_plan(weak).to_dict(), tier=strict)
    failing = {f.rule.id for f in result.findings if f.blocking}
    unmet = stricter_rules(weak, strict) - failing
    assert unmet <= set(WEAKER_BLUEPRINT_ALREADY_COMPLIES), \
        f"the {weak} example passes {sorted(unmet - set(WEAKER_BLUEPRINT_ALREADY_COMPLIES))} of the {strict} pack"
    _UNMET[(weak, strict)] = unmet


def test_every_listed_exception_is_still_needed(example_plan) -> None:
    """An entry above that no downgrade needs any more is stale: remove it."""
    needed = set()
    for weak, strict in DOWNGRADES:
        if (weak, strict) not in _UNMET:
            failing = {f.rule.id for f in run(example_plan(weak).to_dict(), tier=strict).findings if f.blocking}
            _UNMET[(weak, strict)] = stricter_rules(weak, strict) - failing
        needed |= _UNMET[(weak, strict)]
    assert set(WEAKER_BLUEPRINT_ALREADY_COMPLIES) <= needed
