"""Security monitoring per tier, on the example stacks: the audit trail, SIEM streams to the
spec's destination, a subscription filter per shipped source, WAF logging, the immutable
archive, GuardDuty and Security Hub."""

from __future__ import annotations

import json
import re

import pytest

from blueprints.engine import load_stack_file
from blueprints.tiers import get_tier
from tests.conftest import EXAMPLES, STACKS

TRAIL = "aws:cloudtrail/trail:Trail"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
FILTER = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
EXPECTED_DESTINATION = {"public": "extended_s3", "internal": "http_endpoint", "confidential": "splunk",
                        "restricted": "splunk"}
CONFIG_KEY = {"splunk": "splunkConfiguration", "http_endpoint": "httpEndpointConfiguration",
              "extended_s3": "extendedS3Configuration"}
# Which log groups carry which SIEM source, by the names their components give them.
SOURCE_OF_GROUP = (
    (re.compile(r"^/aws/cloudtrail/"), "cloudtrail"),
    (re.compile(r"^/aws/vpc/flow-logs/"), "vpc-flow"),
    (re.compile(r"^/aws/eks/[^/]+/cluster$"), "eks-audit"),
    (re.compile(r"^/aws/apigateway/.+/access(/Canary)?$"), "api-access"),  # the stage's, its canary's
)


def source_groups(plan) -> dict[str, tuple[str, str]]:
    """Log group name -> (source kind, region) for every SIEM-source log group in the plan."""
    out = {}
    for group in plan.of_type(LOG_GROUP):
        for pattern, kind in SOURCE_OF_GROUP:
            if pattern.match(group.inputs["name"]):
                out[group.inputs["name"]] = (kind, plan.provider_region(group))
    return out


def siem_streams(plan) -> list:
    return [s for s in plan.of_type(STREAM) if not s.inputs["name"].startswith("aws-waf-logs-")]


def archives(plan) -> dict:
    return {plan.provider_region(b): b for b in plan.of_type("aws:s3/bucket:Bucket") if "-siem-archive-" in b.name}


@pytest.mark.parametrize("tier", EXAMPLES)
def test_one_multi_region_validated_trail_in_the_home_region(example_plan, tier):
    plan = example_plan(tier)
    (trail,) = plan.of_type(TRAIL)
    home = load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml").config["aws:region"]
    assert trail.inputs["isMultiRegionTrail"] and trail.inputs["includeGlobalServiceEvents"]
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["cloudWatchLogsGroupArn"].endswith(":*")
    assert ("kmsKeyId" in trail.inputs) == get_tier(tier).cmk
    assert plan.provider_region(trail) == home == trail.outputs["arn"].split(":")[3]


@pytest.mark.parametrize("tier", EXAMPLES)
def test_data_events_on_training_and_model_buckets_from_confidential_up(example_plan, tier):
    plan = example_plan(tier)
    (trail,) = plan.of_type(TRAIL)
    buckets = {b.name.rsplit("-", 1)[-1]: b.outputs["arn"] for b in plan.of_type("aws:s3/bucket:Bucket")
               if b.name.endswith(("-training-data", "-models"))}
    selectors = trail.inputs.get("advancedEventSelectors")
    if tier in ("confidential", "restricted"):
        fields = {f["field"]: f for s in selectors for f in s["fieldSelectors"] if s["name"].startswith("Object")}
        assert sorted(fields["resources.ARN"]["startsWiths"]) == sorted(a + "/" for a in buckets.values())
        assert len(buckets) == 2
    else:
        assert selectors is None


@pytest.mark.parametrize("tier", EXAMPLES)
def test_streams_go_to_the_spec_destination_encrypted(example_plan, tier):
    plan = example_plan(tier)
    streams = plan.of_type(STREAM)
    assert streams
    for stream in streams:
        assert stream.inputs["destination"] == EXPECTED_DESTINATION[tier]
        sse = stream.inputs["serverSideEncryption"]
        assert sse["enabled"] is True
        assert sse["keyType"] == ("CUSTOMER_MANAGED_CMK" if get_tier(tier).cmk else "AWS_OWNED_CMK")
        config = stream.inputs[CONFIG_KEY[EXPECTED_DESTINATION[tier]]]
        if "hecToken" in config or "accessKey" in config:
            assert config.get("hecToken", config.get("accessKey")) == "[secret]"


@pytest.mark.parametrize("tier", EXAMPLES)
def test_a_subscription_filter_per_shipped_source_and_none_for_the_rest(example_plan, tier):
    plan = example_plan(tier)
    groups = source_groups(plan)
    shipped = {name for name, (kind, _) in groups.items() if get_tier(tier).ships(kind)}
    filters = plan.of_type(FILTER)
    assert sorted(f.inputs["logGroup"] for f in filters) == sorted(shipped)
    streams = {s.outputs["arn"]: s for s in siem_streams(plan)}
    for f in filters:
        stream = streams[f.inputs["destinationArn"]]
        assert plan.provider_region(f) == plan.provider_region(stream) == groups[f.inputs["logGroup"]][1]
        assert f.inputs["filterPattern"] == ""
    kinds = {groups[g][0] for g in shipped}
    assert kinds == set(get_tier(tier).siem_sources) - {"waf"}, "every non-WAF source the tier lists is shipped"


@pytest.mark.parametrize("tier", EXAMPLES)
def test_transform_knows_the_source_of_every_subscribed_group(example_plan, tier):
    plan = example_plan(tier)
    groups = source_groups(plan)
    for function in plan.of_type("aws:lambda/function:Function"):
        if not function.name.endswith("-transform"):
            continue
        env = function.inputs["environment"]["variables"]
        mapping = json.loads(env["SOURCE_MAP"])
        region = plan.provider_region(function)
        assert mapping == {g: kind for g, (kind, r) in groups.items() if r == region and get_tier(tier).ships(kind)}
        assert env["CLASSIFICATION"] == tier and "TIER" not in env


def test_prediction_audit_api_access_logs_are_shipped_in_every_inference_region(example_plan):
    plan = example_plan("restricted")
    access = {name: region for name, (kind, region) in source_groups(plan).items() if kind == "api-access"}
    # Per region the stage's access log group and its canary's (`.../access/Canary`).
    assert sorted(access.values()) == ["eu-central-1", "eu-central-1", "eu-west-1", "eu-west-1"]
    subscribed = {f.inputs["logGroup"] for f in plan.of_type(FILTER)}
    assert set(access) <= subscribed


@pytest.mark.parametrize("tier", EXAMPLES)
def test_waf_logs_through_an_aws_waf_logs_stream_per_web_acl(example_plan, tier):
    plan = example_plan(tier)
    acls = plan.of_type("aws:wafv2/webAcl:WebAcl")
    logging = plan.of_type(WAF_LOGGING)
    if not get_tier(tier).ships("waf"):
        assert logging == []
        return
    assert acls, "inference registers a web ACL per region on tiers that ship WAF logs"
    assert sorted(c.inputs["resourceArn"] for c in logging) == sorted(a.outputs["arn"] for a in acls)
    streams = {s.outputs["arn"]: s for s in plan.of_type(STREAM)}
    for config in logging:
        (target,) = config.inputs["logDestinationConfigs"]
        name = streams[target].inputs["name"]
        assert name.startswith("aws-waf-logs-") and len(name) <= 64
        assert plan.provider_region(streams[target]) == plan.provider_region(config)
        assert {"singleHeader": {"name": "authorization"}} in config.inputs["redactedFields"]


def delivery_target(plan, bucket_arn: str):
    """The bucket a delivery ends in: the bucket itself, or where its replication copies every object."""
    bucket = next(b for b in plan.of_type("aws:s3/bucket:Bucket") if b.outputs["arn"] == bucket_arn)
    for config in plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        if config.inputs["bucket"] == bucket.id:
            (rule,) = config.inputs["rules"]
            assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
            return next(b for b in plan.of_type("aws:s3/bucket:Bucket") if b.outputs["arn"] == rule["destination"]["bucket"])
    return bucket


@pytest.mark.parametrize("tier", EXAMPLES)
def test_every_shipped_record_is_archived_in_its_region(example_plan, tier):
    """Firehose writes to the archive, or, where the archive is locked, to a staging bucket S3
    replicates into it (Firehose sends no checksum, which Object Lock default retention needs)."""
    plan = example_plan(tier)
    by_region = archives(plan)
    locked = get_tier(tier).siem_archive_object_lock
    for stream in plan.of_type(STREAM):
        config = stream.inputs[CONFIG_KEY[stream.inputs["destination"]]]
        target = config if stream.inputs["destination"] == "extended_s3" else config["s3Configuration"]
        archive = by_region[plan.provider_region(stream)]
        assert delivery_target(plan, target["bucketArn"]) is archive
        assert (target["bucketArn"] != archive.outputs["arn"]) is locked  # staged only where locked
        if stream.inputs["destination"] != "extended_s3":
            assert config["s3BackupMode"] in ("AllEvents", "AllData")


RECORDER = "aws:cfg/recorder:Recorder"


@pytest.mark.parametrize("tier", EXAMPLES)
def test_aws_config_records_wherever_security_hub_runs(example_plan, tier):
    """One recorder per Security Hub region, global types in the home region only, delivering
    into that region's archive (through staging where it is locked)."""
    plan = example_plan(tier)
    home = load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml").config["aws:region"]
    hubs = {plan.provider_region(h) for h in plan.of_type("aws:securityhub/account:Account")}
    recorders = {plan.provider_region(r): r for r in plan.of_type(RECORDER)}
    assert set(recorders) == hubs
    assert (hubs != set()) is get_tier(tier).guardduty
    for region, recorder in recorders.items():
        assert recorder.inputs["recordingGroup"] == {"allSupported": True,
                                                     "includeGlobalResourceTypes": region == home}
        (channel,) = [c for c in plan.of_type("aws:cfg/deliveryChannel:DeliveryChannel") if plan.provider_region(c) == region]
        bucket = next(b for b in plan.of_type("aws:s3/bucket:Bucket") if b.outputs["bucket"] == channel.inputs["s3BucketName"])
        assert delivery_target(plan, bucket.outputs["arn"]) is archives(plan)[region]


def test_an_existing_organisation_recorder_is_declared_not_built(render, tmp_path):
    """`compliance.recorder: existing` builds no recorder, and `blueprint check` reports the
    guardrail as suppressed for each region with the config's reason."""
    from blueprints.program import load_spec
    from policies.runner import run
    from tests.conftest import spec_config, write_stack

    changes = {"compliance": {"recorder": "existing"}, "training": {"enabled": False}}
    plan = render("internal", changes)
    assert plan.of_type(RECORDER) == [] and plan.of_type("aws:securityhub/account:Account")
    spec = load_spec(*load_stack_file(write_stack(tmp_path, spec_config("internal", changes))).runtime_config())
    result = run(plan.to_dict(), suppressions=[s.model_dump() for s in spec.implied_suppressions])
    [finding] = [f for f in result.findings if f.rule.id == "AIB-155"]
    assert finding.outcome == "suppressed" and finding.resource_name == "aws-eu-west-1"
    assert "compliance.recorder is `existing`" in finding.suppressed_by.reason
    assert run(plan.to_dict()).exit_code == 1  # without the declaration the missing recorder fails


@pytest.mark.parametrize("tier", EXAMPLES)
def test_archive_retention_object_lock_on_restricted_only_and_glacier(example_plan, tier):
    plan = example_plan(tier)
    t = get_tier(tier)
    for region, bucket in archives(plan).items():
        assert bucket.inputs.get("objectLockEnabled", False) is t.siem_archive_object_lock
        assert bucket.protect is t.protect_stateful and bucket.retain_on_delete is t.retain_on_delete
        children = {r.type.rsplit(":", 1)[-1]: r for r in plan.descendants(bucket.parent)}
        locks = [r for r in plan.descendants(bucket.parent) if r.type.endswith("BucketObjectLockConfiguration")]
        if t.siem_archive_object_lock:
            (lock,) = locks
            assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": t.log_retention_days}
        else:
            assert locks == []
        rules = {r["id"]: r for r in children["BucketLifecycleConfiguration"].inputs["rules"]}
        assert rules["retention"]["expiration"]["days"] == t.log_retention_days + 1
        assert ("transitions" in rules["retention"]) is (t.log_retention_days >= 180)


def test_audit_bucket_is_object_locked_on_restricted(example_plan):
    for tier in EXAMPLES:
        plan = example_plan(tier)
        audit = next(b for b in plan.of_type("aws:s3/bucket:Bucket") if b.name.endswith("-audit-bucket"))
        assert audit.inputs.get("objectLockEnabled", False) is get_tier(tier).s3_object_lock


@pytest.mark.parametrize("tier", EXAMPLES)
def test_guardduty_and_security_hub_per_tier(example_plan, tier):
    plan = example_plan(tier)
    t = get_tier(tier)
    regions = {plan.provider_region(s) for s in siem_streams(plan)}
    detectors = plan.of_type("aws:guardduty/detector:Detector")
    hubs = plan.of_type("aws:securityhub/account:Account")
    if not t.guardduty:
        assert detectors == [] and hubs == []
        return
    assert sorted(plan.provider_region(d) for d in detectors) == sorted(regions)
    assert sorted(plan.provider_region(h) for h in hubs) == sorted(regions)
    standards = plan.of_type("aws:securityhub/standardsSubscription:StandardsSubscription")
    assert all("aws-foundational-security-best-practices/v/1.0.0" in s.inputs["standardsArn"] for s in standards)
    assert len(standards) == len(regions)
    features = {f.inputs["name"] for f in plan.of_type("aws:guardduty/detectorFeature:DetectorFeature")}
    assert {"S3_DATA_EVENTS", "EKS_AUDIT_LOGS"} <= features
    assert ("RUNTIME_MONITORING" in features) is t.guardduty_eks_runtime
    assert ("EBS_MALWARE_PROTECTION" in features) is t.guardduty_s3_malware
    plans = plan.of_type("aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan")
    if t.guardduty_s3_malware:
        data = next(b for b in plan.of_type("aws:s3/bucket:Bucket") if b.name.endswith("-training-data"))
        (malware,) = plans
        assert malware.inputs["protectedResource"]["s3Bucket"]["bucketName"] == data.outputs["bucket"]
    else:
        assert plans == []


@pytest.mark.parametrize("tier", ["internal", "restricted"])
def test_findings_are_routed_to_the_regions_siem_stream_and_topic(example_plan, tier):
    plan = example_plan(tier)
    streams = {plan.provider_region(s): s.outputs["arn"] for s in siem_streams(plan)}
    topics = {plan.provider_region(t): t for t in plan.of_type("aws:sns/topic:Topic") if t.name.endswith("-findings")}
    targets = plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
    for rule in plan.of_type("aws:cloudwatch/eventRule:EventRule"):
        if not rule.name.endswith(("-guardduty", "-securityhub")):
            continue
        region = plan.provider_region(rule)
        arns = {t.inputs["arn"] for t in targets if t.inputs["rule"] == rule.outputs["name"]}
        assert arns == {streams[region], topics[region].outputs["arn"]}
        assert "kmsMasterKeyId" in topics[region].inputs


def test_splunk_token_never_appears_in_the_plan(example_plan):
    """The stack file's ciphertext never reaches the plan, and the stream gets the token as a
    secret (masked in the plan)."""
    from blueprints.engine import SECRET_TEXT

    plan = example_plan("restricted")
    assert "AAABADQXFlU3FjEpz0bJ8zU4" not in plan.to_json()
    streams = [s for s in plan.of_type(STREAM) if "splunkConfiguration" in s.inputs]
    assert streams and all(s.inputs["splunkConfiguration"]["hecToken"] == SECRET_TEXT for s in streams)


@pytest.mark.parametrize("tier", EXAMPLES)
def test_generated_names_fit_aws_limits(example_plan, tier):
    plan = example_plan(tier)
    security = [c for c in plan.resources if c.type in (
        "aiblueprints:cloudtrail:AuditTrail", "aiblueprints:siem:SiemShipper", "aiblueprints:security:ThreatDetection")]
    limits = {"aws:iam/role:Role": 64, "aws:cloudwatch/eventRule:EventRule": 64, STREAM: 64,
              "aws:lambda/function:Function": 64, "aws:s3/bucket:Bucket": 63}
    checked = 0
    for component in security:
        for r in plan.descendants(component.urn):
            if r.type in limits:
                name = r.outputs.get("bucket") if r.type == "aws:s3/bucket:Bucket" else r.outputs["name"]
                assert len(name) <= limits[r.type], (r.type, name)
                checked += 1
    archives_ = [b for b in plan.of_type("aws:s3/bucket:Bucket") if "-siem-archive-" in b.name]
    assert all(len(b.outputs["bucket"]) <= 63 for b in archives_)
    assert checked > 5


def test_security_monitoring_stands_alone_without_training_or_inference(render):
    plan = render("restricted", {"training": {"enabled": False}, "inference": {"enabled": False}})
    (trail,) = plan.of_type(TRAIL)
    assert "advancedEventSelectors" not in trail.inputs  # no data buckets to record
    (stream,) = plan.of_type(STREAM)
    (subscription,) = plan.of_type(FILTER)
    assert subscription.inputs["logGroup"].startswith("/aws/cloudtrail/")
    assert subscription.inputs["destinationArn"] == stream.outputs["arn"]
    assert len(plan.of_type("aws:guardduty/detector:Detector")) == 1
    assert plan.of_type("aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan") == []


def test_malware_scanner_is_exempt_from_the_air_gapped_bucket_rule(example_plan):
    """On restricted the training-data bucket serves objects only through the training VPC's S3
    endpoint; GuardDuty's scanner reads from outside it, so its role carries the exempt tag."""
    from blueprints.training import VPCE_EXEMPT_TAG

    plan = example_plan("restricted")
    (plan_resource,) = plan.of_type("aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan")
    roles = [r for r in plan.of_type("aws:iam/role:Role") if r.outputs["arn"] == plan_resource.inputs["role"]]
    (role,) = roles
    assert role.inputs["tags"][VPCE_EXEMPT_TAG[0]] == VPCE_EXEMPT_TAG[1]
    policies = [json.loads(p.inputs["policy"]) for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")]
    exempting = [s for doc in policies for s in doc["Statement"] if s.get("Sid") == "DenyObjectAccessOutsideTrainingVpc"]
    assert exempting and all(
        s["Condition"]["StringNotEquals"][f"aws:PrincipalTag/{VPCE_EXEMPT_TAG[0]}"] == VPCE_EXEMPT_TAG[1] for s in exempting)


def test_public_tier_can_opt_in_to_threat_detection(render, example_plan):
    assert not example_plan("public").of_type("aws:guardduty/detector:Detector")
    plan = render("public", {"threatDetection": True})
    (detector,) = plan.of_type("aws:guardduty/detector:Detector")
    assert detector.inputs["enable"] is True
    assert plan.of_type("aws:securityhub/account:Account")
    # EventBridge cannot publish to an aws/sns topic: the findings topic gets a rotating CMK
    # even on a tier that otherwise uses AWS managed keys.
    (topic,) = [t for t in plan.of_type("aws:sns/topic:Topic") if "-td-" in t.name]
    (key,) = [k for k in plan.of_type("aws:kms/key:Key") if plan.provider_region(k) == plan.provider_region(topic)]
    assert topic.inputs["kmsMasterKeyId"] in (key.outputs["arn"], key.outputs["keyId"], key.id)
    assert key.inputs["enableKeyRotation"] is True
