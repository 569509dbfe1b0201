"""Identity and access: API authentication per tier, least-privilege IAM, IMDSv2, no
anonymous function URLs."""

from __future__ import annotations

from typing import Iterable, Optional

from blueprints.tiers import API_AUTHORIZATION_TYPES
from policies.controls import AUTHENTICATION, HARDENING, LEAST_PRIVILEGE, PUBLIC_ACCESS, merge
from policies.model import PolicyPlan, PolicyResource, as_list, is_unknown, policy_document, statements, urn_name
from policies.rule import PROHIBITION, Result, RuleContext, always, check, fail, na, ok, plan_rule, resource_rule
from policies.rules._aws import (
    API_METHOD, API_RESOURCE, CLUSTERS, IAM_GROUP_POLICY, IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY, IAM_USER_POLICY,
    INFERENCE, INSTANCE, LAMBDA_URL, LAUNCH_TEMPLATE, R53_HEALTH_CHECK, REST_API, is_set, known,
)
from policies.rules._statements import (
    ADMINISTRATOR_MANAGED_POLICIES, POLICY_ATTACHMENTS, TRUST_POLICY, administrator_managed_policy,
    administrator_statement, describe, describe_open,
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
    id="AIB-060", scope=INFERENCE, requires=(API_METHOD,), missing="no API Gateway method", title="Every API Gateway method requires authorization of a kind the tier allows",
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


@resource_rule(
    id="AIB-061", scope=PROHIBITION, title="No IAM policy allows every action on every resource",
    severity="critical", area=AREA,
    types=(IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY, IAM_ROLE, *POLICY_ATTACHMENTS),
    controls=LEAST_PRIVILEGE, level=always("mandatory"),
)
def iam_no_admin(r: PolicyResource, ctx: RuleContext) -> Result:
    """An Allow of every action on every resource is administrator access: Action "*" or
    NotAction (which allows everything it does not list, services AWS adds later included) on
    Resource "*" or NotResource, in a policy, an inline policy or a role's inline policies; and
    so is attaching the AWS managed AdministratorAccess or PowerUserAccess (a role's
    managedPolicyArns or a policy attachment). Roles get scoped policies."""
    if r.type in POLICY_ATTACHMENTS:
        arn = r.get("policyArn")
        if not known(arn):
            return na("policy ARN unknown until apply")
        admin = administrator_managed_policy(arn)
        return check(admin is None, "attaches a scoped policy",
                     f"attaches {admin} ({ADMINISTRATOR_MANAGED_POLICIES.get(admin or '', '')}): administrator access")
    managed = [a for a in (administrator_managed_policy(arn) for arn in as_list(r.get("managedPolicyArns"))) if a]
    texts = [t for t in _policy_texts(r) if t is not None]
    docs = [policy_document(t) for t in texts]
    if not docs and not managed:
        return na("no inline policy")
    if any(d is None for d in docs) and not managed:
        return na("policy unknown until apply")
    found = [f"{describe(s, i)}: {how}" for d in docs for i, s in enumerate(statements(d))
             for how in [administrator_statement(s)] if how]
    found += [f"managed policy {a} ({ADMINISTRATOR_MANAGED_POLICIES[a]})" for a in managed]
    return check(not found, "scoped actions and resources", f"administrator access: {'; '.join(found)}")


@resource_rule(
    id="AIB-062", scope=PROHIBITION, title="No IAM role trusts every principal without a condition that limits who",
    severity="critical", area=AREA, types=(IAM_ROLE,), controls=merge(LEAST_PRIVILEGE, AUTHENTICATION),
    level=always("mandatory"),
)
def iam_trust_scoped(r: PolicyResource, ctx: RuleContext) -> Result:
    """assumeRolePolicy names services, accounts or roles, or limits a wildcard principal ("*",
    {"AWS": "*"}, NotPrincipal) with a condition on who: the caller's account or organization,
    the source a service acts for, or the network (the test every resource policy gets,
    `policies/rules/_statements.py`). A condition on anything else (aws:SecureTransport,
    aws:MultiFactorAuthPresent, sts:ExternalId) lets any AWS account assume the role."""
    doc = policy_document(r.get("assumeRolePolicy"))
    if doc is None:
        return na("trust policy unknown until apply")
    open_ = describe_open(doc, TRUST_POLICY)
    return check(not open_, "trusted principals are named or limited by a condition",
                 f"trust policy lets any principal assume the role with no condition that limits who: {'; '.join(open_)}")


@resource_rule(
    id="AIB-063", scope=CLUSTERS, requires=(LAUNCH_TEMPLATE,), missing="no launch template for the cluster nodes", title="Instances and launch templates require IMDSv2 (session tokens)",
    severity="high", area=AREA, types=(LAUNCH_TEMPLATE, INSTANCE), controls=merge(HARDENING, LEAST_PRIVILEGE),
    level=always("mandatory"),
)
def imdsv2_required(r: PolicyResource, ctx: RuleContext) -> Result:
    """metadataOptions.httpTokens is `required`, so SSRF cannot steal the node role."""
    tokens = r.get("metadataOptions", "httpTokens")
    return check(tokens == "required", "IMDSv2 required", f"metadataOptions.httpTokens is {tokens or 'not set (optional)'}")


@resource_rule(
    id="AIB-064", scope=PROHIBITION, title="Lambda function URLs require IAM authorization",
    severity="high", area=AREA, types=(LAMBDA_URL,), controls=merge(AUTHENTICATION, PUBLIC_ACCESS),
    level=always("mandatory"),
)
def lambda_url_auth(r: PolicyResource, ctx: RuleContext) -> Result:
    """authorizationType AWS_IAM; NONE is a public endpoint."""
    kind = r.get("authorizationType")
    return check(kind == "AWS_IAM", "AWS_IAM", f"authorizationType {kind}: anyone can invoke the function")

