"""A regional WAFv2 web ACL: AWS managed rule groups, a per-IP rate limit, a body-size limit, an
optional geo allowlist, CloudWatch metrics on every rule, and its association with a resource.
For bodies that carry code or SQL by design (LLM prompts), the groups' body rules can count
instead of block (`count_body_rules`), each other rule keeping its action."""

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

# The request-body rules of the AWS managed rule groups and the label each adds to a request it
# matches (AWS WAF Developer Guide, "AWS Managed Rules rule groups list": baseline and use-case
# rule groups). Every other rule of these groups inspects headers, the URI path, the query string
# or cookies. AWS may add rules to a group's new versions: one missing here keeps blocking.
BODY_RULES: dict[str, dict[str, str]] = {
    "AWSManagedRulesCommonRuleSet": {
        "SizeRestrictions_BODY": "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body",
        "EC2MetaDataSSRF_BODY": "awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_Body",
        "GenericLFI_BODY": "awswaf:managed:aws:core-rule-set:GenericLFI_Body",
        "GenericRFI_BODY": "awswaf:managed:aws:core-rule-set:GenericRFI_Body",
        "CrossSiteScripting_BODY": "awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body",
    },
    "AWSManagedRulesKnownBadInputsRuleSet": {
        "JavaDeserializationRCE_BODY": "awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_Body",
        "Log4JRCE_BODY": "awswaf:managed:aws:known-bad-inputs:Log4JRCE_Body",
    },
    "AWSManagedRulesSQLiRuleSet": {
        "SQLi_BODY": "awswaf:managed:aws:sql-database:SQLi_Body",
        "SQLiExtendedPatterns_BODY": "awswaf:managed:aws:sql-database:SQLiExtendedPatterns_Body",
    },
    # IP lists: they judge the caller's address, never the request body.
    "AWSManagedRulesAmazonIpReputationList": {},
    "AWSManagedRulesAnonymousIpList": {},
}
# The Common rule set blocks bodies over 8 KiB (SizeRestrictions_BODY); this ACL's own
# body-size rule sets the limit instead, so that rule always only counts.
_ALWAYS_COUNTED = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}
# The label the ACL's own `body-rule-matches` rule adds (web ACL namespace: awswaf:<account>:webacl:<name>:).
BODY_MATCH_LABEL = "aiblueprints:body-rule-match"


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
    count_body_rules: bool = False
    """Override each managed group's request-body rules (BODY_RULES) to count instead of block, for
    APIs whose bodies legitimately carry code or SQL, such as LLM prompts. Header, URI-path,
    query-string and cookie rules keep blocking (per-rule overrides, never the whole group), and
    so does this ACL's body-size limit. Matches keep the groups' labels and are counted again by a
    `body-rule-matches` rule (label BODY_MATCH_LABEL) whose metric `body_match_metric_name` is
    there to alarm on; WAF logs list them as non-terminating matches. Every group must be one of
    BODY_RULES, whose body rules are known. Default off: every managed rule keeps its action."""
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
    body_match_metric_name: Optional[str]
    """CloudWatch `Rule` dimension of the requests a counted body rule matched (AWS/WAFV2
    CountedRequests); None while body rules block."""

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
        unknown = [g for g in args.managed_rule_groups if g not in BODY_RULES]
        if args.count_body_rules and unknown:
            raise ValueError(f"{name}: count_body_rules needs the body rules of every managed group; "
                             f"those of {unknown} are not known (BODY_RULES)")
        # Metric names: letters, digits, - and _ only (1-128).
        self.metric_name = re.sub(r"[^A-Za-z0-9_-]", "-", name)[:100]
        # What the `body-rule-matches` rule matches: the labels of the body rules this ACL counts
        # (not SizeRestrictions_Body: the ACL's own body-size rule replaces it in both modes).
        self._body_labels = [label for group in args.managed_rule_groups for rule, label in BODY_RULES[group].items()
                             if rule not in _ALWAYS_COUNTED.get(group, ())] if args.count_body_rules else []
        self.body_match_metric_name = f"{self.metric_name}-body-rule-matches" if self._body_labels else None

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

        def add(short: str, statement: W.WebAclRuleStatementArgs, *, action: Optional[str],
                labels: Sequence[str] = ()) -> None:
            """action: "block" or "count" for the ACL's own rules; None for a managed group, whose
            rules keep their own actions (override action none)."""
            rule_action = {
                "block": W.WebAclRuleActionArgs(block=W.WebAclRuleActionBlockArgs()),
                "count": W.WebAclRuleActionArgs(count=W.WebAclRuleActionCountArgs()),
            }.get(action or "")
            rules.append(W.WebAclRuleArgs(
                name=short,
                priority=len(rules),
                statement=statement,
                action=rule_action,
                override_action=None if rule_action else W.WebAclRuleOverrideActionArgs(
                    none=W.WebAclRuleOverrideActionNoneArgs()),
                rule_labels=[W.WebAclRuleRuleLabelArgs(name=label) for label in labels] or None,
                visibility_config=_visibility(f"{self.metric_name}-{short}", args.sampled_requests),
            ))

        if args.allowed_countries:
            add("geo-allowlist", W.WebAclRuleStatementArgs(
                not_statement=W.WebAclRuleStatementNotStatementArgs(statement=W.WebAclRuleStatementArgs(
                    geo_match_statement=W.WebAclRuleStatementGeoMatchStatementArgs(
                        country_codes=list(args.allowed_countries))))), action="block")
        for group in args.managed_rule_groups:
            add(group, W.WebAclRuleStatementArgs(
                managed_rule_group_statement=W.WebAclRuleStatementManagedRuleGroupStatementArgs(
                    name=group, vendor_name="AWS", rule_action_overrides=_count_overrides(group, args))), action=None)
        if self._body_labels:
            # Labels are visible to the rules after the group that added them: this rule counts
            # every request a counted body rule matched, under one metric to alarm on.
            matches = [W.WebAclRuleStatementArgs(label_match_statement=W.WebAclRuleStatementLabelMatchStatementArgs(
                scope="LABEL", key=label)) for label in self._body_labels]
            add("body-rule-matches", matches[0] if len(matches) == 1 else W.WebAclRuleStatementArgs(
                or_statement=W.WebAclRuleStatementOrStatementArgs(statements=matches)),
                action="count", labels=[BODY_MATCH_LABEL])
        add("body-size-limit", W.WebAclRuleStatementArgs(
            size_constraint_statement=W.WebAclRuleStatementSizeConstraintStatementArgs(
                comparison_operator="GT",
                size=args.max_body_kib * 1024,
                field_to_match=W.WebAclRuleStatementSizeConstraintStatementFieldToMatchArgs(
                    body=W.WebAclRuleStatementSizeConstraintStatementFieldToMatchBodyArgs(oversize_handling="MATCH")),
                text_transformations=[W.WebAclRuleStatementSizeConstraintStatementTextTransformationArgs(
                    priority=0, type="NONE")],
            )), action="block")
        add("rate-limit-per-ip", W.WebAclRuleStatementArgs(
            rate_based_statement=W.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP", limit=args.rate_limit, evaluation_window_sec=args.rate_window_seconds)),
            action="block")
        return rules


def _count_overrides(group: str, args: WebAclArgs) -> Optional[list[W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs]]:
    """Per-rule overrides to count: the group's body rules where `count_body_rules`, and the rules
    this ACL always counts. None where the group keeps every rule's own action."""
    counted = list(_ALWAYS_COUNTED.get(group, ()))
    if args.count_body_rules:
        counted += [rule for rule in BODY_RULES[group] if rule not in counted]
    return [W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
        name=rule,
        action_to_use=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
            count=W.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()),
    ) for rule in counted] or None
