"""EncryptedBucket: private, SSE-KMS with a bucket key, TLS-only, versioned by default."""

import json

import pytest

from blueprints.engine import run_program
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs, ObjectLock
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
    assert "s3:ReplicateDelete" not in json.dumps(policy)


@pytest.mark.parametrize("source,message", [
    ({"object_lock": ObjectLock(days=10)}, "needs a token from AWS Support"),
])
def test_replicate_to_refuses_what_s3_cannot_do(render_component, source, message):
    with pytest.raises(Exception, match=message):
        _replicated(render_component, **source)


def test_replicating_sse_kms_objects_needs_named_keys(render_component):
    def program():
        archive = EncryptedBucket("archive", EncryptedBucketArgs())
        EncryptedBucket("staging", EncryptedBucketArgs(replicate_to=archive))
    with pytest.raises(Exception, match="needs a kms_key on this bucket and on the destination"):
        render_component(program)
