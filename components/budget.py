"""Cost governance for one account's share of a blueprint: an AWS Budgets monthly cost budget and
a Cost Explorer anomaly monitor, both scoped to the blueprint's cost-allocation tag.

- Budget: COST, MONTHLY, filtered on the tag (`TagKeyValue` with `user:<key>$<value>`: AWS Budgets
  API reference, Budget.CostFilters / "Filters" of the Budgets user guide); notifications at
  `forecast_percent` of the limit FORECASTED and 100% ACTUAL, to the SNS topic (and, where given,
  by email).
- Cost Explorer: a CUSTOM anomaly monitor whose specification selects the tag
  (`{"Tags": {"Key": <key>, "Values": [<value>]}}`, the Cost Explorer Expression), and a subscription
  that sends every anomaly above `anomaly_threshold_usd` of total impact to the topic at once
  (IMMEDIATE supports SNS subscribers only) and, where given, a daily email digest.

Budgets and Cost Explorer are global services whose APIs live in us-east-1 (budgets.amazonaws.com,
ce.us-east-1.amazonaws.com); the AWS provider sends their calls there whatever its region, so these
resources take the account's provider of any region and carry no region of their own. The topic
must be in the budget's account (AWS Budgets supports no cross-account topic), any region.
The tag must be activated as a cost-allocation tag in the billing console of the paying account
before either filter sees spend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags

ce = aws.costexplorer


@dataclass(frozen=True, kw_only=True)
class CostBudgetArgs:
    budget_name: str
    """Name of the budget (unique in the account; 1-100 characters, no `:` or `\\`). Required."""
    limit_usd: pulumi.Input[str]
    """The monthly limit in USD, a decimal string such as "1250". Required."""
    tag_key: str
    """Cost-allocation tag key the blueprint's resources carry, e.g. "Blueprint". Required."""
    tag_value: str
    """Its value, e.g. the blueprint name. Required."""
    topic_arn: pulumi.Input[str]
    """SNS topic of the budget's account that admits budgets.amazonaws.com and
    costalerts.amazonaws.com (NotificationTopic). Required."""
    email_addresses: Sequence[str] = ()
    """Also notified by plain email (budget notifications, a daily anomaly digest). Default none:
    SNS only."""
    forecast_percent: float = 80
    """The FORECASTED notification's threshold, percent of the limit (1-100). Default 80."""
    anomaly_threshold_usd: float = 100
    """Anomalies with a total impact below this many USD are not sent. Default 100."""
    tags: Mapping[str, str] = field(default_factory=dict)


class CostBudget(Component):
    budget_name: pulumi.Output[str]
    monitor_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CostBudgetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cost", "CostBudget", name, opts)
        if not 1 <= len(args.budget_name) <= 100 or any(c in args.budget_name for c in ":\\"):
            raise ValueError(f"{name}: budget_name must be 1-100 characters without ':' or '\\'")
        if not 1 <= args.forecast_percent <= 100:
            raise ValueError(f"{name}: forecast_percent must be 1-100, got {args.forecast_percent}")
        if args.anomaly_threshold_usd <= 0:
            raise ValueError(f"{name}: anomaly_threshold_usd must be above 0")
        if len(args.email_addresses) > 10:
            # A budget notification has at most 10 email subscribers (AWS Budgets quotas).
            raise ValueError(f"{name}: at most 10 email_addresses")
        emails = list(args.email_addresses) or None

        def notify(kind: str, percent: float) -> aws.budgets.BudgetNotificationArgs:
            return aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN", notification_type=kind, threshold=percent,
                threshold_type="PERCENTAGE", subscriber_sns_topic_arns=[args.topic_arn],
                subscriber_email_addresses=emails)

        self.budget = aws.budgets.Budget(
            f"{name}-budget",
            name=args.budget_name,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=args.limit_usd,
            limit_unit="USD",
            cost_filters=[aws.budgets.BudgetCostFilterArgs(
                name="TagKeyValue", values=[f"user:{args.tag_key}${args.tag_value}"])],
            notifications=[notify("FORECASTED", args.forecast_percent), notify("ACTUAL", 100)],
            tags=merge_tags(f"{name}-budget", args.tags),
            opts=self.child(),
        )
        self.monitor = ce.AnomalyMonitor(
            f"{name}-anomalies",
            name=args.budget_name,
            monitor_type="CUSTOM",
            monitor_specification=json.dumps({"Tags": {"Key": args.tag_key, "Values": [args.tag_value],
                                                       "MatchOptions": ["EQUALS"]}}, sort_keys=True),
            tags=merge_tags(f"{name}-anomalies", args.tags),
            opts=self.child(),
        )
        threshold = ce.AnomalySubscriptionThresholdExpressionArgs(
            dimension=ce.AnomalySubscriptionThresholdExpressionDimensionArgs(
                key="ANOMALY_TOTAL_IMPACT_ABSOLUTE", match_options=["GREATER_THAN_OR_EQUAL"],
                values=[f"{args.anomaly_threshold_usd:g}"]))
        ce.AnomalySubscription(
            f"{name}-anomalies-to-sns",
            name=f"{args.budget_name}-sns",
            frequency="IMMEDIATE",
            monitor_arn_lists=[self.monitor.arn],
            subscribers=[ce.AnomalySubscriptionSubscriberArgs(type="SNS", address=args.topic_arn)],
            threshold_expression=threshold,
            tags=merge_tags(f"{name}-anomalies-to-sns", args.tags),
            opts=self.child(),
        )
        if emails:
            ce.AnomalySubscription(
                f"{name}-anomalies-by-email",
                name=f"{args.budget_name}-email",
                frequency="DAILY",
                monitor_arn_lists=[self.monitor.arn],
                subscribers=[ce.AnomalySubscriptionSubscriberArgs(type="EMAIL", address=a) for a in emails],
                threshold_expression=threshold,
                tags=merge_tags(f"{name}-anomalies-by-email", args.tags),
                opts=self.child(),
            )
        self.budget_name = self.budget.name
        self.monitor_arn = self.monitor.arn
        self.register_outputs({"budget_name": self.budget_name, "monitor_arn": self.monitor_arn})
