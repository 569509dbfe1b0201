"""What a change does: the offline diff of two plans, for PR comments and CI (`blueprint diff`).

Resources are matched by URN with the stack-name segment dropped
(`urn:pulumi:<stack>::ai-blueprints::<type>::<name>` is matched on
`ai-blueprints::<type>::<name>`), so both of these are meaningful:

- two renders of one stack before and after a config change, and
- two stacks of the project (`public-example` vs `restricted-example`): a comparison rather
  than a deployment, so when the stacks differ the blueprint's `name` (the `Blueprint` tag,
  which prefixes every logical name) is also replaced by `<blueprint>` in names and values, and
  `docs-assistant-training-vpc` is matched with `fraud-models-training-vpc`. Within one stack
  a renamed blueprint stays a delete plus a create of everything, as `pulumi up` would do it.

What is compared: each resource's inputs, its provider (a region move is a replacement), and
its `protect` / `retainOnDelete` flags. Not compared: outputs, dependencies, and values the
offline engine derives from the stack name (mock ids, ARNs, autonamed physical names,
provider ids). Those differ between two stacks without saying anything about the change, so
for every matched pair of resources whose computed outputs differ, both sides' values are
replaced by the same symbol (`${<logical urn>.<output>}`) wherever other resources' inputs
use them, whole or as a token of a longer string (an ARN, a policy document).

Conventions, so a reader knows what a reported change means:
- list order is significant (a reordered subnet list is a change, as it is for AWS);
  lists of objects of equal length are compared element by element (`rules[2].priority`),
  any other changed list is reported whole (`vpcConfig.publicAccessCidrs`);
- secret values are masked as `[secret]` offline, so a changed secret cannot be seen;
- a changed input is an "update" unless it is in REPLACE_ON_CHANGE (AWS cannot change it
  in place), a REPLACE_ON_DECREASE input goes down, or the resource moves to another
  provider; then it is a "replace".
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from blueprints.plan.engine import Plan, Resource

OPS: tuple[str, ...] = ("create", "update", "replace", "delete")
FORMATS: tuple[str, ...] = ("markdown", "json")

# Inputs AWS (and so the provider) cannot change in place: a change replaces the resource.
# After the provider's ForceNew schema for the types this project uses; a path matches the
# changed key itself or anything below it (`encryptionConfig` covers `encryptionConfig.provider.keyArn`).
REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "pulumi:providers:aws": ("region",),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"),
    "aws:kms/alias:Alias": ("name", "namePrefix"),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "availabilityZoneId", "vpcId"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "description", "vpcId"),
    "aws:ec2/natGateway:NatGateway": ("allocationId", "subnetId", "connectivityType"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcId", "vpcEndpointType"),
    "aws:ec2/route:Route": ("routeTableId", "destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId"),
    "aws:ec2/routeTable:RouteTable": ("vpcId",),
    "aws:ec2/flowLog:FlowLog": ("vpcId", "subnetId", "logDestination", "logDestinationType", "logGroupName",
                                "trafficType", "logFormat", "maxAggregationInterval", "iamRoleArn"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", "namePrefix"),
    "aws:ec2/placementGroup:PlacementGroup": ("name", "strategy", "partitionCount", "spreadLevel"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("securityGroupId",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("securityGroupId",),
    "aws:eks/cluster:Cluster": ("name", "roleArn", "vpcConfig.subnetIds", "vpcConfig.securityGroupIds",
                                "kubernetesNetworkConfig", "encryptionConfig", "bootstrapSelfManagedAddons",
                                "accessConfig.bootstrapClusterCreatorAdminPermissions"),
    "aws:eks/nodeGroup:NodeGroup": ("clusterName", "nodeGroupName", "nodeGroupNamePrefix", "nodeRoleArn", "subnetIds",
                                    "amiType", "capacityType", "diskSize", "instanceTypes", "remoteAccess"),
    "aws:eks/addon:Addon": ("clusterName", "addonName"),
    "aws:fsx/lustreFileSystem:LustreFileSystem": ("deploymentType", "kmsKeyId", "subnetIds", "securityGroupIds",
                                                  "storageType", "fileSystemTypeVersion", "driveCacheType",
                                                  "importPath", "exportPath", "efaEnabled"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:iam/policy:Policy": ("name", "namePrefix", "path", "description"),
    "aws:lb/loadBalancer:LoadBalancer": ("name", "namePrefix", "internal", "loadBalancerType"),
    "aws:lb/targetGroup:TargetGroup": ("name", "namePrefix", "port", "protocol", "vpcId", "targetType"),
    "aws:wafv2/webAcl:WebAcl": ("name", "scope"),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("resourceArn", "webAclArn"),
    "aws:cloudtrail/trail:Trail": ("name",),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ("name", "destination"),
    "aws:lambda/function:Function": ("name",),
    "aws:sns/topic:Topic": ("name", "namePrefix", "fifoTopic"),
    "aws:sqs/queue:Queue": ("name", "namePrefix", "fifoQueue"),
    "aws:ecr/repository:Repository": ("name", "encryptionConfigurations"),
    "aws:route53/healthCheck:HealthCheck": ("type", "requestInterval", "measureLatency"),
    "aws:apigateway/stage:Stage": ("restApi", "stageName"),
    "aws:apigateway/deployment:Deployment": ("restApi", "triggers", "variables"),  # ForceNew in the provider
    "aws:cognito/userPool:UserPool": ("name", "aliasAttributes", "usernameAttributes"),
}
# Inputs AWS can only raise in place: a lower value replaces the resource. FSx for Lustre
# storage capacity can be increased, never decreased ("Increase only", Managing storage capacity,
# https://docs.aws.amazon.com/fsx/latest/LustreGuide/managing-storage-capacity.html).
REPLACE_ON_DECREASE: dict[str, tuple[str, ...]] = {
    "aws:fsx/lustreFileSystem:LustreFileSystem": ("storageCapacity",),
}
PROVIDER_KEY = "provider"  # the changed-key name reported when a resource moves to another provider

# -- what makes a change security-relevant -------------------------------------------------
# An input whose change (anywhere in the path) weakens or strengthens a control.
SENSITIVE_KEYS = frozenset({
    "endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs",
    "kmsKeyId", "kmsKeyArn", "kmsMasterKeyId", "keyArn", "encryptionConfig", "encryptionConfigurations",
    "serverSideEncryption", "sseAlgorithm", "encrypted", "enableKeyRotation", "rotationPeriodInDays",
    "deletionWindowInDays", "retentionInDays", "policy", "assumeRolePolicy", "managedPolicyArns", "policyArn",
    "cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks", "ingress", "blockPublicAcls", "blockPublicPolicy",
    "ignorePublicAcls", "restrictPublicBuckets", "mapPublicIpOnLaunch", "objectLockEnabled",
    "objectLockConfiguration", "versioningConfiguration", "enableLogFileValidation", "isMultiRegionTrail",
    "enabledClusterLogTypes", "authenticationMode", "authorization", "authorizationType", "apiKeyRequired",
    "webAclArn", "defaultAction", "privateDnsEnabled", "internal", "loggingConfiguration", "accessLogSettings",
})
# Types that are security controls: changing, replacing or deleting one is relevant.
CONTROL_TYPE_PREFIXES: tuple[str, ...] = (
    "aws:kms/", "aws:cloudtrail/", "aws:guardduty/", "aws:securityhub/", "aws:macie2/", "aws:wafv2/",
    "aws:ec2/flowLog:", "aws:s3/bucketPublicAccessBlock:", "aws:s3/bucketServerSideEncryptionConfiguration:",
    "aws:s3/bucketObjectLockConfiguration:", "aws:s3/bucketPolicy:", "aws:s3/bucketLogging:",
    "aws:s3/bucketVersioning:", "aws:cloudwatch/logGroup:", "aws:accessanalyzer/", "aws:cfg/",
    "aws:cloudwatch/logSubscriptionFilter:", "aws:kinesis/firehoseDeliveryStream:",
)
# Types that open a path to or from the internet: creating one is relevant.
EXPOSURE_TYPES: dict[str, str] = {
    "aws:ec2/internetGateway:InternetGateway": "an internet gateway",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": "an egress-only internet gateway",
    "aws:ec2/natGateway:NatGateway": "a NAT gateway (internet egress)",
    "aws:ec2/eip:Eip": "a public Elastic IP",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "a VPC peering connection",
    "aws:lambda/functionUrl:FunctionUrl": "a Lambda function URL",
}
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
# Inputs whose value of 0.0.0.0/0 lets the internet in; paths through `egress` are outbound only.
INGRESS_CIDR_KEYS = frozenset({"cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks", "publicAccessCidrs"})
# Input values that loosen a control when a resource is created with them.
LOOSE_ON_CREATE: dict[str, Any] = {
    "blockPublicAcls": False, "blockPublicPolicy": False, "ignorePublicAcls": False, "restrictPublicBuckets": False,
    "mapPublicIpOnLaunch": True, "internal": False, "enableKeyRotation": False, "authorization": "NONE",
    "authorizationType": "NONE", "apiKeyRequired": False, "enableLogFileValidation": False,
}


@dataclass
class ResourceChange:
    """One resource's change. `before`/`after` hold the values of `changed_keys` (None where
    the key is absent), for display; `replace_keys` is the subset that forces replacement."""

    op: str  # create | update | replace | delete
    urn: str  # the head plan's URN (the base plan's for a delete)
    type: str
    name: str
    changed_keys: list[str] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    replace_keys: list[str] = field(default_factory=list)
    protect: Optional[tuple[bool, bool]] = None  # (before, after) when the flag changes
    retain_on_delete: Optional[tuple[bool, bool]] = None  # (before, after) when the flag changes
    security: list[str] = field(default_factory=list)  # why the change is security-relevant

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op, "urn": self.urn, "type": self.type, "name": self.name,
            "changedKeys": list(self.changed_keys), "replaceKeys": list(self.replace_keys),
            "before": {k: _sorted(self.before[k]) for k in self.changed_keys if k in self.before},
            "after": {k: _sorted(self.after[k]) for k in self.changed_keys if k in self.after},
            "protect": _flag_dict(self.protect), "retainOnDelete": _flag_dict(self.retain_on_delete),
            "security": list(self.security),
        }


@dataclass
class PlanDiff:
    base_stack: str
    head_stack: str
    changes: list[ResourceChange]
    unchanged: int = 0  # resources present in both plans with nothing to do

    def summary(self) -> dict[str, int]:
        counts = {op: 0 for op in OPS}
        for c in self.changes:
            counts[c.op] += 1
        return {"create": counts["create"], "update": counts["update"], "replace": counts["replace"],
                "delete": counts["delete"], "same": self.unchanged}

    def of_op(self, op: str) -> list[ResourceChange]:
        return [c for c in self.changes if c.op == op]

    @property
    def security_relevant(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.security]

    def to_dict(self) -> dict[str, Any]:
        return {"baseStack": self.base_stack, "headStack": self.head_stack, "summary": self.summary(),
                "securityRelevant": len(self.security_relevant),
                "changes": [c.to_dict() for c in self.changes]}


# -----------------------------------------------------------------------------------------
# Diffing
# -----------------------------------------------------------------------------------------

_URN_STACK = re.compile(r"urn:pulumi:[^:]*::")
_MISSING = object()


BLUEPRINT = "<blueprint>"  # what a blueprint name becomes when two different stacks are compared


def logical_urn(urn: str, blueprint: str = "") -> str:
    """A URN without its stack segment; the stack resource itself (named after the stack) is
    just its type. With `blueprint`, that name prefix of the resource name becomes <blueprint>."""
    key = _URN_STACK.sub("", urn, count=1)
    prefix, _, name = key.rpartition("::")
    if prefix.endswith("::pulumi:pulumi:Stack") or prefix == "pulumi:pulumi:Stack":
        return "pulumi:pulumi:Stack"
    if blueprint and (name == blueprint or name.startswith(blueprint + "-")):
        return f"{prefix}::{BLUEPRINT}{name[len(blueprint):]}"
    return key


def blueprint_name(plan: Plan) -> str:
    """The blueprint name of a plan: the `Blueprint` tag most of its resources carry."""
    counts = Counter(r.inputs["tags"].get("Blueprint") for r in plan.resources
                     if isinstance(r.inputs.get("tags"), dict) and r.inputs["tags"].get("Blueprint"))
    return counts.most_common(1)[0][0] if counts else ""


def diff_plans(base: Plan, head: Plan) -> PlanDiff:
    """The changes that take `base` to `head` (see the module docstring for the rules)."""
    base_name = head_name = ""
    if base.stack != head.stack:
        base_name, head_name = blueprint_name(base), blueprint_name(head)
        if base_name == head_name:
            base_name = head_name = ""
    base_by = {logical_urn(r.urn, base_name): r for r in base.resources}
    head_by = {logical_urn(r.urn, head_name): r for r in head.resources}
    base_norm, head_norm = _normalisers(base_by, head_by, base_name, head_name)
    changes: list[ResourceChange] = []
    unchanged = 0
    for key, new in head_by.items():
        old = base_by.get(key)
        if old is None:
            change = ResourceChange(op="create", urn=new.urn, type=new.type, name=new.name)
        else:
            change = _compare(old, new, base_norm, head_norm)
            if change is None:
                unchanged += 1
                continue
        change.security = _security_reasons(change, old, new)
        changes.append(change)
    for key, old in base_by.items():
        if key not in head_by:
            change = ResourceChange(op="delete", urn=old.urn, type=old.type, name=old.name)
            change.security = _security_reasons(change, old, None)
            changes.append(change)
    return PlanDiff(base_stack=base.stack, head_stack=head.stack, changes=changes, unchanged=unchanged)


def _compare(old: Resource, new: Resource, base_norm: Callable[[Any], Any],
             head_norm: Callable[[Any], Any]) -> Optional[ResourceChange]:
    changed = _changed_paths(base_norm(old.inputs), head_norm(new.inputs), "")
    keys = [path for path, _, _ in changed]
    before = {path: a for path, a, _ in changed}
    after = {path: b for path, _, b in changed}
    forced = REPLACE_ON_CHANGE.get(new.type, ())
    replace_keys = [k for k in keys if any(_under(k, prop) for prop in forced)
                    or (k in REPLACE_ON_DECREASE.get(new.type, ()) and _decreased(before[k], after[k]))]
    old_provider, new_provider = base_norm(_provider_urn(old)), head_norm(_provider_urn(new))
    if old_provider != new_provider:
        keys.append(PROVIDER_KEY)
        replace_keys.append(PROVIDER_KEY)
        before[PROVIDER_KEY], after[PROVIDER_KEY] = old_provider or None, new_provider or None
    protect = (old.protect, new.protect) if old.protect != new.protect else None
    retain = (old.retain_on_delete, new.retain_on_delete) if old.retain_on_delete != new.retain_on_delete else None
    if not keys and protect is None and retain is None:
        return None
    return ResourceChange(
        op="replace" if replace_keys else "update", urn=new.urn, type=new.type, name=new.name,
        changed_keys=keys, before=before, after=after, replace_keys=replace_keys,
        protect=protect, retain_on_delete=retain,
    )


def _decreased(before: Any, after: Any) -> bool:
    return isinstance(before, (int, float)) and isinstance(after, (int, float)) and after < before


def _provider_urn(r: Resource) -> str:
    return logical_urn(r.provider.rsplit("::", 1)[0]) if r.provider else ""


def _under(path: str, prop: str) -> bool:
    return path == prop or path.startswith((prop + ".", prop + "["))


def _changed_paths(a: Any, b: Any, path: str) -> list[tuple[str, Any, Any]]:
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple[str, Any, Any]] = []
        for k in sorted(set(a) | set(b)):
            out += _changed_paths(a.get(k, _MISSING), b.get(k, _MISSING), f"{path}.{k}" if path else k)
        return out
    nested = isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and any(
        isinstance(v, (dict, list)) for v in a + b)
    if nested:
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _changed_paths(x, y, f"{path}[{i}]")
        return out
    return [(path, None if a is _MISSING else a, None if b is _MISSING else b)]


def _normalisers(base_by: dict[str, Resource], head_by: dict[str, Resource], base_name: str,
                 head_name: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Functions that rewrite engine-derived values (ids, ARNs, autonames) of matched
    resources to shared symbols, URNs to their logical form, and (between two stacks) the
    blueprint name to <blueprint>, on each side.

    A derived value gets a symbol only when it differs between the two sides after the
    blueprint rename, is derived by no other resource on its side (so shared facts such as the
    region or account id are never rewritten) and is not one of the resource's own inputs (an
    id that is just the given name differs only when the name does, and that shows as an input)."""
    rename_base, rename_head = _renamer(base_name), _renamer(head_name)
    base_map: dict[str, str] = {}
    head_map: dict[str, str] = {}
    base_derived = {key: _derived(r) for key, r in base_by.items()}
    head_derived = {key: _derived(r) for key, r in head_by.items()}
    base_unique, head_unique = _unique_values(base_derived.values()), _unique_values(head_derived.values())
    for key, derived_new in head_derived.items():
        derived_old = base_derived.get(key)
        if derived_old is None:
            continue
        for out_key, new_value in derived_new.items():
            old_value = derived_old.get(out_key)
            if (old_value is not None and rename_base(old_value) != rename_head(new_value)
                    and old_value in base_unique and new_value in head_unique):
                symbol = f"${{{key}.{out_key}}}"
                base_map.setdefault(old_value, symbol)
                head_map.setdefault(new_value, symbol)
    return _normaliser(base_map, rename_base), _normaliser(head_map, rename_head)


def _renamer(blueprint: str) -> Callable[[str], str]:
    if not blueprint:
        return lambda text: text
    pattern = re.compile(rf"(?<![a-z0-9]){re.escape(blueprint)}(?![a-z0-9])")
    return lambda text: pattern.sub(BLUEPRINT, text)


def _unique_values(derived: Iterable[dict[str, str]]) -> set[str]:
    """Derived values only one resource has."""
    counts = Counter(v for values in derived for v in set(values.values()))
    return {v for v, n in counts.items() if n == 1}


def _derived(r: Resource) -> dict[str, str]:
    """String values the engine computed for a resource: its id and the outputs that are
    neither inputs nor equal to an input value."""
    given = set(_strings(r.inputs))
    out = {k: v for k, v in r.outputs.items()
           if isinstance(v, str) and v and not k.startswith("__") and k not in r.inputs and v not in given}
    if r.id and r.id not in given:
        out["id"] = r.id
    return out


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


_DELIMITERS = re.compile(r"""([\s"'/:,;=*{}()\[\]]+)""")  # what separates ids inside ARNs and policy JSON


def _normaliser(symbols: dict[str, str], rename: Callable[[str], str]) -> Callable[[Any], Any]:
    def norm(value: Any) -> Any:
        if isinstance(value, str):
            if value in symbols:
                return symbols[value]
            if "urn:pulumi:" in value:
                value = _URN_STACK.sub("urn:pulumi:*::", value)
            if symbols:
                parts = _DELIMITERS.split(value)  # text, delimiter, text, ...
                value = "".join(symbols.get(part, part) if i % 2 == 0 else part for i, part in enumerate(parts))
            return rename(value)
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [norm(v) for v in value]
        return value

    return norm


# -----------------------------------------------------------------------------------------
# Security relevance
# -----------------------------------------------------------------------------------------


def _segments(path: str) -> list[str]:
    return [s for s in re.split(r"[.\[\]]", path) if s and not s.isdigit()]


def _open_cidr_paths(value: Any, path: str = "") -> list[str]:
    """Paths under `value` that admit the whole internet (ingress CIDR keys set to 0.0.0.0/0)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if k != "egress"
                for p in _open_cidr_paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _open_cidr_paths(v, f"{path}[{i}]")]
    if isinstance(value, str) and value in OPEN_CIDRS and (_segments(path) or [""])[-1] in INGRESS_CIDR_KEYS:
        return [path]
    return []


def _security_reasons(change: ResourceChange, old: Optional[Resource], new: Optional[Resource]) -> list[str]:
    reasons: list[str] = []
    control = change.type.startswith(CONTROL_TYPE_PREFIXES)
    if change.op == "create" and new is not None:
        if change.type in EXPOSURE_TYPES:
            reasons.append(f"creates {EXPOSURE_TYPES[change.type]}")
        if change.type == "aws:ec2/route:Route" and new.inputs.get("destinationCidrBlock") in OPEN_CIDRS and (
                new.inputs.get("gatewayId") or new.inputs.get("natGatewayId")):
            reasons.append("adds a default route to the internet")
        if change.type != "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
            reasons += [f"{p} admits the whole internet" for p in _open_cidr_paths(new.inputs)]
        if _get(new.inputs, "vpcConfig.endpointPublicAccess"):
            allow = _get(new.inputs, "vpcConfig.publicAccessCidrs")
            reasons.append(f"the EKS API endpoint is public (allowlist: {_show(allow) if allow else '0.0.0.0/0 by default'})")
        reasons += [f"created with {key} = {_show(value)}" for key, value in LOOSE_ON_CREATE.items()
                    if type(new.inputs.get(key)) is type(value) and new.inputs[key] == value]
    elif change.op == "delete" and old is not None:
        if control:
            reasons.append(f"deletes a security control ({change.type})")
        if old.protect:
            reasons.append("deletes a protected resource: `pulumi up` refuses until it is unprotected")
        elif old.retain_on_delete:
            reasons.append("deleted from the stack but retained in the account (retainOnDelete)")
    else:
        sensitive = [k for k in change.changed_keys if SENSITIVE_KEYS.intersection(_segments(k))]
        other = [k for k in change.changed_keys if k not in sensitive and _segments(k)[0] not in ("tags", "tagsAll")]
        if control and change.op == "replace":
            reasons.append(f"recreates a security control (forced by {', '.join(change.replace_keys)})")
        elif control and other:
            reasons.append(f"changes a security control: {', '.join(other)}")
        for key in sensitive:
            reasons.append(f"{key}: {show_change(change.before.get(key), change.after.get(key), arrow='->')}")
        for key in change.changed_keys:
            after = change.after.get(key)
            if key != PROVIDER_KEY and _open_cidr_paths(after, key) and not _open_cidr_paths(change.before.get(key), key):
                reasons.append(f"{key} now admits the whole internet")
    if change.protect is not None:
        reasons.append("protect " + ("removed" if change.protect[0] else "added"))
    if change.retain_on_delete is not None:
        reasons.append("retainOnDelete " + ("removed" if change.retain_on_delete[0] else "added"))
    return reasons


def _get(value: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


# -----------------------------------------------------------------------------------------
# Formatting
# -----------------------------------------------------------------------------------------

_SIGN = {"create": "+", "update": "~", "replace": "±", "delete": "-"}
_DETAILS_OVER = 20  # tables longer than this fold into <details>
_SECTION_BUDGET = 11_000  # characters per section: five sections stay under GitHub's 65,536 limit


def format_diff(d: PlanDiff, fmt: str) -> str:
    """`markdown` (a PR comment) or `json` (machine-readable, stable key order)."""
    if fmt == "json":
        return json.dumps(d.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _markdown(d)
    raise ValueError(f"unknown diff format {fmt!r}; use one of: {', '.join(FORMATS)}")


def summary_line(d: PlanDiff) -> str:
    s = d.summary()
    return "**" + ", ".join(f"{_SIGN[op]}{s[op]} to {op}" for op in OPS) + "**"


def _markdown(d: PlanDiff) -> str:
    title = f"### `blueprint diff`: `{d.base_stack}` → `{d.head_stack}`"
    if not d.changes:
        return f"{title}\n\n**No changes.** {d.unchanged} resources are the same in both plans.\n"
    lines = [title, "", f"{summary_line(d)} ({d.unchanged} unchanged)", ""]
    risky = d.security_relevant
    lines += ["#### Security-relevant changes", ""]
    if risky:
        lines += _within_budget([f"- **{c.op}** `{c.type}` {_md(c.name)}: " + "; ".join(_md(r) for r in c.security)
                                 for c in risky])
    else:
        lines.append("None: no change touches a security control, an encryption or access setting, or exposure.")
    lines.append("")
    for op in OPS:
        changes = d.of_op(op)
        if not changes:
            continue
        heading = f"#### To {op} ({len(changes)})"
        if op in ("create", "delete"):
            table = ["| type | name |", "|---|---|"] + _within_budget(
                [f"| `{c.type}` | {_md(c.name)} |" for c in changes], columns=2)
        else:
            header = "changed keys" + (" (**bold** forces replacement)" if op == "replace" else "")
            table = [f"| type | name | {header} |", "|---|---|---|"] + _within_budget(
                [f"| `{c.type}` | {_md(c.name)} | {_keys_cell(c)} |" for c in changes], columns=3)
        if len(changes) > _DETAILS_OVER:
            lines += [f"<details><summary>{heading[5:]}</summary>", "", *table, "", "</details>", ""]
        else:
            lines += [heading, "", *table, ""]
    return "\n".join(lines)


def _within_budget(entries: list[str], columns: int = 0) -> list[str]:
    """The entries (list items, or table rows of `columns` cells) that fit one section's share
    of a PR comment, then a line saying how many were left out (GitHub rejects comments over
    65,536 characters)."""
    kept: list[str] = []
    used = 0
    for entry in entries:
        if used + len(entry) > _SECTION_BUDGET:
            more = f"… {len(entries) - len(kept)} more, left out to fit a PR comment: `blueprint diff --format json` lists all"
            return kept + [f"| {more} |" + " |" * (columns - 1) if columns else f"- {more}"]
        kept.append(entry)
        used += len(entry) + 1
    return kept


def _keys_cell(c: ResourceChange) -> str:
    parts = []
    for key in c.changed_keys:
        label = f"**`{key}`**" if key in c.replace_keys else f"`{key}`"
        parts.append(f"{label}: {_md(show_change(c.before.get(key), c.after.get(key)))}")
    if c.protect is not None:
        parts.append(f"`protect`: {str(c.protect[0]).lower()} → {str(c.protect[1]).lower()}")
    if c.retain_on_delete is not None:
        parts.append(f"`retainOnDelete`: {str(c.retain_on_delete[0]).lower()} → {str(c.retain_on_delete[1]).lower()}")
    return "<br>".join(parts)


def _show(value: Any, limit: int = 60) -> str:
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(text) <= limit:
        return text
    size = f"({len(value)} items) " if isinstance(value, list) else ""  # long lists that differ in length
    return size + text[: limit - 1] + "…"


def show_change(before: Any, after: Any, *, arrow: str = "→", limit: int = 60) -> str:
    """`before → after` of one changed value, showing the part that changed: two JSON documents
    in strings (a policy, an access-log format) as the paths that differ inside them, and other
    long strings as a window around their first difference on each side, so that a change deep
    in a long value never shows as two identical-looking prefixes."""
    if isinstance(before, str) and isinstance(after, str):
        inner_before, inner_after = _json_document(before), _json_document(after)
        if inner_before is not None and inner_after is not None:
            inner = _changed_paths(inner_before, inner_after, "")
            shown = [f"{path or '(document)'}: {_show(a, limit)} {arrow} {_show(b, limit)}" for path, a, b in inner[:5]]
            more = f"; {len(inner) - 5} more" if len(inner) > 5 else ""
            return "JSON " + "; ".join(shown) + more
        if max(len(before), len(after)) + 2 > limit:
            start = max(0, _first_difference(before, after) - limit // 3)
            return f"{_window(before, start, limit)} {arrow} {_window(after, start, limit)}"
    return f"{_show(before, limit)} {arrow} {_show(after, limit)}"


def _json_document(text: str) -> Any:
    """The object or array a string holds as JSON, else None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _window(text: str, start: int, limit: int) -> str:
    """`limit` characters of `text` from `start`, quoted, with … where it was cut."""
    end = start + limit
    return '"' + ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "") + '"'


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _flag_dict(flag: Optional[tuple[bool, bool]]) -> Optional[dict[str, bool]]:
    return None if flag is None else {"before": flag[0], "after": flag[1]}

