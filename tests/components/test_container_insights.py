"""ContainerInsights: the observability add-on with Pod Identity, and its performance log group
created first, encrypted and expiring."""

import functools
import json

from blueprints.plan.engine import run_program
from components.container_insights import ContainerInsights, ContainerInsightsArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.kms_key import KmsKey, KmsKeyArgs
from tests.components.serving_stack import one


@functools.lru_cache(maxsize=None)
def plan():
    def program():
        key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["logs"]))
        vpc = IsolatedVpc("ci", IsolatedVpcArgs())
        cluster = EksCluster("ci-cluster", EksClusterArgs(vpc=vpc))
        ContainerInsights("ci", ContainerInsightsArgs(cluster=cluster, log_retention_days=90, log_kms_key=key))
    return run_program(program, stack="ci-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_addon_agent_gets_its_role_through_pod_identity():
    addon = one(plan(), "aws:eks/addon:Addon", "ci-addon")
    role = one(plan(), "aws:iam/role:Role", "ci-agent-role")
    assert addon.inputs["addonName"] == "amazon-cloudwatch-observability"
    assert addon.inputs["podIdentityAssociations"] == [{"roleArn": role.outputs["arn"], "serviceAccount": "cloudwatch-agent"}]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    policy = one(plan(), "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ci-agent-policy")
    assert policy.inputs["policyArn"].endswith(":iam::aws:policy/CloudWatchAgentServerPolicy")


def test_performance_log_group_exists_before_the_agent_encrypted_and_expiring():
    group = one(plan(), "aws:cloudwatch/logGroup:LogGroup", "ci-performance")
    assert group.inputs["name"] == "/aws/containerinsights/ci-cluster/performance"
    assert group.inputs["retentionInDays"] == 90 and group.protect is True
    assert group.inputs["kmsKeyId"] == one(plan(), "aws:kms/key:Key").outputs["arn"]
    assert group.urn in one(plan(), "aws:eks/addon:Addon", "ci-addon").dependencies
