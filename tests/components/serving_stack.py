"""One small serving chain (VPC -> cluster -> GPU nodes -> workload -> ingress -> API -> WAF ->
alarms -> DNS) rendered once per argument set, shared by the serving component tests."""

from __future__ import annotations

import functools
import json
from typing import Any

from blueprints.plan.engine import Plan, Resource, run_program
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.kms_key import KmsKey, KmsKeyArgs
from components.node_group import NodeGroup, NodeGroupArgs
from components.private_ingress import PrivateIngress, PrivateIngressArgs
from components.regional_dns import RegionalDns, RegionalDnsArgs
from components.rest_api import CognitoAuthorizer, RestApi, RestApiArgs, StageCanary, TokenAuthorizer
from components.serving_alarms import ServingAlarms, ServingAlarmsArgs
from components.serving_workload import ServingWorkload, ServingWorkloadArgs
from components.web_acl import WebAcl, WebAclArgs

IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/llm-server:1.4.2"
CANARY_IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/llm-server:1.5.0"
REGION = "eu-west-1"
DEVICE_PLUGIN = "nvcr.io/nvidia/k8s-device-plugin:v0.17.2"


def build(options: dict[str, Any]) -> None:
    """The chain; `options` may hold `api` (RestApiArgs overrides), `dns` (RegionalDnsArgs
    overrides), `alarm_health` (bool), `cmk` (bool), `canary` (percent: a canary workload,
    ingress backend and stage canary for model 1.5.0)."""
    key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["logs", "sns", "cloudwatch"])) \
        if options.get("cmk") else None
    vpc = IsolatedVpc("svc", IsolatedVpcArgs(cidr_block="10.40.0.0/16"))
    cluster = EksCluster("svc", EksClusterArgs(vpc=vpc))
    nodes = NodeGroup("svc-gpu", NodeGroupArgs(cluster=cluster, subnet_ids=vpc.private_subnet_ids,
                                               instance_types=["g6.xlarge"], min_size=2, max_size=6))
    workload = ServingWorkload("svc-serving", ServingWorkloadArgs(
        cluster=cluster, image=IMAGE, model_version="1.4.2", min_replicas=2, max_replicas=6,
        ingress_cidrs=[vpc.cidr_block], device_plugin_image=DEVICE_PLUGIN, node_group=nodes))
    canary = None
    if options.get("canary") is not None:
        canary = ServingWorkload("svc-serving-canary", ServingWorkloadArgs(
            cluster=cluster, image=CANARY_IMAGE, model_version="1.5.0", namespace="inference-canary",
            node_port=30081, min_replicas=1, max_replicas=2, ingress_cidrs=[vpc.cidr_block], node_group=nodes))
    ingress = PrivateIngress("svc-ingress", PrivateIngressArgs(
        vpc=vpc, node_group=nodes, node_security_group_id=cluster.cluster_security_group_id,
        node_port=workload.node_port, canary_node_port=canary.node_port if canary else None))
    api_options = dict(options.get("api", {}))
    if canary is not None:
        api_options["canary"] = StageCanary(model_version="1.5.0", percent=options["canary"])
    if api_options.get("authorization") == "COGNITO_USER_POOLS":
        api_options["cognito"] = CognitoAuthorizer(user_pool_arns=["arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc"])
    if api_options.get("authorization") == "CUSTOM":
        api_options["token_authorizer"] = TokenAuthorizer(
            function_name="jwt-fn",
            invoke_arn="arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
                       "arn:aws:lambda:eu-west-1:123456789012:function:jwt-fn/invocations")
    api = RestApi("svc-api", RestApiArgs(ingress=ingress, model_version="1.4.2", log_kms_key=key, **api_options))
    acl = WebAcl("svc-waf", WebAclArgs(resource_arn=api.stage_arn))
    alarms = ServingAlarms("svc-alarms", ServingAlarmsArgs(
        api=api, web_acl=acl, ingress=ingress, cluster_name=cluster.cluster_name, namespace=workload.namespace,
        service_name=workload.service_name, max_replicas=6,
        kms_key=key or KmsKey("alarms", KmsKeyArgs(description="alarms", service_principals=["sns", "cloudwatch"]))))
    RegionalDns("svc-dns", RegionalDnsArgs(
        api=api, health_alarm_name=alarms.no_healthy_backend_alarm_name if options.get("alarm_health") else None,
        **options.get("dns", {})))


@functools.lru_cache(maxsize=None)
def _render(key: str) -> Plan:
    options = json.loads(key)
    return run_program(lambda: build(options), stack="serving-test", config={"aws:region": REGION}, secret_keys=[])


def render(**options: Any) -> Plan:
    """The chain's plan for these options (cached: treat as read-only)."""
    return _render(json.dumps(options, sort_keys=True))


def one(plan: Plan, type_: str, name: str | None = None) -> Resource:
    found = [r for r in plan.of_type(type_) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
    return found[0]
