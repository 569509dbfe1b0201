"""Identity and access: API authentication per tier, least-privilege IAM, IMDSv2, no
anonymous function URLs."""

from __future__ import annotations

from typing import Iterable, Optional

from blueprints.tiers import API_AUTHORIZATION_TYPES
from policies.controls import AUTHENTICATION, HARDENING, LEAST_PRIVILEGE, PUBLIC_ACCESS, merge
from policies.model import PolicyPlan, PolicyResource, as_list, is_unknown, policy_document, statements, urn_name
from policies.rule import Result, RuleContext, always, check, fail, na, ok, plan_rule, resource_rule
from policies.rules._aws import (
    API_METHOD, API_RESOURCE, IAM_GROUP_POLICY, IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY, IAM_USER_POLICY, INSTANCE, LAMBDA_URL,
    LAUNCH_TEMPLATE, R53_HEALTH_CHECK, REST_API, is_set, known,
)

AREA = "identity and access"

def _health_probe(plan: PolicyPlan, method: PolicyResource) -> Optional[PolicyResource]:
    """The Route 53 health check that probes this GET method over HTTP(S): its fqdn is the
    method's REST API host and its resourcePath ends with the method's path part."""
    if method.get("httpMethod") != "GET":
        return None
    api = plan.resolve(method, "restApi", [REST_API])
    resource = plan.resolve(method, "resourceId", [API_RESOURCE])
    if api is None or resource is None or not known(resource.get("pathPart")):
        return None
    for probe in plan.of_type(R53_HEALTH_CHECK):
        if not str(probe.get("type", default="")).startswith("HTTP"):
            continue
        fqdn, path = probe.get("fqdn"), probe.get("resourcePath")
        # During a preview the host and path derive from the API's unknown id: the probe then
        # depends on the API, and its path is taken on trust (the offline plan is exact).
        same_api = str(fqdn).startswith(f"{api.id}.execute-api.") if known(fqdn) else api.urn in probe.dependencies
        same_path = str(path).rstrip("/").rsplit("/", 1)[-1] == resource.get("pathPart") if known(path) else is_set(path)
        if same_api and same_path:
            return probe
    return None


@plan_rule(
    id="AIB-060", title="Every API Gateway method requires authorization of a kind the tier allows",
    severity="critical", area=AREA, types=(API_METHOD, API_RESOURCE, R53_HEALTH_CHECK),
    controls=merge(AUTHENTICATION, LEAST_PRIVILEGE),
    level=always("mandatory"), level_doc=", with the tier's `api_auth` (restricted: AWS_IAM only)",
)
def api_method_authorization(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """authorization is one of the tier's `api_auth` kinds (iam: AWS_IAM, cognito:
    COGNITO_USER_POOLS, jwt: CUSTOM) and never NONE. The one exception, recognised from data:
    a GET method that a Route 53 HTTP(S) health check probes (health checkers cannot sign or
    present tokens) may be anonymous, except on tiers whose `api_auth` is IAM only."""
    allowed = [API_AUTHORIZATION_TYPES[a] for a in ctx.tier.api_auth]
    for method in plan.of_type(API_METHOD):
        kind = method.get("authorization")
        if is_unknown(kind):
            yield na("authorization unknown until apply", method)
        elif kind in (None, "NONE"):
            probe = _health_probe(plan, method)
            if probe is not None and allowed != [API_AUTHORIZATION_TYPES["iam"]]:
                yield ok(f"anonymous health endpoint probed by {urn_name(probe.urn)}", method)
            else:
                yield fail("authorization NONE: the method is anonymous", method)
        else:
            yield check(kind in allowed, f"authorization {kind}",
                        f"authorization {kind}; the {ctx.tier.name} tier allows {', '.join(allowed)}", method)


def _policy_texts(r: PolicyResource) -> list:
    if r.type == IAM_ROLE:
        return [p.get("policy") for p in as_list(r.get("inlinePolicies")) if isinstance(p, dict)]
    return [r.get("policy")]


def _admin_statement(stmt: dict) -> bool:
    return (stmt.get("Effect") == "Allow" and "*" in as_list(stmt.get("Action"))
            and "*" in as_list(stmt.get("Resource")))


@resource_rule(
    id="AIB-061", title="No IAM policy allows every action on every resource",
    severity="critical", area=AREA, types=(IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY, IAM_ROLE),
    controls=LEAST_PRIVILEGE, level=always("mandatory"),
)
def iam_no_admin(r: PolicyResource, ctx: RuleContext) -> Result:
    """An Allow of Action "*" on Resource "*" is administrator access; roles get scoped policies."""
    texts = _policy_texts(r)
    docs = [policy_document(t) for t in texts if t is not None]
    if not docs:
        return na("no inline policy")
    if any(d is None for d in docs):
        return na("policy unknown until apply")
    admin = [s for d in docs for s in statements(d) if _admin_statement(s)]
    return check(not admin, "scoped actions and resources", "allows Action * on Resource *")


def _anyone(principal) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))


@resource_rule(
    id="AIB-062", title="No IAM role trusts every principal without a condition",
    severity="critical", area=AREA, types=(IAM_ROLE,), controls=merge(LEAST_PRIVILEGE, AUTHENTICATION),
    level=always("mandatory"),
)
def iam_trust_scoped(r: PolicyResource, ctx: RuleContext) -> Result:
    """assumeRolePolicy names services or accounts, or conditions a wildcard principal."""
    doc = policy_document(r.get("assumeRolePolicy"))
    if doc is None:
        return na("trust policy unknown until apply")
    open_ = [s for s in statements(doc) if s.get("Effect") == "Allow" and _anyone(s.get("Principal")) and not s.get("Condition")]
    return check(not open_, "trusted principals are scoped", "trust policy allows any principal without a condition")


@resource_rule(
    id="AIB-063", title="Instances and launch templates require IMDSv2 (session tokens)",
    severity="high", area=AREA, types=(LAUNCH_TEMPLATE, INSTANCE), controls=merge(HARDENING, LEAST_PRIVILEGE),
    level=always("mandatory"),
)
def imdsv2_required(r: PolicyResource, ctx: RuleContext) -> Result:
    """metadataOptions.httpTokens is `required`, so SSRF cannot steal the node role."""
    tokens = r.get("metadataOptions", "httpTokens")
    return check(tokens == "required", "IMDSv2 required", f"metadataOptions.httpTokens is {tokens or 'not set (optional)'}")


@resource_rule(
    id="AIB-064", title="Lambda function URLs require IAM authorization",
    severity="high", area=AREA, types=(LAMBDA_URL,), controls=merge(AUTHENTICATION, PUBLIC_ACCESS),
    level=always("mandatory"),
)
def lambda_url_auth(r: PolicyResource, ctx: RuleContext) -> Result:
    """authorizationType AWS_IAM; NONE is a public endpoint."""
    kind = r.get("authorizationType")
    return check(kind == "AWS_IAM", "AWS_IAM", f"authorizationType {kind}: anyone can invoke the function")

