"""What a guardrail rule is: a pure function plus the metadata next to it.

A *resource rule* looks at one resource (its type, inputs, region, options) and returns a
`Result`; it runs offline on every plan resource of its types and, in CrossGuard, as a
ResourceValidationPolicy. A *plan rule* looks at the whole plan and yields one `Result` per
resource it judged; it runs as a StackValidationPolicy. A rule that finds nothing to judge is
not applicable, so every rule runs on partial plans as well as full ones.

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
)


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
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

    def level_for(self, tier: Tier) -> str:
        level = self.level(tier)
        if level not in LEVELS:
            raise ValueError(f"{self.id}: level {level!r} for tier {tier.name} is not one of {LEVELS}")
        return level

    def evaluate_resource(self, r: PolicyResource, ctx: RuleContext) -> Result:
        result = self.fn(r, ctx)  # type: ignore[call-arg]
        return Result(result.status, result.reason, result.resource or r.urn)

    def evaluate(self, plan: PolicyPlan, ctx: RuleContext) -> list[Result]:
        """Every result of this rule on the plan (an empty list: not applicable)."""
        if self.kind == "resource":
            return [self.evaluate_resource(r, ctx) for r in plan.of_type(*self.types)]
        return list(self.fn(plan, ctx))  # type: ignore[call-arg]


REGISTRY: dict[str, Rule] = {}


def _register(kind: str, *, id: str, title: str, severity: str, area: str, types: Sequence[str],
              controls: Mapping[str, Sequence[str]], level: LevelFn, level_doc: str = "",
              description: str = "") -> Callable:
    """`level_doc` is appended to the doc the level function carries (always, mandatory_if,
    tier_level); a level function without one (a plain lambda) needs the whole `level_doc`."""
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

    def decorate(fn: Callable) -> Callable:
        if id in REGISTRY and REGISTRY[id].fn is not fn:
            raise ValueError(f"duplicate rule id {id}")
        doc = description or " ".join((fn.__doc__ or "").split())
        REGISTRY[id] = Rule(id=id, title=title, severity=severity, area=area, types=tuple(types),
                            controls={k: tuple(v) for k, v in controls.items()}, level=level,
                            level_doc=level_doc, description=doc, kind=kind, fn=fn)
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
