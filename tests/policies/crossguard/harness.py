"""CrossGuard's arguments built from plan data, and a whole-pack CrossGuard run over a plan
dict, as `pulumi preview --policy-pack policies/crossguard` would run it (constructing a
PolicyPack would start the policy server, so only policies/crossguard/__main__.py does that)."""

from __future__ import annotations

from typing import Any, Optional

from pulumi_policy import (
    PolicyCustomTimeouts, PolicyProviderResource, PolicyResource, PolicyResourceOptions, ResourceValidationArgs,
    ResourceValidationPolicy, StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.crossguard.validators import Defaults, build_policies
from policies.model import urn_name
from policies.rule import get_rule

PREFIX = "urn:pulumi:dev::ai-blueprints::"


class Collector:
    def __init__(self) -> None:
        self.violations: list[tuple[str, Optional[str]]] = []

    def __call__(self, message: str, urn: Optional[str] = None) -> None:
        self.violations.append((message, urn))


def run_policy(policy: Any, args: Any) -> list[tuple[str, Optional[str]]]:
    """The (message, urn) violations one policy reports for one set of arguments."""
    collector = Collector()
    policy.validate(args, collector)
    return collector.violations


def _opts(protect: bool = False, parent: Optional[str] = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def _provider(region: str = "eu-west-1") -> PolicyProviderResource:
    return PolicyProviderResource("pulumi:providers:aws", unknown_checking_proxy({"region": region}),
                                  f"{PREFIX}pulumi:providers:aws::aws-{region}", f"aws-{region}")


def resource_args(type_: str, name: str, props: dict[str, Any], config: Optional[dict] = None, *,
                  protect: bool = False, parent: Optional[str] = None, region: str = "eu-west-1") -> ResourceValidationArgs:
    return ResourceValidationArgs(type_, unknown_checking_proxy(props), f"{PREFIX}{type_}::{name}", name,
                                  _opts(protect, parent), _provider(region), config)


def stack_args(plan: dict[str, Any], config: Optional[dict] = None, unknown: frozenset = frozenset()) -> StackValidationArgs:
    """StackValidationArgs from a plan dict (outputs as props, like a preview), with the named
    (urn name, property) pairs replaced by unknowns."""
    states = [s["newState"] for s in plan["steps"]]
    providers = {f"{s['urn']}::{s.get('id', '')}": s for s in states if s["type"].startswith("pulumi:providers:")}
    resources: dict[str, PolicyResource] = {}
    for s in states:
        props = dict(s.get("outputs") or s.get("inputs") or {})
        for name, key in unknown:
            if urn_name(s["urn"]) == name:
                props[key] = UNKNOWN_STRING_VALUE
        p = providers.get(s.get("provider", ""))
        provider = (PolicyProviderResource(p["type"], unknown_checking_proxy(dict(p["inputs"])), p["urn"], urn_name(p["urn"]))
                    if p else None)
        resources[s["urn"]] = PolicyResource(s["type"], unknown_checking_proxy(props), s["urn"], urn_name(s["urn"]),
                                             _opts(bool(s.get("protect")), s.get("parent")), provider, None, [], {})
    for s in states:
        r = resources[s["urn"]]
        r.parent = resources.get(s.get("parent", ""))
        r.dependencies = [resources[d] for d in s.get("dependencies", []) if d in resources]
    return StackValidationArgs(list(resources.values()), config)


def crossguard_violations(plan: dict[str, Any], config: dict[str, Any], policies: Optional[list] = None,
                          only: Optional[set[str]] = None) -> set[tuple[str, str]]:
    """(rule id, urn) of every violation the pack reports on the plan: each resource policy on
    each resource of its types, each stack policy on the stack (`<id>-present` reported as its
    rule). `only`: the rule ids to run. Policies the config's tier disables are skipped."""
    stack = stack_args(plan, config)
    found: set[tuple[str, str]] = set()
    for policy in policies or build_policies(Defaults(tier=config.get("tier", "restricted"))):
        rule_id = policy.name.removesuffix("-present")
        if only is not None and rule_id not in only:
            continue
        try:
            if isinstance(policy, ResourceValidationPolicy):
                types = get_rule(rule_id).types  # the validator ignores other types; skip them here
                for r in (r for r in stack.resources if r.resource_type in types):
                    args = ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, r.opts, r.provider, config)
                    found |= {(rule_id, r.urn) for _ in run_policy(policy, args)}
            else:
                found |= {(rule_id, urn or "") for _, urn in run_policy(policy, stack)}
        except _NotApplicableError:
            continue
    return found


