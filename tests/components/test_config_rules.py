"""ConfigRules: AWS managed rules, change-triggered ones scoped by type and tag, periodic ones with
no scope (AWS Config rejects one), all after the recorder the program creates."""

import json

import pytest

from components.config_recorder import ConfigRecorder, ConfigRecorderArgs
from components.config_rules import ConfigRules, ConfigRulesArgs, ManagedRule
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs

RULE = "aws:cfg/rule:Rule"
TLS = ManagedRule(name="tls", identifier="S3_BUCKET_SSL_REQUESTS_ONLY", resource_types=["AWS::S3::Bucket"])
RETENTION = ManagedRule(name="retention", identifier="CW_LOGGROUP_RETENTION_PERIOD_CHECK", periodic=True,
                        resource_types=["AWS::Logs::LogGroup"], parameters={"MinRetentionTime": "365"})


@pytest.fixture(scope="module")
def plan():
    from blueprints.plan.engine import run_program

    def program():
        bucket = EncryptedBucket("config-bucket", EncryptedBucketArgs())
        recorder = ConfigRecorder("config", ConfigRecorderArgs(bucket=bucket))
        ConfigRules("rules", ConfigRulesArgs(rules=[TLS, RETENTION], name_prefix="demo-", tag_key="Blueprint",
                                             tag_value="demo", recorder=recorder, tags={"Blueprint": "demo"}))
        ConfigRules("org", ConfigRulesArgs(rules=[TLS], name_prefix="org-"))
    return run_program(program, stack="rules-test", config={"aws:region": "eu-west-1"}, secret_keys=[])


def rules(plan):
    return {r.inputs["name"]: r for r in plan.of_type(RULE)}


def test_change_triggered_rules_are_scoped_by_type_and_tag_with_no_frequency(plan):
    tls = rules(plan)["demo-tls"]
    assert tls.inputs["source"] == {"owner": "AWS", "sourceIdentifier": "S3_BUCKET_SSL_REQUESTS_ONLY"}
    assert tls.inputs["scope"] == {"complianceResourceTypes": ["AWS::S3::Bucket"], "tagKey": "Blueprint",
                                   "tagValue": "demo"}
    assert "maximumExecutionFrequency" not in tls.inputs and "inputParameters" not in tls.inputs
    assert tls.inputs["tags"]["Blueprint"] == "demo"


def test_periodic_rules_have_no_scope_and_carry_their_parameters(plan):
    retention = rules(plan)["demo-retention"]
    assert "scope" not in retention.inputs
    assert retention.inputs["maximumExecutionFrequency"] == "TwentyFour_Hours"
    assert json.loads(retention.inputs["inputParameters"]) == {"MinRetentionTime": "365"}


def test_rules_wait_for_the_recorder_being_on_and_only_for_one_the_program_creates(plan):
    (status,) = plan.of_type("aws:cfg/recorderStatus:RecorderStatus")
    found = rules(plan)
    assert status.urn in found["demo-tls"].dependencies and status.urn in found["demo-retention"].dependencies
    assert not any("aws:cfg/" in dep for dep in found["org-tls"].dependencies)
    assert "scope" in found["org-tls"].inputs and "tagKey" not in found["org-tls"].inputs["scope"]


@pytest.mark.parametrize("args, message", [
    (ConfigRulesArgs(rules=[TLS, TLS]), "'tls' is used twice"),
    (ConfigRulesArgs(rules=[ManagedRule(name="x", identifier="S3_BUCKET_SSL_REQUESTS_ONLY")]),
     "S3_BUCKET_SSL_REQUESTS_ONLY is change-triggered: name the resource types"),
    (ConfigRulesArgs(rules=[TLS], tag_value="demo"), "tag_value needs tag_key"),
    (ConfigRulesArgs(rules=[TLS], name_prefix="x" * 126), "longer than 128 characters"),
])
def test_impossible_rule_sets_are_refused_before_anything_is_created(args, message, render_component):
    with pytest.raises(Exception, match=message):
        render_component(lambda: ConfigRules("bad", args))
