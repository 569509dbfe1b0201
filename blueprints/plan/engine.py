"""The offline engine: runs the same program as `pulumi up` under in-process mocks.

It reads a stack file the way the Pulumi CLI does (config namespaces, `secure:` values), hands
that config to the Pulumi runtime, runs the program (`blueprints.program.main`) against a
recording mock monitor, and returns a Plan: every registered resource with its type, urn,
parent, provider, inputs (camelCase, as the engine sees them), dependencies, protect and
retainOnDelete, a deterministic mock id and outputs. Plans serialise to the JSON shape of
`pulumi preview --json` (DESIGN.md). Same input, byte-identical output.

Invokes are answered realistically per region: availability zones, caller identity,
partition, region, SSM parameters (EKS-optimised AMI ids). An invoke the engine cannot answer
is an error, not a silent empty answer.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import hashlib
import heapq
import json
import os
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

ACCOUNT_ID = "123456789012"  # the deploying identity's account, where no provider assumes a role
DEPLOYER_ROLE = "ci"
PROJECT = "ai-blueprints"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's marker for unknown values
SECRET_TEXT = "[secret]"

# Signatures of special values on the wire (pulumi/sdk/go/common/resource/properties.go).
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
_OUTPUT_SIG = "d0e6a833031e9bbcedd7e3a8ab78ad3f"


class StackFileError(Exception):
    """The stack file cannot be read: missing, not YAML, or not a Pulumi stack file."""


class EngineError(Exception):
    """The program failed under the offline engine (a defect, not a config problem)."""


# --------------------------------------------------------------------------------------
# Stack files
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackFile:
    path: Path
    stack: str
    config: dict[str, Any]  # full keys (`aws:region`), values as written (objects kept)

    def runtime_config(self) -> tuple[dict[str, str], list[str]]:
        """Config as the Pulumi CLI hands it to a program: strings, objects as JSON, secure
        values replaced by SECRET_TEXT (there is no key to decrypt them offline) and their
        keys listed as secret."""
        values: dict[str, str] = {}
        secret_keys: list[str] = []
        for key, value in self.config.items():
            has_secret, plain = _strip_secure(value)
            values[key] = plain if isinstance(plain, str) else json.dumps(plain)
            if has_secret:
                secret_keys.append(key)
        return values, secret_keys


def _strip_secure(value: Any) -> tuple[bool, Any]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return True, SECRET_TEXT
        found, out = False, {}
        for k, v in value.items():
            s, out[k] = _strip_secure(v)
            found = found or s
        return found, out
    if isinstance(value, list):
        pairs = [_strip_secure(v) for v in value]
        return any(s for s, _ in pairs), [v for _, v in pairs]
    return False, value


def load_stack_file(path: str | os.PathLike[str]) -> StackFile:
    p = Path(path)
    if not p.is_file():
        raise StackFileError(f"{p}: no such stack file; list them with `ls stacks/` or create one with `blueprint new`")
    name = p.name
    if not (name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))) or name.count(".") < 2:
        raise StackFileError(f"{p}: a stack file is named Pulumi.<stack>.yaml")
    stack = name[len("Pulumi."):].rsplit(".", 1)[0]
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StackFileError(f"{p}:{where}: not valid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{p}: not a UTF-8 text file") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise StackFileError(f"{p}: expected a mapping with a `config:` key at the top level")
    unknown = sorted(set(doc) - {"config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"})
    if unknown:
        raise StackFileError(f"{p}: unknown top-level key(s) {', '.join(unknown)}; stack settings go under `config:`")
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{p}: `config:` must be a mapping of keys such as aws:region")
    full: dict[str, Any] = {}
    for key, value in config.items():
        key = str(key)
        full[key if ":" in key else f"{PROJECT}:{key}"] = value
    return StackFile(path=p, stack=stack, config=full)


# --------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str  # "urn::id", or "" for components and the stack
    inputs: dict[str, Any]
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    ignore_changes: list[str] = field(default_factory=list)  # the ignore_changes resource option
    custom_timeouts: dict[str, str] = field(default_factory=dict)  # create/update/delete, where set

    @property
    def region(self) -> str:
        return str(self.outputs.get("__region", ""))


@dataclass
class Plan:
    stack: str
    tier: str
    resources: list[Resource]  # in step order
    accounts: dict[str, str] = field(default_factory=dict)  # spec `accounts`: role -> account id (multi-account)
    organization: str = ""  # spec `accounts.organization`: the organisation policies may admit

    # -- queries used by the CLI, rules and tests ------------------------------------
    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    def children(self, urn: str) -> list[Resource]:
        return [r for r in self.resources if r.parent == urn]

    def descendants(self, urn: str) -> list[Resource]:
        out, frontier = [], [urn]
        while frontier:
            current = frontier.pop()
            for r in self.resources:
                if r.parent == current:
                    out.append(r)
                    frontier.append(r.urn)
        return out

    def provider_region(self, resource: Resource) -> str:
        return resource.region

    def provider_account(self, resource: Resource) -> str:
        """The account `resource` is created in: the one its provider assumes a role in ("" the
        deploying account). Providers are recorded as "urn::id" on each resource."""
        if not resource.provider:
            return ""
        accounts = self.__dict__.setdefault("_provider_accounts", {})
        if not accounts:
            for p in self.resources:
                if p.type.startswith("pulumi:providers:"):
                    assumed = _assumed_role(p.inputs)
                    accounts[f"{p.urn}::{p.id}"] = assumed[0] if assumed else ""
        return accounts.get(resource.provider, "")

    def count_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r.type] = counts.get(r.type, 0) + 1
        return dict(sorted(counts.items()))

    # -- JSON ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        steps = []
        for r in self.resources:
            state: dict[str, Any] = {"urn": r.urn, "type": r.type, "custom": r.custom}
            if r.custom:
                state["id"] = r.id
            if r.parent:
                state["parent"] = r.parent
            if r.provider:
                state["provider"] = r.provider
            state["inputs"] = r.inputs
            state["outputs"] = {k: v for k, v in r.outputs.items() if not k.startswith("__")}
            state["dependencies"] = r.dependencies
            state["protect"] = r.protect
            if r.retain_on_delete:
                state["retainOnDelete"] = True
            step: dict[str, Any] = {"op": "create", "urn": r.urn}
            if r.provider:
                step["provider"] = r.provider
            step["newState"] = state
            steps.append(step)
        return {
            "version": 1,
            "project": PROJECT,
            "stack": self.stack,
            "tier": self.tier,
            **({"accounts": self.accounts} if self.accounts else {}),
            **({"organization": self.organization} if self.organization else {}),
            "steps": steps,
            "changeSummary": {"create": len(steps)},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Plan":
        resources = []
        for step in doc["steps"]:
            s = step["newState"]
            outputs = dict(s.get("outputs", {}))
            resources.append(
                Resource(
                    urn=s["urn"], type=s["type"], name=s["urn"].rsplit("::", 1)[-1],
                    custom=bool(s.get("custom")), parent=s.get("parent", ""),
                    provider=s.get("provider", ""), inputs=s.get("inputs", {}),
                    dependencies=list(s.get("dependencies", [])), protect=bool(s.get("protect")),
                    retain_on_delete=bool(s.get("retainOnDelete")), id=s.get("id", ""),
                    outputs=outputs,
                )
            )
        plan = cls(stack=doc["stack"], tier=doc.get("tier", ""), resources=resources,
                   accounts=dict(doc.get("accounts") or {}), organization=str(doc.get("organization") or ""))
        _assign_regions(plan, default_region=None)
        return plan


def load_plan_file(path: str | os.PathLike[str]) -> Plan:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(f"{p}: no such plan file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{p}: not a plan JSON file ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or "stack" not in doc:
        raise StackFileError(f"{p}: not a plan JSON file (expected `stack` and `steps`, as `blueprint plan --json` writes)")
    try:
        return Plan.from_dict(doc)
    except (KeyError, TypeError) as exc:
        raise StackFileError(f"{p}: malformed plan step ({exc}); regenerate it with `blueprint plan --json`") from None


def _assign_regions(plan: Plan, default_region: Optional[str]) -> None:
    """Region of each resource: its provider's region; a provider's own `region` input; for a
    component, the one region all its resources share (none when they span regions)."""
    provider_regions: dict[str, str] = {}
    for r in plan.resources:
        if r.type == "pulumi:providers:aws":
            region = str(r.inputs.get("region") or default_region or "")
            provider_regions[f"{r.urn}::{r.id}"] = region
            r.outputs["__region"] = region
    by_urn = plan.by_urn()
    for r in plan.resources:
        if "__region" not in r.outputs and r.custom:
            region = provider_regions.get(r.provider, "")
            parent = by_urn.get(r.parent)
            while not region and parent is not None:
                region = provider_regions.get(parent.provider, "")
                parent = by_urn.get(parent.parent)
            r.outputs["__region"] = region
    # A non-AWS provider (a regional cluster's Kubernetes provider) and its resources belong to
    # the region of the AWS resources that share the provider's parent component.
    foreign = {f"{r.urn}::{r.id}": r for r in plan.resources
               if r.type.startswith("pulumi:providers:") and r.type != "pulumi:providers:aws"}
    for ref, provider in foreign.items():
        regions = {d.outputs.get("__region", "") for d in plan.descendants(provider.parent)
                   if d.custom and d.provider not in foreign and d.urn != provider.urn} if provider.parent else set()
        if len(regions) == 1 and (region := regions.pop()):
            for r in plan.resources:
                if r is provider or r.provider == ref:
                    r.outputs["__region"] = region
    for r in plan.resources:
        if not r.custom and "__region" not in r.outputs:
            regions = {d.outputs.get("__region", "") for d in plan.descendants(r.urn) if d.custom}
            r.outputs["__region"] = regions.pop() if len(regions) == 1 else ""


# --------------------------------------------------------------------------------------
# Wire values -> plain JSON
# --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A deserialised protobuf Struct value as plain, deterministic JSON."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return SECRET_TEXT
        if sig == _RESOURCE_SIG:
            return value.get("urn", "")
        if sig == _OUTPUT_SIG:
            if value.get("secret"):
                return SECRET_TEXT
            return _plain(value["value"]) if "value" in value else UNKNOWN
        if sig in (_ASSET_SIG, _ARCHIVE_SIG):
            return _asset_descriptor(value)
        return {k: _plain(v) for k, v in sorted(value.items())}
    return value


def _asset_descriptor(value: dict[str, Any]) -> dict[str, Any]:
    kind = "asset" if value.get(_SIG) == _ASSET_SIG else "archive"
    if "path" in value:
        return {kind: {"hash": _hash_path(Path(value["path"])), "path": os.path.relpath(value["path"])}}
    if "text" in value:
        return {kind: {"hash": hashlib.sha256(value["text"].encode()).hexdigest()}}
    if "assets" in value:
        members = {k: _asset_descriptor(v) for k, v in sorted(value["assets"].items())}
        digest = hashlib.sha256(json.dumps(members, sort_keys=True).encode()).hexdigest()
        return {kind: {"hash": digest, "assets": sorted(members)}}
    return {kind: {"uri": value.get("uri", "")}}


def _hash_path(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for f in files:
        digest.update(str(f.relative_to(path) if f != path else f.name).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Mock answers: ids, ARNs, outputs, invokes
# --------------------------------------------------------------------------------------


def _h(*parts: str, n: int = 17) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:n]


# Physical id prefixes AWS uses, by type.
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-", "aws:ec2/subnet:Subnet": "subnet-", "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg-",
    "aws:ec2/internetGateway:InternetGateway": "igw-", "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-", "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-", "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-", "aws:ec2/placementGroup:PlacementGroup": "pg-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-", "aws:ec2/route:Route": "r-rtb-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:fsx/lustreFileSystem:LustreFileSystem": "fs-", "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation": "dra-",
    "aws:wafv2/webAcl:WebAcl": "", "aws:apigateway/restApi:RestApi": "", "aws:route53/healthCheck:HealthCheck": "",
    "aws:guardduty/detector:Detector": "",
}

# (service, resource path template) for ARNs; {n} is the physical name, {i} the id.
_ARN = {
    "aws:s3/bucket:Bucket": ("s3", "{n}", False),
    "aws:kms/key:Key": ("kms", "key/{i}", True),
    "aws:kms/alias:Alias": ("kms", "{n}", True),
    "aws:iam/role:Role": ("iam", "role/{n}", "global"),
    "aws:iam/policy:Policy": ("iam", "policy/{n}", "global"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("iam", "oidc-provider/{n}", "global"),
    "aws:iam/instanceProfile:InstanceProfile": ("iam", "instance-profile/{n}", "global"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:{n}", True),
    "aws:sns/topic:Topic": ("sns", "{n}", True),
    "aws:sqs/queue:Queue": ("sqs", "{n}", True),
    "aws:lambda/function:Function": ("lambda", "function:{n}", True),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ("firehose", "deliverystream/{n}", True),
    "aws:eks/cluster:Cluster": ("eks", "cluster/{n}", True),
    "aws:eks/nodeGroup:NodeGroup": ("eks", "nodegroup/{n}", True),
    "aws:ecr/repository:Repository": ("ecr", "repository/{n}", True),
    "aws:cloudtrail/trail:Trail": ("cloudtrail", "trail/{n}", True),
    "aws:wafv2/webAcl:WebAcl": ("wafv2", "regional/webacl/{n}/{i}", True),
    "aws:lb/loadBalancer:LoadBalancer": ("elasticloadbalancing", "loadbalancer/net/{n}/{i}", True),
    "aws:lb/targetGroup:TargetGroup": ("elasticloadbalancing", "targetgroup/{n}/{i}", True),
    "aws:apigateway/restApi:RestApi": ("apigateway", "/restapis/{i}", "noaccount"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "alarm:{n}", True),
    "aws:cloudwatch/eventRule:EventRule": ("events", "rule/{n}", True),
    "aws:acm/certificate:Certificate": ("acm", "certificate/{i}", True),
    "aws:cognito/userPool:UserPool": ("cognito-idp", "userpool/{i}", True),
    "aws:ec2/vpc:Vpc": ("ec2", "vpc/{i}", True),
    "aws:ec2/subnet:Subnet": ("ec2", "subnet/{i}", True),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2", "security-group/{i}", True),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2", "launch-template/{i}", True),
    "aws:ec2/placementGroup:PlacementGroup": ("ec2", "placement-group/{n}", True),
    "aws:fsx/lustreFileSystem:LustreFileSystem": ("fsx", "file-system/{i}", True),
}

# The property AWS autonames when the program leaves it out (Pulumi adds a random suffix).
_AUTONAME_PROPERTY = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:lb/loadBalancer:LoadBalancer": "name",
    "aws:lb/targetGroup:TargetGroup": "name",
    "aws:eks/nodeGroup:NodeGroup": "nodeGroupName",
    "aws:ec2/launchTemplate:LaunchTemplate": "name",
    "aws:ec2/placementGroup:PlacementGroup": "name",
}
_NAMELESS_PREFIXES = ("aws:ec2/", "aws:vpc/", "aws:s3/bucket", "pulumi:providers:", "kubernetes:")


class RecordingMocks:
    """pulumi.runtime.Mocks that answer like AWS would, deterministically."""

    def __init__(self, default_region: str, stack: str):
        self.default_region = default_region
        self.stack = stack
        self.provider_regions: dict[str, str] = {}  # provider ref "urn::id" -> region
        self.provider_accounts: dict[str, tuple[str, str]] = {}  # provider ref -> (account, deploy role name)
        self.lock = threading.Lock()

    # -- regions ---------------------------------------------------------------------
    def region_of(self, provider_ref: str) -> str:
        if provider_ref:
            with self.lock:
                region = self.provider_regions.get(provider_ref)
            if region:
                return region
        return self.default_region

    def account_of(self, provider_ref: str) -> tuple[str, str]:
        """(account id, role name) a provider acts as: the role it assumes, else the deploying
        identity (ACCOUNT_ID, role `ci`)."""
        with self.lock:
            return self.provider_accounts.get(provider_ref or "", (ACCOUNT_ID, DEPLOYER_ROLE))

    # -- resources -------------------------------------------------------------------
    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        urn_hint = f"{typ}::{name}"
        if typ.startswith("pulumi:providers:"):
            region = str(inputs.get("region") or self.default_region)
            provider_id = _uuid(self.stack, urn_hint)
            return provider_id, {**inputs, "__region": region}
        region = str(inputs.get("region") or self.region_of(args.provider or ""))
        account, _ = self.account_of(args.provider or "")
        if not args.custom:
            return "", {}
        outputs = dict(inputs)
        physical = self._physical_name(typ, name, inputs)
        prop = _AUTONAME_PROPERTY.get(typ)
        if prop and prop not in outputs:
            outputs[prop] = physical
        elif not typ.startswith(_NAMELESS_PREFIXES) and "name" not in outputs:
            outputs["name"] = physical
        resource_id = self._id(typ, name, physical, region)
        outputs.update(self._computed(typ, name, physical, resource_id, region, outputs, account))
        outputs["__region"] = region
        if typ.startswith("aws:"):
            outputs.setdefault("region", region)  # pulumi-aws 7 reports each resource's region
        return resource_id, outputs

    def _physical_name(self, typ: str, name: str, inputs: dict[str, Any]) -> str:
        prop = _AUTONAME_PROPERTY.get(typ, "name")
        given = inputs.get(prop)
        if isinstance(given, str) and given:
            return given
        prefix = inputs.get(f"{prop}Prefix")
        base = prefix if isinstance(prefix, str) and prefix else f"{name}-"
        return f"{base}{_h(self.stack, typ, name, n=7)}"

    def _id(self, typ: str, name: str, physical: str, region: str) -> str:
        if typ == "aws:s3/bucket:Bucket" or typ.startswith(("aws:iam/", "aws:cloudwatch/logGroup", "aws:eks/cluster")):
            return physical
        if typ.startswith("kubernetes:"):
            return physical
        if typ == "aws:kms/key:Key":
            return _uuid(self.stack, typ, name, region)
        prefix = _ID_PREFIX.get(typ)
        if prefix is None:
            return f"{name}-{_h(self.stack, typ, name, region, n=8)}"
        return prefix + _h(self.stack, typ, name, region)

    def _computed(self, typ: str, name: str, physical: str, rid: str, region: str, outputs: dict[str, Any],
                  account: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if typ == "aws:kms/key:Key":
            rid = _uuid(self.stack, typ, name, region)
            out["keyId"] = rid
        spec = _ARN.get(typ)
        if spec is not None:
            service, template, scope = spec
            path = template.format(n=physical, i=rid)
            if scope == "global":
                out["arn"] = f"arn:aws:{service}::{account}:{path}"
            elif scope == "noaccount":
                out["arn"] = f"arn:aws:{service}:{region}::{path}"
            elif scope is False:
                out["arn"] = f"arn:aws:{service}:::{path}"
            else:
                out["arn"] = f"arn:aws:{service}:{region}:{account}:{path}"
        elif typ.startswith("aws:"):
            module = typ.split(":")[1].split("/")[0]
            out["arn"] = f"arn:aws:{module}:{region}:{account}:{typ.rsplit(':', 1)[-1].lower()}/{rid}"
        if typ == "aws:s3/bucket:Bucket":
            out.update(
                bucketDomainName=f"{physical}.s3.amazonaws.com",
                bucketRegionalDomainName=f"{physical}.s3.{region}.amazonaws.com",
                hostedZoneId="Z1BKCTXD74EZPE",
            )
        elif typ == "aws:ec2/vpc:Vpc":
            out.update(defaultSecurityGroupId="sg-" + _h(rid, "default"), mainRouteTableId="rtb-" + _h(rid, "main"),
                       defaultNetworkAclId="acl-" + _h(rid, "acl"), ownerId=account)
        elif typ == "aws:ecr/repository:Repository":
            out.update(repositoryUrl=f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}", registryId=account)
        elif typ == "aws:fsx/lustreFileSystem:LustreFileSystem":
            out.update(dnsName=f"{rid}.fsx.{region}.amazonaws.com", mountName=_h(rid, "mount", n=8),
                       ownerId=account, networkInterfaceIds=["eni-" + _h(rid, "eni")])
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            out.update(latestVersion=1, defaultVersion=1)
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            out.update(prefixListId="pl-" + _h(rid, n=8), ownerId=account)
        elif typ == "aws:eks/cluster:Cluster":
            issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{_h(rid, n=32).upper()}"
            out.update(
                endpoint=f"https://{_h(rid, n=32).upper()}.gr7.{region}.eks.amazonaws.com",
                certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
                identities=[{"oidcs": [{"issuer": issuer}]}],
                platformVersion="eks.1", status="ACTIVE",
                vpcConfig={**(outputs.get("vpcConfig") or {}), "clusterSecurityGroupId": "sg-" + _h(rid, "cluster")},
            )
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            out.update(dnsName=f"{physical}-{_h(rid, n=16)}.elb.{region}.amazonaws.com", zoneId="Z2IFOLAFXWLO4F",
                       arnSuffix=f"net/{physical}/{rid}")
        elif typ == "aws:apigateway/restApi:RestApi":
            out.update(rootResourceId=_h(rid, "root", n=10), executionArn=f"arn:aws:execute-api:{region}:{account}:{rid}")
        elif typ == "aws:apigateway/stage:Stage":
            rest = outputs.get("restApi", "")
            out.update(invokeUrl=f"https://{rest}.execute-api.{region}.amazonaws.com/{outputs.get('stageName', '')}",
                       executionArn=f"arn:aws:execute-api:{region}:{account}:{rest}/{outputs.get('stageName', '')}",
                       arn=f"arn:aws:apigateway:{region}::/restapis/{rest}/stages/{outputs.get('stageName', '')}")
        elif typ == "aws:acm/certificate:Certificate":
            domain = outputs.get("domainName", "example.com")
            out["domainValidationOptions"] = [{"domainName": domain, "resourceRecordName": f"_{_h(rid, n=32)}.{domain}.",
                                               "resourceRecordType": "CNAME", "resourceRecordValue": f"_{_h(rid, 'v', n=32)}.acm-validations.aws."}]
        elif typ == "aws:lambda/function:Function":
            out.update(invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:{physical}/invocations",
                       qualifiedArn=f"arn:aws:lambda:{region}:{account}:function:{physical}:$LATEST", version="$LATEST")
        elif typ == "aws:cognito/userPool:UserPool":
            out["endpoint"] = f"cognito-idp.{region}.amazonaws.com/{region}_{_h(rid, n=9)}"
        elif typ == "aws:route53/zone:Zone":
            out["zoneId"] = "Z" + _h(rid, n=13).upper()
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            # EKS names the managed node group's Auto Scaling group eks-<node group>-<uuid>.
            out["resources"] = [{"autoscalingGroups": [{"name": f"eks-{physical}-{_uuid(rid, 'asg')}"}],
                                 "remoteAccessSecurityGroupId": ""}]
        elif typ == "aws:lb/targetGroup:TargetGroup":
            out["arnSuffix"] = f"targetgroup/{physical}/{rid}"
        elif typ == "aws:apigateway/domainName:DomainName":
            out.update(regionalDomainName=f"d-{_h(rid, n=10)}.execute-api.{region}.amazonaws.com",
                       regionalZoneId="Z" + _h(region, "apigw", n=13).upper())
        elif typ == "aws:route53/record:Record":
            out["fqdn"] = str(outputs.get("name", "")).rstrip(".")
        elif typ == "aws:bedrock/guardrail:Guardrail":
            guardrail_id = _h(self.stack, typ, name, region, n=12)
            out.update(guardrailId=guardrail_id, guardrailArn=f"arn:aws:bedrock:{region}:{account}:guardrail/{guardrail_id}",
                       version="DRAFT", status="READY")
        elif typ == "aws:bedrock/guardrailVersion:GuardrailVersion":
            out["version"] = "1"  # the first published version of a new guardrail
        return out

    # -- invokes ---------------------------------------------------------------------
    def call(self, args: Any) -> dict[str, Any]:
        token, inputs = args.token, dict(args.args)
        region = str(inputs.get("region") or self.region_of(args.provider or ""))
        account, role = self.account_of(args.provider or "")
        answer = self._answers(account, role).get(token)
        if answer is None:
            raise EngineError(f"the offline engine has no answer for invoke {token}; add one to blueprints/plan/engine.py")
        return answer(region, inputs)

    def _answers(self, account: str, role: str) -> dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]]:
        """Invokes answered as the provider's identity: `role` in `account` (an assumed deploy
        role, or the deploying identity)."""
        return {
            "aws:index/getAvailabilityZones:getAvailabilityZones": _azs,
            "aws:index/getCallerIdentity:getCallerIdentity": lambda r, a: {
                "accountId": account, "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session",
                "userId": "AROA3EXAMPLEEXAMPLE:session", "id": account},
            "aws:index/getPartition:getPartition": lambda r, a: {
                "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"},
            "aws:index/getRegion:getRegion": lambda r, a: {
                "name": r, "region": r, "endpoint": f"ec2.{r}.amazonaws.com", "description": r, "id": r},
            "aws:ssm/getParameter:getParameter": _ssm_parameter,
            "aws:eks/getClusterAuth:getClusterAuth": lambda r, a: {
                "id": a.get("name", ""), "name": a.get("name", ""),
                "token": "k8s-aws-v1." + _h(account, role, str(a.get("name", "")), n=32)},
            "aws:iam/getSessionContext:getSessionContext": lambda r, a: {
                "arn": a.get("arn", ""), "id": a.get("arn", ""), "issuerArn": f"arn:aws:iam::{account}:role/{role}",
                "issuerId": "AROA3EXAMPLEEXAMPLE", "issuerName": role, "sessionName": "session"},
        }


def _assumed_role(provider_inputs: dict[str, Any]) -> Optional[tuple[str, str]]:
    """(account, role name) of the first role an AWS provider assumes (`assumeRoles[0].roleArn`,
    arn:<partition>:iam::<account>:role/<name>), or None."""
    roles = provider_inputs.get("assumeRoles") or []
    if isinstance(roles, str):  # provider inputs of object type arrive JSON-encoded
        roles = json.loads(roles)
    arn = roles[0].get("roleArn") if roles and isinstance(roles[0], dict) else None
    if not isinstance(arn, str) or arn.count(":") < 5:
        return None
    return arn.split(":")[4], arn.rsplit("/", 1)[-1]


def _azs(region: str, args: dict[str, Any]) -> dict[str, Any]:
    letters = "abc" if region not in ("us-east-1",) else "abcdef"
    return {
        "id": region, "names": [f"{region}{c}" for c in letters], "state": "available",
        "zoneIds": [f"{region[:2]}{region.split('-')[1][:1]}{region[-1]}-az{i + 1}" for i in range(len(letters))],
        "groupNames": [region] * len(letters),
    }


def _ssm_parameter(region: str, args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("name", ""))
    value = "ami-" + _h(region, name)
    return {"id": name, "name": name, "type": "String", "value": value, "insecureValue": value, "version": 1,
            "arn": f"arn:aws:ssm:{region}::parameter{name if name.startswith('/') else '/' + name}"}


def _uuid(*parts: str) -> str:
    h = _h(*parts, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# --------------------------------------------------------------------------------------
# Running a program
# --------------------------------------------------------------------------------------

_RUN_LOCK = threading.Lock()


def _default_provider_versions() -> dict[str, str]:
    versions = {}
    for package, dist in (("aws", "pulumi_aws"), ("kubernetes", "pulumi_kubernetes"), ("archive", "pulumi_archive")):
        try:
            versions[package] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


# The cyclic garbage collector's first threshold while a program runs. A render allocates
# millions of short-lived objects (outputs, futures, asyncio handles) that reference counting
# frees; at CPython's default (700) the collector runs tens of thousands of times over them and
# over every object the SDK imports, about a third of a render's time. Freezing what exists
# before the render (the imported SDK) and collecting every 100,000 allocations instead cuts
# that to a few percent, for at most that many objects' worth of cycles held a little longer.
RENDER_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(RENDER_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()  # what was frozen may be collected again, like everything the render left


def run_program(
    program: Callable[[], None],
    *,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    tier: str = "",
    accounts: Optional[dict[str, str]] = None,
    organization: Optional[str] = None,
) -> Plan:
    """Run `program` under the recording mocks and return what it registered."""
    # The SDK's settings are context variables, given their first values when the module is
    # imported: import it here, in the caller's context, so that a run (in a context of its own)
    # leaves the caller with no engine at all, as before it, however it started.
    from pulumi.runtime import settings  # noqa: F401

    with _RUN_LOCK, _fewer_collections():
        ctx = contextvars.Context()
        plan = ctx.run(_run, program, stack, config, secret_keys, tier)
    plan.accounts = dict(accounts or {})
    plan.organization = organization or ""
    return plan


def _run(program: Callable[[], None], stack: str, config: dict[str, str], secret_keys: list[str], tier: str) -> Plan:
    import pulumi
    from pulumi.runtime import mocks as pmocks
    from pulumi.runtime import settings as psettings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    default_region = config.get("aws:region", "us-east-1")
    mocks = RecordingMocks(default_region, stack)
    records: dict[str, dict[str, Any]] = {}
    records_lock = threading.Lock()

    class _Mocks(pmocks.Mocks):
        def new_resource(self, args):  # type: ignore[override]
            return mocks.new_resource(args)

        def call(self, args):  # type: ignore[override]
            return mocks.call(args)

    class _Monitor(pmocks.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 (gRPC name)
            response = super().RegisterResource(request)
            rec = registration_record(request, response)
            if request.type != "pulumi:pulumi:Stack":
                registration = self.resources.get(response.urn)
                rec["state"] = registration.state if registration else {}
            if request.type.startswith("pulumi:providers:"):
                assumed = _assumed_role(rec["inputs"])
                with mocks.lock:
                    mocks.provider_regions[f"{response.urn}::{response.id}"] = str(
                        rec["inputs"].get("region") or default_region)
                    if assumed is not None:
                        mocks.provider_accounts[f"{response.urn}::{response.id}"] = assumed
            with records_lock:
                if response.urn in records:
                    raise EngineError(f"duplicate resource URN {response.urn}: two resources share a name")
                records[response.urn] = rec
            return response

    monitor = _Monitor(_Mocks())
    psettings.ROOT.set(None)
    pmocks.set_mocks(_Mocks(), project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))

    # A program that fails while a deferred output is unresolved would leave the run waiting on
    # it forever: track the resolvers, and settle the open ones before the failure propagates.
    resolvers: list[Callable[[Any], None]] = []
    real_deferred = pulumi.deferred_output

    def tracked_deferred() -> Any:
        output, resolve = real_deferred()
        resolvers.append(resolve)
        return output, resolve

    def _program() -> None:
        try:
            program()
        except BaseException:
            for resolve in resolvers:
                try:
                    resolve(pulumi.Output.from_input(""))
                except Exception:  # already resolved
                    pass
            raise

    # The SDK walks the Python stack at every registration to send the engine a source position
    # (for `pulumi up`'s diagnostics). The mocks drop it and the plan has no place for it; skipping
    # the walk renders the same plan about a tenth faster.
    from pulumi.runtime import resource as presource
    from pulumi.runtime.proto import source_pb2

    real_stack_trace = presource._get_stack_trace
    presource._get_stack_trace = source_pb2.StackTrace
    pulumi.deferred_output = tracked_deferred
    try:
        _sync_await(run_pulumi_func(_program))
    finally:
        pulumi.deferred_output = real_deferred
        presource._get_stack_trace = real_stack_trace
        pulumi.runtime.set_all_config({}, [])
    return assemble(records, stack, tier, default_region)


def registration_record(request: Any, response: Any) -> dict[str, Any]:
    """What the plan keeps of one RegisterResource call (request and the engine's response), the
    way `pulumi preview --json` reports it: inputs camelCase and plain, as the engine saw them."""
    from google.protobuf import json_format

    raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
    return {
        "urn": response.urn, "type": request.type, "name": request.name,
        "custom": bool(request.custom), "parent": request.parent, "provider": request.provider,
        "inputs": _plain(raw), "dependencies": sorted(set(request.dependencies)),
        "protect": bool(request.protect) if request.HasField("protect") else False,
        "retain_on_delete": bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
        "id": response.id,
        "ignore_changes": list(request.ignoreChanges),
        "custom_timeouts": {k: v for k, v in (("create", request.customTimeouts.create),
                                              ("update", request.customTimeouts.update),
                                              ("delete", request.customTimeouts.delete)) if v},
    }


def assemble(records: dict[str, dict[str, Any]], stack: str, tier: str, default_region: str) -> Plan:
    """The Plan of a set of registration records (registration_record), in step order."""
    versions = _default_provider_versions()
    resources: dict[str, Resource] = {}
    default_providers: dict[str, Resource] = {}
    for urn, rec in records.items():
        provider = rec["provider"]
        if rec["custom"] and not provider and not rec["type"].startswith("pulumi:providers:"):
            package = rec["type"].split(":")[0]
            version = versions.get(package, "0.0.0").replace(".", "_")
            purn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:{package}::default_{version}"
            if purn not in default_providers:
                pid = _uuid(stack, purn)
                inputs = {"region": default_region, "version": versions.get(package, "")} if package == "aws" else {
                    "version": versions.get(package, "")}
                default_providers[purn] = Resource(
                    urn=purn, type=f"pulumi:providers:{package}", name=f"default_{version}", custom=True, parent="",
                    provider="", inputs=inputs, dependencies=[], protect=False, retain_on_delete=False, id=pid,
                    outputs={**inputs, "__region": default_region if package == "aws" else ""},
                )
            provider = f"{purn}::{default_providers[purn].id}"
        state = rec.get("state") or {}
        outputs = {}
        if rec["custom"]:
            if rec["type"].startswith("pulumi:providers:"):
                outputs = {**rec["inputs"], "__region": state.get("__region", default_region)}
            else:
                outputs = {**_with_computed(rec["inputs"], _plain(_json_safe(state))), "id": rec["id"]}
        resources[urn] = Resource(
            urn=urn, type=rec["type"], name=rec["name"], custom=rec["custom"], parent=rec["parent"],
            provider=provider, inputs=rec["inputs"], dependencies=rec["dependencies"], protect=rec["protect"],
            retain_on_delete=rec["retain_on_delete"], id=rec["id"] if rec["custom"] else "", outputs=outputs,
            ignore_changes=rec["ignore_changes"], custom_timeouts=rec["custom_timeouts"],
        )
    for purn, res in default_providers.items():
        resources[purn] = res
    ordered = _topological(resources)
    plan = Plan(stack=stack, tier=tier, resources=ordered)
    _assign_regions(plan, default_region)
    return plan


def _with_computed(inputs: Any, state: Any) -> Any:
    """Outputs: the inputs as recorded (secrets masked), plus what the provider computes, down
    to nested objects (an EKS cluster's vpcConfig.clusterSecurityGroupId)."""
    if isinstance(inputs, dict) and isinstance(state, dict):
        merged = {k: _with_computed(v, state.get(k)) for k, v in inputs.items()}
        merged.update({k: v for k, v in state.items() if k not in inputs})
        return merged
    return inputs


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _topological(resources: dict[str, Resource]) -> list[Resource]:
    """Steps in dependency order (parents, providers and dependencies first); ties by URN,
    so the order never depends on the order the SDK happened to register in."""
    edges: dict[str, set[str]] = {u: set() for u in resources}
    indegree = {u: 0 for u in resources}
    for urn, r in resources.items():
        before = set(r.dependencies)
        if r.parent:
            before.add(r.parent)
        if r.provider:
            before.add(r.provider.rsplit("::", 1)[0])
        for b in before:
            if b in resources and b != urn and urn not in edges[b]:
                edges[b].add(urn)
                indegree[urn] += 1
    heap = [u for u, d in indegree.items() if d == 0]
    heapq.heapify(heap)
    out: list[Resource] = []
    while heap:
        u = heapq.heappop(heap)
        out.append(resources[u])
        for v in edges[u]:
            indegree[v] -= 1
            if indegree[v] == 0:
                heapq.heappush(heap, v)
    if len(out) != len(resources):  # a cycle cannot come from a Pulumi program; keep all anyway
        seen = {r.urn for r in out}
        out += [resources[u] for u in sorted(resources) if u not in seen]
    return out


def render_stack(stack_file: StackFile, program: Optional[Callable[[], None]] = None) -> Plan:
    """Validate the stack's spec (raising SpecError before anything is registered), then run
    the program offline and return its plan."""
    from blueprints.program import load_spec, main

    config, secret_keys = stack_file.runtime_config()
    spec = load_spec(config, secret_keys, offline=True)  # raises SpecError: nothing registered yet
    return run_program(program or main, stack=stack_file.stack, config=config, secret_keys=secret_keys,
                       tier=spec.model.tier, accounts=spec.accounts_by_role,
                       organization=spec.organization)
