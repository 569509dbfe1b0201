"""EncryptedBucket: private, SSE-KMS with a bucket key, TLS-only, versioned by default."""

import json

import pulumi
import pulumi_aws as aws
import pytest

from blueprints.plan.engine import run_program
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs, ObjectLock, Replica
from components.kms_key import KmsKey, KmsKeyArgs


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


@pytest.fixture
def default_plan(render_component):
    return render_component(lambda: EncryptedBucket("data", EncryptedBucketArgs()))


def test_public_access_is_blocked_and_acls_are_off(default_plan):
    pab = one(default_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(pab.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    ownership = one(default_plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_default_encryption_is_sse_kms_with_bucket_key(default_plan):
    sse = one(default_plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = sse.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    assert rule["bucketKeyEnabled"] is True


def test_tls_only_policy_and_versioning_by_default(default_plan):
    policy = json.loads(one(default_plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = one(default_plan, "aws:s3/bucket:Bucket")
    assert deny["Resource"] == [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"]
    assert one(default_plan, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    assert bucket.inputs["forceDestroy"] is False
    assert not default_plan.of_type("aws:s3/bucketLogging:BucketLogging")
    assert not default_plan.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")


def test_lifecycle_aborts_uploads_and_expires_old_versions(default_plan):
    rules = {r["id"]: r for r in one(default_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 90}


def test_cmk_object_lock_access_logging_and_expiry(render_component):
    def program():
        key = KmsKey("k", KmsKeyArgs(description="models", service_principals=["s3"]))
        EncryptedBucket("models", EncryptedBucketArgs(kms_key=key, access_log_bucket="logs-bucket", expiration_days=4000,
                                                      object_lock=ObjectLock(mode="COMPLIANCE", days=2557)))

    plan = render_component(program)
    key = one(plan, "aws:kms/key:Key")
    sse = one(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key.outputs["arn"]
    assert one(plan, "aws:s3/bucket:Bucket").inputs["objectLockEnabled"] is True
    lock = one(plan, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"] == {"defaultRetention": {"days": 2557, "mode": "COMPLIANCE"}}
    logging = one(plan, "aws:s3/bucketLogging:BucketLogging")
    assert logging.inputs["targetBucket"] == "logs-bucket" and logging.inputs["targetPrefix"] == "models/"
    rules = {r["id"]: r for r in one(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]}
    assert rules["retention"]["expiration"] == {"days": 4000}


def test_access_log_target_uses_sse_s3_and_admits_only_the_logging_service(render_component):
    plan = render_component(lambda: EncryptedBucket("access-logs", EncryptedBucketArgs(sse_algorithm="AES256", accepts_access_logs=True)))
    sse = one(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    statements = {s["Sid"]: s for s in json.loads(one(plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]}
    delivery = statements["AllowS3ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


@pytest.mark.parametrize("args, message", [
    (dict(sse_algorithm="aws:kms", accepts_access_logs=True), "must use sse_algorithm AES256"),
    (dict(object_lock=ObjectLock(days=30), expiration_days=10), "must exceed the Object Lock retention"),
])
def test_conflicting_arguments_are_rejected(args, message):
    with pytest.raises(Exception, match=message):
        run_program(lambda: EncryptedBucket("b", EncryptedBucketArgs(**args)), stack="t",
                    config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_loosening_takes_explicit_arguments(render_component):
    plan = render_component(lambda: EncryptedBucket("open", EncryptedBucketArgs(tls_only=False, versioning=False)))
    assert not plan.of_type("aws:s3/bucketPolicy:BucketPolicy")
    assert not plan.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert one(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs["blockPublicPolicy"] is True


def _replicated(render_component, **source):
    def program():
        key = KmsKey("k", KmsKeyArgs(description="logs"))
        archive = EncryptedBucket("archive", EncryptedBucketArgs(kms_key=key, object_lock=ObjectLock(days=400)))
        EncryptedBucket("staging", EncryptedBucketArgs(kms_key=key, versioning=False, replicate_to=archive, **source))
    return render_component(program)


def test_replicate_to_copies_every_object_into_the_destination_with_its_key(render_component):
    plan = _replicated(render_component)
    buckets = {b.name: b for b in plan.of_type("aws:s3/bucket:Bucket")}
    key = one(plan, "aws:kms/key:Key")
    (config,) = plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert config.inputs["bucket"] == buckets["staging"].id
    (rule,) = config.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
    assert rule["id"] == "every-object" and "priority" not in rule
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}  # deletes never reach the evidence
    assert rule["destination"] == {"bucket": buckets["archive"].outputs["arn"],
                                   "encryptionConfiguration": {"replicaKmsKeyId": key.outputs["arn"]}}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    # replication needs versioning on the source, whatever `versioning` says
    versioned = [v.inputs["bucket"] for v in plan.of_type("aws:s3/bucketVersioning:BucketVersioning")]
    assert buckets["staging"].id in versioned
    role = next(r for r in plan.of_type("aws:iam/role:Role") if r.name == "staging-repl-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"} and "aws:SourceAccount" in json.dumps(trust["Condition"])
    policy = json.loads(next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
                             if p.name == "staging-repl-policy").inputs["policy"])
    actions = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"]}
    assert actions["WriteReplicas"] == (["s3:ReplicateObject", "s3:ReplicateTags"], buckets["archive"].outputs["arn"] + "/*")
    assert actions["DecryptSource"] == ("kms:Decrypt", key.outputs["arn"])
    # The destination uses an S3 Bucket Key, which S3 verifies with kms:Decrypt.
    assert actions["EncryptReplicas"] == (["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], key.outputs["arn"])
    assert "s3:ReplicateDelete" not in json.dumps(policy)
    assert "ObjectOwnerOverrideToBucketOwner" not in json.dumps(policy)  # same account: nothing to hand over
    # S3 refuses a destination that keeps no versions: the destination's versioning comes first.
    versioning = {v.inputs["bucket"]: v.urn for v in plan.of_type("aws:s3/bucketVersioning:BucketVersioning")}
    assert versioning[buckets["archive"].id] in config.dependencies


def test_replication_time_control_sets_the_fifteen_minute_sla_and_its_metrics(render_component):
    def program():
        key = KmsKey("k", KmsKeyArgs(description="models"))
        fast = EncryptedBucket("fast", EncryptedBucketArgs(kms_key=key))
        plain = EncryptedBucket("plain", EncryptedBucketArgs(kms_key=key))
        EncryptedBucket("src", EncryptedBucketArgs(kms_key=key, replicate_to=[
            Replica(bucket=fast, prefix="approved/", time_control=True), Replica(bucket=plain, prefix="approved/")]))
    plan = render_component(program)
    buckets = {b.name: b.outputs["arn"] for b in plan.of_type("aws:s3/bucket:Bucket")}
    (config,) = plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    by_destination = {r["destination"]["bucket"]: r["destination"] for r in config.inputs["rules"]}
    fast = by_destination[buckets["fast"]]
    # RTC needs metrics; S3 accepts 15 minutes only, for both.
    assert fast["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert fast["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}
    assert "replicationTime" not in by_destination[buckets["plain"]] and "metrics" not in by_destination[buckets["plain"]]


def test_a_locked_bucket_replicates_its_objects_and_their_retention_into_a_locked_one(render_component):
    plan = _replicated(render_component, object_lock=ObjectLock(days=10))
    policy = json.loads(next(p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
                             if p.name == "staging-repl-policy").inputs["policy"])
    (read,) = [s for s in policy["Statement"] if s["Sid"] == "ReadSourceVersions"]
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(read["Action"])


def test_replicate_to_refuses_what_s3_cannot_do(render_component):
    def program():
        key = KmsKey("k", KmsKeyArgs(description="models"))
        unlocked = EncryptedBucket("replica", EncryptedBucketArgs(kms_key=key))
        EncryptedBucket("models", EncryptedBucketArgs(kms_key=key, object_lock=ObjectLock(days=10), replicate_to=unlocked))
    with pytest.raises(Exception, match="needs Object Lock on every destination"):
        render_component(program)


def test_a_replica_prefix_is_a_key_prefix(render_component):
    def program():
        key = KmsKey("k", KmsKeyArgs(description="models"))
        replica = EncryptedBucket("replica", EncryptedBucketArgs(kms_key=key))
        EncryptedBucket("models", EncryptedBucketArgs(kms_key=key, replicate_to=Replica(bucket=replica, prefix="/approved/")))
    with pytest.raises(Exception, match="without a leading '/'"):
        render_component(program)


# -- into another account ------------------------------------------------------------------
SOURCE_ACCOUNT, DESTINATION_ACCOUNT = "111111111111", "222222222222"


def _provider(name: str, account: str, region: str) -> aws.Provider:
    return aws.Provider(name, region=region, assume_roles=[aws.ProviderAssumeRoleArgs(
        role_arn=f"arn:aws:iam::{account}:role/deployer")])


@pytest.fixture(scope="module")
def cross_account_plan():
    """A model bucket in one account whose `approved/` replicates into a bucket of another account
    in each of two regions, each under that account's key, which trusts the source account."""
    def program():
        source = _provider("source", SOURCE_ACCOUNT, "eu-west-1")
        role_arn, resolve = pulumi.deferred_output()
        replicas = []
        for region in ("eu-west-1", "eu-central-1"):
            provider = _provider(f"destination-{region}", DESTINATION_ACCOUNT, region)
            opts = pulumi.ResourceOptions(provider=provider)
            key = KmsKey(f"replica-key-{region}", KmsKeyArgs(description="models", trusted_accounts=[SOURCE_ACCOUNT]),
                         opts=opts)
            replicas.append(EncryptedBucket(f"replica-{region}", EncryptedBucketArgs(
                kms_key=key, versioning=False, accepts_replicas_from=[role_arn], object_lock=ObjectLock(days=30)),
                opts=opts))
        key = KmsKey("models-key", KmsKeyArgs(description="models"), opts=pulumi.ResourceOptions(provider=source))
        models = EncryptedBucket("models", EncryptedBucketArgs(
            kms_key=key, object_lock=ObjectLock(days=30),
            replicate_to=[Replica(bucket=b, prefix="approved/", other_account=True) for b in replicas]),
            opts=pulumi.ResourceOptions(provider=source))
        resolve(models.replication_role_arn)

    return run_program(program, stack="component-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def _by_name(plan, type_):
    return {r.name: r for r in plan.of_type(type_)}


def test_a_prefix_replicates_into_each_bucket_of_another_account_which_owns_the_replicas(cross_account_plan):
    plan = cross_account_plan
    buckets = _by_name(plan, "aws:s3/bucket:Bucket")
    keys = _by_name(plan, "aws:kms/key:Key")
    (config,) = plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert config.inputs["bucket"] == buckets["models"].id
    rules = config.inputs["rules"]
    assert [r["destination"]["bucket"] for r in rules] == [buckets["replica-eu-west-1"].outputs["arn"],
                                                           buckets["replica-eu-central-1"].outputs["arn"]]
    assert sorted(r["priority"] for r in rules) == [1, 2] and len({r["id"] for r in rules}) == 2
    for rule, region in zip(rules, ("eu-west-1", "eu-central-1")):
        assert rule["filter"] == {"prefix": "approved/"} and rule["status"] == "Enabled"
        assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
        assert rule["destination"]["account"] == DESTINATION_ACCOUNT
        assert rule["destination"]["accessControlTranslation"] == {"owner": "Destination"}
        assert rule["destination"]["encryptionConfiguration"] == {
            "replicaKmsKeyId": keys[f"replica-key-{region}-key"].outputs["arn"]}
    # Not before each destination keeps versions and admits the role.
    policies = _by_name(plan, "aws:s3/bucketPolicy:BucketPolicy")
    assert {policies["replica-eu-west-1-policy"].urn, policies["replica-eu-central-1-policy"].urn} <= set(config.dependencies)


def test_the_replication_role_reads_only_the_prefix_and_writes_only_the_replicas(cross_account_plan):
    plan = cross_account_plan
    buckets = _by_name(plan, "aws:s3/bucket:Bucket")
    keys = _by_name(plan, "aws:kms/key:Key")
    role = _by_name(plan, "aws:iam/role:Role")["models-repl-role"]
    assert role.outputs["arn"].startswith(f"arn:aws:iam::{SOURCE_ACCOUNT}:role/")
    policy = json.loads(_by_name(plan, "aws:iam/rolePolicy:RolePolicy")["models-repl-policy"].inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ReadSourceVersions"]["Resource"] == buckets["models"].outputs["arn"] + "/approved/*"
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(statements["ReadSourceVersions"]["Action"])
    write = statements["WriteReplicasForOtherAccounts"]
    assert write["Action"] == ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"]
    assert write["Resource"] == [buckets[f"replica-{r}"].outputs["arn"] + "/approved/*" for r in ("eu-west-1", "eu-central-1")]
    assert "WriteReplicas" not in statements
    assert statements["EncryptReplicas"]["Resource"] == [keys[f"replica-key-{r}-key"].outputs["arn"]
                                                         for r in ("eu-west-1", "eu-central-1")]


def test_the_destination_admits_exactly_the_source_role(cross_account_plan):
    plan = cross_account_plan
    buckets = _by_name(plan, "aws:s3/bucket:Bucket")
    role_arn = _by_name(plan, "aws:iam/role:Role")["models-repl-role"].outputs["arn"]
    for region in ("eu-west-1", "eu-central-1"):
        arn = buckets[f"replica-{region}"].outputs["arn"]
        policy = json.loads(_by_name(plan, "aws:s3/bucketPolicy:BucketPolicy")[f"replica-{region}-policy"].inputs["policy"])
        allowed = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        assert {json.dumps(s["Principal"]) for s in allowed} == {json.dumps({"AWS": role_arn})}
        assert {(json.dumps(s["Action"]), json.dumps(s["Resource"])) for s in allowed} == {
            (json.dumps(["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"]),
             json.dumps(arn + "/*")),
            (json.dumps("s3:GetBucketVersioning"), json.dumps(arn)),
        }
        # A replication destination keeps versions whatever `versioning` says.
        assert buckets[f"replica-{region}"].id in [v.inputs["bucket"] for v in
                                                   plan.of_type("aws:s3/bucketVersioning:BucketVersioning")]


def test_replicating_sse_kms_objects_needs_named_keys(render_component):
    def program():
        archive = EncryptedBucket("archive", EncryptedBucketArgs())
        EncryptedBucket("staging", EncryptedBucketArgs(replicate_to=archive))
    with pytest.raises(Exception, match="needs a kms_key on this bucket and on the destination"):
        render_component(program)
