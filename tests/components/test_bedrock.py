"""Bedrock building blocks: the guardrail and its published version, invocation logging, the
private bedrock-runtime endpoint, the ARNs an invoke policy names, the access policy (allow only
with the guardrail, deny without it) and the alarms. Each component is rendered once per module."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blueprints.plan import engine
from blueprints.plan.engine import Plan, run_program
from components.bedrock import (
    DEFAULT_PII_ENTITIES,
    INVOKE_ACTIONS,
    PII_ENTITY_TYPES,
    BedrockAccessPolicy,
    BedrockAccessPolicyArgs,
    BedrockAlarms,
    BedrockAlarmsArgs,
    BedrockEndpoint,
    BedrockEndpointArgs,
    BedrockGuardrail,
    BedrockGuardrailArgs,
    DeniedTopic,
    InvocationLogging,
    InvocationLoggingArgs,
    invocation_log_bucket_statements,
    model_resource_arns,
)
from components.encrypted_bucket import EncryptedBucket, EncryptedBucketArgs
from components.kms_key import KmsKey, KmsKeyArgs
from tests.components.serving_stack import one

REGION = "eu-west-1"
ACCOUNT = engine.ACCOUNT_ID
EU = {"eu": ["eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"]}
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
TOPIC = DeniedTopic(name="investment-advice", definition="Recommendations to buy or sell specific securities.",
                    examples=["Should I buy ACME shares?"])
GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"


def render(program) -> Plan:
    return run_program(program, stack="bedrock-test", config={"aws:region": REGION}, secret_keys=[])


def statements(document: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


# -- shared renders -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded() -> Plan:
    """A CMK-encrypted guardrail that blocks the default PII set, with a denied topic, and the
    access policy (with an application role, through one endpoint) and alarms built on it."""

    def program():
        key = KmsKey("fm", KmsKeyArgs(description="fm"))
        guardrail = BedrockGuardrail("fm-guard", BedrockGuardrailArgs(denied_topics=[TOPIC], kms_key=key))
        arns = model_resource_arns([SONNET, TITAN], region=REGION, account_id=ACCOUNT, geography_regions=EU)
        BedrockAccessPolicy("fm-access", BedrockAccessPolicyArgs(
            model_arns=arns, guardrail=guardrail, source_vpce_ids=["vpce-0123456789abcdef0"],
            application_role_trust=[f"arn:aws:iam::{ACCOUNT}:role/app"]))
        BedrockAlarms("fm-alarms", BedrockAlarmsArgs(
            topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms", model_ids=[SONNET, TITAN], guardrail=guardrail))

    return render(program)


@pytest.fixture(scope="module")
def loose() -> Plan:
    """The laxest guardrail the component allows beside a stricter one: anonymised PII, no prompt
    attack filter; no PII policy at all; and an access policy with no endpoint and no role."""

    def program():
        anonymize = BedrockGuardrail("anon", BedrockGuardrailArgs(pii_action="ANONYMIZE", prompt_attack="NONE",
                                                                  pii_entities=["EMAIL", "PHONE"]))
        BedrockGuardrail("nopii", BedrockGuardrailArgs(pii_action="NONE", prompt_attack="MEDIUM",
                                                       content_strength="NONE"))
        # The account as an Output, the way a blueprint has it: model_resource_arns inside apply().
        account = anonymize.aws_account_id
        BedrockAccessPolicy("open", BedrockAccessPolicyArgs(
            model_arns=account.apply(lambda a: model_resource_arns([TITAN], region=REGION, account_id=a,
                                                                   geography_regions={})),
            guardrail=anonymize))

    return render(program)


@pytest.fixture(scope="module")
def logging_plan() -> Plan:
    def program():
        key = KmsKey("logs", KmsKeyArgs(description="logs", service_principals=["logs", "bedrock"]))
        bucket_name = f"fm-invocations-{ACCOUNT}-{REGION}"
        bucket = EncryptedBucket("fm-invocations", EncryptedBucketArgs(
            bucket_name=bucket_name, kms_key=key,
            policy_statements=invocation_log_bucket_statements(
                f"arn:aws:s3:::{bucket_name}", ACCOUNT, REGION, key_prefix="fm")))
        InvocationLogging("fm-logging", InvocationLoggingArgs(
            bucket_name=bucket.bucket_name, key_prefix="fm", retention_days=2557, kms_key=key, depends_on=[bucket]))

    return render(program)


@pytest.fixture(scope="module")
def endpoint_plan() -> Plan:
    def program():
        BedrockEndpoint("fm-runtime", BedrockEndpointArgs(
            vpc_id="vpc-0abc", subnet_ids=["subnet-a", "subnet-b"], client_cidrs=["10.40.0.0/16"],
            client_security_group_ids=["sg-0client"],
            model_arns=model_resource_arns([SONNET], region=REGION, account_id=ACCOUNT, geography_regions=EU),
            guardrail_arn=f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abc123def456",
            principal_accounts=[ACCOUNT]))

    return render(program)


# -- 1. guardrail -------------------------------------------------------------------------------


def test_guardrail_blocks_pii_filters_content_and_prompt_attacks_and_denies_topics(guarded):
    guardrail = one(guarded, GUARDRAIL)
    pii = guardrail.inputs["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"]
    assert [p["type"] for p in pii] == list(DEFAULT_PII_ENTITIES) and {p["action"] for p in pii} == {"BLOCK"}
    assert {"NAME", "EMAIL", "US_SOCIAL_SECURITY_NUMBER", "CREDIT_DEBIT_CARD_NUMBER"} <= {p["type"] for p in pii}
    filters = {f["type"]: f for f in guardrail.inputs["contentPolicyConfig"]["filtersConfigs"]}
    assert filters.pop("PROMPT_ATTACK") == {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"}
    assert set(filters) == {"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"}
    assert all(f["inputStrength"] == f["outputStrength"] == "HIGH" for f in filters.values())
    (topic,) = guardrail.inputs["topicPolicyConfig"]["topicsConfigs"]
    assert topic == {"name": "investment-advice", "definition": TOPIC.definition, "type": "DENY",
                     "examples": ["Should I buy ACME shares?"]}
    assert "blocked by" in guardrail.inputs["blockedInputMessaging"] and "blocked by" in guardrail.inputs["blockedOutputsMessaging"]
    assert guardrail.inputs["name"] == "fm-guard"


def test_guardrail_is_encrypted_with_the_cmk(guarded, loose):
    key = one(guarded, "aws:kms/key:Key")
    assert one(guarded, GUARDRAIL).inputs["kmsKeyArn"] == key.outputs["arn"]
    assert all("kmsKeyArn" not in g.inputs for g in loose.of_type(GUARDRAIL))


def test_anonymize_and_none_shape_the_policies(loose):
    guardrails = {g.name: g for g in loose.of_type(GUARDRAIL)}
    anon = guardrails["anon"].inputs
    assert anon["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"] == [
        {"type": "EMAIL", "action": "ANONYMIZE"}, {"type": "PHONE", "action": "ANONYMIZE"}]
    assert "PROMPT_ATTACK" not in {f["type"] for f in anon["contentPolicyConfig"]["filtersConfigs"]}
    nopii = guardrails["nopii"].inputs
    assert "sensitiveInformationPolicyConfig" not in nopii  # NONE: no sensitive-information policy at all
    assert nopii["contentPolicyConfig"]["filtersConfigs"] == [
        {"type": "PROMPT_ATTACK", "inputStrength": "MEDIUM", "outputStrength": "NONE"}]


def test_a_published_version_of_the_guardrail_is_what_iam_compares(guarded):
    guardrail, version = one(guarded, GUARDRAIL), one(guarded, VERSION)
    assert version.inputs["guardrailArn"] == guardrail.outputs["guardrailArn"]
    assert version.parent == guardrail.parent
    component = one(guarded, "aiblueprints:bedrock:BedrockGuardrail")
    assert guardrail.parent == component.urn


def test_version_description_changes_with_the_policies(guarded, loose):
    """A policy change must publish a new version: the description (which forces replacement)
    carries a digest of the policies."""
    descriptions = {v.inputs["description"] for v in [*guarded.of_type(VERSION), *loose.of_type(VERSION)]}
    assert len(descriptions) == 3


def test_guardrail_args_that_aws_rejects_raise_naming_the_arg():
    cases = [
        (BedrockGuardrailArgs(guardrail_name="has space"), "guardrail_name"),
        (BedrockGuardrailArgs(guardrail_name="x" * 51), "guardrail_name"),
        (BedrockGuardrailArgs(pii_entities=["NAME", "SHOE_SIZE"]), "pii_entities"),
        (BedrockGuardrailArgs(pii_entities=[]), "pii_entities"),
        (BedrockGuardrailArgs(pii_action="REDACT"), "pii_action"),  # type: ignore[arg-type]
        (BedrockGuardrailArgs(prompt_attack="EXTREME"), "prompt_attack"),  # type: ignore[arg-type]
        (BedrockGuardrailArgs(denied_topics=[DeniedTopic(name="t", definition="")]), "definition"),
        (BedrockGuardrailArgs(denied_topics=[DeniedTopic(name="t", definition="d" * 201)]), "definition"),
        (BedrockGuardrailArgs(denied_topics=[DeniedTopic(name="t/x", definition="d")]), "denied_topics"),
        (BedrockGuardrailArgs(denied_topics=[DeniedTopic(name="t", definition="d", examples=["e"] * 6)]), "examples"),
        (BedrockGuardrailArgs(denied_topics=[DeniedTopic(name=f"t{i}", definition="d") for i in range(31)]),
         "denied_topics"),
        (BedrockGuardrailArgs(denied_topics=[TOPIC, TOPIC]), "denied_topics"),
        (BedrockGuardrailArgs(blocked_input_message=""), "blocked_input_message"),
        (BedrockGuardrailArgs(pii_action="NONE", prompt_attack="NONE", content_strength="NONE"), "at least one policy"),
    ]
    for args, needle in cases:
        with pytest.raises(ValueError, match=needle):
            render(lambda args=args: BedrockGuardrail("bad", args))
    assert set(DEFAULT_PII_ENTITIES) <= set(PII_ENTITY_TYPES)


# -- 2. invocation logging ----------------------------------------------------------------------


def test_logging_configuration_delivers_everything_to_cloudwatch_and_s3(logging_plan):
    config = one(logging_plan, "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration")
    logging = config.inputs["loggingConfig"]
    bucket = one(logging_plan, "aws:s3/bucket:Bucket").outputs["bucket"]
    group = one(logging_plan, "aws:cloudwatch/logGroup:LogGroup", "fm-logging-logs")
    role = one(logging_plan, "aws:iam/role:Role", "fm-logging-role")
    assert logging["s3Config"] == {"bucketName": bucket, "keyPrefix": "fm"}
    assert logging["cloudwatchConfig"] == {"logGroupName": group.outputs["name"], "roleArn": role.outputs["arn"],
                                           "largeDataDeliveryS3Config": {"bucketName": bucket, "keyPrefix": "fm"}}
    assert all(logging[f"{kind}DataDeliveryEnabled"] is True for kind in ("text", "image", "embedding", "video"))
    # Bedrock checks the destinations when logging is configured: bucket policy and role first.
    by_urn = logging_plan.by_urn()
    waits_for = {by_urn[d].name for d in config.dependencies}
    assert {"fm-logging-role-policy", "fm-logging-logs", "fm-invocations-policy"} <= waits_for


def test_log_group_is_encrypted_retained_and_protected(logging_plan):
    group = one(logging_plan, "aws:cloudwatch/logGroup:LogGroup", "fm-logging-logs")
    key = one(logging_plan, "aws:kms/key:Key")
    assert group.inputs["name"] == "/aws/bedrock/fm-logging/model-invocations"
    assert group.inputs["retentionInDays"] == 2557 and group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert group.protect is True


def test_only_bedrock_of_this_account_and_region_may_assume_the_logging_role(logging_plan):
    role = one(logging_plan, "aws:iam/role:Role", "fm-logging-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                                  "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:*"}}
    policy = one(logging_plan, "aws:iam/rolePolicy:RolePolicy", "fm-logging-role-policy")
    (write,) = json.loads(policy.inputs["policy"])["Statement"]
    group = one(logging_plan, "aws:cloudwatch/logGroup:LogGroup", "fm-logging-logs")
    assert write["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert write["Resource"] == group.outputs["arn"] + ":log-stream:aws/bedrock/modelinvocations"


def test_bucket_statement_admits_bedrock_of_this_account_under_the_prefix_only(logging_plan):
    policy = one(logging_plan, "aws:s3/bucketPolicy:BucketPolicy")
    write = statements(policy.inputs["policy"])["AmazonBedrockLogsWrite"]
    assert write["Principal"] == {"Service": "bedrock.amazonaws.com"} and write["Action"] == "s3:PutObject"
    assert write["Resource"] == f"arn:aws:s3:::fm-invocations-{ACCOUNT}-{REGION}/fm/*"
    assert write["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                                  "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:*"}}


def test_logging_args_that_aws_rejects_raise_naming_the_arg():
    with pytest.raises(ValueError, match="key_prefix"):
        render(lambda: InvocationLogging("bad", InvocationLoggingArgs(bucket_name="b", key_prefix="/fm/")))
    with pytest.raises(ValueError, match="retention_days"):
        render(lambda: InvocationLogging("bad", InvocationLoggingArgs(bucket_name="b", retention_days=42)))
    with pytest.raises(ValueError, match="key_prefix"):
        invocation_log_bucket_statements("arn:aws:s3:::b", ACCOUNT, REGION, key_prefix="")


# -- 3. endpoint --------------------------------------------------------------------------------


def test_endpoint_is_private_bedrock_runtime_in_the_given_subnets(endpoint_plan):
    endpoint = one(endpoint_plan, "aws:ec2/vpcEndpoint:VpcEndpoint")
    group = one(endpoint_plan, "aws:ec2/securityGroup:SecurityGroup")
    assert endpoint.inputs["serviceName"] == f"com.amazonaws.{REGION}.bedrock-runtime"
    assert endpoint.inputs["vpcEndpointType"] == "Interface" and endpoint.inputs["privateDnsEnabled"] is True
    assert endpoint.inputs["subnetIds"] == ["subnet-a", "subnet-b"]
    assert endpoint.inputs["securityGroupIds"] == [group.outputs["id"]]


def test_endpoint_security_group_admits_https_from_the_clients_only(endpoint_plan):
    rules = endpoint_plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert len(rules) == 2
    assert all((r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", 443, 443) for r in rules)
    assert sorted(r.inputs.get("cidrIpv4") or r.inputs["referencedSecurityGroupId"] for r in rules) == [
        "10.40.0.0/16", "sg-0client"]
    assert not endpoint_plan.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")


def test_endpoint_policy_lists_only_the_given_models_and_the_guardrail(endpoint_plan):
    policy = statements(one(endpoint_plan, "aws:ec2/vpcEndpoint:VpcEndpoint").inputs["policy"])
    assert set(policy) == {"InvokeListedModels", "ApplyTheGuardrail"}
    invoke = policy["InvokeListedModels"]
    assert invoke["Action"] == list(INVOKE_ACTIONS) and invoke["Principal"] == "*"
    assert invoke["Resource"] == model_resource_arns([SONNET], region=REGION, account_id=ACCOUNT, geography_regions=EU)
    assert not any("*" in arn for arn in invoke["Resource"])
    assert invoke["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    apply = policy["ApplyTheGuardrail"]
    assert apply["Action"] == "bedrock:ApplyGuardrail"
    assert apply["Resource"] == f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abc123def456"


def test_an_endpoint_without_a_guardrail_admits_no_apply_guardrail_call():
    plan = render(lambda: BedrockEndpoint("fm-training", BedrockEndpointArgs(
        vpc_id="vpc-0abc", subnet_ids=["subnet-a"], client_cidrs=["10.20.0.0/16"],
        model_arns=model_resource_arns([SONNET], region=REGION, account_id=ACCOUNT, geography_regions=EU),
        guardrail_arn=None, principal_accounts=[ACCOUNT])))
    assert set(statements(one(plan, "aws:ec2/vpcEndpoint:VpcEndpoint").inputs["policy"])) == {"InvokeListedModels"}


def test_endpoint_args_that_open_it_up_raise_naming_the_arg():
    base = dict(vpc_id="vpc-1", subnet_ids=["subnet-a"], model_arns=["arn:aws:bedrock:eu-west-1::foundation-model/a.b"],
                guardrail_arn="arn:g", principal_accounts=[ACCOUNT], client_cidrs=["10.0.0.0/16"])
    for change, needle in [({"client_cidrs": ["0.0.0.0/0"]}, "client_cidrs"),
                           ({"client_cidrs": ["not-a-cidr"]}, "client_cidrs"),
                           ({"client_cidrs": []}, "client_cidrs or client_security_group_ids"),
                           ({"principal_accounts": []}, "principal_accounts"),
                           ({"principal_accounts": ["12345"]}, "principal_accounts"),
                           ({"model_arns": []}, "model_arns"),
                           ({"subnet_ids": []}, "subnet_ids")]:
        with pytest.raises(ValueError, match=needle):
            render(lambda change=change: BedrockEndpoint("bad", BedrockEndpointArgs(**{**base, **change})))


# -- 4. model ARNs ------------------------------------------------------------------------------


def test_a_base_model_is_its_foundation_model_arn_in_the_region():
    assert model_resource_arns([TITAN], region=REGION, account_id=ACCOUNT, geography_regions={}) == [
        f"arn:aws:bedrock:{REGION}::foundation-model/{TITAN}"]


def test_a_geographic_profile_is_the_profile_and_the_model_in_every_region_of_its_geography():
    arns = model_resource_arns([SONNET], region=REGION, account_id=ACCOUNT, partition="aws", geography_regions=EU)
    base = SONNET.removeprefix("eu.")
    assert arns == [f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{SONNET}",
                    *(f"arn:aws:bedrock:{r}::foundation-model/{base}"
                      for r in ["eu-west-1", "eu-central-1", "eu-west-3", "eu-north-1"])]


def test_a_global_profile_adds_the_region_less_model_arn():
    arns = model_resource_arns(["global.anthropic.claude-sonnet-4-5-20250929-v1:0"], region="us-east-1",
                               account_id=ACCOUNT, partition="aws-us-gov", geography_regions={})
    assert arns == [
        f"arn:aws-us-gov:bedrock:us-east-1:{ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws-us-gov:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws-us-gov:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]


def test_model_ids_that_are_not_ids_or_lack_a_geography_raise():
    with pytest.raises(ValueError, match="model_ids"):
        model_resource_arns(["not a model"], region=REGION, account_id=ACCOUNT, geography_regions=EU)
    with pytest.raises(ValueError, match="geography_regions"):
        model_resource_arns(["us.amazon.nova-pro-v1:0"], region=REGION, account_id=ACCOUNT, geography_regions=EU)


# -- 5. access policy ---------------------------------------------------------------------------


def test_access_policy_allows_only_the_listed_models_with_the_published_guardrail(guarded):
    policy = statements(one(guarded, "aws:iam/policy:Policy").inputs["policy"])
    guardrail, version = one(guarded, GUARDRAIL), one(guarded, VERSION)
    condition_value = f"{guardrail.outputs['guardrailArn']}:{version.outputs['version']}"
    assert condition_value.endswith(":1")  # the published version, not DRAFT
    invoke = policy["InvokeListedModelsWithTheGuardrail"]
    assert invoke["Effect"] == "Allow" and invoke["Action"] == list(INVOKE_ACTIONS)
    assert invoke["Resource"] == model_resource_arns([SONNET, TITAN], region=REGION, account_id=ACCOUNT,
                                                     geography_regions=EU)
    assert invoke["Condition"] == {"StringEquals": {"bedrock:GuardrailIdentifier": condition_value,
                                                    "aws:SourceVpce": "vpce-0123456789abcdef0"}}
    apply = policy["ApplyTheGuardrail"]
    assert apply["Action"] == "bedrock:ApplyGuardrail" and apply["Resource"] == guardrail.outputs["guardrailArn"]


def test_access_policy_denies_invocation_without_the_guardrail_or_outside_the_endpoint(guarded):
    policy = statements(one(guarded, "aws:iam/policy:Policy").inputs["policy"])
    guardrail, version = one(guarded, GUARDRAIL), one(guarded, VERSION)
    deny = policy["DenyInvokeWithoutTheGuardrail"]
    # StringNotEquals (not ...IfExists): a request naming no guardrail lacks the key and is denied.
    assert deny == {"Sid": "DenyInvokeWithoutTheGuardrail", "Effect": "Deny", "Action": list(INVOKE_ACTIONS),
                    "Resource": "*", "Condition": {"StringNotEquals": {
                        "bedrock:GuardrailIdentifier": f"{guardrail.outputs['guardrailArn']}:{version.outputs['version']}"}}}
    outside = policy["DenyOutsideTheEndpoints"]
    assert outside["Effect"] == "Deny" and outside["Resource"] == "*"
    assert set(outside["Action"]) == {*INVOKE_ACTIONS, "bedrock:ApplyGuardrail"}
    assert outside["Condition"] == {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}
    key = one(guarded, "aws:kms/key:Key")
    assert policy["DecryptTheGuardrail"] == {"Sid": "DecryptTheGuardrail", "Effect": "Allow", "Action": "kms:Decrypt",
                                             "Resource": key.outputs["arn"]}


def test_without_endpoints_or_cmk_there_is_no_endpoint_condition_and_nothing_to_decrypt(loose):
    policy = statements(one(loose, "aws:iam/policy:Policy").inputs["policy"])
    assert set(policy) == {"InvokeListedModelsWithTheGuardrail", "ApplyTheGuardrail", "DenyInvokeWithoutTheGuardrail"}
    assert set(policy["InvokeListedModelsWithTheGuardrail"]["Condition"]["StringEquals"]) == {"bedrock:GuardrailIdentifier"}
    assert policy["InvokeListedModelsWithTheGuardrail"]["Resource"] == [f"arn:aws:bedrock:{REGION}::foundation-model/{TITAN}"]
    assert not loose.of_type("aws:iam/role:Role")


def test_application_role_trusts_the_given_principals_and_carries_the_policy(guarded):
    role = one(guarded, "aws:iam/role:Role", "fm-access-app-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"},
                     "Action": "sts:AssumeRole"}
    attachment = one(guarded, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["role"] == role.outputs["name"]
    assert attachment.inputs["policyArn"] == one(guarded, "aws:iam/policy:Policy").outputs["arn"]


def test_access_args_that_aws_rejects_raise_naming_the_arg():
    def program(**change):
        guardrail = BedrockGuardrail("g", BedrockGuardrailArgs())
        BedrockAccessPolicy("bad", BedrockAccessPolicyArgs(**{"model_arns": ["arn:m"], "guardrail": guardrail, **change}))

    for change, needle in [({"model_arns": []}, "model_arns"),
                           ({"application_role_trust": []}, "application_role_trust"),
                           ({"application_role_trust": ["*"]}, "application_role_trust")]:
        with pytest.raises(ValueError, match=needle):
            render(lambda change=change: program(**change))


# -- 6. alarms ----------------------------------------------------------------------------------


def test_guardrail_intervention_alarm_watches_the_published_version(guarded):
    alarm = one(guarded, "aws:cloudwatch/metricAlarm:MetricAlarm", "fm-alarms-guardrail-interventions")
    guardrail, version = one(guarded, GUARDRAIL), one(guarded, VERSION)
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == ("AWS/Bedrock/Guardrails", "InvocationsIntervened")
    assert alarm.inputs["dimensions"] == {"GuardrailArn": guardrail.outputs["guardrailArn"],
                                          "GuardrailVersion": version.outputs["version"]}
    assert alarm.inputs["threshold"] == 50 and alarm.inputs["treatMissingData"] == "notBreaching"
    assert alarm.inputs["alarmActions"] == [f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"]


def test_throttle_and_error_alarms_per_model(guarded):
    alarms = [a for a in guarded.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.inputs["namespace"] == "AWS/Bedrock"]
    seen = {(a.inputs["metricName"], a.inputs["dimensions"]["ModelId"]) for a in alarms}
    assert seen == {(m, model) for m in ("InvocationThrottles", "InvocationServerErrors", "InvocationClientErrors")
                    for model in (SONNET, TITAN)}
    assert len(alarms) == 6
    assert all(a.inputs["treatMissingData"] == "notBreaching" and a.inputs["statistic"] == "Sum" for a in alarms)


def test_alarm_args_that_make_no_sense_raise_naming_the_arg():
    for change, needle in [({"model_ids": []}, "model_ids"), ({"model_ids": [TITAN, TITAN]}, "model_ids"),
                           ({"throttles_per_5min": 0}, "throttles_per_5min")]:
        args = {"topic_arn": "arn:aws:sns:eu-west-1:123456789012:t", "model_ids": [TITAN], **change}
        with pytest.raises(ValueError, match=needle):
            render(lambda args=args: BedrockAlarms("bad", BedrockAlarmsArgs(**args)))
