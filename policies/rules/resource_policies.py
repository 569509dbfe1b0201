"""Resource policies: who else may use a key, a topic, a queue, an endpoint, a function.

Every resource policy in the plan is read with the one statement analysis in `_statements.py`:
an Allow for any principal must carry a condition that limits who (AIB-120; a bucket policy is
AIB-075's and a role's trust policy AIB-062's, with the same test), an AWS service named in a
policy must be limited to acting for this stack's sources (AIB-121, the confused deputy), and a
gateway endpoint of an air-gapped network must carry a policy at all (AIB-122), since without
one AWS attaches a policy that lets any principal through.

Where AWS gives a service no source to name, or only this account can hand the service the role,
`SERVICE_EXEMPTIONS` below says so, as data with the reason; the report shows each exemption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from policies.controls import BOUNDARY, LEAST_PRIVILEGE, PUBLIC_ACCESS, merge
from policies.model import PolicyPlan, PolicyResource, is_unknown, policy_document, statements
from policies.rule import (
    PROHIBITION, Exemption, Result, RuleContext, always, declare_exemptions, exempt, fail, mandatory_if, na, ok,
    plan_rule, resource_rule,
)
from policies.rules._aws import BUCKET, BUCKET_POLICY as BUCKET_POLICY_TYPE, IAM_ROLE, KMS_KEY, SNS_TOPIC, VPC_ENDPOINT, is_set
from policies.rules._statements import (
    ACCESS_POINT_POLICY, BUCKET_POLICY, ENDPOINT_POLICY, KEY_POLICY, PERMISSION, TRUST_POLICY, concrete_arn,
    allows, describe, describe_open, principal_values, unlimited_services,
)

AREA = "identity and access"

KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
VPC_ENDPOINT_POLICY = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ECR_REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
LOG_RESOURCE_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
EVENT_BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
REST_API = "aws:apigateway/restApi:RestApi"
REST_API_POLICY = "aws:apigateway/restApiPolicy:RestApiPolicy"
S3_ACCESS_POINT = "aws:s3/accessPoint:AccessPoint"
S3_ACCESS_POINT_POLICY = "aws:s3control/accessPointPolicy:AccessPointPolicy"
GLACIER_VAULT = "aws:glacier/vault:Vault"
OPENSEARCH_DOMAIN = "aws:opensearch/domain:Domain"
OPENSEARCH_DOMAIN_POLICY = "aws:opensearch/domainPolicy:DomainPolicy"
BACKUP_VAULT_POLICY = "aws:backup/vaultPolicy:VaultPolicy"
EFS_FILE_SYSTEM_POLICY = "aws:efs/fileSystemPolicy:FileSystemPolicy"
KINESIS_RESOURCE_POLICY = "aws:kinesis/resourcePolicy:ResourcePolicy"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
LAMBDA_LAYER_PERMISSION = "aws:lambda/layerVersionPermission:LayerVersionPermission"
EVENT_PERMISSION = "aws:cloudwatch/eventPermission:EventPermission"

# Where each resource-policy type keeps its document, and what kind of policy it is. Bucket
# policies (BucketPolicy) are AIB-075's, trust policies (Role.assumeRolePolicy) AIB-062's.
RESOURCE_POLICIES: dict[str, tuple[str, str]] = {
    KMS_KEY: ("policy", KEY_POLICY),
    KMS_KEY_POLICY: ("policy", KEY_POLICY),
    SNS_TOPIC: ("policy", "topic policy"),
    SNS_TOPIC_POLICY: ("policy", "topic policy"),
    SQS_QUEUE: ("policy", "queue policy"),
    SQS_QUEUE_POLICY: ("policy", "queue policy"),
    VPC_ENDPOINT: ("policy", ENDPOINT_POLICY),
    VPC_ENDPOINT_POLICY: ("policy", ENDPOINT_POLICY),
    ECR_REPOSITORY_POLICY: ("policy", "repository policy"),
    ECR_REGISTRY_POLICY: ("policy", "registry policy"),
    LOG_RESOURCE_POLICY: ("policyDocument", "log resource policy"),
    EVENT_BUS_POLICY: ("policy", "event bus policy"),
    SECRET: ("policy", "secret policy"),
    SECRET_POLICY: ("policy", "secret policy"),
    REST_API: ("policy", "API policy"),
    REST_API_POLICY: ("policy", "API policy"),
    BUCKET: ("policy", BUCKET_POLICY),  # the bucket's own (legacy) inline policy
    S3_ACCESS_POINT: ("policy", ACCESS_POINT_POLICY),
    S3_ACCESS_POINT_POLICY: ("policy", ACCESS_POINT_POLICY),
    GLACIER_VAULT: ("accessPolicy", "vault policy"),
    OPENSEARCH_DOMAIN: ("accessPolicies", "domain policy"),
    OPENSEARCH_DOMAIN_POLICY: ("accessPolicies", "domain policy"),
    BACKUP_VAULT_POLICY: ("policy", "vault policy"),
    EFS_FILE_SYSTEM_POLICY: ("policy", "file system policy"),
    KINESIS_RESOURCE_POLICY: ("policy", "stream policy"),
}
PERMISSIONS = (LAMBDA_PERMISSION, LAMBDA_LAYER_PERMISSION, EVENT_PERMISSION)
# Every document AIB-121 reads for service principals: the resource policies, bucket policies
# and trust policies.
SERVICE_DOCUMENTS: dict[str, tuple[str, str]] = {
    **RESOURCE_POLICIES, BUCKET_POLICY_TYPE: ("policy", BUCKET_POLICY), IAM_ROLE: ("assumeRolePolicy", TRUST_POLICY),
}


@dataclass(frozen=True)
class ServiceExemption(Exemption):
    """A service principal that may appear without a source condition in one kind of policy.
    Matched by the rule, the policy kind and the service principal exactly: AWS passes that
    service no source to name there, or only a principal of this account can hand it the role."""

    kind: str = ""  # KEY_POLICY, TRUST_POLICY, ...
    service: str = ""  # the service principal, e.g. "ec2.amazonaws.com"

    @property
    def subject(self) -> str:
        return f"`{self.service}` in a {self.kind}"


SERVICE_EXEMPTIONS: tuple[ServiceExemption, ...] = declare_exemptions(
    ServiceExemption(
        "AIB-121", kind=KEY_POLICY, service="events.amazonaws.com",
        reason="EventBridge's KMS requests when it delivers to an encrypted SNS topic carry no aws:SourceAccount or "
        "aws:SourceArn, so a source condition would drop every event (Amazon SNS Developer Guide, \"Compatibility "
        "between event sources from AWS services and encrypted topics\"); the topic policy is where the publishing "
        "rules are named"),
    ServiceExemption(
        "AIB-121", kind=TRUST_POLICY, service="ec2.amazonaws.com",
        reason="EC2 assumes an instance profile's role for the instance it is attached to, with no source to name (the IAM "
        "User Guide's EC2 role trust policy has no condition); only a principal of this account with iam:PassRole "
        "can attach the role to an instance, so no other account can make EC2 use it"),
    ServiceExemption(
        "AIB-121", kind=TRUST_POLICY, service="eks.amazonaws.com",
        reason="the EKS cluster role is handed to EKS at CreateCluster, which requires iam:PassRole in this account (the "
        "Amazon EKS User Guide's cluster role trust policy has no condition); no other account can make EKS use it"),
    ServiceExemption(
        "AIB-121", kind=TRUST_POLICY, service="apigateway.amazonaws.com",
        reason="API Gateway assumes the account's CloudWatch logging role for the account and region, not for an API, "
        "and sends no aws:SourceAccount or aws:SourceArn, so a source condition makes setting the role fail (API Gateway "
        "Developer Guide, \"Permissions for CloudWatch logging\", and the AWS::ApiGateway::Account example: the role "
        "trusts apigateway.amazonaws.com with no condition); setting it on the account (UpdateAccount) passes the role, "
        "which requires iam:PassRole in this account, so no other account can make API Gateway use it"),
)


def service_exemption(rule_id: str, kind: str, service: str) -> Optional[ServiceExemption]:
    return next((e for e in SERVICE_EXEMPTIONS if (e.rule, e.kind, e.service) == (rule_id, kind, service)), None)


def _document(r: PolicyResource, table: dict[str, tuple[str, str]]) -> tuple[Any, str]:
    key, kind = table[r.type]
    return r.get(key), kind


# -- AIB-120 ----------------------------------------------------------------------------------------
def _permission_opens(r: PolicyResource) -> Optional[str]:
    """Why a Lambda / Lambda layer / EventBridge permission lets any principal in, or None."""
    principal = r.get("principal")
    if not isinstance(principal, str) or is_unknown(principal) or "*" not in principal:
        return None
    if r.type == LAMBDA_PERMISSION:
        if r.get("functionUrlAuthType") == "NONE":
            return 'principal "*" with functionUrlAuthType NONE: anyone on the internet can invoke the function URL'
        if is_set(r.get("principalOrgId")) or _account(r.get("sourceAccount")) or _arn(r.get("sourceArn")):
            return None
        return 'principal "*" with no sourceArn, sourceAccount or principalOrgId: any account may invoke the function'
    if r.type == LAMBDA_LAYER_PERMISSION:
        if is_set(r.get("organizationId")):
            return None
        return 'principal "*" with no organizationId: any account may use the layer'
    condition = r.get("condition") or {}
    if (isinstance(condition, dict) and str(condition.get("key", "")).lower() == "aws:principalorgid"
            and condition.get("type") == "StringEquals" and is_set(condition.get("value"))):
        return None
    return 'principal "*" with no aws:PrincipalOrgID condition: any account may put events on the bus'


def _account(value: Any) -> bool:
    return is_unknown(value) or (isinstance(value, str) and value.isdigit() and len(value) == 12)


def _arn(value: Any) -> bool:
    return is_set(value) and concrete_arn(value)


@resource_rule(
    id="AIB-120", scope=PROHIBITION,
    title="No resource policy or permission lets any principal in without a condition that limits who",
    severity="critical", area=AREA, types=(*RESOURCE_POLICIES, *PERMISSIONS),
    controls=merge(LEAST_PRIVILEGE, PUBLIC_ACCESS), level=always("mandatory"),
)
def resource_policy_limits_who(r: PolicyResource, ctx: RuleContext) -> Result:
    """An Allow for "*", {"AWS": "*"} or NotPrincipal in a key, topic, queue, endpoint, repository,
    secret, API, log or event-bus policy, or a Lambda, Lambda layer or EventBridge permission for
    "*", carries a condition that limits who: the caller's account or organization
    (aws:PrincipalAccount, aws:PrincipalOrgID, aws:PrincipalArn, kms:CallerAccount), the source an
    AWS service acts for (aws:SourceArn, aws:SourceAccount), or the network (aws:SourceVpce).
    Without one, any AWS account's credentials can use the resource: decrypt with the key, read
    the topic, invoke the function. Conditions on transport or client (aws:SecureTransport,
    aws:UserAgent) limit nothing."""
    if r.type in PERMISSIONS:
        why = _permission_opens(r)
        principal = r.get("principal")
        return fail(why) if why else ok(f"principal {principal} is named or limited")
    value, kind = _document(r, RESOURCE_POLICIES)
    if not is_set(value):
        return na(f"no {kind} on the resource")
    doc = policy_document(value)
    if doc is None:
        return na(f"{kind} unknown until apply")
    open_ = describe_open(doc, kind)
    if open_:
        return fail(f"{kind} lets any principal in with no condition that limits who: {'; '.join(open_)}")
    return ok(f"{kind}: every principal is named or limited by a condition")


# -- AIB-121 ----------------------------------------------------------------------------------------
def _judge_services(findings: list[tuple[str, str, str]]) -> Result:
    """One result from (kind, service, where) findings of service principals without a source."""
    failing = [f"{service} in {where}" for kind, service, where in findings if not service_exemption("AIB-121", kind, service)]
    if failing:
        return fail("an AWS service may act for any account's resources (no aws:SourceArn or aws:SourceAccount "
                    f"condition): {'; '.join(failing)}")
    reasons = sorted({f"{service} in a {kind}: {service_exemption('AIB-121', kind, service).reason}"
                      for kind, service, _ in findings})
    return exempt("; ".join(reasons))


@resource_rule(
    id="AIB-121", scope=PROHIBITION,
    title="AWS services named in resource and trust policies act only for this stack's sources (aws:SourceArn / aws:SourceAccount)",
    severity="high", area=AREA, types=(*SERVICE_DOCUMENTS, LAMBDA_PERMISSION),
    controls=merge(LEAST_PRIVILEGE, BOUNDARY), level=always("mandatory"),
)
def service_principals_name_their_source(r: PolicyResource, ctx: RuleContext) -> Result:
    """An Allow for an AWS service principal (cloudtrail.amazonaws.com, logs.<region>.amazonaws.com,
    ...) carries aws:SourceArn, aws:SourceAccount, aws:SourceOrgID or the service's own encryption
    context, and a Lambda permission for a service has a sourceArn or sourceAccount. Without one
    the service acts for any customer: another account's trail writes into this bucket, another
    account's log group uses this key, another account's bucket notification invokes this function
    (the IAM User Guide, "The confused deputy problem"; the Lambda Developer Guide on permissions
    for AWS services). Exemptions, as data with their reasons: `SERVICE_EXEMPTIONS`."""
    if r.type == LAMBDA_PERMISSION:
        principal = r.get("principal")
        if not isinstance(principal, str) or is_unknown(principal) or "*" in principal or not principal.endswith(
                (".amazonaws.com", ".amazonaws.com.cn")):
            return na("the principal is not an AWS service")
        if _account(r.get("sourceAccount")) or _arn(r.get("sourceArn")):
            return ok(f"{principal} limited to its source")
        return _judge_services([(PERMISSION, principal, "a permission with no sourceArn or sourceAccount")])
    value, kind = _document(r, SERVICE_DOCUMENTS)
    if not is_set(value):
        return na(f"no {kind} on the resource")
    doc = policy_document(value)
    if doc is None:
        return na(f"{kind} unknown until apply")
    if not any(allows(s) and principal_values(s).get("Service") for s in statements(doc)):
        return na(f"the {kind} names no AWS service")
    findings = [(kind, service, describe(s, i)) for i, s in enumerate(statements(doc)) for service in unlimited_services(s)]
    if not findings:
        return ok(f"every AWS service in the {kind} is limited to its source")
    return _judge_services(findings)


# -- AIB-122 ----------------------------------------------------------------------------------------
@plan_rule(
    id="AIB-122", scope=PROHIBITION,
    title="Gateway VPC endpoints (S3, DynamoDB) carry an endpoint policy where the tier forbids egress",
    severity="high", area=AREA, types=(VPC_ENDPOINT, VPC_ENDPOINT_POLICY), controls=merge(BOUNDARY, LEAST_PRIVILEGE),
    level=mandatory_if("air_gapped", otherwise="disabled", where="`training_egress` is `endpoints`"),
)
def gateway_endpoint_policy(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A gateway endpoint without a policy gets AWS's default, which allows any principal every
    action on every resource (the AWS PrivateLink Guide, "Default endpoint policy"): a workload
    with credentials of any AWS account can copy data to that account's buckets through it.
    Where the endpoints are the network's only way out, their policy is the data perimeter; the
    policy's statements are AIB-120's. (With NAT egress a denied request would leave through the
    NAT instead, so the rule is off there.) Interface endpoints are not judged here: not every AWS
    service supports endpoint policies."""
    for endpoint in plan.of_type(VPC_ENDPOINT):
        kind = endpoint.get("vpcEndpointType", default="Gateway")
        if kind != "Gateway" and not is_unknown(kind):
            continue
        attached = [p for p in plan.linked(endpoint, [VPC_ENDPOINT_POLICY], "vpcEndpointId") if is_set(p.get("policy"))]
        service = endpoint.get("serviceName", default="the service")
        if is_set(endpoint.get("policy")) or attached:
            yield ok(f"gateway endpoint to {service} has an endpoint policy", endpoint)
        else:
            yield fail(f"gateway endpoint to {service} has no endpoint policy: AWS's default lets any principal, with any "
                       "account's credentials, use it for every action on every resource", endpoint)
