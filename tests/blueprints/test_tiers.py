"""The tier matrix is data, and it really orders the tiers from loose to strict."""

import json

from blueprints.tiers import MATRIX_ROWS, PROMPT_ATTACK_STRENGTHS, TIER_NAMES, TIERS, matrix, matrix_json, matrix_markdown


def test_every_design_row_is_in_the_matrix():
    labels = [label for label, _ in MATRIX_ROWS]
    assert labels == [
        "accounts", "training VPC egress", "inference VPC egress", "EKS API endpoint", "keys", "S3", "log retention (days)", "WAF",
        "WAF body rules, prompt payload", "API auth",
        "spot capacity", "inference regions (min)", "DNS between regions", "residency", "SIEM sources", "threat detection",
        "DLP (Macie) on training data", "foundation models", "model replicas per inference region",
        "container images", "stateful resources",
        "anomaly detection band (std devs)", "cost notifications", "model promotion events",
    ]


def test_matrix_cells_match_design():
    rows = {row["guardrail"]: row for row in matrix()}
    assert rows["log retention (days)"] == {"guardrail": "log retention (days)", "public": "30", "internal": "90",
                                            "confidential": "365", "restricted": "2557"}
    assert rows["API auth"]["restricted"] == "iam"
    assert [rows["accounts"][t] for t in ("public", "confidential", "restricted")] == [
        "one account allowed", "training and inference separate (log archive advised)",
        "training, inference, log archive: three accounts"]
    assert rows["API auth"]["confidential"] == "iam, cognito"
    assert rows["spot capacity"] == {"guardrail": "spot capacity", "public": "yes", "internal": "yes",
                                     "confidential": "training only", "restricted": "no"}
    assert rows["training VPC egress"]["confidential"] == "none: VPC endpoints only"
    assert [rows["inference VPC egress"][t] for t in ("public", "internal", "confidential", "restricted")] == [
        "NAT", "NAT", "none: VPC endpoints only", "none: VPC endpoints only"]
    assert rows["stateful resources"]["restricted"] == "protect + retainOnDelete"
    assert "geo allowlist" in rows["WAF"]["restricted"] and "geo allowlist" not in rows["WAF"]["confidential"]


def test_stricter_tiers_never_loosen_a_guardrail():
    ordered = [TIERS[name] for name in TIER_NAMES]
    for looser, stricter in zip(ordered, ordered[1:]):
        assert stricter.rank == looser.rank + 1
        assert stricter.log_retention_days > looser.log_retention_days
        assert set(stricter.api_auth) <= set(looser.api_auth)
        assert set(looser.waf_managed_rule_groups) <= set(stricter.waf_managed_rule_groups)
        assert set(looser.siem_sources) <= set(stricter.siem_sources)
        assert stricter.min_inference_regions >= looser.min_inference_regions
        for flag in ("s3_tls_only", "s3_versioning", "s3_access_logging", "s3_object_lock", "macie",
                     "guardduty", "protect_stateful", "retain_on_delete", "residency_required"):
            assert getattr(stricter, flag) >= getattr(looser, flag), flag
        assert stricter.spot_training <= looser.spot_training
        assert stricter.waf_prompt_payload <= looser.waf_prompt_payload
        assert set(stricter.fm_pii_actions) <= set(looser.fm_pii_actions)
        assert PROMPT_ATTACK_STRENGTHS.index(stricter.fm_prompt_attack_min) >= \
            PROMPT_ATTACK_STRENGTHS.index(looser.fm_prompt_attack_min)
        assert (stricter.fm_profiles == "global") <= (looser.fm_profiles == "global")
        assert stricter.anomaly_band_width <= looser.anomaly_band_width
        assert stricter.plain_email_notifications <= looser.plain_email_notifications
        assert stricter.lineage_to_siem >= looser.lineage_to_siem


def test_markdown_and_json_render_the_same_matrix():
    md = matrix_markdown().splitlines()
    assert md[0] == "| guardrail | public | internal | confidential | restricted |"
    assert len(md) == 2 + len(MATRIX_ROWS)
    doc = json.loads(matrix_json())
    assert doc["matrix"] == matrix()
    assert doc["tiers"]["restricted"]["log_retention_days"] == 2557


def test_only_restricted_fails_over_and_data_events_start_at_confidential():
    assert [TIERS[n].dns_routing for n in TIER_NAMES] == ["latency", "latency", "latency", "failover"]
    assert [TIERS[n].cloudtrail_data_events for n in TIER_NAMES] == [False, False, True, True]


def test_only_restricted_keeps_waf_body_rules_blocking_for_prompts():
    assert [TIERS[n].waf_prompt_payload for n in TIER_NAMES] == [True, True, True, False]
    row = {r["guardrail"]: r for r in matrix()}["WAF body rules, prompt payload"]
    assert row["restricted"] == "block (no prompt payload)" and row["confidential"] == "count, labelled + alarmed"


def test_foundation_model_minimums_tighten_with_the_tier():
    assert [TIERS[n].fm_profiles for n in TIER_NAMES] == ["global", "global", "geographic", "geographic"]
    assert ["none" in TIERS[n].fm_pii_actions for n in TIER_NAMES] == [True, False, False, False]
    assert TIERS["restricted"].fm_pii_actions == ("block",)
    assert [TIERS[n].fm_prompt_attack_min for n in TIER_NAMES] == ["none", "medium", "medium", "high"]
    assert not TIERS["restricted"].fm_prompt_attack_allowed("medium") and TIERS["internal"].fm_prompt_attack_allowed("medium")
    # invocation logs travel with the API access logs
    assert [TIERS[n].ships("bedrock-invocations") for n in TIER_NAMES] == [TIERS[n].ships("api-access") for n in TIER_NAMES]
    row = {r["guardrail"]: r for r in matrix()}["foundation models"]
    assert "PII block;" in row["restricted"] and "global." not in row["restricted"] and "global." in row["internal"]
