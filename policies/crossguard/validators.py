"""The guardrail rules as CrossGuard policies: one policy per rule, named by its id.

Resource rules become ResourceValidationPolicy callbacks, plan rules StackValidationPolicy
callbacks; both call the very functions `blueprint check` runs, on the same plain-data model
(`policies.model`), converted from CrossGuard's arguments. A resource policy only ever sees
resources that exist, so a resource rule that requires its control to exist also gets a stack
policy, `<id>-present`, that fails when the stack has none of its resources (`Rule.presence`).

Which tier and residency? In order:
1. the policy config properties `tier` / `residency` (`pulumi preview --policy-pack-config`,
   written by `python -m policies.crossguard.config TIER [RESIDENCY]`);
2. the stack's own config (`ai-blueprints:blueprint` `tier` / `residency`), which Pulumi hands
   to policy packs in PULUMI_CONFIG;
3. the environment variables BLUEPRINT_TIER / BLUEPRINT_RESIDENCY; else `restricted`, the
   strictest pack (residency: inferred from the home region, as `blueprint check` does: the
   resource's provider region in resource policies, the first AWS provider's in stack policies;
   else `any`).

The stack's accounts (role -> id: training, inference, logArchive), which the account rules
place each part in, come the same way: the policy config property `accounts`, else the stack's
own `ai-blueprints:blueprint` `accounts`. A resource's account is the one its AWS provider
assumes a role in (the provider's `assumeRoles`), as in the plan JSON.

The enforcement level of each policy is the rule's level on that tier (mandatory, advisory,
disabled), set when the pack is built and in the generated policy config. A policy config can
also carry `suppressions` (the stack spec's shape); a suppressed finding is not reported.

Only `__main__.py` constructs the PolicyPack (constructing one starts the policy server);
tests build the policies here and call their validators with arguments built in the test.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel, PolicyComplianceFramework, PolicyConfigSchema, ReportViolation, ResourceValidationArgs,
    ResourceValidationPolicy, Severity, StackValidationArgs, StackValidationPolicy,
)

from blueprints.tiers import RESIDENCY_REGIONS, TIER_NAMES, TIERS, Tier
from policies.evaluate import Suppression, find_suppression, parse_suppressions, resolve_residency, resolve_tier
from policies.model import (
    ACCOUNT_ROLES, AWS_PROVIDER_TYPE, ORGANIZATION_ID_PATTERN, PolicyPlan, PolicyResource, assumed_account, own_region, plain,
)
from policies.rule import Rule, RuleContext, all_rules

STACK_CONFIG_KEY = "ai-blueprints:blueprint"
DEFAULT_TIER = "restricted"
RESIDENCIES = (*RESIDENCY_REGIONS, "any")

_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY,
           "disabled": EnforcementLevel.DISABLED}


@dataclass(frozen=True)
class Defaults:
    """What a policy falls back to when its config names no tier or residency."""

    tier: str = DEFAULT_TIER
    residency: Optional[str] = None
    accounts: tuple[tuple[str, str], ...] = ()  # (role, account id) from the stack config
    organization: str = ""  # the stack config's accounts.organization


def stack_config() -> dict[str, Any]:
    """The stack's `ai-blueprints:blueprint` object from PULUMI_CONFIG (empty if absent)."""
    from pulumi.runtime import get_config_env

    raw = get_config_env().get(STACK_CONFIG_KEY)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}
    return raw if isinstance(raw, dict) else {}


def defaults_from_environment() -> Defaults:
    """The stack's tier/residency, else BLUEPRINT_TIER / BLUEPRINT_RESIDENCY, else restricted;
    the stack's accounts (its `accounts` without `deployRole`)."""
    spec = stack_config()
    tier = resolve_tier({}, spec.get("tier") or os.environ.get("BLUEPRINT_TIER") or DEFAULT_TIER)
    residency = spec.get("residency") or os.environ.get("BLUEPRINT_RESIDENCY") or None
    declared = spec.get("accounts") if isinstance(spec.get("accounts"), Mapping) else {}
    accounts = tuple((role, str(declared[role])) for role in ACCOUNT_ROLES if declared.get(role))
    return Defaults(tier=tier.name, residency=residency, accounts=accounts,
                    organization=str(declared.get("organization") or ""))


def parse_accounts(value: Any) -> dict[str, str]:
    """A policy config's `accounts`: {role: 12-digit account id} for roles among ACCOUNT_ROLES."""
    if value in (None, {}):
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("accounts must be an object: {training, inference, logArchive} -> 12-digit account id")
    out = {}
    for role, account in value.items():
        if role not in ACCOUNT_ROLES:
            raise ValueError(f"accounts: unknown role {role!r}; use {', '.join(ACCOUNT_ROLES)}")
        if not isinstance(account, str) or not re.fullmatch(r"[0-9]{12}", account):
            raise ValueError(f"accounts.{role}: {account!r} is not a quoted 12-digit account id")
        out[str(role)] = account
    return out


def parse_organization(value: Any) -> str:
    """A policy config's `organization`: an AWS Organizations id (o-...), or "" for none."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not re.fullmatch(ORGANIZATION_ID_PATTERN, value):
        raise ValueError(f"organization: {value!r} is not an AWS Organizations id (o- and 10-32 lowercase letters or "
                         "digits)")
    return value


@dataclass(frozen=True)
class _Context:
    tier: Tier
    residency: str
    suppressions: list[Suppression]
    accounts: dict[str, str]
    organization: str

    @property
    def rule_context(self) -> RuleContext:
        return RuleContext(tier=self.tier, residency=self.residency)


def _context(config: Mapping[str, Any], defaults: Defaults, home_region: str) -> _Context:
    """The tier, residency and suppressions a validator applies, resolved the way `blueprint
    check` resolves them: an unset residency is inferred from the home region."""
    return _Context(
        tier=resolve_tier({}, config.get("tier") or defaults.tier),
        residency=resolve_residency(config.get("residency") or defaults.residency, home_region),
        suppressions=parse_suppressions(config.get("suppressions") or ()),
        accounts=parse_accounts(config.get("accounts")) or dict(defaults.accounts),
        organization=parse_organization(config.get("organization")) or defaults.organization,
    )


def _message(rule: Rule, tier: Tier, reason: str) -> str:
    return f"[{rule.id} {rule.severity}, {tier.name} tier] {reason}"


# -- conversion from CrossGuard arguments --------------------------------------------------------
def _provider_ref(provider: Any) -> str:
    return f"{provider.urn}::" if provider is not None else ""


def _provider_region(provider: Any) -> str:
    if provider is None or not str(provider.resource_type).startswith(AWS_PROVIDER_TYPE):
        return ""
    return own_region(plain(provider.props))


def _provider_account(provider: Any) -> str:
    """The account an AWS provider assumes a role in ("" none: the deploying account)."""
    if provider is None or not str(provider.resource_type).startswith(AWS_PROVIDER_TYPE):
        return ""
    return assumed_account(plain(provider.props))


def resource_from_policy(args: ResourceValidationArgs) -> PolicyResource:
    """One resource as the rules see it; retainOnDelete is not passed to policies (None)."""
    props = plain(args.props)
    return PolicyResource(
        urn=args.urn, type=args.resource_type, name=args.name, inputs=props, outputs={},
        parent=args.opts.parent or "", provider=_provider_ref(args.provider), protect=bool(args.opts.protect),
        retain_on_delete=None, region=own_region(props) or _provider_region(args.provider),
        account=_provider_account(args.provider),
    )


def plan_from_policy(args: StackValidationArgs, stack: str = "",
                     accounts: Optional[Mapping[str, str]] = None) -> PolicyPlan:
    """The whole stack as the rules see it. Stack policies get outputs (inputs plus computed
    values), so they serve as both. `accounts`: the stack's accounts by role (the plan JSON's
    `accounts`), which CrossGuard learns from the config."""
    resources, providers = [], {}
    for r in args.resources:
        props = plain(r.props)
        if str(r.resource_type).startswith(AWS_PROVIDER_TYPE):
            providers[f"{r.urn}::"] = own_region(props)
        if r.provider is not None and str(r.provider.resource_type).startswith(AWS_PROVIDER_TYPE):
            providers.setdefault(_provider_ref(r.provider), _provider_region(r.provider))
        dependencies = [d.urn for d in r.dependencies]
        for deps in r.property_dependencies.values():
            dependencies += [d.urn for d in deps if d.urn not in dependencies]
        resources.append(PolicyResource(
            urn=r.urn, type=r.resource_type, name=r.name, inputs=props, outputs=props,
            parent=r.parent.urn if r.parent is not None else (r.opts.parent or ""),
            provider=_provider_ref(r.provider), protect=bool(r.opts.protect), retain_on_delete=None,
            region=own_region(props) or _provider_region(r.provider), dependencies=tuple(dependencies),
            id=str(props.get("id", "") or ""), account=_provider_account(r.provider),
        ))
    return PolicyPlan(stack=stack, tier="", resources=resources, providers=providers, accounts=dict(accounts or {}))


# -- validators ----------------------------------------------------------------------------------
def resource_validator(rule: Rule, defaults: Defaults) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        ctx = _context(args.get_config(), defaults, _provider_region(args.provider))
        if rule.level_for(ctx.tier) == "disabled":
            args.not_applicable(f"{rule.id} is not in the {ctx.tier.name} pack")
        if args.resource_type not in rule.types:
            return
        result = rule.evaluate_resource(resource_from_policy(args), ctx.rule_context)
        if result.failed and not find_suppression(ctx.suppressions, rule.id, args.urn):
            report_violation(_message(rule, ctx.tier, result.reason), None)

    validate.__name__ = f"validate_{rule.id.replace('-', '_')}"
    return validate


def stack_validator(rule: Rule, defaults: Defaults, *, presence_only: bool = False
                    ) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """A plan rule over the whole stack; with `presence_only`, the stack-level half of a resource
    rule: only the control missing from the whole stack (`Rule.presence`)."""
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        plan = plan_from_policy(args)
        ctx = _context(args.get_config(), defaults, plan.home_region)
        plan.accounts = dict(ctx.accounts)
        plan.organization = ctx.organization
        if rule.level_for(ctx.tier) == "disabled":
            args.not_applicable(f"{rule.id} is not in the {ctx.tier.name} pack")
        if presence_only:
            results = [r for r in [rule.presence(plan, ctx.rule_context)] if r is not None]
        else:
            results = rule.evaluate(plan, ctx.rule_context)
        for result in results:
            if result.failed and not find_suppression(ctx.suppressions, rule.id, result.resource):
                report_violation(_message(rule, ctx.tier, result.reason), result.resource or None)

    validate.__name__ = f"validate_{rule.id.replace('-', '_')}{'_present' if presence_only else ''}"
    return validate


def presence_policy_name(rule: Rule) -> str:
    return f"{rule.id}-present"


def _config_schema(defaults: Defaults) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={
        "tier": {"type": "string", "enum": list(TIER_NAMES), "default": defaults.tier,
                 "description": "The data-classification tier whose pack applies."},
        "residency": {"type": "string", "enum": list(RESIDENCIES),
                      "description": "Where data may live (eu, us, any); restricts every region used."},
        "suppressions": {"type": "array", "items": {"type": "object"},
                         "description": "[{rule, resource, reason}]: findings not to report; reason required."},
        "accounts": {"type": "object", "additionalProperties": False,
                     "properties": {role: {"type": "string", "pattern": "^[0-9]{12}$"} for role in ACCOUNT_ROLES},
                     "description": "The stack's accounts by role (training, inference, logArchive), as the stack "
                                    "config's `accounts` names them; default: the stack config's."},
        "organization": {"type": "string", "pattern": ORGANIZATION_ID_PATTERN,
                         "description": "The AWS Organizations id policies may admit as a whole (aws:PrincipalOrgID); "
                                        "default: the stack config's accounts.organization."},
    })


def build_policies(defaults: Defaults) -> list:
    """One CrossGuard policy per rule, enforcement levels from the default tier's pack."""
    tier = TIERS[defaults.tier]
    schema = _config_schema(defaults)
    policies: list = []
    for rule in all_rules():
        common = dict(
            description=rule.title,
            enforcement_level=_LEVELS[rule.level_for(tier)],
            config_schema=schema,
            display_name=f"{rule.id}: {rule.title}",
            severity=Severity(rule.severity),
            framework=PolicyComplianceFramework(
                name="ai-blueprints guardrails", version="1", reference="docs/RULES.md",
                specification="; ".join(f"{fw}: {', '.join(c)}" for fw, c in rule.controls.items())),
            tags=[rule.area] + [f"{fw}:{c}" for fw, controls in rule.controls.items() for c in controls],
            remediation_steps=rule.description or None,
        )
        if rule.kind == "resource":
            policies.append(ResourceValidationPolicy(name=rule.id, validate=resource_validator(rule, defaults), **common))
            if not rule.prohibition:
                present = {**common, "description": f"{rule.title} (the control exists: {rule.missing} fails)",
                           "display_name": f"{rule.id}: {rule.missing}? ({rule.scope.name})"}
                policies.append(StackValidationPolicy(name=presence_policy_name(rule),
                                                      validate=stack_validator(rule, defaults, presence_only=True), **present))
        else:
            policies.append(StackValidationPolicy(name=rule.id, validate=stack_validator(rule, defaults), **common))
    return policies


def policy_config(tier: str, residency: Optional[str] = None, suppressions: Optional[list] = None,
                  accounts: Optional[Mapping[str, str]] = None, organization: Optional[str] = None) -> dict[str, Any]:
    """A `--policy-pack-config` document: per policy, the tier's enforcement level and the
    tier/residency (and the stack's accounts, when given) the validators read."""
    resolve_tier({}, tier)
    if residency is not None:
        resolve_residency(residency, "")
    parse_suppressions(suppressions or ())
    accounts = parse_accounts(accounts)
    organization = parse_organization(organization)
    out: dict[str, Any] = {}
    for rule in all_rules():
        entry: dict[str, Any] = {"enforcementLevel": rule.level_for(TIERS[tier]), "tier": tier}
        if residency:
            entry["residency"] = residency
        if accounts:
            entry["accounts"] = dict(accounts)
        if organization:
            entry["organization"] = organization
        mine = [s for s in suppressions or () if s.get("rule") == rule.id]
        if mine:
            entry["suppressions"] = mine
        out[rule.id] = entry
        if rule.kind == "resource" and not rule.prohibition:
            out[presence_policy_name(rule)] = dict(entry)
    return out
