"""WebAcl: geo allowlist first, the managed groups, a body-size block and a per-IP rate limit,
each with CloudWatch metrics, associated with the protected resource."""

import functools

import pytest

from blueprints.engine import run_program
from components.web_acl import WebAcl, WebAclArgs

STAGE_ARN = "arn:aws:apigateway:eu-west-1::/restapis/abc123/stages/v1"


@functools.lru_cache(maxsize=None)
def plan_for(countries: tuple = (), groups: tuple = ("AWSManagedRulesCommonRuleSet",), body: int = 16):
    def program():
        WebAcl("edge", WebAclArgs(resource_arn=STAGE_ARN, managed_rule_groups=groups, rate_limit=500,
                                  allowed_countries=countries, max_body_kib=body))
    return run_program(program, stack="waf-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def acl(plan):
    (found,) = plan.of_type("aws:wafv2/webAcl:WebAcl")
    return found


def rules(plan):
    return {r["name"]: r for r in acl(plan).inputs["rules"]}


def test_regional_acl_allows_by_default_and_is_associated_with_the_resource():
    plan = plan_for()
    web_acl = acl(plan)
    assert web_acl.inputs["scope"] == "REGIONAL"
    assert web_acl.inputs["defaultAction"] == {"allow": {}}
    (association,) = plan.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert association.inputs == {"resourceArn": STAGE_ARN, "webAclArn": web_acl.outputs["arn"]}


def test_every_rule_and_the_acl_publish_cloudwatch_metrics():
    web_acl = acl(plan_for(("DE", "FR")))
    assert web_acl.inputs["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    names = [r["visibilityConfig"]["metricName"] for r in web_acl.inputs["rules"]]
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in web_acl.inputs["rules"])
    assert len(set(names)) == len(names) == 4


def test_managed_groups_keep_their_own_actions_and_the_common_body_rule_only_counts():
    by_name = rules(plan_for(groups=("AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLiRuleSet")))
    common = by_name["AWSManagedRulesCommonRuleSet"]
    assert common["overrideAction"] == {"none": {}}
    statement = common["statement"]["managedRuleGroupStatement"]
    assert statement["vendorName"] == "AWS"
    assert statement["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert "ruleActionOverrides" not in by_name["AWSManagedRulesSQLiRuleSet"]["statement"]["managedRuleGroupStatement"]


def test_rate_limit_is_per_ip_over_five_minutes_and_blocks():
    rule = rules(plan_for())["rate-limit-per-ip"]
    assert rule["action"] == {"block": {}}
    assert rule["statement"]["rateBasedStatement"] == {"aggregateKeyType": "IP", "limit": 500, "evaluationWindowSec": 300}


def test_bodies_above_the_limit_or_too_large_to_inspect_are_blocked():
    plan = plan_for(body=64)
    rule = rules(plan)["body-size-limit"]
    assert rule["action"] == {"block": {}}
    size = rule["statement"]["sizeConstraintStatement"]
    assert size["comparisonOperator"] == "GT" and size["size"] == 64 * 1024
    assert size["fieldToMatch"] == {"body": {"oversizeHandling": "MATCH"}}
    limit = acl(plan).inputs["associationConfig"]["requestBodies"][0]["apiGateway"]["defaultSizeInspectionLimit"]
    assert limit == "KB_64"


def test_geo_allowlist_blocks_every_other_country_first():
    first = acl(plan_for(("DE", "FR"))).inputs["rules"][0]
    assert first["name"] == "geo-allowlist" and first["priority"] == 0
    assert first["action"] == {"block": {}}
    assert first["statement"] == {"notStatement": {"statement": {"geoMatchStatement": {"countryCodes": ["DE", "FR"]}}}}


def test_no_geo_rule_without_countries():
    assert "geo-allowlist" not in rules(plan_for())


@pytest.mark.parametrize("bad", [
    dict(rate_limit=5), dict(rate_window_seconds=30), dict(max_body_kib=10), dict(allowed_countries=("deu",)),
])
def test_invalid_arguments_are_rejected(bad):
    def program():
        WebAcl("edge", WebAclArgs(resource_arn=STAGE_ARN, **bad))
    with pytest.raises(Exception, match="edge:"):
        run_program(program, stack="waf-bad", config={"aws:region": "eu-west-1"}, secret_keys=[])
