"""Fixtures of the transport rules (AIB-140 to AIB-146): TLS to the API, HTTPS to the SIEM, SNS
and health-check endpoints, API Gateway backends, load balancer listeners and any other URL,
with the declared exemptions of the VPC-link hop (reported `exempt`, never a silent pass) and
the plans where an exemption's facts no longer hold."""

from __future__ import annotations

from typing import Optional

from policies.rules._aws import (
    FIREHOSE, LAMBDA_FUNCTION as LAMBDA, LOAD_BALANCER as LB, R53_HEALTH_CHECK as HEALTH_CHECK, REST_API,
    SECURITY_GROUP as SG, SG_INGRESS, SNS_TOPIC,
)
from policies.rules.transport import (
    API_DOMAIN, API_MODEL, CLASSIC_ELB, INTEGRATION, LISTENER, SNS_SUBSCRIPTION, USER_POOL_CLIENT, VPC_LINK,
)
from tests.policies.plans import PlanBuilder, Ref
from tests.policies.scenarios import FAIL, NA, PASS, scenario

EXEMPT = "exempt"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown string during a preview
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/1111"
INGRESS = "aiblueprints:network:PrivateIngress"
API = "aiblueprints:apigateway:RestApi"


def private_ingress(b: PlanBuilder, name: str = "demo-ingress", *, internal: bool = True, link: bool = True,
                    sg_ingress: bool = False, listener: Optional[dict] = None, component: str = INGRESS) -> dict[str, Ref]:
    """The PrivateIngress shape: closed security group, internal NLB, listener, VPC link."""
    comp = b.component(component, name)
    sg = b.add(SG, f"{name}-nlb-sg", {"vpcId": "vpc-1", "description": "nlb"}, parent=comp)
    if sg_ingress:
        b.add(SG_INGRESS, f"{name}-from-vpc", {"securityGroupId": sg.id, "cidrIpv4": "10.40.0.0/16",
                                                "ipProtocol": "tcp", "fromPort": 80, "toPort": 80}, parent=comp, deps=[sg])
    # The nodes' rule references the NLB's group as its source: that is not inbound to the NLB.
    b.add(SG_INGRESS, f"{name}-nodes-from-nlb", {"securityGroupId": "sg-nodes", "referencedSecurityGroupId": sg.id,
                                                  "ipProtocol": "tcp", "fromPort": 30080, "toPort": 30080},
          parent=comp, deps=[sg])
    lb = b.add(LB, f"{name}-nlb", {"internal": internal, "loadBalancerType": "network", "securityGroups": [sg.id]},
               parent=comp, deps=[sg])
    refs = {"component": comp, "sg": sg, "lb": lb}
    refs["listener"] = b.add(LISTENER, f"{name}-listener", {
        "loadBalancerArn": lb.arn, "port": 80, "protocol": "TCP", **(listener or {}),
        "defaultActions": [{"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:tg/x"}]},
        parent=comp, deps=[lb])
    if link:
        refs["link"] = b.add(VPC_LINK, f"{name}-vpc-link", {"name": name, "targetArn": lb.arn}, parent=comp, deps=[lb])
    return refs


def integration(b: PlanBuilder, name: str, uri: str, *, link: Optional[Ref] = None, parent: Optional[Ref] = None,
                **inputs) -> Ref:
    base = {"type": "HTTP_PROXY", "httpMethod": "POST", "integrationHttpMethod": "POST", "uri": uri,
            "connectionType": "VPC_LINK" if link else "INTERNET"}
    if link:
        base["connectionId"] = link.id
    return b.add(INTEGRATION, name, {**base, **inputs}, parent=parent, deps=[link] if link else [])


# ==============================================================================================
# AIB-140: TLS 1.2+ to the API
# ==============================================================================================
@scenario("AIB-140", "enhanced-policy-private-api-and-tls12-domain", {"api": PASS, "internal-api": PASS, "domain": PASS})
def _(b):
    b.add(REST_API, "api", {"endpointConfiguration": {"types": "REGIONAL"},
                            "securityPolicy": "SecurityPolicy_TLS13_1_2_2021_06", "endpointAccessMode": "STRICT"})
    b.add(REST_API, "internal-api", {"endpointConfiguration": {"types": "PRIVATE"}})  # private APIs get TLS_1_2
    b.add(API_DOMAIN, "domain", {"domainName": "api.example.com", "securityPolicy": "TLS_1_2"})


@scenario("AIB-140", "default-or-tls10-endpoints", {"api": FAIL, "domain-default": FAIL, "domain-tls10": FAIL})
def _(b):
    b.add(REST_API, "api", {"endpointConfiguration": {"types": "REGIONAL"}})
    b.add(API_DOMAIN, "domain-default", {"domainName": "a.example.com"})
    b.add(API_DOMAIN, "domain-tls10", {"domainName": "b.example.com", "securityPolicy": "TLS_1_0"})


# ==============================================================================================
# AIB-141: SIEM endpoints
# ==============================================================================================
@scenario("AIB-141", "https-hec-https-endpoint-and-s3-archive", {"splunk": PASS, "http": PASS, "archive": PASS})
def _(b):
    b.add(FIREHOSE, "splunk", {"destination": "splunk",
                               "splunkConfiguration": {"hecEndpoint": "https://splunk.example.com:8088"}})
    b.add(FIREHOSE, "http", {"destination": "http_endpoint",
                             "httpEndpointConfiguration": {"url": "https://siem.example.com/ingest"}})
    b.add(FIREHOSE, "archive", {"destination": "extended_s3", "extendedS3Configuration": {"bucketArn": "arn:aws:s3:::a"}})


@scenario("AIB-141", "plaintext-hec-and-endpoint", {"splunk": FAIL, "http": FAIL})
def _(b):
    b.add(FIREHOSE, "splunk", {"destination": "splunk",
                               "splunkConfiguration": {"hecEndpoint": "http://splunk.example.com:8088"}})
    b.add(FIREHOSE, "http", {"destination": "http_endpoint",
                             "httpEndpointConfiguration": {"url": "HTTP://siem.example.com/ingest"}})


# ==============================================================================================
# AIB-142: API Gateway backends
# ==============================================================================================
@scenario("AIB-142", "https-backends-and-aws-integrations",
          {"public-backend": PASS, "private-tls": PASS, "lambda": NA, "preview": NA})
def _(b):
    integration(b, "public-backend", "https://backend.example.com/predict")
    refs = private_ingress(b, listener={"protocol": "TLS", "port": 443, "certificateArn": CERT,
                                        "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"})
    integration(b, "private-tls", "https://api.example.com:443/predict", link=refs["link"],
                tlsConfig={"insecureSkipVerification": False})
    b.add(INTEGRATION, "lambda", {"type": "AWS_PROXY", "uri": "arn:aws:apigateway:eu-west-1:lambda:path/fn"})
    integration(b, "preview", UNKNOWN, link=refs["link"])  # the NLB's DNS name is unknown until apply


@scenario("AIB-142", "declared-vpc-link-hop-is-exempt",
          {"demo-api-predict-integration": EXEMPT, "demo-api-health-integration": EXEMPT})
def _(b):
    refs = private_ingress(b)
    api = b.component(API, "demo-api")
    for path in ("predict", "health"):
        integration(b, f"demo-api-{path}-integration", f"http://demo-nlb.elb.eu-west-1.amazonaws.com:80/{path}",
                    link=refs["link"], parent=api)


@scenario("AIB-142", "plaintext-unverified-or-undeclared",
          {"internet": FAIL, "unverified": FAIL, "outside-the-component": FAIL, "demo-api-to-public-lb-integration": FAIL})
def _(b):
    integration(b, "internet", "http://backend.example.com/predict")
    integration(b, "unverified", "https://backend.example.com/predict", tlsConfig={"insecureSkipVerification": True})
    refs = private_ingress(b)
    integration(b, "outside-the-component", "http://demo-nlb:80/predict", link=refs["link"])
    public = private_ingress(b, "public-ingress", internal=False)
    api = b.component(API, "demo-api")
    integration(b, "demo-api-to-public-lb-integration", "http://public-nlb:80/predict", link=public["link"], parent=api)


# ==============================================================================================
# AIB-143: load balancer listeners
# ==============================================================================================
@scenario("AIB-143", "tls-listener-https-redirect-and-tls-passthrough",
          {"tls-ingress-listener": PASS, "alb-http": PASS, "passthrough-listener": PASS})
def _(b):
    private_ingress(b, "tls-ingress", listener={"protocol": "TLS", "port": 443, "certificateArn": CERT,
                                                 "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"})
    alb = b.add(LB, "alb", {"internal": True, "loadBalancerType": "application", "securityGroups": ["sg-1"]})
    b.add(LISTENER, "alb-http", {"loadBalancerArn": alb.arn, "port": 80, "protocol": "HTTP", "defaultActions": [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]}, deps=[alb])
    # A TCP listener whose API Gateway callers all speak https://: the pods terminate TLS.
    refs = private_ingress(b, "passthrough", component="aiblueprints:network:OtherIngress")
    integration(b, "passthrough-call", "https://model.example.com:443/predict", link=refs["link"])


@scenario("AIB-143", "declared-vpc-link-listener-is-exempt", {"demo-ingress-listener": EXEMPT})
def _(b):
    private_ingress(b)


@scenario("AIB-143", "declared-listener-during-a-preview", {"demo-ingress-listener": EXEMPT})
def _(b):
    """Ids unknown until apply: the links resolve through dependencies, and an ingress rule whose
    group id is unknown is not taken to open the load balancer's group."""
    comp = b.component(INGRESS, "demo-ingress")
    sg = b.add(SG, "demo-ingress-nlb-sg", {"vpcId": UNKNOWN}, parent=comp)
    b.add(SG_INGRESS, "demo-ingress-nodes-from-nlb", {"securityGroupId": UNKNOWN, "referencedSecurityGroupId": UNKNOWN},
          parent=comp, deps=[sg])
    lb = b.add(LB, "demo-ingress-nlb", {"internal": True, "loadBalancerType": "network", "securityGroups": [UNKNOWN]},
               parent=comp, deps=[sg])
    b.add(LISTENER, "demo-ingress-listener", {"loadBalancerArn": UNKNOWN, "port": 80, "protocol": "TCP"},
          parent=comp, deps=[lb])
    b.add(VPC_LINK, "demo-ingress-vpc-link", {"targetArn": UNKNOWN}, parent=comp, deps=[lb])


@scenario("AIB-143", "weak-tls-and-plaintext-listeners",
          {"no-cert-listener": FAIL, "old-policy-listener": FAIL, "plain-listener": FAIL, "classic": FAIL})
def _(b):
    private_ingress(b, "no-cert", listener={"protocol": "TLS", "port": 443})
    private_ingress(b, "old-policy", listener={"protocol": "TLS", "port": 443, "certificateArn": CERT,
                                               "sslPolicy": "ELBSecurityPolicy-TLS13-1-0-2021-06"})
    private_ingress(b, "plain", component="aiblueprints:network:OtherIngress")  # no exemption for this component
    b.add(CLASSIC_ELB, "classic", {"listeners": [{"lbProtocol": "http", "lbPort": 80, "instancePort": 8080,
                                                  "instanceProtocol": "http"}]})


@scenario("AIB-143", "declared-listener-whose-facts-do-not-hold",
          {"open-ingress-listener": FAIL, "unlinked-ingress-listener": FAIL, "public-ingress-listener": FAIL})
def _(b):
    private_ingress(b, "open-ingress", sg_ingress=True)  # the VPC can reach the plaintext listener
    private_ingress(b, "unlinked-ingress", link=False)  # no VPC link: something else calls it
    private_ingress(b, "public-ingress", internal=False)


# ==============================================================================================
# AIB-144: SNS subscriptions
# ==============================================================================================
@scenario("AIB-144", "https-and-email-subscriptions", {"alarms": PASS})
def _(b):
    topic = b.add(SNS_TOPIC, "alarms", {"kmsMasterKeyId": "alias/sns"})
    b.add(SNS_SUBSCRIPTION, "pager", {"topic": topic.arn, "protocol": "https", "endpoint": "https://pager.example.com/hook"})
    b.add(SNS_SUBSCRIPTION, "oncall", {"topic": topic.arn, "protocol": "email", "endpoint": "oncall@example.com"})


@scenario("AIB-144", "http-subscription", {"pager": FAIL, "mislabelled": FAIL, "quiet": PASS})
def _(b):
    topic = b.add(SNS_TOPIC, "alarms", {})
    b.add(SNS_TOPIC, "quiet", {})
    b.add(SNS_SUBSCRIPTION, "pager", {"topic": topic.arn, "protocol": "http", "endpoint": "http://pager.example.com/hook"})
    b.add(SNS_SUBSCRIPTION, "mislabelled", {"topic": topic.arn, "protocol": "https", "endpoint": "http://x.example.com"})


# ==============================================================================================
# AIB-145: Route 53 health checks
# ==============================================================================================
@scenario("AIB-145", "https-and-alarm-checks", {"https": PASS, "alarm": PASS})
def _(b):
    b.add(HEALTH_CHECK, "https", {"type": "HTTPS", "fqdn": "abc.execute-api.eu-west-1.amazonaws.com", "port": 443,
                                  "resourcePath": "/v1/health", "enableSni": True})
    b.add(HEALTH_CHECK, "alarm", {"type": "CLOUDWATCH_METRIC", "cloudwatchAlarmName": "no-healthy-backend"})


@scenario("AIB-145", "plaintext-http-check", {"http": FAIL, "match": FAIL})
def _(b):
    b.add(HEALTH_CHECK, "http", {"type": "HTTP", "fqdn": "api.example.com", "port": 80, "resourcePath": "/v1/health"})
    b.add(HEALTH_CHECK, "match", {"type": "HTTP_STR_MATCH", "ipAddress": "203.0.113.10", "searchString": "ok"})


# ==============================================================================================
# AIB-146: any other URL
# ==============================================================================================
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _deployment(b: PlanBuilder, name: str, env: dict[str, str]) -> Ref:
    return b.add(DEPLOYMENT, name, {"metadata": {"name": name, "namespace": "serving"}, "spec": {"template": {"spec": {
        "containers": [{"name": "app", "image": "x", "env": [{"name": k, "value": v} for k, v in env.items()]}]}}}})


@scenario("AIB-146", "https-endpoints-identifiers-and-loopback",
          {"jwt": PASS, "schema": NA, "sidecar": NA})
def _(b):
    b.add(LAMBDA, "jwt", {"environment": {"variables": {"JWT_ISSUER": "https://login.example.com/"}}})
    b.add(API_MODEL, "schema", {"schema": '{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}'})
    _deployment(b, "sidecar", {"METRICS_URL": "http://localhost:9090/metrics"})


@scenario("AIB-146", "plaintext-issuer-callback-and-workload-endpoint", {"jwt": FAIL, "client": FAIL, "worker": FAIL})
def _(b):
    b.add(LAMBDA, "jwt", {"environment": {"variables": {"JWT_ISSUER": "http://login.example.com/"}}})
    b.add(USER_POOL_CLIENT, "client", {"callbackUrls": ["https://app.example.com/cb", "http://app.example.com/cb"]})
    _deployment(b, "worker", {"MODEL_STORE": "http://localhost.attacker.example/models"})
