"""A monthly cost estimate of a plan, by account and component (`blueprint cost`).

THIS IS AN ESTIMATE, for choosing a tier and sizing; it is not a quote. It prices the
resources that dominate the bill of this project from a dated table of AWS public on-demand
list prices (Linux, us-east-1, USD, as recorded for this table in PRICE_DATE) scaled by an
approximate regional multiplier, plus stated usage assumptions for what a plan cannot know
(requests, GB processed, log volume, stored data). Every line carries its assumption; verify
with the AWS Pricing Calculator before committing a budget. Not included: taxes, support
plans, savings plans / reserved capacity, data transfer between regions or to the internet,
node EBS volumes, CloudWatch metrics (Container Insights' included), free-tier credits, AWS Budgets
and Cost Explorer anomaly detection (free without budget actions), and resources whose cost is usage
only and small at this scale (IAM, Lambda, SNS, SQS, Cognito up to its free MAU).

Components: each line belongs to the top-level component it was created under (the direct
child of the stack, e.g. `fraud-models-training` or `fraud-models-logs-eu-west-1`); a resource
created directly under the stack is its own component. Those are the units the blueprints
compose, so the grouping needs no naming convention and follows new components as they land.

Accounts: in a multi-account plan (one that declares `accounts` at the top level) each line also
belongs to the account its resource is created in: the account whose deploy role its provider
assumes (`assumeRoles[0].roleArn`), or the deploying account where the provider assumes none.
Lines are grouped by account first, each account named by its roles in the plan's `accounts`
(training, inference, logArchive), then by component; a component that spans accounts appears
under each with its share. Account-wide prices (the free first copy of CloudTrail management
events, GuardDuty, Security Hub, Macie, AWS Config) apply per account. A single-account plan
prints exactly as it did before accounts existed.

Capacity: node groups cost their scalingConfig.desiredSize (minSize when absent) nodes for
every hour of the month; the line's assumption gives the per-node-hour price and the cost at
maxSize, so a training group that idles at 0 GPUs costs 0 but still shows what a burst costs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from blueprints.plan.engine import Plan, Resource
from blueprints.spec import BEDROCK_GEOGRAPHIES as BEDROCK_PROFILE_GEOGRAPHIES
from components.accelerators import accelerator

FORMATS: tuple[str, ...] = ("table", "json", "markdown")
PRICE_DATE = "2026-11"  # when this table was compiled (offline, from AWS's published list prices)
HOURS_PER_MONTH = 730
SPOT_DISCOUNT = 0.60  # assumed average spot saving against on-demand (varies by type, AZ and hour)

# On-demand Linux hourly list price in us-east-1 (USD), by EC2 instance type. GPU prices are
# after AWS's June 2025 reduction for P4/P5.
INSTANCE_HOURLY: dict[str, float] = {
    # training GPUs / accelerators
    "p5.48xlarge": 55.04, "p5e.48xlarge": 60.80, "p5en.48xlarge": 63.30,
    "p4d.24xlarge": 21.96, "p4de.24xlarge": 27.45,
    "trn1.2xlarge": 1.34375, "trn1.32xlarge": 21.50, "trn1n.32xlarge": 24.78,
    # inference GPUs
    "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
    "g6.12xlarge": 4.6016, "g6.48xlarge": 13.3504,
    "g6e.xlarge": 1.861, "g6e.2xlarge": 2.24208, "g6e.4xlarge": 3.00424, "g6e.8xlarge": 4.52856,
    "g6e.12xlarge": 10.49264, "g6e.48xlarge": 30.13136,
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
    "g5.12xlarge": 5.672, "g5.48xlarge": 16.288,
    "inf2.xlarge": 0.7582, "inf2.8xlarge": 1.9679, "inf2.48xlarge": 12.9813,
    # system / CPU nodes
    "m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032, "m7i.4xlarge": 0.8064,
    "m6i.large": 0.096, "m6i.xlarge": 0.192, "m5.large": 0.096, "m5.xlarge": 0.192,
    "c7i.large": 0.08925, "c7i.xlarge": 0.1785, "t3.medium": 0.0416, "t3.large": 0.0832,
}

# Approximate ratio of on-demand prices in a region to us-east-1 (general-purpose EC2; GPU
# and managed-service ratios vary by a few percent). Every region the spec accepts is listed.
REGION_MULTIPLIER: dict[str, float] = {
    "us-east-1": 1.00, "us-east-2": 1.00, "us-west-1": 1.17, "us-west-2": 1.00,
    "ca-central-1": 1.10, "ca-west-1": 1.10, "sa-east-1": 1.59,
    "eu-west-1": 1.11, "eu-west-2": 1.16, "eu-west-3": 1.17, "eu-central-1": 1.19, "eu-central-2": 1.30,
    "eu-north-1": 1.06, "eu-south-1": 1.17, "eu-south-2": 1.12,
    "ap-east-1": 1.37, "ap-northeast-1": 1.28, "ap-northeast-2": 1.23, "ap-northeast-3": 1.28,
    "ap-south-1": 1.05, "ap-south-2": 1.05, "ap-southeast-1": 1.24, "ap-southeast-2": 1.25,
    "ap-southeast-3": 1.24, "ap-southeast-4": 1.25,
    "af-south-1": 1.32, "il-central-1": 1.16, "me-central-1": 1.22, "me-south-1": 1.22,
}

# Service list prices in us-east-1 (USD).
EKS_CLUSTER_HOUR = 0.10
NAT_GATEWAY_HOUR = 0.045
NAT_GATEWAY_GB = 0.045
PUBLIC_IPV4_HOUR = 0.005
INTERFACE_ENDPOINT_AZ_HOUR = 0.01
INTERFACE_ENDPOINT_GB = 0.01
LOAD_BALANCER_HOUR = {"network": 0.0225, "application": 0.0225, "gateway": 0.0125}
LOAD_BALANCER_LCU_HOUR = {"network": 0.006, "application": 0.008, "gateway": 0.004}
KMS_KEY_MONTH = 1.00
WAF_WEB_ACL_MONTH = 5.00
WAF_RULE_MONTH = 1.00
WAF_MILLION_REQUESTS = 0.60
WAF_MANAGED_GROUP_MONTH = {  # subscription fees on top of the $1 rule fee
    "AWSManagedRulesBotControlRuleSet": 10.00, "AWSManagedRulesATPRuleSet": 10.00,
    "AWSManagedRulesACFPRuleSet": 10.00,
}
API_GATEWAY_REST_MILLION = 3.50
API_GATEWAY_CACHE_HOUR = {"0.5": 0.02, "1.6": 0.038, "6.1": 0.20, "13.5": 0.25, "28.4": 0.50,
                          "58.2": 1.00, "118": 1.90, "237": 3.80}
CLOUDTRAIL_MANAGEMENT_100K = 2.00  # the first trail's copy of management events is free
CLOUDTRAIL_DATA_100K = 0.10
FIREHOSE_GB = 0.029
LOGS_INGEST_GB = 0.50
LOGS_STORAGE_GB_MONTH = 0.03
ROUTE53_HEALTH_CHECK = 0.50
ROUTE53_HEALTH_CHECK_OPTION = 1.00  # each of HTTPS, string matching, 10 s interval, latency
ROUTE53_ZONE = 0.50
S3_STANDARD_GB_MONTH = 0.023
ECR_GB_MONTH = 0.10
SECRET_MONTH = 0.40
ALARM_MONTH = 0.10  # per standard-resolution alarm metric
# An anomaly-detection alarm evaluates the metric and its band's upper and lower bounds: billed as
# three standard-resolution alarm metrics (https://aws.amazon.com/cloudwatch/pricing/, "Alarms").
ANOMALY_ALARM_METRICS = 3
DASHBOARD_MONTH = 3.00  # per dashboard (CloudWatch pricing, "Dashboards")
MACIE_GB_CLASSIFIED = 1.00
# FSx for Lustre $/GB-month by (deploymentType, perUnitStorageThroughput MB/s/TiB); SCRATCH
# types have no throughput tier (None).
LUSTRE_GB_MONTH: dict[tuple[str, Optional[int]], float] = {
    ("PERSISTENT_2", 125): 0.145, ("PERSISTENT_2", 250): 0.210, ("PERSISTENT_2", 500): 0.340,
    ("PERSISTENT_2", 1000): 0.600,
    ("PERSISTENT_1", 50): 0.140, ("PERSISTENT_1", 100): 0.190, ("PERSISTENT_1", 200): 0.290,
    ("PERSISTENT_1", 12): 0.025, ("PERSISTENT_1", 40): 0.083,  # HDD storage
    ("SCRATCH_1", None): 0.140, ("SCRATCH_2", None): 0.140,
}

# Amazon Bedrock on-demand list prices per million tokens (input, output), USD, us-east-1, by base
# model id without its version (an inference profile `eu.x` is priced as `x`: AWS bills a
# cross-region profile at the source region's price). Longest matching prefix wins.
BEDROCK_MILLION_TOKENS: dict[str, tuple[float, float]] = {
    "anthropic.claude-opus-4-5": (5.00, 25.00), "anthropic.claude-opus-4-1": (15.00, 75.00),
    "anthropic.claude-opus-4": (15.00, 75.00), "anthropic.claude-sonnet-4-5": (3.00, 15.00),
    "anthropic.claude-sonnet-4": (3.00, 15.00), "anthropic.claude-3-7-sonnet": (3.00, 15.00),
    "anthropic.claude-3-5-sonnet": (3.00, 15.00), "anthropic.claude-haiku-4-5": (1.00, 5.00),
    "anthropic.claude-3-5-haiku": (0.80, 4.00), "anthropic.claude-3-haiku": (0.25, 1.25),
    "amazon.nova-premier": (2.50, 12.50), "amazon.nova-pro": (0.80, 3.20), "amazon.nova-lite": (0.06, 0.24),
    "amazon.nova-micro": (0.035, 0.14),
    "amazon.titan-text-express": (0.20, 0.60),
    "meta.llama3-3-70b-instruct": (0.72, 0.72), "meta.llama3-1-70b-instruct": (0.72, 0.72),
    "meta.llama3-1-8b-instruct": (0.22, 0.22), "meta.llama4-maverick-17b-instruct": (0.24, 0.97),
    "mistral.mistral-large-2407": (2.00, 6.00), "mistral.mistral-small-2402": (1.00, 3.00),
    "cohere.command-r-plus": (3.00, 15.00), "cohere.command-r": (0.50, 1.50),
}

# Usage assumptions: what a plan cannot know. Each is printed on the lines it prices.
NAT_GB_PER_MONTH = 100
ENDPOINT_GB_PER_MONTH = 20
LCU_PER_HOUR = 1
WAF_MILLION_REQUESTS_PER_MONTH = 10
API_MILLION_REQUESTS_PER_MONTH = 10
CLOUDTRAIL_MANAGEMENT_EVENTS = 1_000_000  # per extra trail
CLOUDTRAIL_DATA_EVENTS = 10_000_000  # per trail that records data events
FIREHOSE_GB_PER_MONTH = 50
LOG_GB_PER_MONTH = 5  # per log group
S3_GB_PER_BUCKET = 100
ECR_GB_PER_REPOSITORY = 20
MACIE_GB_PER_JOB = 100
# Foundation-model tokens per allowed model and inference region (each regional API carries its
# own traffic), in millions per month.
FM_MILLION_INPUT_TOKENS_PER_MONTH = 50
FM_MILLION_OUTPUT_TOKENS_PER_MONTH = 10
# The foundation-model gateway function's variable listing the models it may call
# (components/fm_gateway.py; not imported: the CLI starts without the provider SDKs).
ALLOWED_MODELS_ENV = "ALLOWED_MODELS"
# Flat monthly assumptions for usage-priced security services, per account and region.
GUARDDUTY_DETECTOR_MONTH = 50.00  # CloudTrail, VPC flow and DNS log analysis of a modest account
GUARDDUTY_FEATURE_MONTH = 20.00  # each enabled protection plan (EKS audit/runtime, S3, malware ...)
GUARDDUTY_MALWARE_PLAN_MONTH = 15.00  # S3 malware protection plan: object scans of new uploads
SECURITY_HUB_MONTH = 30.00  # security checks and finding ingestion
MACIE_ACCOUNT_MONTH = 25.00  # bucket inventory, monitoring and automated discovery
CONFIG_ITEM = 0.003  # AWS Config, per configuration item recorded (continuous recording)
CONFIG_ITEMS_PER_MONTH = 10_000  # per recorder: the stack's own resources changing, plus Security Hub's checks


@dataclass
class CostLine:
    component: str  # the top-level component the resource belongs to
    item: str  # what is priced
    quantity: float
    unit: str
    monthly_usd: float
    assumption: str
    kind: str = ""  # the item without the resource name, e.g. "interface endpoint"
    unit_usd: float = 0.0  # price per unit after the regional multiplier and any discount
    region: str = ""  # the resource's region ("" for global services)
    urn: str = ""
    account: str = ""  # the account its provider assumes a role in; "" the deploying account


@dataclass
class CostEstimate:
    lines: list[CostLine]
    total_monthly_usd: float
    assumptions: list[str]
    stack: str = ""
    tier: str = ""
    # The plan's `accounts` (role -> account id); empty for a single-account plan.
    accounts: dict[str, str] = field(default_factory=dict)

    @property
    def multi_account(self) -> bool:
        return bool(self.accounts)

    def by_component(self) -> dict[str, float]:
        """Monthly subtotal per component, largest first (ties by name)."""
        return _subtotals(self.lines)

    def by_account(self) -> dict[str, float]:
        """Monthly subtotal per account id ("" the deploying account): the plan's accounts in
        the order it declares them, then any other account, the deploying account last."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.account] = totals.get(line.account, 0.0) + line.monthly_usd
        declared = list(dict.fromkeys(self.accounts.values()))
        order = sorted(totals, key=lambda a: (a == "", declared.index(a) if a in declared else len(declared), a))
        return {a: round(totals[a], 2) for a in order}

    def roles_of(self, account: str) -> list[str]:
        """The roles (training, inference, logArchive) the plan gives `account`."""
        return [role for role, a in self.accounts.items() if a == account]

    def account_label(self, account: str) -> str:
        """"training account 111111111111", "deploying account" (no role assumed)."""
        if not account:
            return "deploying account"
        roles = self.roles_of(account)
        return f"{' + '.join(roles)} account {account}" if roles else f"account {account}"

    def to_dict(self) -> dict[str, Any]:
        multi = self.multi_account
        doc: dict[str, Any] = {
            "stack": self.stack, "tier": self.tier, "currency": "USD", "priceDate": PRICE_DATE,
            "estimate": True, "totalMonthlyUsd": self.total_monthly_usd, "byComponent": self.by_component(),
        }
        if multi:
            doc["accounts"] = dict(self.accounts)
            doc["byAccount"] = [
                {"account": account, "roles": self.roles_of(account), "monthlyUsd": subtotal,
                 "byComponent": _subtotals([line for line in self.lines if line.account == account])}
                for account, subtotal in self.by_account().items()
            ]
        doc["lines"] = [{**({"account": line.account} if multi else {}), "component": line.component, "item": line.item,
                         "region": line.region, "quantity": line.quantity, "unit": line.unit, "unitUsd": line.unit_usd,
                         "monthlyUsd": line.monthly_usd, "assumption": line.assumption, "urn": line.urn}
                        for line in self.lines]
        doc["assumptions"] = list(self.assumptions)
        return doc


# -----------------------------------------------------------------------------------------
# Estimating
# -----------------------------------------------------------------------------------------


class _Pricer:
    """Prices one plan: knows each resource's component, account and region multiplier."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.by_urn = plan.by_urn()
        self.lines: list[CostLine] = []
        self.unknown_regions: set[str] = set()
        self._components: dict[str, str] = {}
        self._first_trails: dict[str, str] = {}  # account -> urn of its first trail

    def account(self, r: Resource) -> str:
        """The account `r` is created in ("" the deploying account)."""
        return self.plan.provider_account(r)

    def first_trail(self, r: Resource) -> bool:
        """Whether `r` is its account's first trail (whose copy of management events is free)."""
        return self._first_trails.setdefault(self.account(r), r.urn) == r.urn

    def component(self, r: Resource) -> str:
        if r.urn not in self._components:
            parent = self.by_urn.get(r.parent)
            top = parent is None or parent.type == "pulumi:pulumi:Stack"
            self._components[r.urn] = r.name if top else self.component(parent)
        return self._components[r.urn]

    def multiplier(self, r: Resource) -> float:
        region = self.plan.provider_region(r)
        if region not in REGION_MULTIPLIER:
            self.unknown_regions.add(region or "(none)")
            return 1.0
        return REGION_MULTIPLIER[region]

    def add(self, r: Resource, kind: str, quantity: float, unit: str, unit_usd: float, assumption: str,
            *, label: str = "", regional: bool = True) -> None:
        """One line: `kind` (what is priced) of resource `r` (shown as `label`, default its name)."""
        price = unit_usd * (self.multiplier(r) if regional else 1.0)
        self.lines.append(CostLine(
            component=self.component(r), item=f"{kind} {label or r.name}", kind=kind, quantity=quantity, unit=unit,
            monthly_usd=round(quantity * price, 2), assumption=assumption, unit_usd=round(price, 6),
            region=self.plan.provider_region(r) if regional else "", urn=r.urn, account=self.account(r),
        ))


def _node_group(p: _Pricer, r: Resource) -> None:
    types = [str(t) for t in _items(r.inputs.get("instanceTypes"))]
    if not types:
        template = _launch_template(p, r)
        if template is not None and template.inputs.get("instanceType"):
            types = [str(template.inputs["instanceType"])]
    low, high = int(_number(_at(r.inputs, "scalingConfig", "minSize"))), int(_number(_at(r.inputs, "scalingConfig", "maxSize")))
    nodes = int(_number(_at(r.inputs, "scalingConfig", "desiredSize"), low))
    spot = str(r.inputs.get("capacityType", "ON_DEMAND")).upper() == "SPOT"
    instance = types[0] if types else "(no instance type)"
    hourly = INSTANCE_HOURLY.get(instance)
    label = f"{r.name} ({instance}{', spot' if spot else ''})"
    if hourly is None:
        p.add(r, "EKS node group", nodes * HOURS_PER_MONTH, "node-hour", 0.0,
              f"price unknown for instance type {instance}: add it to INSTANCE_HOURLY in blueprints/plan/cost.py; "
              f"{nodes} node(s), scaling {low}-{high}", label=label)
        return
    node_hour = hourly * (1 - SPOT_DISCOUNT if spot else 1.0) * p.multiplier(r)
    basis = f"spot at an assumed {SPOT_DISCOUNT:.0%} off ${hourly}/h on-demand" if spot else "on-demand"
    also = f", priced as {types[0]} (also allows {', '.join(types[1:])})" if len(types) > 1 else ""
    also += _accelerators(instance)
    p.add(r, "EKS node group", nodes * HOURS_PER_MONTH, "node-hour", hourly * (1 - SPOT_DISCOUNT if spot else 1.0),
          f"{nodes} node(s) all month at ${node_hour:,.4f} per node-hour ({basis}{also}); scaling {low}-{high}: "
          f"at {high} nodes ${node_hour * HOURS_PER_MONTH * high:,.0f}/month", label=label)


def _accelerators(instance_type: str) -> str:
    """What a node's price buys in accelerators, from the accelerator catalog ("" for a type it
    does not know: such a type is priced from INSTANCE_HOURLY alone, as before the catalog)."""
    entry = accelerator(instance_type)
    if entry is None:
        return ""
    kind = "GPU" if entry.vendor == "nvidia" else "Neuron device"
    return (f"; {entry.count} x {entry.model} {kind}{'s' if entry.count > 1 else ''} "
            f"({entry.memory_gib} GiB accelerator memory) per node")


def _launch_template(p: _Pricer, r: Resource) -> Optional[Resource]:
    wanted = {v for v in (_at(r.inputs, "launchTemplate", "id"), _at(r.inputs, "launchTemplate", "name")) if v}
    return next((t for t in p.plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
                 if wanted & {t.id, t.inputs.get("name"), t.outputs.get("name")}), None)


def _instance(p: _Pricer, r: Resource) -> None:
    instance = str(r.inputs.get("instanceType", ""))
    hourly = INSTANCE_HOURLY.get(instance)
    note = "on-demand, running all month" if hourly is not None else \
        f"price unknown for instance type {instance}: add it to INSTANCE_HOURLY in blueprints/plan/cost.py"
    p.add(r, "EC2 instance", HOURS_PER_MONTH, "hour", hourly or 0.0, note, label=f"{r.name} ({instance})")


def _eks_cluster(p: _Pricer, r: Resource) -> None:
    p.add(r, "EKS cluster", HOURS_PER_MONTH, "hour", EKS_CLUSTER_HOUR, "standard Kubernetes version support")


def _nat_gateway(p: _Pricer, r: Resource) -> None:
    p.add(r, "NAT gateway", HOURS_PER_MONTH, "hour", NAT_GATEWAY_HOUR, "running all month")
    p.add(r, "NAT gateway data processing", NAT_GB_PER_MONTH, "GB", NAT_GATEWAY_GB,
          f"assumed {NAT_GB_PER_MONTH} GB/month through each NAT gateway (image pulls, package mirrors)")


def _eip(p: _Pricer, r: Resource) -> None:
    p.add(r, "public IPv4 address", HOURS_PER_MONTH, "hour", PUBLIC_IPV4_HOUR, "in use all month")


def _vpc_endpoint(p: _Pricer, r: Resource) -> None:
    if str(r.inputs.get("vpcEndpointType", "Gateway")) != "Interface":
        return  # gateway endpoints (S3, DynamoDB) are free
    azs = max(len(_items(r.inputs.get("subnetIds"))), 1)
    service = str(r.inputs.get("serviceName", "")).split(f"{p.plan.provider_region(r)}.", 1)[-1]
    p.add(r, "interface endpoint", azs * HOURS_PER_MONTH, "AZ-hour", INTERFACE_ENDPOINT_AZ_HOUR,
          f"one ENI in each of {azs} subnet(s)/AZ(s)", label=f"{r.name} ({service})")
    p.add(r, "interface endpoint data processing", ENDPOINT_GB_PER_MONTH, "GB", INTERFACE_ENDPOINT_GB,
          f"assumed {ENDPOINT_GB_PER_MONTH} GB/month per endpoint")


def _lustre(p: _Pricer, r: Resource) -> None:
    deployment = str(r.inputs.get("deploymentType", "SCRATCH_1"))
    throughput = r.inputs.get("perUnitStorageThroughput")
    key = (deployment, int(_number(throughput)) if throughput is not None and deployment.startswith("PERSISTENT") else None)
    gib = int(_number(r.inputs.get("storageCapacity")))
    price = LUSTRE_GB_MONTH.get(key)
    tier_text = f"{deployment}" + (f" {key[1]} MB/s/TiB" if key[1] else "")
    note = (f"{tier_text} at ${price}/GB-month provisioned (GiB billed as GB); backups not included" if price is not None
            else f"price unknown for FSx for Lustre {tier_text}: add it to LUSTRE_GB_MONTH in blueprints/plan/cost.py")
    p.add(r, "FSx for Lustre", gib, "GB-month", price or 0.0, note, label=f"{r.name} ({gib} GiB)")


def _load_balancer(p: _Pricer, r: Resource) -> None:
    kind = str(r.inputs.get("loadBalancerType", "application"))
    if kind not in LOAD_BALANCER_HOUR:
        p.add(r, f"{kind} load balancer", HOURS_PER_MONTH, "hour", 0.0, f"price unknown for load balancer type {kind}")
        return
    p.add(r, f"{kind} load balancer", HOURS_PER_MONTH, "hour", LOAD_BALANCER_HOUR[kind], "running all month")
    p.add(r, f"{kind} load balancer capacity units", LCU_PER_HOUR * HOURS_PER_MONTH, "LCU-hour",
          LOAD_BALANCER_LCU_HOUR[kind], f"assumed {LCU_PER_HOUR} LCU on average")


def _kms_key(p: _Pricer, r: Resource) -> None:
    p.add(r, "KMS key", 1, "key-month", KMS_KEY_MONTH,
          "customer managed key; rotated key material adds $1/month for each of the first two rotations; requests not included")


def _web_acl(p: _Pricer, r: Resource) -> None:
    rules = _items(r.inputs.get("rules"))
    groups = [str(_at(rule, "statement", "managedRuleGroupStatement", "name")) for rule in rules]
    subscriptions = sum(WAF_MANAGED_GROUP_MONTH.get(g, 0.0) for g in groups)
    p.add(r, "WAF web ACL", 1, "ACL-month", WAF_WEB_ACL_MONTH, "per web ACL")
    if rules:
        p.add(r, "WAF rules", len(rules), "rule-month", WAF_RULE_MONTH,
              "one fee per rule or managed rule group" + (f"; + ${subscriptions:.2f} managed-group subscriptions" if subscriptions else ""))
    if subscriptions:
        p.add(r, "WAF managed-group subscriptions", 1, "month", subscriptions,
              "Bot Control / fraud-control subscription fees; their per-request fees not included")
    p.add(r, "WAF requests", WAF_MILLION_REQUESTS_PER_MONTH, "million requests", WAF_MILLION_REQUESTS,
          f"assumed {WAF_MILLION_REQUESTS_PER_MONTH} million requests/month")


def _rest_api(p: _Pricer, r: Resource) -> None:
    p.add(r, "API Gateway REST requests", API_MILLION_REQUESTS_PER_MONTH, "million requests",
          API_GATEWAY_REST_MILLION, f"assumed {API_MILLION_REQUESTS_PER_MONTH} million requests/month (first 333 M tier)")


def _stage(p: _Pricer, r: Resource) -> None:
    if not r.inputs.get("cacheClusterEnabled"):
        return
    size = str(r.inputs.get("cacheClusterSize", "0.5"))
    hourly = API_GATEWAY_CACHE_HOUR.get(size)
    note = "cache running all month" if hourly is not None else f"price unknown for cache size {size} GB"
    p.add(r, "API Gateway cache", HOURS_PER_MONTH, "hour", hourly or 0.0, note, label=f"{r.name} ({size} GB)")


def _trail(p: _Pricer, r: Resource) -> None:
    # The first copy of management events is free in each account ("Your AWS account is configured to
    # deliver management events to two trails...", https://aws.amazon.com/cloudtrail/pricing/).
    if not p.first_trail(r):
        p.add(r, "CloudTrail management events (extra copy)", CLOUDTRAIL_MANAGEMENT_EVENTS / 100_000,
              "100k events", CLOUDTRAIL_MANAGEMENT_100K,
              f"only the first trail's copy is free; assumed {CLOUDTRAIL_MANAGEMENT_EVENTS:,} events/month")
    else:
        p.add(r, "CloudTrail management events", 0, "100k events", 0.0, "the first copy of management events is free")
    if _records_data_events(r):
        p.add(r, "CloudTrail data events", CLOUDTRAIL_DATA_EVENTS / 100_000, "100k events",
              CLOUDTRAIL_DATA_100K, f"assumed {CLOUDTRAIL_DATA_EVENTS:,} S3/Lambda data events/month")


def _records_data_events(r: Resource) -> bool:
    if any(_at(s, "dataResources") for s in _items(r.inputs.get("eventSelectors"))):
        return True
    return any(_at(f, "field") == "eventCategory" and "Data" in _items(_at(f, "equals"))
               for selector in _items(r.inputs.get("advancedEventSelectors"))
               for f in _items(_at(selector, "fieldSelectors")))


def _firehose(p: _Pricer, r: Resource) -> None:
    p.add(r, "Firehose ingestion", FIREHOSE_GB_PER_MONTH, "GB", FIREHOSE_GB,
          f"assumed {FIREHOSE_GB_PER_MONTH} GB/month (billed in 5 KB record increments)")


def _log_group(p: _Pricer, r: Resource) -> None:
    retention = int(_number(r.inputs.get("retentionInDays")))
    months = min(retention / 30, 12) if retention else 12
    p.add(r, "log group ingestion", LOG_GB_PER_MONTH, "GB", LOGS_INGEST_GB,
          f"assumed {LOG_GB_PER_MONTH} GB/month ingested")
    p.add(r, "log group storage", round(LOG_GB_PER_MONTH * months, 2), "GB-month", LOGS_STORAGE_GB_MONTH,
          f"{retention or 'unlimited'} days retention: {months:.1f} months of ingest kept (capped at 12)")


def _health_check(p: _Pricer, r: Resource) -> None:
    kind = str(r.inputs.get("type", "HTTP"))
    options = []
    if kind.startswith("HTTPS"):
        options.append("HTTPS")
    if kind.endswith("STR_MATCH"):
        options.append("string matching")
    if _number(r.inputs.get("requestInterval"), 30) == 10:
        options.append("10 s interval")
    if r.inputs.get("measureLatency"):
        options.append("latency measurement")
    if kind in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        options = []
    price = ROUTE53_HEALTH_CHECK + ROUTE53_HEALTH_CHECK_OPTION * len(options)
    p.add(r, "Route 53 health check", 1, "check-month", price,
          "AWS endpoint" + (f" with {', '.join(options)} (+${ROUTE53_HEALTH_CHECK_OPTION:.2f} each)" if options else ""),
          label=f"{r.name} ({kind})", regional=False)


def _zone(p: _Pricer, r: Resource) -> None:
    p.add(r, "Route 53 hosted zone", 1, "zone-month", ROUTE53_ZONE, "queries not included", regional=False)


def _bucket(p: _Pricer, r: Resource) -> None:
    p.add(r, "S3 bucket storage", S3_GB_PER_BUCKET, "GB-month", S3_STANDARD_GB_MONTH,
          f"assumed {S3_GB_PER_BUCKET} GB in S3 Standard per bucket; requests and old versions not included")


def _ecr(p: _Pricer, r: Resource) -> None:
    p.add(r, "ECR repository storage", ECR_GB_PER_REPOSITORY, "GB-month", ECR_GB_MONTH,
          f"assumed {ECR_GB_PER_REPOSITORY} GB of images")


def bedrock_price(model_id: str) -> Optional[tuple[float, float]]:
    """(input, output) USD per million tokens of a Bedrock model or inference-profile id, from
    BEDROCK_MILLION_TOKENS; None when the table does not know the model."""
    first, _, rest = model_id.partition(".")
    base = rest if first in BEDROCK_PROFILE_GEOGRAPHIES and "." in rest else model_id
    known = [k for k in BEDROCK_MILLION_TOKENS if base.startswith(k)]
    return BEDROCK_MILLION_TOKENS[max(known, key=len)] if known else None


def _foundation_models(p: _Pricer, r: Resource) -> None:
    """Tokens of each model the foundation-model proxy of a region may call (its ALLOWED_MODELS)."""
    variables = _at(r.inputs, "environment", "variables")
    allowed = variables.get(ALLOWED_MODELS_ENV) if isinstance(variables, dict) else None
    if not isinstance(allowed, str) or not allowed:
        return
    for model_id in allowed.split(","):
        price = bedrock_price(model_id)
        note = (f"list price {PRICE_DATE}, us-east-1 (regional prices differ); assumed "
                f"{FM_MILLION_INPUT_TOKENS_PER_MONTH} M input and {FM_MILLION_OUTPUT_TOKENS_PER_MONTH} M output tokens "
                "per model and region each month")
        if price is None:
            p.add(r, "Bedrock model tokens", 0, "month", 0.0, f"price unknown for {model_id}", label=model_id,
                  regional=False)
            continue
        p.add(r, "Bedrock input tokens", FM_MILLION_INPUT_TOKENS_PER_MONTH, "million tokens", price[0],
              f"${price[0]}/M input tokens, " + note, label=model_id, regional=False)
        p.add(r, "Bedrock output tokens", FM_MILLION_OUTPUT_TOKENS_PER_MONTH, "million tokens", price[1],
              f"${price[1]}/M output tokens, " + note, label=model_id, regional=False)


def _alarm(p: _Pricer, r: Resource) -> None:
    band = any("ANOMALY_DETECTION_BAND" in str(_at(q, "expression") or "") for q in _items(r.inputs.get("metricQueries")))
    if band:
        p.add(r, "CloudWatch anomaly-detection alarm", ANOMALY_ALARM_METRICS, "alarm-metric-month", ALARM_MONTH,
              f"the metric and its band's two bounds, billed as {ANOMALY_ALARM_METRICS} standard-resolution alarm "
              "metrics; the anomaly-detection model itself is not billed")
        return
    p.add(r, "CloudWatch alarm", 1, "alarm-month", ALARM_MONTH, "standard-resolution alarm")


def _flat(item: str, price: float, note: str, unit: str = "month") -> Callable[[_Pricer, Resource], None]:
    def price_it(p: _Pricer, r: Resource) -> None:
        p.add(r, item, 1, unit, price, note)
    return price_it


def _guardduty_feature(p: _Pricer, r: Resource) -> None:
    if str(r.inputs.get("status", "ENABLED")) == "ENABLED":
        p.add(r, "GuardDuty protection plan", 1, "month", GUARDDUTY_FEATURE_MONTH,
              f"assumed flat ${GUARDDUTY_FEATURE_MONTH:.0f}/month per enabled protection plan (usage priced)",
              label=str(r.inputs.get("name", r.name)))


def _macie_job(p: _Pricer, r: Resource) -> None:
    p.add(r, "Macie classification job", MACIE_GB_PER_JOB, "GB", MACIE_GB_CLASSIFIED,
          f"assumed {MACIE_GB_PER_JOB} GB classified per month")


ESTIMATORS: dict[str, Callable[[_Pricer, Resource], None]] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:ec2/instance:Instance": _instance,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:fsx/lustreFileSystem:LustreFileSystem": _lustre,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/replicaKey:ReplicaKey": _kms_key,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/stage:Stage": _stage,
    "aws:cloudtrail/trail:Trail": _trail,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _firehose,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:route53/zone:Zone": _zone,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:ecr/repository:Repository": _ecr,
    "aws:guardduty/detector:Detector": _flat(
        "GuardDuty detector", GUARDDUTY_DETECTOR_MONTH,
        f"assumed flat ${GUARDDUTY_DETECTOR_MONTH:.0f}/month: foundational log analysis of a modest account-region"),
    "aws:guardduty/detectorFeature:DetectorFeature": _guardduty_feature,
    "aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan": _flat(
        "GuardDuty S3 malware protection", GUARDDUTY_MALWARE_PLAN_MONTH,
        f"assumed flat ${GUARDDUTY_MALWARE_PLAN_MONTH:.0f}/month of scanned uploads"),
    "aws:securityhub/account:Account": _flat(
        "Security Hub", SECURITY_HUB_MONTH, f"assumed flat ${SECURITY_HUB_MONTH:.0f}/month of checks and findings"),
    "aws:macie2/account:Account": _flat(
        "Macie", MACIE_ACCOUNT_MONTH, f"assumed flat ${MACIE_ACCOUNT_MONTH:.0f}/month of bucket inventory and discovery"),
    "aws:macie2/classificationJob:ClassificationJob": _macie_job,
    "aws:cfg/recorder:Recorder": _flat(
        "AWS Config recorder", CONFIG_ITEM * CONFIG_ITEMS_PER_MONTH,
        f"assumed {CONFIG_ITEMS_PER_MONTH:,} configuration items/month at ${CONFIG_ITEM}/item (rule evaluations not included)"),
    "aws:secretsmanager/secret:Secret": _flat("Secrets Manager secret", SECRET_MONTH, "per secret; API calls not included"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _flat(
        "CloudWatch dashboard", DASHBOARD_MONTH,
        f"${DASHBOARD_MONTH:.2f} per dashboard-month; an account's first 3 dashboards (50 metrics each) are free, "
        "not deducted here", "dashboard-month"),
    "aws:lambda/function:Function": _foundation_models,
}


def estimate(plan: Plan) -> CostEstimate:
    """The monthly estimate of a plan (see the module docstring for what it includes)."""
    pricer = _Pricer(plan)
    for r in plan.resources:
        price_it = ESTIMATORS.get(r.type)
        if price_it is not None:
            price_it(pricer, r)
    order = {c: i for i, c in enumerate(_subtotals(pricer.lines))}
    lines = sorted(pricer.lines, key=lambda line: order[line.component])  # stable: plan order inside a component
    regions = sorted({plan.provider_region(r) for r in plan.resources if r.type.startswith("aws:")} - {""})
    assumptions = [
        f"ESTIMATE, not a quote: AWS public on-demand list prices (Linux, USD) for us-east-1 as recorded {PRICE_DATE}, "
        "scaled by an approximate regional multiplier; verify with the AWS Pricing Calculator.",
        f"{HOURS_PER_MONTH} hours per month; always-on resources run all month.",
        f"Spot capacity at an assumed {SPOT_DISCOUNT:.0%} discount to on-demand.",
        "Regional multipliers used: " + (", ".join(f"{r} ×{REGION_MULTIPLIER.get(r, 1.0):.2f}" for r in regions) or "none") + ".",
        "Node groups cost their desired size (min size when unset) all month; each line shows the per-node-hour price "
        "and the cost at max size.",
        "Usage (requests, GB processed, logs, stored data) is assumed per line; change the assumptions at the top of "
        "blueprints/plan/cost.py to match your workload.",
        "Not included: taxes, support, savings plans, inter-region and internet data transfer, node EBS volumes, "
        "IAM/Lambda/SNS/SQS/Cognito usage, Bedrock guardrail text units.",
    ]
    if pricer.unknown_regions:
        assumptions.append("No multiplier for region(s) " + ", ".join(sorted(pricer.unknown_regions)) + ": priced as us-east-1.")
    unknown = sorted({line.item for line in lines if "price unknown" in line.assumption})
    if unknown:
        assumptions.append("Priced at $0 because the price is unknown: " + "; ".join(unknown) + ".")
    if plan.accounts:
        assumptions.append(
            "Accounts: each line is in the account whose deploy role its provider assumes; account-wide services "
            "(GuardDuty, Security Hub, Macie, AWS Config) are priced per account and region, and each account's "
            "first CloudTrail copy of management events is free.")
    total = round(sum(line.monthly_usd for line in lines), 2)
    return CostEstimate(lines=lines, total_monthly_usd=total, assumptions=assumptions, stack=plan.stack, tier=plan.tier,
                        accounts=dict(plan.accounts))


def _subtotals(lines: list[CostLine]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in lines:
        totals[line.component] = totals.get(line.component, 0.0) + line.monthly_usd
    return {c: round(v, 2) for c, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))}


def _at(value: Any, *keys: str) -> Any:
    """value[k1][k2]..., or None where a step is not an object (inputs may hold anything)."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any, default: float = 0) -> float:
    """A numeric input, or `default` when it is absent, unknown or not a number (never crash)."""
    if isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


# -----------------------------------------------------------------------------------------
# Formatting
# -----------------------------------------------------------------------------------------


def format_cost(e: CostEstimate, fmt: str) -> str:
    """`table` (plain text), `json` or `markdown`."""
    if fmt == "json":
        return json.dumps(e.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "table":
        return _table(e)
    if fmt == "markdown":
        return _markdown(e)
    raise ValueError(f"unknown cost format {fmt!r}; use one of: {', '.join(FORMATS)}")


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _qty(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _title(e: CostEstimate) -> str:
    tier = f", tier {e.tier}" if e.tier else ""
    return f"Monthly cost ESTIMATE for stack {e.stack}{tier} (USD, list prices as of {PRICE_DATE})"


@dataclass(frozen=True)
class _Row:
    item: str
    region: str
    quantity: float
    unit: str
    monthly_usd: float
    assumption: str


def _rows(lines: list[CostLine]) -> list[tuple[str, float, list[_Row]]]:
    """Per component (largest first): its subtotal and its lines for display, where lines of one
    kind with the same price and assumption are summed into one row ("interface endpoint ×14")."""
    out = []
    for component, subtotal in _subtotals(lines).items():
        groups: dict[tuple[Any, ...], list[CostLine]] = {}
        for line in lines:
            if line.component == component:
                groups.setdefault((line.kind, line.region, line.unit, line.unit_usd, line.assumption), []).append(line)
        rows = [_Row(item=ls[0].item if len(ls) == 1 else f"{ls[0].kind} ×{len(ls)}", region=ls[0].region or "global",
                     quantity=round(sum(x.quantity for x in ls), 2), unit=ls[0].unit,
                     monthly_usd=round(sum(x.monthly_usd for x in ls), 2), assumption=ls[0].assumption)
                for ls in groups.values()]
        out.append((component, subtotal, rows))
    return out


def _by_account(e: CostEstimate) -> list[tuple[str, float, list[tuple[str, float, list[_Row]]]]]:
    """Per account (CostEstimate.by_account order): its label, subtotal and component groups; a
    single-account plan is one group without a label."""
    if not e.multi_account:
        return [("", e.total_monthly_usd, _rows(e.lines))]
    return [(e.account_label(account), subtotal, _rows([line for line in e.lines if line.account == account]))
            for account, subtotal in e.by_account().items()]


def _table(e: CostEstimate) -> str:
    accounts = _by_account(e)
    notes: dict[str, int] = {}
    for _, _, grouped in accounts:
        for _, _, rows in grouped:
            for row in rows:
                notes.setdefault(row.assumption, len(notes) + 1)
    header = ("account / component / item" if e.multi_account else "component / item", "region", "quantity", "unit",
              "monthly")
    indent = "  " if e.multi_account else ""
    cells: list[tuple[str, ...]] = []
    for label, account_total, grouped in accounts:
        if e.multi_account:
            cells.append((label, "", "", "", _usd(account_total)))
        for component, subtotal, rows in grouped:
            cells.append((f"{indent}{component}", "", "", "", _usd(subtotal)))
            cells += [(f"{indent}  {row.item} [{notes[row.assumption]}]", row.region, _qty(row.quantity), row.unit,
                       _usd(row.monthly_usd)) for row in rows]
    total = ("TOTAL", "", "", "", _usd(e.total_monthly_usd))
    widths = [max(len(c[i]) for c in [header, total, *cells]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)

    def fmt_row(c: tuple[str, ...]) -> str:
        return (f"{c[0]:<{widths[0]}}  {c[1]:<{widths[1]}}  {c[2]:>{widths[2]}}  {c[3]:<{widths[3]}}  "
                f"{c[4]:>{widths[4]}}").rstrip()

    out = [_title(e), "", fmt_row(header), rule, *map(fmt_row, cells), rule, fmt_row(total)]
    out += ["", "Notes:"] + [f"[{n}] {text}" for text, n in notes.items()]
    out += ["", "Assumptions:"] + [f"- {a}" for a in e.assumptions]
    return "\n".join(out) + "\n"


def _markdown(e: CostEstimate) -> str:
    out = [f"### {_title(e)}", "", f"**Total: {_usd(e.total_monthly_usd)} / month** (estimate)", ""]
    if not e.multi_account:
        grouped = _rows(e.lines)
        out += ["| component | monthly |", "|---|---:|"]
        out += [f"| {c} | {_usd(v)} |" for c, v, _ in grouped]
        out += ["", "| component | item | region | quantity | unit | monthly | assumption |", "|---|---|---|---:|---|---:|---|"]
        out += [f"| {c} | {row.item} | {row.region} | {_qty(row.quantity)} | {row.unit} | {_usd(row.monthly_usd)} | "
                f"{row.assumption.replace('|', '/')} |" for c, _, rows in grouped for row in rows]
    else:
        accounts = _by_account(e)
        out += ["| account | monthly |", "|---|---:|"]
        out += [f"| {label} | {_usd(v)} |" for label, v, _ in accounts]
        out += ["", "| account | component | monthly |", "|---|---|---:|"]
        out += [f"| {label} | {c} | {_usd(v)} |" for label, _, grouped in accounts for c, v, _ in grouped]
        out += ["", "| account | component | item | region | quantity | unit | monthly | assumption |",
                "|---|---|---|---|---:|---|---:|---|"]
        out += [f"| {label} | {c} | {row.item} | {row.region} | {_qty(row.quantity)} | {row.unit} | "
                f"{_usd(row.monthly_usd)} | {row.assumption.replace('|', '/')} |"
                for label, _, grouped in accounts for c, _, rows in grouped for row in rows]
    out += ["", "**Assumptions**", ""] + [f"- {a}" for a in e.assumptions]
    return "\n".join(out) + "\n"
