"""A regional API Gateway REST API in front of a private ingress: POST /predict through the VPC
Link with authorization and request validation, a stage with throttling, JSON access logs to an
encrypted log group, execution logging, X-Ray, a usage plan, an optional API key and canary.

Deployments: a deployment is a snapshot of the API's resources, methods, integrations,
authorizers, validators and models; editing one of them changes nothing callers see until the
API is deployed again. Every input that defines the API is passed to its resource from one
record (`_define`), and the deployment's `triggers` hold a hash of each record: any change
replaces the deployment (the provider's `triggers` is ForceNew), Pulumi creates the new one
before deleting the old and moves the stage (and its canary) onto it; no change, no redeploy.

Lambda routes: `lambda_routes` adds Lambda-proxy routes (e.g. POST
/foundation-models/{modelId}/converse) with the same authorization, API-key requirement and
request validator as /predict, each with its own body model; they are defined through the same
record, so adding or changing one redeploys. The canary does not apply to them (a stage variable
names the VPC Link backend, not a function).

Canary: the integrations reach the backend named by the stage variable `backend`
(`<host>:<listener port>` of the private ingress). The stage's canary settings override it with
the ingress's canary listener, so `percent` of requests reach the canary model server, and
`modelVersion` with the canary's version. Adding, changing or removing the canary is a stage
update, not a redeployment."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence, TypeVar

import pulumi
import pulumi_aws as aws
from pulumi import _types

from components._base import Component, StatefulOptions, check_range, merge_tags
from components.kms_key import KmsKey
from components.private_ingress import PrivateIngress

gw = aws.apigateway

# What one access-log line records: who called, what happened, how long it took, which model.
# Access logs accept only $context variables, so the model versions are written into the format
# (the stage's, and the canary's): `canary` says which one served the request.
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "user": "$context.identity.user",
    "userArn": "$context.identity.userArn",
    "principalId": "$context.authorizer.principalId",
    "apiKeyId": "$context.identity.apiKeyId",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "wafResponseCode": "$context.wafResponseCode",
    "errorMessage": "$context.error.message",
    "stage": "$context.stage",
    "deploymentId": "$context.deploymentId",
    "canary": "$context.isCanaryRequest",
}


def access_log_format(model_version: str, canary_model_version: Optional[str] = None) -> str:
    """The stage's JSON access-log line."""
    fields = {**_ACCESS_LOG_FIELDS, "modelVersion": model_version}
    if canary_model_version is not None:
        fields["canaryModelVersion"] = canary_model_version
    return json.dumps(fields, separators=(",", ":"))


# A request body /predict accepts unless the caller passes its own schema (JSON Schema draft 4).
DEFAULT_REQUEST_SCHEMA: Mapping[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "PredictRequest",
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "inputs": {"type": ["string", "array", "object"]},
        "parameters": {"type": "object"},
    },
}

Authorization = Literal["AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM"]
_Defining = TypeVar("_Defining", bound=pulumi.CustomResource)

# How /predict requests are validated before they reach the backend (a validator is part of what
# a deployment snapshots).
REQUEST_VALIDATOR: Mapping[str, Any] = {
    "name": "body-and-parameters", "validate_request_body": True, "validate_request_parameters": True}
# API settings a deployment snapshots (RestApi inputs outside this map, such as the endpoint's TLS
# policy, tags and description, take effect without one).
API_SETTINGS: Mapping[str, Any] = {"api_key_source": "HEADER"}
# The stage variable that names the backend (`host:port`) every integration calls; the canary
# overrides it. A stage variable may stand for the whole domain of an HTTP integration URI
# (API Gateway Developer Guide, "API Gateway stage variables reference for REST APIs").
BACKEND_VARIABLE = "backend"

# TLS 1.2 and 1.3 on the execute-api endpoint. Without a security policy a regional REST API's
# default endpoint accepts TLS 1.0; an enhanced (`SecurityPolicy_*`) policy also needs an endpoint
# access mode, and STRICT (AWS's recommendation) rejects requests whose SNI does not name the API
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-security-policies.html).
DEFAULT_SECURITY_POLICY = "SecurityPolicy_TLS13_1_2_2021_06"


def _plain(value: Any) -> Any:
    """JSON for the typed `*Args` inputs inside a definition (their set properties), recognised
    the way `Output.from_input` recognises them."""
    if _types.is_input_type(type(value)):
        return {k: v for k, v in vars(value).items() if v is not None}
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def _fingerprint(inputs: Mapping[str, Any]) -> pulumi.Output[str]:
    """SHA-256 of a resource's inputs once every Output in them is known (a preview with an
    unknown input shows the deployment as replaced, which is what an apply then does)."""
    return pulumi.Output.from_input(dict(inputs)).apply(lambda resolved: hashlib.sha256(
        json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=_plain).encode()).hexdigest())


def _backend(ingress: PrivateIngress, port: int) -> pulumi.Output[str]:
    """The `backend` stage variable: `<host>:<port>` of an ingress listener, the host being the
    TLS server name (what the certificate covers) or the load balancer's DNS name."""
    return pulumi.Output.concat(ingress.server_name or ingress.dns_name, ":", str(port))


@dataclass(frozen=True, kw_only=True)
class CognitoAuthorizer:
    """Cognito user pools whose access tokens the API accepts."""

    user_pool_arns: list[pulumi.Input[str]]
    """User pool ARNs. Required."""
    scopes: tuple[str, ...] = ()
    """OAuth scopes a token must carry. Default none: ID tokens are accepted."""


@dataclass(frozen=True, kw_only=True)
class TokenAuthorizer:
    """A Lambda TOKEN authorizer (e.g. JWT validation)."""

    function_name: pulumi.Input[str]
    """The authorizer function's name (for the invoke permission). Required."""
    invoke_arn: pulumi.Input[str]
    """The function's API Gateway invoke ARN. Required."""
    ttl_seconds: int = 300
    """How long API Gateway caches a decision per token (0-3600). Default 300."""


@dataclass(frozen=True, kw_only=True)
class StageCanary:
    """A canary release on the stage: `percent` of requests, chosen at random, run with the
    canary's stage variables, which send them to the ingress's canary backend (a second model
    server) with the canary's `modelVersion`. API Gateway logs them to the access and execution
    log groups suffixed `/Canary` as well (created here, encrypted like the stage's)."""

    model_version: str
    """`modelVersion` of canary requests: X-Model-Version to the backend and `canaryModelVersion`
    in every access-log line. Required."""
    percent: float
    """Percent of requests (0-100) the canary serves. Required."""


# A path segment: a literal, or a `{parameter}` (API Gateway resource path parts; greedy `{x+}`
# and other forms are not offered).
_LITERAL_PART = re.compile(r"^[A-Za-z0-9._-]+$")
_PARAMETER_PART = re.compile(r"^\{([A-Za-z0-9_]+)\}$")
# API Gateway model names are alphanumeric (CreateModel: "The name of the model. Must be alphanumeric.").
_MODEL_NAME = re.compile(r"^[A-Za-z0-9]+$")


@dataclass(frozen=True, kw_only=True)
class LambdaRoute:
    """A Lambda-proxy (AWS_PROXY) route on the API, authorized, keyed and validated like /predict."""

    path: str
    """Resource path under the stage, no leading or trailing slash, segments literal or
    `{parameter}`, e.g. "foundation-models/{modelId}/converse". Every `{parameter}` is a required
    path parameter. Required; may not be (or start with) predict or health."""
    function_name: pulumi.Input[str]
    """The function's name, for its invoke permission. Required."""
    invoke_arn: pulumi.Input[str]
    """The function's API Gateway invoke ARN (`aws.lambda_.Function.invoke_arn`). Required."""
    request_schema: Mapping[str, Any]
    """JSON Schema (draft 4) the body must match, checked by the API's request validator (400
    otherwise, before the function runs). Required."""
    http_method: Literal["POST", "PUT", "PATCH"] = "POST"
    """The method. Default POST."""
    model_name: Optional[str] = None
    """The body model's name (alphanumeric). Default: from the path, e.g.
    FoundationModelsModelIdConverseRequest."""
    timeout_ms: Optional[int] = None
    """Integration timeout, 50 ms to the API's `integration_timeout_ms`. Default: the API's."""

    def parameters(self) -> list[str]:
        return [m.group(1) for m in map(_PARAMETER_PART.match, self.path.split("/")) if m]

    def body_model_name(self) -> str:
        if self.model_name is not None:
            return self.model_name
        words = re.split(r"[^A-Za-z0-9]+", self.path)
        return "".join(w[:1].upper() + w[1:] for w in words if w) + "Request"


def _path_logical(path: str) -> str:
    """The logical-name part for a resource path: `{modelId}` becomes `by-modelId`."""
    return "-".join(f"by-{m.group(1)}" if (m := _PARAMETER_PART.match(part)) else part for part in path.split("/"))


@dataclass(frozen=True, kw_only=True)
class RestApiArgs:
    ingress: PrivateIngress
    """The private ingress (NLB + VPC Link) requests are proxied to; with `canary`, it must have
    a canary backend (`canary_node_port`). Required."""
    model_version: str
    """Stage variable `modelVersion`, sent to the backend as X-Model-Version, and written into
    every access-log line. Required."""
    authorization: Authorization = "AWS_IAM"
    """AWS_IAM (SigV4), COGNITO_USER_POOLS (needs `cognito`) or CUSTOM (needs `token_authorizer`).
    Default AWS_IAM. There is no unauthenticated option for /predict."""
    cognito: Optional[CognitoAuthorizer] = None
    """Required with COGNITO_USER_POOLS; conflicts with the other two."""
    token_authorizer: Optional[TokenAuthorizer] = None
    """Required with CUSTOM; conflicts with the other two."""
    api_key_required: bool = False
    """Require an API key on /predict and create one in the usage plan. Default off."""
    request_schema: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_REQUEST_SCHEMA))
    """JSON Schema (draft 4) the /predict body must match; API Gateway rejects others with 400.
    Default: an object with `inputs` (and optional `parameters`)."""
    lambda_routes: Sequence[LambdaRoute] = ()
    """Lambda-proxy routes besides /predict, with its authorization, API key requirement and
    validator, each with an invoke permission scoped to this API, its method and path. Default
    none."""
    health_route: bool = True
    """An unauthenticated GET /health proxied to the backend, for Route 53 HTTPS health checks.
    Default on. Turn off when health comes from alarms and nothing anonymous may reach the API."""
    security_policy: str = DEFAULT_SECURITY_POLICY
    """Minimum TLS version and ciphers clients may use on the execute-api endpoint (an enhanced
    `SecurityPolicy_*` policy, with the STRICT endpoint access mode). Default
    SecurityPolicy_TLS13_1_2_2021_06: TLS 1.2 and 1.3."""
    stage_name: str = "v1"
    """Stage name. Default v1."""
    throttle_burst_limit: int = 200
    """Stage and usage-plan burst limit. Default 200."""
    throttle_rate_limit: float = 100.0
    """Stage and usage-plan steady-state requests per second. Default 100."""
    integration_timeout_ms: int = 29000
    """Backend timeout, 50-29000 ms. Default 29000 (the REST API maximum)."""
    execution_logging_level: Literal["INFO", "ERROR"] = "INFO"
    """Execution log level. Data trace (full bodies) stays off always. Default INFO."""
    xray_tracing: bool = True
    """X-Ray tracing on the stage. Default on."""
    canary: Optional[StageCanary] = None
    """A canary release to the ingress's canary backend. Default None: no canary settings (every
    request reaches the main backend)."""
    log_retention_days: int = 365
    """Access- and execution-log retention; one of CloudWatch's values. Default 365."""
    log_kms_key: Optional[KmsKey] = None
    """CMK for the log groups. Default None: CloudWatch's service-owned encryption."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the log groups. Default: protected."""
    manage_account_logging_role: bool = True
    """Create the region's API Gateway account setting with a CloudWatch Logs role (execution
    logging needs it; there is one per account and region). Default on; turn off when another
    stack owns it."""
    tags: Mapping[str, str] = field(default_factory=dict)


class RestApi(Component):
    rest_api_id: pulumi.Output[str]
    rest_api_name: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    stage_name: pulumi.Output[str]
    stage_arn: pulumi.Output[str]
    invoke_url: pulumi.Output[str]
    api_host: pulumi.Output[str]
    """`<api-id>.execute-api.<region>.amazonaws.com`."""
    access_log_group_name: pulumi.Output[str]
    access_log_group_arn: pulumi.Output[str]
    canary_access_log_group_name: pulumi.Output[str]
    """Where API Gateway writes the access logs of canary requests (`<access log group>/Canary`)."""
    canary_access_log_group_arn: pulumi.Output[str]
    deployment_id: pulumi.Output[str]
    usage_plan_id: pulumi.Output[str]
    api_key_id: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: RestApiArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("apigateway", "RestApi", name, opts)
        self._validate(name, args)
        self._args = args
        # What a deployment snapshots: each defining resource's inputs, by logical name.
        self._definition: dict[str, dict[str, Any]] = {}
        self._defining: list[pulumi.CustomResource] = []
        # API resources by path ("predict", "foundation-models/{modelId}"): routes share parents.
        self._resources: dict[str, gw.Resource] = {}

        self.api = gw.RestApi(
            f"{name}-api",
            name=name,
            description=f"{name}: model inference",
            endpoint_configuration=gw.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            security_policy=args.security_policy,
            endpoint_access_mode="STRICT",
            **API_SETTINGS,
            tags=merge_tags(name, args.tags),
            opts=self.child(),
        )
        self._definition[f"{name}-api"] = dict(API_SETTINGS)
        authorizer = self._create_authorizer(name, args)
        validator = self._define(gw.RequestValidator, f"{name}-validator", rest_api=self.api.id, **REQUEST_VALIDATOR)
        model = self._define(
            gw.Model, f"{name}-predict-model", rest_api=self.api.id, name="PredictRequest",
            content_type="application/json", description="Body of POST /predict",
            schema=json.dumps(dict(args.request_schema), sort_keys=True))

        self._route(name, "predict", "POST", authorizer=authorizer, validator=validator, model=model)
        if args.health_route:
            self._route(name, "health", "GET")
        for route in args.lambda_routes:
            self._lambda_route(name, route, authorizer=authorizer, validator=validator)

        # Canary requests are logged to the stage's groups suffixed `/Canary`, which API Gateway
        # would otherwise create itself, unencrypted and kept forever
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/canary-release.html). They
        # exist whether or not a canary runs, so a canary comes and goes without deleting a
        # protected log group.
        access_log_name = f"/aws/apigateway/{name}/access"
        execution_log_name = pulumi.Output.concat("API-Gateway-Execution-Logs_", self.api.id, "/", args.stage_name)
        access_logs = self._log_group("access-logs", access_log_name, args)
        execution_logs = self._log_group("execution-logs", execution_log_name, args)
        canary_access_logs = self._log_group("canary-access-logs", f"{access_log_name}/Canary", args)
        canary_execution_logs = self._log_group(
            "canary-execution-logs", pulumi.Output.concat(execution_log_name, "/Canary"), args)
        account = self._create_account(name, args) if args.manage_account_logging_role else None

        # One hash per defining resource: `pulumi preview --diff` names what forces the redeploy.
        deployment = gw.Deployment(
            f"{name}-deployment", rest_api=self.api.id, description=f"{name} routes",
            triggers={logical: _fingerprint(inputs) for logical, inputs in self._definition.items()},
            opts=self.child(depends_on=self._defining))
        ingress = args.ingress
        canary = None
        if args.canary is not None and ingress.canary_listener_port is not None:  # (checked in _validate)
            # The same deployment, as AWS's canary release starts (the API is one definition);
            # only the stage variables differ.
            canary = gw.StageCanarySettingsArgs(
                deployment_id=deployment.id,
                percent_traffic=args.canary.percent,
                stage_variable_overrides={"modelVersion": args.canary.model_version,
                                          BACKEND_VARIABLE: _backend(ingress, ingress.canary_listener_port)},
                use_stage_cache=False,
            )
        self.stage = gw.Stage(
            f"{name}-stage",
            rest_api=self.api.id,
            deployment=deployment.id,
            stage_name=args.stage_name,
            description=f"{name}: model {args.model_version}",
            variables={"modelVersion": args.model_version, BACKEND_VARIABLE: _backend(ingress, ingress.listener_port)},
            xray_tracing_enabled=args.xray_tracing,
            access_log_settings=gw.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn,
                format=access_log_format(args.model_version, args.canary.model_version if args.canary else None)),
            canary_settings=canary,
            tags=merge_tags(f"{name}-{args.stage_name}", args.tags),
            opts=self.child(depends_on=[execution_logs, canary_execution_logs, canary_access_logs,
                                        *([account] if account else [])]),
        )
        gw.MethodSettings(
            f"{name}-method-settings",
            rest_api=self.api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=gw.MethodSettingsSettingsArgs(
                metrics_enabled=True,
                logging_level=args.execution_logging_level,
                data_trace_enabled=False,
                throttling_burst_limit=args.throttle_burst_limit,
                throttling_rate_limit=args.throttle_rate_limit,
                caching_enabled=False,
            ),
            opts=self.child(),
        )
        self._create_usage_plan(name, args)

        self.rest_api_id = self.api.id
        self.rest_api_name = self.api.name
        self.execution_arn = self.api.execution_arn
        self.stage_name = self.stage.stage_name
        self.stage_arn = self.stage.arn
        self.invoke_url = self.stage.invoke_url
        self.api_host = pulumi.Output.concat(self.api.id, ".execute-api.", self.aws_region, ".amazonaws.com")
        self.access_log_group_name = access_logs.name
        self.access_log_group_arn = access_logs.arn
        self.canary_access_log_group_name = canary_access_logs.name
        self.canary_access_log_group_arn = canary_access_logs.arn
        self.deployment_id = deployment.id
        self.register_outputs({
            "rest_api_id": self.rest_api_id,
            "rest_api_name": self.rest_api_name,
            "execution_arn": self.execution_arn,
            "stage_name": self.stage_name,
            "stage_arn": self.stage_arn,
            "invoke_url": self.invoke_url,
            "api_host": self.api_host,
            "access_log_group_name": self.access_log_group_name,
            "access_log_group_arn": self.access_log_group_arn,
            "canary_access_log_group_name": self.canary_access_log_group_name,
            "canary_access_log_group_arn": self.canary_access_log_group_arn,
            "deployment_id": self.deployment_id,
            "usage_plan_id": self.usage_plan_id,
            "api_key_id": self.api_key_id,
        })

    @staticmethod
    def _validate(name: str, args: RestApiArgs) -> None:
        wants = {"AWS_IAM": None, "COGNITO_USER_POOLS": "cognito", "CUSTOM": "token_authorizer"}
        if args.authorization not in wants:
            raise ValueError(f"{name}: authorization must be one of {', '.join(wants)}, got {args.authorization!r}")
        for auth, arg in wants.items():
            if arg and (getattr(args, arg) is not None) != (args.authorization == auth):
                raise ValueError(f"{name}: {arg} is required with authorization {auth} and conflicts otherwise")
        policy = args.security_policy
        if not policy.startswith("SecurityPolicy_") or policy.endswith("_EDGE"):
            raise ValueError(f"{name}: security_policy must be an enhanced regional SecurityPolicy_* policy "
                             f"(TLS 1.2 or later), got {policy!r}")
        if args.canary is not None:
            check_range(name, "canary.percent", args.canary.percent, 0, 100)
            # Without a backend of its own the canary would reach the same pods as the stage.
            if args.ingress is not None and args.ingress.canary_listener_port is None:
                raise ValueError(f"{name}: canary needs an ingress with a canary backend "
                                 "(PrivateIngressArgs.canary_node_port)")
        check_range(name, "integration_timeout_ms", args.integration_timeout_ms, 50, 29000)
        RestApi._validate_lambda_routes(name, args)
        if args.token_authorizer and not 0 <= args.token_authorizer.ttl_seconds <= 3600:
            raise ValueError(f"{name}: token_authorizer.ttl_seconds must be 0-3600")

    @staticmethod
    def _validate_lambda_routes(name: str, args: RestApiArgs) -> None:
        seen: set[tuple[str, str]] = set()
        parameter_at: dict[str, str] = {}  # parent path -> its one {parameter} child
        models: set[str] = {"PredictRequest"}
        for i, route in enumerate(args.lambda_routes):
            arg = f"lambda_routes[{i}]"
            parts = route.path.split("/")
            if not route.path or any(not (_LITERAL_PART.match(p) or _PARAMETER_PART.match(p)) for p in parts):
                raise ValueError(f"{name}: {arg}.path must be segments of letters, digits, '.', '_', '-' or "
                                 f"'{{parameter}}' without leading or trailing '/', got {route.path!r}")
            if parts[0] in ("predict", "health"):
                raise ValueError(f"{name}: {arg}.path may not be under /{parts[0]}, got {route.path!r}")
            if route.http_method not in ("POST", "PUT", "PATCH"):
                raise ValueError(f"{name}: {arg}.http_method must be POST, PUT or PATCH, got {route.http_method!r}")
            if (route.path, route.http_method) in seen:
                raise ValueError(f"{name}: {arg} repeats {route.http_method} {route.path}")
            seen.add((route.path, route.http_method))
            if len(set(route.parameters())) != len(route.parameters()):
                raise ValueError(f"{name}: {arg}.path repeats a path parameter: {route.path!r}")
            # API Gateway allows one variable path part among a resource's children.
            for depth, part in enumerate(parts):
                if _PARAMETER_PART.match(part):
                    parent = "/".join(parts[:depth])
                    if parameter_at.setdefault(parent, part) != part:
                        raise ValueError(f"{name}: {arg}.path puts {part} beside {parameter_at[parent]} "
                                         f"under /{parent}; a resource has at most one variable child")
            model = route.body_model_name()
            if not _MODEL_NAME.match(model) or model in models:
                raise ValueError(f"{name}: {arg}.model_name must be alphanumeric and unique, got {model!r}")
            models.add(model)
            if route.timeout_ms is not None:
                check_range(name, f"{arg}.timeout_ms", route.timeout_ms, 50, args.integration_timeout_ms)

    def _create_authorizer(self, name: str, args: RestApiArgs) -> Optional[gw.Authorizer]:
        if args.cognito is not None:
            return self._define(
                gw.Authorizer, f"{name}-cognito-authorizer", rest_api=self.api.id, name="cognito",
                type="COGNITO_USER_POOLS", provider_arns=args.cognito.user_pool_arns,
                identity_source="method.request.header.Authorization")
        if args.token_authorizer is not None:
            auth = args.token_authorizer
            aws.lambda_.Permission(
                f"{name}-authorizer-invoke",
                action="lambda:InvokeFunction",
                function=auth.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/authorizers/*"),
                opts=self.child(),
            )
            return self._define(
                gw.Authorizer, f"{name}-token-authorizer", rest_api=self.api.id, name="jwt", type="TOKEN",
                authorizer_uri=auth.invoke_arn, identity_source="method.request.header.Authorization",
                identity_validation_expression=r"^Bearer [-0-9A-Za-z_]+\.[-0-9A-Za-z_]+\.[-0-9A-Za-z_]+$",
                authorizer_result_ttl_in_seconds=auth.ttl_seconds)
        return None

    def _route(self, name: str, path: str, http_method: str, *, authorizer: Optional[gw.Authorizer] = None,
               validator: Optional[gw.RequestValidator] = None, model: Optional[gw.Model] = None) -> gw.Integration:
        args = self._args
        resource = self._resource(name, path)
        protected = validator is not None
        method = self._define(
            gw.Method,
            f"{name}-{path}-{http_method.lower()}",
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method=http_method,
            authorization=args.authorization if protected else "NONE",
            authorizer_id=authorizer.id if authorizer else None,
            authorization_scopes=list(args.cognito.scopes) or None if (protected and args.cognito) else None,
            api_key_required=args.api_key_required and protected,
            request_validator_id=validator.id if validator else None,
            request_models={"application/json": model.name} if model else None,
        )
        ingress = args.ingress
        # Through the VPC link either way, to the backend the stage variable names (the ingress's
        # main listener, or its canary listener for canary requests); with TLS on the listeners
        # API Gateway calls the name their certificate covers and verifies it (never
        # insecureSkipVerification), else plain HTTP.
        tls = ingress.server_name is not None
        uri = f"{'https' if tls else 'http'}://${{stageVariables.{BACKEND_VARIABLE}}}/{path}"
        tls_config = gw.IntegrationTlsConfigArgs(insecure_skip_verification=False) if tls else None
        return self._define(
            gw.Integration,
            f"{name}-{path}-integration",
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="HTTP_PROXY",
            integration_http_method=http_method,
            connection_type="VPC_LINK",
            connection_id=ingress.vpc_link_id,
            uri=uri,
            tls_config=tls_config,
            request_parameters={"integration.request.header.X-Model-Version": "stageVariables.modelVersion"},
            timeout_milliseconds=args.integration_timeout_ms,
        )

    def _resource(self, name: str, path: str) -> gw.Resource:
        """The API resource for `path`, its parents first, each created once (`/predict` keeps its
        logical name `<name>-predict`)."""
        if path not in self._resources:
            parent, _, part = path.rpartition("/")
            parent_id = self._resource(name, parent).id if parent else self.api.root_resource_id
            self._resources[path] = self._define(gw.Resource, f"{name}-{_path_logical(path)}", rest_api=self.api.id,
                                                 parent_id=parent_id, path_part=part)
        return self._resources[path]

    def _lambda_route(self, name: str, route: LambdaRoute, *, authorizer: Optional[gw.Authorizer],
                      validator: gw.RequestValidator) -> gw.Integration:
        args = self._args
        base = f"{name}-{_path_logical(route.path)}"
        resource = self._resource(name, route.path)
        model = self._define(
            gw.Model, f"{base}-model", rest_api=self.api.id, name=route.body_model_name(),
            content_type="application/json", description=f"Body of {route.http_method} /{route.path}",
            schema=json.dumps(dict(route.request_schema), sort_keys=True))
        method = self._define(
            gw.Method,
            f"{base}-{route.http_method.lower()}",
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method=route.http_method,
            authorization=args.authorization,
            authorizer_id=authorizer.id if authorizer else None,
            authorization_scopes=list(args.cognito.scopes) or None if args.cognito else None,
            api_key_required=args.api_key_required,
            request_validator_id=validator.id,
            request_models={"application/json": model.name},
            request_parameters={f"method.request.path.{p}": True for p in route.parameters()} or None,
        )
        # Stage-agnostic, but only this API, this method and this path (parameters as wildcards):
        # `<execution ARN>/<stage>/<method>/<path>` (API Gateway Developer Guide, "Control access
        # for invoking an API": execute-api ARN format).
        wildcard_path = "/".join("*" if _PARAMETER_PART.match(p) else p for p in route.path.split("/"))
        aws.lambda_.Permission(
            f"{base}-invoke",
            action="lambda:InvokeFunction",
            function=route.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.api.execution_arn, f"/*/{route.http_method}/{wildcard_path}"),
            opts=self.child(),
        )
        return self._define(
            gw.Integration,
            f"{base}-integration",
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS_PROXY",
            # Lambda's Invoke API is a POST whatever the method the caller used.
            integration_http_method="POST",
            uri=route.invoke_arn,
            timeout_milliseconds=route.timeout_ms if route.timeout_ms is not None else args.integration_timeout_ms,
        )

    def _define(self, resource_type: type[_Defining], logical: str, **inputs: Any) -> _Defining:
        """`resource_type(logical, **inputs)`, a part of the API a deployment snapshots: the same
        `inputs` are hashed into the deployment's triggers, so what is deployed and what the
        trigger covers cannot drift apart."""
        self._definition[logical] = inputs
        resource = resource_type(logical, **inputs, opts=self.child())
        self._defining.append(resource)
        return resource

    def _log_group(self, suffix: str, log_name: pulumi.Input[str], args: RestApiArgs) -> aws.cloudwatch.LogGroup:
        return self.log_group(suffix, log_name, retention_days=args.log_retention_days, kms_key=args.log_kms_key,
                              stateful=args.stateful, tags=args.tags)

    def _create_account(self, name: str, args: RestApiArgs) -> gw.Account:
        # No aws:SourceAccount / aws:SourceArn condition. AWS's logging role trusts the service
        # alone (API Gateway Developer Guide, "Permissions for CloudWatch logging"; the
        # AWS::ApiGateway::Account example) and API Gateway documents no source keys for it: it
        # assumes the role for the account, not for an API, and does not send aws:SourceAccount
        # even where it assumes an integration's credentials role. A condition that never
        # matches makes UpdateAccount fail ("The role ARN does not have required permissions
        # configured"). Only a principal of this account with iam:PassRole can set the role on
        # the account: AIB-121's declared exemption (policies/rules/resource_policies.py).
        role = self.service_role("cloudwatch-role", "apigateway.amazonaws.com", tags=args.tags)
        attachment = self.managed_policy("cloudwatch-push", role, "service-role/AmazonAPIGatewayPushToCloudWatchLogs")
        return gw.Account(f"{name}-account", cloudwatch_role_arn=role.arn, opts=self.child(depends_on=[attachment]))

    def _create_usage_plan(self, name: str, args: RestApiArgs) -> None:
        plan = gw.UsagePlan(
            f"{name}-usage-plan",
            name=name,
            # Usage-plan limits apply per API key, to requests that carry one; every caller of the
            # stage is throttled by the */* method settings.
            description=f"{name}: per-API-key throttling and quota",
            api_stages=[gw.UsagePlanApiStageArgs(api_id=self.api.id, stage=self.stage.stage_name)],
            throttle_settings=gw.UsagePlanThrottleSettingsArgs(
                burst_limit=args.throttle_burst_limit, rate_limit=args.throttle_rate_limit),
            tags=merge_tags(f"{name}-usage-plan", args.tags),
            opts=self.child(),
        )
        self.usage_plan_id = plan.id
        self.api_key_id = None
        if args.api_key_required:
            key = gw.ApiKey(f"{name}-api-key", name=f"{name}-default", description=f"{name}: default client key",
                            enabled=True, tags=merge_tags(f"{name}-api-key", args.tags), opts=self.child())
            gw.UsagePlanKey(f"{name}-usage-plan-key", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id,
                            opts=self.child())
            self.api_key_id = key.id
