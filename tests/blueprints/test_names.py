"""Every physical name fits AWS's limits, even for the longest blueprint name in the longest
regions. The offline engine autonames like Pulumi (logical name + "-" + 7 hex characters), so
the names checked here are the ones a real `pulumi up` would send."""

from __future__ import annotations

import re

import pytest

from blueprints.context import region_code

LONGEST_NAME = "a23456789012345678901234"  # 24 characters, the spec's maximum

# type -> (property, max length, allowed pattern or None)
LIMITS = {
    "aws:iam/role:Role": ("name", 64, r"^[\w+=,.@-]+$"),
    "aws:iam/policy:Policy": ("name", 128, r"^[\w+=,.@-]+$"),
    "aws:iam/rolePolicy:RolePolicy": ("name", 128, r"^[\w+=,.@-]+$"),
    "aws:lb/loadBalancer:LoadBalancer": ("name", 32, r"^(?!internal-)[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$"),
    "aws:lb/targetGroup:TargetGroup": ("name", 32, r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$"),
    "aws:s3/bucket:Bucket": ("bucket", 63, r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    "aws:lambda/function:Function": ("name", 64, r"^[a-zA-Z0-9_-]+$"),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ("name", 64, r"^[a-zA-Z0-9_.-]+$"),
    "aws:cloudwatch/eventRule:EventRule": ("name", 64, r"^[\.\-_A-Za-z0-9]+$"),
    "aws:eks/nodeGroup:NodeGroup": ("nodeGroupName", 63, r"^[0-9A-Za-z][A-Za-z0-9\-_]*$"),
    "aws:eks/cluster:Cluster": ("name", 100, r"^[0-9A-Za-z][A-Za-z0-9\-_]*$"),
    "aws:sns/topic:Topic": ("name", 256, r"^[A-Za-z0-9_-]+$"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", 512, r"^[\.\-_/#A-Za-z0-9]+$"),
    "aws:wafv2/webAcl:WebAcl": ("name", 128, r"^[\w\-]+$"),
    "aws:route53/healthCheck:HealthCheck": ("referenceName", 38, None),
    "aws:ec2/securityGroup:SecurityGroup": ("name", 255, None),
    "aws:ecr/repository:Repository": ("name", 256, r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"),
    "aws:cognito/userPool:UserPool": ("name", 128, None),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", 255, None),
    "aws:kms/alias:Alias": ("name", 256, r"^alias/(?!aws/)[a-zA-Z0-9/_-]+$"),
    "aws:iam/instanceProfile:InstanceProfile": ("name", 128, r"^[\w+=,.@-]+$"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", 128, r"^[a-zA-Z0-9().\-/_]+$"),
    # Bedrock CreateGuardrail: name 1-50 of [0-9a-zA-Z-_]
    "aws:bedrock/guardrail:Guardrail": ("name", 50, r"^[0-9a-zA-Z-_]+$"),
}
# Security-group and rule descriptions: the characters EC2 accepts.
DESCRIPTION = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{0,255}$")
DESCRIBED = ("aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
             "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")

FOUNDATION_MODELS = {"enabled": True, "models": ["anthropic.claude-haiku-4-5-20251001-v1:0"]}
WORST_CASES = {
    "public": ({"name": LONGEST_NAME, "inference": {"regions": ["ap-southeast-4", "ap-northeast-3"]},
                "foundationModels": FOUNDATION_MODELS}, "ap-southeast-3"),
    "restricted": ({"name": LONGEST_NAME, "inference": {"regions": ["eu-central-2", "eu-south-2"]},
                    "foundationModels": FOUNDATION_MODELS}, "eu-central-2"),
    "internal": ({"name": LONGEST_NAME, "inference": {"regions": ["us-west-2"], "domainName": "api.example.com",
                                                      "hostedZoneId": "Z0123456789ABCDEFGHIJ"}}, "us-east-2"),
}


def test_region_codes_are_short_and_distinct():
    from blueprints.tiers import ALL_REGIONS

    codes = [region_code(r) for r in ALL_REGIONS]
    assert len(set(codes)) == len(codes)
    assert max(len(c) for c in codes) <= 5
    assert region_code("eu-central-1") == "euc1" and region_code("ap-southeast-4") == "apse4"


@pytest.mark.parametrize("tier", sorted(WORST_CASES))
def test_every_physical_name_fits_aws_limits(render, tier):
    changes, region = WORST_CASES[tier]
    plan = render(tier, changes, region=region)
    problems = []
    for r in plan.resources:
        limit = LIMITS.get(r.type)
        if limit is not None:
            prop, max_len, pattern = limit
            value = r.outputs.get(prop, r.inputs.get(prop))
            if isinstance(value, str):
                if len(value) > max_len:
                    problems.append(f"{r.type} {prop}={value!r}: {len(value)} > {max_len}")
                if pattern and not re.match(pattern, value):
                    problems.append(f"{r.type} {prop}={value!r}: does not match {pattern}")
        if r.type in DESCRIBED and not DESCRIPTION.match(str(r.inputs.get("description", ""))):
            problems.append(f"{r.urn}: description {r.inputs.get('description')!r} has characters EC2 rejects")
    assert problems == []


def test_global_names_do_not_collide_across_regions(render):
    """IAM roles and policies are global: two regions must never create the same name."""
    changes, region = WORST_CASES["restricted"]
    plan = render("restricted", changes, region=region)
    for type_ in ("aws:iam/role:Role", "aws:iam/policy:Policy"):
        names = [r.outputs.get("name") for r in plan.of_type(type_)]
        assert len(names) == len(set(names)), type_
