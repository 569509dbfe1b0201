"""Security monitoring per tier, on the example stacks: the audit trails, SIEM streams to the
spec's destination, a subscription filter per shipped source, WAF logging, the immutable
archive, GuardDuty and Security Hub; and where the stack names accounts (confidential, restricted),
each part in the account the issue places it: the evidence in the log archive, trails, shippers,
threat detection and recorders in the accounts they watch, and the cross-account policies naming
exactly the other accounts' trails and roles."""

from __future__ import annotations

import json
import re

import pytest

from blueprints.plan.engine import ACCOUNT_ID, load_stack_file
from blueprints.tiers import get_tier
from policies.model import assumed_account
from tests.conftest import EXAMPLES, STACKS

TRAIL = "aws:cloudtrail/trail:Trail"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
FILTER = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
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
    (re.compile(r"^/aws/bedrock/.+/model-invocations$"), "bedrock-invocations"),  # foundationModels
)


_PROVIDERS: dict[int, dict[str, str]] = {}  # id(plan) -> provider ref -> account (plans are cached, read-only)


def account(plan, resource) -> str:
    """The account a custom resource lives in: the account its provider assumes a role in (its
    assumeRoles roleArn), "" for the deploying account (a single-account stack)."""
    if id(plan) not in _PROVIDERS:
        _PROVIDERS[id(plan)] = {f"{r.urn}::{r.id}": assumed_account(r.inputs) for r in plan.resources
                                if r.type == "pulumi:providers:aws"}
    return _PROVIDERS[id(plan)].get(resource.provider, "")


def arn_account(arn: str) -> str:
    """The account field of an ARN, "" for the deploying account's (the mock's ACCOUNT_ID)."""
    found = arn.split(":")[4]
    return "" if found == ACCOUNT_ID else found


def stack_spec(tier):
    from blueprints.program import load_spec

    return load_spec(*load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml").runtime_config())


def watched(tier) -> dict[str, list[str]]:
    """Account ("" for the deploying one) -> the regions its account-wide services run in, home first."""
    spec = stack_spec(tier)
    return {spec.account(role) or "": regions for role, regions in spec.regions_by_account().items()}


def source_groups(plan) -> dict[str, tuple[str, str, str]]:
    """Log group name -> (source kind, region, account) for every SIEM-source log group in the plan."""
    out = {}
    for group in plan.of_type(LOG_GROUP):
        for pattern, kind in SOURCE_OF_GROUP:
            if pattern.match(group.inputs["name"]):
                out[group.inputs["name"]] = (kind, plan.provider_region(group), account(plan, group))
    return out


def siem_streams(plan) -> list:
    return [s for s in plan.of_type(STREAM) if not s.inputs["name"].startswith("aws-waf-logs-")]


def archives(plan) -> dict:
    return {plan.provider_region(b): b for b in plan.of_type(BUCKET) if "-siem-archive-" in b.name}


def audit_bucket(plan):
    (bucket,) = [b for b in plan.of_type(BUCKET) if b.name.endswith("-audit-bucket")]
    return bucket


def policy_of(plan, bucket) -> list[dict]:
    """The statements of a bucket's one BucketPolicy."""
    (policy,) = [p for p in plan.of_type(BUCKET_POLICY) if p.inputs["bucket"] == bucket.id]
    return json.loads(policy.inputs["policy"])["Statement"]


@pytest.mark.parametrize("tier", EXAMPLES)
def test_a_multi_region_validated_trail_in_each_watched_account_into_one_audit_bucket(example_plan, tier):
    """One trail per account the stack watches (one account: one trail), in that account's home
    region, delivering into the log archive's audit bucket under the log archive's key."""
    plan = example_plan(tier)
    trails, expected = plan.of_type(TRAIL), watched(tier)
    assert sorted((account(plan, t), plan.provider_region(t)) for t in trails) == \
        sorted((acct, regions[0]) for acct, regions in expected.items())
    audit = audit_bucket(plan)
    assert account(plan, audit) == plan.accounts.get("logArchive", "")
    for trail in trails:
        assert trail.inputs["isMultiRegionTrail"] and trail.inputs["includeGlobalServiceEvents"]
        assert trail.inputs["enableLogFileValidation"] is True
        assert trail.inputs["cloudWatchLogsGroupArn"].endswith(":*")
        assert trail.inputs["s3BucketName"] == audit.outputs["bucket"]
        assert arn_account(trail.outputs["arn"]) == account(plan, trail)
        # Other accounts write under the log archive's key: a CMK once the stack names accounts.
        assert ("kmsKeyId" in trail.inputs) == (get_tier(tier).cmk or bool(plan.accounts))
        if "kmsKeyId" in trail.inputs:
            assert arn_account(trail.inputs["kmsKeyId"]) == account(plan, audit)
            assert trail.inputs["kmsKeyId"].split(":")[3] == plan.provider_region(audit)


@pytest.mark.parametrize("tier", EXAMPLES)
def test_data_events_on_training_and_model_buckets_from_confidential_up(example_plan, tier):
    """Object-level access to the training buckets is recorded by the training account's trail,
    where they live; the other trails record management events."""
    plan = example_plan(tier)
    training = plan.accounts.get("training", "")
    buckets = [b.outputs["arn"] for b in plan.of_type(BUCKET)
               if b.name.endswith(("-training-data", "-models")) and account(plan, b) == training]
    for trail in plan.of_type(TRAIL):
        selectors = trail.inputs.get("advancedEventSelectors")
        if tier in ("confidential", "restricted") and account(plan, trail) == training:
            fields = {f["field"]: f for s in selectors for f in s["fieldSelectors"] if s["name"].startswith("Object")}
            assert sorted(fields["resources.ARN"]["startsWiths"]) == sorted(a + "/" for a in buckets)
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
    shipped = {name for name, (kind, _, _) in groups.items() if get_tier(tier).ships(kind)}
    filters = plan.of_type(FILTER)
    assert sorted(f.inputs["logGroup"] for f in filters) == sorted(shipped)
    streams = {s.outputs["arn"]: s for s in siem_streams(plan)}
    for f in filters:
        stream = streams[f.inputs["destinationArn"]]
        _, region, owner = groups[f.inputs["logGroup"]]
        # Subscriptions stay in the account and region of the log group: that account's stream.
        assert plan.provider_region(f) == plan.provider_region(stream) == region
        assert account(plan, f) == account(plan, stream) == owner
        assert f.inputs["filterPattern"] == ""
    kinds = {groups[g][0] for g in shipped}
    fm = {"bedrock-invocations"} if get_tier(tier).ships("bedrock-invocations") else set()
    assert kinds == set(get_tier(tier).siem_sources) - {"waf"} | fm, "every non-WAF source the tier lists is shipped"


@pytest.mark.parametrize("tier", EXAMPLES)
def test_transform_knows_the_source_of_every_subscribed_group(example_plan, tier):
    plan = example_plan(tier)
    groups = source_groups(plan)
    for function in plan.of_type("aws:lambda/function:Function"):
        if not function.name.endswith("-transform"):
            continue
        env = function.inputs["environment"]["variables"]
        mapping = json.loads(env["SOURCE_MAP"])
        region, owner = plan.provider_region(function), account(plan, function)
        assert mapping == {g: kind for g, (kind, r, a) in groups.items()
                           if (r, a) == (region, owner) and get_tier(tier).ships(kind)}
        assert env["CLASSIFICATION"] == tier and "TIER" not in env


def test_prediction_audit_api_access_logs_are_shipped_in_every_inference_region(example_plan):
    plan = example_plan("restricted")
    access = {name: region for name, (kind, region, _) in source_groups(plan).items() if kind == "api-access"}
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
    log_archive = plan.accounts.get("logArchive", "")
    assert {account(plan, a) for a in by_region.values()} == {log_archive}
    for stream in plan.of_type(STREAM):
        config = stream.inputs[CONFIG_KEY[stream.inputs["destination"]]]
        target = config if stream.inputs["destination"] == "extended_s3" else config["s3Configuration"]
        archive = by_region[plan.provider_region(stream)]
        assert delivery_target(plan, target["bucketArn"]) is archive
        assert (target["bucketArn"] != archive.outputs["arn"]) is locked  # staged only where locked
        # Each account's records under its own prefix of the shared archive.
        owner = account(plan, stream)
        assert target["prefix"].startswith(f"AWSLogs/{owner}/siem/" if plan.accounts else "siem/")
        if stream.inputs["destination"] != "extended_s3":
            assert config["s3BackupMode"] in ("AllEvents", "AllData")


RECORDER = "aws:cfg/recorder:Recorder"


@pytest.mark.parametrize("tier", EXAMPLES)
def test_aws_config_records_wherever_security_hub_runs(example_plan, tier):
    """One recorder per account and region Security Hub runs in, global types in each account's
    home region only, delivering into the log archive's archive of that region (through staging
    where it is locked)."""
    plan = example_plan(tier)
    expected = watched(tier)
    hubs = {(account(plan, h), plan.provider_region(h)) for h in plan.of_type("aws:securityhub/account:Account")}
    recorders = {(account(plan, r), plan.provider_region(r)): r for r in plan.of_type(RECORDER)}
    assert set(recorders) == hubs
    assert hubs == ({(a, r) for a, regions in expected.items() for r in regions} if get_tier(tier).guardduty else set())
    channels = {(account(plan, c), plan.provider_region(c)): c for c in plan.of_type("aws:cfg/deliveryChannel:DeliveryChannel")}
    assert set(channels) == set(recorders)
    for (owner, region), recorder in recorders.items():
        assert recorder.inputs["recordingGroup"] == {"allSupported": True,
                                                     "includeGlobalResourceTypes": region == expected[owner][0]}
        channel = channels[owner, region]
        bucket = next(b for b in plan.of_type(BUCKET) if b.outputs["bucket"] == channel.inputs["s3BucketName"])
        assert account(plan, bucket) == plan.accounts.get("logArchive", "")
        assert delivery_target(plan, bucket.outputs["arn"]) is archives(plan)[region]


def test_an_existing_organisation_recorder_is_declared_not_built(render, tmp_path):
    """`compliance.recorder: existing` builds no recorder, and `blueprint check` reports the
    guardrail as suppressed for each region with the config's reason."""
    from blueprints.program import load_spec
    from policies.runner import run
    from tests.conftest import spec_config, write_stack

    # frameworks: the same render serves test_compliance.py (the Config rules without a recorder)
    changes = {"compliance": {"recorder": "existing", "frameworks": ["sox"]}, "training": {"enabled": False}}
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
        audit = audit_bucket(example_plan(tier))
        assert audit.inputs.get("objectLockEnabled", False) is get_tier(tier).s3_object_lock


@pytest.mark.parametrize("tier", EXAMPLES)
def test_guardduty_and_security_hub_per_tier(example_plan, tier):
    """GuardDuty and Security Hub in every region of every account the stack watches, each in
    the account it watches."""
    plan = example_plan(tier)
    t = get_tier(tier)
    slots = sorted((a, r) for a, regions in watched(tier).items() for r in regions)
    detectors = plan.of_type("aws:guardduty/detector:Detector")
    hubs = plan.of_type("aws:securityhub/account:Account")
    if not t.guardduty:
        assert detectors == [] and hubs == []
        return
    assert sorted((account(plan, d), plan.provider_region(d)) for d in detectors) == slots
    assert sorted((account(plan, h), plan.provider_region(h)) for h in hubs) == slots
    # FSBP in every hub, and the standard of each declared framework that has one (the restricted
    # example declares pci-dss: test_compliance.py)
    standards = plan.of_type("aws:securityhub/standardsSubscription:StandardsSubscription")
    fsbp = [s for s in standards if "aws-foundational-security-best-practices/v/1.0.0" in s.inputs["standardsArn"]]
    assert len(fsbp) == len(slots)
    extra = {s.inputs["standardsArn"].split("::standards/")[1] for s in standards if s not in fsbp}
    assert extra == ({"pci-dss/v/4.0.1"} if tier == "restricted" else set())
    features = {f.inputs["name"] for f in plan.of_type("aws:guardduty/detectorFeature:DetectorFeature")}
    assert {"S3_DATA_EVENTS", "EKS_AUDIT_LOGS"} <= features
    assert ("RUNTIME_MONITORING" in features) is t.guardduty_eks_runtime
    assert ("EBS_MALWARE_PROTECTION" in features) is t.guardduty_s3_malware
    plans = plan.of_type("aws:guardduty/malwareProtectionPlan:MalwareProtectionPlan")
    if t.guardduty_s3_malware:
        data = next(b for b in plan.of_type(BUCKET) if b.name.endswith("-training-data"))
        (malware,) = plans
        assert malware.inputs["protectedResource"]["s3Bucket"]["bucketName"] == data.outputs["bucket"]
        assert account(plan, malware) == account(plan, data) == plan.accounts.get("training", "")
    else:
        assert plans == []


@pytest.mark.parametrize("tier", ["internal", "restricted"])
def test_findings_are_routed_to_the_regions_siem_stream_and_topic(example_plan, tier):
    plan = example_plan(tier)
    where = lambda r: (account(plan, r), plan.provider_region(r))  # noqa: E731
    streams = {where(s): s.outputs["arn"] for s in siem_streams(plan)}
    topics = {where(t): t for t in plan.of_type("aws:sns/topic:Topic") if t.name.endswith("-findings")}
    targets = plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
    routed = 0
    for rule in plan.of_type("aws:cloudwatch/eventRule:EventRule"):
        if not rule.name.endswith(("-guardduty", "-securityhub")):
            continue
        slot = where(rule)
        arns = {t.inputs["arn"] for t in targets if t.inputs["rule"] == rule.outputs["name"] and where(t) == slot}
        assert arns == {streams[slot], topics[slot].outputs["arn"]}
        assert "kmsMasterKeyId" in topics[slot].inputs and arn_account(topics[slot].inputs["kmsMasterKeyId"]) == slot[0]
        routed += 1
    assert routed == 2 * len(topics) > 0


def test_splunk_token_never_appears_in_the_plan(example_plan):
    """The stack file's ciphertext never reaches the plan, and the stream gets the token as a
    secret (masked in the plan)."""
    from blueprints.plan.engine import SECRET_TEXT

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
    """With neither part, nothing of the stack runs in the workload accounts: the log archive
    watches itself."""
    plan = render("restricted", {"training": {"enabled": False}, "inference": {"enabled": False}})
    (trail,) = plan.of_type(TRAIL)
    assert account(plan, trail) == plan.accounts["logArchive"]
    assert "advancedEventSelectors" not in trail.inputs  # no data buckets to record
    # The home region and the audit copy's region (restricted keeps one in a second region).
    (stream,) = [s for s in plan.of_type(STREAM) if s.region == "eu-west-1"]
    (subscription,) = plan.of_type(FILTER)
    assert subscription.inputs["logGroup"].startswith("/aws/cloudtrail/")
    assert subscription.inputs["destinationArn"] == stream.outputs["arn"]
    detectors = plan.of_type("aws:guardduty/detector:Detector")
    assert sorted(d.region for d in detectors) == ["eu-central-1", "eu-west-1"]
    assert {account(plan, d) for d in detectors} == {plan.accounts["logArchive"]}
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


# -- accounts (issue 17): the restricted example's three accounts ------------------------------------------
def evidence_buckets(plan) -> list:
    """The audit bucket, the SIEM archives and the staging buckets that replicate into them."""
    return [b for b in plan.of_type(BUCKET)
            if b.name.endswith(("-audit-bucket", "-audit-replica")) or "-siem-archive-" in b.name
            or "-audit-staging-" in b.name]


def key_of(plan, bucket) -> str:
    """The KMS key ARN a bucket's default encryption names."""
    (config,) = [c for c in plan.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
                 if c.inputs["bucket"] == bucket.id]
    (rule,) = config.inputs["rules"]
    return rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]


def allowed_principals(statements) -> list:
    """Every AWS principal an Allow statement names."""
    out = []
    for s in statements:
        if s["Effect"] == "Allow" and isinstance(s.get("Principal"), dict) and "AWS" in s["Principal"]:
            principal = s["Principal"]["AWS"]
            out += principal if isinstance(principal, list) else [principal]
    return out


def test_the_evidence_and_its_keys_live_in_the_log_archive_only(example_plan):
    plan = example_plan("restricted")
    log_archive = plan.accounts["logArchive"]
    evidence = evidence_buckets(plan)
    assert sorted(b.name.split("-", 2)[-1] for b in evidence) == [
        "audit-bucket", "audit-replica", "audit-staging-euc1", "audit-staging-euw1", "siem-archive-euc1",
        "siem-archive-euw1"]
    access_logs = {l.inputs["targetBucket"] for l in plan.of_type("aws:s3/bucketLogging:BucketLogging")
                   if l.inputs["bucket"] in {b.id for b in evidence}}
    for bucket in evidence:
        assert account(plan, bucket) == log_archive, bucket.name
        key = key_of(plan, bucket)
        assert arn_account(key) == log_archive and key.split(":")[3] == plan.provider_region(bucket)
    # Who read the evidence is logged in the log archive too.
    assert {account(plan, b) for b in plan.of_type(BUCKET) if b.outputs["bucket"] in access_logs} == {log_archive}
    # Nothing else of the stack is kept there.
    assert not [b.name for b in plan.of_type(BUCKET) if account(plan, b) == log_archive
                and b not in evidence and b.outputs["bucket"] not in access_logs]


def test_each_accounts_trail_keeps_its_log_group_and_subscription_in_that_account(example_plan):
    plan = example_plan("restricted")
    groups = {g.outputs["arn"] + ":*": g for g in plan.of_type(LOG_GROUP)}
    trails = plan.of_type(TRAIL)
    assert sorted(account(plan, t) for t in trails) == sorted(plan.accounts.values())
    for trail in trails:
        group = groups[trail.inputs["cloudWatchLogsGroupArn"]]
        assert account(plan, group) == account(plan, trail) == arn_account(trail.inputs["cloudWatchLogsRoleArn"])
        assert arn_account(group.inputs["kmsKeyId"]) == account(plan, trail)  # its own account's key
        (subscription,) = [f for f in plan.of_type(FILTER) if f.inputs["logGroup"] == group.inputs["name"]]
        assert account(plan, subscription) == account(plan, trail)


def test_the_audit_bucket_admits_exactly_the_stacks_trails_each_under_its_own_prefix(example_plan):
    plan = example_plan("restricted")
    audit = audit_bucket(plan)
    trails = {t.outputs["arn"]: account(plan, t) for t in plan.of_type(TRAIL)}
    statements = policy_of(plan, audit)
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert all(s["Principal"] == {"Service": "cloudtrail.amazonaws.com"} for s in allows)
    (check,) = [s for s in allows if s["Action"] == "s3:GetBucketAcl"]
    assert sorted(check["Condition"]["StringEquals"]["aws:SourceArn"]) == sorted(trails)
    writes = {s["Condition"]["StringEquals"]["aws:SourceArn"]: s for s in allows if s["Action"] == "s3:PutObject"}
    assert set(writes) == set(trails)
    for arn, owner in trails.items():
        assert writes[arn]["Resource"] == f"{audit.outputs['arn']}/AWSLogs/{owner}/*"
        assert writes[arn]["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"


def test_the_archives_admit_exactly_the_other_accounts_firehose_and_config_roles(example_plan):
    """Each region's delivery bucket (staging, where the archive is locked) admits the Firehose
    role of every other account's shipper in that region and its AWS Config role, each under
    `AWSLogs/<its account>/` only; the locked archive admits nobody (S3 replication writes it)."""
    plan = example_plan("restricted")
    log_archive = plan.accounts["logArchive"]
    for region, archive in archives(plan).items():
        roles = set()
        for stream in siem_streams(plan):
            if plan.provider_region(stream) == region and account(plan, stream) != log_archive:
                roles.add(stream.inputs["splunkConfiguration"]["s3Configuration"]["roleArn"])
        for recorder in plan.of_type(RECORDER):
            if plan.provider_region(recorder) == region and account(plan, recorder) != log_archive:
                roles.add(recorder.inputs["roleArn"])
        assert {arn_account(r) for r in roles} == {plan.accounts["training"], plan.accounts["inference"]} \
            if region == "eu-west-1" else {plan.accounts["inference"]}
        (staging,) = [b for b in plan.of_type(BUCKET) if b.name == archive.name.replace("siem-archive", "audit-staging")]
        statements = policy_of(plan, staging)
        assert sorted(set(allowed_principals(statements))) == sorted(roles)
        for s in statements:
            if s["Effect"] == "Allow":
                own = f"{staging.outputs['arn']}/AWSLogs/{arn_account(s['Principal']['AWS'])}/"
                resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
                assert all(r == staging.outputs["arn"] or r.startswith(own) for r in resources), s["Sid"]
                assert not any(a.startswith("s3:Delete") for a in s["Action"])
        assert allowed_principals(policy_of(plan, archive)) == []


def test_shippers_and_trails_write_under_the_log_archives_key_which_trusts_exactly_the_stacks_accounts(example_plan):
    plan = example_plan("restricted")
    log_archive = plan.accounts["logArchive"]
    keys = {plan.provider_region(a): key_of(plan, a) for a in archives(plan).values()}
    for trail in plan.of_type(TRAIL):
        assert trail.inputs["kmsKeyId"] == keys[plan.provider_region(audit_bucket(plan))]
    fh_policies = {p.inputs["role"]: json.loads(p.inputs["policy"]) for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
                   if p.name.endswith("-fh-policy")}
    roles = {r.outputs["arn"]: r.id for r in plan.of_type("aws:iam/role:Role")}
    for stream in siem_streams(plan):
        region, backup = plan.provider_region(stream), stream.inputs["splunkConfiguration"]["s3Configuration"]
        assert backup["kmsKeyArn"] == keys[region]  # the archive's key ...
        assert arn_account(stream.inputs["serverSideEncryption"]["keyArn"]) == account(plan, stream)  # ... its own
        (encrypt,) = [s for s in fh_policies[roles[backup["roleArn"]]]["Statement"] if s["Sid"] == "EncryptArchive"]
        assert encrypt["Resource"] == keys[region]
    for region, key_arn in keys.items():
        (key,) = [k for k in plan.of_type("aws:kms/key:Key") if k.outputs["arn"] == key_arn]
        assert account(plan, key) == log_archive
        statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
        trusted = statements["AllowTrustedAccountsUse"]["Principal"]["AWS"]
        assert sorted(trusted) == sorted(f"arn:aws:iam::{plan.accounts[r]}:root" for r in ("training", "inference"))
        cloudtrail = statements["AllowCloudtrailUse"]["Condition"]["StringEquals"]["aws:SourceAccount"]
        assert sorted(cloudtrail) == sorted(plan.accounts.values())


def test_nothing_can_delete_from_the_log_archive_and_only_the_deploy_role_reconfigures_it(example_plan):
    plan = example_plan("restricted")
    deployer = f"arn:aws:iam::{plan.accounts['logArchive']}:role/ai-blueprints-deployer"
    for bucket in evidence_buckets(plan):
        statements = {s["Sid"]: s for s in policy_of(plan, bucket)}
        delete = statements["DenyDeletingEvidence"]
        # No exception at all: not the deploy role, not the account's administrators.
        assert (delete["Effect"], delete["Principal"], delete["Resource"]) == ("Deny", "*", bucket.outputs["arn"] + "/*")
        assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(delete["Action"]) and "Condition" not in delete
        change = statements["DenyReconfigurationOutsideTheDeployRole"]
        assert (change["Effect"], change["Principal"], change["Resource"]) == ("Deny", "*", bucket.outputs["arn"])
        assert {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration",
                "s3:PutBucketVersioning", "s3:DeleteBucket"} <= set(change["Action"])
        assert change["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": deployer}}
        assert not [s for s in statements.values() if s["Effect"] == "Allow"
                    and any(a.startswith(("s3:Delete", "s3:PutBucket", "s3:PutLifecycle")) for a in
                            (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]


def test_the_log_archive_auditor_reads_the_evidence_with_mfa_and_changes_nothing(example_plan):
    plan = example_plan("restricted")
    log_archive = plan.accounts["logArchive"]
    (role,) = [r for r in plan.of_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-log-archive-auditor")]
    assert account(plan, role) == log_archive
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{log_archive}:root"}
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert role.inputs["permissionsBoundary"]
    (policy,) = [p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    allowed = {a for s in statements if s["Effect"] == "Allow"
               for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert allowed and all(a.split(":")[1].startswith(("Get", "List", "Describe", "Lookup", "Decrypt")) for a in allowed)
    (never,) = [s for s in statements if s["Effect"] == "Deny"]
    assert never["Resource"] == "*" and {"s3:Delete*", "s3:Put*", "kms:ScheduleKeyDeletion"} <= set(never["Action"])
    read = next(s for s in statements if s["Sid"] == "ReadArchivedRecords")
    assert {b.outputs["arn"] + "/*" for b in evidence_buckets(plan) if "-audit-staging-" not in b.name} <= set(read["Resource"])
    # The training account's auditor stays there, and no archive admits it (or any workload role) to read.
    (training_auditor,) = [r for r in plan.of_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-training-auditor")]
    assert account(plan, training_auditor) == plan.accounts["training"]
    admitted = {p for b in evidence_buckets(plan) for p in allowed_principals(policy_of(plan, b))}
    services = {s.inputs["splunkConfiguration"]["s3Configuration"]["roleArn"] for s in siem_streams(plan)} | \
        {r.inputs["roleArn"] for r in plan.of_type(RECORDER)}
    assert admitted and admitted <= services and training_auditor.outputs["arn"] not in admitted


def test_per_account_copies_have_names_of_their_own(example_plan):
    plan = example_plan("restricted")
    names = [s.inputs["name"] for s in siem_streams(plan)] + [t.inputs["name"] for t in plan.of_type(TRAIL)]
    assert len(names) == len(set(names))
    assert sorted(t.inputs["name"] for t in plan.of_type(TRAIL)) == [
        "fraud-models-audit-arc", "fraud-models-audit-inf", "fraud-models-audit-trn"]


def test_an_omitted_log_archive_keeps_the_evidence_in_the_deploying_account(render):
    """confidential without `accounts.logArchive`: the archives stay with the account `pulumi up`
    runs with, which is not watched (it may be one of the others); the workload accounts still
    deliver into it across accounts."""
    plan = render("confidential")
    assert "logArchive" not in plan.accounts
    assert {account(plan, b) for b in evidence_buckets(plan)} == {""}
    assert sorted(account(plan, t) for t in plan.of_type(TRAIL)) == sorted([plan.accounts["training"],
                                                                            plan.accounts["inference"]])
    assert "" not in {account(plan, d) for d in plan.of_type("aws:guardduty/detector:Detector")}
    audit = audit_bucket(plan)
    check = next(s for s in policy_of(plan, audit) if s.get("Sid") == "AWSCloudTrailAclCheck")
    assert sorted(check["Condition"]["StringEquals"]["aws:SourceArn"]) == sorted(t.outputs["arn"] for t in plan.of_type(TRAIL))


def test_restricted_audit_evidence_has_a_locked_copy_in_a_second_region(example_plan):
    """Issue 11: the audit bucket replicates every object into a bucket of the log archive in
    another region of the residency, encrypted with that region's key and locked like it."""
    plan = example_plan("restricted")
    archive = plan.accounts["logArchive"]
    (replica,) = [b for b in plan.of_type(BUCKET) if b.name == "fraud-models-audit-replica"]
    assert replica.region == "eu-central-1" and account(plan, replica) == archive
    assert replica.inputs["bucket"] == f"fraud-models-audit-{archive}-eu-central-1"
    (rule,) = [r for r in plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
               if r.name == "fraud-models-audit-bucket-replication"][0].inputs["rules"]
    assert rule["destination"]["bucket"] == f"arn:aws:s3:::{replica.inputs['bucket']}"
    assert rule["filter"] == {"prefix": ""} and rule["deleteMarkerReplication"] == {"status": "Disabled"}
    key = rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"]
    assert key.startswith(f"arn:aws:kms:eu-central-1:{archive}:key/")
    assert [c for c in plan.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
            if c.inputs["bucket"] == replica.id]
    assert not [b for b in example_plan("confidential").of_type(BUCKET) if b.name.endswith("-audit-replica")]
