"""Edge protection: every REST API stage is behind a WAF web ACL and throttled; web ACLs carry
the tier's managed rule groups, a rate limit and (where the tier says) a geo allowlist drawn
from the residency."""

from __future__ import annotations

from typing import Any, Iterable, Optional

from blueprints.tiers import RESIDENCY_COUNTRIES
from policies.controls import DOS, RESIDENCY, merge
from policies.model import PolicyPlan, PolicyResource, as_list, dig
from policies.rule import Result, RuleContext, always, check, fail, mandatory_if, ok, plan_rule, resource_rule
from policies.rules._aws import (
    API_METHOD_SETTINGS, API_STAGE, INFERENCE, WEB_ACL, WEB_ACL_ASSOCIATION, names, stage_key, stage_web_acls,
)

AREA = "edge protection"


@plan_rule(
    id="AIB-085", scope=INFERENCE, requires=(API_STAGE, WEB_ACL_ASSOCIATION, WEB_ACL), missing="no API Gateway stage behind a WAF web ACL", title="Every API Gateway stage is associated with a WAF web ACL",
    severity="critical", area=AREA, types=(API_STAGE, WEB_ACL_ASSOCIATION, WEB_ACL), controls=DOS,
    level=always("mandatory"),
)
def stage_waf_association(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A WebAclAssociation whose resourceArn is the stage's ARN and whose webAclArn is a web ACL
    of this stack."""
    for stage in plan.of_type(API_STAGE):
        acls = stage_web_acls(plan, stage)
        associated = plan.linked(stage, [WEB_ACL_ASSOCIATION], "resourceArn")
        yield check(bool(acls), f"behind WAF web ACL {names(acls)}",
                    "associated with a web ACL that is not in this stack" if associated
                    else "no WebAclAssociation for this stage", stage)


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and value > 0


def _throttled_stages(plan: PolicyPlan) -> set[tuple[str, str]]:
    """Stages whose method settings for every method (`*/*`) set positive rate and burst limits."""
    keys = set()
    for ms in plan.of_type(API_METHOD_SETTINGS):
        settings = ms.get("settings") or {}
        key = stage_key(plan, ms)
        if (key and ms.get("methodPath") == "*/*"
                and _positive(settings.get("throttlingRateLimit")) and _positive(settings.get("throttlingBurstLimit"))):
            keys.add(key)
    return keys


@plan_rule(
    id="AIB-086", scope=INFERENCE, requires=(API_STAGE, API_METHOD_SETTINGS), missing="no throttled API Gateway stage",
    title="Every API Gateway stage throttles every method (rate and burst limits on */*)",
    severity="high", area=AREA, types=(API_STAGE, API_METHOD_SETTINGS), controls=DOS,
    level=always("mandatory"),
)
def stage_throttling(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """MethodSettings for the stage with methodPath `*/*` and settings.throttlingRateLimit and
    throttlingBurstLimit above zero. Settings on one method leave the others unthrottled, and a
    usage plan does not count: its limits apply per API key, to requests that carry one."""
    throttled = _throttled_stages(plan)
    for stage in plan.of_type(API_STAGE):
        key = stage_key(plan, stage)
        yield check(key in throttled, "every method throttled", "no */* method settings throttle this stage", stage)


def _statements(rule: dict) -> Iterable[dict]:
    """A rule's statement and every statement nested in it."""
    frontier = [rule.get("statement") or {}]
    while frontier:
        stmt = frontier.pop()
        if not isinstance(stmt, dict):
            continue
        yield stmt
        frontier.append(dig(stmt, "notStatement", "statement"))
        frontier.extend(as_list(dig(stmt, "andStatement", "statements")))
        frontier.extend(as_list(dig(stmt, "orStatement", "statements")))


def _rules(acl: PolicyResource) -> list[dict]:
    return [r for r in as_list(acl.get("rules")) if isinstance(r, dict)]


@resource_rule(
    id="AIB-087", scope=INFERENCE, missing="no WAF web ACL", title="Every WAF web ACL enforces the tier's AWS managed rule groups",
    severity="high", area=AREA, types=(WEB_ACL,), controls=DOS,
    level=always("mandatory"), level_doc=", with the tier's `waf_managed_rule_groups`",
)
def waf_managed_groups(r: PolicyResource, ctx: RuleContext) -> Result:
    """Each of the tier's groups is referenced (vendor AWS), not overridden to count as a whole,
    and none of its rules is overridden to anything but block, except: the Common group's
    SizeRestrictions_BODY (its 8 KiB limit is replaced by the ACL's own blocking body-size rule)
    and, where the tier allows a prompt payload (`waf_prompt_payload`), `*_BODY` rules counted.
    An `allow` override always fails: it ends evaluation, skipping the rate and size limits."""
    enforced, weakened = set(), []
    for rule in _rules(r):
        if "count" in (rule.get("overrideAction") or {}):
            continue
        for stmt in _statements(rule):
            group = stmt.get("managedRuleGroupStatement") or {}
            name = group.get("name")
            if group.get("vendorName") != "AWS" or not name:
                continue
            bad = [f"{o.get('name')} overridden to {next(iter(o.get('actionToUse') or {}), '?')}"
                   for o in as_list(group.get("ruleActionOverrides")) if isinstance(o, dict)
                   and not _acceptable_override(name, o, ctx)]
            if bad:
                weakened.append(f"{name}: {', '.join(bad)}")
            else:
                enforced.add(name)
    missing = [g for g in ctx.tier.waf_managed_rule_groups if g not in enforced]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    problems += [w for w in weakened if w.split(":")[0] in ctx.tier.waf_managed_rule_groups]
    return check(not problems, f"{len(ctx.tier.waf_managed_rule_groups)} managed rule groups enforced",
                 "; ".join(problems))


_SIZE_RULE = ("AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY")


def _acceptable_override(group: str, override: dict, ctx: RuleContext) -> bool:
    action = override.get("actionToUse") or {}
    if "block" in action:
        return True
    if "count" not in action:
        return False  # allow (or a challenge) lets the request skip the ACL's other rules
    name = str(override.get("name", ""))
    return (group, name) == _SIZE_RULE or (name.endswith("_BODY") and ctx.tier.waf_prompt_payload)


@resource_rule(
    id="AIB-088", scope=INFERENCE, missing="no WAF web ACL", title="Every WAF web ACL has a rate-based rule that blocks",
    severity="high", area=AREA, types=(WEB_ACL,), controls=DOS,
    level=always("mandatory"),
)
def waf_rate_limit(r: PolicyResource, ctx: RuleContext) -> Result:
    """A rule with a rateBasedStatement and a block action."""
    limited = [rule for rule in _rules(r) if "block" in (rule.get("action") or {})
               and any("rateBasedStatement" in s for s in _statements(rule))]
    return check(bool(limited), "rate limit per IP", "no blocking rate-based rule")


def _geo_allowlist(acl: PolicyResource) -> Optional[list[str]]:
    """The allowed countries: a blocking rule on NOT geo-match, or an allowing geo-match rule
    with default action block."""
    default_block = "block" in (acl.get("defaultAction") or {})
    for rule in _rules(acl):
        stmt = rule.get("statement") or {}
        action = rule.get("action") or {}
        negated = dig(stmt, "notStatement", "statement", "geoMatchStatement", "countryCodes")
        if negated and "block" in action:
            return [str(c) for c in negated]
        direct = dig(stmt, "geoMatchStatement", "countryCodes")
        if direct and "allow" in action and default_block:
            return [str(c) for c in direct]
    return None


@resource_rule(
    id="AIB-089", scope=INFERENCE, missing="no WAF web ACL", title="WAF web ACLs admit only the residency's countries where the tier requires a geo allowlist",
    severity="high", area=AREA, types=(WEB_ACL,), controls=merge(DOS, RESIDENCY),
    level=mandatory_if("waf_geo_allowlist", otherwise="disabled"),
)
def waf_geo_allowlist(r: PolicyResource, ctx: RuleContext) -> Result:
    """A geo allowlist whose countries are all within the residency (`blueprints.tiers.RESIDENCY_COUNTRIES`)."""
    allowed = _geo_allowlist(r)
    if allowed is None:
        return fail("no geo allowlist rule")
    permitted = RESIDENCY_COUNTRIES.get(ctx.residency)
    if permitted is None:
        return ok(f"geo allowlist of {len(allowed)} countries (residency {ctx.residency} has no country list)")
    outside = sorted(set(allowed) - set(permitted))
    return check(not outside, f"geo allowlist of {len(allowed)} countries within {ctx.residency}",
                 f"geo allowlist admits {', '.join(outside)} outside residency {ctx.residency}")

