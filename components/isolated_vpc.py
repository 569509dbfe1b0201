"""A VPC with private subnets across AZs, VPC endpoints, flow logs and a closed default SG."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, StatefulOptions, check_range, merge_tags, policy_json
from components.kms_key import KmsKey


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
    """Public subnets, an internet gateway and one NAT gateway per AZ. Default off: no route to
    the internet at all. Conflicts with an air-gapped tier."""
    interface_endpoints: Sequence[str] = ()
    """Interface endpoint services (e.g. "ecr.api", "sts"), private DNS on. Default none."""
    gateway_endpoints: Sequence[str] = ("s3",)
    """Gateway endpoint services ("s3", "dynamodb"), on every private route table. Default s3."""
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


class IsolatedVpc(Component):
    vpc_id: pulumi.Output[str]
    cidr_block: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str]
    gateway_endpoint_ids: dict[str, pulumi.Output[str]]
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    flow_log_group_name: pulumi.Output[str]
    flow_log_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: IsolatedVpcArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("network", "IsolatedVpc", name, opts)
        network = ipaddress.ip_network(args.cidr_block)
        if not 16 <= network.prefixlen <= 20:
            raise ValueError(f"{name}: cidr_block must be /16 to /20, got {args.cidr_block}")
        check_range(name, "az_count", args.az_count, 2, 3)
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
        self.gateway_endpoint_ids = {
            service: self._endpoint(
                f"{name}-{service}-gateway", f"{name}-{service}-gateway", service, "Gateway",
                route_table_ids=self.private_route_table_ids,
                policy=self._gateway_endpoint_policy(service) if restrict else None)
            for service in args.gateway_endpoints
        }
        self.interface_endpoint_ids = {
            service: self._endpoint(
                f"{name}-{service.replace('.', '-')}-endpoint", f"{name}-{service}-endpoint", service, "Interface",
                private_dns_enabled=True, subnet_ids=self.private_subnet_ids,
                security_group_ids=[self.endpoint_security_group.id])
            for service in args.interface_endpoints
        }

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
            "flow_log_group_name": self.flow_log_group_name,
            "flow_log_group_arn": self.flow_log_group_arn,
        })

    def _endpoint(self, logical: str, tag_name: str, service: str, endpoint_type: str,
                  policy: Optional[pulumi.Input[str]] = None, **placement: Any) -> pulumi.Output[str]:
        """A VPC endpoint to `com.amazonaws.<region>.<service>`; `placement` says where it lands,
        `policy` is its endpoint policy (None: AWS's default)."""
        return aws.ec2.VpcEndpoint(
            logical,
            vpc_id=self.vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", self.aws_region, ".", service),
            vpc_endpoint_type=endpoint_type,
            policy=policy,
            tags=merge_tags(tag_name, self._tags),
            opts=self.child(),
            **placement,
        ).id

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
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", tags=merge_tags(f"{name}-nat-eip-{i}", args.tags),
                              opts=self.child())
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{i}",
                allocation_id=eip.id,
                subnet_id=subnet.id,
                connectivity_type="public",
                tags=merge_tags(f"{name}-nat-{i}", args.tags),
                opts=self.child(depends_on=[igw]),
            )
            aws.ec2.Route(
                f"{name}-private-default-{i}",
                route_table_id=private_route_tables[i].id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=self.child(),
            )
            self.public_subnet_ids.append(subnet.id)

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




def _spanned_zones(available: list[str], first: Optional[str], count: int) -> list[str]:
    """The zones a VPC spans: `first` (when given) then the region's first other available zones.
    A `first` the account does not have is kept: AWS then rejects the subnet and names the zone."""
    if first is None:
        return list(available[:count])
    return [first, *[z for z in available if z != first]][:count]
