"""Network isolation: no path to the internet from training or inference where the tier forbids egress,
no open ingress, closed default security groups, flow logs, private EKS endpoints.

The training network is identified by the component tree: a resource is training when its
name, or the name of any component above it, has a `training` segment (the training
blueprint's IsolatedVpc is `<name>-training`), or when it is attached to such a VPC.
"""

from __future__ import annotations

from typing import Callable, Iterable

from policies.controls import BOUNDARY, HARDENING, NO_EGRESS, PUBLIC_ACCESS, merge
from policies.model import PolicyPlan, PolicyResource, as_list
from policies.rule import (
    PROHIBITION, Result, RuleContext, always, check, fail, mandatory_if, na, ok, plan_rule, resource_rule,
)
from policies.rules._aws import (
    CLUSTERS, DEFAULT_SG, EGRESS_ONLY_IGW, EKS_CLUSTER, FLOW_LOG, IGW, IGW_ATTACHMENT, LOAD_BALANCER, NAT, OPEN_CIDRS,
    ROUTE, ROUTE_TABLE, SECURITY_GROUP, SG_INGRESS, SG_RULE, SUBNET, TRAINING, VPC, VPC_ENDPOINT, in_training_network,
    known, names, resources_for_vpc, truthy, vpc_of,
)

AREA = "network isolation"

_air_gapped = mandatory_if("air_gapped", otherwise="disabled", where="`training_egress` is `endpoints`")


def _training_vpcs(plan: PolicyPlan) -> list[PolicyResource]:
    return [v for v in plan.of_type(VPC) if plan.in_training(v)]


def _in_inference_network(plan: PolicyPlan, r: PolicyResource) -> bool:
    """Attached to a VPC outside the training network (the inference VPCs)."""
    if plan.in_training(r):
        return False
    vpc = r if r.type == VPC else vpc_of(plan, r)
    return vpc is not None and not plan.in_training(vpc)


# The two networks whose egress the tier decides: training (`training_egress`) and inference
# (`inference_egress`), each with its VPCs and its membership test.
_NETWORKS: dict[str, Callable[[PolicyPlan, PolicyResource], bool]] = {
    "training": in_training_network,
    "inference": _in_inference_network,
}


def _no_egress_resources(plan: PolicyPlan, network: str, types: tuple[str, ...], what: str,
                         offends: Callable[[PolicyResource], bool] = lambda r: True) -> Iterable[Result]:
    """Fails each resource of `types` in `network` (training or inference) for which `offends`
    holds; passes each of that network's VPCs that has none."""
    member = _NETWORKS[network]
    offenders = [r for r in plan.of_type(*types) if member(plan, r) and offends(r)]
    for r in offenders:
        yield fail(f"{what} in the {network} network: the tier allows no route to the internet from {network}", r)
    bad_vpcs = {vpc_of(plan, r).urn for r in offenders if vpc_of(plan, r) is not None}
    for vpc in plan.of_type(VPC):
        if member(plan, vpc) and vpc.urn not in bad_vpcs:
            yield ok(f"{network} VPC has no {what}", vpc)


@plan_rule(
    id="AIB-001", scope=PROHIBITION, title="The training VPC has no internet gateway where the tier forbids egress",
    severity="critical", area=AREA, types=(VPC, IGW, IGW_ATTACHMENT, EGRESS_ONLY_IGW),
    controls=merge(BOUNDARY, NO_EGRESS), level=_air_gapped,
)
def training_no_internet_gateway(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """An internet gateway (or egress-only gateway, or an attachment) in the training network
    opens a path to the internet; air-gapped tiers reach AWS through VPC endpoints only."""
    return _no_egress_resources(plan, "training", (IGW, IGW_ATTACHMENT, EGRESS_ONLY_IGW), "internet gateway")


@plan_rule(
    id="AIB-002", scope=PROHIBITION, title="The training VPC has no NAT gateway where the tier forbids egress",
    severity="critical", area=AREA, types=(VPC, NAT), controls=merge(BOUNDARY, NO_EGRESS),
    level=_air_gapped,
)
def training_no_nat_gateway(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A NAT gateway lets training nodes reach the internet (and exfiltrate data)."""
    return _no_egress_resources(plan, "training", (NAT,), "NAT gateway")


def _default_routes(r: PolicyResource) -> bool:
    if r.type == ROUTE:
        return r.get("destinationCidrBlock") in OPEN_CIDRS or r.get("destinationIpv6CidrBlock") in OPEN_CIDRS
    return any(
        isinstance(route, dict) and (route.get("cidrBlock") in OPEN_CIDRS or route.get("ipv6CidrBlock") in OPEN_CIDRS)
        for route in as_list(r.get("routes"))
    )


@plan_rule(
    id="AIB-003", scope=PROHIBITION, title="No training route table has a default route (0.0.0.0/0 or ::/0) where the tier forbids egress",
    severity="critical", area=AREA, types=(VPC, ROUTE, ROUTE_TABLE), controls=merge(BOUNDARY, NO_EGRESS),
    level=_air_gapped,
)
def training_no_default_route(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A default route is how egress is wired (to a gateway, a NAT, a peering or a transit
    gateway); air-gapped training route tables only know the VPC and its endpoints."""
    return _no_egress_resources(plan, "training", (ROUTE, ROUTE_TABLE), "default route", _default_routes)


_inference_air_gapped = mandatory_if("inference_air_gapped", otherwise="disabled",
                                     where="`inference_egress` is `endpoints`")


@plan_rule(
    id="AIB-012", scope=PROHIBITION, title="No inference VPC has an internet gateway where the tier forbids egress",
    severity="critical", area=AREA, types=(VPC, IGW, IGW_ATTACHMENT, EGRESS_ONLY_IGW),
    controls=merge(BOUNDARY, NO_EGRESS), level=_inference_air_gapped,
)
def inference_no_internet_gateway(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """The serving network holds the production model and sees every prompt: an internet
    gateway there is a path out for both. Clients reach it through API Gateway and the VPC link;
    the nodes reach AWS through VPC endpoints."""
    return _no_egress_resources(plan, "inference", (IGW, IGW_ATTACHMENT, EGRESS_ONLY_IGW), "internet gateway")


@plan_rule(
    id="AIB-013", scope=PROHIBITION, title="No inference VPC has a NAT gateway where the tier forbids egress",
    severity="critical", area=AREA, types=(VPC, NAT), controls=merge(BOUNDARY, NO_EGRESS),
    level=_inference_air_gapped,
)
def inference_no_nat_gateway(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A NAT gateway lets the model server (or anything that runs beside it) send prompts and
    answers anywhere."""
    return _no_egress_resources(plan, "inference", (NAT,), "NAT gateway")


@plan_rule(
    id="AIB-014", scope=PROHIBITION,
    title="No inference route table has a default route (0.0.0.0/0 or ::/0) where the tier forbids egress",
    severity="critical", area=AREA, types=(VPC, ROUTE, ROUTE_TABLE), controls=merge(BOUNDARY, NO_EGRESS),
    level=_inference_air_gapped,
)
def inference_no_default_route(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """A default route wires egress to a gateway, NAT, peering or transit gateway; air-gapped
    inference route tables only know the VPC and its endpoints."""
    return _no_egress_resources(plan, "inference", (ROUTE, ROUTE_TABLE), "default route", _default_routes)


# The AWS APIs an air-gapped EKS node group cannot work without (Amazon EKS User Guide, "Deploy
# private clusters with limited internet access": ECR for images, EC2 for joining, STS for pod
# credentials, CloudWatch Logs for the control plane's and nodes' logs).
REQUIRED_INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "ec2", "sts", "logs")


def _service_name(endpoint: PolicyResource) -> str:
    """`com.amazonaws.<region>.ecr.api` -> `ecr.api` ("" when unknown)."""
    name = endpoint.get("serviceName")
    if not isinstance(name, str) or not known(name):
        return ""
    parts = name.split(".")
    return ".".join(parts[3:]) if len(parts) > 3 else ""


def _service(endpoint: PolicyResource) -> str:
    name = endpoint.get("serviceName")
    return name.rsplit(".", 1)[-1] if isinstance(name, str) and known(name) else ""


@plan_rule(
    id="AIB-004", scope=TRAINING, missing="no training VPC with its VPC endpoints", title="The air-gapped training VPC reaches S3 through a gateway endpoint and AWS APIs through private-DNS interface endpoints",
    severity="high", area=AREA, types=(VPC, VPC_ENDPOINT), controls=merge(BOUNDARY, NO_EGRESS),
    level=_air_gapped,
)
def training_vpc_endpoints(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Without egress, images, logs and keys are only reachable through VPC endpoints: the S3
    gateway endpoint (image layers, data) and a private-DNS interface endpoint for each AWS API
    the nodes cannot work without (REQUIRED_INTERFACE_SERVICES: pulling images from ECR, joining
    the cluster through EC2, assuming pod roles through STS, shipping logs). Any interface endpoint
    is not enough: one for another service (Bedrock, say) pulls no image."""
    for vpc in _training_vpcs(plan):
        endpoints = resources_for_vpc(plan, vpc, VPC_ENDPOINT)
        s3 = [e for e in endpoints if _service(e) == "s3" and e.get("vpcEndpointType", default="Gateway") == "Gateway"]
        interface = {_service_name(e) for e in endpoints
                     if e.get("vpcEndpointType") == "Interface" and truthy(e.get("privateDnsEnabled"))}
        missing = ([] if s3 else ["an S3 gateway endpoint"]) + [
            f"a private-DNS {service} interface endpoint" for service in REQUIRED_INTERFACE_SERVICES if service not in interface]
        yield check(not missing, f"{len(endpoints)} VPC endpoints incl. S3 gateway and private-DNS "
                    + ", ".join(REQUIRED_INTERFACE_SERVICES), "training VPC lacks " + ", ".join(missing), vpc)


def _open_cidrs(values: Iterable) -> list[str]:
    return sorted({str(v) for v in values if v in OPEN_CIDRS})


@resource_rule(
    id="AIB-005", scope=PROHIBITION, title="No security group admits ingress from 0.0.0.0/0 or ::/0",
    severity="critical", area=AREA, types=(SECURITY_GROUP, SG_RULE, SG_INGRESS),
    controls=merge(BOUNDARY, PUBLIC_ACCESS), level=always("mandatory"),
)
def no_open_ingress(r: PolicyResource, ctx: RuleContext) -> Result:
    """The only public entry point is API Gateway behind WAF; nothing inside a VPC is open to
    the internet."""
    if r.type == SG_RULE:
        if r.get("type") != "ingress":
            return na("egress rule")
        opened = _open_cidrs(as_list(r.get("cidrBlocks")) + as_list(r.get("ipv6CidrBlocks")))
    elif r.type == SG_INGRESS:
        opened = _open_cidrs([r.get("cidrIpv4"), r.get("cidrIpv6")])
    else:
        opened = _open_cidrs(
            c for rule in as_list(r.get("ingress")) if isinstance(rule, dict)
            for c in as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks"))
        )
    return check(not opened, "no ingress from the internet", f"ingress open to {', '.join(opened)}")


@plan_rule(
    id="AIB-006", scope=CLUSTERS, requires=(DEFAULT_SG,), missing="no VPC whose default security group is closed", title="Every VPC's default security group is managed and has no rules",
    severity="medium", area=AREA, types=(VPC, DEFAULT_SG), controls=merge(BOUNDARY, HARDENING),
    level=always("mandatory"),
)
def default_security_group_closed(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """AWS's default security group lets members talk to each other and reach anywhere;
    adopting it with no rules means nothing can use it by accident."""
    adopted = set()
    for sg in plan.of_type(DEFAULT_SG):
        vpc = vpc_of(plan, sg)
        if vpc is not None:
            adopted.add(vpc.urn)
        rules = as_list(sg.get("ingress")) + as_list(sg.get("egress"))
        yield check(not rules, "default security group has no rules", f"default security group has {len(rules)} rule(s)", sg)
    for vpc in plan.of_type(VPC):
        if vpc.urn not in adopted:
            yield fail("the VPC's default security group is not managed (AWS's default rules stay)", vpc)


@plan_rule(
    id="AIB-007", scope=CLUSTERS, missing="no VPC with a flow log", title="Every VPC has a flow log capturing ALL traffic",
    severity="high", area=AREA, types=(VPC, FLOW_LOG),
    controls=merge(BOUNDARY, {"nist-800-53-r5": ["AU-12", "SI-4"], "pci-dss-4.0": ["10.2.1"], "hipaa": ["164.312(b)"]}),
    level=always("mandatory"),
)
def vpc_flow_logs(plan: PolicyPlan, ctx: RuleContext) -> Iterable[Result]:
    """Flow logs are the network evidence for an investigation."""
    for vpc in plan.of_type(VPC):
        logs = resources_for_vpc(plan, vpc, FLOW_LOG)
        full = [f for f in logs if f.get("trafficType") == "ALL"]
        if full:
            yield ok(f"flow log {names(full)} captures ALL traffic", vpc)
        elif logs:
            yield fail(f"flow log {names(logs)} does not capture ALL traffic", vpc)
        else:
            yield fail("no flow log", vpc)


@resource_rule(
    id="AIB-008", scope=PROHIBITION, title="Subnets do not assign public IP addresses on launch",
    severity="high", area=AREA, types=(SUBNET,), controls=merge(BOUNDARY, PUBLIC_ACCESS),
    level=always("mandatory"),
)
def subnet_no_public_ip(r: PolicyResource, ctx: RuleContext) -> Result:
    """Only NAT gateways (on Elastic IPs) live in public subnets."""
    return check(not truthy(r.get("mapPublicIpOnLaunch")), "no public IPs on launch", "mapPublicIpOnLaunch is true")


def _public_endpoint(r: PolicyResource) -> bool:
    # EKS turns the public endpoint on when endpointPublicAccess is not set.
    value = r.get("vpcConfig", "endpointPublicAccess")
    return value is None or truthy(value)


@resource_rule(
    id="AIB-009", scope=CLUSTERS, missing="no EKS cluster", title="The EKS API server has its private endpoint enabled",
    severity="medium", area=AREA, types=(EKS_CLUSTER,), controls=BOUNDARY,
    level=always("mandatory"),
)
def eks_private_endpoint(r: PolicyResource, ctx: RuleContext) -> Result:
    """Nodes and in-VPC tooling reach the API server without leaving the VPC."""
    return check(truthy(r.get("vpcConfig", "endpointPrivateAccess")), "private endpoint on",
                 "vpcConfig.endpointPrivateAccess is not true")


@resource_rule(
    id="AIB-010", scope=PROHIBITION, title="The EKS API server is not public where the tier forbids it, and is allowlisted where the tier allows it",
    severity="critical", area=AREA, types=(EKS_CLUSTER,), controls=merge(BOUNDARY, PUBLIC_ACCESS),
    level=lambda t: "disabled" if t.eks_public_endpoint == "open" else "mandatory",
    level_doc="mandatory where `eks_public_endpoint` is `none` (private only) or `allowlisted`; off where `open`",
)
def eks_public_endpoint(r: PolicyResource, ctx: RuleContext) -> Result:
    """`none`: the public endpoint is off. Otherwise a public endpoint admits only the
    allowlisted CIDRs (publicAccessCidrs set, none of them 0.0.0.0/0)."""
    if not _public_endpoint(r):
        return ok("public endpoint off")
    if ctx.tier.eks_public_endpoint == "none":
        return fail(f"public endpoint on; the {ctx.tier.name} tier allows the private endpoint only")
    cidrs = as_list(r.get("vpcConfig", "publicAccessCidrs"))
    if not cidrs:
        return fail("public endpoint open to 0.0.0.0/0 (publicAccessCidrs not set)")
    opened = _open_cidrs(cidrs)
    return check(not opened, f"public endpoint allowlisted to {', '.join(map(str, cidrs))}",
                 f"public endpoint open to {', '.join(opened)}")


@resource_rule(
    id="AIB-011", scope=PROHIBITION, title="Load balancers are internal",
    severity="high", area=AREA, types=(LOAD_BALANCER,), controls=merge(BOUNDARY, PUBLIC_ACCESS),
    level=always("mandatory"),
)
def load_balancer_internal(r: PolicyResource, ctx: RuleContext) -> Result:
    """Inference load balancers sit behind API Gateway (VPC link); none faces the internet."""
    return check(truthy(r.get("internal")), "internal", "internet-facing load balancer (internal is not true)")

