"""The foundation-model gateway as the examples compose it (issue 10): per inference region a
bedrock-runtime endpoint, a guardrail and its version from the spec, invocation logging shipped
to the SIEM, an invoke policy held to the listed models and the guardrail, the gateway route
on the region's API, and alarms; the training VPC's own endpoint."""

from __future__ import annotations

import json

import pytest

from blueprints.plan.cost import ALLOWED_MODELS_ENV, bedrock_price, estimate
from blueprints.plan.engine import Plan
from tests.blueprints.test_training import SHARED_TWO_REGIONS

GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
LOGGING = "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INVOKE = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


def in_region(plan: Plan, type_: str, region: str) -> list:
    return [r for r in plan.of_type(type_) if plan.provider_region(r) == region]


def bedrock_endpoints(plan: Plan, region: str) -> list:
    return [r for r in in_region(plan, ENDPOINT, region) if str(r.inputs.get("serviceName", "")).endswith(".bedrock-runtime")]


def allows_invoke(doc: dict) -> list[dict]:
    return [s for s in doc["Statement"] if s["Effect"] == "Allow"
            and INVOKE & set([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1"])
def test_restricted_plan_has_the_gateway_in_every_inference_region(example_plan, region):
    """The "Done when" of issue 10, read off the restricted example's plan."""
    plan = example_plan("restricted")
    inference_account = plan.accounts["inference"]

    (endpoint,) = [e for e in bedrock_endpoints(plan, region) if plan.provider_account(e) == inference_account]
    assert endpoint.inputs["privateDnsEnabled"] is True and endpoint.inputs["vpcEndpointType"] == "Interface"

    (guardrail,) = in_region(plan, GUARDRAIL, region)
    pii = guardrail.inputs["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"]
    assert pii and {p["action"] for p in pii} == {"BLOCK"}
    (attack,) = [f for f in guardrail.inputs["contentPolicyConfig"]["filtersConfigs"] if f["type"] == "PROMPT_ATTACK"]
    assert attack["inputStrength"] == "HIGH"
    assert guardrail.inputs["topicPolicyConfig"]["topicsConfigs"][0]["name"] == "investment-advice"
    assert guardrail.inputs["kmsKeyArn"].startswith(f"arn:aws:kms:{region}:{inference_account}:key/")
    (version,) = in_region(plan, VERSION, region)
    assert version.inputs["guardrailArn"] == guardrail.outputs["guardrailArn"]

    (logging,) = [c for c in in_region(plan, LOGGING, region) if plan.provider_account(c) == inference_account]
    config = logging.inputs["loggingConfig"]
    assert config["textDataDeliveryEnabled"] is True and config["cloudwatchConfig"]["logGroupName"]
    assert config["s3Config"]["bucketName"].startswith(f"fraud-models-fmlogs-{inference_account}-{region}")

    # IAM: only eu. profiles and base models, each invoke carrying the guardrail condition.
    guardrail_value = f"{guardrail.outputs['guardrailArn']}:{version.outputs['version']}"
    policies = [p for p in in_region(plan, "aws:iam/policy:Policy", region) if allows_invoke(json.loads(p.inputs["policy"]))]
    assert policies
    for policy in policies:
        for stmt in allows_invoke(json.loads(policy.inputs["policy"])):
            assert stmt["Condition"]["StringEquals"]["bedrock:GuardrailIdentifier"] == guardrail_value
            assert stmt["Condition"]["StringEquals"]["aws:SourceVpce"] == endpoint.id  # air-gapped: the endpoint only
            for arn in as_list(stmt["Resource"]):
                model = arn.rsplit("/", 1)[1]
                assert model.split(".", 1)[0] in ("eu", "anthropic"), arn
                assert arn.split(":")[3] in ("eu-west-1", "eu-central-1", "eu-west-2", "eu-west-3", "eu-north-1",
                                             "eu-south-1", "eu-south-2", "eu-central-2"), arn

    # the route on the region's API, behind the API's IAM auth
    resources = [r for r in in_region(plan, "aws:apigateway/resource:Resource", region)]
    assert {r.inputs["pathPart"] for r in resources} >= {"foundation-models", "{modelId}", "converse"}
    (method,) = [m for m in in_region(plan, "aws:apigateway/method:Method", region) if "converse" in m.name]
    assert (method.inputs["httpMethod"], method.inputs["authorization"]) == ("POST", "AWS_IAM")
    assert method.inputs["requestValidatorId"]


def test_the_gateway_function_is_the_region_proxy_in_the_vpc_with_the_invoke_policy(example_plan):
    plan = example_plan("restricted")
    (function,) = [f for f in in_region(plan, "aws:lambda/function:Function", "eu-west-1") if f.name.endswith("fm-gateway-fn")]
    env = function.inputs["environment"]["variables"]
    assert env[ALLOWED_MODELS_ENV].split(",") == ["eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                                "anthropic.claude-haiku-4-5-20251001-v1:0"]
    assert function.inputs["vpcConfig"]["subnetIds"]
    (attachment,) = [a for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                     if a.name == "fraud-models-inf-euw1-fm-gateway-invoke-models"]
    (policy,) = [p for p in plan.of_type("aws:iam/policy:Policy") if p.name == "fraud-models-inf-euw1-fm-invoke"]
    assert attachment.inputs["policyArn"] == policy.outputs["arn"]


def test_invocation_logs_are_a_siem_source_where_api_access_logs_are(example_plan):
    for tier in ("internal", "restricted"):
        plan = example_plan(tier)
        groups = {g.outputs["name"] for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup")
                  if "fm-invocations" in g.name}
        assert groups, tier
        filters = {f.inputs["logGroup"] for f in plan.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")}
        assert groups <= filters, tier


def test_training_gets_its_own_endpoint_and_invocation_logging_in_the_training_account(example_plan):
    plan = example_plan("restricted")
    training = plan.accounts["training"]
    (endpoint,) = [e for e in bedrock_endpoints(plan, "eu-west-1") if plan.provider_account(e) == training]
    (logging,) = [c for c in plan.of_type(LOGGING) if plan.provider_account(c) == training]
    assert logging.inputs["loggingConfig"]["s3Config"]["bucketName"].startswith(f"fraud-models-fmlogs-{training}-eu-west-1")
    statements = json.loads(endpoint.inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["InvokeListedModels"]
    assert statements[0]["Condition"] == {"StringEquals": {"aws:PrincipalAccount": plan.accounts["training"]}}


def test_alarms_watch_guardrail_interventions_throttles_and_errors(example_plan):
    plan = example_plan("restricted")
    alarms = [a for a in in_region(plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "eu-central-1") if "fm-alarms" in a.name]
    metrics = {(a.inputs["namespace"], a.inputs["metricName"]) for a in alarms}
    assert ("AWS/Bedrock/Guardrails", "InvocationsIntervened") in metrics
    assert {("AWS/Bedrock", m) for m in ("InvocationThrottles", "InvocationServerErrors", "InvocationClientErrors")} <= metrics
    (topic,) = [t for t in in_region(plan, "aws:sns/topic:Topic", "eu-central-1") if t.name.endswith("alarms-topic")]
    assert topic.inputs["kmsMasterKeyId"]
    assert {tuple(a.inputs["alarmActions"]) for a in alarms} == {(topic.outputs["arn"],)}


def test_without_foundation_models_nothing_of_bedrock_is_built(render):
    # foundationModels left at its default (off); the render test_training.py's one-account
    # replica test asks for too
    plan = render("internal", SHARED_TWO_REGIONS)
    assert plan.of_type("aws:apigateway/restApi:RestApi")
    assert not plan.of_type(GUARDRAIL) and not plan.of_type(LOGGING)
    assert not [e for e in plan.of_type(ENDPOINT) if str(e.inputs.get("serviceName", "")).endswith("bedrock-runtime")]


def test_cost_prices_each_model_per_region_with_its_assumption(example_plan):
    e = estimate(example_plan("restricted"))
    lines = [line for line in e.lines if line.kind.startswith("Bedrock")]
    # two models x two regions x (input, output)
    assert len(lines) == 8
    sonnet_in = [line for line in lines if line.kind == "Bedrock input tokens" and "sonnet" in line.item]
    assert {line.monthly_usd for line in sonnet_in} == {50 * 3.00}
    assert all("assumed 50 M input and 10 M output tokens" in line.assumption for line in lines)
    assert bedrock_price("eu.anthropic.claude-sonnet-4-5-20250929-v1:0") == (3.00, 15.00)
    assert bedrock_price("us.amazon.nova-pro-v1:0") == (0.80, 3.20)
    assert bedrock_price("anthropic.claude-3-5-haiku-20241022-v1:0") == (0.80, 4.00)  # the longest prefix wins
    assert bedrock_price("writer.palmyra-x5-v1:0") is None


def test_an_unknown_model_price_is_a_zero_line_named_in_the_assumptions():
    from tests.blueprints.plan.test_cost import plan

    function = ("aws:lambda/function:Function", "demo-fm-gateway-fn",
                {"environment": {"variables": {ALLOWED_MODELS_ENV: "us.amazon.nova-pro-v1:0,writer.palmyra-x5-v1:0"}}})
    e = estimate(plan(function))
    assert [(line.kind, line.monthly_usd) for line in e.lines] == [
        ("Bedrock input tokens", 40.0), ("Bedrock output tokens", 32.0), ("Bedrock model tokens", 0.0)]
    assert any("writer.palmyra-x5-v1:0" in a for a in e.assumptions if a.startswith("Priced at $0"))

