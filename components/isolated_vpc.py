"""A VPC with private subnets across AZs, VPC endpoints, flow logs and a closed default SG."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, StatefulOptions, check_range, merge_tags, policy_json
from components.kms_key import KmsKey

NatGateways = Literal["per-az", "single"]


@dataclass(frozen=True, kw_only=True)
class S3InterfaceEndpoint:
    """An S3 interface endpoint (AWS PrivateLink for Amazon S3) for clients outside the VPC.

    A gateway endpoint serves only the VPC's own subnets: nothing reaches it over a VPN, Direct
    Connect, a Transit Gateway or a peering (Amazon VPC User Guide, "Gateway endpoints for Amazon
    S3"); an interface endpoint is a set of ENIs with private addresses in the VPC that those
    networks can route to (Amazon S3 User Guide, "AWS PrivateLink for Amazon S3"). Requests
    through it carry its id as aws:SourceVpce, so a bucket policy can admit it by name."""

    client_cidrs: Sequence[str]
    """IPv4 networks outside the VPC (on premises over VPN / Direct Connect, other VPCs through a
    Transit Gateway) its security group admits on HTTPS (443), and nothing else. Required: at
    least one, never 0.0.0.0/0."""
    bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]] = ()
    """Buckets its endpoint policy admits (and their objects), for this account's principals only.
    Default (): any bucket, for this account's principals."""


@dataclass(frozen=True, kw_only=True)
class IsolatedVpcArgs:
    cidr_block: str = "10.0.0.0/16"
    """VPC CIDR, /16 to /20. Default 10.0.0.0/16. Private subnets take the lower three quarters."""
    az_count: int = 3
    """Availability zones (2-3). Default 3."""
    first_zone: Optional[str] = None
    """An AZ the VPC must span, as its first zone (private subnet 0), e.g. the one that offers a
    GPU type. Default None: the region's first available zones. Changing it moves the subnets
    (AWS replaces a subnet whose zone changes)."""
    nat_egress: bool = False
    """Public subnets, an internet gateway and NAT gateways (`nat_gateways`). Default off: no route
    to the internet at all. Conflicts with an air-gapped tier."""
    nat_gateways: NatGateways = "per-az"
    """With nat_egress: "per-az" (default) gives every AZ its own NAT gateway and Elastic IP, and
    each private route table routes through its own zone's; "single" gives the VPC one, in the
    first zone, that every private route table routes through. Single costs one NAT gateway's
    hours and Elastic IP instead of one per AZ, but the first zone becomes a single point of failure for egress: when
    it is down, the other zones lose the internet and every AWS API without a VPC endpoint (image
    pulls, node bootstrap, autoscaling) exactly when workloads move there (Amazon VPC User Guide,
    "NAT gateway basics"), and their egress crosses zones (inter-AZ data transfer charges).
    Ignored without nat_egress."""
    interface_endpoints: Sequence[str] = ()
    """Interface endpoint services (e.g. "ecr.api", "sts"), private DNS on. Default none."""
    gateway_endpoints: Sequence[str] = ("s3",)
    """Gateway endpoint services ("s3", "dynamodb"), on every private route table. Default s3."""
    s3_interface_endpoint: Optional[S3InterfaceEndpoint] = None
    """An S3 interface endpoint for clients outside the VPC, beside the S3 gateway endpoint (which
    it requires: "s3" in gateway_endpoints). Default None: none."""
    gateway_endpoint_policy: Optional[bool] = None
    """An endpoint policy on the gateway endpoints that admits only this account's principals,
    plus reads of the AWS-owned buckets ECR image layers and SSM Agent files come from.
    Default None: on without NAT egress (the endpoints are then the network's only way out and
    their policy its data perimeter), off with it (a denied request would leave through the NAT,
    and anonymous reads of other accounts' public buckets in the region would break). False keeps
    AWS's default full-access policy."""
    flow_log_retention_days: int = 365
    """Flow-log retention; one of CloudWatch's allowed values. Default 365."""
    flow_log_kms_key: Optional[KmsKey] = None
    """CMK for the flow-log group. Default None: CloudWatch's service-owned encryption."""
    stateful: StatefulOptions = StatefulOptions()
    """Protection of the flow-log group. Default: protected."""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def nat_gateway_count(self) -> int:
        """NAT gateways the VPC gets, each on its own Elastic IP: one per AZ, one, or none without
        NAT egress. The one count the component builds and the quota report predicts."""
        if not self.nat_egress:
            return 0
        return 1 if self.nat_gateways == "single" else self.az_count


class IsolatedVpc(Component):
    vpc_id: pulumi.Output[str]
    cidr_block: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str]
    gateway_endpoint_ids: dict[str, pulumi.Output[str]]
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    s3_interface_endpoint_id: Optional[pulumi.Output[str]]
    flow_log_group_name: pulumi.Output[str]
    flow_log_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: IsolatedVpcArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("network", "IsolatedVpc", name, opts)
        network = ipaddress.ip_network(args.cidr_block)
        if not 16 <= network.prefixlen <= 20:
            raise ValueError(f"{name}: cidr_block must be /16 to /20, got {args.cidr_block}")
        check_range(name, "az_count", args.az_count, 2, 3)
        if args.nat_gateways not in ("per-az", "single"):
            raise ValueError(f"{name}: nat_gateways must be per-az or single, got {args.nat_gateways!r}")
        if args.s3_interface_endpoint is not None:
            _check_s3_interface_endpoint(name, args)
        self._tags = dict(args.tags)

        # Lower three quarters: private subnets; the top quarter: small public subnets (NAT only).
        quarters = list(network.subnets(prefixlen_diff=2))
        private_cidrs = quarters[: args.az_count]
        public_cidrs = list(quarters[3].subnets(new_prefix=min(quarters[3].prefixlen + 4, 28)))[: args.az_count]

        zones = aws.get_availability_zones_output(state="available", opts=self.invoke_opts()).names.apply(
            lambda names: _spanned_zones(names, args.first_zone, args.az_count))

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=merge_tags(f"{name}-vpc", args.tags),
            opts=self.child(),
        )
        # Take over the default security group and leave it with no rules at all.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags=merge_tags(f"{name}-default-sg-closed", args.tags),
            opts=self.child(),
        )

        self.private_subnet_ids, self.private_route_table_ids = [], []
        private_route_tables = []
        for i, cidr in enumerate(private_cidrs):
            az = zones.apply(lambda names, i=i: names[i])
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                cidr_block=str(cidr),
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=merge_tags(f"{name}-private-{i}", args.tags, {"kubernetes.io/role/internal-elb": "1"}),
                opts=self.child(),
            )
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{i}",
                vpc_id=self.vpc.id,
                tags=merge_tags(f"{name}-private-rt-{i}", args.tags),
                opts=self.child(),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=self.child()
            )
            self.private_subnet_ids.append(subnet.id)
            self.private_route_table_ids.append(table.id)
            private_route_tables.append(table)

        self.public_subnet_ids = []
        if args.nat_egress:
            self._create_nat_egress(name, args, public_cidrs, zones, private_route_tables)

        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to interface endpoints",
            tags=merge_tags(f"{name}-endpoints-sg", args.tags),
            opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https-in",
            security_group_id=self.endpoint_security_group.id,
            cidr_ipv4=self.vpc.cidr_block,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from the VPC",
            opts=self.child(),
        )
        restrict = (not args.nat_egress) if args.gateway_endpoint_policy is None else args.gateway_endpoint_policy
        gateways = {
            service: self._endpoint(
                f"{name}-{service}-gateway", f"{name}-{service}-gateway", service, "Gateway",
                route_table_ids=self.private_route_table_ids,
                policy=self._gateway_endpoint_policy(service) if restrict else None)
            for service in args.gateway_endpoints
        }
        self.gateway_endpoint_ids = {service: endpoint.id for service, endpoint in gateways.items()}
        self.interface_endpoint_ids = {
            service: self._endpoint(
                f"{name}-{service.replace('.', '-')}-endpoint", f"{name}-{service}-endpoint", service, "Interface",
                private_dns_enabled=True, subnet_ids=self.private_subnet_ids,
                security_group_ids=[self.endpoint_security_group.id]).id
            for service in args.interface_endpoints
        }
        self.s3_interface_endpoint_id = (
            self._create_s3_interface_endpoint(name, args.s3_interface_endpoint, gateways["s3"])
            if args.s3_interface_endpoint is not None else None)

        self._create_flow_logs(name, args)

        self.vpc_id = self.vpc.id
        self.cidr_block = self.vpc.cidr_block
        self.endpoint_security_group_id = self.endpoint_security_group.id
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "cidr_block": self.cidr_block,
            "private_subnet_ids": self.private_subnet_ids,
            "public_subnet_ids": self.public_subnet_ids,
            "private_route_table_ids": self.private_route_table_ids,
            "endpoint_security_group_id": self.endpoint_security_group_id,
            "gateway_endpoint_ids": self.gateway_endpoint_ids,
            "interface_endpoint_ids": self.interface_endpoint_ids,
            "s3_interface_endpoint_id": self.s3_interface_endpoint_id,
            "flow_log_group_name": self.flow_log_group_name,
            "flow_log_group_arn": self.flow_log_group_arn,
        })

    def _endpoint(self, logical: str, tag_name: str, service: str, endpoint_type: str,
                  policy: Optional[pulumi.Input[str]] = None, depends_on: Sequence[pulumi.Resource] = (),
                  **placement: Any) -> aws.ec2.VpcEndpoint:
        """A VPC endpoint to `com.amazonaws.<region>.<service>`; `placement` says where it lands,
        `policy` is its endpoint policy (None: AWS's default)."""
        return aws.ec2.VpcEndpoint(
            logical,
            vpc_id=self.vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", self.aws_region, ".", service),
            vpc_endpoint_type=endpoint_type,
            policy=policy,
            tags=merge_tags(tag_name, self._tags),
            opts=self.child(depends_on=list(depends_on)),
            **placement,
        )

    def _create_s3_interface_endpoint(self, name: str, spec: S3InterfaceEndpoint,
                                      gateway: aws.ec2.VpcEndpoint) -> pulumi.Output[str]:
        """The S3 interface endpoint, its own security group (HTTPS from `client_cidrs` only, not
        from the VPC: the VPC's own S3 traffic keeps using the free gateway endpoint), and an
        endpoint policy that is the same perimeter as the gateway's (this account's principals)
        narrowed to `bucket_arns`.

        Private DNS is on with "private DNS only for inbound endpoint": queries from inside the VPC
        still resolve s3.<region>.amazonaws.com to the gateway path, queries that arrive through a
        Route 53 Resolver inbound endpoint in this VPC resolve to the interface endpoint (Amazon S3
        User Guide, "AWS PrivateLink for Amazon S3", Private DNS). Without that option private DNS
        would pull the VPC's own S3 traffic onto the interface endpoint (billed per GB). The option
        needs the gateway endpoint to exist first (EC2 CreateVpcEndpoint, DnsOptionsSpecification:
        "the VPC must have a Gateway endpoint for the service"), hence depends_on. Clients without
        such a resolver address the endpoint by its own DNS name,
        `https://bucket.vpce-<id>.s3.<region>.vpce.amazonaws.com` (public DNS, private addresses)."""
        group = aws.ec2.SecurityGroup(
            f"{name}-s3-interface-sg",
            vpc_id=self.vpc.id,
            description="HTTPS to the S3 interface endpoint from the networks listed for it",
            tags=merge_tags(f"{name}-s3-interface-sg", self._tags),
            opts=self.child(),
        )
        for i, cidr in enumerate(spec.client_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-s3-interface-https-in-{i}",
                security_group_id=group.id,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description=f"HTTPS to S3 from {cidr}",
                opts=self.child(),
            )
        endpoint = self._endpoint(
            f"{name}-s3-interface", f"{name}-s3-interface-endpoint", "s3", "Interface",
            policy=self._s3_interface_policy(spec.bucket_arns),
            depends_on=[gateway],
            private_dns_enabled=True,
            dns_options=aws.ec2.VpcEndpointDnsOptionsArgs(private_dns_only_for_inbound_resolver_endpoint=True),
            subnet_ids=self.private_subnet_ids,
            security_group_ids=[group.id],
        )
        return endpoint.id

    def _s3_interface_policy(self, bucket_arns: pulumi.Input[Sequence[pulumi.Input[str]]]) -> pulumi.Output[str]:
        """This account's principals, to `bucket_arns` and their objects (every bucket when empty).
        Nothing from inside the VPC can use it past the security group, but should a listed network
        overlap the VPC, the endpoint is no way around the gateway's perimeter either."""
        resources = pulumi.Output.from_input(bucket_arns).apply(
            lambda arns: [r for arn in arns for r in (arn, f"{arn}/*")] or "*")
        return policy_json([{
            "Sid": "ListedBucketsForPrincipalsOfThisAccount",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"StringEquals": {"aws:PrincipalAccount": self.aws_account_id}},
        }])

    def _gateway_endpoint_policy(self, service: str) -> pulumi.Output[str]:
        """The endpoint policy of the `service` gateway endpoint ("s3", "dynamodb").

        Without a policy AWS attaches one that allows any principal every action on every
        resource (AWS PrivateLink Guide, "Control access to VPC endpoints using endpoint
        policies"): a pod holding another account's credentials could copy data into that
        account's buckets through the endpoint. A gateway endpoint's policy must name
        `"Principal": "*"` and say who in a condition (same page, "Principals for gateway
        endpoints"), so the first statement admits requests signed by this account's principals
        (aws:PrincipalAccount) to any resource: the perimeter is whose credentials, not whose
        bucket. Unsigned requests and other accounts' credentials are refused. For S3, the second
        admits reads of the AWS-owned buckets the nodes need: ECR serves image layers
        from `prod-<region>-starport-layer-bucket` through presigned URLs (Amazon ECR User Guide,
        "Minimum Amazon S3 bucket permissions for Amazon ECR"), and SSM Agent fetches its
        documents, updates and patch baselines from the regional buckets the Systems Manager
        User Guide lists ("SSM Agent communications with AWS managed S3 buckets")."""
        statements: list = [{
            "Sid": "PrincipalsOfThisAccount",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": self.aws_account_id}},
        }]
        if service == "s3":
            statements.append({
                "Sid": "AwsOwnedBucketsForEcrAndSsm",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [pulumi.Output.concat("arn:", self.aws_partition, ":s3:::", bucket, "/*")
                             for bucket in self._aws_owned_buckets()],
            })
        return policy_json(statements)

    def _aws_owned_buckets(self) -> list[pulumi.Output[str]]:
        region = self.aws_region
        return [
            pulumi.Output.concat("prod-", region, "-starport-layer-bucket"),
            pulumi.Output.concat("aws-ssm-", region),
            pulumi.Output.concat("amazon-ssm-", region),
            pulumi.Output.concat("amazon-ssm-packages-", region),
            pulumi.Output.concat(region, "-birdwatcher-prod"),
            pulumi.Output.concat("aws-ssm-distributor-file-", region),
            pulumi.Output.concat("aws-ssm-document-attachments-", region),
            pulumi.Output.concat("patch-baseline-snapshot-", region),
        ]

    def _create_nat_egress(self, name: str, args: IsolatedVpcArgs, public_cidrs: list, zones: pulumi.Output[list[str]],
                           private_route_tables: list[aws.ec2.RouteTable]) -> None:
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=merge_tags(f"{name}-igw", args.tags), opts=self.child()
        )
        public_table = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=self.vpc.id, tags=merge_tags(f"{name}-public-rt", args.tags), opts=self.child()
        )
        aws.ec2.Route(
            f"{name}-public-default", route_table_id=public_table.id, destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id, opts=self.child(),
        )
        # A public subnet in every zone whatever the layout, so that moving between "single" and
        # "per-az" adds or removes NAT gateways (and routes change target) but never moves a subnet.
        nats: list[aws.ec2.NatGateway] = []
        for i, cidr in enumerate(public_cidrs):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=str(cidr),
                availability_zone=zones.apply(lambda names, i=i: names[i]),
                map_public_ip_on_launch=False,  # only the NAT gateways live here, on EIPs
                tags=merge_tags(f"{name}-public-{i}", args.tags),
                opts=self.child(),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{i}", subnet_id=subnet.id, route_table_id=public_table.id, opts=self.child()
            )
            self.public_subnet_ids.append(subnet.id)
            if i >= args.nat_gateway_count:
                continue
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", tags=merge_tags(f"{name}-nat-eip-{i}", args.tags),
                              opts=self.child())
            nats.append(aws.ec2.NatGateway(
                f"{name}-nat-{i}",
                allocation_id=eip.id,
                subnet_id=subnet.id,
                connectivity_type="public",
                tags=merge_tags(f"{name}-nat-{i}", args.tags),
                opts=self.child(depends_on=[igw]),
            ))
        # Per AZ: each zone's private table routes through its own zone's NAT. Single: every table
        # routes through the first zone's (cross-AZ for the others; see IsolatedVpcArgs.nat_gateways).
        for i, table in enumerate(private_route_tables):
            aws.ec2.Route(
                f"{name}-private-default-{i}",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[min(i, len(nats) - 1)].id,
                opts=self.child(),
            )

    def _create_flow_logs(self, name: str, args: IsolatedVpcArgs) -> None:
        log_group = self.log_group(
            "flow-logs", f"/aws/vpc/flow-logs/{name}", retention_days=args.flow_log_retention_days,
            kms_key=args.flow_log_kms_key, stateful=args.stateful, tags=args.tags,
            retention_arg="flow_log_retention_days")
        role = self.service_role("flow-logs-role", "vpc-flow-logs.amazonaws.com", tags=args.tags,
                                 condition=self.source_account_condition())
        self.role_policy("flow-logs-write", role, [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
                       "logs:DescribeLogStreams"],
            "Resource": [log_group.arn, pulumi.Output.concat(log_group.arn, ":*")],
        }])
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=merge_tags(f"{name}-flow-log", args.tags),
            opts=self.child(),
        )
        self.flow_log_group_name = log_group.name
        self.flow_log_group_arn = log_group.arn




def _check_s3_interface_endpoint(name: str, args: IsolatedVpcArgs) -> None:
    """Refuse an S3 interface endpoint AWS would reject, or one open to everyone."""
    if "s3" not in args.gateway_endpoints:
        raise ValueError(f"{name}: s3_interface_endpoint needs the S3 gateway endpoint (\"s3\" in gateway_endpoints): "
                         "its private DNS serves only inbound resolver queries, which AWS allows only beside one")
    cidrs = list(args.s3_interface_endpoint.client_cidrs)
    if not cidrs:
        raise ValueError(f"{name}: s3_interface_endpoint.client_cidrs must list at least one network")
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            raise ValueError(f"{name}: s3_interface_endpoint.client_cidrs: {cidr!r} is not a CIDR block") from None
        if network.version != 4 or network.prefixlen == 0:
            raise ValueError(f"{name}: s3_interface_endpoint.client_cidrs must be IPv4 networks narrower than /0, "
                             f"got {cidr}")


def _spanned_zones(available: list[str], first: Optional[str], count: int) -> list[str]:
    """The zones a VPC spans: `first` (when given) then the region's first other available zones.
    A `first` the account does not have is kept: AWS then rejects the subnet and names the zone."""
    if first is None:
        return list(available[:count])
    return [first, *[z for z in available if z != first]][:count]
