"""One compliant and one non-compliant fixture per rule (more where a rule has branches), each
a small hand-built plan and the exact findings the rule must return: resource name -> outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

from policies.rules._aws import (
    IGW, NAT, ROUTE, ROUTE_TABLE, VPC_ENDPOINT as ENDPOINT, SECURITY_GROUP as SG, SG_RULE,
    SG_INGRESS as SG_IN, SUBNET, EKS_CLUSTER as EKS, EKS_NODE_GROUP as NODE_GROUP, LOAD_BALANCER as LB,
    KMS_KEY as KEY, LOG_GROUP, SUBSCRIPTION_FILTER as FILTER, LAUNCH_TEMPLATE as LT, FSX_LUSTRE as FSX,
    ECR_REPOSITORY as ECR, SNS_TOPIC as SNS, FIREHOSE, LAMBDA_FUNCTION as LAMBDA, LAMBDA_URL, REST_API,
    API_STAGE as STAGE, API_METHOD as METHOD, API_RESOURCE, API_METHOD_SETTINGS as METHOD_SETTINGS,
    API_USAGE_PLAN as USAGE_PLAN, WEB_ACL, WEB_ACL_ASSOCIATION as WEB_ACL_ASSOC, WEB_ACL_LOGGING,
    R53_HEALTH_CHECK as HEALTH_CHECK, R53_RECORD as RECORD, METRIC_ALARM as ALARM, IAM_POLICY,
    IAM_ROLE as ROLE,
)
from tests.policies.plans import (
    ACCOUNT, KEY_ARN, LOG_DELIVERY, TLS_DENY, PlanBuilder, Ref, access_log_bucket, bucket, policy, trail, vpc,
)

Expect = Union[dict[str, str], list[tuple[str, str]]]


@dataclass(frozen=True)
class Scenario:
    rule: str
    name: str
    build: Callable[[PlanBuilder], None]
    expect: Expect
    tier: str = "restricted"
    residency: str = "eu"

    @property
    def expected(self) -> list[tuple[str, str]]:
        items = self.expect.items() if isinstance(self.expect, dict) else self.expect
        return sorted(items)

    @property
    def compliant(self) -> bool:
        statuses = [status for _, status in self.expected]
        return "pass" in statuses and "fail" not in statuses

    @property
    def violating(self) -> bool:
        return any(status == "fail" for _, status in self.expected)

    def __str__(self) -> str:
        return f"{self.rule}-{self.name}"


SCENARIOS: list[Scenario] = []
PASS, FAIL, NA = "pass", "fail", "not-applicable"
STACK = "ai-blueprints-test"


def scenario(rule: str, name: str, expect: Expect, tier: str = "restricted", residency: str = "eu"):
    def register(fn: Callable[[PlanBuilder], None]) -> Callable[[PlanBuilder], None]:
        SCENARIOS.append(Scenario(rule, name, fn, expect, tier, residency))
        return fn
    return register


# -- shared shapes ------------------------------------------------------------------------------
TRAINING_VPC = "aiblueprints:network:IsolatedVpc"


def training(b: PlanBuilder) -> tuple[Ref, Ref]:
    comp = b.component(TRAINING_VPC, "demo-training")
    return comp, vpc(b, "demo-training", parent=comp)


def inference_vpc_with_igw(b: PlanBuilder) -> None:
    comp = b.component(TRAINING_VPC, "demo-inf-eu-west-1-net")
    v = vpc(b, "demo-inf-eu-west-1-net", parent=comp)
    b.add(IGW, "demo-inf-eu-west-1-net-igw", {"vpcId": v.id}, parent=comp, deps=[v])


def stage(b: PlanBuilder, name: str = "api", region: str = "eu-west-1", **inputs) -> tuple[Ref, Ref]:
    api = b.add(REST_API, f"{name}-api", {"name": name}, region=region)
    st = b.add(STAGE, f"{name}-stage", {"restApi": api.id, "stageName": "v1", **inputs}, deps=[api], region=region)
    return api, st


def log_group(b: PlanBuilder, name: str, **inputs) -> Ref:
    return b.add(LOG_GROUP, name.strip("/").replace("/", "-"), {"name": name, **inputs}, id=name)


SIEM_STREAM = f"arn:aws:firehose:eu-west-1:{ACCOUNT}:deliverystream/siem"


def siem_stream(b: PlanBuilder) -> str:
    """The SIEM Firehose stream `siem` (added once per plan); its ARN."""
    if not any(s["newState"]["type"] == FIREHOSE and s["urn"].endswith("::siem") for s in b.steps):
        b.add(FIREHOSE, "siem", {"name": "siem", "destination": "splunk"})
    return SIEM_STREAM


def subscribe(b: PlanBuilder, group: str, destination: Optional[str] = None) -> None:
    """A subscription filter shipping `group` to the SIEM stream (or to `destination`)."""
    b.add(FILTER, f"ship-{group.strip('/').replace('/', '-')}",
          {"logGroup": group, "destinationArn": destination or siem_stream(b), "filterPattern": ""})


RESTRICTED_GROUPS = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                     "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAnonymousIpList"]


def web_acl(b: PlanBuilder, name: str = "acl", groups=tuple(RESTRICTED_GROUPS), countries=("IE", "DE"),
            rate: bool = True, override: str = "none") -> Ref:
    rules = []
    if countries:
        rules.append({"name": "geo", "priority": 0, "action": {"block": {}},
                      "statement": {"notStatement": {"statement": {"geoMatchStatement": {"countryCodes": list(countries)}}}}})
    for g in groups:
        rules.append({"name": g, "priority": len(rules), "overrideAction": {override: {}},
                      "statement": {"managedRuleGroupStatement": {"name": g, "vendorName": "AWS"}}})
    if rate:
        rules.append({"name": "rate", "priority": len(rules), "action": {"block": {}},
                      "statement": {"rateBasedStatement": {"aggregateKeyType": "IP", "limit": 2000}}})
    return b.add(WEB_ACL, name, {"defaultAction": {"allow": {}}, "scope": "REGIONAL", "rules": rules})


# ==============================================================================================
# Network isolation
# ==============================================================================================
@scenario("AIB-001", "air-gapped-training-vpc-no-gateway", {"demo-training-vpc": PASS})
def _(b):
    training(b)
    inference_vpc_with_igw(b)  # the inference VPC may have a gateway


@scenario("AIB-001", "internet-gateway-in-training-component", {"demo-training-igw": FAIL})
def _(b):
    comp, v = training(b)
    b.add(IGW, "demo-training-igw", {"vpcId": v.id}, parent=comp, deps=[v])


@scenario("AIB-001", "gateway-attached-to-training-vpc-from-outside", {"extra-igw": FAIL})
def _(b):
    _, v = training(b)
    b.add(IGW, "extra-igw", {"vpcId": v.id}, deps=[v])


@scenario("AIB-002", "training-vpc-without-nat", {"demo-training-vpc": PASS})
def _(b):
    training(b)


@scenario("AIB-002", "nat-in-a-training-subnet", {"nat-0": FAIL})
def _(b):
    training(b)
    b.add(NAT, "nat-0", {"subnetId": "demo-training-private-0", "allocationId": "eipalloc-1"})


@scenario("AIB-003", "only-local-routes", {"demo-training-vpc": PASS})
def _(b):
    comp, v = training(b)
    rt = b.add(ROUTE_TABLE, "demo-training-rt", {"vpcId": v.id}, parent=comp, deps=[v])
    b.add(ROUTE, "demo-training-peer", {"routeTableId": rt.id, "destinationCidrBlock": "10.9.0.0/16",
                                        "vpcPeeringConnectionId": "pcx-1"}, parent=comp, deps=[rt])


@scenario("AIB-003", "default-route-in-training", {"demo-training-default": FAIL, "demo-training-rt": FAIL})
def _(b):
    comp, v = training(b)
    rt = b.add(ROUTE_TABLE, "demo-training-rt", {"vpcId": v.id, "routes": [{"ipv6CidrBlock": "::/0", "egressOnlyGatewayId": "eigw-1"}]},
               parent=comp, deps=[v])
    b.add(ROUTE, "demo-training-default", {"routeTableId": rt.id, "destinationCidrBlock": "0.0.0.0/0",
                                           "natGatewayId": "nat-1"}, parent=comp, deps=[rt])


def inference_net(b: PlanBuilder, name: str = "demo-inf-euw1-net") -> tuple[Ref, Ref]:
    comp = b.component(TRAINING_VPC, name)
    return comp, vpc(b, name, parent=comp)


@scenario("AIB-012", "inference-vpc-without-gateway", {"demo-inf-euw1-net-vpc": PASS})
def _(b):
    inference_net(b)
    training(b)
    b.add(IGW, "demo-training-igw", {"vpcId": "demo-training-vpc"})  # AIB-001's, not this rule's


@scenario("AIB-012", "internet-gateway-in-an-inference-vpc", {"demo-inf-eu-west-1-net-igw": FAIL})
def _(b):
    inference_vpc_with_igw(b)


@scenario("AIB-013", "inference-vpc-without-nat", {"demo-inf-euw1-net-vpc": PASS})
def _(b):
    inference_net(b)


@scenario("AIB-013", "nat-in-an-inference-subnet", {"nat-0": FAIL})
def _(b):
    comp, v = inference_net(b)
    b.add(SUBNET, "demo-inf-euw1-net-public-0", {"vpcId": v.id}, parent=comp, deps=[v])
    b.add(NAT, "nat-0", {"subnetId": "demo-inf-euw1-net-public-0", "allocationId": "eipalloc-1"})


@scenario("AIB-014", "only-local-routes-in-inference", {"demo-inf-euw1-net-vpc": PASS})
def _(b):
    comp, v = inference_net(b)
    b.add(ROUTE_TABLE, "demo-inf-euw1-net-rt", {"vpcId": v.id}, parent=comp, deps=[v])


@scenario("AIB-014", "default-route-in-inference", {"demo-inf-euw1-net-default": FAIL})
def _(b):
    comp, v = inference_net(b)
    rt = b.add(ROUTE_TABLE, "demo-inf-euw1-net-rt", {"vpcId": v.id}, parent=comp, deps=[v])
    b.add(ROUTE, "demo-inf-euw1-net-default", {"routeTableId": rt.id, "destinationCidrBlock": "0.0.0.0/0",
                                               "transitGatewayId": "tgw-1"}, parent=comp, deps=[rt])
    training(b)


def _endpoints(b: PlanBuilder, services: tuple[str, ...]) -> None:
    comp, v = training(b)
    b.add(ENDPOINT, "demo-training-s3", {"vpcId": v.id, "serviceName": "com.amazonaws.eu-west-1.s3",
                                         "vpcEndpointType": "Gateway"}, parent=comp, deps=[v])
    for service in services:
        b.add(ENDPOINT, f"demo-training-{service.replace('.', '-')}",
              {"vpcId": v.id, "serviceName": f"com.amazonaws.eu-west-1.{service}", "vpcEndpointType": "Interface",
               "privateDnsEnabled": True}, parent=comp, deps=[v])


NODE_SERVICES = ("ecr.api", "ecr.dkr", "ec2", "sts", "logs")


@scenario("AIB-004", "s3-gateway-and-interface-endpoints", {"demo-training-vpc": PASS})
def _(b):
    _endpoints(b, NODE_SERVICES)


@scenario("AIB-004", "no-interface-endpoints", {"demo-training-vpc": FAIL})
def _(b):
    _endpoints(b, ())


@scenario("AIB-004", "only-a-bedrock-endpoint", {"demo-training-vpc": FAIL})
def _(b):
    _endpoints(b, ("bedrock-runtime",))


@scenario("AIB-004", "no-ecr-dkr-endpoint", {"demo-training-vpc": FAIL})
def _(b):
    _endpoints(b, tuple(s for s in NODE_SERVICES if s != "ecr.dkr"))


@scenario("AIB-005", "ingress-from-the-vpc-only", {"app-sg": PASS, "app-in": PASS, "app-egress": NA})
def _(b):
    b.add(SG, "app-sg", {"vpcId": "vpc-1", "ingress": [{"cidrBlocks": ["10.0.0.0/16"], "fromPort": 443, "toPort": 443, "protocol": "tcp"}]})
    b.add(SG_IN, "app-in", {"securityGroupId": "app-sg", "cidrIpv4": "10.0.0.0/16", "ipProtocol": "tcp"})
    b.add(SG_RULE, "app-egress", {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "securityGroupId": "app-sg",
                                  "fromPort": 0, "toPort": 0, "protocol": "-1"})


@scenario("AIB-005", "ingress-from-the-internet", {"open-sg": FAIL, "open-in-v6": FAIL, "open-rule": FAIL})
def _(b):
    b.add(SG, "open-sg", {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 22, "toPort": 22, "protocol": "tcp"}]})
    b.add(SG_IN, "open-in-v6", {"securityGroupId": "open-sg", "cidrIpv6": "::/0", "ipProtocol": "tcp"})
    b.add(SG_RULE, "open-rule", {"type": "ingress", "cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"], "securityGroupId": "x",
                                 "fromPort": 443, "toPort": 443, "protocol": "tcp"})


@scenario("AIB-006", "default-sg-adopted-and-empty", {"net-default-sg": PASS})
def _(b):
    vpc(b, "net", default_sg={"ingress": [], "egress": []})


@scenario("AIB-006", "default-sg-with-rules-or-unmanaged", {"a-default-sg": FAIL, "b-vpc": FAIL})
def _(b):
    vpc(b, "a", default_sg={"ingress": [{"self": True, "protocol": "-1", "fromPort": 0, "toPort": 0}], "egress": []})
    vpc(b, "b")


@scenario("AIB-007", "flow-log-all-traffic", {"net-vpc": PASS})
def _(b):
    vpc(b, "net")


@scenario("AIB-007", "flow-log-rejects-only-or-missing", {"a-vpc": FAIL, "b-vpc": FAIL})
def _(b):
    vpc(b, "a", flow_log="REJECT")
    vpc(b, "b", flow_log=None)


@scenario("AIB-008", "private-subnets", {"net-private-0": PASS, "net-private-1": PASS})
def _(b):
    vpc(b, "net", flow_log=None)


@scenario("AIB-008", "public-ip-on-launch", {"public-0": FAIL})
def _(b):
    b.add(SUBNET, "public-0", {"vpcId": "vpc-1", "cidrBlock": "10.0.9.0/24", "mapPublicIpOnLaunch": True})


def _cluster(b: PlanBuilder, name: str, **vpc_config) -> Ref:
    return b.add(EKS, name, {"name": name, "roleArn": "arn:aws:iam::1:role/eks",
                             "vpcConfig": {"subnetIds": ["subnet-1"], **vpc_config}})


@scenario("AIB-009", "private-endpoint-on", {"c1": PASS})
def _(b):
    _cluster(b, "c1", endpointPrivateAccess=True, endpointPublicAccess=False)


@scenario("AIB-009", "private-endpoint-off", {"c1": FAIL})
def _(b):
    _cluster(b, "c1", endpointPrivateAccess=False, endpointPublicAccess=True)


@scenario("AIB-010", "private-only-on-restricted", {"c1": PASS})
def _(b):
    _cluster(b, "c1", endpointPrivateAccess=True, endpointPublicAccess=False)


@scenario("AIB-010", "public-endpoint-on-restricted", {"c1": FAIL, "c2": FAIL})
def _(b):
    _cluster(b, "c1", endpointPrivateAccess=True, endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"])
    _cluster(b, "c2", endpointPrivateAccess=True)  # unset: EKS makes it public


@scenario("AIB-010", "allowlisted-on-internal", {"c1": PASS}, tier="internal")
def _(b):
    _cluster(b, "c1", endpointPrivateAccess=True, endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"])


@scenario("AIB-010", "open-to-the-world-on-internal", {"c1": FAIL, "c2": FAIL}, tier="internal")
def _(b):
    _cluster(b, "c1", endpointPrivateAccess=True, endpointPublicAccess=True)
    _cluster(b, "c2", endpointPrivateAccess=True, endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"])


@scenario("AIB-011", "internal-nlb", {"nlb": PASS})
def _(b):
    b.add(LB, "nlb", {"internal": True, "loadBalancerType": "network"})


@scenario("AIB-011", "internet-facing-nlb", {"nlb": FAIL})
def _(b):
    b.add(LB, "nlb", {"internal": False, "loadBalancerType": "network"})


# ==============================================================================================
# Encryption
# ==============================================================================================
@scenario("AIB-020", "sse-configured", {"data": PASS, "logs": PASS})
def _(b):
    bucket(b, "data")
    access_log_bucket(b, "logs")


@scenario("AIB-020", "no-sse-configuration", {"data": FAIL})
def _(b):
    bucket(b, "data", sse=None)


@scenario("AIB-021", "cmk-and-sse-s3-access-log-target", {"data": PASS, "access-logs": PASS})
def _(b):
    bucket(b, "data")
    access_log_bucket(b, "access-logs")


@scenario("AIB-021", "aes256-or-keyless-kms-or-kms-log-target", {"aes": FAIL, "keyless": FAIL, "kms-log-target": FAIL, "bare": FAIL})
def _(b):
    bucket(b, "aes", sse="AES256", key=False)  # AES256 without being an access-log target
    bucket(b, "keyless", sse="aws:kms", key=False)
    access_log_bucket(b, "kms-log-target", sse="aws:kms")
    bucket(b, "bare", sse=None)


@scenario("AIB-022", "rotation-on-asymmetric-skipped", {"k1": PASS, "signing": NA})
def _(b):
    b.add(KEY, "k1", {"enableKeyRotation": True, "customerMasterKeySpec": "SYMMETRIC_DEFAULT"})
    b.add(KEY, "signing", {"enableKeyRotation": False, "customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"})


@scenario("AIB-022", "rotation-off", {"k1": FAIL, "k2": FAIL})
def _(b):
    b.add(KEY, "k1", {"enableKeyRotation": False})
    b.add(KEY, "k2", {})


@scenario("AIB-023", "log-group-with-cmk", {"aws-app": PASS})
def _(b):
    log_group(b, "/aws/app", kmsKeyId=KEY_ARN, retentionInDays=2557)


@scenario("AIB-023", "log-group-without-cmk", {"aws-app": FAIL})
def _(b):
    log_group(b, "/aws/app", retentionInDays=2557)


@scenario("AIB-024", "secrets-envelope-encrypted", {"c1": PASS})
def _(b):
    b.add(EKS, "c1", {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}}})


@scenario("AIB-024", "no-secrets-encryption", {"c1": FAIL, "c2": FAIL})
def _(b):
    b.add(EKS, "c1", {})
    b.add(EKS, "c2", {"encryptionConfig": {"resources": ["secrets"], "provider": {}}})


def _lt(b: PlanBuilder, name: str, ebs: Optional[dict], **extra) -> Ref:
    inputs = {"metadataOptions": {"httpTokens": "required"}, **extra}
    if ebs is not None:
        inputs["blockDeviceMappings"] = [{"deviceName": "/dev/xvda", "ebs": ebs}]
    return b.add(LT, name, inputs)


@scenario("AIB-025", "volumes-encrypted-with-cmk", {"gpu-lt": PASS, "vol": PASS})
def _(b):
    _lt(b, "gpu-lt", {"encrypted": "true", "kmsKeyId": KEY_ARN, "volumeSize": 200})
    b.add("aws:ebs/volume:Volume", "vol", {"encrypted": True, "kmsKeyId": KEY_ARN, "size": 10})


@scenario("AIB-025", "aws-managed-key-is-enough-on-public", {"gpu-lt": PASS}, tier="public")
def _(b):
    _lt(b, "gpu-lt", {"encrypted": "true", "volumeSize": 200})


@scenario("AIB-025", "unencrypted-undeclared-or-keyless", {"plain-lt": FAIL, "bare-lt": FAIL, "keyless-lt": FAIL})
def _(b):
    _lt(b, "plain-lt", {"encrypted": "false"})
    _lt(b, "bare-lt", None)
    _lt(b, "keyless-lt", {"encrypted": "true"})


@scenario("AIB-026", "lustre-with-cmk", {"fs": PASS})
def _(b):
    b.add(FSX, "fs", {"kmsKeyId": KEY_ARN, "storageCapacity": 1200})


@scenario("AIB-026", "lustre-with-default-key", {"fs": FAIL})
def _(b):
    b.add(FSX, "fs", {"storageCapacity": 1200})


def _repo(b: PlanBuilder, name: str, **inputs) -> Ref:
    base = {"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}]}
    return b.add(ECR, name, {**base, **inputs})


@scenario("AIB-027", "repository-with-cmk", {"repo": PASS})
def _(b):
    _repo(b, "repo")


@scenario("AIB-027", "repository-with-aes256", {"repo": FAIL})
def _(b):
    _repo(b, "repo", encryptionConfigurations=[{"encryptionType": "AES256"}])


@scenario("AIB-028", "topic-with-kms", {"alarms": PASS})
def _(b):
    b.add(SNS, "alarms", {"kmsMasterKeyId": KEY_ARN})


@scenario("AIB-028", "topic-without-kms", {"alarms": FAIL})
def _(b):
    b.add(SNS, "alarms", {})


@scenario("AIB-029", "direct-put-with-cmk-kinesis-source-skipped", {"siem": PASS, "from-kinesis": NA})
def _(b):
    b.add(FIREHOSE, "siem", {"destination": "splunk", "serverSideEncryption": {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": KEY_ARN}})
    b.add(FIREHOSE, "from-kinesis", {"destination": "extended_s3", "kinesisSourceConfiguration": {"kinesisStreamArn": "arn", "roleArn": "arn"}})


@scenario("AIB-029", "aws-owned-key-is-enough-on-public", {"siem": PASS}, tier="public")
def _(b):
    b.add(FIREHOSE, "siem", {"destination": "extended_s3", "serverSideEncryption": {"enabled": True, "keyType": "AWS_OWNED_CMK"}})


@scenario("AIB-029", "unencrypted-or-aws-owned-on-restricted", {"plain": FAIL, "aws-owned": FAIL})
def _(b):
    b.add(FIREHOSE, "plain", {"destination": "extended_s3"})
    b.add(FIREHOSE, "aws-owned", {"destination": "extended_s3", "serverSideEncryption": {"enabled": True, "keyType": "AWS_OWNED_CMK"}})


@scenario("AIB-030", "trail-with-kms", {"audit": PASS})
def _(b):
    trail(b)


@scenario("AIB-030", "trail-without-kms", {"audit": FAIL})
def _(b):
    trail(b, kmsKeyId=None)


@scenario("AIB-031", "environment-with-cmk-or-no-environment", {"transform": PASS, "plain-fn": NA})
def _(b):
    b.add(LAMBDA, "transform", {"environment": {"variables": {"A": "1"}}, "kmsKeyArn": KEY_ARN})
    b.add(LAMBDA, "plain-fn", {"runtime": "python3.12"})


@scenario("AIB-031", "environment-without-cmk", {"transform": FAIL})
def _(b):
    b.add(LAMBDA, "transform", {"environment": {"variables": {"A": "1"}}})


def _data_domains(b: PlanBuilder, model_key: str) -> None:
    comp, _ = training(b)
    bucket(b, "demo-training-data", key=f"{KEY_ARN}-data", parent=comp)
    bucket(b, "demo-models", key=model_key, tags={"Blueprint": "demo"})
    audit = bucket(b, "audit-bucket", key=f"{KEY_ARN}-logs")
    trail(b, s3BucketName=audit.id)


@scenario("AIB-032", "a-key-per-domain", {"demo-training-data": PASS, "demo-models": PASS, "audit-bucket": PASS})
def _(b):
    _data_domains(b, model_key=f"{KEY_ARN}-models")


@scenario("AIB-032", "models-share-the-training-data-key", {"demo-training-data": FAIL, "demo-models": FAIL, "audit-bucket": PASS})
def _(b):
    _data_domains(b, model_key=f"{KEY_ARN}-data")


# ==============================================================================================
# Logging and retention
# ==============================================================================================
@scenario("AIB-040", "retention-meets-restricted", {"aws-app": PASS, "aws-long": PASS})
def _(b):
    log_group(b, "/aws/app", retentionInDays=2557)
    log_group(b, "/aws/long", retentionInDays=3653)


@scenario("AIB-040", "ninety-days-meets-internal", {"aws-app": PASS}, tier="internal")
def _(b):
    log_group(b, "/aws/app", retentionInDays=90)


@scenario("AIB-040", "short-or-unset-retention", {"aws-short": FAIL, "aws-unset": FAIL})
def _(b):
    log_group(b, "/aws/short", retentionInDays=30)
    log_group(b, "/aws/unset")


@scenario("AIB-041", "multi-region-trail", {"audit": PASS})
def _(b):
    trail(b)


@scenario("AIB-041", "single-region-trail", {"audit": FAIL})
def _(b):
    trail(b, isMultiRegionTrail=False)


@scenario("AIB-042", "log-validation-on", {"audit": PASS})
def _(b):
    trail(b)


@scenario("AIB-042", "log-validation-off", {"audit": FAIL})
def _(b):
    trail(b, enableLogFileValidation=False)


def _acl_logged(b: PlanBuilder, destination: str) -> Ref:
    acl = web_acl(b)
    b.add(WEB_ACL_LOGGING, "acl-logging", {"resourceArn": acl.arn, "logDestinationConfigs": [destination]}, deps=[acl])
    return acl


FIREHOSE_WAF = f"arn:aws:firehose:eu-west-1:{ACCOUNT}:deliverystream/aws-waf-logs-demo"


@scenario("AIB-043", "web-acl-logged", {"acl": PASS})
def _(b):
    _acl_logged(b, FIREHOSE_WAF)


@scenario("AIB-043", "web-acl-not-logged", {"acl": FAIL})
def _(b):
    web_acl(b)


@scenario("AIB-044", "stage-with-access-logs", {"api-stage": PASS})
def _(b):
    stage(b, accessLogSettings={"destinationArn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/api/access", "format": "{}"})


@scenario("AIB-044", "stage-without-access-logs", {"api-stage": FAIL})
def _(b):
    stage(b)


@scenario("AIB-045", "data-buckets-logged-target-skipped", {"data": PASS, "access-logs": NA})
def _(b):
    bucket(b, "data")
    access_log_bucket(b, "access-logs")


@scenario("AIB-045", "bucket-without-access-logging", {"data": FAIL})
def _(b):
    bucket(b, "data", logging=False)


@scenario("AIB-046", "audit-logs-on", {"c1": PASS})
def _(b):
    b.add(EKS, "c1", {"enabledClusterLogTypes": ["api", "audit", "authenticator", "scheduler"]})


@scenario("AIB-046", "audit-logs-missing", {"c1": FAIL, "c2": FAIL})
def _(b):
    b.add(EKS, "c1", {"enabledClusterLogTypes": ["api"]})
    b.add(EKS, "c2", {})


@scenario("AIB-047", "metrics-and-logging", {"settings": PASS})
def _(b):
    b.add(METHOD_SETTINGS, "settings", {"restApi": "a", "stageName": "v1", "methodPath": "*/*",
                                        "settings": {"metricsEnabled": True, "loggingLevel": "ERROR"}})


@scenario("AIB-047", "logging-off", {"settings": FAIL})
def _(b):
    b.add(METHOD_SETTINGS, "settings", {"restApi": "a", "stageName": "v1", "methodPath": "*/*",
                                        "settings": {"metricsEnabled": False, "loggingLevel": "OFF"}})


def _trail_to_logs(b: PlanBuilder, shipped: bool) -> None:
    log_group(b, "/aws/cloudtrail/audit", retentionInDays=2557)
    trail(b, cloudWatchLogsGroupArn=f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/cloudtrail/audit:*")
    if shipped:
        subscribe(b, "/aws/cloudtrail/audit")


@scenario("AIB-048", "trail-log-group-subscribed", {"audit": PASS})
def _(b):
    _trail_to_logs(b, shipped=True)


@scenario("AIB-048", "trail-log-group-not-subscribed", {"audit": FAIL})
def _(b):
    _trail_to_logs(b, shipped=False)


@scenario("AIB-048", "subscribed-to-a-stream-outside-the-stack", {"audit": FAIL})
def _(b):
    log_group(b, "/aws/cloudtrail/audit", retentionInDays=2557)
    trail(b, cloudWatchLogsGroupArn=f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/cloudtrail/audit:*")
    subscribe(b, "/aws/cloudtrail/audit", destination=f"arn:aws:firehose:eu-west-1:{ACCOUNT}:deliverystream/elsewhere")


@scenario("AIB-048", "log-group-not-in-the-stack", {"audit": FAIL})
def _(b):
    trail(b, cloudWatchLogsGroupArn=f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/cloudtrail/audit:*")
    log_group(b, "/other", retentionInDays=2557)
    subscribe(b, "/aws/cloudtrail/audit")


@scenario("AIB-048", "no-trail-at-all", {STACK: FAIL})
def _(b):
    bucket(b, "data")


@scenario("AIB-049", "waf-logs-to-firehose", {"acl": PASS})
def _(b):
    trail(b)
    b.add(FIREHOSE, "aws-waf-logs-demo", {"name": "aws-waf-logs-demo", "destination": "splunk"})
    _acl_logged(b, FIREHOSE_WAF)


@scenario("AIB-049", "waf-logs-nowhere-in-the-shipping", {"acl": FAIL, "acl-2": FAIL})
def _(b):
    trail(b)
    _acl_logged(b, "arn:aws:s3:::aws-waf-logs-elsewhere")
    web_acl(b, "acl-2")


def _stage_logs(b: PlanBuilder, shipped: bool) -> None:
    log_group(b, "/api/access", retentionInDays=2557)
    stage(b, accessLogSettings={"destinationArn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/api/access", "format": "{}"})
    if shipped:
        subscribe(b, "/api/access")


@scenario("AIB-050", "access-logs-subscribed", {"api-stage": PASS})
def _(b):
    _stage_logs(b, shipped=True)


@scenario("AIB-050", "access-logs-not-subscribed", {"api-stage": FAIL})
def _(b):
    _stage_logs(b, shipped=False)


@scenario("AIB-051", "flow-logs-subscribed-or-direct", {"net-flow-log": PASS, "direct-flow-log": PASS})
def _(b):
    vpc(b, "net")
    log_group(b, "/aws/vpc/flow-logs/net", retentionInDays=2557)
    subscribe(b, "/aws/vpc/flow-logs/net")
    b.add("aws:ec2/flowLog:FlowLog", "direct-flow-log", {"vpcId": "net-vpc", "trafficType": "ALL",
                                                        "logDestinationType": "kinesis-data-firehose", "logDestination": SIEM_STREAM})


@scenario("AIB-051", "flow-logs-not-subscribed-or-to-a-foreign-stream", {"net-flow-log": FAIL, "direct-flow-log": FAIL})
def _(b):
    vpc(b, "net")
    log_group(b, "/aws/vpc/flow-logs/net", retentionInDays=2557)
    b.add("aws:ec2/flowLog:FlowLog", "direct-flow-log", {"vpcId": "net-vpc", "trafficType": "ALL",
                                                        "logDestinationType": "kinesis-data-firehose", "logDestination": "arn:firehose"})


@scenario("AIB-052", "audit-group-subscribed", {"c1": PASS})
def _(b):
    b.add(EKS, "c1", {"name": "c1", "enabledClusterLogTypes": ["api", "audit", "authenticator"]})
    log_group(b, "/aws/eks/c1/cluster", retentionInDays=2557)
    subscribe(b, "/aws/eks/c1/cluster")


@scenario("AIB-052", "audit-off-or-not-subscribed", {"c1": FAIL, "c2": FAIL})
def _(b):
    log_group(b, "/aws/eks/c1/cluster", retentionInDays=2557)
    b.add(EKS, "c1", {"name": "c1", "enabledClusterLogTypes": ["api", "audit"]})
    b.add(EKS, "c2", {"name": "c2", "enabledClusterLogTypes": ["api"]})
    subscribe(b, "/aws/eks/c2/cluster")


@scenario("AIB-053", "s3-data-events-selected", {"audit": PASS, "second": PASS})
def _(b):
    b.add(FSX, "demo-training-lustre-fs", {"storageCapacity": 1200})  # training data to attribute reads of
    trail(b, advancedEventSelectors=[{"name": "s3", "fieldSelectors": [
        {"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}])
    trail(b, "second")


@scenario("AIB-053", "management-events-only", {"audit": FAIL})
def _(b):
    b.add(FSX, "demo-training-lustre-fs", {"storageCapacity": 1200})
    trail(b, eventSelectors=[{"readWriteType": "All", "includeManagementEvents": True}])


@scenario("AIB-053", "no-training-nothing-to-judge", {})
def _(b):
    trail(b, eventSelectors=[{"readWriteType": "All", "includeManagementEvents": True}])  # inference only


def _archived_stream(b: PlanBuilder, name: str, config: str, mode: str, archive: Optional[Ref]) -> None:
    s3 = {"bucketArn": archive.arn} if archive else {}
    b.add(FIREHOSE, name, {"name": name, "destination": "splunk", config: {"s3BackupMode": mode, "s3Configuration": s3}},
          deps=[archive] if archive else [])


@scenario("AIB-054", "every-record-archived", {"splunk": PASS, "http": PASS, "to-s3": PASS})
def _(b):
    archive = bucket(b, "archive")
    _archived_stream(b, "splunk", "splunkConfiguration", "AllEvents", archive)
    _archived_stream(b, "http", "httpEndpointConfiguration", "AllData", archive)
    b.add(FIREHOSE, "to-s3", {"name": "to-s3", "destination": "extended_s3", "extendedS3Configuration": {"bucketArn": archive.arn}})


@scenario("AIB-054", "failed-records-only-or-no-archive", {"splunk": FAIL, "http": FAIL, "to-nowhere": FAIL})
def _(b):
    archive = bucket(b, "archive")
    _archived_stream(b, "splunk", "splunkConfiguration", "FailedEventsOnly", archive)
    _archived_stream(b, "http", "httpEndpointConfiguration", "AllData", None)
    b.add(FIREHOSE, "to-nowhere", {"name": "to-nowhere", "destination": "splunk"})


@scenario("AIB-054", "no-stream-at-all", {STACK: FAIL})
def _(b):
    bucket(b, "archive")


# ==============================================================================================
# Identity and access
# ==============================================================================================
def _method(b: PlanBuilder, api: Ref, path: str, http: str, auth: str) -> None:
    res = b.add(API_RESOURCE, f"{path}-res", {"restApi": api.id, "pathPart": path, "parentId": "root"}, deps=[api])
    b.add(METHOD, f"{path}-{http.lower()}", {"restApi": api.id, "resourceId": res.id, "httpMethod": http,
                                              "authorization": auth}, deps=[api, res])


def _health_check(b: PlanBuilder, api: Ref) -> None:
    b.add(HEALTH_CHECK, "dns-health", {"type": "HTTPS", "fqdn": f"{api.id}.execute-api.eu-west-1.amazonaws.com",
                                       "resourcePath": "/v1/health", "port": 443})


@scenario("AIB-060", "iam-only-on-restricted", {"predict-post": PASS})
def _(b):
    api, _ = stage(b)
    _method(b, api, "predict", "POST", "AWS_IAM")


@scenario("AIB-060", "cognito-or-anonymous-on-restricted", {"predict-post": FAIL, "health-get": FAIL})
def _(b):
    api, _ = stage(b)
    _method(b, api, "predict", "POST", "COGNITO_USER_POOLS")
    _method(b, api, "health", "GET", "NONE")
    _health_check(b, api)  # IAM-only tiers admit no anonymous method, health probe or not


@scenario("AIB-060", "cognito-and-probed-health-endpoint-on-public", {"predict-post": PASS, "health-get": PASS}, tier="public")
def _(b):
    api, _ = stage(b)
    _method(b, api, "predict", "POST", "COGNITO_USER_POOLS")
    _method(b, api, "health", "GET", "NONE")
    _health_check(b, api)


@scenario("AIB-060", "anonymous-method-not-probed-on-public", {"predict-post": FAIL, "status-get": FAIL}, tier="public")
def _(b):
    api, _ = stage(b)
    _method(b, api, "predict", "POST", "NONE")
    _method(b, api, "status", "GET", "NONE")
    _health_check(b, api)


ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}
SCOPED = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/*"}
SERVICE_TRUST = {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}


@scenario("AIB-061", "scoped-policies", {"reader": PASS, "role": PASS, "bare-role": NA})
def _(b):
    b.add(IAM_POLICY, "reader", {"policy": policy(SCOPED)})
    b.add(ROLE, "role", {"assumeRolePolicy": policy(SERVICE_TRUST), "inlinePolicies": [{"name": "r", "policy": policy(SCOPED)}]})
    b.add(ROLE, "bare-role", {"assumeRolePolicy": policy(SERVICE_TRUST)})


@scenario("AIB-061", "administrator-access", {"admin": FAIL, "admin-inline": FAIL, "admin-role": FAIL})
def _(b):
    b.add(IAM_POLICY, "admin", {"policy": policy(ADMIN)})
    b.add("aws:iam/rolePolicy:RolePolicy", "admin-inline", {"role": "r", "policy": policy(SCOPED, {**ADMIN, "Action": ["*"]})})
    b.add(ROLE, "admin-role", {"assumeRolePolicy": policy(SERVICE_TRUST), "inlinePolicies": [{"name": "a", "policy": policy(ADMIN)}]})


@scenario("AIB-062", "service-or-conditioned-trust", {"svc": PASS, "conditioned": PASS})
def _(b):
    b.add(ROLE, "svc", {"assumeRolePolicy": policy(SERVICE_TRUST)})
    b.add(ROLE, "conditioned", {"assumeRolePolicy": policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                                                            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}})})


@scenario("AIB-062", "anyone-may-assume", {"open": FAIL})
def _(b):
    b.add(ROLE, "open", {"assumeRolePolicy": policy({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})})


@scenario("AIB-063", "imdsv2-required", {"lt": PASS})
def _(b):
    _lt(b, "lt", {"encrypted": "true"})


@scenario("AIB-063", "imdsv1-allowed", {"lt": FAIL, "lt-default": FAIL})
def _(b):
    _lt(b, "lt", {"encrypted": "true"}, metadataOptions={"httpTokens": "optional"})
    b.add(LT, "lt-default", {})


@scenario("AIB-064", "iam-function-url", {"url": PASS})
def _(b):
    b.add(LAMBDA_URL, "url", {"functionName": "f", "authorizationType": "AWS_IAM"})


@scenario("AIB-064", "anonymous-function-url", {"url": FAIL})
def _(b):
    b.add(LAMBDA_URL, "url", {"functionName": "f", "authorizationType": "NONE"})


# ==============================================================================================
# Data protection
# ==============================================================================================
@scenario("AIB-070", "all-public-access-blocked", {"data": PASS})
def _(b):
    bucket(b, "data")


@scenario("AIB-070", "missing-or-partial-block", {"no-block": FAIL, "partial": FAIL})
def _(b):
    bucket(b, "no-block", pab=False)
    p = b.add("aws:s3/bucket:Bucket", "partial", {})
    b.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "partial-pab",
          {"bucket": p.id, "blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True,
           "restrictPublicBuckets": True}, deps=[p])


@scenario("AIB-071", "tls-only-policies", {"data": PASS, "logs": PASS})
def _(b):
    bucket(b, "data")
    access_log_bucket(b, "logs")


@scenario("AIB-071", "no-tls-deny", {"no-policy": FAIL, "allow-only": FAIL})
def _(b):
    bucket(b, "no-policy", statements=())
    bucket(b, "allow-only", statements=(LOG_DELIVERY,))


@scenario("AIB-072", "versioned", {"data": PASS})
def _(b):
    bucket(b, "data")


@scenario("AIB-072", "unversioned", {"data": FAIL})
def _(b):
    bucket(b, "data", versioning=False)


@scenario("AIB-073", "audit-and-model-buckets-locked", {"demo-models": PASS, "audit-bucket": PASS})
def _(b):
    bucket(b, "demo-models", object_lock="COMPLIANCE", tags={"Name": "demo-models", "Blueprint": "demo"})
    bucket(b, "audit-bucket", object_lock="COMPLIANCE")
    bucket(b, "fraud-models-training-data", tags={"Blueprint": "fraud-models"})  # `models` is the stack name: not a model bucket
    trail(b)


@scenario("AIB-073", "unlocked-or-governance", {"demo-models": FAIL, "audit-bucket": FAIL, "archive": FAIL})
def _(b):
    bucket(b, "demo-models", tags={"Blueprint": "demo"})
    bucket(b, "audit-bucket", object_lock="GOVERNANCE")
    archive = bucket(b, "archive")
    trail(b)
    b.add(FIREHOSE, "siem", {"destination": "extended_s3", "extendedS3Configuration": {"bucketArn": archive.arn, "roleArn": "r"}})


def _staged_archive(b: PlanBuilder, lock: Optional[str]) -> None:
    archive = bucket(b, "archive", object_lock=lock)
    staging = bucket(b, "staging")
    b.add("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "staging-replication",
          {"bucket": staging.id, "role": "r", "rules": [{"id": "every-object", "status": "Enabled", "filter": {"prefix": ""},
                                                        "destination": {"bucket": archive.arn}}]}, deps=[staging, archive])
    b.add(FIREHOSE, "siem", {"name": "siem", "destination": "splunk",
                             "splunkConfiguration": {"s3BackupMode": "AllEvents", "s3Configuration": {"bucketArn": staging.arn}}},
          deps=[staging])


@scenario("AIB-073", "staging-replicated-into-a-locked-archive", {"staging": PASS})
def _(b):
    _staged_archive(b, lock="COMPLIANCE")


@scenario("AIB-073", "staging-replicated-into-an-unlocked-bucket", {"staging": FAIL})
def _(b):
    _staged_archive(b, lock=None)


@scenario("AIB-074", "acls-disabled", {"data": PASS})
def _(b):
    bucket(b, "data")


@scenario("AIB-074", "acls-enabled", {"data": FAIL})
def _(b):
    bucket(b, "data", ownership=False)


@scenario("AIB-075", "no-anonymous-allow", {"data-policy": PASS})
def _(b):
    bucket(b, "data", statements=(TLS_DENY, LOG_DELIVERY))


@scenario("AIB-075", "anonymous-read", {"data-policy": FAIL})
def _(b):
    bucket(b, "data", statements=({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"},))


@scenario("AIB-076", "macie-account-and-job", {"macie": PASS, "macie-job": PASS})
def _(b):
    b.add(FSX, "demo-training-lustre-fs", {"kmsKeyId": KEY_ARN})
    b.add("aws:macie2/account:Account", "macie", {"status": "ENABLED"})
    b.add("aws:macie2/classificationJob:ClassificationJob", "macie-job", {"jobType": "SCHEDULED"})


@scenario("AIB-076", "training-without-macie", {STACK: FAIL})
def _(b):
    b.add(FSX, "demo-training-lustre-fs", {"kmsKeyId": KEY_ARN})


@scenario("AIB-076", "account-without-job", {"macie": PASS, STACK: FAIL})
def _(b):
    b.add(FSX, "demo-training-lustre-fs", {"kmsKeyId": KEY_ARN})
    b.add("aws:macie2/account:Account", "macie", {"status": "ENABLED"})


@scenario("AIB-076", "no-training-no-macie-needed", {})
def _(b):
    bucket(b, "audit")


@scenario("AIB-077", "immutable-tags", {"repo": PASS})
def _(b):
    _repo(b, "repo")


@scenario("AIB-077", "mutable-tags", {"repo": FAIL, "repo-default": FAIL})
def _(b):
    _repo(b, "repo", imageTagMutability="MUTABLE")
    b.add(ECR, "repo-default", {})


@scenario("AIB-078", "scan-on-push", {"repo": PASS})
def _(b):
    _repo(b, "repo")


@scenario("AIB-078", "no-scan-on-push", {"repo": FAIL})
def _(b):
    _repo(b, "repo", imageScanningConfiguration={"scanOnPush": False})


# ==============================================================================================
# Threat detection
# ==============================================================================================
DETECTOR = "aws:guardduty/detector:Detector"
FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
HUB = "aws:securityhub/account:Account"
STANDARD = "aws:securityhub/standardsSubscription:StandardsSubscription"


def detector(b: PlanBuilder, name: str = "detector", region: str = "eu-west-1", features=(), enable: bool = True) -> Ref:
    d = b.add(DETECTOR, name, {"enable": enable}, region=region)
    for feature in features:
        b.add(FEATURE, f"{name}-{feature.lower()}", {"detectorId": d.id, "name": feature, "status": "ENABLED"},
              region=region, deps=[d])
    return d


@scenario("AIB-080", "detector-in-every-region", {"detector": PASS, "detector-euc1": PASS})
def _(b):
    detector(b)
    detector(b, "detector-euc1", region="eu-central-1")


@scenario("AIB-080", "disabled-detector", {"detector": FAIL})
def _(b):
    detector(b, enable=False)


@scenario("AIB-080", "region-without-detector", {"detector": PASS, "aws-eu-central-1": FAIL})
def _(b):
    detector(b)
    bucket(b, "data")
    b.add(KEY, "key-euc1", {"enableKeyRotation": True}, region="eu-central-1")


@scenario("AIB-084", "s3-and-eks-audit-features", {"detector": PASS})
def _(b):
    detector(b, features=("S3_DATA_EVENTS", "EKS_AUDIT_LOGS"))


@scenario("AIB-084", "eks-audit-feature-missing", {"detector": FAIL})
def _(b):
    detector(b, features=("S3_DATA_EVENTS",))


@scenario("AIB-081", "runtime-monitoring-enabled", {"detector": PASS})
def _(b):
    detector(b, features=("RUNTIME_MONITORING",))


@scenario("AIB-081", "runtime-monitoring-disabled", {"detector": FAIL})
def _(b):
    d = detector(b)
    b.add(FEATURE, "runtime", {"detectorId": d.id, "name": "RUNTIME_MONITORING", "status": "DISABLED"}, deps=[d])


@scenario("AIB-082", "malware-plan-on-data-bucket", {"malware": PASS})
def _(b):
    b.add("aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan", "malware",
          {"role": "r", "protectedResource": {"s3Bucket": {"bucketName": "data"}}})


@scenario("AIB-082", "training-without-malware-plan", {STACK: FAIL})
def _(b):
    b.add(FSX, "demo-training-lustre-fs", {"kmsKeyId": KEY_ARN})


@scenario("AIB-083", "security-hub-with-a-standard", {"hub": PASS})
def _(b):
    b.add(HUB, "hub", {"enableDefaultStandards": False})
    b.add(STANDARD, "fsbp", {"standardsArn": "arn:aws:securityhub:eu-west-1::standards/aws-foundational-security-best-practices/v/1.0.0"})


@scenario("AIB-083", "hub-without-standard-or-missing-in-a-region", {"hub": FAIL, "aws-eu-central-1": FAIL})
def _(b):
    b.add(HUB, "hub", {"enableDefaultStandards": False})
    b.add(KEY, "key-euc1", {"enableKeyRotation": True}, region="eu-central-1")


@scenario("AIB-083", "no-security-hub", {"aws-eu-west-1": FAIL})
def _(b):
    trail(b)


RECORDER = "aws:cfg/recorder:Recorder"
CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"


def recorder(b: PlanBuilder, region: str = "eu-west-1", enabled: bool = True, channel: bool = True) -> None:
    b.add(RECORDER, f"config-{region}", {"name": "config", "recordingGroup": {"allSupported": True}}, region=region)
    if channel:
        b.add(CHANNEL, f"config-{region}-delivery", {"s3BucketName": "config"}, region=region)
    b.add(RECORDER_STATUS, f"config-{region}-status", {"name": "config", "isEnabled": enabled}, region=region)


@scenario("AIB-155", "recorded-where-the-hubs-run", {"aws-eu-west-1": PASS, "aws-eu-central-1": PASS})
def _(b):
    for region in ("eu-west-1", "eu-central-1"):
        b.add(HUB, f"hub-{region}", {}, region=region)
        recorder(b, region)


@scenario("AIB-155", "a-hub-region-without-recorder-or-turned-off",
          {"aws-eu-west-1": FAIL, "aws-eu-central-1": FAIL, "aws-us-east-1": FAIL})
def _(b):
    b.add(HUB, "hub-euw1", {}, region="eu-west-1")
    b.add(HUB, "hub-euc1", {}, region="eu-central-1")
    recorder(b, "eu-central-1", enabled=False)
    b.add(HUB, "hub-use1", {}, region="us-east-1")
    recorder(b, "us-east-1", channel=False)


# ==============================================================================================
# Edge protection
# ==============================================================================================
@scenario("AIB-085", "stage-behind-waf", {"api-stage": PASS})
def _(b):
    _, st = stage(b)
    acl = web_acl(b)
    b.add(WEB_ACL_ASSOC, "acl-association", {"resourceArn": st.arn, "webAclArn": acl.arn}, deps=[st, acl])


@scenario("AIB-085", "stage-without-waf-or-with-a-foreign-acl", {"api-stage": FAIL, "other-stage": FAIL, "third-stage": PASS})
def _(b):
    stage(b)
    _, other = stage(b, "other")
    b.add(WEB_ACL_ASSOC, "acl-association", {"resourceArn": other.arn,
                                             "webAclArn": f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/foreign/1"},
          deps=[other])
    _, third = stage(b, "third")
    acl = web_acl(b)
    b.add(WEB_ACL_ASSOC, "third-association", {"resourceArn": third.arn, "webAclArn": acl.arn}, deps=[third, acl])


@scenario("AIB-086", "every-method-throttled", {"api-stage": PASS})
def _(b):
    api, _ = stage(b)
    b.add(METHOD_SETTINGS, "throttle", {"restApi": api.id, "stageName": "v1", "methodPath": "*/*",
                                        "settings": {"throttlingRateLimit": 100, "throttlingBurstLimit": 200}})


@scenario("AIB-086", "unthrottled-one-method-or-usage-plan-only",
          {"api-stage": FAIL, "other-stage": FAIL, "third-stage": FAIL})
def _(b):
    api, _ = stage(b)
    b.add(METHOD_SETTINGS, "no-throttle", {"restApi": api.id, "stageName": "v1", "methodPath": "*/*",
                                           "settings": {"metricsEnabled": True}})
    other, _ = stage(b, "other")
    b.add(METHOD_SETTINGS, "one-method", {"restApi": other.id, "stageName": "v1", "methodPath": "predict/POST",
                                          "settings": {"throttlingRateLimit": 100, "throttlingBurstLimit": 200}})
    third, _ = stage(b, "third")
    b.add(USAGE_PLAN, "plan", {"apiStages": [{"apiId": third.id, "stage": "v1"}],
                               "throttleSettings": {"rateLimit": 10, "burstLimit": 20}})


@scenario("AIB-087", "all-tier-groups", {"acl": PASS})
def _(b):
    web_acl(b)


@scenario("AIB-087", "common-only-is-enough-on-public", {"acl": PASS}, tier="public")
def _(b):
    web_acl(b, groups=("AWSManagedRulesCommonRuleSet",))


@scenario("AIB-087", "missing-or-counted-groups", {"acl": FAIL, "counting": FAIL})
def _(b):
    web_acl(b, groups=("AWSManagedRulesCommonRuleSet",))
    web_acl(b, "counting", override="count")


def _with_overrides(b: PlanBuilder, name: str, group: str, overrides: dict[str, str]) -> None:
    acl = web_acl(b, name)
    inputs = next(st for st in b.steps if st["urn"] == acl.urn)["newState"]
    for state in (inputs["inputs"], inputs["outputs"]):
        for rule in state["rules"]:
            stmt = rule["statement"].get("managedRuleGroupStatement")
            if stmt and stmt["name"] == group:
                stmt["ruleActionOverrides"] = [{"name": n, "actionToUse": {a: {}}} for n, a in overrides.items()]


@scenario("AIB-087", "size-rule-and-body-rules-counted-where-prompts-are-allowed", {"acl": PASS, "sizes": PASS},
          tier="confidential")
def _(b):
    _with_overrides(b, "acl", "AWSManagedRulesSQLiRuleSet", {"SQLi_BODY": "count", "SQLiExtendedPatterns_BODY": "count"})
    _with_overrides(b, "sizes", "AWSManagedRulesCommonRuleSet", {"SizeRestrictions_BODY": "count"})


@scenario("AIB-087", "query-rule-counted-allow-override-or-body-rules-on-restricted",
          {"query": FAIL, "allowed": FAIL, "body": FAIL})
def _(b):
    _with_overrides(b, "query", "AWSManagedRulesSQLiRuleSet", {"SQLi_QUERYARGUMENTS": "count"})
    _with_overrides(b, "allowed", "AWSManagedRulesCommonRuleSet", {"CrossSiteScripting_BODY": "allow"})
    _with_overrides(b, "body", "AWSManagedRulesSQLiRuleSet", {"SQLi_BODY": "count"})  # restricted keeps body rules


@scenario("AIB-088", "blocking-rate-limit", {"acl": PASS})
def _(b):
    web_acl(b)


@scenario("AIB-088", "no-rate-limit", {"acl": FAIL})
def _(b):
    web_acl(b, rate=False)


@scenario("AIB-089", "eu-allowlist", {"acl": PASS})
def _(b):
    web_acl(b, countries=("IE", "DE", "FR"))


@scenario("AIB-089", "outside-residency-or-no-allowlist", {"acl": FAIL, "open": FAIL})
def _(b):
    web_acl(b, countries=("IE", "US"))
    web_acl(b, "open", countries=())


# ==============================================================================================
# Availability and residency
# ==============================================================================================
@scenario("AIB-091", "stateful-protected", {"data": PASS, "k": PASS, "aws-app": PASS, "fs": PASS})
def _(b):
    bucket(b, "data", protect=True)
    b.add(KEY, "k", {"enableKeyRotation": True}, protect=True)
    b.add(LOG_GROUP, "aws-app", {"name": "/aws/app"}, protect=True)
    b.add(FSX, "fs", {}, protect=True)


@scenario("AIB-091", "stateful-unprotected", {"data": FAIL, "k": FAIL})
def _(b):
    bucket(b, "data")
    b.add(KEY, "k", {"enableKeyRotation": True})


@scenario("AIB-092", "stateful-retained", {"data": PASS})
def _(b):
    bucket(b, "data", protect=True, retain=True)


@scenario("AIB-092", "stateful-not-retained", {"data": FAIL})
def _(b):
    bucket(b, "data", protect=True)


@scenario("AIB-093", "eu-regions-in-eu", {"aws-eu-west-1": PASS, "aws-eu-central-1": PASS})
def _(b):
    b.add(KEY, "k1", {}, region="eu-west-1")
    b.add(KEY, "k2", {}, region="eu-central-1")


@scenario("AIB-093", "us-region-in-eu-residency", {"aws-eu-west-1": PASS, "aws-us-east-1": FAIL, "override": FAIL})
def _(b):
    b.add(KEY, "k1", {}, region="eu-west-1")
    b.add(KEY, "k2", {}, region="us-east-1")
    b.add(KEY, "override", {"region": "us-west-2"}, region="eu-west-1")


@scenario("AIB-094", "two-regions-on-restricted", {"api-api": PASS, "api2-api": PASS})
def _(b):
    stage(b, "api", region="eu-west-1")
    stage(b, "api2", region="eu-central-1")


@scenario("AIB-094", "one-region-on-restricted", {"api-api": FAIL})
def _(b):
    stage(b, "api", region="eu-west-1")


def _node_group(b: PlanBuilder, name: str, capacity: str, parent: Optional[Ref] = None) -> None:
    b.add(NODE_GROUP, name, {"clusterName": "c", "capacityType": capacity, "scalingConfig": {"minSize": 0, "maxSize": 2, "desiredSize": 0}},
          parent=parent)


@scenario("AIB-095", "on-demand-on-restricted", {"demo-training-gpu": PASS, "demo-inf-gpu": PASS})
def _(b):
    _node_group(b, "demo-training-gpu", "ON_DEMAND")
    _node_group(b, "demo-inf-gpu", "ON_DEMAND")


@scenario("AIB-095", "spot-training-on-restricted", {"gpu-nodes": FAIL, "spot-lt": FAIL})
def _(b):
    comp = b.component("aiblueprints:eks:NodeGroup", "demo-training-gpu")
    _node_group(b, "gpu-nodes", "SPOT", parent=comp)  # training by its component
    b.add(LT, "spot-lt", {"instanceMarketOptions": {"marketType": "spot"}})


@scenario("AIB-095", "spot-training-allowed-on-confidential", {"demo-training-gpu": PASS, "demo-inf-gpu": FAIL},
          tier="confidential")
def _(b):
    _node_group(b, "demo-training-gpu", "SPOT")
    _node_group(b, "demo-inf-gpu", "SPOT")


@scenario("AIB-096", "thirty-day-window", {"k1": PASS, "k-default": PASS})
def _(b):
    b.add(KEY, "k1", {"deletionWindowInDays": 30})
    b.add(KEY, "k-default", {})


@scenario("AIB-096", "seven-day-window", {"k1": FAIL})
def _(b):
    b.add(KEY, "k1", {"deletionWindowInDays": 7})


@scenario("AIB-097", "alarm-notifies", {"alarm": PASS})
def _(b):
    b.add(ALARM, "alarm", {"alarmActions": ["arn:aws:sns:eu-west-1:1:alarms"], "metricName": "5XXError"})


@scenario("AIB-097", "silent-alarm", {"alarm": FAIL})
def _(b):
    b.add(ALARM, "alarm", {"metricName": "5XXError"})


def _alarmed_stage(b: PlanBuilder, metrics=("5XXError", "Latency"), notify: bool = True) -> None:
    api, st = stage(b)
    topic = b.add(SNS, "alarms", {"kmsMasterKeyId": KEY_ARN})
    for metric in metrics:
        query = {"namespace": "AWS/ApiGateway", "metricName": metric, "dimensions": {"ApiName": "api", "Stage": "v1"}}
        inputs = {"metricQueries": [{"id": "m", "metric": query, "returnData": True}]} if metric == "5XXError" else query
        b.add(ALARM, f"alarm-{metric.lower()}", {**inputs, "alarmActions": [topic.arn] if notify else []}, deps=[topic])


@scenario("AIB-090", "errors-and-latency-alarmed", {"api-stage": PASS})
def _(b):
    _alarmed_stage(b)


@scenario("AIB-090", "latency-not-alarmed", {"api-stage": FAIL})
def _(b):
    _alarmed_stage(b, metrics=("5XXError",))


@scenario("AIB-090", "alarms-notify-nobody", {"api-stage": FAIL})
def _(b):
    _alarmed_stage(b, notify=False)


def _health_checked_apis(b: PlanBuilder, kinds=("CLOUDWATCH_METRIC", "HTTPS")) -> None:
    for kind, region in zip(kinds, ("eu-west-1", "eu-central-1")):
        api, _ = stage(b, f"api-{region}", region=region)
        if kind == "CLOUDWATCH_METRIC":
            alarm = b.add(ALARM, f"no-backend-{region}", {"name": f"no-backend-{region}"}, region=region)
            b.add(HEALTH_CHECK, f"health-{region}", {"type": kind, "cloudwatchAlarmName": f"no-backend-{region}",
                                                     "cloudwatchAlarmRegion": region}, deps=[alarm])
        elif kind:
            b.add(HEALTH_CHECK, f"health-{region}", {"type": kind, "fqdn": f"{api.id}.execute-api.{region}.amazonaws.com",
                                                     "resourcePath": "/v1/health"}, deps=[api])


@scenario("AIB-150", "every-region-health-checked", {"api-eu-west-1-api": PASS, "api-eu-central-1-api": PASS})
def _(b):
    _health_checked_apis(b)


@scenario("AIB-150", "a-region-without-health-check", {"api-eu-west-1-api": PASS, "api-eu-central-1-api": FAIL})
def _(b):
    _health_checked_apis(b, kinds=("CLOUDWATCH_METRIC", ""))


@scenario("AIB-098", "two-zones", {"net-vpc": PASS})
def _(b):
    vpc(b, "net")


@scenario("AIB-098", "one-zone", {"net-vpc": FAIL})
def _(b):
    vpc(b, "net", zones=("eu-west-1a", "eu-west-1a"))


@scenario("AIB-099", "routing-records-health-checked-simple-skipped",
          {"primary": PASS, "secondary": PASS, "latency": PASS, "simple": NA})
def _(b):
    b.add(RECORD, "primary", {"name": "api", "type": "CNAME", "failoverRoutingPolicies": [{"type": "PRIMARY"}], "healthCheckId": "hc-1"})
    b.add(RECORD, "secondary", {"name": "api", "type": "CNAME", "failoverRoutingPolicies": [{"type": "SECONDARY"}],
                                "healthCheckId": "hc-2"})
    b.add(RECORD, "latency", {"name": "api", "type": "A", "latencyRoutingPolicies": [{"region": "eu-west-1"}],
                              "healthCheckId": "hc-3"})
    b.add(RECORD, "simple", {"name": "www", "type": "CNAME"})


@scenario("AIB-099", "routing-records-without-health-check", {"primary": FAIL, "secondary": FAIL, "latency": FAIL})
def _(b):
    b.add(RECORD, "primary", {"name": "api", "type": "CNAME", "failoverRoutingPolicies": [{"type": "PRIMARY"}]})
    b.add(RECORD, "secondary", {"name": "api", "type": "CNAME", "failoverRoutingPolicies": [{"type": "SECONDARY"}]})
    b.add(RECORD, "latency", {"name": "api", "type": "A", "latencyRoutingPolicies": [{"region": "eu-west-1"}]})


# The fixtures of rule modules added later live in `scenarios_<area>.py` beside this file and
# register through `scenario` above; importing them here puts them in SCENARIOS.
def _load_area_scenarios() -> None:
    import importlib
    import pkgutil
    from pathlib import Path

    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.startswith("scenarios_"):
            importlib.import_module(f"{__package__}.{module.name}")


_load_area_scenarios()
