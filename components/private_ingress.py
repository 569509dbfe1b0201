"""Private ingress to a node group: an internal NLB (created here, not by an in-cluster
controller) whose target group is the node group's Auto Scaling group on a NodePort, and an API
Gateway VPC Link that reaches it over PrivateLink.

The listener is plain TCP unless `tls` is given. A TLS listener needs a certificate API Gateway
trusts for a name the account controls: REST API private integrations verify the backend's
certificate against public certificate authorities and its hostname against the integration
URI's host (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-private-integration.html),
so the NLB's own `*.elb.amazonaws.com` name cannot be used; a public ACM certificate for a domain
of the stack can (the URI's host is only the TLS server name and Host header: the VPC link, not
DNS, routes the request to the NLB).

A canary backend (`canary_node_port`) is a second target group on the same nodes, at the canary
model server's NodePort, behind a second listener: the API stage's canary selects it by port
(its `backend` stage variable), so a canary release reaches the second model version and
nothing else, through the same load balancer and VPC Link."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component, bounded_name, check_range, merge_tags
from components.isolated_vpc import IsolatedVpc
from components.node_group import NodeGroup


# TLS 1.2 and 1.3 only (Elastic Load Balancing's recommended TLS 1.3 policy); an NLB TLS listener
# without a policy gets ELBSecurityPolicy-2016-08 through the API, which admits TLS 1.0
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html).
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
_SERVER_NAME = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")


@dataclass(frozen=True, kw_only=True)
class IngressTls:
    """TLS on the load balancer's listener: API Gateway connects with `https://<server_name>`
    and verifies the certificate; the NLB forwards to the NodePort inside the VPC."""

    certificate_arn: pulumi.Input[str]
    """A validated ACM certificate in the load balancer's region from a public CA API Gateway
    trusts (an ACM public certificate), covering `server_name`. Required. A private-CA or
    self-signed certificate fails API Gateway's verification."""
    server_name: str
    """The name the certificate covers (e.g. the API's custom domain): the integration URI's
    host, sent as SNI and Host. Required."""
    ssl_policy: str = DEFAULT_SSL_POLICY
    """ELB security policy. Default ELBSecurityPolicy-TLS13-1-2-Res-2021-06 (TLS 1.2 and 1.3)."""


@dataclass(frozen=True, kw_only=True)
class PrivateIngressArgs:
    vpc: IsolatedVpc
    """The VPC whose private subnets hold the load balancer. Required."""
    node_group: NodeGroup
    """The nodes that serve: their Auto Scaling group is attached to the target group. Required."""
    node_security_group_id: pulumi.Input[str]
    """Security group of those nodes (the EKS cluster security group for managed node groups);
    it gets one ingress rule from the load balancer on `node_port`. Required."""
    node_port: int
    """The NodePort (30000-32767) the Service exposes on every node. Required."""
    listener_port: Optional[int] = None
    """Port the load balancer listens on for the VPC Link. Default 80, or 443 with `tls`. The
    hop from API Gateway to the NLB runs inside PrivateLink, which only the VPC Link uses: the
    load balancer's security group admits nothing from the VPC itself."""
    tls: Optional[IngressTls] = None
    """Terminate TLS on the listener with this certificate. Default None: a plain TCP listener
    (HTTP inside PrivateLink), because a certificate API Gateway accepts needs a domain the
    stack controls."""
    canary_node_port: Optional[int] = None
    """NodePort (30000-32767, not `node_port`) of a canary model server on the same nodes: a
    second target group, listener and pair of security-group rules for it. Default None: no
    canary backend."""
    canary_listener_port: Optional[int] = None
    """Port of the canary listener (same protocol and certificate as the main one). Default 8080,
    or 8443 with `tls`; must differ from `listener_port`. Only with `canary_node_port`."""
    deregistration_delay_seconds: int = 30
    """Time in-flight requests get when a node leaves. Default 30."""
    deletion_protection: bool = True
    """Refuse to delete the load balancer through the API. Default on."""
    tags: Mapping[str, str] = field(default_factory=dict)


class PrivateIngress(Component):
    """Security group + internal NLB + TCP target group on the node group's ASG + listener + VPC Link
    (+ a canary target group and listener).

    NLB access logs exist only for TLS listeners, so a TCP hop is audited by the API Gateway
    access log and the VPC flow logs instead."""

    load_balancer_arn: pulumi.Output[str]
    load_balancer_arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    vpc_link_id: pulumi.Output[str]
    listener_port: int
    server_name: Optional[str]
    """The TLS server name API Gateway must call (`https://<server_name>`); None: plain HTTP."""
    canary_listener_port: Optional[int]
    """The canary listener's port; None: no canary backend."""
    canary_target_group_arn: Optional[pulumi.Output[str]]
    canary_target_group_arn_suffix: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: PrivateIngressArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("network", "PrivateIngress", name, opts)
        check_range(name, "node_port", args.node_port, 30000, 32767)
        tls = args.tls
        self.listener_port = args.listener_port if args.listener_port is not None else (443 if tls else 80)
        check_range(name, "listener_port", self.listener_port, 1, 65535)
        if tls is not None and not _SERVER_NAME.match(tls.server_name):
            raise ValueError(f"{name}: tls.server_name must be a lower-case DNS name the certificate covers, "
                             f"got {tls.server_name!r}")
        self.server_name = tls.server_name if tls else None
        self.canary_listener_port = self._canary_listener_port(name, args)
        vpc = args.vpc

        sg = aws.ec2.SecurityGroup(
            f"{name}-nlb-sg",
            vpc_id=vpc.vpc_id,
            description="Internal NLB: no inbound rules (only the VPC Link reaches it), NodePort to the nodes",
            tags=merge_tags(f"{name}-nlb-sg", args.tags),
            opts=self.child(),
        )
        # Load balancer and target group names allow 32 characters, too few for an autoname.
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            name=bounded_name(f"{name}-nlb", 32),
            internal=True,
            load_balancer_type="network",
            subnets=vpc.private_subnet_ids,
            security_groups=[sg.id],
            # The VPC Link's PrivateLink traffic comes from API Gateway's own network and bypasses
            # the (empty) inbound rules; nothing inside the VPC can reach the listener directly.
            enforce_security_group_inbound_rules_on_private_link_traffic="off",
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=args.deletion_protection,
            ip_address_type="ipv4",
            tags=merge_tags(f"{name}-nlb", args.tags),
            opts=self.child(delete_before_replace=True),  # an explicit name cannot exist twice
        )
        self.target_group = self._backend(name, args, sg, args.node_port, self.listener_port)
        self.canary_target_group = None
        if args.canary_node_port is not None and self.canary_listener_port is not None:
            self.canary_target_group = self._backend(
                f"{name}-canary", args, sg, args.canary_node_port, self.canary_listener_port)
        self.vpc_link = aws.apigateway.VpcLink(
            f"{name}-vpc-link",
            name=name,
            description=f"{name}: API Gateway to the internal NLB",
            target_arn=self.load_balancer.arn,
            tags=merge_tags(f"{name}-vpc-link", args.tags),
            opts=self.child(),
        )

        self.load_balancer_arn = self.load_balancer.arn
        self.load_balancer_arn_suffix = self.load_balancer.arn_suffix
        self.dns_name = self.load_balancer.dns_name
        self.target_group_arn = self.target_group.arn
        self.target_group_arn_suffix = self.target_group.arn_suffix
        canary_tg = self.canary_target_group
        self.canary_target_group_arn = canary_tg.arn if canary_tg else None
        self.canary_target_group_arn_suffix = canary_tg.arn_suffix if canary_tg else None
        self.security_group_id = sg.id
        self.vpc_link_id = self.vpc_link.id
        self.register_outputs({
            "load_balancer_arn": self.load_balancer_arn,
            "load_balancer_arn_suffix": self.load_balancer_arn_suffix,
            "dns_name": self.dns_name,
            "target_group_arn": self.target_group_arn,
            "target_group_arn_suffix": self.target_group_arn_suffix,
            "security_group_id": self.security_group_id,
            "vpc_link_id": self.vpc_link_id,
            "listener_port": self.listener_port,
            "server_name": self.server_name,
            "canary_listener_port": self.canary_listener_port,
            "canary_target_group_arn": self.canary_target_group_arn,
            "canary_target_group_arn_suffix": self.canary_target_group_arn_suffix,
        })

    @staticmethod
    def _canary_listener_port(name: str, args: PrivateIngressArgs) -> Optional[int]:
        if args.canary_node_port is None:
            if args.canary_listener_port is not None:
                raise ValueError(f"{name}: canary_listener_port needs canary_node_port")
            return None
        check_range(name, "canary_node_port", args.canary_node_port, 30000, 32767)
        if args.canary_node_port == args.node_port:
            raise ValueError(f"{name}: canary_node_port must differ from node_port ({args.node_port})")
        port = args.canary_listener_port if args.canary_listener_port is not None else (8443 if args.tls else 8080)
        check_range(name, "canary_listener_port", port, 1, 65535)
        main = args.listener_port if args.listener_port is not None else (443 if args.tls else 80)
        if port == main:
            raise ValueError(f"{name}: canary_listener_port must differ from listener_port ({main})")
        return port

    def _backend(self, prefix: str, args: PrivateIngressArgs, sg: aws.ec2.SecurityGroup, node_port: int,
                 listener_port: int) -> aws.lb.TargetGroup:
        """One path through the load balancer: the security-group rules for `node_port`, a target
        group on the node group's Auto Scaling group at it, and a listener on `listener_port`.
        Children are named `<prefix>-...` (the main backend keeps the component's own prefix)."""
        tls = args.tls
        aws.vpc.SecurityGroupEgressRule(
            f"{prefix}-nlb-nodeport-out",
            security_group_id=sg.id,
            referenced_security_group_id=args.node_security_group_id,
            ip_protocol="tcp",
            from_port=node_port,
            to_port=node_port,
            description="To the serving nodes NodePort (traffic and health checks)",
            opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{prefix}-nodes-from-nlb",
            security_group_id=args.node_security_group_id,
            referenced_security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=node_port,
            to_port=node_port,
            description=f"{prefix}: NodePort from the internal NLB",
            opts=self.child(),
        )
        target_group = aws.lb.TargetGroup(
            f"{prefix}-tg",
            name=bounded_name(f"{prefix}-tg", 32),
            vpc_id=args.vpc.vpc_id,
            target_type="instance",
            protocol="TCP",
            port=node_port,
            deregistration_delay=args.deregistration_delay_seconds,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True, protocol="TCP", port="traffic-port", interval=10,
                healthy_threshold=3, unhealthy_threshold=3),
            tags=merge_tags(f"{prefix}-tg", args.tags),
            opts=self.child(delete_before_replace=True),
        )
        # The managed node group's ASG is a value EKS computes; the attachment itself is a
        # top-level resource, so previews show it.
        asg_name = args.node_group.node_group.resources.apply(lambda rs: rs[0].autoscaling_groups[0].name)
        aws.autoscaling.Attachment(
            f"{prefix}-asg-attachment",
            autoscaling_group_name=asg_name,
            lb_target_group_arn=target_group.arn,
            opts=self.child(),
        )
        aws.lb.Listener(
            f"{prefix}-listener",
            load_balancer_arn=self.load_balancer.arn,
            port=listener_port,
            protocol="TLS" if tls else "TCP",
            certificate_arn=tls.certificate_arn if tls else None,
            ssl_policy=tls.ssl_policy if tls else None,
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)],
            tags=merge_tags(f"{prefix}-listener", args.tags),
            opts=self.child(),
        )
        return target_group
