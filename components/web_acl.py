"""A regional WAFv2 web ACL: AWS managed rule groups, a per-IP rate limit, a body-size limit, an
optional geo allowlist, CloudWatch metrics on every rule, and its association with a resource."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, check_range, merge_tags

W = aws.wafv2

# Request-body inspection limits API Gateway can forward to WAF (AssociationConfig), in KiB.
BODY_INSPECTION_KIB = (16, 32, 48, 64)
RATE_WINDOWS = (60, 120, 300, 600)

# The Common rule set blocks bodies over 8 KiB (SizeRestrictions_BODY); this ACL's own
# body-size rule sets the limit instead, so that rule only counts.
_OVERRIDES = {
    "AWSManagedRulesCommonRuleSet": [W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
        name="SizeRestrictions_BODY",
        action_to_use=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
            count=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()),
    )],
}


@dataclass(frozen=True, kw_only=True)
class WebAclArgs:
    resource_arn: pulumi.Input[str]
    """ARN of the resource to protect (an API Gateway REST API stage, an ALB, ...). Required."""
    managed_rule_groups: Sequence[str] = ("AWSManagedRulesCommonRuleSet",)
    """AWS managed rule groups (vendor AWS), evaluated in this order after the geo allowlist, with their own
    actions. Default: the Common rule set."""
    rate_limit: int = 2000
    """Requests per client IP per `rate_window_seconds` before WAF blocks it (10 to 2e9).
    Default 2000."""
    rate_window_seconds: int = 300
    """Rate-limit evaluation window: 60, 120, 300 or 600. Default 300 (5 minutes)."""
    max_body_kib: int = 16
    """Largest request body admitted, in KiB: 16, 32, 48 or 64. Bodies above it are blocked
    (oversize handling MATCH), so nothing WAF could not inspect reaches the origin. Above 16
    KiB WAF charges for the larger inspection. Default 16."""
    allowed_countries: Sequence[str] = ()
    """ISO 3166-1 alpha-2 country codes. When set, requests from any other country are blocked
    (geo allowlist). Default empty: no geo restriction."""
    sampled_requests: bool = True
    """Keep sampled requests for the console. Default on."""
    tags: Mapping[str, str] = field(default_factory=dict)


def _visibility(metric: str, sampled: bool) -> W.WebAclRuleVisibilityConfigArgs:
    return W.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=sampled)


class WebAcl(Component):
    """Default action allow; the geo allowlist first, then the managed groups, the body-size
    limit and the per-IP rate limit."""

    web_acl_arn: pulumi.Output[str]
    web_acl_id: pulumi.Output[str]
    web_acl_name: pulumi.Output[str]
    metric_name: str

    def __init__(self, name: str, args: WebAclArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("waf", "WebAcl", name, opts)
        check_range(name, "rate_limit", args.rate_limit, 10, 2_000_000_000)
        if args.rate_window_seconds not in RATE_WINDOWS:
            raise ValueError(f"{name}: rate_window_seconds must be one of {RATE_WINDOWS}")
        if args.max_body_kib not in BODY_INSPECTION_KIB:
            raise ValueError(f"{name}: max_body_kib must be one of {BODY_INSPECTION_KIB}")
        bad = [c for c in args.allowed_countries if not re.fullmatch(r"[A-Z]{2}", c)]
        if bad:
            raise ValueError(f"{name}: allowed_countries must be ISO 3166-1 alpha-2 codes, got {bad}")
        # Metric names: letters, digits, - and _ only (1-128).
        self.metric_name = re.sub(r"[^A-Za-z0-9_-]", "-", name)[:100]

        rules = self._rules(args)
        self.web_acl = W.WebAcl(
            f"{name}-web-acl",
            name=name,
            description=f"{name}: managed rules, rate limit, body-size limit",
            scope="REGIONAL",
            default_action=W.WebAclDefaultActionArgs(allow=W.WebAclDefaultActionAllowArgs()),
            rules=rules,
            association_config=W.WebAclAssociationConfigArgs(request_bodies=[
                W.WebAclAssociationConfigRequestBodyArgs(api_gateway=W.WebAclAssociationConfigRequestBodyApiGatewayArgs(
                    default_size_inspection_limit=f"KB_{args.max_body_kib}"))
            ]),
            visibility_config=W.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=self.metric_name,
                sampled_requests_enabled=args.sampled_requests),
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        self.association = W.WebAclAssociation(
            f"{name}-association",
            resource_arn=args.resource_arn,
            web_acl_arn=self.web_acl.arn,
            opts=self.child(),
        )
        self.web_acl_arn = self.web_acl.arn
        self.web_acl_id = self.web_acl.id
        self.web_acl_name = self.web_acl.name
        self.register_outputs({
            "web_acl_arn": self.web_acl_arn,
            "web_acl_id": self.web_acl_id,
            "web_acl_name": self.web_acl_name,
        })

    def _rules(self, args: WebAclArgs) -> list[W.WebAclRuleArgs]:
        rules: list[W.WebAclRuleArgs] = []

        def add(short: str, statement: W.WebAclRuleStatementArgs, *, block: bool) -> None:
            rules.append(W.WebAclRuleArgs(
                name=short,
                priority=len(rules),
                statement=statement,
                action=W.WebAclRuleActionArgs(block=W.WebAclRuleActionBlockArgs()) if block else None,
                override_action=None if block else W.WebAclRuleOverrideActionArgs(none=W.WebAclRuleOverrideActionNoneArgs()),
                visibility_config=_visibility(f"{self.metric_name}-{short}", args.sampled_requests),
            ))

        if args.allowed_countries:
            add("geo-allowlist", W.WebAclRuleStatementArgs(
                not_statement=W.WebAclRuleStatementNotStatementArgs(statement=W.WebAclRuleStatementArgs(
                    geo_match_statement=W.WebAclRuleStatementGeoMatchStatementArgs(
                        country_codes=list(args.allowed_countries))))), block=True)
        for group in args.managed_rule_groups:
            add(group, W.WebAclRuleStatementArgs(
                managed_rule_group_statement=W.WebAclRuleStatementManagedRuleGroupStatementArgs(
                    name=group, vendor_name="AWS", rule_action_overrides=_OVERRIDES.get(group))), block=False)
        add("body-size-limit", W.WebAclRuleStatementArgs(
            size_constraint_statement=W.WebAclRuleStatementSizeConstraintStatementArgs(
                comparison_operator="GT",
                size=args.max_body_kib * 1024,
                field_to_match=W.WebAclRuleStatementSizeConstraintStatementFieldToMatchArgs(
                    body=W.WebAclRuleStatementSizeConstraintStatementFieldToMatchBodyArgs(oversize_handling="MATCH")),
                text_transformations=[W.WebAclRuleStatementSizeConstraintStatementTextTransformationArgs(
                    priority=0, type="NONE")],
            )), block=True)
        add("rate-limit-per-ip", W.WebAclRuleStatementArgs(
            rate_based_statement=W.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP", limit=args.rate_limit, evaluation_window_sec=args.rate_window_seconds)),
            block=True)
        return rules
