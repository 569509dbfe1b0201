"""IsolatedVpc: private subnets in three AZs, no route out by default (NAT per AZ or single when
asked), endpoints (an S3 interface endpoint for networks outside), flow logs."""

import json

import pytest

from components._base import StatefulOptions
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs, S3InterfaceEndpoint
from components.kms_key import KmsKey, KmsKeyArgs


@pytest.fixture
def private_plan(render_component):
    def program():
        key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["logs"]))
        IsolatedVpc("net", IsolatedVpcArgs(interface_endpoints=("sts", "ecr.api"), flow_log_kms_key=key,
                                           flow_log_retention_days=2557))

    return render_component(program)


def test_private_subnets_in_three_azs_without_public_ips(private_plan):
    subnets = private_plan.of_type("aws:ec2/subnet:Subnet")
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert sorted(s.inputs["cidrBlock"] for s in subnets) == ["10.0.0.0/18", "10.0.128.0/18", "10.0.64.0/18"]
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)


def test_no_route_to_the_internet_by_default(private_plan):
    assert not private_plan.of_type("aws:ec2/internetGateway:InternetGateway")
    assert not private_plan.of_type("aws:ec2/natGateway:NatGateway")
    assert not private_plan.of_type("aws:ec2/route:Route")


def test_default_security_group_is_closed(private_plan):
    (default_sg,) = private_plan.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs.get("ingress", []) == [] and default_sg.inputs.get("egress", []) == []


def test_endpoints_have_private_dns_and_their_own_security_group(private_plan):
    endpoints = {e.inputs["serviceName"]: e for e in private_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert set(endpoints) == {"com.amazonaws.eu-west-1.s3", "com.amazonaws.eu-west-1.sts", "com.amazonaws.eu-west-1.ecr.api"}
    s3 = endpoints["com.amazonaws.eu-west-1.s3"]
    assert s3.inputs["vpcEndpointType"] == "Gateway" and len(s3.inputs["routeTableIds"]) == 3
    (sg,) = private_plan.of_type("aws:ec2/securityGroup:SecurityGroup")
    for name in ("sts", "ecr.api"):
        e = endpoints[f"com.amazonaws.eu-west-1.{name}"]
        assert e.inputs["privateDnsEnabled"] is True and e.inputs["securityGroupIds"] == [sg.id]
        assert len(e.inputs["subnetIds"]) == 3
    (rule,) = private_plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["cidrIpv4"]) == (443, 443, "10.0.0.0/16")


def test_flow_logs_capture_all_traffic_to_an_encrypted_protected_log_group(private_plan):
    (flow,) = private_plan.of_type("aws:ec2/flowLog:FlowLog")
    (group,) = private_plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    (key,) = private_plan.of_type("aws:kms/key:Key")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["kmsKeyId"] == key.outputs["arn"] and group.inputs["retentionInDays"] == 2557
    assert group.protect is True
    (role,) = private_plan.of_type("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}


def _egress_by_zone(plan):
    """{zone of a private route table's subnet: zone of the NAT gateway its default route uses}."""
    subnets = {s.id: s for s in plan.of_type("aws:ec2/subnet:Subnet")}
    nats = {n.id: n for n in plan.of_type("aws:ec2/natGateway:NatGateway")}
    table_zone = {a.inputs["routeTableId"]: subnets[a.inputs["subnetId"]].inputs["availabilityZone"]
                  for a in plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
                  if "private" in subnets[a.inputs["subnetId"]].name}
    return {table_zone[r.inputs["routeTableId"]]: subnets[nats[r.inputs["natGatewayId"]].inputs["subnetId"]].inputs["availabilityZone"]
            for r in plan.of_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs}


def test_nat_egress_is_explicit_and_per_az(render_component):
    plan = render_component(lambda: IsolatedVpc("egress", IsolatedVpcArgs(nat_egress=True, stateful=StatefulOptions(protect=False))))
    assert len(plan.of_type("aws:ec2/internetGateway:InternetGateway")) == 1
    nats = plan.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3 and len(plan.of_type("aws:ec2/eip:Eip")) == 3
    routes = {r.inputs["routeTableId"]: r for r in plan.of_type("aws:ec2/route:Route")}
    assert len(routes) == 4  # one public default route, one per private route table
    # Each zone's private subnet leaves through its own zone's NAT gateway.
    assert _egress_by_zone(plan) == {z: z for z in ("eu-west-1a", "eu-west-1b", "eu-west-1c")}
    public_subnets = [s for s in plan.of_type("aws:ec2/subnet:Subnet") if "public" in s.name]
    assert len(public_subnets) == 3 and all(s.inputs["mapPublicIpOnLaunch"] is False for s in public_subnets)
    (group,) = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.protect is False


def test_a_single_nat_gateway_carries_every_zones_egress_on_one_elastic_ip(render_component):
    plan = render_component(lambda: IsolatedVpc("egress", IsolatedVpcArgs(nat_egress=True, nat_gateways="single",
                                                                          first_zone="eu-west-1b")))
    (nat,) = plan.of_type("aws:ec2/natGateway:NatGateway")
    (eip,) = plan.of_type("aws:ec2/eip:Eip")
    assert nat.inputs["allocationId"] == eip.id and nat.name == "egress-nat-0"
    # Every private route table routes through it, in the first zone: cross-AZ for the others.
    assert _egress_by_zone(plan) == {z: "eu-west-1b" for z in ("eu-west-1b", "eu-west-1a", "eu-west-1c")}
    # The public subnets stay in every zone, so changing the layout never moves a subnet.
    assert len([s for s in plan.of_type("aws:ec2/subnet:Subnet") if "public" in s.name]) == 3


@pytest.mark.parametrize("args, count", [
    (IsolatedVpcArgs(), 0),
    (IsolatedVpcArgs(nat_gateways="single"), 0),  # no NAT egress, no NAT gateway
    (IsolatedVpcArgs(nat_egress=True), 3),
    (IsolatedVpcArgs(nat_egress=True, az_count=2), 2),
    (IsolatedVpcArgs(nat_egress=True, nat_gateways="single"), 1),
])
def test_the_nat_gateway_count_is_what_the_component_builds(render_component, args, count):
    assert args.nat_gateway_count == count
    plan = render_component(lambda: IsolatedVpc("vpc", args))
    assert len(plan.of_type("aws:ec2/natGateway:NatGateway")) == len(plan.of_type("aws:ec2/eip:Eip")) == count


def test_an_unknown_nat_layout_is_refused_naming_the_argument(render_component):
    with pytest.raises(Exception, match="bad: nat_gateways must be per-az or single"):
        render_component(lambda: IsolatedVpc("bad", IsolatedVpcArgs(nat_egress=True, nat_gateways="per-vpc")))


# -- S3 interface endpoint: S3 for networks outside the VPC ------------------------------

PEOPLE = ("10.100.0.0/16", "192.168.10.0/24")
BUCKETS = ("arn:aws:s3:::data-bucket", "arn:aws:s3:::model-bucket")


@pytest.fixture
def people_plan(render_component):
    def program():
        IsolatedVpc("net", IsolatedVpcArgs(interface_endpoints=("sts",), s3_interface_endpoint=S3InterfaceEndpoint(
            client_cidrs=PEOPLE, bucket_arns=list(BUCKETS))))

    return render_component(program)


def test_the_s3_interface_endpoint_sits_beside_the_gateway_with_inbound_only_private_dns(people_plan):
    s3 = {e.inputs["vpcEndpointType"]: e for e in people_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
          if e.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"}
    interface, gateway = s3["Interface"], s3["Gateway"]
    assert len(interface.inputs["subnetIds"]) == 3
    # The VPC's own S3 traffic keeps resolving to the gateway; only inbound resolver queries get
    # the interface endpoint. AWS accepts that only once the gateway endpoint exists.
    assert interface.inputs["privateDnsEnabled"] is True
    assert interface.inputs["dnsOptions"] == {"privateDnsOnlyForInboundResolverEndpoint": True}
    assert gateway.urn in interface.dependencies


def test_the_s3_interface_endpoint_admits_https_from_the_listed_networks_only(people_plan):
    (interface,) = [e for e in people_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.name == "net-s3-interface"]
    (group_id,) = interface.inputs["securityGroupIds"]
    (group,) = [g for g in people_plan.of_type("aws:ec2/securityGroup:SecurityGroup") if g.id == group_id]
    assert not group.inputs.get("ingress") and not group.inputs.get("egress")
    rules = [r for r in people_plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
             if r.inputs["securityGroupId"] == group_id]
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == sorted(PEOPLE)
    assert all((r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", 443, 443) for r in rules)
    # Not the shared endpoint group, which admits the VPC: nothing inside reaches this endpoint.
    others = {e.inputs["securityGroupIds"][0] for e in people_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
              if e.inputs["vpcEndpointType"] == "Interface" and e.name != "net-s3-interface"}
    assert group_id not in others


def test_the_s3_interface_endpoint_policy_admits_this_accounts_principals_to_the_listed_buckets(people_plan):
    (interface,) = [e for e in people_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.name == "net-s3-interface"]
    (statement,) = json.loads(interface.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == "*"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
    assert sorted(statement["Resource"]) == sorted([*BUCKETS, *(f"{b}/*" for b in BUCKETS)])


@pytest.mark.parametrize("args, message", [
    (dict(gateway_endpoints=("dynamodb",), s3_interface_endpoint=S3InterfaceEndpoint(client_cidrs=PEOPLE)),
     "bad: s3_interface_endpoint needs the S3 gateway endpoint"),
    (dict(s3_interface_endpoint=S3InterfaceEndpoint(client_cidrs=())), "at least one network"),
    (dict(s3_interface_endpoint=S3InterfaceEndpoint(client_cidrs=("0.0.0.0/0",))), "narrower than /0"),
    (dict(s3_interface_endpoint=S3InterfaceEndpoint(client_cidrs=("office",))), "'office' is not a CIDR block"),
])
def test_an_s3_interface_endpoint_aws_would_reject_or_open_to_all_is_refused(render_component, args, message):
    with pytest.raises(Exception, match=message):
        render_component(lambda: IsolatedVpc("bad", IsolatedVpcArgs(**args)))


def test_every_child_is_parented_to_the_component(private_plan):
    (vpc_component,) = private_plan.of_type("aiblueprints:network:IsolatedVpc")
    children = private_plan.descendants(vpc_component.urn)
    assert {c.type for c in children} >= {"aws:ec2/vpc:Vpc", "aws:ec2/flowLog:FlowLog", "aws:ec2/vpcEndpoint:VpcEndpoint"}
    assert all(c.inputs.get("tags", {}).get("Name") for c in children if "tags" in c.inputs)


def test_a_flow_log_retention_cloudwatch_does_not_accept_is_rejected_naming_the_argument(render_component):
    with pytest.raises(Exception, match="bad: flow_log_retention_days must be one of"):
        render_component(lambda: IsolatedVpc("bad", IsolatedVpcArgs(flow_log_retention_days=100)))


def _gateway_policy(plan, service: str = "s3"):
    (endpoint,) = [e for e in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
                   if e.inputs["serviceName"] == f"com.amazonaws.eu-west-1.{service}"]
    policy = endpoint.inputs.get("policy")
    return json.loads(policy)["Statement"] if policy else None


def test_without_nat_the_s3_gateway_admits_only_the_accounts_principals_and_aws_owned_buckets(private_plan):
    """AWS's default endpoint policy lets any principal through; with no NAT the endpoints are the
    network's only way out, so the gateway's policy is its data perimeter."""
    account, layers = _gateway_policy(private_plan)
    assert account["Principal"] == "*" and account["Action"] == "*" and account["Resource"] == "*"
    assert account["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
    # ECR serves image layers from this AWS-owned bucket through presigned URLs AWS signs itself.
    assert layers["Principal"] == "*" and layers["Action"] == "s3:GetObject" and "Condition" not in layers
    assert "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*" in layers["Resource"]
    assert all(r.startswith("arn:aws:s3:::") and r.endswith("/*") and "*" not in r[:-2] for r in layers["Resource"])


def test_interface_endpoints_keep_their_default_policy(private_plan):
    interface = [e for e in private_plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["vpcEndpointType"] == "Interface"]
    assert interface and all("policy" not in e.inputs for e in interface)


def test_with_nat_egress_the_gateway_keeps_the_default_policy_unless_asked(render_component):
    nat = render_component(lambda: IsolatedVpc("egress", IsolatedVpcArgs(nat_egress=True)))
    assert _gateway_policy(nat) is None
    forced = render_component(lambda: IsolatedVpc("egress", IsolatedVpcArgs(
        nat_egress=True, gateway_endpoints=("s3", "dynamodb"), gateway_endpoint_policy=True)))
    assert len(_gateway_policy(forced)) == 2
    (dynamodb,) = _gateway_policy(forced, "dynamodb")  # no AWS-owned buckets to read there
    assert dynamodb["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
    opened = render_component(lambda: IsolatedVpc("open", IsolatedVpcArgs(gateway_endpoint_policy=False)))
    assert _gateway_policy(opened) is None
