"""Small hand-built plan dicts (the plan JSON shape of DESIGN.md) for rule fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

from policies.model import AWS_PROVIDER_TYPE, STACK_TYPE
from policies.rules._aws import BUCKET

STACK = "test"
PREFIX = f"urn:pulumi:{STACK}::ai-blueprints::"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Ref:
    urn: str
    id: str
    arn: str
    name: str
    type: str


def _arn(type_: str, name: str, region: str) -> str:
    if type_ == "aws:s3/bucket:Bucket":
        return f"arn:aws:s3:::{name}"
    if type_ == "aws:cloudwatch/logGroup:LogGroup":
        return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"
    if type_ == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
        return f"arn:aws:firehose:{region}:{ACCOUNT}:deliverystream/{name}"
    if type_ == "aws:apigateway/stage:Stage":
        return f"arn:aws:apigateway:{region}::/restapis/{name}/stages/{name}"
    module = type_.split(":")[1].split("/")[0]
    return f"arn:aws:{module}:{region}:{ACCOUNT}:{type_.rsplit(':', 1)[-1].lower()}/{name}"


class PlanBuilder:
    def __init__(self, tier: str = "restricted"):
        self.tier = tier
        self.steps: list[dict[str, Any]] = []
        self._providers: dict[str, str] = {}
        self.stack = self._add(STACK_TYPE, f"ai-blueprints-{STACK}", custom=False, parent=None,
                               provider=None, inputs={})

    def provider(self, region: str) -> str:
        if region not in self._providers:
            ref = self._add(AWS_PROVIDER_TYPE, f"aws-{region}", inputs={"region": region}, provider=None)
            self._providers[region] = f"{ref.urn}::{ref.id}"
        return self._providers[region]

    def component(self, type_: str, name: str, parent: Optional[Ref] = None, **opts: Any) -> Ref:
        return self._add(type_, name, inputs={}, custom=False, parent=parent, provider=None, **opts)

    def add(self, type_: str, name: str, inputs: Optional[dict[str, Any]] = None, *, parent: Optional[Ref] = None,
            region: str = "eu-west-1", deps: Sequence[Ref] = (), outputs: Optional[dict[str, Any]] = None,
            protect: bool = False, retain: bool = False, id: Optional[str] = None) -> Ref:
        return self._add(type_, name, inputs=inputs or {}, parent=parent, provider=self.provider(region),
                         region=region, deps=deps, outputs=outputs, protect=protect, retain=retain, id=id)

    def _add(self, type_: str, name: str, *, inputs: dict[str, Any], custom: bool = True, parent: Optional[Ref] = ...,
             provider: Optional[str], region: str = "eu-west-1", deps: Sequence[Ref] = (),
             outputs: Optional[dict[str, Any]] = None, protect: bool = False, retain: bool = False,
             id: Optional[str] = None) -> Ref:
        if parent is ...:
            parent = self.stack
        parent_type = parent.type if parent is not None else ""
        urn = f"{PREFIX}{parent_type + '$' if parent_type else ''}{type_}::{name}"
        rid = id or name
        arn = _arn(type_, name, region) if type_.startswith("aws:") else ""
        state: dict[str, Any] = {"urn": urn, "type": type_, "custom": custom}
        if custom:
            state["id"] = rid
        if parent is not None:
            state["parent"] = parent.urn
        if provider:
            state["provider"] = provider
        state["inputs"] = inputs
        state["outputs"] = {**inputs, **({"id": rid, "arn": arn} if custom and arn else {}), **(outputs or {})}
        state["dependencies"] = [d.urn for d in deps]
        state["protect"] = protect
        if retain:
            state["retainOnDelete"] = True
        step: dict[str, Any] = {"op": "create", "urn": urn, "newState": state}
        if provider:
            step["provider"] = provider
        self.steps.append(step)
        return Ref(urn=urn, id=rid, arn=arn, name=name, type=type_)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "project": "ai-blueprints", "stack": STACK, "tier": self.tier,
                "steps": json.loads(json.dumps(self.steps)), "changeSummary": {"create": len(self.steps)}}


# -- common shapes -----------------------------------------------------------------------------
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1111"

TLS_DENY = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
LOG_DELIVERY = {"Sid": "AllowS3ServerAccessLogDelivery", "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def bucket(b: PlanBuilder, name: str, *, sse: Optional[str] = "aws:kms", key: Union[bool, str] = True, pab: bool = True,
           statements: Sequence[dict] = (TLS_DENY,), versioning: bool = True, logging: bool = True,
           object_lock: Optional[str] = None, ownership: bool = True, parent: Optional[Ref] = None,
           protect: bool = False, retain: bool = False, tags: Optional[dict] = None) -> Ref:
    inputs: dict[str, Any] = {"forceDestroy": False, "tags": tags or {"Name": name}}
    if object_lock:
        inputs["objectLockEnabled"] = True
    bkt = b.add(BUCKET, name, inputs, parent=parent, protect=protect, retain=retain)
    part = dict(parent=parent, deps=[bkt])
    if sse:
        default = {"sseAlgorithm": sse}
        if key and sse != "AES256":
            default["kmsMasterKeyId"] = key if isinstance(key, str) else KEY_ARN
        b.add("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
              f"{name}-encryption", {"bucket": bkt.id, "rules": [{"applyServerSideEncryptionByDefault": default}]}, **part)
    if pab:
        b.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public-access",
              {"bucket": bkt.id, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
               "restrictPublicBuckets": True}, **part)
    if statements:
        b.add("aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy", {"bucket": bkt.id, "policy": policy(*statements)}, **part)
    if versioning:
        b.add("aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning",
              {"bucket": bkt.id, "versioningConfiguration": {"status": "Enabled"}}, **part)
    if logging:
        b.add("aws:s3/bucketLogging:BucketLogging", f"{name}-access-logging",
              {"bucket": bkt.id, "targetBucket": "access-logs", "targetPrefix": f"{name}/"}, **part)
    if object_lock:
        b.add("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", f"{name}-object-lock",
              {"bucket": bkt.id, "objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": object_lock, "days": 365}}}, **part)
    if ownership:
        b.add("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{name}-ownership",
              {"bucket": bkt.id, "rule": {"objectOwnership": "BucketOwnerEnforced"}}, **part)
    return bkt


def access_log_bucket(b: PlanBuilder, name: str, *, sse: str = "AES256") -> Ref:
    return bucket(b, name, sse=sse, key=False, statements=(TLS_DENY, LOG_DELIVERY), logging=False)


def vpc(b: PlanBuilder, name: str, *, parent: Optional[Ref] = None, flow_log: Optional[str] = "ALL",
        default_sg: Optional[dict] = None, zones: Sequence[str] = ("eu-west-1a", "eu-west-1b"),
        region: str = "eu-west-1") -> Ref:
    v = b.add("aws:ec2/vpc:Vpc", f"{name}-vpc", {"cidrBlock": "10.0.0.0/16"}, parent=parent, region=region)
    if default_sg is not None:
        b.add("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", f"{name}-default-sg",
              {"vpcId": v.id, **default_sg}, parent=parent, deps=[v], region=region)
    for i, zone in enumerate(zones):
        b.add("aws:ec2/subnet:Subnet", f"{name}-private-{i}",
              {"vpcId": v.id, "cidrBlock": f"10.0.{i}.0/24", "availabilityZone": zone, "mapPublicIpOnLaunch": False},
              parent=parent, deps=[v], region=region)
    if flow_log:
        b.add("aws:ec2/flowLog:FlowLog", f"{name}-flow-log",
              {"vpcId": v.id, "trafficType": flow_log, "logDestinationType": "cloud-watch-logs",
               "logDestination": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/vpc/flow-logs/{name}"},
              parent=parent, deps=[v], region=region)
    return v


def trail(b: PlanBuilder, name: str = "audit", **inputs: Any) -> Ref:
    base = {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KEY_ARN, "s3BucketName": "audit-bucket"}
    return b.add("aws:cloudtrail/trail:Trail", name, {**base, **inputs})


def add_resource(plan: dict[str, Any], type_: str, name: str, inputs: dict[str, Any], *,
                 region: Optional[str] = None) -> str:
    """Append a resource to a rendered plan dict (as a reviewer editing the plan JSON would):
    under the stack, with the AWS provider of `region` (default: the home region's). Its URN."""
    steps = plan["steps"]
    stack = next(s["urn"] for s in steps if s["newState"]["type"] == "pulumi:pulumi:Stack")
    providers = [s["newState"] for s in steps if s["newState"]["type"] == AWS_PROVIDER_TYPE]
    provider = next((p for p in providers if region is None or p["inputs"].get("region") == region), providers[0])
    ref = f"{provider['urn']}::{provider['id']}"
    urn = f"{stack.split('::pulumi:pulumi:Stack::')[0]}::{type_}::{name}"
    steps.append({"op": "create", "urn": urn, "provider": ref, "newState": {
        "urn": urn, "type": type_, "custom": True, "id": name, "parent": stack, "provider": ref,
        "inputs": inputs, "outputs": dict(inputs), "dependencies": [], "protect": False}})
    return urn
