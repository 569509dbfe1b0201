"""RestApi: POST /predict through the VPC Link with authorization and validation; a stage with
X-Ray, JSON access logs, execution logging and throttling; a usage plan, API key and canary."""

import json
from types import SimpleNamespace

import pytest

import components.rest_api as rest_api
from components.rest_api import RestApi, RestApiArgs, StageCanary, access_log_format
from tests.components import serving_stack
from tests.components.serving_stack import one, render
from tests.components.test_private_ingress import render_tls

COGNITO = {"api": {"authorization": "COGNITO_USER_POOLS"}}
CUSTOM = {"api": {"authorization": "CUSTOM"}}


def method(plan, path, verb):
    return one(plan, "aws:apigateway/method:Method", f"svc-api-{path}-{verb}")


def test_predict_requires_sigv4_by_default_and_validates_the_body():
    plan = render()
    predict = method(plan, "predict", "post")
    assert predict.inputs["authorization"] == "AWS_IAM"
    assert predict.inputs["apiKeyRequired"] is False
    validator = one(plan, "aws:apigateway/requestValidator:RequestValidator")
    assert validator.inputs["validateRequestBody"] is True
    assert predict.inputs["requestValidatorId"] == validator.id
    model = one(plan, "aws:apigateway/model:Model")
    assert predict.inputs["requestModels"] == {"application/json": model.outputs["name"]}
    assert json.loads(model.inputs["schema"])["required"] == ["inputs"]
    assert not plan.of_type("aws:apigateway/authorizer:Authorizer")


def test_predict_is_proxied_through_the_vpc_link_to_the_nlb():
    plan = render()
    integration = one(plan, "aws:apigateway/integration:Integration", "svc-api-predict-integration")
    link = one(plan, "aws:apigateway/vpcLink:VpcLink")
    nlb = one(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert (integration.inputs["type"], integration.inputs["connectionType"]) == ("HTTP_PROXY", "VPC_LINK")
    assert integration.inputs["connectionId"] == link.id
    # The backend is a stage variable (which a canary overrides): the NLB's listener on port 80.
    assert integration.inputs["uri"] == "http://${stageVariables.backend}/predict"
    stage = one(plan, "aws:apigateway/stage:Stage")
    assert stage.inputs["variables"]["backend"] == f"{nlb.outputs['dnsName']}:80"
    assert integration.inputs["requestParameters"] == {
        "integration.request.header.X-Model-Version": "stageVariables.modelVersion"}


def test_stage_traces_and_writes_json_access_logs_with_caller_status_latency_and_model_version():
    plan = render(cmk=True)
    stage = one(plan, "aws:apigateway/stage:Stage")
    assert stage.inputs["xrayTracingEnabled"] is True
    assert stage.inputs["variables"]["modelVersion"] == "1.4.2"
    logs = one(plan, "aws:cloudwatch/logGroup:LogGroup", "svc-api-access-logs")
    key = one(plan, "aws:kms/key:Key")
    assert logs.inputs["kmsKeyId"] == key.outputs["arn"]
    assert stage.inputs["accessLogSettings"]["destinationArn"] == logs.outputs["arn"]
    fields = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["caller"] == "$context.identity.caller" and fields["userArn"] == "$context.identity.userArn"
    assert fields["status"] == "$context.status"
    assert fields["responseLatency"] == "$context.responseLatency"
    assert fields["integrationLatency"] == "$context.integration.latency"
    # Access logs take only $context variables: the model version is written into the format.
    assert fields["modelVersion"] == "1.4.2" and "canaryModelVersion" not in fields
    assert all(v.startswith("$context.") for k, v in fields.items() if k != "modelVersion")
    assert stage.inputs["accessLogSettings"]["format"] == access_log_format("1.4.2")
    assert "canarySettings" not in stage.inputs


def test_execution_logging_has_a_role_an_encrypted_group_and_no_data_trace():
    plan = render(cmk=True)
    settings = one(plan, "aws:apigateway/methodSettings:MethodSettings").inputs
    assert settings["methodPath"] == "*/*"
    assert settings["settings"]["loggingLevel"] == "INFO"
    assert settings["settings"]["metricsEnabled"] is True and settings["settings"]["dataTraceEnabled"] is False
    assert settings["settings"]["throttlingBurstLimit"] == 200 and settings["settings"]["throttlingRateLimit"] == 100
    account = one(plan, "aws:apigateway/account:Account")
    role = one(plan, "aws:iam/role:Role", "svc-api-cloudwatch-role")
    assert account.inputs["cloudwatchRoleArn"] == role.outputs["arn"]
    assert "apigateway.amazonaws.com" in role.inputs["assumeRolePolicy"]
    execution = one(plan, "aws:cloudwatch/logGroup:LogGroup", "svc-api-execution-logs")
    api = one(plan, "aws:apigateway/restApi:RestApi")
    assert execution.inputs["name"] == f"API-Gateway-Execution-Logs_{api.id}/v1"
    assert "kmsKeyId" in execution.inputs
    stage = one(plan, "aws:apigateway/stage:Stage")
    assert account.urn in stage.dependencies and execution.urn in stage.dependencies


def test_usage_plan_throttles_the_stage_and_no_key_unless_required():
    plan = render()
    usage = one(plan, "aws:apigateway/usagePlan:UsagePlan").inputs
    assert usage["throttleSettings"] == {"burstLimit": 200, "rateLimit": 100}
    assert usage["apiStages"][0]["stage"] == "v1"
    assert not plan.of_type("aws:apigateway/apiKey:ApiKey")


def test_api_key_when_required():
    plan = render(api={"api_key_required": True})
    assert method(plan, "predict", "post").inputs["apiKeyRequired"] is True
    key = one(plan, "aws:apigateway/apiKey:ApiKey")
    link = one(plan, "aws:apigateway/usagePlanKey:UsagePlanKey")
    assert link.inputs["keyId"] == key.id and link.inputs["keyType"] == "API_KEY"
    assert method(plan, "health", "get").inputs["apiKeyRequired"] is False


def test_cognito_authorizer():
    plan = render(**COGNITO)
    authorizer = one(plan, "aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS"
    assert authorizer.inputs["providerArns"] == ["arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc"]
    predict = method(plan, "predict", "post")
    assert predict.inputs["authorization"] == "COGNITO_USER_POOLS" and predict.inputs["authorizerId"] == authorizer.id


def test_token_authorizer_may_invoke_its_function_from_this_api_only():
    plan = render(**CUSTOM)
    authorizer = one(plan, "aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["type"] == "TOKEN"
    assert authorizer.inputs["identitySource"] == "method.request.header.Authorization"
    assert method(plan, "predict", "post").inputs["authorization"] == "CUSTOM"
    permission = one(plan, "aws:lambda/permission:Permission")
    api = one(plan, "aws:apigateway/restApi:RestApi")
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == api.outputs["executionArn"] + "/authorizers/*"


def test_health_route_is_anonymous_or_absent():
    health = method(render(), "health", "get")
    assert health.inputs["authorization"] == "NONE"
    plan = render(api={"health_route": False})
    assert [m.name for m in plan.of_type("aws:apigateway/method:Method")] == ["svc-api-predict-post"]


def test_the_canary_sends_its_share_of_requests_to_its_own_backend_with_its_model_version():
    plan = render(canary=10)
    stage = one(plan, "aws:apigateway/stage:Stage")
    (deployment,) = plan.of_type("aws:apigateway/deployment:Deployment")
    nlb = one(plan, "aws:lb/loadBalancer:LoadBalancer")
    canary_listener = one(plan, "aws:lb/listener:Listener", "svc-ingress-canary-listener")
    # Not the stage's backend (port 80: the main model's pods) but the canary listener's.
    assert stage.inputs["variables"]["backend"] == f"{nlb.outputs['dnsName']}:80"
    assert stage.inputs["canarySettings"] == {
        "deploymentId": deployment.id, "percentTraffic": 10, "useStageCache": False,
        "stageVariableOverrides": {"modelVersion": "1.5.0", "backend": f"{nlb.outputs['dnsName']}:8080"}}
    assert canary_listener.inputs["port"] == 8080
    fields = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert (fields["modelVersion"], fields["canaryModelVersion"], fields["canary"]) == (
        "1.4.2", "1.5.0", "$context.isCanaryRequest")


def test_canary_requests_log_to_encrypted_canary_groups_that_exist_before_and_after_a_canary():
    for plan in (render(cmk=True), render(cmk=True, canary=10)):
        api = one(plan, "aws:apigateway/restApi:RestApi")
        key = one(plan, "aws:kms/key:Key")
        groups = {g.name: g for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
        access, execution = groups["svc-api-canary-access-logs"], groups["svc-api-canary-execution-logs"]
        # API Gateway appends /Canary to the stage's groups; pre-created so they are encrypted and retained.
        assert access.inputs["name"] == groups["svc-api-access-logs"].inputs["name"] + "/Canary"
        assert execution.inputs["name"] == f"API-Gateway-Execution-Logs_{api.id}/v1/Canary"
        assert {access.inputs["kmsKeyId"], execution.inputs["kmsKeyId"]} == {key.outputs["arn"]}
        assert access.inputs["retentionInDays"] == execution.inputs["retentionInDays"] == 365
        assert access.protect and execution.protect
        stage = one(plan, "aws:apigateway/stage:Stage")
        assert {access.urn, execution.urn} <= set(stage.dependencies)


def test_a_canary_without_a_backend_of_its_own_is_rejected():
    # It would reach the same pods as the stage: a header apart, not a second model.
    no_canary_backend = SimpleNamespace(canary_listener_port=None)
    with pytest.raises(ValueError, match="canary needs an ingress with a canary backend"):
        RestApi._validate("x", RestApiArgs(ingress=no_canary_backend, model_version="1",  # type: ignore[arg-type]
                                           canary=StageCanary(model_version="2", percent=10)))


@pytest.mark.parametrize("bad, message", [
    (dict(authorization="COGNITO_USER_POOLS"), "cognito is required"),
    (dict(authorization="NONE"), "authorization must be"),
    (dict(canary=StageCanary(model_version="1.5.0", percent=150)), "canary.percent"),
])
def test_invalid_arguments_are_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        RestApi._validate("x", RestApiArgs(ingress=None, model_version="1", **bad))  # type: ignore[arg-type]


def test_a_retention_cloudwatch_does_not_accept_is_rejected_naming_the_argument():
    with pytest.raises(Exception, match="svc-api: log_retention_days must be one of"):
        render(api={"log_retention_days": 42})


def test_clients_need_tls_1_2_or_later_and_the_sni_of_the_api():
    api = one(render(), "aws:apigateway/restApi:RestApi")
    # Without a policy the regional execute-api endpoint accepts TLS 1.0.
    assert api.inputs["securityPolicy"] == "SecurityPolicy_TLS13_1_2_2021_06"
    assert api.inputs["endpointAccessMode"] == "STRICT"


@pytest.mark.parametrize("policy", ["TLS_1_0", "TLS_1_2", "SecurityPolicy_TLS12_2018_EDGE"])
def test_a_legacy_or_edge_security_policy_is_rejected(policy):
    with pytest.raises(ValueError, match="security_policy"):
        RestApi._validate("x", RestApiArgs(ingress=None, model_version="1", security_policy=policy))  # type: ignore[arg-type]


def test_without_tls_the_integration_is_plain_http_with_no_tls_config():
    integration = one(render(), "aws:apigateway/integration:Integration", "svc-api-predict-integration")
    assert integration.inputs["uri"].startswith("http://") and "tlsConfig" not in integration.inputs


def test_the_cloudwatch_role_trusts_api_gateway_without_a_source_condition_it_would_never_match():
    """API Gateway sends no aws:SourceAccount when it assumes the account's logging role: with
    the condition, setting the role on the account fails. AIB-121 declares the exemption."""
    from policies.rules.resource_policies import service_exemption
    from policies.rules._statements import TRUST_POLICY

    role = one(render(), "aws:iam/role:Role", "svc-api-cloudwatch-role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement == {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                         "Action": "sts:AssumeRole"}
    assert service_exemption("AIB-121", TRUST_POLICY, "apigateway.amazonaws.com") is not None


def test_behind_a_tls_listener_the_integration_calls_the_certificates_name_and_verifies_it():
    plan = render_tls()
    link = one(plan, "aws:apigateway/vpcLink:VpcLink")
    assert one(plan, "aws:apigateway/stage:Stage").inputs["variables"]["backend"] == "api.example.com:443"
    for path in ("predict", "health"):
        integration = one(plan, "aws:apigateway/integration:Integration", f"tls-api-{path}-integration")
        assert integration.inputs["uri"] == f"https://${{stageVariables.backend}}/{path}"
        assert integration.inputs["tlsConfig"] == {"insecureSkipVerification": False}
        # Still routed by the VPC link, not by resolving the name.
        assert (integration.inputs["connectionType"], integration.inputs["connectionId"]) == ("VPC_LINK", link.id)


# -- what a deployment snapshots -------------------------------------------------------------
SNAPSHOTTED = ("aws:apigateway/resource:Resource", "aws:apigateway/method:Method",
               "aws:apigateway/integration:Integration", "aws:apigateway/authorizer:Authorizer",
               "aws:apigateway/requestValidator:RequestValidator", "aws:apigateway/model:Model")


def triggers(plan):
    (deployment,) = plan.of_type("aws:apigateway/deployment:Deployment")
    return deployment.inputs["triggers"]


def fresh(**options):
    """A new render of the serving chain (not the cached one): two renders of the same program
    must agree on their own."""
    return serving_stack._render.__wrapped__(json.dumps(options, sort_keys=True))


def test_the_trigger_covers_every_resource_that_defines_the_api_and_the_deployment_waits_for_them():
    for plan in (render(), render(**COGNITO), render(**CUSTOM)):
        (deployment,) = plan.of_type("aws:apigateway/deployment:Deployment")
        defining = [r for type_ in SNAPSHOTTED for r in plan.of_type(type_)]
        api = one(plan, "aws:apigateway/restApi:RestApi")
        assert set(triggers(plan)) == {r.name for r in defining} | {api.name}
        assert {r.urn for r in defining} <= set(deployment.dependencies)


@pytest.mark.parametrize("change", [
    {"api": {"authorization": "COGNITO_USER_POOLS"}},
    {"api": {"authorization": "CUSTOM"}},
    {"api": {"api_key_required": True}},
    {"api": {"integration_timeout_ms": 10000}},
    {"api": {"request_schema": {"type": "object", "required": ["prompt"]}}},
    {"api": {"health_route": False}},
])
def test_any_change_to_what_defines_the_api_changes_the_trigger(change):
    assert triggers(render(**change)) != triggers(render())


def test_the_trigger_names_the_resource_whose_definition_changed():
    base, changed = triggers(render()), triggers(render(api={"integration_timeout_ms": 10000}))
    assert {k for k in base if base[k] != changed.get(k)} == {
        "svc-api-predict-integration", "svc-api-health-integration"}
    base, changed = triggers(render()), triggers(render(api={"api_key_required": True}))
    assert {k for k in base if base[k] != changed.get(k)} == {"svc-api-predict-post"}


def test_a_changed_integration_uri_changes_the_trigger():
    # TLS on the listener: the integrations call https:// and verify the certificate.
    plain = {k.removeprefix("svc-"): v for k, v in triggers(render()).items()}
    tls = {k.removeprefix("tls-"): v for k, v in triggers(render_tls()).items()}
    assert plain["api-predict-integration"] != tls["api-predict-integration"]


def test_a_changed_validator_changes_the_trigger(monkeypatch):
    base = triggers(fresh())
    monkeypatch.setattr(rest_api, "REQUEST_VALIDATOR",
                        {**rest_api.REQUEST_VALIDATOR, "validate_request_parameters": False})
    changed = triggers(fresh())
    assert {k for k in base if base[k] != changed[k]} == {"svc-api-validator"}


def test_without_a_change_the_trigger_is_identical_and_a_canary_or_log_change_does_not_redeploy():
    assert triggers(fresh()) == triggers(fresh()) == triggers(render())
    # Stage settings take effect without a deployment: the canary and log retention change none.
    assert triggers(render(canary=10)) == triggers(render())
    assert triggers(render(api={"log_retention_days": 30})) == triggers(render())


def test_the_stage_and_its_canary_serve_the_one_deployment_that_the_trigger_replaces():
    plan = render(canary=10)
    (deployment,) = plan.of_type("aws:apigateway/deployment:Deployment")
    stage = one(plan, "aws:apigateway/stage:Stage")
    # A changed trigger replaces the deployment (the provider's `triggers` is ForceNew); Pulumi
    # creates the new one first and the stage follows its id, canary included.
    assert stage.inputs["deployment"] == deployment.id
    assert stage.inputs["canarySettings"]["deploymentId"] == deployment.id
    assert deployment.urn in stage.dependencies


# -- Lambda-proxy routes -------------------------------------------------------------------
FM_PATH = "foundation-models/{modelId}/converse"
FM_SCHEMA = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "required": ["messages"],
             "properties": {"messages": {"type": "array", "minItems": 1}}}
FM_FUNCTION = "fm-proxy"
FM_INVOKE_ARN = ("arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
                 "arn:aws:lambda:eu-west-1:123456789012:function:fm-proxy/invocations")


def fm_route(**overrides):
    return rest_api.LambdaRoute(**{"path": FM_PATH, "function_name": FM_FUNCTION, "invoke_arn": FM_INVOKE_ARN,
                                   "request_schema": FM_SCHEMA, **overrides})


def render_routes(*routes, **options):
    """The serving chain with `routes` on the API (LambdaRoute objects do not fit render()'s cache key)."""
    options = {**options, "api": {**options.get("api", {}), "lambda_routes": list(routes)}}
    return serving_stack.run_program(lambda: serving_stack.build(options), stack="serving-test",
                                     config={"aws:region": serving_stack.REGION}, secret_keys=[])


def test_a_lambda_route_is_authorized_keyed_and_validated_like_predict_and_proxied_to_its_function():
    for auth in ({}, COGNITO, CUSTOM):
        plan = render_routes(fm_route(), api={**auth.get("api", {}), "api_key_required": True})
        predict = method(plan, "predict", "post")
        converse = one(plan, "aws:apigateway/method:Method", "svc-api-foundation-models-by-modelId-converse-post")
        for key in ("authorization", "authorizerId", "authorizationScopes", "apiKeyRequired", "requestValidatorId"):
            assert converse.inputs.get(key) == predict.inputs.get(key), key
        assert converse.inputs["apiKeyRequired"] is True
        assert converse.inputs["requestParameters"] == {"method.request.path.modelId": True}
        model = one(plan, "aws:apigateway/model:Model", "svc-api-foundation-models-by-modelId-converse-model")
        assert converse.inputs["requestModels"] == {"application/json": "FoundationModelsModelIdConverseRequest"}
        assert model.inputs["name"] == "FoundationModelsModelIdConverseRequest"
        assert json.loads(model.inputs["schema"]) == FM_SCHEMA
        integration = one(plan, "aws:apigateway/integration:Integration",
                          "svc-api-foundation-models-by-modelId-converse-integration")
        assert (integration.inputs["type"], integration.inputs["integrationHttpMethod"]) == ("AWS_PROXY", "POST")
        assert integration.inputs["uri"] == FM_INVOKE_ARN and "connectionType" not in integration.inputs
        assert integration.inputs["timeoutMilliseconds"] == 29000
        assert integration.inputs["resourceId"] == converse.inputs["resourceId"]
    assert converse.inputs["authorization"] == "CUSTOM"


def test_the_route_path_is_built_parents_first_with_a_model_id_parameter_resource():
    plan = render_routes(fm_route())
    api = one(plan, "aws:apigateway/restApi:RestApi")
    top = one(plan, "aws:apigateway/resource:Resource", "svc-api-foundation-models")
    model_id = one(plan, "aws:apigateway/resource:Resource", "svc-api-foundation-models-by-modelId")
    converse = one(plan, "aws:apigateway/resource:Resource", "svc-api-foundation-models-by-modelId-converse")
    assert (top.inputs["pathPart"], top.inputs["parentId"]) == ("foundation-models", api.outputs["rootResourceId"])
    assert (model_id.inputs["pathPart"], model_id.inputs["parentId"]) == ("{modelId}", top.id)
    assert (converse.inputs["pathPart"], converse.inputs["parentId"]) == ("converse", model_id.id)
    order = [r.name for r in plan.resources]
    assert order.index(top.name) < order.index(model_id.name) < order.index(converse.name)
    method_ = one(plan, "aws:apigateway/method:Method", "svc-api-foundation-models-by-modelId-converse-post")
    assert method_.inputs["resourceId"] == converse.id


def test_routes_share_their_parent_resources():
    plan = render_routes(fm_route(), fm_route(path="foundation-models/{modelId}/count-tokens"))
    resources = [r.name for r in plan.of_type("aws:apigateway/resource:Resource")]
    assert resources.count("svc-api-foundation-models-by-modelId") == 1
    assert len(resources) == 2 + 4  # predict, health + foundation-models, {modelId}, converse, count-tokens


def test_only_this_api_may_invoke_the_function_on_this_method_and_path_in_any_stage():
    plan = render_routes(fm_route())
    api = one(plan, "aws:apigateway/restApi:RestApi")
    permission = one(plan, "aws:lambda/permission:Permission", "svc-api-foundation-models-by-modelId-converse-invoke")
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["function"] == FM_FUNCTION
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == api.outputs["executionArn"] + "/*/POST/foundation-models/*/converse"


def test_lambda_routes_are_in_the_deployment_trigger_and_the_deployment_waits_for_them():
    plan = render_routes(fm_route())
    (deployment,) = plan.of_type("aws:apigateway/deployment:Deployment")
    defining = [r for type_ in SNAPSHOTTED for r in plan.of_type(type_)]
    api = one(plan, "aws:apigateway/restApi:RestApi")
    assert set(triggers(plan)) == {r.name for r in defining} | {api.name}
    assert {r.urn for r in defining} <= set(deployment.dependencies)
    assert {"svc-api-foundation-models-by-modelId-converse-post", "svc-api-foundation-models-by-modelId-converse-model",
            "svc-api-foundation-models-by-modelId-converse-integration",
            "svc-api-foundation-models-by-modelId"} <= set(triggers(plan))


@pytest.mark.parametrize("change, changed", [
    (dict(request_schema={**FM_SCHEMA, "required": ["messages", "system"]}),
     {"svc-api-foundation-models-by-modelId-converse-model"}),
    (dict(timeout_ms=10000), {"svc-api-foundation-models-by-modelId-converse-integration"}),
    (dict(invoke_arn=FM_INVOKE_ARN.replace("fm-proxy", "fm-proxy-2")),
     {"svc-api-foundation-models-by-modelId-converse-integration"}),
])
def test_changing_a_route_changes_the_trigger_of_what_changed(change, changed):
    base, after = triggers(render_routes(fm_route())), triggers(render_routes(fm_route(**change)))
    assert {k for k in base if base[k] != after.get(k)} == changed


def test_adding_a_route_changes_the_trigger_and_no_routes_leave_the_api_exactly_as_before():
    assert triggers(render_routes(fm_route())) != triggers(render())
    plain, empty = render(), render_routes()
    assert triggers(empty) == triggers(plain)
    assert {r.name: r.inputs for r in empty.resources} == {r.name: r.inputs for r in plain.resources}
    # What the serving chain registered before lambda routes existed.
    assert len(plain.resources) == 94
    counts = plain.count_by_type()
    assert [counts.get(t, 0) for t in SNAPSHOTTED] == [2, 2, 2, 0, 1, 1]
    assert not plain.of_type("aws:lambda/permission:Permission")


def test_the_route_timeout_defaults_to_the_apis_and_cannot_exceed_it():
    plan = render_routes(fm_route(), api={"integration_timeout_ms": 20000})
    integration = one(plan, "aws:apigateway/integration:Integration",
                      "svc-api-foundation-models-by-modelId-converse-integration")
    assert integration.inputs["timeoutMilliseconds"] == 20000
    with pytest.raises(ValueError, match=r"lambda_routes\[0\].timeout_ms must be 50-20000"):
        RestApi._validate("x", RestApiArgs(  # type: ignore[arg-type]
            ingress=None, model_version="1", integration_timeout_ms=20000, lambda_routes=[fm_route(timeout_ms=25000)]))


@pytest.mark.parametrize("routes, message", [
    ([fm_route(path="/foundation-models/{modelId}/converse")], r"lambda_routes\[0\].path must be"),
    ([fm_route(path="foundation-models//converse")], r"lambda_routes\[0\].path must be"),
    ([fm_route(path="foundation-models/{model id}/converse")], r"lambda_routes\[0\].path must be"),
    ([fm_route(path="predict/{modelId}")], r"lambda_routes\[0\].path may not be under /predict"),
    ([fm_route(), fm_route()], r"lambda_routes\[1\] repeats POST"),
    ([fm_route(), fm_route(path="foundation-models/{id}/invoke")], r"lambda_routes\[1\].path puts \{id\} beside"),
    ([fm_route(path="a/{x}/b/{x}")], "repeats a path parameter"),
    ([fm_route(http_method="GET")], r"lambda_routes\[0\].http_method"),
    ([fm_route(model_name="Predict-Request")], r"lambda_routes\[0\].model_name"),
    ([fm_route(model_name="PredictRequest")], r"lambda_routes\[0\].model_name"),
])
def test_bad_lambda_routes_are_rejected_naming_the_argument(routes, message):
    with pytest.raises(ValueError, match=message):
        RestApi._validate("x", RestApiArgs(ingress=None, model_version="1",  # type: ignore[arg-type]
                                           lambda_routes=routes))
