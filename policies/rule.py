"""What a guardrail rule is: a pure function plus the metadata next to it.

A *resource rule* looks at one resource (its type, inputs, region, options) and returns a
`Result`; it runs offline on every plan resource of its types and, in CrossGuard, as a
ResourceValidationPolicy. A *plan rule* looks at the whole plan and yields one `Result` per
resource it judged; it runs as a StackValidationPolicy.

Absence is a finding. Every rule declares its `scope`, the part of a stack it protects (every
stack, training, inference, ...), and `requires`, the resource types that carry the control.
Where the scope is in the plan and the tier makes the rule mandatory, a rule that finds nothing
to judge fails with its `missing` message: deleting a control is caught like weakening it. A
*prohibition* (no internet gateway in training, no open ingress) has the scope `PROHIBITION`:
a plan without what it forbids complies.

Each rule carries: a stable id (`AIB-001`), a title that states the compliant condition, a
severity, the resource types it reads, the controls it evidences per framework, and `level`,
the function of the Tier that says whether a tier enforces it (`mandatory`), only reports it
(`advisory`) or skips it (`disabled`). Parameters come from the tier (and the residency) in
`RuleContext`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

from blueprints.tiers import Tier, regions_for_residency
from policies.controls import FRAMEWORKS
from policies.model import PolicyPlan, PolicyResource

RULE_ID = re.compile(r"^[A-Z]+-[0-9]{3}$")
SEVERITIES = ("critical", "high", "medium", "low")
LEVELS = ("mandatory", "advisory", "disabled")
AREAS = (
    "network isolation", "encryption", "logging and retention", "identity and access",
    "data protection", "threat detection", "edge protection", "availability and residency",
    "workload security", "transport", "operations",
)


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    EXEMPT = "exempt"  # would fail, but the resource is a declared exemption (reason in the result)
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Result:
    status: Status
    reason: str
    resource: str = ""  # URN; plan rules always set it, resource rules get it filled in

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL


def ok(reason: str, resource: Union[str, PolicyResource] = "") -> Result:
    return Result(Status.PASS, reason, _urn(resource))


def fail(reason: str, resource: Union[str, PolicyResource] = "") -> Result:
    return Result(Status.FAIL, reason, _urn(resource))


def na(reason: str, resource: Union[str, PolicyResource] = "") -> Result:
    return Result(Status.NOT_APPLICABLE, reason, _urn(resource))


def exempt(reason: str, resource: Union[str, PolicyResource] = "") -> Result:
    """The resource breaks the rule by a declared, reasoned exemption; reports show it."""
    return Result(Status.EXEMPT, reason, _urn(resource))


def check(condition: bool, passed: str, failed: str, resource: Union[str, PolicyResource] = "") -> Result:
    return ok(passed, resource) if condition else fail(failed, resource)


def _urn(resource: Union[str, PolicyResource]) -> str:
    return resource.urn if isinstance(resource, PolicyResource) else resource


@dataclass(frozen=True)
class RuleContext:
    """What a rule is parameterised by: the tier's promises and the residency."""

    tier: Tier
    residency: str = "any"  # eu | us | any

    @property
    def allowed_regions(self) -> tuple[str, ...]:
        return regions_for_residency(self.residency)


@dataclass(frozen=True)
class Scope:
    """The part of a stack a rule protects. When `present` holds for a plan and the tier makes
    the rule mandatory, finding nothing to judge means the control is missing."""

    name: str  # how docs/RULES.md words it: "every stack", "training", ...
    present: Callable[[PolicyPlan], bool] = field(repr=False, compare=False)
    where: str = ""  # the condition in words; default "where <name> is in the plan"

    @property
    def condition(self) -> str:
        return self.where or f"where {self.name} is in the plan"


PROHIBITION = Scope("prohibition", lambda plan: False)


ResourceCheck = Callable[[PolicyResource, RuleContext], Result]
PlanCheck = Callable[[PolicyPlan, RuleContext], Iterable[Result]]
LevelFn = Callable[[Tier], str]


def tier_level(fn: LevelFn, doc: str) -> LevelFn:
    """`fn` carrying `doc`, how its level follows the tier (docs/RULES.md); a rule whose level
    carries a doc needs no `level_doc`."""
    fn.doc = doc  # type: ignore[attr-defined]
    return fn


def always(level: str) -> LevelFn:
    return tier_level(lambda tier: level, f"{level} on every tier")


def mandatory_if(field_name: str, otherwise: str = "advisory", where: str = "") -> LevelFn:
    """Mandatory where the tier's boolean field is true (e.g. `s3_object_lock`), else `otherwise`;
    `where` words the condition for the docs (default: the field name)."""
    condition = where or f"`{field_name}`"
    return tier_level(lambda tier: "mandatory" if getattr(tier, field_name) else otherwise,
                      f"mandatory where {condition}; {'off' if otherwise == 'disabled' else otherwise} otherwise")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    area: str
    types: tuple[str, ...]
    controls: Mapping[str, Sequence[str]]
    level: LevelFn
    level_doc: str  # how the level follows the tier, for docs/RULES.md (the level's doc + suffix)
    description: str
    kind: str  # "resource" | "plan"
    fn: Union[ResourceCheck, PlanCheck] = field(repr=False)
    scope: Scope = PROHIBITION
    requires: tuple[str, ...] = ()  # the types that carry the control: deleting them must fail the rule
    missing: str = ""  # what a presence failure says is missing

    @property
    def prohibition(self) -> bool:
        return self.scope is PROHIBITION

    def level_for(self, tier: Tier) -> str:
        level = self.level(tier)
        if level not in LEVELS:
            raise ValueError(f"{self.id}: level {level!r} for tier {tier.name} is not one of {LEVELS}")
        return level

    def evaluate_resource(self, r: PolicyResource, ctx: RuleContext) -> Result:
        result = self.fn(r, ctx)  # type: ignore[call-arg]
        return Result(result.status, result.reason, result.resource or r.urn)

    def evaluate(self, plan: PolicyPlan, ctx: RuleContext) -> list[Result]:
        """Every result of this rule on the plan, with the presence failure when the rule
        found nothing where the tier requires the control (an empty list: not applicable)."""
        if self.kind == "resource":
            results = [self.evaluate_resource(r, ctx) for r in plan.of_type(*self.types)]
        else:
            results = list(self.fn(plan, ctx))  # type: ignore[call-arg]
        if not results:
            absent = self.presence(plan, ctx)
            if absent is not None:
                results.append(absent)
        return results

    def presence(self, plan: PolicyPlan, ctx: RuleContext) -> Optional[Result]:
        """The violation for a control missing altogether: the rule finds none of its types,
        its scope is in the plan and the tier makes it mandatory; else None."""
        if self.prohibition or self.level_for(ctx.tier) != "mandatory" or not self.scope.present(plan):
            return None
        if self.kind == "resource" and plan.has(*self.types):
            return None
        return fail(f"{self.missing}: the {ctx.tier.name} tier requires it {self.scope.condition}", plan.stack_urn)


REGISTRY: dict[str, Rule] = {}


@dataclass(frozen=True)
class Exemption:
    """A resource the blueprint creates that breaks `rule` on purpose, and why. Each rule module
    subclasses it with the fields it matches on (a workload's kind, namespace and name; a
    component child; a service principal) and declares its records with `declare_exemptions`,
    so that docs/RULES.md lists every one and a matched resource is reported `exempt`, never
    passed in silence."""

    rule: str
    reason: str = field(kw_only=True)

    @property
    def subject(self) -> str:
        """What the exemption matches, in words (docs/RULES.md)."""
        raise NotImplementedError


EXEMPTIONS: list[Exemption] = []


def declare_exemptions(*items: Exemption) -> tuple[Exemption, ...]:
    """Record a module's exemptions (each names a rule id and gives a reason); returns them."""
    for item in items:
        if not RULE_ID.match(item.rule):
            raise ValueError(f"exemption {item!r}: rule {item.rule!r} is not a rule id")
        if not item.reason.strip():
            raise ValueError(f"exemption of {item.subject} from {item.rule}: a reason is required")
        if item not in EXEMPTIONS:
            EXEMPTIONS.append(item)
    return tuple(items)


def exemptions_of(rule_id: str) -> list[Exemption]:
    all_rules()
    return [e for e in EXEMPTIONS if e.rule == rule_id]


def _register(kind: str, *, id: str, title: str, severity: str, area: str, types: Sequence[str],
              controls: Mapping[str, Sequence[str]], level: LevelFn, scope: Scope, missing: str = "",
              requires: Optional[Sequence[str]] = None, level_doc: str = "", description: str = "") -> Callable:
    """`level_doc` is appended to the doc the level function carries (always, mandatory_if,
    tier_level); a level function without one (a plain lambda) needs the whole `level_doc`.

    `scope` is required: `PROHIBITION`, or the part of the stack the rule protects, with
    `missing` saying what is absent when the rule finds nothing there. `requires` (default: all
    of `types`) names the types whose deletion must fail the rule; it is empty for a prohibition."""
    if not RULE_ID.match(id):
        raise ValueError(f"rule id {id!r} must match {RULE_ID.pattern}")
    if severity not in SEVERITIES:
        raise ValueError(f"{id}: severity {severity!r} is not one of {SEVERITIES}")
    if area not in AREAS:
        raise ValueError(f"{id}: area {area!r} is not one of {AREAS}")
    level_doc = getattr(level, "doc", "") + level_doc
    if not level_doc:
        raise ValueError(f"{id}: level_doc is required when the level function carries no doc")
    unknown = set(controls) - set(FRAMEWORKS)
    if unknown:
        raise ValueError(f"{id}: controls name unknown frameworks {sorted(unknown)}; use {', '.join(FRAMEWORKS)}")
    if not isinstance(scope, Scope):
        raise ValueError(f"{id}: scope must be a Scope (PROHIBITION, or what the rule protects)")
    if scope is PROHIBITION:
        if missing or requires:
            raise ValueError(f"{id}: a prohibition has no `missing` message and requires nothing")
        required: tuple[str, ...] = ()
    else:
        if not missing:
            raise ValueError(f"{id}: `missing` is required: say what is absent when the rule finds nothing")
        # requires=() says no one type is required on its own (every stateful resource is
        # protected): the rule still fails when it finds nothing of its types in its scope.
        required = tuple(types) if requires is None else tuple(requires)
        if not set(required) <= set(types):
            raise ValueError(f"{id}: requires must name some of the rule's types {list(types)}")

    def decorate(fn: Callable) -> Callable:
        if id in REGISTRY and REGISTRY[id].fn is not fn:
            raise ValueError(f"duplicate rule id {id}")
        doc = description or " ".join((fn.__doc__ or "").split())
        REGISTRY[id] = Rule(id=id, title=title, severity=severity, area=area, types=tuple(types),
                            controls={k: tuple(v) for k, v in controls.items()}, level=level,
                            level_doc=level_doc, description=doc, kind=kind, fn=fn, scope=scope,
                            requires=required, missing=missing)
        return fn

    return decorate


def resource_rule(**meta) -> Callable[[ResourceCheck], ResourceCheck]:
    return _register("resource", **meta)


def plan_rule(**meta) -> Callable[[PlanCheck], PlanCheck]:
    return _register("plan", **meta)


def all_rules() -> list[Rule]:
    """Every rule, by id (importing the rule modules registers them)."""
    import policies.rules  # noqa: F401  (registration side effect)

    return [REGISTRY[k] for k in sorted(REGISTRY)]


def get_rule(rule_id: str) -> Optional[Rule]:
    all_rules()
    return REGISTRY.get(rule_id)
