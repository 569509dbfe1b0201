"""The AWS quotas a plan needs, per region, beside AWS's default values.

A fresh account (or a fresh region) stalls a first `pulumi up` on quotas long before anything is
misconfigured: NAT gateways need more Elastic IPs than the default five, and the accelerated
instance families start at zero vCPUs. Everything here is computed from the plan, so it follows
whatever the stack renders (NAT gateways per VPC, node group sizes, the regions used):

- Elastic IPs: the plan's `aws:ec2/eip:Eip` resources, per region;
- EC2 vCPUs: every managed node group's maxSize x the vCPUs of its largest instance type (from
  the accelerator catalog, components/accelerators.py), summed per region and per quota (G and VT,
  P, Trn, Inf, Standard; On-Demand and Spot are separate quotas): Trainium nodes count against
  the Trn quotas, Inferentia ones against Inf;
- Firehose: the streams per region, and the Direct PUT throughput one stream gets by default.

AWS's defaults are the values `aws service-quotas get-aws-default-service-quota` returns; an
account's applied values are often higher (AWS raises some with use): compare with
`aws service-quotas get-service-quota --service-code ec2 --quota-code <code>`.

`blueprint validate` does not render, yet must warn before `pulumi up` when a region needs more
Elastic IPs than AWS's default: `elastic_ips_from_spec` predicts them from the spec, with the
same two facts the program builds from (which VPCs have NAT, blueprints.platform.egress and
network_regions; how many NAT gateways such a VPC has, IsolatedVpcArgs.nat_gateway_count). The
plan report keeps counting the rendered `aws:ec2/eip:Eip` resources: that is the truth of what
`pulumi up` would create (any Elastic IP, not only NAT's) and it works on a plan JSON, which
has no spec; a test holds the prediction equal to the count for every example and layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional

from blueprints import platform
from components.isolated_vpc import IsolatedVpcArgs
from components.accelerators import vcpus as vcpus_per_node

EIP = "aws:ec2/eip:Eip"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"

# "EC2-VPC Elastic IPs" (L-0263D0A3): 5 per Region by default (Amazon EC2 User Guide, "Elastic IP
# address quota").
EIP_QUOTA = ("EC2-VPC Elastic IPs", 5)
EIP_QUOTA_CODE = "L-0263D0A3"


@dataclass(frozen=True)
class InstanceQuota:
    """The On-Demand and Spot vCPU quotas an instance family counts against, with AWS's defaults."""

    on_demand: str
    on_demand_default: int
    spot: str
    spot_default: int


# Spot defaults: the table in the Amazon EC2 User Guide, "Spot Instance quotas" (Standard 5, every
# accelerated family 0). On-Demand: Standard is 5 (Service Quotas' AWS default for L-1216C47A, as
# the AWS CLI's get-aws-default-service-quota example shows); the accelerated families (G and VT
# L-DB2E81BA, P L-417A185B, Trn, Inf) start at 0 vCPUs on a new account and need an increase
# request before the first GPU node can launch.
STANDARD = InstanceQuota("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 5,
                         "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", 5)
INSTANCE_QUOTAS: dict[str, InstanceQuota] = {
    **{family: STANDARD for family in ("a", "c", "d", "h", "i", "m", "r", "t", "z")},
    "g": InstanceQuota("Running On-Demand G and VT instances", 0, "All G and VT Spot Instance Requests", 0),
    "vt": InstanceQuota("Running On-Demand G and VT instances", 0, "All G and VT Spot Instance Requests", 0),
    "p": InstanceQuota("Running On-Demand P instances", 0, "All P Spot Instance Requests", 0),
    "trn": InstanceQuota("Running On-Demand Trn instances", 0, "All Trn Spot Instance Requests", 0),
    "inf": InstanceQuota("Running On-Demand Inf instances", 0, "All Inf Spot Instance Requests", 0),
}

# Firehose (Amazon Data Firehose Developer Guide, "Amazon Data Firehose Quota"): streams per
# Region by default, and the Direct PUT throughput of one stream (5 MiB/s in three regions, 1 MiB/s
# elsewhere; Firehose raises it when a stream is throttled, slowly: request more for bursts).
# Where the guide lists a region twice (Canada), the smaller value.
FIREHOSE_STREAMS = ("Firehose streams", {
    **dict.fromkeys(("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-northeast-1"), 5000),
    **dict.fromkeys(("eu-central-1", "eu-west-2", "ap-southeast-1", "ap-southeast-2", "ap-northeast-2",
                     "ap-south-1"), 2000),
    **dict.fromkeys(("eu-west-3", "eu-south-1", "eu-north-1", "ap-east-1", "ap-northeast-3", "sa-east-1",
                     "me-south-1", "af-south-1"), 500),
    **dict.fromkeys(("eu-central-2", "eu-south-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
                     "me-central-1", "il-central-1", "ca-central-1", "ca-west-1"), 100),
})
FIREHOSE_DIRECT_PUT = "Firehose Direct PUT throughput per stream (MiB/s)"
FIREHOSE_FAST_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


@dataclass(frozen=True)
class QuotaNeed:
    region: str
    quota: str
    needed: Optional[int]
    """What the plan needs at most; None when it cannot be told (an instance type of unknown size,
    a throughput that depends on the log volume)."""
    default: Optional[int]
    """AWS's default value; None when AWS documents none for the region."""
    basis: str
    """How `needed` was counted."""
    account: str = ""
    """The account the quota is in (quotas are per account and region); "" for the account
    `pulumi up` runs with."""

    @property
    def above_default(self) -> bool:
        return self.needed is not None and self.default is not None and self.needed > self.default


def instance_quota(instance_type: str) -> Optional[InstanceQuota]:
    """The vCPU quotas an instance type counts against (by its family's letters), or None."""
    letters = re.match(r"[a-z]+", instance_type)
    return INSTANCE_QUOTAS.get(letters.group(0)) if letters else None


def quota_needs(plan: Any) -> list[QuotaNeed]:
    """Every quota the plan needs, per account and region, sorted by account, region, quota."""
    needs = [*_elastic_ips(plan), *_instance_vcpus(plan), *_firehose(plan)]
    return sorted(needs, key=lambda n: (n.account, n.region, n.quota))


def _where(plan: Any) -> Callable[[Any], tuple[str, str]]:
    """(account, region) of a plan resource: its provider's assumed account ("" the deploying
    account) and its region. Quotas are per account and region."""
    return lambda r: (plan.provider_account(r), r.region)


def _elastic_ips(plan: Any) -> Iterable[QuotaNeed]:
    where, per_place = _where(plan), {}
    for eip in plan.of_type(EIP):
        per_place[where(eip)] = per_place.get(where(eip), 0) + 1
    name, default = EIP_QUOTA
    for (account, region), count in per_place.items():
        yield QuotaNeed(region, name, count, default, f"{count} aws:ec2/eip:Eip (NAT gateways)", account)


def elastic_ips_from_spec(spec: Any) -> list[QuotaNeed]:
    """The Elastic IPs a stack needs per region, from its spec alone (no render): its VPCs with
    NAT in each region (training and inference each by their own egress) x the NAT gateways each
    has. Regions that need none are left out."""
    vpcs: dict[tuple[str, str], tuple[int, int]] = {}  # (account, region) -> (VPCs with NAT, gateways each)
    for account, region, part in platform.network_regions(spec):
        gateways = IsolatedVpcArgs(**platform.egress(spec, part)).nat_gateway_count
        if gateways:
            count, _ = vpcs.get((account or "", region), (0, 0))
            vpcs[(account or "", region)] = (count + 1, gateways)
    name, default = EIP_QUOTA
    return [QuotaNeed(region, name, count * per_vpc, default,
                      f"{count} VPC{'s' if count > 1 else ''} with NAT x {per_vpc} NAT gateway{'s' if per_vpc > 1 else ''}"
                      f" each, natGateways: {spec.nat_gateways}", account)
            for (account, region), (count, per_vpc) in vpcs.items()]


def elastic_ip_warnings(spec: Any) -> list[str]:
    """One line per region where the stack needs more Elastic IPs than AWS's default quota: the
    region, the count, the default, how to raise the quota, and the spec option that lowers the
    need."""
    lines = []
    for need in elastic_ips_from_spec(spec):
        if not need.above_default:
            continue
        place = f"{need.region} (account {need.account})" if need.account else need.region
        line = (f"{place} needs {need.needed} Elastic IPs ({need.basis}), plus any the account already holds "
                f"there; AWS's default quota is {need.default} per region ({need.quota}, {EIP_QUOTA_CODE}), so "
                "`pulumi up` fails with AddressLimitExceeded unless your account's quota is higher. Raise it: "
                f"aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {EIP_QUOTA_CODE} "
                f"--desired-value {need.needed} --region {need.region}")
        if spec.nat_gateways != "single":
            single = next(n.needed for n in elastic_ips_from_spec(_with_single_nat(spec))
                          if (n.account, n.region) == (need.account, need.region))
            line += (f"; or set natGateways: single ({single} Elastic IPs: one NAT gateway per VPC, whose zone then "
                     "carries every zone's egress)")
        lines.append(line)
    return lines


def _with_single_nat(spec: Any) -> Any:
    """The same spec with `natGateways: single`."""
    return replace(spec, model=spec.model.model_copy(update={"nat_gateways": "single"}))


def _instance_vcpus(plan: Any) -> Iterable[QuotaNeed]:
    where = _where(plan)
    totals: dict[tuple[str, str, str], tuple[Optional[int], int, list[str]]] = {}
    for group in plan.of_type(NODE_GROUP):
        types = [str(t) for t in group.inputs.get("instanceTypes") or []]
        max_size = int((group.inputs.get("scalingConfig") or {}).get("maxSize") or 0)
        spot = group.inputs.get("capacityType") == "SPOT"
        quotas = {instance_quota(t) for t in types}
        if not types or len(quotas) != 1 or None in quotas:
            continue  # mixed or unknown families: nothing sound to add up
        (quota,) = quotas
        name, default = (quota.spot, quota.spot_default) if spot else (quota.on_demand, quota.on_demand_default)
        sizes = [vcpus_per_node(t) for t in types]
        vcpus = None if None in sizes else max_size * max(s for s in sizes if s is not None)
        key = (*where(group), name)
        total, _, parts = totals.get(key, (0, default, []))
        totals[key] = (None if total is None or vcpus is None else total + vcpus, default, [
            *parts, f"{max_size} x {types[0]}" + ("" if vcpus is not None else " (vCPUs unknown)")])
    for (account, region, name), (total, default, parts) in totals.items():
        yield QuotaNeed(region, name, total, default, "max nodes: " + ", ".join(parts), account)


def _firehose(plan: Any) -> Iterable[QuotaNeed]:
    where = _where(plan)
    per_place: dict[tuple[str, str], int] = {}
    direct_put: dict[tuple[str, str], int] = {}
    for stream in plan.of_type(FIREHOSE):
        per_place[where(stream)] = per_place.get(where(stream), 0) + 1
        if not stream.inputs.get("kinesisSourceConfiguration") and not stream.inputs.get("mskSourceConfiguration"):
            direct_put[where(stream)] = direct_put.get(where(stream), 0) + 1
    name, defaults = FIREHOSE_STREAMS
    for (account, region), count in per_place.items():
        yield QuotaNeed(region, name, count, defaults.get(region), f"{count} delivery stream(s)", account)
    for (account, region), count in direct_put.items():
        default = 5 if region in FIREHOSE_FAST_REGIONS else 1
        yield QuotaNeed(region, FIREHOSE_DIRECT_PUT, None, default,
                        f"{count} Direct PUT stream(s), each up to its peak log volume (request more for bursts)", account)
