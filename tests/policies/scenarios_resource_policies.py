"""Fixtures for the resource-policy rules (AIB-120 to AIB-122) and for the statement analysis
AIB-061, AIB-062 and AIB-075 now share (`policies/rules/_statements.py`)."""

from __future__ import annotations

from policies.model import UNKNOWN_VALUES
from policies.rules._aws import BUCKET, BUCKET_POLICY, IAM_POLICY, IAM_ROLE as ROLE, KMS_KEY as KEY, SNS_TOPIC, VPC_ENDPOINT
from policies.rules._statements import IAM_ROLE_POLICY_ATTACHMENT, IAM_USER_POLICY_ATTACHMENT
from policies.rules.resource_policies import (
    EVENT_PERMISSION, KMS_KEY_POLICY, LAMBDA_LAYER_PERMISSION, LAMBDA_PERMISSION, REST_API, SECRET_POLICY,
    SNS_TOPIC_POLICY, SQS_QUEUE_POLICY, VPC_ENDPOINT_POLICY,
)
from tests.policies.plans import ACCOUNT, PlanBuilder, policy
from tests.policies.scenarios import FAIL, NA, PASS, scenario

EXEMPT = "exempt"
UNKNOWN = sorted(UNKNOWN_VALUES)[0]
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ACCOUNT_ADMIN = {"Sid": "AccountAdministersKeyThroughIam", "Effect": "Allow", "Principal": {"AWS": ROOT},
                 "Action": "kms:*", "Resource": "*"}
ANYONE_KMS = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}


def _anyone(condition: dict | None = None, *, principal="*", action="*", **extra) -> dict:
    stmt = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


def _service(service: str, condition: dict | None = None, action="kms:Decrypt") -> dict:
    stmt = {"Effect": "Allow", "Principal": {"Service": service}, "Action": action, "Resource": "*"}
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


def _key(b: PlanBuilder, name: str, *stmts: dict) -> None:
    b.add(KEY, name, {"enableKeyRotation": True, "policy": policy(ACCOUNT_ADMIN, *stmts)})


def _gateway(b: PlanBuilder, name: str, **inputs):
    return b.add(VPC_ENDPOINT, name, {"vpcId": "vpc-1", "serviceName": "com.amazonaws.eu-west-1.s3",
                                      "vpcEndpointType": "Gateway", **inputs})


# ==============================================================================================
# AIB-120: any principal only with a condition that limits who
# ==============================================================================================
@scenario("AIB-120", "named-or-limited-principals",
          {"data-key": PASS, "findings-policy": PASS, "s3-gateway": PASS, "repo-policy": PASS, "legacy-bucket": PASS})
def _(b):
    _key(b, "data-key", _anyone({"StringEquals": {"aws:PrincipalAccount": ACCOUNT},
                                 "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x/Y"}},
                                principal={"AWS": "*"}, action="kms:Decrypt"),
         _anyone({"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
                 action="kms:Decrypt"))
    b.add(SNS_TOPIC_POLICY, "findings-policy", {"arn": "t", "policy": policy(_anyone(
        {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/guardduty"}}, action="sns:Publish"))})
    # Gateway endpoint: the account's principals, and reads of an AWS-owned bucket named outright.
    _gateway(b, "s3-gateway", policy=policy(
        _anyone({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}),
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": ["arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"]}))
    b.add("aws:ecr/repositoryPolicy:RepositoryPolicy", "repo-policy", {"repository": "r", "policy": policy(
        _anyone({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"]}},
                action="ecr:BatchGetImage"))})
    b.add(BUCKET, "legacy-bucket", {"policy": policy(_anyone({"StringEquals": {"aws:SourceVpce": "vpce-0123"}},
                                                           action="s3:GetObject"))})


@scenario("AIB-120", "key-policy-allows-any-principal", {"data-key": FAIL})
def _(b):
    """The issue's case: kms:* to {"AWS": "*"} with no condition."""
    _key(b, "data-key", ANYONE_KMS)


@scenario("AIB-120", "conditions-that-limit-nothing",
          {"tls-only-topic": FAIL, "negated-queue": FAIL, "if-exists-key": FAIL, "via-service-key": FAIL,
           "resource-account-secret": FAIL, "not-principal-api": FAIL, "wildcard-values-key": FAIL})
def _(b):
    b.add(SNS_TOPIC_POLICY, "tls-only-topic", {"arn": "t", "policy": policy(
        _anyone({"Bool": {"aws:SecureTransport": "true"}, "StringLike": {"aws:UserAgent": "aws-cli/*"}},
                action="sns:Subscribe"))})
    b.add(SQS_QUEUE_POLICY, "negated-queue", {"queueUrl": "q", "policy": policy(
        _anyone({"StringNotEquals": {"aws:PrincipalAccount": "999999999999"}}, action="sqs:SendMessage"))})
    b.add(KMS_KEY_POLICY, "if-exists-key", {"keyId": "k", "policy": policy(
        ACCOUNT_ADMIN, _anyone({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, action="kms:Decrypt"))})
    _key(b, "via-service-key", _anyone({"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
                                       action="kms:Decrypt"))
    # In a policy on the resource itself, aws:ResourceAccount is that resource's own account.
    b.add(SECRET_POLICY, "resource-account-secret", {"secretArn": "s", "policy": policy(
        _anyone({"StringEquals": {"aws:ResourceAccount": ACCOUNT}}, action="secretsmanager:GetSecretValue"))})
    b.add(REST_API, "not-principal-api", {"name": "api", "policy": policy(
        {"Effect": "Allow", "NotPrincipal": {"AWS": ROOT}, "Action": "execute-api:Invoke", "Resource": "*"})})
    _key(b, "wildcard-values-key",
         _anyone({"StringLike": {"aws:PrincipalAccount": "*"}}, action="kms:Decrypt"),
         _anyone({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}}, action="kms:Decrypt"))


@scenario("AIB-120", "endpoint-policies", {"default-like": FAIL, "resource-perimeter": PASS, "attached": FAIL})
def _(b):
    _gateway(b, "default-like", policy=policy(_anyone()))
    _gateway(b, "resource-perimeter", policy=policy(
        _anyone({"StringEquals": {"aws:ResourceAccount": ACCOUNT}}),
        _anyone({"Bool": {"aws:PrincipalIsAWSService": "true"}})))
    b.add(VPC_ENDPOINT_POLICY, "attached", {"vpcEndpointId": "vpce-1", "policy": policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::*"]})})


@scenario("AIB-120", "permissions-named-or-limited",
          {"by-account": PASS, "by-source": PASS, "by-service": PASS, "layer-org": PASS, "bus-org": PASS})
def _(b):
    b.add(LAMBDA_PERMISSION, "by-account", {"function": "f", "action": "lambda:InvokeFunction", "principal": ACCOUNT})
    b.add(LAMBDA_PERMISSION, "by-source", {"function": "f", "action": "lambda:InvokeFunction", "principal": "*",
                                           "sourceAccount": ACCOUNT})
    b.add(LAMBDA_PERMISSION, "by-service", {"function": "f", "action": "lambda:InvokeFunction",
                                            "principal": "apigateway.amazonaws.com"})
    b.add(LAMBDA_LAYER_PERMISSION, "layer-org", {"layerName": "l", "versionNumber": 1, "action": "lambda:GetLayerVersion",
                                                  "principal": "*", "organizationId": "o-a1b2c3d4e5"})
    b.add(EVENT_PERMISSION, "bus-org", {"principal": "*", "statementId": "org", "condition": {
        "key": "aws:PrincipalOrgID", "type": "StringEquals", "value": "o-a1b2c3d4e5"}})


@scenario("AIB-120", "permissions-for-anyone",
          {"any-account": FAIL, "public-url": FAIL, "wildcard-source": FAIL, "layer-any": FAIL, "bus-any": FAIL})
def _(b):
    b.add(LAMBDA_PERMISSION, "any-account", {"function": "f", "action": "lambda:InvokeFunction", "principal": "*"})
    b.add(LAMBDA_PERMISSION, "public-url", {"function": "f", "action": "lambda:InvokeFunctionUrl", "principal": "*",
                                            "functionUrlAuthType": "NONE"})
    b.add(LAMBDA_PERMISSION, "wildcard-source", {"function": "f", "action": "lambda:InvokeFunction", "principal": "*",
                                                 "sourceArn": "arn:aws:execute-api:eu-west-1:*:*"})
    b.add(LAMBDA_LAYER_PERMISSION, "layer-any", {"layerName": "l", "versionNumber": 1, "action": "lambda:GetLayerVersion",
                                                  "principal": "*"})
    b.add(EVENT_PERMISSION, "bus-any", {"principal": "*", "statementId": "all"})


@scenario("AIB-120", "no-policy-or-unknown-until-apply", {"plain-key": NA, "plain-topic": NA, "interface": NA,
                                                          "preview-key": NA})
def _(b):
    b.add(KEY, "plain-key", {"enableKeyRotation": True})
    b.add(SNS_TOPIC, "plain-topic", {"kmsMasterKeyId": "k"})
    b.add(VPC_ENDPOINT, "interface", {"vpcEndpointType": "Interface", "serviceName": "com.amazonaws.eu-west-1.sts"})
    b.add(KEY, "preview-key", {"enableKeyRotation": True, "policy": UNKNOWN})


# ==============================================================================================
# AIB-121: AWS services act only for this stack's sources
# ==============================================================================================
@scenario("AIB-121", "services-limited-to-their-source",
          {"logs-key": PASS, "audit-policy": PASS, "flow-logs-role": PASS, "authorizer-invoke": PASS})
def _(b):
    _key(b, "logs-key",
         _service("cloudtrail.amazonaws.com", {"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
         _service("logs.eu-west-1.amazonaws.com",
                  {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:*"}}))
    b.add(BUCKET_POLICY, "audit-policy", {"bucket": "audit", "policy": policy(_service(
        "cloudtrail.amazonaws.com", {"StringEquals": {"aws:SourceArn": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/audit"}},
        action="s3:PutObject"))})
    b.add(ROLE, "flow-logs-role", {"assumeRolePolicy": policy(_service(
        "vpc-flow-logs.amazonaws.com", {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, action="sts:AssumeRole"))})
    b.add(LAMBDA_PERMISSION, "authorizer-invoke", {
        "function": "f", "action": "lambda:InvokeFunction", "principal": "apigateway.amazonaws.com",
        "sourceArn": f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:abc123/authorizers/*"})


@scenario("AIB-121", "services-for-any-account",
          {"logs-key": FAIL, "access-logs-policy": FAIL, "findings-policy": FAIL, "lambda-role": FAIL,
           "notification-invoke": FAIL})
def _(b):
    _key(b, "logs-key", _service("cloudtrail.amazonaws.com"))
    b.add(BUCKET_POLICY, "access-logs-policy", {"bucket": "logs", "policy": policy(_service(
        "logging.s3.amazonaws.com", action="s3:PutObject"))})
    b.add(SNS_TOPIC_POLICY, "findings-policy", {"arn": "t", "policy": policy(_service(
        "events.amazonaws.com", {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/*"}}, action="sns:Publish"))})
    b.add(ROLE, "lambda-role", {"assumeRolePolicy": policy(_service(
        "lambda.amazonaws.com", {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, action="sts:AssumeRole"))})
    b.add(LAMBDA_PERMISSION, "notification-invoke", {"function": "f", "action": "lambda:InvokeFunction",
                                                     "principal": "s3.amazonaws.com"})


@scenario("AIB-121", "documented-exemptions", {"logs-key": EXEMPT, "node-role": EXEMPT, "cluster-role": EXEMPT})
def _(b):
    _key(b, "logs-key", _service("events.amazonaws.com"))
    b.add(ROLE, "node-role", {"assumeRolePolicy": policy(_service("ec2.amazonaws.com", action="sts:AssumeRole"))})
    b.add(ROLE, "cluster-role", {"assumeRolePolicy": policy(_service("eks.amazonaws.com",
                                                                     action=["sts:AssumeRole", "sts:TagSession"]))})


@scenario("AIB-121", "an-exemption-covers-only-its-policy-kind", {"events-role": FAIL, "ec2-key": FAIL})
def _(b):
    b.add(ROLE, "events-role", {"assumeRolePolicy": policy(_service("events.amazonaws.com", action="sts:AssumeRole"))})
    _key(b, "ec2-key", _service("ec2.amazonaws.com"))


@scenario("AIB-121", "no-service-principal", {"account-key": NA, "user-invoke": NA, "plain-key": NA})
def _(b):
    _key(b, "account-key")
    b.add(LAMBDA_PERMISSION, "user-invoke", {"function": "f", "action": "lambda:InvokeFunction", "principal": ACCOUNT})
    b.add(KEY, "plain-key", {"enableKeyRotation": True})


# ==============================================================================================
# AIB-122: gateway endpoints carry a policy
# ==============================================================================================
@scenario("AIB-122", "gateway-endpoints-with-policies", {"s3-gateway": PASS, "dynamodb-gateway": PASS})
def _(b):
    _gateway(b, "s3-gateway", policy=policy(_anyone({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})))
    ddb = b.add(VPC_ENDPOINT, "dynamodb-gateway", {"vpcId": "vpc-1", "serviceName": "com.amazonaws.eu-west-1.dynamodb"})
    b.add(VPC_ENDPOINT_POLICY, "dynamodb-gateway-policy", {"vpcEndpointId": ddb.id, "policy": policy(
        _anyone({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}))}, deps=[ddb])
    # Interface endpoints are not judged: not every service supports endpoint policies.
    b.add(VPC_ENDPOINT, "sts-endpoint", {"vpcId": "vpc-1", "serviceName": "com.amazonaws.eu-west-1.sts",
                                         "vpcEndpointType": "Interface"})


@scenario("AIB-122", "gateway-endpoint-with-the-default-policy", {"s3-gateway": FAIL})
def _(b):
    _gateway(b, "s3-gateway")


# ==============================================================================================
# The shared statement analysis in AIB-061, AIB-062 and AIB-075
# ==============================================================================================
@scenario("AIB-061", "not-action-and-administrator-attachments",
          {"power-user": FAIL, "all-but-one-bucket": FAIL, "admin-attachment": FAIL, "power-user-attachment": FAIL,
           "legacy-managed-role": FAIL})
def _(b):
    b.add(IAM_POLICY, "power-user", {"policy": policy(
        {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})})
    b.add("aws:iam/rolePolicy:RolePolicy", "all-but-one-bucket", {"role": "r", "policy": policy(
        {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::audit/*"})})
    b.add(IAM_ROLE_POLICY_ATTACHMENT, "admin-attachment", {"role": "r",
                                                           "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    b.add(IAM_USER_POLICY_ATTACHMENT, "power-user-attachment", {"user": "u",
                                                                "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"})
    b.add(ROLE, "legacy-managed-role", {"assumeRolePolicy": policy(_service("ec2.amazonaws.com", action="sts:AssumeRole")),
                                        "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]})


@scenario("AIB-061", "scoped-attachments-and-denies",
          {"worker-attachment": PASS, "deny-everything-else": PASS, "scoped-not-action": PASS})
def _(b):
    b.add(IAM_ROLE_POLICY_ATTACHMENT, "worker-attachment", {
        "role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"})
    b.add(IAM_POLICY, "deny-everything-else", {"policy": policy(
        {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"})})
    b.add(IAM_POLICY, "scoped-not-action", {"policy": policy(
        {"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::data/*"})})


@scenario("AIB-062", "conditions-that-limit-nothing",
          {"tls-only": FAIL, "external-id-only": FAIL, "not-principal": FAIL, "negated-org": FAIL})
def _(b):
    assume = "sts:AssumeRole"
    b.add(ROLE, "tls-only", {"assumeRolePolicy": policy(_anyone({"Bool": {"aws:SecureTransport": "true"}},
                                                                 principal={"AWS": "*"}, action=assume))})
    b.add(ROLE, "external-id-only", {"assumeRolePolicy": policy(_anyone({"StringEquals": {"sts:ExternalId": "shared"}},
                                                                         principal={"AWS": "*"}, action=assume))})
    b.add(ROLE, "not-principal", {"assumeRolePolicy": policy(
        {"Effect": "Allow", "NotPrincipal": {"AWS": ROOT}, "Action": assume})})
    b.add(ROLE, "negated-org", {"assumeRolePolicy": policy(_anyone({"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
                                                                    principal={"AWS": "*"}, action=assume))})


@scenario("AIB-062", "limited-by-account-or-role", {"account": PASS, "role-arn": PASS})
def _(b):
    assume = "sts:AssumeRole"
    b.add(ROLE, "account", {"assumeRolePolicy": policy(_anyone({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
                                                                principal={"AWS": "*"}, action=assume))})
    b.add(ROLE, "role-arn", {"assumeRolePolicy": policy(_anyone(
        {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"}}, principal={"AWS": "*"},
        action=assume))})


@scenario("AIB-075", "conditions-that-limit-nothing", {"tls-policy": FAIL, "ip-policy": FAIL})
def _(b):
    b.add(BUCKET_POLICY, "tls-policy", {"bucket": "data", "policy": policy(_anyone(
        {"Bool": {"aws:SecureTransport": "true"}}, action="s3:GetObject"))})
    b.add(BUCKET_POLICY, "ip-policy", {"bucket": "data", "policy": policy(_anyone(
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, principal={"AWS": "*"}, action="s3:GetObject"))})


@scenario("AIB-075", "limited-by-endpoint-or-access-points", {"vpce-policy": PASS, "access-points-policy": PASS})
def _(b):
    b.add(BUCKET_POLICY, "vpce-policy", {"bucket": "data", "policy": policy(_anyone(
        {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}, action="s3:GetObject"))})
    b.add(BUCKET_POLICY, "access-points-policy", {"bucket": "data", "policy": policy(_anyone(
        {"StringEquals": {"s3:DataAccessPointAccount": ACCOUNT}}, action="s3:*"))})
