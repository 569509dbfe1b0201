"""PrivateIngress: an internal NLB in the private subnets, its target group on the GPU node
group's Auto Scaling group at the NodePort, and the API Gateway VPC Link to it."""

import functools

import pytest

from blueprints.plan.engine import run_program
from components.eks_cluster import EksCluster, EksClusterArgs
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs
from components.node_group import NodeGroup, NodeGroupArgs
from components.private_ingress import IngressTls, PrivateIngress, PrivateIngressArgs
from components.rest_api import RestApi, RestApiArgs
from tests.components.serving_stack import one, render


def test_load_balancer_is_internal_in_the_private_subnets_and_closed_to_the_vpc():
    plan = render()
    nlb = one(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert nlb.inputs["internal"] is True and nlb.inputs["loadBalancerType"] == "network"
    subnets = [s.id for s in plan.of_type("aws:ec2/subnet:Subnet")]
    assert nlb.inputs["subnets"] == subnets and len(subnets) == 3
    sg = one(plan, "aws:ec2/securityGroup:SecurityGroup", "svc-ingress-nlb-sg")
    assert nlb.inputs["securityGroups"] == [sg.id]
    # Only the VPC Link (PrivateLink) reaches the listener: no inbound rule admits the VPC.
    assert nlb.inputs["enforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    ingress_rules = plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert not [r for r in ingress_rules if r.inputs["securityGroupId"] == sg.id]
    (egress,) = [r for r in plan.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
                 if r.inputs["securityGroupId"] == sg.id]
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (30080, 30080)


def test_target_group_is_the_node_groups_asg_on_the_node_port():
    plan = render()
    tg = one(plan, "aws:lb/targetGroup:TargetGroup")
    assert (tg.inputs["targetType"], tg.inputs["protocol"], tg.inputs["port"]) == ("instance", "TCP", 30080)
    assert tg.inputs["healthCheck"]["protocol"] == "TCP" and tg.inputs["healthCheck"]["port"] == "traffic-port"
    attachment = one(plan, "aws:autoscaling/attachment:Attachment")
    group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert attachment.inputs["autoscalingGroupName"] == group.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    assert attachment.inputs["lbTargetGroupArn"] == tg.outputs["arn"]
    listener = one(plan, "aws:lb/listener:Listener")
    assert listener.inputs["protocol"] == "TCP" and listener.inputs["port"] == 80
    assert listener.inputs["defaultActions"] == [{"type": "forward", "targetGroupArn": tg.outputs["arn"]}]


def test_nodes_admit_the_load_balancer_on_the_node_port_only():
    plan = render()
    sg = one(plan, "aws:ec2/securityGroup:SecurityGroup", "svc-ingress-nlb-sg")
    cluster = one(plan, "aws:eks/cluster:Cluster")
    rule = one(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "svc-ingress-nodes-from-nlb")
    # The EKS-created cluster security group, which the GPU nodes carry.
    assert rule.inputs["securityGroupId"] == cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert rule.inputs["securityGroupId"].startswith("sg-")
    assert rule.inputs["referencedSecurityGroupId"] == sg.id
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (30080, 30080)


def test_vpc_link_targets_the_load_balancer():
    plan = render()
    link = one(plan, "aws:apigateway/vpcLink:VpcLink")
    assert link.inputs["targetArn"] == one(plan, "aws:lb/loadBalancer:LoadBalancer").outputs["arn"]


def test_a_node_port_outside_the_kubernetes_range_is_rejected():
    def program():
        vpc = IsolatedVpc("i", IsolatedVpcArgs())
        cluster = EksCluster("i", EksClusterArgs(vpc=vpc))
        nodes = NodeGroup("i", NodeGroupArgs(cluster=cluster, subnet_ids=vpc.private_subnet_ids, instance_types=["g6.xlarge"]))
        PrivateIngress("i", PrivateIngressArgs(vpc=vpc, node_group=nodes, node_security_group_id="sg-1", node_port=80))
    with pytest.raises(Exception, match="node_port"):
        run_program(program, stack="ingress-bad", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_the_load_balancer_is_deletion_protected_by_default():
    assert one(render(), "aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is True


CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0b7c2c1e-origin"


@functools.lru_cache(maxsize=None)
def render_tls():
    """The ingress with a TLS listener, and the REST API in front of it."""
    def program():
        vpc = IsolatedVpc("tls", IsolatedVpcArgs(cidr_block="10.40.0.0/16"))
        cluster = EksCluster("tls", EksClusterArgs(vpc=vpc))
        nodes = NodeGroup("tls-gpu", NodeGroupArgs(cluster=cluster, subnet_ids=vpc.private_subnet_ids,
                                                   instance_types=["g6.xlarge"]))
        ingress = PrivateIngress("tls-ingress", PrivateIngressArgs(
            vpc=vpc, node_group=nodes, node_security_group_id=cluster.cluster_security_group_id, node_port=30080,
            tls=IngressTls(certificate_arn=CERTIFICATE, server_name="api.example.com")))
        RestApi("tls-api", RestApiArgs(ingress=ingress, model_version="1.4.2"))
    return run_program(program, stack="ingress-tls", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_the_listener_is_plain_tcp_on_80_without_a_certificate():
    listener = one(render(), "aws:lb/listener:Listener")
    assert (listener.inputs["protocol"], listener.inputs["port"]) == ("TCP", 80)
    assert "certificateArn" not in listener.inputs and "sslPolicy" not in listener.inputs


def test_with_tls_the_listener_terminates_tls_1_2_or_later_with_the_certificate():
    listener = one(render_tls(), "aws:lb/listener:Listener")
    assert (listener.inputs["protocol"], listener.inputs["port"]) == ("TLS", 443)
    assert listener.inputs["certificateArn"] == CERTIFICATE
    # Not the API's default ELBSecurityPolicy-2016-08, which admits TLS 1.0.
    assert listener.inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    # The load balancer still forwards to the NodePort inside the VPC.
    tg = one(render_tls(), "aws:lb/targetGroup:TargetGroup")
    assert (tg.inputs["protocol"], tg.inputs["port"]) == ("TCP", 30080)


@pytest.mark.parametrize("server_name", ["API.example.com", "https://api.example.com", "api"])
def test_a_tls_server_name_that_is_not_a_dns_name_is_rejected(server_name):
    def program():
        vpc = IsolatedVpc("i", IsolatedVpcArgs())
        cluster = EksCluster("i", EksClusterArgs(vpc=vpc))
        nodes = NodeGroup("i", NodeGroupArgs(cluster=cluster, subnet_ids=vpc.private_subnet_ids, instance_types=["g6.xlarge"]))
        PrivateIngress("i", PrivateIngressArgs(vpc=vpc, node_group=nodes, node_security_group_id="sg-1", node_port=30080,
                                               tls=IngressTls(certificate_arn=CERTIFICATE, server_name=server_name)))
    with pytest.raises(Exception, match="tls.server_name"):
        run_program(program, stack="ingress-bad-tls", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_a_canary_backend_is_its_own_target_group_and_listener_on_the_same_nodes():
    plan = render(canary=10)
    main, canary = (one(plan, "aws:lb/targetGroup:TargetGroup", f"svc-ingress{s}-tg") for s in ("", "-canary"))
    assert (main.inputs["port"], canary.inputs["port"]) == (30080, 30081)
    assert canary.inputs["name"] != main.inputs["name"]
    listener = one(plan, "aws:lb/listener:Listener", "svc-ingress-canary-listener")
    assert (listener.inputs["protocol"], listener.inputs["port"]) == ("TCP", 8080)
    assert listener.inputs["defaultActions"] == [{"type": "forward", "targetGroupArn": canary.outputs["arn"]}]
    (attachment,) = [a for a in plan.of_type("aws:autoscaling/attachment:Attachment")
                     if a.inputs["lbTargetGroupArn"] == canary.outputs["arn"]]
    group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert attachment.inputs["autoscalingGroupName"] == group.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    # The nodes admit the load balancer on the canary's NodePort too, and nothing else new.
    rule = one(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "svc-ingress-canary-nodes-from-nlb")
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (30081, 30081)
    egress = one(plan, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "svc-ingress-canary-nlb-nodeport-out")
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (30081, 30081)
    assert len(plan.of_type("aws:lb/loadBalancer:LoadBalancer")) == 1  # one NLB, one VPC link
    assert len(plan.of_type("aws:apigateway/vpcLink:VpcLink")) == 1


@pytest.mark.parametrize("bad, message", [
    (dict(canary_node_port=30080), "canary_node_port must differ from node_port"),
    (dict(canary_node_port=80), "canary_node_port must be 30000-32767"),
    (dict(canary_node_port=30081, canary_listener_port=80), "canary_listener_port must differ from listener_port"),
    (dict(canary_listener_port=8080), "canary_listener_port needs canary_node_port"),
])
def test_a_canary_backend_that_would_collide_with_the_main_one_is_rejected(bad, message):
    args = PrivateIngressArgs(vpc=None, node_group=None,  # type: ignore[arg-type]
                              node_security_group_id="sg-1", node_port=30080, **bad)
    with pytest.raises(ValueError, match=message):
        PrivateIngress._canary_listener_port("i", args)
