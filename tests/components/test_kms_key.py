"""KmsKey: customer managed, rotation on, policy scoped to the account and named services."""

import json

import pytest

from components.kms_key import KmsKey, KmsKeyArgs


@pytest.fixture
def key_plan(render_component):
    return render_component(lambda: KmsKey("data", KmsKeyArgs(description="training data", service_principals=["s3", "logs"],
                                                                grant_services=["fsx"])))


def test_key_is_symmetric_with_rotation_and_longest_deletion_window(key_plan):
    (key,) = key_plan.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["rotationPeriodInDays"] == 365
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.inputs["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    (component,) = key_plan.of_type("aiblueprints:kms:KmsKey")
    assert key.parent == component.urn


def test_policy_admins_are_the_account_and_services_are_scoped(key_plan):
    (key,) = key_plan.of_type("aws:kms/key:Key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["AccountAdministersKeyThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    s3 = statements["AllowS3Use"]
    assert s3["Principal"] == {"Service": "s3.amazonaws.com"}
    assert s3["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "kms:CreateGrant" not in s3["Action"]
    logs = statements["AllowLogsUse"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == "arn:aws:logs:eu-west-1:123456789012:*"
    assert "kms:CreateGrant" in statements["AllowFsxUse"]["Action"]
    assert not any(s["Principal"] == "*" or s["Principal"] == {"AWS": "*"} for s in statements.values())


def test_alias_points_at_the_key(key_plan):
    (alias,) = key_plan.of_type("aws:kms/alias:Alias")
    (key,) = key_plan.of_type("aws:kms/key:Key")
    assert alias.inputs["name"] == "alias/data"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


def test_rotation_period_outside_aws_limits_is_rejected():
    from blueprints.plan.engine import run_program

    with pytest.raises(ValueError, match="rotation_period_days must be 90-2560"):
        run_program(lambda: KmsKey("k", KmsKeyArgs(description="x", rotation_period_days=30)), stack="t",
                    config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_service_linked_roles_get_use_and_grant_by_condition_not_by_name(render_component):
    plan = render_component(lambda: KmsKey("ebs", KmsKeyArgs(
        description="ebs", service_linked_roles=["autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"])))
    (key,) = plan.of_type("aws:kms/key:Key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    slr = statements["AllowServiceLinkedRoleAutoScaling"]
    # KMS rejects a principal that does not exist yet; conditions are not validated.
    assert slr["Principal"] == {"AWS": "*"}
    assert slr["Condition"] == {
        "StringEquals": {"aws:PrincipalAccount": "123456789012"},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"},
    }
    assert "kms:CreateGrant" in slr["Action"]
    # No statement names a principal that may not exist, and no wildcard goes unconditioned.
    for statement in statements.values():
        principal = statement["Principal"]
        assert "aws-service-role" not in json.dumps(principal)
        assert principal != {"AWS": "*"} or statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "123456789012"


def test_eventbridge_use_carries_no_source_condition(render_component):
    """EventBridge's KMS requests for an encrypted SNS topic carry no aws:SourceAccount: a
    condition on it would drop every finding silently."""
    plan = render_component(lambda: KmsKey("alerts", KmsKeyArgs(description="alerts", service_principals=["events", "sns"])))
    (key,) = plan.of_type("aws:kms/key:Key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert "Condition" not in statements["AllowEventsUse"]
    assert statements["AllowSnsUse"]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
