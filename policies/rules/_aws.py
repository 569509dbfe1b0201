"""Type tokens and the cross-resource lookups the rules share (how a plan's resources relate)."""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

from policies.model import (
    AWS_PROVIDER_TYPE, PolicyPlan, PolicyResource, as_list, assumed_account, is_unknown, log_group_name,
    policy_document, statements, urn_name,
)
from policies.rule import Scope

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
BUCKET_OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
BUCKET_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
IGW = "aws:ec2/internetGateway:InternetGateway"
IGW_ATTACHMENT = "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment"
EGRESS_ONLY_IGW = "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway"
NAT = "aws:ec2/natGateway:NatGateway"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
FSX_LUSTRE = "aws:fsx/lustreFileSystem:LustreFileSystem"
ECR_REPOSITORY = "aws:ecr/repository:Repository"

KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SUBSCRIPTION_FILTER = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SNS_TOPIC = "aws:sns/topic:Topic"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
TRAIL = "aws:cloudtrail/trail:Trail"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_URL = "aws:lambda/functionUrl:FunctionUrl"

IAM_ROLE = "aws:iam/role:Role"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"

REST_API = "aws:apigateway/restApi:RestApi"
API_STAGE = "aws:apigateway/stage:Stage"
API_METHOD = "aws:apigateway/method:Method"
API_RESOURCE = "aws:apigateway/resource:Resource"
API_METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
API_USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
R53_RECORD = "aws:route53/record:Record"
R53_HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"

GUARDDUTY_DETECTOR = "aws:guardduty/detector:Detector"
GUARDDUTY_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
GUARDDUTY_MALWARE_PLAN = "aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan"
MACIE_ACCOUNT = "aws:macie2/account:Account"
MACIE_JOB = "aws:macie2/classificationJob:ClassificationJob"
SECURITY_HUB = "aws:securityhub/account:Account"
SECURITY_HUB_STANDARD = "aws:securityhub/standardsSubscription:StandardsSubscription"
CONFIG_RECORDER = "aws:cfg/recorder:Recorder"
CONFIG_DELIVERY_CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
CONFIG_RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"

GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
GUARDRAIL_VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
INVOCATION_LOGGING = "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"

OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
S3_LOG_DELIVERY = "logging.s3.amazonaws.com"
_MODEL_SEGMENT = re.compile(r"(^|[-_])models?([-_]|$)")


def known(value: Any) -> bool:
    """Set, and not a value the engine reports as unknown during a preview."""
    return value not in (None, "", [], {}) and not is_unknown(value)


def is_set(value: Any) -> bool:
    """Set, or computed from another resource (unknown during a preview counts as set)."""
    return value not in (None, "", [], {})


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


# -- S3 --------------------------------------------------------------------------------------
def bucket_of(plan: PolicyPlan, r: PolicyResource) -> Optional[PolicyResource]:
    return plan.resolve(r, "bucket", [BUCKET])


def bucket_parts(plan: PolicyPlan, bucket: PolicyResource, type_: str) -> list[PolicyResource]:
    """The bucket's sub-resources of one type (encryption, versioning, policy, ...)."""
    return plan.linked(bucket, [type_], "bucket")


def bucket_policy_documents(plan: PolicyPlan, bucket: PolicyResource) -> list[Optional[dict[str, Any]]]:
    docs = [policy_document(p.get("policy")) for p in bucket_parts(plan, bucket, BUCKET_POLICY)]
    inline = bucket.get("policy")
    if is_set(inline):
        docs.append(policy_document(inline))
    return docs


def principal_services(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        return {str(s) for s in as_list(principal.get("Service"))}
    return set()


def is_access_log_target(plan: PolicyPlan, bucket: PolicyResource) -> bool:
    """The bucket's policy lets the S3 logging service write to it: a server-access-log target,
    which S3 requires to use SSE-S3 (AES256), not SSE-KMS."""
    return any(
        stmt.get("Effect") == "Allow" and S3_LOG_DELIVERY in principal_services(stmt)
        for doc in bucket_policy_documents(plan, bucket) for stmt in statements(doc)
    )


AUDIT_BUCKET_REFS: dict[str, tuple[tuple[str, ...], ...]] = {
    TRAIL: (("s3BucketName",),),
    CONFIG_DELIVERY_CHANNEL: (("s3BucketName",),),
    FIREHOSE: (("extendedS3Configuration", "bucketArn"), ("extendedS3Configuration", "s3BackupConfiguration", "bucketArn"),
               ("splunkConfiguration", "s3Configuration", "bucketArn"),
               ("httpEndpointConfiguration", "s3Configuration", "bucketArn")),
}


def audit_buckets(plan: PolicyPlan) -> list[PolicyResource]:
    """Buckets that hold audit evidence: CloudTrail's destination, every S3 destination or
    backup of a Firehose stream (the SIEM archive) and AWS Config's delivery bucket."""
    found: dict[str, PolicyResource] = {}
    for type_, paths in AUDIT_BUCKET_REFS.items():
        for owner in plan.of_type(type_):
            for path in paths:
                b = plan.resolve(owner, path, [BUCKET]) if is_set(owner.get(*path)) else None
                if b:
                    found[b.urn] = b
    return list(found.values())


def replica_buckets(plan: PolicyPlan, bucket: PolicyResource) -> list[PolicyResource]:
    """The buckets of this plan that an enabled replication rule of `bucket` copies objects to
    (whatever the rule's filter)."""
    found: list[PolicyResource] = []
    for config in bucket_parts(plan, bucket, BUCKET_REPLICATION):
        for rule in as_list(config.get("rules")):
            if not isinstance(rule, dict) or rule.get("status") != "Enabled":
                continue
            destination = rule.get("destination")
            target = plan.lookup(destination.get("bucket"), [BUCKET]) if isinstance(destination, dict) else None
            if target is not None and target not in found:
                found.append(target)
    return found


def is_model_bucket(bucket: PolicyResource) -> bool:
    """The model-artifact bucket: its logical name, after the blueprint's name (the `Blueprint`
    tag every resource carries), has a `model`/`models` segment (the training blueprint's
    `<name>-models`)."""
    name = bucket.name
    blueprint = bucket.get("tags", "Blueprint")
    if isinstance(blueprint, str) and name.startswith(blueprint + "-"):
        name = name[len(blueprint) + 1:]
    return bool(_MODEL_SEGMENT.search(name))


# -- networks --------------------------------------------------------------------------------
def vpc_of(plan: PolicyPlan, r: PolicyResource) -> Optional[PolicyResource]:
    if r.type == NAT:
        subnet = plan.resolve(r, "subnetId", [SUBNET])
        return vpc_of(plan, subnet) if subnet else None
    if r.type == ROUTE:
        table = plan.resolve(r, "routeTableId", [ROUTE_TABLE])
        return vpc_of(plan, table) if table else None
    return plan.resolve(r, "vpcId", [VPC])


def in_training_network(plan: PolicyPlan, r: PolicyResource) -> bool:
    """Training by its own place in the component tree, or attached to a training VPC."""
    if plan.in_training(r):
        return True
    vpc = vpc_of(plan, r)
    return vpc is not None and plan.in_training(vpc)


def resources_for_vpc(plan: PolicyPlan, vpc: PolicyResource, *types: str) -> list[PolicyResource]:
    return [r for r in plan.of_type(*types) if vpc_of(plan, r) is vpc]


# -- logs ------------------------------------------------------------------------------------
def ships_to_firehose(plan: PolicyPlan, owner: PolicyResource, key: str) -> bool:
    """`owner`'s `key` names a Firehose stream of this plan (by ARN or name; during a preview,
    an unknown ARN counts when `owner` depends on a stream)."""
    ref = owner.get(key)
    if is_unknown(ref):
        return bool(plan.dependencies_of(owner, FIREHOSE))
    return plan.lookup(ref, [FIREHOSE]) is not None or (
        isinstance(ref, str) and ":deliverystream/" in ref and any(
            ref.rsplit("/", 1)[-1] == s.get("name") for s in plan.of_type(FIREHOSE)))


def subscribed_log_groups(plan: PolicyPlan) -> set[str]:
    """Names of the log groups a subscription filter ships to a Firehose stream of this plan
    (the SIEM); a filter to anything else ships nothing the stack controls."""
    names = set()
    for f in plan.of_type(SUBSCRIPTION_FILTER):
        if not ships_to_firehose(plan, f, "destinationArn"):
            continue
        name = log_group_name(f.get("logGroup"))
        if name is None:
            group = plan.resolve(f, "logGroup", [LOG_GROUP])
            name = log_group_name(group.get("name")) if group else None
        if name:
            names.add(name)
    return names


def log_group_names(plan: PolicyPlan) -> set[str]:
    """The names of the log groups the plan creates (unknown names excluded)."""
    return {n for n in (log_group_name(g.get("name")) for g in plan.of_type(LOG_GROUP)) if n}


def log_group_ref_name(plan: PolicyPlan, owner: PolicyResource, ref: Any) -> Optional[str]:
    name = log_group_name(ref)
    if name is None:
        for dep in plan.dependencies_of(owner, LOG_GROUP):
            return log_group_name(dep.get("name"))
    return name


# -- scopes: the parts of a stack a rule protects ------------------------------------------------
def aws_present(plan: PolicyPlan) -> bool:
    """The stack deploys anything to AWS: every blueprint stack has an audit trail, SIEM
    shipping and encrypted buckets, whatever else it enables."""
    return any(r.type.startswith("aws:") for r in plan.resources)


def training_present(plan: PolicyPlan) -> bool:
    """Any part of the training blueprint is in the plan: a resource in the training tree (its
    VPC, cluster, node groups, buckets) or an FSx file system."""
    return plan.has(FSX_LUSTRE) or any(r.type.startswith("aws:") and plan.in_training(r) for r in plan.resources)


# What only the inference blueprint creates: the API and its edge, and the serving clusters.
INFERENCE_TYPES = (REST_API, API_STAGE, API_METHOD, WEB_ACL, WEB_ACL_ASSOCIATION, "aws:apigateway/vpcLink:VpcLink",
                   LOAD_BALANCER, R53_HEALTH_CHECK)


def inference_present(plan: PolicyPlan) -> bool:
    """Any part of the inference blueprint is in the plan: the API, its WAF, the VPC link and
    load balancer, a health check, or an EKS cluster or node group outside training."""
    return plan.has(*INFERENCE_TYPES) or any(
        not plan.in_training(r) for r in plan.of_type(EKS_CLUSTER, EKS_NODE_GROUP))


EVERY_STACK = Scope("every stack", aws_present, where="in every stack")
TRAINING = Scope("training", training_present)
INFERENCE = Scope("inference", inference_present)
CLUSTERS = Scope("training or inference", lambda plan: training_present(plan) or inference_present(plan))


def stage_key(plan: PolicyPlan, r: PolicyResource) -> Optional[tuple[str, str]]:
    """(REST API URN, stage name) of a stage or of method settings. During a preview the
    settings' stageName is the stage's unknown output: the stage it depends on names it."""
    api = plan.resolve(r, "restApi", [REST_API])
    name = r.get("stageName")
    if not known(name) and r.type != API_STAGE:
        stage = plan.resolve(r, "stageName", [API_STAGE])
        name = stage.get("stageName") if stage else None
    if api is None or not known(name):
        return None
    return api.urn, str(name)


def stage_web_acls(plan: PolicyPlan, stage: PolicyResource) -> list[PolicyResource]:
    """The web ACLs of this plan associated with the stage (WebAclAssociation resourceArn ->
    the stage, webAclArn -> the ACL)."""
    found = []
    for association in plan.linked(stage, [WEB_ACL_ASSOCIATION], "resourceArn"):
        acl = plan.resolve(association, "webAclArn", [WEB_ACL])
        if acl is not None and acl not in found:
            found.append(acl)
    return found


def region_anchor(plan: PolicyPlan, region: str, account: Optional[str] = None) -> str:
    """Where a finding about something missing from a whole region (of one account, where
    `account` is given and a provider assumes a role there) is reported: that region's AWS
    provider (so a suppression can name it), else the stack."""
    if account:
        own = next((p.urn for p in plan.of_type(AWS_PROVIDER_TYPE)
                    if plan.providers.get(f"{p.urn}::{p.id}") == region and assumed_account(p.inputs) == account), None)
        if own is not None:
            return own
    return next((ref.rsplit("::", 1)[0] for ref, r in plan.providers.items() if r == region), plan.stack_urn)


def names(resources: Iterable[PolicyResource]) -> str:
    return ", ".join(sorted(urn_name(r.urn) for r in resources))

