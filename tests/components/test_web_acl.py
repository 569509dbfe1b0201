"""WebAcl: geo allowlist first, the managed groups, a body-size block and a per-IP rate limit,
each with CloudWatch metrics, associated with the protected resource."""

import functools

import pytest

from blueprints.plan.engine import run_program
from components.web_acl import BODY_MATCH_LABEL, WebAcl, WebAclArgs

STAGE_ARN = "arn:aws:apigateway:eu-west-1::/restapis/abc123/stages/v1"
# Every managed group a tier uses (blueprints/tiers.py), in the tiers' order.
ALL_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
              "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAnonymousIpList")


@functools.lru_cache(maxsize=None)
def plan_for(countries: tuple = (), groups: tuple = ("AWSManagedRulesCommonRuleSet",), body: int = 16,
             count_body: bool = False):
    def program():
        WebAcl("edge", WebAclArgs(resource_arn=STAGE_ARN, managed_rule_groups=groups, rate_limit=500,
                                  allowed_countries=countries, max_body_kib=body, count_body_rules=count_body))
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


def counted(rule: dict) -> dict[str, dict]:
    overrides = rule["statement"]["managedRuleGroupStatement"].get("ruleActionOverrides", [])
    return {o["name"]: o["actionToUse"] for o in overrides}


def test_prompt_bodies_count_only_the_body_rules_and_every_other_rule_keeps_blocking():
    by_name = rules(plan_for(groups=ALL_GROUPS, count_body=True))
    # The rule names of the AWS WAF Developer Guide's managed rule groups list; all *_BODY.
    assert {group: set(counted(by_name[group])) for group in ALL_GROUPS} == {
        "AWSManagedRulesCommonRuleSet": {"SizeRestrictions_BODY", "EC2MetaDataSSRF_BODY", "GenericLFI_BODY",
                                         "GenericRFI_BODY", "CrossSiteScripting_BODY"},
        "AWSManagedRulesKnownBadInputsRuleSet": {"JavaDeserializationRCE_BODY", "Log4JRCE_BODY"},
        "AWSManagedRulesAmazonIpReputationList": set(),
        "AWSManagedRulesSQLiRuleSet": {"SQLi_BODY", "SQLiExtendedPatterns_BODY"},
        "AWSManagedRulesAnonymousIpList": set(),
    }
    for group in ALL_GROUPS:
        # Per-rule overrides only: the group as a whole keeps its rules' actions (never count).
        assert by_name[group]["overrideAction"] == {"none": {}}
        assert all(action == {"count": {}} for action in counted(by_name[group]).values())
    assert by_name["body-size-limit"]["action"] == {"block": {}}
    assert by_name["rate-limit-per-ip"]["action"] == {"block": {}}


def test_counted_body_matches_are_labelled_and_counted_under_one_metric_after_the_groups():
    plan = plan_for(groups=ALL_GROUPS, count_body=True)
    by_name = rules(plan)
    matches = by_name["body-rule-matches"]
    assert matches["action"] == {"count": {}} and "overrideAction" not in matches
    assert matches["ruleLabels"] == [{"name": BODY_MATCH_LABEL}]
    assert matches["priority"] > max(by_name[g]["priority"] for g in ALL_GROUPS)  # labels exist by then
    keys = {s["labelMatchStatement"]["key"] for s in matches["statement"]["orStatement"]["statements"]}
    assert {s["labelMatchStatement"]["scope"] for s in matches["statement"]["orStatement"]["statements"]} == {"LABEL"}
    assert keys == {
        "awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_Body", "awswaf:managed:aws:core-rule-set:GenericLFI_Body",
        "awswaf:managed:aws:core-rule-set:GenericRFI_Body", "awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body",
        "awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_Body",
        "awswaf:managed:aws:known-bad-inputs:Log4JRCE_Body",
        "awswaf:managed:aws:sql-database:SQLi_Body", "awswaf:managed:aws:sql-database:SQLiExtendedPatterns_Body",
    }  # not SizeRestrictions_Body: the ACL's own body-size limit replaces it in both modes
    assert matches["visibilityConfig"] == {"cloudwatchMetricsEnabled": True, "metricName": "edge-body-rule-matches",
                                           "sampledRequestsEnabled": True}


def test_by_default_every_body_rule_blocks_and_nothing_counts_matches():
    by_name = rules(plan_for(groups=ALL_GROUPS))
    assert "body-rule-matches" not in by_name
    assert {g: set(counted(by_name[g])) for g in ALL_GROUPS if counted(by_name[g])} == {
        "AWSManagedRulesCommonRuleSet": {"SizeRestrictions_BODY"}}


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
    # Whose body rules are not known: counting "the body rules" there would count none.
    dict(managed_rule_groups=("AWSManagedRulesLinuxRuleSet",), count_body_rules=True),
])
def test_invalid_arguments_are_rejected(bad):
    def program():
        WebAcl("edge", WebAclArgs(resource_arn=STAGE_ARN, **bad))
    with pytest.raises(Exception, match="edge:"):
        run_program(program, stack="waf-bad", config={"aws:region": "eu-west-1"}, secret_keys=[])
