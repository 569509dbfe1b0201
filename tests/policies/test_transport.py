"""The transport rules against what the components really render, their declared exemptions as
data, and the edits of a rendered example a reviewer would try: each must fail `check` with the
transport rule that names it."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from blueprints.tiers import TIERS
from policies.model import PolicyPlan, urn_name
from policies.rule import RuleContext, Status, get_rule
from policies.rules.transport import EXEMPTIONS
from policies.runner import run
from tests.components.serving_stack import render as render_serving
from tests.components.test_private_ingress import render_tls
from tests.policies.plans import add_resource


def outcomes(plan: dict[str, Any], rule_id: str, tier: str = "restricted") -> dict[str, str]:
    results = get_rule(rule_id).evaluate(PolicyPlan.from_dict(plan), RuleContext(TIERS[tier], "eu"))
    return {urn_name(r.resource): r.status.value for r in results}


def test_behind_a_tls_listener_the_inference_hop_passes_with_no_exemption():
    plan = render_tls().to_dict()
    assert outcomes(plan, "AIB-143") == {"tls-ingress-listener": "pass"}
    assert outcomes(plan, "AIB-142") == {"tls-api-predict-integration": "pass", "tls-api-health-integration": "pass"}
    assert outcomes(plan, "AIB-140") == {"tls-api-api": "pass"}


def test_the_plain_vpc_link_hop_is_reported_exempt_with_its_reason():
    plan = render_serving().to_dict()
    model = PolicyPlan.from_dict(plan)
    ctx = RuleContext(TIERS["restricted"], "eu")
    (listener,) = get_rule("AIB-143").evaluate(model, ctx)
    assert listener.status is Status.EXEMPT and urn_name(listener.resource) == "svc-ingress-listener"
    assert "plaintext TCP listener on svc-ingress-nlb; exempt: API Gateway reaches the internal NLB" in listener.reason
    integrations = get_rule("AIB-142").evaluate(model, ctx)
    assert {r.status for r in integrations} == {Status.EXEMPT} and len(integrations) == 2


def test_exemptions_are_records_of_transport_rules_with_reasons_and_none_is_stale(example_plan):
    plan = PolicyPlan.from_dict(example_plan("restricted").to_dict())
    for e in EXEMPTIONS:
        rule = get_rule(e.rule)
        assert rule is not None and rule.area == "transport" and e.kind in rule.types, e
        assert len(e.reason) > 80 and e.component.startswith("aiblueprints:"), e
        assert any(e.matches(e.rule, r) for r in plan.of_type(e.kind)), f"{e} matches nothing in the example"


# -- a reviewer's edits of a rendered example ---------------------------------------------------
def _states(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [s["newState"] for s in plan["steps"] if s["newState"]["type"] == type_]


def _open_the_nlb_to_the_vpc(plan):
    sg = next(s for s in _states(plan, "aws:ec2/securityGroup:SecurityGroup") if s["urn"].endswith("-ingress-nlb-sg"))
    add_resource(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "nlb-from-vpc",
                 {"securityGroupId": sg["id"], "cidrIpv4": "10.40.0.0/16", "ipProtocol": "tcp", "fromPort": 80, "toPort": 80})


def _plaintext_hec(plan):
    for s in _states(plan, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"):
        s["inputs"]["splunkConfiguration"]["hecEndpoint"] = "http://splunk.example.com:8088"


def _api_default_tls(plan):
    for s in _states(plan, "aws:apigateway/restApi:RestApi"):
        for part in ("inputs", "outputs"):  # rules read outputs where an input is absent
            s[part].pop("securityPolicy")
            s[part].pop("endpointAccessMode")


def _skip_certificate_checks(plan):
    for s in _states(plan, "aws:apigateway/integration:Integration"):
        s["inputs"]["uri"] = s["inputs"]["uri"].replace("http://", "https://")
        s["inputs"]["tlsConfig"] = {"insecureSkipVerification": True}


def _http_alarm_subscription(plan):
    topic = _states(plan, "aws:sns/topic:Topic")[0]
    add_resource(plan, "aws:sns/topicSubscription:TopicSubscription", "pager",
                 {"topic": topic["outputs"]["arn"], "protocol": "http", "endpoint": "http://pager.example.com/hook"})


def _http_health_check(plan):
    for s in _states(plan, "aws:route53/healthCheck:HealthCheck"):
        s["inputs"].update(type="HTTP", port=80)


def _http_jwt_issuer(plan):
    for s in _states(plan, "aws:lambda/function:Function"):
        variables = s["inputs"].get("environment", {}).get("variables", {})
        if "JWT_ISSUER" in variables:
            variables["JWT_ISSUER"] = "http://login.example.com/"


def _plaintext_internet_integration(plan):
    """The /predict integrations (VPC link) sent over the internet in plain HTTP."""
    for s in _states(plan, "aws:apigateway/integration:Integration"):
        if "connectionId" in s["inputs"]:
            s["inputs"].update(connectionType="INTERNET", uri="http://backend.example.com/predict")
            s["inputs"].pop("connectionId")


MUTATIONS: list[tuple[str, str, str, Callable[[dict], None]]] = [
    ("restricted", "AIB-143", "nlb-open-to-the-vpc", _open_the_nlb_to_the_vpc),
    ("restricted", "AIB-141", "plaintext-hec", _plaintext_hec),
    ("restricted", "AIB-140", "api-default-tls", _api_default_tls),
    ("restricted", "AIB-142", "skip-certificate-checks", _skip_certificate_checks),
    ("restricted", "AIB-142", "plaintext-internet-integration", _plaintext_internet_integration),
    ("restricted", "AIB-144", "http-alarm-subscription", _http_alarm_subscription),
    ("internal", "AIB-145", "http-health-check", _http_health_check),
    ("internal", "AIB-146", "http-jwt-issuer", _http_jwt_issuer),
]


@pytest.mark.parametrize("tier, rule_id, name, mutate", MUTATIONS, ids=[m[2] for m in MUTATIONS])
def test_check_fails_an_example_edited_to_send_plaintext(example_plan, tier, rule_id, name, mutate):
    plan = copy.deepcopy(example_plan(tier).to_dict())
    assert run(json.loads(json.dumps(plan))).exit_code == 0
    mutate(plan)
    result = run(plan)
    assert result.exit_code == 1
    assert rule_id in {f.rule.id for f in result.findings if f.blocking}
