"""EcrRepository: immutable tags, scan on push, KMS with a CMK, untagged images expire."""

import json

import pytest

from blueprints.plan.engine import run_program
from components.ecr_repository import EcrRepository, EcrRepositoryArgs
from components.kms_key import KmsKey, KmsKeyArgs


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


def test_secure_defaults(render_component):
    plan = render_component(lambda: EcrRepository("trainer", EcrRepositoryArgs(repository_name="ml/trainer")))
    repo = one(plan, "aws:ecr/repository:Repository")
    assert repo.inputs["name"] == "ml/trainer"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    assert repo.inputs["forceDelete"] is False
    assert repo.outputs["repositoryUrl"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/trainer"
    (rule,) = json.loads(one(plan, "aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    assert rule["selection"]["tagStatus"] == "untagged" and rule["selection"]["countNumber"] == 14


def test_cmk_encryption(render_component):
    def program():
        key = KmsKey("models", KmsKeyArgs(description="models", service_principals=["ecr"]))
        EcrRepository("trainer", EcrRepositoryArgs(repository_name="ml/trainer", kms_key=key, untagged_expiry_days=None))

    plan = render_component(program)
    key = one(plan, "aws:kms/key:Key")
    assert one(plan, "aws:ecr/repository:Repository").inputs["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": key.outputs["arn"]}]
    assert not plan.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")


@pytest.mark.parametrize("repository_name", ["Trainer", "ml//trainer", "-ml", "a"])
def test_invalid_names_are_rejected(repository_name):
    with pytest.raises(Exception, match="not a valid ECR name"):
        run_program(lambda: EcrRepository("r", EcrRepositoryArgs(repository_name=repository_name)), stack="t",
                    config={"aws:region": "eu-west-1"}, secret_keys=[])
