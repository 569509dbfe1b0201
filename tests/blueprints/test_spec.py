"""Every tier rule of the spec, with a passing and a failing config, and the shape errors."""

import pytest

from blueprints.spec import CONFIG_KEY, SpecError, parse_spec
from tests.conftest import DELETE, spec_config


def problems_of(tier, changes=None, region="eu-west-1", secret=False):
    try:
        parse_spec(spec_config(tier, changes), region=region, token_is_secret=secret)
    except SpecError as exc:
        return exc.problems
    return []


def only(problems):
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize("tier", ["public", "internal", "confidential", "restricted"])
def test_base_config_of_every_tier_is_valid(tier):
    assert problems_of(tier) == []


def test_tier_defaults_are_applied():
    spec = parse_spec(spec_config("public"), region="us-east-1")
    assert spec.auth == "iam"
    assert spec.residency == "any"
    assert spec.inference_regions == ["us-east-1"]
    assert spec.training.capacity == "on-demand"
    assert spec.tags["DataClassification"] == "public"


# -- residency -----------------------------------------------------------------------

@pytest.mark.parametrize("tier", ["confidential", "restricted"])
def test_residency_is_required_on_confidential_and_restricted(tier):
    line = only(problems_of(tier, {"residency": DELETE}))
    assert line.startswith("residency:") and f"tier {tier}" in line and "rule: residency required" in line


def test_residency_is_optional_on_internal():
    assert problems_of("internal", {"residency": DELETE}) == []


def test_home_region_outside_residency_is_rejected():
    line = only(problems_of("restricted", region="us-east-1"))
    assert line.startswith("aws:region:") and "outside residency 'eu'" in line


def test_inference_region_outside_residency_names_its_index():
    line = only(problems_of("confidential", {"inference": {"regions": ["eu-west-1", "us-east-1"]}}))
    assert line.startswith("inference.regions[1]:") and "rule: every region within the residency" in line


def test_any_residency_allows_any_known_region():
    assert problems_of("public", {"inference": {"regions": ["ap-southeast-2"]}}, region="us-west-2") == []


def test_unknown_region_is_rejected():
    assert only(problems_of("public", region="eu-west-9")).startswith("aws:region: 'eu-west-9' is not an AWS region")


# -- inference regions (min) -----------------------------------------------------------

@pytest.mark.parametrize("tier", ["confidential", "restricted"])
def test_two_inference_regions_are_required(tier):
    line = only(problems_of(tier, {"inference": {"regions": ["eu-west-1"]}}))
    assert line.startswith("inference.regions:") and "at least 2 regions" in line and f"tier {tier}" in line


def test_one_inference_region_is_enough_on_internal():
    assert problems_of("internal", {"inference": {"regions": ["eu-west-1"]}}) == []


def test_duplicate_regions_are_rejected():
    assert "listed twice" in problems_of("public", {"inference": {"regions": ["eu-west-1", "eu-west-1"]}})[0]


# -- API auth ---------------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["cognito", "jwt"])
def test_restricted_allows_iam_auth_only(auth):
    line = problems_of("restricted", {"inference": {"auth": auth, "jwtIssuer": "https://id.example.com/"}})
    assert any(p.startswith("inference.auth:") and "use one of iam" in p and "rule: API auth" in p for p in line)


def test_confidential_forbids_jwt_but_allows_cognito():
    assert only(problems_of("confidential", {"inference": {"auth": "jwt", "jwtIssuer": "https://id.example.com/"}})) \
        .startswith("inference.auth: 'jwt' is not allowed; use one of iam, cognito")
    assert problems_of("confidential", {"inference": {"auth": "cognito"}}) == []


def test_public_allows_jwt_with_an_issuer():
    assert problems_of("public", {"inference": {"auth": "jwt", "jwtIssuer": "https://id.example.com/"}}) == []
    assert only(problems_of("public", {"inference": {"auth": "jwt"}})).startswith("inference.jwtIssuer: required")


# -- spot capacity ------------------------------------------------------------------------

def test_restricted_forbids_spot_training():
    line = only(problems_of("restricted", {"training": {"capacity": "spot"}}))
    assert line == "training.capacity: 'spot' is not allowed; use on-demand (tier restricted, rule: spot capacity)"


def test_confidential_allows_spot_training_only():
    assert problems_of("confidential", {"training": {"capacity": "spot"}}) == []
    assert only(problems_of("confidential", {"inference": {"capacity": "spot"}})).startswith("inference.capacity:")


def test_internal_allows_spot_inference():
    assert problems_of("internal", {"inference": {"capacity": "spot"}, "training": {"capacity": "spot"}}) == []


# -- EKS public endpoint allowlist --------------------------------------------------------

def test_private_only_tiers_reject_admin_cidrs():
    line = only(problems_of("confidential", {"adminCidrs": ["203.0.113.0/24"]}))
    assert line.startswith("adminCidrs:") and "rule: EKS API endpoint" in line


def test_internal_allowlist_must_not_be_the_internet():
    assert only(problems_of("internal", {"adminCidrs": ["0.0.0.0/0"]})).startswith("adminCidrs: 0.0.0.0/0 is not an allowlist")
    assert problems_of("internal", {"adminCidrs": ["203.0.113.0/24"]}) == []


def test_admin_cidrs_must_be_cidrs():
    assert only(problems_of("public", {"adminCidrs": ["10.0.0.1/8"]})).startswith("adminCidrs: ")


# -- deployer networks (private EKS endpoints) -------------------------------------------

@pytest.mark.parametrize("cidrs", [["10.100.0.0/16"], ["172.16.4.0/22", "192.168.0.0/24", "100.64.0.0/16"]])
def test_private_deployer_networks_are_accepted(cidrs):
    spec = parse_spec(spec_config("restricted", {"deployerCidrs": cidrs}), region="eu-west-1", token_is_secret=False)
    assert spec.model.deployer_cidrs == cidrs


@pytest.mark.parametrize("cidr, message", [
    ("0.0.0.0/0", "is not a private network"),
    ("203.0.113.0/24", "is not a private network"),
    ("10.0.0.0/7", "is not a private network"),  # wider than 10.0.0.0/8
    ("fd00::/8", "is not a private network"),
    ("10.100.0.1/16", "is not a CIDR block"),
])
def test_deployer_networks_must_be_private_cidrs(cidr, message):
    line = only(problems_of("confidential", {"deployerCidrs": ["10.100.0.0/16", cidr]}))
    assert line.startswith("deployerCidrs: ") and message in line and cidr in line


# -- natGateways (NAT gateways per VPC) -----------------------------------------------------

def test_nat_gateways_default_from_the_tier_and_either_layout_may_be_chosen():
    def nat(tier, changes=None):
        return parse_spec(spec_config(tier, changes), region="eu-west-1").nat_gateways

    assert (nat("public"), nat("internal"), nat("confidential"), nat("restricted")) == ("single", "per-az", None, None)
    assert nat("public", {"natGateways": "per-az"}) == "per-az"
    assert nat("internal", {"natGateways": "single"}) == "single"


def test_nat_gateways_name_the_allowed_values_and_are_refused_where_the_tier_has_no_nat():
    line = only(problems_of("public", {"natGateways": "one"}))
    assert line.startswith("natGateways: 'one' is not allowed; use one of 'per-az' or 'single'")
    line = only(problems_of("restricted", {"natGateways": "single"}))
    assert line.startswith("natGateways: ") and "remove the key" in line
    assert "tier restricted" in line and "rule: training VPC egress" in line


# -- training.dataAccessCidrs (people's path to air-gapped data) -------------------------------

def test_data_access_networks_default_to_the_deployer_networks_on_air_gapped_tiers_only():
    def cidrs(tier, changes=None):
        return parse_spec(spec_config(tier, changes), region="eu-west-1").data_access_cidrs

    deployer = {"deployerCidrs": ["10.100.0.0/16"]}
    assert cidrs("restricted", deployer) == ("10.100.0.0/16",)
    assert cidrs("restricted", {**deployer, "training": {"dataAccessCidrs": ["10.200.0.0/16"]}}) == ("10.200.0.0/16",)
    assert cidrs("restricted", {**deployer, "training": {"dataAccessCidrs": []}}) == ()  # no people path
    assert cidrs("confidential") == ()  # no deployer networks, none given
    assert cidrs("internal", deployer) == ()  # the buckets need no endpoint there


@pytest.mark.parametrize("cidr, message", [
    ("203.0.113.0/24", "is not a private network"),
    ("0.0.0.0/0", "is not a private network"),
    ("10.200.0.1/16", "is not a CIDR block"),
])
def test_data_access_networks_must_be_private_cidrs(cidr, message):
    line = only(problems_of("restricted", {"training": {"dataAccessCidrs": [cidr]}}))
    assert line.startswith("training.dataAccessCidrs: ") and message in line and cidr in line


def test_data_access_networks_are_refused_where_the_buckets_need_no_endpoint():
    line = only(problems_of("internal", {"training": {"dataAccessCidrs": ["10.200.0.0/16"]}}))
    assert line.startswith("training.dataAccessCidrs: ") and "remove the key" in line and "tier internal" in line


# -- SIEM token ---------------------------------------------------------------------------

SPLUNK = {"siem": {"destination": "splunk", "endpoint": "https://splunk.example.com:8088", "token": "abc"}}


def test_plain_text_siem_token_is_rejected():
    line = only(problems_of("internal", SPLUNK, secret=False))
    assert line.startswith("siem.token: a plain-text token is not allowed") and "--secret" in line


def test_secret_siem_token_is_accepted():
    assert problems_of("internal", SPLUNK, secret=True) == []


def test_http_destination_needs_endpoint_and_token():
    problems = problems_of("internal", {"siem": {"destination": "http"}})
    assert [p.split(":")[0] for p in problems] == ["siem.endpoint", "siem.token"]


def test_s3_destination_takes_no_token():
    assert only(problems_of("public", {"siem": {"destination": "s3", "token": "x"}}, secret=True)).startswith("siem.token: only used")


# -- training.availabilityZone ---------------------------------------------------------------

def test_the_training_zone_is_optional_and_any_zone_of_the_home_region():
    assert parse_spec(spec_config("restricted"), region="eu-west-1").training.availability_zone is None
    spec = parse_spec(spec_config("restricted", {"training": {"availabilityZone": "eu-west-1b"}}), region="eu-west-1")
    assert spec.training.availability_zone == "eu-west-1b"
    assert problems_of("public", {"training": {"availabilityZone": "us-east-1f"}}, region="us-east-1") == []


@pytest.mark.parametrize("zone, region", [("eu-central-1a", "eu-west-1"),
                                          ("eu-west-12a", "eu-west-1"), ("us-east-1a", "us-east-2")])
def test_a_training_zone_outside_the_home_region_names_the_key_and_the_fix(zone, region):
    line = only(problems_of("public", {"training": {"availabilityZone": zone}}, region=region))
    assert line.startswith(f"training.availabilityZone: {zone!r} is not an availability zone of the home region {region}")
    assert f"e.g. {region}a" in line and "aws ec2 describe-instance-type-offerings --location-type availability-zone" in line


@pytest.mark.parametrize("zone", ["EU-WEST-1A", "west-1a", "eu-west-1-a", "euw1a", "eu-west-1", ""])
def test_a_training_zone_that_is_no_zone_name_is_a_shape_error(zone):
    line = only(problems_of("public", {"training": {"availabilityZone": zone}}))
    assert line.startswith("training.availabilityZone: must be an availability zone name") and "eu-west-1a" in line


# -- shape ----------------------------------------------------------------------------------

def test_unknown_keys_are_named_with_their_path():
    problems = problems_of("public", {"inference": {"autoscale": True}, "colour": "blue"})
    assert sorted(p.split(":")[0] for p in problems) == ["colour", "inference.autoscale"]
    assert all("unknown key" in p for p in problems)


def test_wrong_types_and_ranges_name_the_key():
    problems = problems_of("public", {"training": {"maxNodes": "many", "lustreCapacityGiB": 1300},
                                      "inference": {"canary": {"image": CANARY_IMAGE, "percent": 80}}})
    assert sorted(p.split(":")[0] for p in problems) == [
        "inference.canary.percent", "training.lustreCapacityGiB", "training.maxNodes"]


def test_bad_literal_lists_allowed_values():
    line = only(problems_of("public", {"tier": "secret"}))
    assert line.startswith("tier: 'secret' is not allowed; use one of 'public', 'internal', 'confidential' or 'restricted'")


def test_missing_required_keys_and_region():
    with pytest.raises(SpecError) as exc:
        parse_spec({"tier": "public"}, region=None)
    assert exc.value.problems[0].startswith("aws:region: required")
    assert {p.split(":")[0] for p in exc.value.problems[1:]} == {"name", "owner", "costCenter"}


def test_model_image_is_required_when_inference_is_enabled():
    assert only(problems_of("public", {"inference": {"modelImage": DELETE}})).startswith("inference.modelImage: required")
    assert problems_of("public", {"inference": {"modelImage": DELETE, "enabled": False}}) == []


def test_missing_blueprint_key_points_to_blueprint_new():
    with pytest.raises(SpecError) as exc:
        parse_spec(None, region="eu-west-1")
    assert exc.value.problems == [f"{CONFIG_KEY}: missing; run `blueprint new` for a commented example"]


# -- threat detection -----------------------------------------------------------------------

def test_threat_detection_is_optional_on_public_only():
    assert problems_of("public", {"threatDetection": True}) == []
    assert problems_of("public", {"threatDetection": False}) == []
    line = only(problems_of("internal", {"threatDetection": False}))
    assert line.startswith("threatDetection:") and "rule: threat detection" in line
    assert parse_spec(spec_config("public"), region="eu-west-1").threat_detection is False
    assert parse_spec(spec_config("public", {"threatDetection": True}), region="eu-west-1").threat_detection is True
    assert parse_spec(spec_config("internal"), region="eu-west-1").threat_detection is True


# -- compliance.recorder -------------------------------------------------------------------------
def test_compliance_recorder_defaults_to_create_and_names_its_key_when_wrong():
    assert parse_spec(spec_config("internal"), region="eu-west-1").config_recorder is True
    line = only(problems_of("internal", {"compliance": {"recorder": "organisation"}}))
    assert line.startswith("compliance.recorder: 'organisation' is not allowed; use one of 'create' or 'existing'")


def test_an_existing_recorder_is_declared_for_every_region_security_hub_runs_in():
    # Per account and region: the provider of each (blueprints.spec.provider_name).
    spec = parse_spec(spec_config("confidential", {"compliance": {"recorder": "existing"}}), region="eu-west-1")
    assert spec.config_recorder is False
    assert [(s.rule, s.resource) for s in spec.implied_suppressions] == [
        ("AIB-155", "aws-444444444444-eu-west-1"), ("AIB-155", "aws-555555555555-eu-west-1"),
        ("AIB-155", "aws-555555555555-eu-central-1")]
    internal = parse_spec(spec_config("internal", {"compliance": {"recorder": "existing"},
                                                   "inference": {"regions": ["eu-west-1", "eu-central-1"]}}),
                          region="eu-west-1")
    assert [s.resource for s in internal.implied_suppressions] == ["aws-eu-west-1", "aws-eu-central-1"]
    public = parse_spec(spec_config("public", {"compliance": {"recorder": "existing"}}), region="eu-west-1")
    assert public.implied_suppressions == []  # no Security Hub on public by default: nothing to declare


def test_each_declared_account_is_watched_in_the_regions_it_works_in():
    """Spec.regions_by_account: the one list of where trails, AWS Config, GuardDuty and Security
    Hub run, per account (its home first)."""
    restricted = parse_spec(spec_config("restricted"), region="eu-west-1")
    assert restricted.regions_by_account() == {"training": ["eu-west-1"], "inference": ["eu-west-1", "eu-central-1"],
                                               "logArchive": ["eu-west-1", "eu-central-1"]}
    elsewhere = parse_spec(spec_config("restricted", {"inference": {"regions": ["eu-central-1", "eu-north-1"]}}),
                           region="eu-west-1")
    assert elsewhere.regions_by_account()["inference"] == ["eu-central-1", "eu-north-1"]  # its own home: the first
    assert elsewhere.regions_by_account()["logArchive"] == ["eu-west-1", "eu-central-1", "eu-north-1"]
    # A disabled part leaves its account unwatched; an omitted log archive is not listed.
    no_training = parse_spec(spec_config("restricted", {"training": {"enabled": False}}), region="eu-west-1")
    assert list(no_training.regions_by_account()) == ["inference", "logArchive"]
    assert list(parse_spec(spec_config("confidential"), region="eu-west-1").regions_by_account()) == ["training", "inference"]
    # One account named twice is watched once, in the regions of both.
    shared = parse_spec(spec_config("internal", {"accounts": {"training": "111111111111", "inference": "111111111111"},
                                                 "inference": {"regions": ["eu-central-1"]}}), region="eu-west-1")
    assert shared.regions_by_account() == {"training": ["eu-west-1", "eu-central-1"]}
    single = parse_spec(spec_config("internal", {"inference": {"regions": ["eu-west-1", "eu-central-1"]}}), region="eu-west-1")
    assert single.regions_by_account() == {"training": ["eu-west-1", "eu-central-1"]}


# -- inference.canary -----------------------------------------------------------------------
CANARY_IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/llm-server:1.5.0"


def test_a_canary_names_a_second_model_image_and_a_percent_of_0_to_50():
    spec = parse_spec(spec_config("confidential", {"inference": {"canary": {"image": CANARY_IMAGE}}}), region="eu-west-1")
    assert (spec.inference.canary.image, spec.inference.canary.percent) == (CANARY_IMAGE, 10)
    assert parse_spec(spec_config("public"), region="eu-west-1").inference.canary is None
    assert only(problems_of("public", {"inference": {"canary": {"percent": 5}}})) == \
        "inference.canary.image: required key is missing"
    assert only(problems_of("public", {"inference": {"canary": {"image": CANARY_IMAGE, "percent": 51}}})).startswith(
        "inference.canary.percent: Input should be less than or equal to 50")


@pytest.mark.parametrize("value", [0, 10, 80])
def test_canary_percent_is_replaced_and_the_error_names_the_new_key(value):
    line = only(problems_of("public", {"inference": {"canaryPercent": value}}))
    assert line.startswith("inference.canaryPercent: replaced by inference.canary")
    assert "inference.canary: {image: <the canary's model image>, percent: <0-50>}" in line


def test_a_canary_of_the_same_model_version_is_no_canary():
    canary = "999988887777.dkr.ecr.eu-west-1.amazonaws.com/other-server:1.4.2"  # another repository, same tag
    line = only(problems_of("public", {"inference": {"canary": {"image": canary}}}))
    assert line.startswith("inference.canary.image: serves model version '1.4.2', the same as inference.modelImage")
    assert "remove canary" in line


# -- inference.payload ----------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["public", "internal", "confidential", "restricted"])
def test_request_bodies_are_structured_unless_the_stack_says_prompt(tier):
    assert parse_spec(spec_config(tier), region="eu-west-1").inference.payload == "structured"


@pytest.mark.parametrize("tier", ["public", "internal", "confidential"])
def test_prompt_payloads_are_allowed_below_restricted(tier):
    spec = parse_spec(spec_config(tier, {"inference": {"payload": "prompt"}}), region="eu-west-1")
    assert spec.inference.payload == "prompt"


def test_restricted_keeps_every_waf_body_rule_blocking_so_prompt_is_a_tier_error():
    line = only(problems_of("restricted", {"inference": {"payload": "prompt"}}))
    assert line.startswith("inference.payload: 'prompt' is not allowed")
    assert "SQLi_BODY" in line and "use structured" in line
    assert line.endswith("(tier restricted, rule: WAF body rules, prompt payload)")


def test_a_payload_that_is_neither_is_a_shape_error():
    assert only(problems_of("public", {"inference": {"payload": "chat"}})) == \
        "inference.payload: 'chat' is not allowed; use one of 'structured' or 'prompt'"


# -- accounts ------------------------------------------------------------------------------------
def test_restricted_needs_three_distinct_accounts():
    line = only(problems_of("restricted", {"accounts": DELETE}))
    assert line.startswith("accounts: training, inference and logArchive must be separate AWS accounts")
    assert line.endswith("(tier restricted, rule: accounts)")
    line = only(problems_of("restricted", {"accounts": {"logArchive": DELETE}}))
    assert line.startswith("accounts.logArchive: required") and "(tier restricted, rule: accounts)" in line
    line = only(problems_of("restricted", {"accounts": {"logArchive": "111111111111"}}))
    assert line.startswith("accounts.logArchive: 111111111111 is also a workload account")
    line = only(problems_of("restricted", {"accounts": {"inference": "111111111111"}}))
    assert line.startswith("accounts.inference: 111111111111 is also accounts.training")


def test_confidential_separates_training_from_inference_and_advises_a_log_archive():
    assert problems_of("confidential") == []
    line = only(problems_of("confidential", {"accounts": {"inference": "444444444444"}}))
    assert line.startswith("accounts.inference:") and "(tier confidential, rule: accounts)" in line
    spec = parse_spec(spec_config("confidential", {"deployerCidrs": ["10.100.0.0/16"]}), region="eu-west-1")
    [warning] = spec.warnings
    assert warning.startswith("accounts.logArchive: the confidential tier advises a log archive account")
    with_archive = parse_spec(spec_config("confidential", {"accounts": {"logArchive": "666666666666"},
                                                           "deployerCidrs": ["10.100.0.0/16"]}), region="eu-west-1")
    assert with_archive.warnings == []


@pytest.mark.parametrize("tier", ["public", "internal"])
def test_shared_tiers_may_omit_accounts_or_share_one(tier):
    assert problems_of(tier) == []
    spec = parse_spec(spec_config(tier, {"accounts": {"training": "777777777777", "inference": "777777777777"}}),
                      region="eu-west-1")
    assert spec.account("training") == spec.account("inference") == "777777777777"
    assert spec.account("logArchive") is None and spec.account_ids == ["777777777777"]
    assert parse_spec(spec_config(tier), region="eu-west-1").accounts_by_role == {}


@pytest.mark.parametrize("changes,key", [
    ({"training": "12345"}, "accounts.training"),
    ({"inference": "22222222222a"}, "accounts.inference"),
    ({"logArchive": 333333333333}, "accounts.logArchive"),
    ({"deployRole": "role/with/slash"}, "accounts.deployRole"),
    ({"deployRole": "r" * 65}, "accounts.deployRole"),
    ({"region": "eu-west-1"}, "accounts.region"),
    ({"organization": "o-short"}, "accounts.organization"),
    ({"organization": "O-ABCDEFGHIJ"}, "accounts.organization"),
])
def test_bad_accounts_name_their_key(changes, key):
    problems = problems_of("restricted", {"accounts": changes})
    assert any(p.startswith(f"{key}:") for p in problems), problems


def test_the_organisation_is_optional():
    spec = parse_spec(spec_config("restricted", {"accounts": {"organization": "o-a1b2c3d4e5"}}), region="eu-west-1")
    assert spec.organization == "o-a1b2c3d4e5"
    assert parse_spec(spec_config("restricted"), region="eu-west-1").organization is None


def test_the_external_id_is_sent_where_the_tier_separates_accounts():
    restricted = parse_spec(spec_config("restricted"), region="eu-west-1")
    assert restricted.external_id == "ai-blueprints-demo-restricted"
    shared = parse_spec(spec_config("internal", {"accounts": {"training": "777777777777", "inference": "888888888888"}}),
                        region="eu-west-1")
    assert shared.external_id is None


# -- foundationModels ---------------------------------------------------------------------------
CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def fm(models=(f"eu.{CLAUDE}", "amazon.nova-pro-v1:0"), **guardrail):
    return {"foundationModels": {"enabled": True, "models": list(models), **({"guardrail": guardrail} if guardrail else {})}}


def test_foundation_models_are_off_by_default_and_on_with_the_tier_defaults():
    assert parse_spec(spec_config("restricted"), region="eu-west-1").foundation_models is None
    spec = parse_spec(spec_config("restricted", fm()), region="eu-west-1")
    assert spec.foundation_models.models == [f"eu.{CLAUDE}", "amazon.nova-pro-v1:0"]
    assert (spec.pii_action, spec.foundation_models.guardrail.prompt_attack) == ("block", "high")
    assert parse_spec(spec_config("public", fm([f"global.{CLAUDE}"])), region="eu-west-1").pii_action == "anonymize"


@pytest.mark.parametrize("tier,model,allowed", [
    ("public", f"global.{CLAUDE}", True),
    ("internal", f"global.{CLAUDE}", True),
    ("confidential", f"global.{CLAUDE}", False),
    ("restricted", f"global.{CLAUDE}", False),
    ("confidential", f"eu.{CLAUDE}", True),
    ("restricted", f"eu.{CLAUDE}", True),
    ("restricted", CLAUDE, True),
    ("restricted", f"us.{CLAUDE}", False),
    ("confidential", f"apac.{CLAUDE}", False),
])
def test_inference_profiles_follow_the_tier_and_the_residency(tier, model, allowed):
    problems = problems_of(tier, fm([model]))
    assert (problems == []) == allowed, problems
    if not allowed:
        assert only(problems).startswith("foundationModels.models[0]: ") and "rule: foundation models" in only(problems)


def test_a_profile_of_another_geography_is_an_error_wherever_the_stack_has_a_residency():
    assert only(problems_of("internal", {"residency": "us", **fm([f"eu.{CLAUDE}"])}, region="us-east-1")).startswith(
        "foundationModels.models[0]: 'eu.")
    assert problems_of("internal", {"residency": "any", **fm([f"eu.{CLAUDE}"])}) == []


@pytest.mark.parametrize("tier,guardrail,key", [
    ("internal", {"piiAction": "none"}, "piiAction"),
    ("confidential", {"piiAction": "none"}, "piiAction"),
    ("restricted", {"piiAction": "anonymize"}, "piiAction"),
    ("internal", {"promptAttack": "low"}, "promptAttack"),
    ("confidential", {"promptAttack": "none"}, "promptAttack"),
    ("restricted", {"promptAttack": "medium"}, "promptAttack"),
])
def test_a_guardrail_below_the_tier_minimum_is_an_error(tier, guardrail, key):
    models = [f"eu.{CLAUDE}"] if tier != "internal" else [f"global.{CLAUDE}"]
    assert only(problems_of(tier, fm(models, **guardrail))).startswith(f"foundationModels.guardrail.{key}: ")


@pytest.mark.parametrize("tier,guardrail", [
    ("public", {"piiAction": "none", "promptAttack": "none"}),
    ("internal", {"piiAction": "anonymize", "promptAttack": "medium"}),
    ("confidential", {"piiAction": "anonymize", "promptAttack": "medium"}),
    ("restricted", {"piiAction": "block", "promptAttack": "high"}),
])
def test_the_tier_minimum_itself_is_allowed(tier, guardrail):
    models = [f"eu.{CLAUDE}"] if tier in ("confidential", "restricted") else [f"global.{CLAUDE}"]
    assert problems_of(tier, fm(models, **guardrail)) == []


@pytest.mark.parametrize("changes,key", [
    (fm(["claude-sonnet"]), "foundationModels.models"),
    (fm(["antropic.claude-v2"]), "foundationModels.models"),
    (fm([CLAUDE, CLAUDE]), "foundationModels.models"),
    (fm([f"amazon.model-{i}" for i in range(21)]), "foundationModels.models"),
    (fm([]), "foundationModels.models"),
    (fm(["amazon.titan-embed-text-v2:0"]), "foundationModels.models[0]"),
    (fm([f"eu.{CLAUDE}", "cohere.embed-english-v3"]), "foundationModels.models[1]"),
    (fm(deniedTopics=[{"name": "advice"}]), "foundationModels.guardrail.deniedTopics[0].definition"),
    (fm(deniedTopics=[{"name": "advice", "definition": "x" * 201}]), "foundationModels.guardrail.deniedTopics[0].definition"),
    (fm(deniedTopics=[{"name": f"t{i}", "definition": "d"} for i in range(31)]), "foundationModels.guardrail.deniedTopics"),
    (fm(piiAction="redact"), "foundationModels.guardrail.piiAction"),
    ({**fm(), "inference": {"enabled": False}}, "foundationModels.enabled"),
])
def test_bad_foundation_model_input_names_its_key(changes, key):
    problems = problems_of("restricted", changes)
    assert any(p.startswith(f"{key}:") or p.startswith(f"{key} ") for p in problems), problems


# -- gpuInstanceType against the accelerator catalog (components/accelerators.py) ---------------

@pytest.mark.parametrize("section, default", [("training", "p5.48xlarge"), ("inference", "g6.xlarge")])
def test_a_type_with_no_accelerator_is_refused_naming_the_key_and_the_nearest_supported_types(section, default):
    problem = only(problems_of("public", {section: {"gpuInstanceType": "t3.micro"}}))
    assert problem.startswith(f"{section}.gpuInstanceType: 't3.micro' is not a supported accelerated instance type "
                              f"for {section}; use one of {default}, ")


def test_a_type_unfit_for_its_use_is_refused_with_same_family_suggestions_first():
    # Inferentia 2 serves models but does not train them.
    problem = only(problems_of("public", {"training": {"gpuInstanceType": "inf2.48xlarge"}}))
    assert "training.gpuInstanceType: 'inf2.48xlarge' is not a supported" in problem
    # An unknown size of a catalogued family: the family's own sizes come first.
    problem = only(problems_of("public", {"inference": {"gpuInstanceType": "g6.3xlarge"}}))
    assert "use one of g6." in problem and "p5" not in problem


def test_neuron_types_train_and_catalogued_gpus_serve():
    spec = parse_spec(spec_config("public", {"training": {"gpuInstanceType": "trn1.32xlarge"},
                                             "inference": {"gpuInstanceType": "g6e.12xlarge"}}), region="eu-west-1")
    assert (spec.training.gpu_instance_type, spec.inference.gpu_instance_type) == ("trn1.32xlarge", "g6e.12xlarge")


def test_failover_dns_has_one_primary_and_one_secondary_region():
    domain = {"domainName": "api.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
    three = ["eu-west-1", "eu-central-1", "eu-north-1"]
    problem = only(problems_of("restricted", {"inference": {**domain, "regions": three}}))
    assert problem.startswith("inference.regions: 3 regions with domainName") and "rule: DNS between regions" in problem
    assert problems_of("restricted", {"inference": {"regions": three}}) == []  # no domain, no failover records
    assert problems_of("confidential", {"inference": {**domain, "regions": three}}) == []  # latency routing


def test_the_audit_copy_goes_to_a_second_region_of_the_residency_where_the_tier_keeps_one():
    restricted = parse_spec(spec_config("restricted"), region="eu-west-1")
    assert restricted.audit_replica_region == "eu-central-1"  # the other inference region
    assert "eu-central-1" in restricted.regions_by_account()["logArchive"]
    alone = parse_spec(spec_config("restricted", {"inference": {"enabled": False}}), region="eu-west-1")
    assert alone.audit_replica_region == "eu-central-1"  # the residency's first other region
    assert alone.regions_by_account()["logArchive"] == ["eu-west-1", "eu-central-1"]
    assert parse_spec(spec_config("confidential"), region="eu-west-1").audit_replica_region is None


# -- the first hour (issue 16): warnings at validate, offline secrets, regions listed once -----

NO_TOKEN = {"siem": {"destination": "splunk", "endpoint": "https://splunk.example.com:8088"}}
SET_TOKEN = "pulumi config set --secret --path 'ai-blueprints:blueprint.siem.token' <token>"


def test_a_siem_token_not_set_yet_is_a_warning_offline_and_an_error_for_pulumi_up():
    from blueprints.spec import OFFLINE_SIEM_TOKEN

    line = only(problems_of("internal", NO_TOKEN))  # what `pulumi up` reads: refused, naming the command
    assert line.startswith("siem.token: required for destination splunk") and SET_TOKEN in line
    spec = parse_spec(spec_config("internal", {**NO_TOKEN, "adminCidrs": ["203.0.113.0/24"]}), region="us-east-2",
                      offline=True)
    (warning,) = spec.warnings
    assert warning.startswith("siem.token: not set yet") and SET_TOKEN in warning
    # The offline plan renders with a stand-in value no one could take for a real HEC token.
    assert spec.siem_token() == OFFLINE_SIEM_TOKEN and "STAND-IN" in OFFLINE_SIEM_TOKEN
    # A token that is set is used as it is, and a plain-text one stays an error offline too.
    with_token = parse_spec(spec_config("internal", {"siem": {**NO_TOKEN["siem"], "token": "t"}}), region="us-east-2",
                            token_is_secret=True, offline=True)
    assert with_token.siem_token() == "t" and not any("siem.token" in w for w in with_token.warnings)
    with pytest.raises(SpecError, match="plain-text token is not allowed"):
        parse_spec(spec_config("internal", {"siem": {**NO_TOKEN["siem"], "token": "t"}}), region="us-east-2", offline=True)
    # An s3 destination has no token: no warning, no stand-in.
    s3 = parse_spec(spec_config("internal", {"adminCidrs": ["203.0.113.0/24"]}), region="us-east-2", offline=True)
    assert s3.warnings == [] and s3.siem_token() is None


@pytest.mark.parametrize("tier, changes, key", [
    ("confidential", {"accounts": {"logArchive": "666666666666"}}, "deployerCidrs"),
    ("restricted", {}, "deployerCidrs"),
    ("internal", {}, "adminCidrs"),
])
def test_no_network_path_to_a_private_eks_api_is_a_warning_that_names_the_key(tier, changes, key):
    spec = parse_spec(spec_config(tier, changes), region="eu-west-1")
    (warning,) = spec.warnings
    assert warning.startswith(f"{key}: not set; on tier {tier}") and "`pulumi up`" in warning
    assert "deployerCidrs: [10.100.0.0/16]" in warning  # the example to copy
    # Either key gives `pulumi up` a way in where the tier allows it; with it, the warning goes.
    fixed = parse_spec(spec_config(tier, {**changes, "deployerCidrs": ["10.100.0.0/16"]}), region="eu-west-1")
    assert fixed.warnings == []
    if tier == "internal":
        assert parse_spec(spec_config(tier, {"adminCidrs": ["203.0.113.0/24"]}), region="eu-west-1").warnings == []
    # No cluster at all (neither training nor inference): nothing to reach.
    off = {**changes, "training": {"enabled": False}, "inference": {"enabled": False}}
    assert parse_spec(spec_config(tier, off), region="eu-west-1").warnings == []


def test_public_eks_api_is_open_without_admin_cidrs_so_there_is_no_warning():
    assert parse_spec(spec_config("public"), region="us-east-1").warnings == []


def test_bad_regions_list_the_residencys_regions_once():
    problems = problems_of("restricted", {"inference": {"regions": ["us-east-1", "eu-west-4"]}}, region="us-west-2")
    keys = [p.split(": ")[0] for p in problems]
    assert keys == ["aws:region", "inference.regions[0]", "inference.regions[1]"]
    eu = "eu-central-1, eu-central-2, eu-north-1, eu-south-1, eu-south-2, eu-west-1, eu-west-2, eu-west-3"
    assert sum(eu in p for p in problems) == 1 and eu in problems[0]
    assert all("use one of the regions listed at aws:region" in p for p in problems[1:])
    assert "'eu-west-4' is not an AWS region this project knows" in problems[2]


# -- training.schedule and budget (issue 13) --------------------------------------------------------
WINDOW = {"scaleUp": "0 20 * * MON-FRI", "scaleDown": "0 6 * * 1-5", "timezone": "Europe/Dublin"}


def test_a_training_window_and_a_budget_are_accepted():
    spec = parse_spec(spec_config("restricted", {"training": {"schedule": WINDOW}, "budget": {"monthlyUsd": 9000}}),
                      region="eu-west-1")
    assert spec.training.schedule.scale_up == "0 20 * * MON-FRI" and spec.training.schedule.timezone == "Europe/Dublin"
    assert spec.model.budget.monthly_usd == 9000
    assert parse_spec(spec_config("public"), region="us-east-1").model.budget.monthly_usd is None


@pytest.mark.parametrize("key,value,message", [
    ("scaleUp", "0 20 * *", "has 4 field(s); a cron expression has five"),
    ("scaleUp", "61 20 * * *", "the minute field '61' is not *, a value, a list or a range of 0-59"),
    ("scaleDown", "0 6 * * MON-FUN", "the day of week field 'MON-FUN'"),
    ("scaleDown", "0 6 * 12-1 *", "the month range '12-1' runs backwards"),
    ("scaleUp", "*/0 * * * *", "the minute step '0' is not a number from 1 to 59"),
    ("timezone", "Europe/Atlantis", "'Europe/Atlantis' is not an IANA time zone name"),
])
def test_a_bad_window_names_its_key(key, value, message):
    line = only(problems_of("internal", {"training": {"schedule": {**WINDOW, key: value}}}))
    assert line.startswith(f"training.schedule.{key}: ") and message in line, line


def test_a_window_that_opens_and_closes_at_once_is_refused():
    line = only(problems_of("internal", {"training": {"schedule": {**WINDOW, "scaleDown": "0  20 * * MON-FRI"}}}))
    assert line.startswith("training.schedule: ") and "the same time" in line


def test_a_window_without_training_names_the_key():
    line = only(problems_of("internal", {"training": {"enabled": False, "schedule": WINDOW}}))
    assert line.startswith("training.schedule: ") and "training.enabled is false" in line


@pytest.mark.parametrize("value", [0, -5, "lots"])
def test_a_budget_must_be_a_positive_amount(value):
    line = only(problems_of("internal", {"budget": {"monthlyUsd": value}}))
    assert line.startswith("budget.monthlyUsd: "), line


def test_cron_fields_follow_auto_scaling():
    from blueprints.spec import cron_problem

    for ok in ("30 0 1 1,6,12 *", "*/15 8-18 * * 1-5", "0 0 1 JAN-MAR SUN", "5 4 * * 0,6"):
        assert cron_problem(ok) is None, ok
    assert "day of week" in cron_problem("0 0 * * 7")
