"""FoundationModelProxy: the Lambda's packaging, environment, timeouts, role and optional VPC
placement, and the route it hands the REST API."""

import json

import pulumi
import pytest

from components.fm_gateway import (CONVERSE_PATH, CONVERSE_REQUEST_SCHEMA, HANDLER, FoundationModelProxy,
                                   FoundationModelProxyArgs, FoundationModelProxyVpc, read_timeout_seconds)
from components.kms_key import KmsKey, KmsKeyArgs
from tests.components.serving_stack import one

MODELS = ["eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "amazon.titan-embed-text-v2:0"]
POLICY_ARN = "arn:aws:iam::123456789012:policy/fm-invoke"
GUARDRAIL = "arn:aws:bedrock:eu-west-1:123456789012:guardrail/abcd1234efgh"


def args(**overrides):
    return FoundationModelProxyArgs(**{"allowed_models": MODELS, "guardrail_id": GUARDRAIL, "guardrail_version": "3",
                                       **overrides})


OUTPUTS = ("function_name", "function_arn", "invoke_arn", "role_name", "role_arn")


def render(render_component, seen=None, **overrides):
    def program():
        proxy = FoundationModelProxy("fm", args(**overrides))
        if seen is not None:
            seen["proxy"] = proxy
            pulumi.Output.all(*[getattr(proxy, o) for o in OUTPUTS]).apply(
                lambda values: seen.update(outputs=dict(zip(OUTPUTS, values))))

    return render_component(program)


def test_the_function_runs_the_handler_with_the_models_and_guardrail_in_its_environment(render_component):
    plan = render(render_component)
    function = one(plan, "aws:lambda/function:Function")
    assert function.inputs["name"] == "fm" and function.inputs["handler"] == "handler.handler"
    assert function.inputs["runtime"] == "python3.12" and function.inputs["architectures"] == ["arm64"]
    assert function.inputs["tracingConfig"] == {"mode": "Active"}
    assert function.inputs["loggingConfig"]["logFormat"] == "JSON"
    env = function.inputs["environment"]["variables"]
    assert env["ALLOWED_MODELS"] == ",".join(MODELS)
    assert (env["GUARDRAIL_ID"], env["GUARDRAIL_VERSION"]) == (GUARDRAIL, "3")
    assert "BEDROCK_ENDPOINT_URL" not in env
    assert HANDLER.name == "handler.py" and HANDLER.parent.name == "fm_gateway" and HANDLER.exists()
    assert "vpcConfig" not in function.inputs and not plan.of_type("aws:ec2/securityGroup:SecurityGroup")


def test_every_bedrock_attempt_fits_the_function_timeout_which_fits_api_gateways(render_component):
    env = one(render(render_component), "aws:lambda/function:Function").inputs
    assert env["timeout"] == 28 < 29
    variables = env["environment"]["variables"]
    attempts, connect, read = (int(variables[k]) for k in (
        "BEDROCK_MAX_ATTEMPTS", "BEDROCK_CONNECT_TIMEOUT_SECONDS", "BEDROCK_READ_TIMEOUT_SECONDS"))
    assert (attempts, connect, read) == (2, 2, 11)
    # Attempts, their connections and one second of backoff per retry, plus the handler's margin.
    assert attempts * (connect + read) + (attempts - 1) * 1 + 1 <= env["timeout"]
    assert read_timeout_seconds(28, 1) == 25 and read_timeout_seconds(29, 3) == 6


def test_the_invoke_policy_is_attached_to_the_functions_role(render_component):
    plan = render(render_component, invoke_policy_arn=POLICY_ARN)
    role = one(plan, "aws:iam/role:Role")
    function = one(plan, "aws:lambda/function:Function")
    attachment = one(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert function.inputs["role"] == role.outputs["arn"]
    assert attachment.inputs["role"] == role.outputs["arn"].rsplit("/", 1)[-1] == role.outputs["name"]
    assert attachment.inputs["policyArn"] == POLICY_ARN
    assert not render(render_component).of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_outputs_and_the_route_for_the_rest_api(render_component):
    seen = {}
    plan = render(render_component, seen)
    component = one(plan, "aiblueprints:bedrock:FoundationModelProxy")
    function = one(plan, "aws:lambda/function:Function")
    assert function.parent == component.urn
    route = seen["proxy"].route
    assert route.path == CONVERSE_PATH == "foundation-models/{modelId}/converse"
    assert route.http_method == "POST" and route.request_schema is CONVERSE_REQUEST_SCHEMA
    assert route.body_model_name() == "ConverseRequest"
    role = one(plan, "aws:iam/role:Role")
    assert seen["outputs"] == {
        "function_name": function.outputs["name"], "function_arn": function.outputs["arn"],
        "invoke_arn": function.outputs["invokeArn"], "role_name": role.outputs["name"],
        "role_arn": role.outputs["arn"]}


def test_the_request_schema_refuses_unknown_fields_and_a_callers_guardrail():
    schema = CONVERSE_REQUEST_SCHEMA
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["additionalProperties"] is False and "guardrailConfig" not in schema["properties"]
    assert schema["required"] == ["messages"]
    message = schema["properties"]["messages"]["items"]
    assert message["properties"]["role"] == {"enum": ["user", "assistant"]}
    assert message["properties"]["content"]["items"]["additionalProperties"] is False
    json.dumps(schema)  # an API Gateway model is JSON


def test_in_a_vpc_the_function_has_its_own_group_with_https_out_to_the_endpoint_only(render_component):
    plan = render(render_component, reserved_concurrency=50, vpc=FoundationModelProxyVpc(
        vpc_id="vpc-0abc", subnet_ids=["subnet-0a", "subnet-0b"], endpoint_security_group_ids=["sg-0endpoint"],
        egress_cidrs=["10.40.0.0/24"]))
    group = one(plan, "aws:ec2/securityGroup:SecurityGroup")
    function = one(plan, "aws:lambda/function:Function")
    assert group.inputs["vpcId"] == "vpc-0abc"
    assert "ingress" not in group.inputs and "egress" not in group.inputs
    assert not plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    rules = plan.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert {(r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) for r in rules} == {("tcp", 443, 443)}
    assert {r.inputs.get("referencedSecurityGroupId") or r.inputs.get("cidrIpv4") for r in rules} == {
        "sg-0endpoint", "10.40.0.0/24"}
    assert {r.inputs["securityGroupId"] for r in rules} == {group.id}
    assert function.inputs["vpcConfig"] == {"subnetIds": ["subnet-0a", "subnet-0b"], "securityGroupIds": [group.id]}
    assert function.inputs["reservedConcurrentExecutions"] == 50
    statements = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    create = next(s for s in statements if s["Sid"] == "CreateNetworkInterfaces")
    assert f"arn:aws:ec2:eu-west-1:123456789012:security-group/{group.id}" in create["Resource"]


def test_an_endpoint_url_and_a_cmk_are_passed_on(render_component):
    def program():
        key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["logs"]))
        FoundationModelProxy("fm", args(
            kms_key=key, bedrock_endpoint_url="https://vpce-1.bedrock-runtime.eu-west-1.vpce.amazonaws.com"))

    plan = render_component(program)
    function = one(plan, "aws:lambda/function:Function")
    key = one(plan, "aws:kms/key:Key")
    assert function.inputs["environment"]["variables"]["BEDROCK_ENDPOINT_URL"].startswith("https://vpce-1.")
    assert function.inputs["kmsKeyArn"] == key.outputs["arn"]
    assert one(plan, "aws:cloudwatch/logGroup:LogGroup").inputs["kmsKeyId"] == key.outputs["arn"]


@pytest.mark.parametrize("overrides, message", [
    (dict(allowed_models=[]), "allowed_models"),
    (dict(allowed_models=[f"amazon.model-{i}-v1:0" for i in range(21)]), "allowed_models"),
    (dict(allowed_models=[MODELS[0], MODELS[0]]), "allowed_models has duplicates"),
    (dict(allowed_models=["amazon.titan,anthropic.claude"]), "allowed_models"),
    (dict(allowed_models=["Claude Sonnet"]), "allowed_models"),
    (dict(timeout_seconds=30), "timeout_seconds"),
    (dict(timeout_seconds=10, max_attempts=3), "timeout_seconds 10 leaves under 5 s"),
    (dict(max_attempts=4), "max_attempts"),
    (dict(memory_size=64), "memory_size"),
    (dict(reserved_concurrency=0), "reserved_concurrency"),
    (dict(vpc=FoundationModelProxyVpc(vpc_id="v", subnet_ids=["s"])), "vpc needs endpoint_security_group_ids"),
    (dict(vpc=FoundationModelProxyVpc(vpc_id="v", subnet_ids=[], egress_cidrs=["10.0.0.0/24"])), "vpc.subnet_ids"),
    (dict(vpc=FoundationModelProxyVpc(vpc_id="v", subnet_ids=["s"], egress_cidrs=["0.0.0.0/0"])), "vpc.egress_cidrs"),
])
def test_bad_arguments_are_rejected_naming_the_argument(overrides, message):
    with pytest.raises(ValueError, match=message):
        FoundationModelProxy._validate("fm", args(**overrides))


def test_the_proxys_route_on_the_rest_api_invokes_this_function_from_this_api_only():
    from tests.components import serving_stack

    def program():
        proxy = FoundationModelProxy("fm", args())
        serving_stack.build({"api": {"lambda_routes": [proxy.route]}})

    plan = serving_stack.run_program(program, stack="serving-test", config={"aws:region": serving_stack.REGION},
                                     secret_keys=[])
    function = one(plan, "aws:lambda/function:Function")
    api = one(plan, "aws:apigateway/restApi:RestApi")
    integration = one(plan, "aws:apigateway/integration:Integration",
                      "svc-api-foundation-models-by-modelId-converse-integration")
    permission = one(plan, "aws:lambda/permission:Permission")
    model = one(plan, "aws:apigateway/model:Model", "svc-api-foundation-models-by-modelId-converse-model")
    assert integration.inputs["uri"] == function.outputs["invokeArn"]
    assert permission.inputs["function"] == function.outputs["name"]
    assert permission.inputs["sourceArn"] == api.outputs["executionArn"] + "/*/POST/foundation-models/*/converse"
    assert model.inputs["name"] == "ConverseRequest"
    assert json.loads(model.inputs["schema"]) == json.loads(json.dumps(CONVERSE_REQUEST_SCHEMA))
