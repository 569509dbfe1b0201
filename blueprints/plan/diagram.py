"""A picture of a plan: a Mermaid flowchart that GitHub renders (`blueprint diagram`, the `ci` report).

Everything is read from the plan (resource types, inputs, dependencies, parents and the provider of
each resource, which gives its region and account); nothing is taken from the stack config, so a
plan JSON and a stack file draw the same picture. What is drawn, where present:

- the request path of each REST API: client -> (Route 53 failover) -> WAF -> API Gateway -> VPC
  link -> NLB -> the GPU node group the NLB's target group is attached to, in its EKS cluster;
  API methods that invoke a Lambda function (the foundation-model gateway) -> Amazon Bedrock;
- the other EKS clusters (training): their GPU node groups, the FSx for Lustre file systems in the
  same VPC and the S3 buckets linked to them, and where those buckets replicate to;
- log shipping per region and account: the sources subscribed to Kinesis Data Firehose (CloudTrail,
  flow logs, EKS audit, API access, WAF, findings...) -> Firehose -> the SIEM, and the backup
  bucket Firehose writes to.

One subgraph per region; inside it one per account where the plan spans several accounts; inside
that one per VPC that holds something drawn. Global services (the client, Route 53, the SIEM) sit
outside the regions. Node ids are derived from resource names (valid Mermaid identifiers, unique);
labels are escaped with Mermaid entity codes. Same plan in, same text out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from blueprints.plan.engine import Plan, Resource

FORMATS: tuple[str, ...] = ("mermaid", "markdown")

# Node shapes: Mermaid flowchart delimiters around a quoted label.
SHAPES: dict[str, tuple[str, str]] = {
    "box": ("[", "]"),
    "round": ("(", ")"),
    "stadium": ("([", "])"),
    "store": ("[(", ")]"),  # cylinder: buckets, file systems
    "hexagon": ("{{", "}}"),
    "stream": ("[[", "]]"),
    "external": ("[/", "/]"),
}

# Words a node id may not be (Mermaid keywords); ids are prefixed anyway, this is the guard.
RESERVED_IDS = frozenset({"end", "graph", "flowchart", "subgraph", "style", "class", "classDef", "click",
                          "linkStyle", "direction", "default"})

_TYPES = {
    "rest_api": "aws:apigateway/restApi:RestApi",
    "stage": "aws:apigateway/stage:Stage",
    "method": "aws:apigateway/method:Method",
    "resource": "aws:apigateway/resource:Resource",
    "integration": "aws:apigateway/integration:Integration",
    "vpc_link": "aws:apigateway/vpcLink:VpcLink",
    "domain": "aws:apigateway/domainName:DomainName",
    "base_path": "aws:apigateway/basePathMapping:BasePathMapping",
    "waf_association": "aws:wafv2/webAclAssociation:WebAclAssociation",
    "web_acl": "aws:wafv2/webAcl:WebAcl",
    "waf_logging": "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
    "lb": "aws:lb/loadBalancer:LoadBalancer",
    "listener": "aws:lb/listener:Listener",
    "target_group": "aws:lb/targetGroup:TargetGroup",
    "asg_attachment": "aws:autoscaling/attachment:Attachment",
    "record": "aws:route53/record:Record",
    "cluster": "aws:eks/cluster:Cluster",
    "node_group": "aws:eks/nodeGroup:NodeGroup",
    "vpc": "aws:ec2/vpc:Vpc",
    "subnet": "aws:ec2/subnet:Subnet",
    "igw": "aws:ec2/internetGateway:InternetGateway",
    "nat": "aws:ec2/natGateway:NatGateway",
    "vpc_endpoint": "aws:ec2/vpcEndpoint:VpcEndpoint",
    "flow_log": "aws:ec2/flowLog:FlowLog",
    "lustre": "aws:fsx/lustreFileSystem:LustreFileSystem",
    "dra": "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation",
    "bucket": "aws:s3/bucket:Bucket",
    "replication": "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "lambda": "aws:lambda/function:Function",
    "guardrail": "aws:bedrock/guardrail:Guardrail",
    "guardrail_version": "aws:bedrock/guardrailVersion:GuardrailVersion",
    "invocation_logging": "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration",
    "firehose": "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
    "subscription": "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
    "event_rule": "aws:cloudwatch/eventRule:EventRule",
    "event_target": "aws:cloudwatch/eventTarget:EventTarget",
    "trail": "aws:cloudtrail/trail:Trail",
}

_AUTH = {"AWS_IAM": "IAM auth", "COGNITO_USER_POOLS": "Cognito auth", "CUSTOM": "Lambda authorizer"}
_EVENT_SOURCES = {"aws.guardduty": "GuardDuty findings", "aws.securityhub": "Security Hub findings",
                  "aws.macie": "Macie findings", "aws.inspector2": "Inspector findings"}


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def mermaid(plan: Plan) -> str:
    """The plan as a Mermaid `flowchart` (text ending in a newline)."""
    return _Builder(plan).build().render()


def markdown(plan: Plan) -> str:
    """A one-line caption and the flowchart in a ```mermaid fenced block (renders on GitHub)."""
    graph = _Builder(plan).build()
    return f"{caption(plan, graph)}\n\n```mermaid\n{graph.render()}```\n"


def caption(plan: Plan, graph: Optional["Graph"] = None) -> str:
    graph = graph or _Builder(plan).build()
    regions = sorted({n.region for n in graph.nodes.values() if n.region})
    accounts = {n.account for n in graph.nodes.values() if n.region}  # "" is the deploying account
    where = f"{len(regions)} region{'s' * (len(regions) != 1)}"
    if len(accounts) > 1:
        where += f", {len(accounts)} accounts"
    tier = f", tier {plan.tier}" if plan.tier else ""
    return f"*{plan.stack}{tier}: {where} ({', '.join(regions) or 'none'}); drawn by `blueprint diagram` from the plan.*"


def format_diagram(plan: Plan, fmt: str) -> str:
    if fmt == "mermaid":
        return mermaid(plan)
    if fmt == "markdown":
        return markdown(plan)
    raise ValueError(f"unknown diagram format {fmt!r}: expected {' or '.join(FORMATS)}")


def escape(text: str) -> str:
    """`text` safe inside a quoted Mermaid label or edge label: every character outside a plain
    set (letters, digits, space, and . , : / _ - + = ( ) * @ ') becomes a Mermaid entity code
    (`#34;`), so quotes, brackets, pipes, `#`, `;`, `%` and markup cannot end the label early."""
    return re.sub(r"[^A-Za-z0-9 .,:/_\-+=()*@']", lambda m: f"#{ord(m.group())};", text)


# --------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------


@dataclass
class Node:
    id: str
    label: str
    shape: str = "box"
    region: str = ""  # "" outside every region (client, Route 53, SIEM)
    account: str = ""
    vpc: str = ""  # the VPC subgraph id, "" outside VPCs


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = "-->"  # -->, -.-> (asynchronous: logs, replication), --- (part of)


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    vpc_labels: dict[str, str] = field(default_factory=dict)
    account_names: dict[str, str] = field(default_factory=dict)  # account id -> role (multi-account plans)

    def render(self) -> str:
        lines = ["flowchart LR"]
        outside = [n for n in self.nodes.values() if not n.region]
        lines += [f"  {_node(n)}" for n in outside]
        regions = sorted({n.region for n in self.nodes.values() if n.region})
        accounts = {n.account for n in self.nodes.values() if n.region}
        by_account = len(accounts) > 1
        for region in regions:
            lines.append(f'  subgraph {_ident("region_" + region)}["{escape(region)}"]')
            in_region = [n for n in self.nodes.values() if n.region == region]
            groups = sorted({n.account for n in in_region}) if by_account else [None]
            for account in groups:
                members = [n for n in in_region if account is None or n.account == account]
                indent = "    "
                if account is not None:
                    label = f"account {account}" if account else "deploying account"
                    if self.account_names.get(account):
                        label += f" ({self.account_names[account]})"
                    sub_id = _ident(f"account_{region}_{account or 'deploying'}")
                    lines.append(f'{indent}subgraph {sub_id}["{escape(label)}"]')
                    indent += "  "
                lines += [f"{indent}{_node(n)}" for n in members if not n.vpc]
                for vpc in sorted({n.vpc for n in members if n.vpc}):
                    lines.append(f'{indent}subgraph {vpc}["{escape(self.vpc_labels[vpc])}"]')
                    lines += [f"{indent}  {_node(n)}" for n in members if n.vpc == vpc]
                    lines.append(f"{indent}end")
                if account is not None:
                    lines.append("    end")
            lines.append("  end")
        seen: set[tuple[str, str, str, str]] = set()
        for e in self.edges:
            key = (e.source, e.target, e.label, e.style)
            if key in seen:
                continue
            seen.add(key)
            arrow = e.style if not e.label else f'{e.style}|"{escape(e.label)}"|'
            lines.append(f"  {e.source} {arrow} {e.target}")
        return "\n".join(lines) + "\n"


def _node(n: Node) -> str:
    left, right = SHAPES[n.shape]
    return f'{n.id}{left}"{escape(n.label)}"{right}'


def _ident(text: str) -> str:
    """A Mermaid identifier from any text: letters, digits and underscores, starting with a letter."""
    ident = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return ident if ident and ident[0].isalpha() and ident not in RESERVED_IDS else f"n_{ident}"


# --------------------------------------------------------------------------------------
# Reading the plan
# --------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.by_urn = plan.by_urn()
        self.dependents: dict[str, list[Resource]] = {}
        for r in plan.resources:
            for d in r.dependencies:
                self.dependents.setdefault(d, []).append(r)
        self.graph = Graph(account_names={a: _words(role) for role, a in sorted(plan.accounts.items())})
        self.node_of: dict[str, str] = {}  # resource urn -> node id
        self.used_ids: set[str] = set()
        by_value: dict[tuple[str, str, str], Resource] = {}
        for r in plan.resources:
            for key in ("id", "arn", "bucket", "name", "regionalDomainName"):
                value = r.outputs.get(key)
                if isinstance(value, str) and value:
                    by_value.setdefault((r.type, key, value), r)
        self.by_value = by_value

    # -- lookups -----------------------------------------------------------------------
    def of(self, kind: str) -> list[Resource]:
        return self.plan.of_type(_TYPES[kind])

    def deps(self, r: Resource, kind: str) -> list[Resource]:
        """The resources of `kind` that `r` depends on (its inputs reference them)."""
        found = (self.by_urn.get(u) for u in r.dependencies)
        return [d for d in found if d is not None and d.type == _TYPES[kind]]

    def users(self, r: Resource, kind: str) -> list[Resource]:
        """The resources of `kind` that depend on `r`."""
        return [d for d in self.dependents.get(r.urn, []) if d.type == _TYPES[kind]]

    def find(self, kind: str, key: str, value: Any) -> Optional[Resource]:
        return self.by_value.get((_TYPES[kind], key, value)) if isinstance(value, str) else None

    def account(self, r: Resource) -> str:
        return self.plan.provider_account(r)

    def vpc_of(self, subnet_ids: Any) -> Optional[Resource]:
        for subnet_id in _items(subnet_ids):
            subnet = self.find("subnet", "id", subnet_id)
            vpc = subnet and self.find("vpc", "id", subnet.inputs.get("vpcId"))
            if vpc is not None:
                return vpc
        return None

    # -- nodes -------------------------------------------------------------------------
    def node(self, r: Resource, label: str, shape: str = "box", vpc: Optional[Resource] = None,
             prefix: str = "") -> str:
        if r.urn in self.node_of:
            return self.node_of[r.urn]
        node_id = self._new_id(prefix + r.name)
        self.graph.nodes[node_id] = Node(node_id, label, shape, r.region, self.account(r),
                                         self._vpc_subgraph(vpc) if vpc is not None else "")
        self.node_of[r.urn] = node_id
        return node_id

    def global_node(self, key: str, label: str, shape: str) -> str:
        if key in self.node_of:
            return self.node_of[key]
        node_id = self._new_id(key)
        self.graph.nodes[node_id] = Node(node_id, label, shape)
        self.node_of[key] = node_id
        return node_id

    def group_node(self, key: str, label: str, shape: str, region: str, account: str) -> str:
        if key in self.node_of:
            return self.node_of[key]
        node_id = self._new_id(key)
        self.graph.nodes[node_id] = Node(node_id, label, shape, region, account)
        self.node_of[key] = node_id
        return node_id

    def _new_id(self, text: str) -> str:
        base = _ident(text)
        node_id, n = base, 2
        while node_id in self.used_ids:
            node_id, n = f"{base}_{n}", n + 1
        self.used_ids.add(node_id)
        return node_id

    def _vpc_subgraph(self, vpc: Resource) -> str:
        key = f"vpc:{vpc.urn}"
        if key not in self.node_of:
            self.node_of[key] = self._new_id("vpc_" + vpc.name)
            self.graph.vpc_labels[self.node_of[key]] = self._vpc_label(vpc)
        return self.node_of[key]

    def _vpc_label(self, vpc: Resource) -> str:
        vpc_id = vpc.outputs.get("id")
        subnets = {s.outputs.get("id") for s in self.of("subnet") if s.inputs.get("vpcId") == vpc_id}
        if any(n.inputs.get("subnetId") in subnets for n in self.of("nat")):
            egress = "internet egress through NAT"
        elif any(g.inputs.get("vpcId") == vpc_id for g in self.of("igw")):
            egress = "internet gateway"
        elif any(e.inputs.get("vpcId") == vpc_id for e in self.of("vpc_endpoint")):
            egress = "no internet route, VPC endpoints only"
        else:
            egress = "no internet route"
        return f"VPC {vpc.inputs.get('cidrBlock', '')} ({egress})"

    def edge(self, source: str, target: str, label: str = "", style: str = "-->") -> None:
        self.graph.edges.append(Edge(source, target, label, style))

    # -- what is drawn -----------------------------------------------------------------
    def build(self) -> Graph:
        serving = self._request_paths()
        self._training(exclude=serving)
        self._log_shipping()
        return self.graph

    def _request_paths(self) -> set[str]:
        """Every REST API from the client to its backends; the urns of the serving clusters."""
        serving: set[str] = set()
        entries: dict[str, str] = {}  # rest api urn -> the node a client reaches first
        for api in self.of("rest_api"):
            api_node = self.node(api, self._api_label(api), prefix="api_")
            entry = api_node
            for stage in self.users(api, "stage"):
                for association in self.users(stage, "waf_association"):
                    for acl in self.deps(association, "web_acl"):
                        waf = self.node(acl, f"WAF web ACL ({len(_items(acl.inputs.get('rules')))} rules)", prefix="waf_")
                        self.edge(waf, api_node)
                        entry = waf
            entries[api.urn] = entry
            for integration in self.users(api, "integration"):
                route = self._route(integration)
                for link in self.deps(integration, "vpc_link"):
                    serving |= self._private_backend(api_node, link, route)
                for fn in self.deps(integration, "lambda"):
                    self._lambda_backend(api_node, fn, route)
        self._dns(entries)
        return serving

    def _api_label(self, api: Resource) -> str:
        stages = sorted(str(s.inputs.get("stageName", "")) for s in self.users(api, "stage"))
        auth = sorted({_AUTH.get(str(m.inputs.get("authorization")), "") for m in self.users(api, "method")} - {""})
        details = [f"stage {', '.join(stages)}"] if stages else []
        return f"API Gateway REST API ({', '.join(details + auth)})" if details + auth else "API Gateway REST API"

    def _route(self, integration: Resource) -> str:
        """`POST /predict`: the method and resource path an integration serves."""
        parts: list[str] = []
        resource = self.find("resource", "id", integration.inputs.get("resourceId"))
        while resource is not None and len(parts) < 20:
            parts.insert(0, str(resource.inputs.get("pathPart", "")))
            resource = self.find("resource", "id", resource.inputs.get("parentId"))
        method = str(integration.inputs.get("httpMethod", ""))
        return f"{method} /{'/'.join(parts)}".strip()

    def _private_backend(self, api_node: str, link: Resource, route: str) -> set[str]:
        link_node = self.node(link, "API Gateway VPC link", prefix="link_")
        self.edge(api_node, link_node, route)
        serving: set[str] = set()
        for lb in self.deps(link, "lb"):
            vpc = self.vpc_of(lb.inputs.get("subnets"))
            kind = {"network": "NLB", "application": "ALB"}.get(str(lb.inputs.get("loadBalancerType")), "load balancer")
            lb_node = self.node(lb, f"{kind} ({'internal' if lb.inputs.get('internal') else 'internet-facing'})",
                                vpc=vpc, prefix="lb_")
            self.edge(link_node, lb_node)
            for listener in self.users(lb, "listener"):
                port = f"{listener.inputs.get('protocol', '')} {listener.inputs.get('port', '')}".strip()
                for tg in self.deps(listener, "target_group"):
                    for attachment in self.users(tg, "asg_attachment"):
                        for group in self.deps(attachment, "node_group"):
                            for cluster in self.deps(group, "cluster"):
                                serving.add(cluster.urn)
                                group_node = self._cluster(cluster, [group])[group.urn]
                                self.edge(lb_node, group_node, port)
        return serving

    def _lambda_backend(self, api_node: str, fn: Resource, route: str) -> None:
        parent = self.by_urn.get(fn.parent)
        gateway = parent is not None and parent.type.endswith(":FoundationModelProxy")
        label = "Foundation-model gateway (Lambda)" if gateway else f"Lambda function {fn.inputs.get('name', fn.name)}"
        vpc = self.vpc_of((fn.inputs.get("vpcConfig") or {}).get("subnetIds"))
        fn_node = self.node(fn, label, vpc=vpc, prefix="fn_")
        self.edge(api_node, fn_node, route)
        # The gateway applies a Bedrock guardrail to every call: the edge says so, not the Bedrock
        # node, which training's direct calls through the same region's Bedrock share.
        guarded = any(self.deps(v, "guardrail") for v in self.deps(fn, "guardrail_version")) \
            or bool(self.deps(fn, "guardrail"))
        if gateway or guarded:
            self.edge(fn_node, self._bedrock(fn, vpc), "with guardrail" if guarded else "")

    def _bedrock(self, client: Resource, vpc: Optional[Resource]) -> str:
        """Amazon Bedrock in the client's region and account, reached through the VPC's
        bedrock-runtime interface endpoint where there is one (the node the client calls)."""
        region, account = client.region, self.account(client)
        service = self.group_node(f"bedrock_{region}_{account}", "Amazon Bedrock", "round", region, account)
        endpoint = self._bedrock_endpoint(vpc)
        if endpoint is None:
            return service
        self.edge(endpoint, service)
        return endpoint

    def _bedrock_endpoint(self, vpc: Optional[Resource]) -> Optional[str]:
        if vpc is None:
            return None
        for e in self.of("vpc_endpoint"):
            if e.inputs.get("vpcId") == vpc.outputs.get("id") and str(e.inputs.get("serviceName", "")).endswith(".bedrock-runtime"):
                return self.node(e, "Bedrock runtime VPC endpoint", vpc=vpc, prefix="vpce_")
        return None

    def _dns(self, entries: dict[str, str]) -> None:
        client = self.global_node("client", "Client", "stadium") if entries else ""
        reached: set[str] = set()
        for record in self.of("record"):
            aliases = _items(record.inputs.get("aliases"))
            domain = next((self.find("domain", "regionalDomainName", a.get("name")) for a in aliases
                           if isinstance(a, dict)), None) or next(iter(self.deps(record, "domain")), None)
            if domain is None:
                continue
            apis = [api for m in self.users(domain, "base_path") for api in self.deps(m, "rest_api")]
            policies = _items(record.inputs.get("failoverRoutingPolicies"))
            failover = str(policies[0].get("type", "")).lower() if policies and isinstance(policies[0], dict) else ""
            name = str(record.inputs.get("name", ""))
            dns = self.global_node(f"dns_{name}", f"Route 53 {name}" + (" (failover)" if failover else ""), "hexagon")
            self.edge(client, dns)
            for api in apis:
                if api.urn in entries:
                    self.edge(dns, entries[api.urn], failover)
                    reached.add(api.urn)
        for urn, entry in entries.items():
            if urn not in reached:
                self.edge(client, entry)

    def _cluster(self, cluster: Resource, groups: Iterable[Resource]) -> dict[str, str]:
        """The cluster node and its GPU node groups (in the cluster's VPC); node ids by urn."""
        vpc_config = cluster.inputs.get("vpcConfig") or {}
        vpc = self.vpc_of(vpc_config.get("subnetIds"))
        public = vpc_config.get("endpointPublicAccess")
        endpoint = "public + private endpoint" if public else "private endpoint"
        cluster_node = self.node(cluster, f"EKS cluster {cluster.inputs.get('name', cluster.name)} ({endpoint})",
                                 vpc=vpc, prefix="eks_")
        ids = {cluster.urn: cluster_node}
        for group in groups:
            group_node = self.node(group, _node_group_label(group), vpc=vpc, prefix="ng_")
            self.edge(cluster_node, group_node, style="---")
            ids[group.urn] = group_node
        return ids

    def _training(self, exclude: set[str]) -> None:
        """EKS clusters outside the request path: GPU node groups, Lustre in the same VPC, the
        buckets linked to Lustre and where they replicate."""
        for cluster in self.of("cluster"):
            if cluster.urn in exclude:
                continue
            gpu = [g for g in self.users(cluster, "node_group") if _is_gpu(g)]
            ids = self._cluster(cluster, gpu)
            vpc = self.vpc_of((cluster.inputs.get("vpcConfig") or {}).get("subnetIds"))
            if vpc is None:
                continue
            for fs in self.of("lustre"):
                if self.vpc_of(fs.inputs.get("subnetIds")) is not vpc:
                    continue
                fs_node = self.node(fs, f"FSx for Lustre {fs.inputs.get('storageCapacity', '?')} GiB", "store",
                                    vpc=vpc, prefix="fsx_")
                for group in gpu:
                    self.edge(ids[group.urn], fs_node)
                for dra in self.users(fs, "dra"):
                    path = str(dra.inputs.get("dataRepositoryPath", ""))
                    bucket = self.find("bucket", "bucket", path.removeprefix("s3://").split("/", 1)[0])
                    if bucket is not None:
                        self.edge(fs_node, self._bucket(bucket), str(dra.inputs.get("fileSystemPath", "")), "-.-")
            if self._bedrock_endpoint(vpc) is not None:
                self.edge(ids[cluster.urn], self._bedrock(cluster, vpc))

    def _bucket(self, bucket: Resource, label: str = "", seen: Optional[set[str]] = None) -> str:
        """A bucket node, and the buckets it replicates to (followed transitively)."""
        locked = " (Object Lock)" if bucket.inputs.get("objectLockEnabled") else ""
        node = self.node(bucket, label or f"S3 bucket {bucket.name}{locked}", "store", prefix="s3_")
        seen = seen if seen is not None else set()
        if bucket.urn in seen:
            return node
        seen.add(bucket.urn)
        name = bucket.outputs.get("bucket")
        for config in self.of("replication"):
            if config.inputs.get("bucket") != name:
                continue
            for rule in _items(config.inputs.get("rules")):
                target = self.find("bucket", "arn", ((rule or {}).get("destination") or {}).get("bucket"))
                if target is not None:
                    self.edge(node, self._bucket(target, seen=seen), "replicates", "-.->")
        return node

    def _log_shipping(self) -> None:
        """Per region and account: the log sources -> Kinesis Data Firehose -> the SIEM."""
        groups: dict[tuple[str, str], list[Resource]] = {}
        for stream in self.of("firehose"):
            groups.setdefault((stream.region, self.account(stream)), []).append(stream)
        for (region, account), streams in sorted(groups.items()):
            key = f"{region}_{account or 'deploying'}"
            sources = sorted({s for stream in streams for s in self._sources(stream)})
            count = f"{len(streams)} stream{'s' * (len(streams) != 1)}"
            fh = self.group_node(f"firehose_{key}", f"Kinesis Data Firehose ({count})", "stream", region, account)
            if sources:
                src = self.group_node(f"logs_{key}", "Logs: " + ", ".join(sources), "box", region, account)
                self.edge(src, fh, style="-.->")
            for stream in streams:
                self.edge(fh, self._siem(stream), style="-.->")
                backup = (_siem_config(stream) or {}).get("s3Configuration") or {}
                bucket = self.find("bucket", "arn", backup.get("bucketArn"))
                if bucket is not None:
                    mode = str(_siem_config(stream).get("s3BackupMode", ""))
                    self.edge(fh, self._bucket(bucket), "backup, all events" if mode == "AllEvents" else "failed deliveries",
                              "-.->")

    def _siem(self, stream: Resource) -> str:
        destination = str(stream.inputs.get("destination", ""))
        config = _siem_config(stream) or {}
        if destination == "splunk":
            endpoint = str(config.get("hecEndpoint", ""))
            return self.global_node(f"siem_{endpoint}", f"SIEM: Splunk HEC {endpoint}".strip(), "external")
        if destination == "http_endpoint":
            url = str(config.get("url", ""))
            return self.global_node(f"siem_{url}", f"SIEM: HTTPS endpoint {url}".strip(), "external")
        bucket = self.find("bucket", "arn", config.get("bucketArn"))
        if bucket is not None:
            locked = ", Object Lock" if bucket.inputs.get("objectLockEnabled") else ""
            return self._bucket(bucket, f"SIEM: S3 bucket {bucket.name}{locked}")
        return self.global_node(f"siem_{destination}", f"SIEM ({destination})", "external")

    def _sources(self, stream: Resource) -> set[str]:
        """What ships to `stream`, named by what writes it (CloudTrail, VPC flow logs, ...)."""
        arn = stream.outputs.get("arn")
        found: set[str] = set()
        for sub in self.of("subscription"):
            if sub.inputs.get("destinationArn") == arn:
                found.add(self._log_group_source(str(sub.inputs.get("logGroup", ""))))
        for logging in self.of("waf_logging"):
            if arn in _items(logging.inputs.get("logDestinationConfigs")):
                found.add("WAF")
        for target in self.of("event_target"):
            if target.inputs.get("arn") == arn:
                rule = self.find("event_rule", "name", target.inputs.get("rule"))
                found.add(_event_source(rule))
        return found

    def _log_group_source(self, group: str) -> str:
        def is_group(arn: Any) -> bool:
            return isinstance(arn, str) and (arn.endswith(f":log-group:{group}") or f":log-group:{group}:" in arn)

        if any(is_group(t.inputs.get("cloudWatchLogsGroupArn")) for t in self.of("trail")):
            return "CloudTrail"
        if any(is_group(f.inputs.get("logDestination")) for f in self.of("flow_log")):
            return "VPC flow logs"
        for cluster in self.of("cluster"):
            if group == f"/aws/eks/{cluster.inputs.get('name')}/cluster":
                return "EKS audit" if "audit" in _items(cluster.inputs.get("enabledClusterLogTypes")) else "EKS control plane"
        # A canary's access logs go to the stage's access log group name + "/Canary" (API Gateway
        # developer guide, "Set up an API Gateway canary release deployment").
        stage_group = group.removesuffix("/Canary")
        if any(is_group((s.inputs.get("accessLogSettings") or {}).get("destinationArn"))
               or (s.inputs.get("accessLogSettings") or {}).get("destinationArn", "").endswith(f":log-group:{stage_group}")
               for s in self.of("stage")):
            return "API access"
        for config in self.of("invocation_logging"):
            if ((config.inputs.get("loggingConfig") or {}).get("cloudwatchConfig") or {}).get("logGroupName") == group:
                return "Bedrock invocations"
        return f"log group {group}"


def _siem_config(stream: Resource) -> dict[str, Any]:
    for key in ("splunkConfiguration", "httpEndpointConfiguration", "extendedS3Configuration"):
        if isinstance(stream.inputs.get(key), dict):
            return stream.inputs[key]
    return {}


def _event_source(rule: Optional[Resource]) -> str:
    try:
        pattern = json.loads(str(rule.inputs.get("eventPattern"))) if rule is not None else {}
    except json.JSONDecodeError:
        pattern = {}
    sources = _items(pattern.get("source")) if isinstance(pattern, dict) else []
    return ", ".join(_EVENT_SOURCES.get(s, f"{s} events") for s in sources) or "EventBridge events"


def _is_gpu(group: Resource) -> bool:
    ami = str(group.inputs.get("amiType", ""))
    types = [str(t) for t in _items(group.inputs.get("instanceTypes"))]
    return "NVIDIA" in ami or "NEURON" in ami or any(t.startswith(("p", "g", "trn", "inf")) for t in types)


def _node_group_label(group: Resource) -> str:
    types = ", ".join(str(t) for t in _items(group.inputs.get("instanceTypes")))
    scaling = group.inputs.get("scalingConfig") or {}
    capacity = str(group.inputs.get("capacityType", "")).lower().replace("_", "-")
    size = f"{scaling.get('minSize', '?')}-{scaling.get('maxSize', '?')} nodes"
    kind = "GPU node group" if _is_gpu(group) else "node group"
    return f"{kind} {types}, {size}" + (f", {capacity}" if capacity else "")


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _words(camel: str) -> str:
    """`logArchive` -> `log archive`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: " " + m.group(1).lower(), camel)
