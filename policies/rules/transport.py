"""Transport: data that leaves a component travels over TLS. Clients reach the API with TLS 1.2 or
later; SIEM streams, SNS subscriptions and health checks use HTTPS; API Gateway integrations
call HTTPS backends and verify their certificates; no load balancer listener carries plaintext
across a trust boundary; no resource is configured with a plaintext `http://` endpoint.

What the blueprint does not encrypt, and why, is declared below as data (`EXEMPTIONS`), each
with its reason; a rule reports a matching resource as exempt (reports show every exemption
and its reason) only while the facts the reason relies on hold in the plan, and fails it
otherwise.

The inference path is client -> REST API (TLS) -> VPC link -> internal NLB -> model-server
nodes. The hop from API Gateway to the NLB travels over the VPC link (AWS PrivateLink, inside
AWS's network; the NLB's security group admits nothing from the VPC) and is plain HTTP on every
tier: a TLS listener there needs a certificate API Gateway trusts for a name the account
controls, because REST API private integrations verify the backend's certificate against API
Gateway's public CA list and check its hostname even with `insecureSkipVerification`
(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-private-integration.html,
https://docs.aws.amazon.com/apigateway/latest/api/API_TlsConfig.html). That is a public ACM
certificate for a domain in a hosted zone of the stack (`inference.domainName` and
`hostedZoneId`), which the stack config does not require. `PrivateIngress(tls=...)` and the
REST API's https integration URI support it where a certificate exists.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional
from urllib.parse import urlsplit

from policies.controls import BOUNDARY, IN_TRANSIT, merge
from policies.model import PolicyPlan, PolicyResource, as_list, dig, is_unknown, urn_name
from policies.rule import (
    PROHIBITION, Exemption, Result, RuleContext, always, declare_exemptions, exempt, fail, na, ok, plan_rule,
    resource_rule,
)
from policies.rules._aws import (
    FIREHOSE, LAMBDA_FUNCTION, LOAD_BALANCER, R53_HEALTH_CHECK, REST_API, SECURITY_GROUP, SG_INGRESS, SG_RULE,
    SNS_TOPIC, is_set, known, truthy,
)

AREA = "transport"

INTEGRATION = "aws:apigateway/integration:Integration"
API_DOMAIN = "aws:apigateway/domainName:DomainName"
API_MODEL = "aws:apigateway/model:Model"
VPC_LINK = "aws:apigateway/vpcLink:VpcLink"
LISTENER = "aws:lb/listener:Listener"
ALB_LISTENER = "aws:alb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
ALB_LOAD_BALANCER = "aws:alb/loadBalancer:LoadBalancer"
CLASSIC_ELB = "aws:elb/loadBalancer:LoadBalancer"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
API_DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
USER_POOL_CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
K8S_URL_BEARERS = tuple(f"kubernetes:{kind}" for kind in (
    "apps/v1:Deployment", "apps/v1:DaemonSet", "apps/v1:StatefulSet", "batch/v1:Job", "batch/v1:CronJob",
    "core/v1:ConfigMap", "core/v1:Pod",
))

LOAD_BALANCERS = (LOAD_BALANCER, ALB_LOAD_BALANCER)
LISTENERS = (LISTENER, ALB_LISTENER)

TLS_FLOOR = merge(IN_TRANSIT, {"nist-800-53-r5": ["SC-13"], "pci-dss-4.0": ["4.2.1"]})


# -- declared exemptions ------------------------------------------------------------------------
@dataclass(frozen=True)
class ChildExemption(Exemption):
    """A resource the blueprint creates inside a component, matched by `kind` (its type token),
    `component` (the type of the component it is created in) and `name` (a glob over its logical
    name after its component's name and a hyphen)."""

    kind: str = ""
    component: str = ""
    name: str = ""

    @property
    def subject(self) -> str:
        return f"{self.kind} `<component>-{self.name}` in {self.component}"

    def matches(self, rule: str, r: PolicyResource) -> bool:
        component = component_of(r)
        if rule != self.rule or r.type != self.kind or component is None or component[0] != self.component:
            return False
        prefix = component[1] + "-"
        return r.name.startswith(prefix) and fnmatch.fnmatchcase(r.name[len(prefix):], self.name)


_VPC_LINK_HOP = (
    "API Gateway reaches the internal NLB only through the REST API's VPC link (AWS PrivateLink, inside "
    "AWS's network; the NLB's security group admits nothing from the VPC). TLS on this hop needs a "
    "certificate API Gateway trusts for a name the account controls (REST API private integrations verify "
    "the backend certificate against public CAs, and its hostname): a public ACM certificate for "
    "`inference.domainName` in `hostedZoneId`, which the stack config does not require; with one, "
    "PrivateIngress(tls=...) makes the listener TLS and the integrations https://"
)

EXEMPTIONS: tuple[ChildExemption, ...] = declare_exemptions(
    ChildExemption("AIB-143", kind=LISTENER, component="aiblueprints:network:PrivateIngress", name="*listener",
                   reason=_VPC_LINK_HOP),
    ChildExemption("AIB-142", kind=INTEGRATION, component="aiblueprints:apigateway:RestApi", name="*-integration",
                   reason=_VPC_LINK_HOP),
)


def exemption_for(rule: str, r: PolicyResource) -> Optional[ChildExemption]:
    return next((e for e in EXEMPTIONS if e.matches(rule, r)), None)


def component_of(r: PolicyResource) -> Optional[tuple[str, str]]:
    """(type, name) of the component `r` is created in: its parent, read from its URN's type
    chain (`...::aiblueprints:network:PrivateIngress$aws:lb/listener:Listener::name`), so that
    it works for a resource seen alone (CrossGuard) as well as in a plan."""
    if not r.parent:
        return None
    parts = r.urn.split("::")
    chain = parts[2].split("$") if len(parts) >= 4 else []
    return (chain[-2], urn_name(r.parent)) if len(chain) >= 2 else None


# -- shared helpers -------------------------------------------------------------------------------
def _scheme(value: Any) -> Optional[str]:
    """`https` / `http` / another scheme of a URL; None when not a known URL string."""
    if not isinstance(value, str) or not known(value):
        return None
    match = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://", value)
    return match.group(1).lower() if match else None


_MODERN_ELB_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-")


def _modern_elb_policy(policy: Any) -> bool:
    """An ELB security policy whose minimum is TLS 1.2 (the TLS13-1-2/1-3, TLS-1-2 and FS-1-2
    families); the API default when none is set is ELBSecurityPolicy-2016-08 (TLS 1.0)."""
    return is_unknown(policy) or (isinstance(policy, str) and bool(_MODERN_ELB_POLICY.match(policy)))


# ==============================================================================================
# Client-facing TLS
# ==============================================================================================
_WEAK_API_POLICIES = ("TLS_1_0",)


@resource_rule(
    id="AIB-140", scope=PROHIBITION, title="No API Gateway endpoint (REST API or custom domain) accepts TLS below 1.2",
    severity="high", area=AREA, types=(REST_API, API_DOMAIN), controls=TLS_FLOOR, level=always("mandatory"),
)
def api_tls_floor(r: PolicyResource, ctx: RuleContext) -> Result:
    """Clients cross the internet to the API: `securityPolicy` is TLS_1_2 or an enhanced
    `SecurityPolicy_*` policy. Without one, a regional or edge-optimized REST API's execute-api
    endpoint and a custom domain accept TLS 1.0 (a private API defaults to TLS 1.2)."""
    policy = r.get("securityPolicy")
    if is_unknown(policy):
        return ok("security policy computed at apply")
    if not policy:
        types = as_list(r.get("endpointConfiguration", "types"))
        if r.type == REST_API and types == ["PRIVATE"]:
            return ok("private API: API Gateway applies TLS_1_2")
        if r.type == REST_API and truthy(r.get("disableExecuteApiEndpoint")):
            return ok("execute-api endpoint disabled (clients use a custom domain, judged on its own)")
        return fail("securityPolicy not set: API Gateway's default for this endpoint accepts TLS 1.0")
    if policy in _WEAK_API_POLICIES:
        return fail(f"securityPolicy {policy} accepts TLS 1.0")
    return ok(f"securityPolicy {policy}")


# ==============================================================================================
# SIEM, notifications, health checks
# ==============================================================================================
_FIREHOSE_ENDPOINTS = (
    ("splunkConfiguration", "hecEndpoint"),
    ("httpEndpointConfiguration", "url"),
    ("opensearchConfiguration", "clusterEndpoint"),
    ("elasticsearchConfiguration", "clusterEndpoint"),
    ("opensearchserverlessConfiguration", "collectionEndpoint"),
    ("snowflakeConfiguration", "accountUrl"),
)


@resource_rule(
    id="AIB-141", scope=PROHIBITION, title="No Firehose stream delivers logs to a plaintext endpoint: every SIEM endpoint is HTTPS",
    severity="high", area=AREA, types=(FIREHOSE,), controls=IN_TRANSIT, level=always("mandatory"),
)
def siem_endpoint_https(r: PolicyResource, ctx: RuleContext) -> Result:
    """The stream carries the audit trail and the SIEM's token to a Splunk HEC or HTTP endpoint
    (or a search cluster): an `http://` endpoint would expose both on the way. A stream that
    delivers only to S3 uses AWS's HTTPS APIs."""
    endpoints = [(".".join(path), r.get(*path)) for path in _FIREHOSE_ENDPOINTS if is_set(r.get(*path))]
    if not endpoints:
        return ok("delivers to S3 only, through AWS's HTTPS APIs")
    plaintext = [f"{path} {value}" for path, value in endpoints if known(value) and _scheme(value) != "https"]
    if plaintext:
        return fail("not HTTPS: " + "; ".join(plaintext))
    return ok("HTTPS: " + ", ".join(path for path, _ in endpoints))


def _plaintext_subscription(sub: PolicyResource) -> Optional[str]:
    """Why the subscription posts in plaintext, or None."""
    protocol = str(sub.get("protocol") or "").lower()
    endpoint = sub.get("endpoint")
    if protocol == "http":
        return f"protocol http delivers to {endpoint} in plaintext"
    if protocol == "https" and known(endpoint) and _scheme(endpoint) != "https":
        return f"protocol https with endpoint {endpoint}"
    return None


@plan_rule(
    id="AIB-144", scope=PROHIBITION, title="No SNS topic delivers to a plaintext HTTP subscription",
    severity="medium", area=AREA, types=(SNS_TOPIC, SNS_SUBSCRIPTION), controls=IN_TRANSIT, level=always("mandatory"),
)
def sns_subscription_https(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A subscription with protocol `http` posts every alarm and finding in plaintext; `https`
    needs an https:// endpoint. Each offending subscription fails; each topic without one passes."""
    offending: set[str] = set()
    for sub in plan.of_type(SNS_SUBSCRIPTION):
        problem = _plaintext_subscription(sub)
        if problem:
            topic = plan.resolve(sub, "topic", [SNS_TOPIC])
            if topic is not None:
                offending.add(topic.urn)
            yield fail(problem, sub)
    for topic in plan.of_type(SNS_TOPIC):
        if topic.urn not in offending:
            yield ok("no plaintext HTTP subscription", topic)


@resource_rule(
    id="AIB-145", scope=PROHIBITION, title="No Route 53 health check probes an endpoint over plaintext HTTP",
    severity="medium", area=AREA, types=(R53_HEALTH_CHECK,), controls=IN_TRANSIT, level=always("mandatory"),
)
def health_check_https(r: PolicyResource, ctx: RuleContext) -> Result:
    """An HTTP check means the endpoint it probes (in this blueprint, the inference API) answers
    plaintext HTTP from the internet; an HTTPS check also verifies that it serves TLS. Checks
    that send no HTTP request (alarm, calculated, TCP) comply."""
    kind = r.get("type")
    if kind in ("HTTP", "HTTP_STR_MATCH"):
        target = r.get("fqdn") or r.get("ipAddress") or "its endpoint"
        return fail(f"{kind} probe of {target} in plaintext")
    if kind in ("HTTPS", "HTTPS_STR_MATCH"):
        return ok(f"{kind} probe")
    return ok(f"{kind or 'untyped'} check sends no HTTP request")


# ==============================================================================================
# API Gateway to its backends
# ==============================================================================================
def _vpc_link(plan: PolicyPlan, integration: PolicyResource) -> Optional[PolicyResource]:
    return plan.resolve(integration, "connectionId", [VPC_LINK])


def _link_targets(plan: PolicyPlan, link: PolicyResource) -> list[PolicyResource]:
    refs = as_list(link.get("targetArn")) + as_list(link.get("targetArns"))
    found = [lb for lb in (plan.lookup(ref, LOAD_BALANCERS) for ref in refs) if lb is not None]
    if not found and any(is_unknown(ref) for ref in refs):
        found = plan.dependencies_of(link, *LOAD_BALANCERS)
    return found


@plan_rule(
    id="AIB-142", scope=PROHIBITION,
    title="API Gateway integrations call their HTTP backends over HTTPS and verify the certificate",
    severity="high", area=AREA, types=(INTEGRATION, VPC_LINK, LOAD_BALANCER, ALB_LOAD_BALANCER), controls=IN_TRANSIT,
    level=always("mandatory"),
)
def integration_https(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """An HTTP or HTTP_PROXY integration's `uri` is https:// and `tlsConfig.insecureSkipVerification`
    is not true (skipping it admits a man in the middle). A plaintext private integration through
    a VPC link is exempt only as declared in `EXEMPTIONS`, and only while the link targets an
    internal load balancer."""
    for integration in plan.of_type(INTEGRATION):
        kind = integration.get("type")
        if kind not in ("HTTP", "HTTP_PROXY"):
            yield na(f"{kind} integration (API Gateway calls AWS or answers itself)", integration)
            continue
        if truthy(integration.get("tlsConfig", "insecureSkipVerification")):
            yield fail("tlsConfig.insecureSkipVerification is true: the backend's certificate is not verified", integration)
            continue
        uri = integration.get("uri")
        scheme = _scheme(uri)
        if scheme == "https":
            yield ok("HTTPS backend, certificate verified", integration)
        elif scheme is None:
            yield na("uri unknown until apply or a stage variable (the listener it reaches is judged by AIB-143)", integration)
        elif scheme != "http":
            yield fail(f"uri {uri} is not an https:// URL", integration)
        elif integration.get("connectionType") != "VPC_LINK":
            yield fail(f"plaintext HTTP to {uri} across the internet", integration)
        else:
            yield _private_plaintext(plan, integration)


def _private_plaintext(plan: PolicyPlan, integration: PolicyResource) -> Result:
    exemption = exemption_for("AIB-142", integration)
    link = _vpc_link(plan, integration)
    targets = _link_targets(plan, link) if link is not None else []
    if exemption is None:
        return fail("plaintext HTTP through a VPC link, and no declared exemption covers it", integration)
    if link is None or not targets:
        return fail("plaintext HTTP through a VPC link that does not lead to a load balancer of this stack "
                    "(the declared exemption holds only for the stack's internal NLB)", integration)
    public = [lb for lb in targets if not truthy(lb.get("internal"))]
    if public:
        return fail(f"plaintext HTTP to internet-facing load balancer {urn_name(public[0].urn)}", integration)
    return exempt(f"plaintext HTTP through VPC link {urn_name(link.urn)} to {urn_name(targets[0].urn)}; "
                  f"exempt: {exemption.reason}", integration)


# ==============================================================================================
# Load balancer listeners
# ==============================================================================================
_PLAINTEXT = {"HTTP", "TCP", "UDP", "TCP_UDP", "TCP_QUIC"}
_TLS = {"HTTPS", "TLS"}


@plan_rule(
    id="AIB-143", scope=PROHIBITION,
    title="No load balancer listener carries plaintext across a trust boundary; TLS listeners have a certificate and a TLS 1.2+ policy",
    severity="high", area=AREA,
    types=(LISTENER, ALB_LISTENER, LISTENER_RULE, CLASSIC_ELB, LOAD_BALANCER, ALB_LOAD_BALANCER, VPC_LINK, INTEGRATION,
           SECURITY_GROUP, SG_INGRESS, SG_RULE),
    controls=merge(IN_TRANSIT, BOUNDARY), level=always("mandatory"),
)
def listener_tls(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """An HTTPS or TLS listener names a certificate and an ELB security policy with a TLS 1.2
    minimum (without `sslPolicy` the API applies ELBSecurityPolicy-2016-08, TLS 1.0). A plaintext
    listener passes only when it redirects every request to HTTPS, or carries TLS end to end (a
    TCP listener whose only callers, API Gateway integrations through a VPC link, use https://);
    a declared exemption covers it only while its facts hold (internal load balancer, reached
    through a VPC link, no inbound rule on its security groups). Everything else fails: a
    listener that is not exempt is taken to carry data across a trust boundary."""
    for listener in plan.of_type(*LISTENERS):
        yield _judge_listener(plan, listener)
    for elb in plan.of_type(CLASSIC_ELB):
        plain = sorted({str(l.get("lbProtocol", "")).upper() for l in as_list(elb.get("listeners"))
                        if isinstance(l, dict) and str(l.get("lbProtocol", "")).upper() in _PLAINTEXT})
        yield (fail(f"classic load balancer listener(s) over {', '.join(plain)}", elb) if plain
               else ok("classic load balancer listeners use HTTPS/SSL", elb))


def _judge_listener(plan: PolicyPlan, listener: PolicyResource) -> Result:
    lb = plan.resolve(listener, "loadBalancerArn", LOAD_BALANCERS)
    kind = lb.get("loadBalancerType", default="application") if lb is not None else "application"
    if kind == "gateway":
        return na("Gateway Load Balancer listener (GENEVE to appliances; no payload terminates here)", listener)
    protocol = listener.get("protocol")
    if is_unknown(protocol):
        return na("protocol unknown until apply", listener)
    # Without a protocol an Application Load Balancer listens on HTTP.
    protocol = str(protocol or ("HTTP" if kind == "application" else "TCP")).upper()
    if protocol in _TLS:
        return _judge_tls_listener(listener, protocol)
    if protocol == "QUIC":
        return ok("QUIC listener: TLS 1.3 end to end to the targets", listener)
    if protocol == "HTTP" and _redirects_to_https(plan, listener):
        return ok("HTTP listener only redirects to HTTPS", listener)
    if lb is not None and protocol == "TCP" and _tls_end_to_end(plan, lb):
        return ok("TCP listener carrying TLS end to end (its API Gateway integrations use https://)", listener)
    exemption = exemption_for("AIB-143", listener)
    if exemption is None:
        return fail(f"plaintext {protocol} listener", listener)
    broken = _exemption_facts(plan, lb)
    if broken:
        return fail(f"plaintext {protocol} listener; the declared exemption does not hold: {broken}", listener)
    return exempt(f"plaintext {protocol} listener on {urn_name(lb.urn)}; exempt: {exemption.reason}", listener)


def _judge_tls_listener(listener: PolicyResource, protocol: str) -> Result:
    problems = []
    if not is_set(listener.get("certificateArn")):
        problems.append("no certificateArn")
    policy = listener.get("sslPolicy")
    if not is_set(policy):
        problems.append("sslPolicy not set (the API default ELBSecurityPolicy-2016-08 admits TLS 1.0)")
    elif not _modern_elb_policy(policy):
        problems.append(f"sslPolicy {policy} admits TLS below 1.2")
    if problems:
        return fail(f"{protocol} listener: " + "; ".join(problems), listener)
    return ok(f"{protocol} listener with a certificate and {policy}", listener)


def _redirects_to_https(plan: PolicyPlan, listener: PolicyResource) -> bool:
    """Every action of the listener (default and rules) redirects to HTTPS or answers a fixed
    response, and at least one redirects: no request is forwarded in plaintext."""
    actions = [a for a in as_list(listener.get("defaultActions")) if isinstance(a, dict)]
    for rule in plan.of_type(LISTENER_RULE):
        if plan.resolve(rule, "listenerArn", list(LISTENERS)) is listener:
            actions += [a for a in as_list(rule.get("actions")) if isinstance(a, dict)]

    def to_https(action: dict) -> bool:
        return action.get("type") == "redirect" and str(dig(action, "redirect", "protocol", default="")).upper() == "HTTPS"

    return any(to_https(a) for a in actions) and all(to_https(a) or a.get("type") == "fixed-response" for a in actions)


def _links_to(plan: PolicyPlan, lb: PolicyResource) -> list[PolicyResource]:
    return [link for link in plan.of_type(VPC_LINK) if any(t is lb for t in _link_targets(plan, link))]


def _tls_end_to_end(plan: PolicyPlan, lb: PolicyResource) -> bool:
    """The load balancer's only callers are integrations through its VPC links, all https://."""
    links = _links_to(plan, lb)
    callers = [i for i in plan.of_type(INTEGRATION) if any(_vpc_link(plan, i) is link for link in links)]
    return bool(callers) and all(_scheme(i.get("uri")) == "https" for i in callers)


def _exemption_facts(plan: PolicyPlan, lb: Optional[PolicyResource]) -> str:
    """What the VPC-link exemption relies on and the plan breaks; empty when it all holds."""
    if lb is None:
        return "its load balancer is not in the stack"
    if not truthy(lb.get("internal")):
        return f"load balancer {urn_name(lb.urn)} is internet-facing"
    if not _links_to(plan, lb):
        return f"no VPC link of the stack targets {urn_name(lb.urn)}"
    groups = _security_groups(plan, lb)
    if not groups:
        return f"{urn_name(lb.urn)} has no security group of the stack, so anything routed to it reaches the listener"
    opened = [urn_name(g.urn) for g in groups if _admits_inbound(plan, g)]
    if opened:
        return f"security group {', '.join(opened)} admits inbound traffic to the listener"
    return ""


def _security_groups(plan: PolicyPlan, lb: PolicyResource) -> list[PolicyResource]:
    refs = as_list(lb.get("securityGroups"))
    found = [g for g in (plan.lookup(ref, [SECURITY_GROUP]) for ref in refs) if g is not None]
    if not found and any(is_unknown(ref) for ref in refs):
        found = plan.dependencies_of(lb, SECURITY_GROUP)
    return found


def _admits_inbound(plan: PolicyPlan, group: PolicyResource) -> bool:
    """Inline ingress, or a separate ingress rule whose securityGroupId is the group's (by value:
    an id unknown during a preview is not attributed to any group)."""
    if as_list(group.get("ingress")):
        return True
    for rule in plan.of_type(SG_INGRESS, SG_RULE):
        if rule.type == SG_RULE and rule.get("type") != "ingress":
            continue
        if plan.lookup(rule.get("securityGroupId"), [SECURITY_GROUP]) is group:
            return True
    return False


# ==============================================================================================
# Any other URL an input names
# ==============================================================================================
@dataclass(frozen=True)
class NotTransport:
    """`http://` text that is not an endpoint anything connects to, and why."""

    prefix: str
    reason: str


NOT_TRANSPORT: tuple[NotTransport, ...] = (
    NotTransport("http://json-schema.org/", "a JSON Schema `$schema` names the dialect; validators do not fetch it"),
    NotTransport("http://www.w3.org/", "XML namespace and schema identifiers name vocabularies; nothing is fetched"),
)
# Loopback: the request never leaves the host or pod.
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_HTTP_URL = re.compile(r"(?i)\bhttps?://[^\s\"'<>\\]+")


def _urls(value: Any, path: tuple = ()) -> Iterator[tuple[str, str]]:
    """(input path, URL) for every http(s) URL in an input, nested values and text included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _urls(v, path + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _urls(v, path + (i,))
    elif isinstance(value, str) and not is_unknown(value):
        for match in _HTTP_URL.finditer(value):
            yield ".".join(map(str, path)), match.group(0)


def _plaintext(url: str) -> bool:
    if not url.lower().startswith("http://") or any(url.startswith(n.prefix) for n in NOT_TRANSPORT):
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return True
    return host not in _LOOPBACK


@resource_rule(
    id="AIB-146", scope=PROHIBITION, title="No resource is configured with a plaintext http:// endpoint",
    severity="medium", area=AREA,
    types=(LAMBDA_FUNCTION, OIDC_PROVIDER, API_DESTINATION, USER_POOL_CLIENT, API_MODEL, *K8S_URL_BEARERS),
    controls=IN_TRANSIT, level=always("mandatory"),
)
def no_plaintext_urls(r: PolicyResource, ctx: RuleContext) -> Result:
    """Every URL in the inputs of the resources that name endpoints (Lambda environment, OIDC
    issuers, EventBridge API destinations, Cognito callback URLs, Kubernetes workloads and
    config maps) is https://, other than loopback and the identifiers in `NOT_TRANSPORT`. A
    JWT issuer over http:// lets anyone on the path swap the signing keys; a callback over
    http:// leaks authorization codes."""
    found = list(_urls(dict(r.inputs)))
    plaintext = [f"{path}: {url}" for path, url in found if _plaintext(url)]
    if plaintext:
        return fail("plaintext http:// endpoint in " + "; ".join(plaintext))
    endpoints = [path for path, url in found if url.lower().startswith("https://")]
    return ok(f"https:// endpoints in {', '.join(sorted(set(endpoints)))}") if endpoints \
        else na("no endpoint URL in its inputs")
