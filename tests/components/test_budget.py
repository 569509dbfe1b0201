"""CostBudget and NotificationTopic: a monthly cost budget on the tag with forecast and actual
notifications, a tag-scoped Cost Explorer monitor, and a topic only those services may publish to."""

import json

import pytest

from components.budget import CostBudget, CostBudgetArgs
from components.kms_key import KmsKey, KmsKeyArgs
from components.notification_topic import NotificationTopic, NotificationTopicArgs, TopicPublisher

_PLANS = {}


def plan_of(render_component, emails=()):
    if emails not in _PLANS:
        def program():
            key = KmsKey("ops", KmsKeyArgs(description="ops", service_principals=["sns", "budgets", "costalerts"]))
            topic = NotificationTopic("ops", NotificationTopicArgs(kms_key=key, publishers=[
                TopicPublisher(service="budgets.amazonaws.com", source_arns=["arn:aws:budgets::123456789012:*"])]))
            CostBudget("demo", CostBudgetArgs(budget_name="demo-monthly", limit_usd="1234", tag_key="Blueprint",
                                              tag_value="demo", topic_arn=topic.topic_arn, email_addresses=emails))
        _PLANS[emails] = render_component(program)
    return _PLANS[emails]


def test_budget_is_monthly_on_the_tag_and_notifies_forecast_and_actual(render_component):
    plan = plan_of(render_component)
    (budget,) = plan.of_type("aws:budgets/budget:Budget")
    (topic,) = plan.of_type("aws:sns/topic:Topic")
    i = budget.inputs
    assert (i["budgetType"], i["timeUnit"], i["limitAmount"], i["limitUnit"]) == ("COST", "MONTHLY", "1234", "USD")
    assert i["costFilters"] == [{"name": "TagKeyValue", "values": ["user:Blueprint$demo"]}]
    assert sorted((n["notificationType"], n["threshold"]) for n in i["notifications"]) == [("ACTUAL", 100),
                                                                                           ("FORECASTED", 80)]
    assert all(n["subscriberSnsTopicArns"] == [topic.outputs["arn"]] and "subscriberEmailAddresses" not in n
               for n in i["notifications"])


def test_anomaly_monitor_selects_the_tag_and_sends_to_sns_at_once(render_component):
    plan = plan_of(render_component)
    (monitor,) = plan.of_type("aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    assert monitor.inputs["monitorType"] == "CUSTOM"
    assert json.loads(monitor.inputs["monitorSpecification"])["Tags"] == {
        "Key": "Blueprint", "Values": ["demo"], "MatchOptions": ["EQUALS"]}
    (subscription,) = plan.of_type("aws:costexplorer/anomalySubscription:AnomalySubscription")
    assert subscription.inputs["frequency"] == "IMMEDIATE"
    assert [s["type"] for s in subscription.inputs["subscribers"]] == ["SNS"]


def test_email_adds_budget_subscribers_and_a_daily_digest(render_component):
    plan = plan_of(render_component, emails=("owner@example.com",))
    (budget,) = plan.of_type("aws:budgets/budget:Budget")
    assert all(n["subscriberEmailAddresses"] == ["owner@example.com"] for n in budget.inputs["notifications"])
    digests = [s for s in plan.of_type("aws:costexplorer/anomalySubscription:AnomalySubscription")
               if s.inputs["frequency"] == "DAILY"]
    assert [s["type"] for s in digests[0].inputs["subscribers"]] == ["EMAIL"]


def test_only_the_named_service_publishes_for_this_account(render_component):
    plan = plan_of(render_component)
    (policy,) = plan.of_type("aws:sns/topicPolicy:TopicPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"} and statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                      "ArnLike": {"aws:SourceArn": ["arn:aws:budgets::123456789012:*"]}}
    (topic,) = plan.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")


def test_bad_budgets_are_refused():
    with pytest.raises(ValueError, match="forecast_percent"):
        CostBudget("x", CostBudgetArgs(budget_name="x", limit_usd="1", tag_key="k", tag_value="v", topic_arn="t",
                                       forecast_percent=0))
    with pytest.raises(ValueError, match="budget_name"):
        CostBudget("x", CostBudgetArgs(budget_name="a:b", limit_usd="1", tag_key="k", tag_value="v", topic_arn="t"))
