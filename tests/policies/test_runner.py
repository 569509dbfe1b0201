"""`policies.runner.check`: exit codes, suppressions, formats (table, JSON, markdown, SARIF) and
the compliance report. Whole-pack verdicts start from an example stack's plan (a hand-built
fragment lacks the controls a tier requires, which is itself a violation); a reviewer's edit
is added to it."""

from __future__ import annotations

import copy
import json

import pytest

from policies.packs import pack, packs
from policies.runner import SuppressionError, check, run
from tests.policies.plans import PlanBuilder, add_resource, policy

OPEN_SG = "open-sg"
SG = "aws:ec2/securityGroup:SecurityGroup"


@pytest.fixture
def clean_plan(example_plan):
    """clean_plan(tier="restricted"): a fresh copy of that example's plan dict."""
    return lambda tier="restricted": copy.deepcopy(example_plan(tier).to_dict())


@pytest.fixture
def plan_with_open_sg(clean_plan):
    def _go(tier: str = "restricted") -> dict:
        plan = clean_plan(tier)
        add_resource(plan, SG, OPEN_SG, {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp",
                                                       "fromPort": 22, "toPort": 22}]})
        return plan
    return _go


def test_clean_plan_exits_zero_and_violation_exits_one(clean_plan, plan_with_open_sg) -> None:
    assert check(clean_plan())[1] == 0
    text, code = check(plan_with_open_sg())
    assert code == 1
    assert "AIB-005" in text and OPEN_SG in text and text.rstrip().splitlines()[-1].startswith("FAIL")


SILENT_ALARM = "docs-assistant-inf-use1-alarms-hpa-at-max"


def silenced(plan: dict) -> dict:
    """The plan with one alarm that notifies nobody (AIB-097: advisory on every tier)."""
    (alarm,) = [s["newState"] for s in plan["steps"] if s["newState"]["urn"].endswith(f"::{SILENT_ALARM}")]
    alarm["inputs"]["alarmActions"] = []
    alarm["outputs"].pop("alarmActions", None)
    return plan


def test_advisory_violation_does_not_fail(clean_plan) -> None:
    assert not run(clean_plan("public")).of("violation")  # what public relaxes is off in its pack
    result = run(silenced(clean_plan("public")))
    advisory = {(f.rule.id, f.resource_name) for f in result.of("violation") if f.level == "advisory"}
    assert advisory == {("AIB-097", SILENT_ALARM)}
    assert result.exit_code == 0


def test_tier_argument_overrides_the_plan_tier(clean_plan) -> None:
    assert check(clean_plan("public"))[1] == 0
    assert check(clean_plan("public"), tier="restricted")[1] == 1


def test_residency_argument_and_inference(clean_plan) -> None:
    plan = clean_plan()
    assert run(plan).residency == "eu"  # inferred from the home region, eu-west-1
    text, code = check(plan, residency="us", fmt="json")
    assert code == 1
    # every eu region is outside us, and so are the WAF's EU country allowlist and the eu. model profile
    assert {f["rule"] for f in json.loads(text)["findings"] if f["outcome"] == "violation"} == {
        "AIB-089", "AIB-093", "AIB-175"}


def test_suppression_turns_a_violation_into_a_reported_suppression(plan_with_open_sg) -> None:
    reason = "bastion for the break-glass runbook, approved in CHG-1234"
    text, code = check(plan_with_open_sg(), suppressions=[{"rule": "AIB-005", "resource": OPEN_SG, "reason": reason}], fmt="json")
    assert code == 0
    doc = json.loads(text)
    [finding] = [f for f in doc["findings"] if f["rule"] == "AIB-005" and f["outcome"] != "pass"]
    assert finding["outcome"] == "suppressed" and finding["suppression"] == reason
    table, _ = check(plan_with_open_sg(), suppressions=[{"rule": "AIB-005", "resource": finding["resource"], "reason": reason}])
    assert "suppressed" in table and reason in table


@pytest.mark.parametrize("bad,key", [
    ({"rule": "AIB-005", "resource": OPEN_SG}, "suppressions[0].reason"),
    ({"rule": "AIB-005", "resource": OPEN_SG, "reason": "  "}, "suppressions[0].reason"),
    ({"rule": "AIB-999", "resource": OPEN_SG, "reason": "because"}, "suppressions[0].rule"),
    ({"rule": "AIB-005", "reason": "because"}, "suppressions[0].resource"),
])
def test_bad_suppression_is_an_error_naming_the_key(bad: dict, key: str) -> None:
    with pytest.raises(SuppressionError, match=key.replace("[", r"\[").replace("]", r"\]")):
        check(PlanBuilder().to_dict(), suppressions=[bad])


def test_unused_suppression_is_noted(clean_plan) -> None:
    text, _ = check(clean_plan(), suppressions=[{"rule": "AIB-005", "resource": "nothing", "reason": "stale entry"}])
    assert "matched no finding" in text


def test_bad_input_raises_value_error() -> None:
    plan = PlanBuilder().to_dict()
    with pytest.raises(ValueError, match="unknown tier"):
        check(plan, tier="secret")
    with pytest.raises(ValueError, match="unknown format"):
        check(plan, fmt="xml")
    with pytest.raises(ValueError, match="unknown report"):
        check(plan, report="soc2")
    with pytest.raises(ValueError, match="not a plan"):
        check({"stack": "x"})


def test_markdown_lists_violations(plan_with_open_sg) -> None:
    text, _ = check(plan_with_open_sg(), fmt="markdown")
    assert text.startswith("# Guardrails: restricted-example (restricted pack)")
    assert f"| violation | mandatory | AIB-005 | critical | `{OPEN_SG}` |" in text


def test_sarif_is_valid_2_1_0_with_rules_and_logical_locations(plan_with_open_sg) -> None:
    text, code = check(plan_with_open_sg(), fmt="sarif")
    assert code == 1
    doc = json.loads(text)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run_ = doc["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == sorted(ids) and len(ids) == len([lvl for lvl in pack("restricted").values() if lvl != "disabled"])
    [result] = [r for r in run_["results"] if r["ruleId"] == "AIB-005"]
    assert result["level"] == "error"
    assert rules[result["ruleIndex"]]["id"] == "AIB-005"
    logical = result["locations"][0]["logicalLocations"][0]
    assert logical["name"] == OPEN_SG and logical["fullyQualifiedName"].endswith(f"::{OPEN_SG}")
    assert rules[result["ruleIndex"]]["properties"]["controls"]["nist-800-53-r5"]


def test_sarif_levels_for_advisory_and_suppressed(plan_with_open_sg) -> None:
    doc = json.loads(check(silenced(plan_with_open_sg("public")), fmt="sarif",
                           suppressions=[{"rule": "AIB-005", "resource": OPEN_SG, "reason": "approved exception"}])[0])
    levels = {(r["ruleId"], r["level"], json.dumps(r.get("suppressions"))) for r in doc["runs"][0]["results"]}
    assert ("AIB-005", "note", json.dumps([{"kind": "external", "justification": "approved exception"}])) in levels
    assert ("AIB-097", "warning", "null") in levels
    assert {level for _, level, _ in levels} <= {"note", "warning"}  # nothing mandatory is open


def test_compliance_report_lists_evidenced_and_violated_controls(plan_with_open_sg) -> None:
    text, code = check(plan_with_open_sg(), report="compliance")
    assert code == 1
    assert text.startswith("# Compliance report: restricted-example")
    for title in ("NIST SP 800-53 Rev. 5", "HIPAA Security Rule", "PCI DSS v4.0", "GDPR", "SOX IT general controls"):
        assert f"## {title}" in text
    nist = text.split("## NIST SP 800-53 Rev. 5")[1].split("\n## ")[0]
    # SC-28 (encryption at rest) is evidenced by AIB-020/021 on the buckets; SC-7 is violated by the open group
    evidenced = nist.split("Controls with violations:")[0]
    assert "| SC-28 | AIB-020, AIB-021" in evidenced and "`fraud-models-audit-bucket`" in evidenced
    assert f"| SC-7 | AIB-005 | mandatory | `{OPEN_SG}` |" in nist.split("Controls with violations:")[1]


def test_packs_follow_the_tier_matrix() -> None:
    levels = packs()
    assert levels["public"]["AIB-073"] == "disabled" and levels["restricted"]["AIB-073"] == "mandatory"
    assert levels["public"]["AIB-001"] == "disabled" and levels["confidential"]["AIB-001"] == "mandatory"
    assert levels["public"]["AIB-022"] == "advisory" and levels["internal"]["AIB-022"] == "mandatory"
    assert levels["internal"]["AIB-092"] == "disabled" and levels["restricted"]["AIB-092"] == "mandatory"
    mandatory = {t: sum(v == "mandatory" for v in levels[t].values()) for t in levels}
    assert mandatory["public"] < mandatory["internal"] < mandatory["confidential"] < mandatory["restricted"]


def test_iam_policy_parsing_ignores_non_json_policy() -> None:
    b = PlanBuilder()
    b.add("aws:iam/policy:Policy", "p", {"policy": "not json"})
    b.add("aws:iam/policy:Policy", "q", {"policy": policy({"Effect": "Allow", "Action": "*", "Resource": "*"})})
    result = run(b.to_dict())
    assert {(f.rule.id, f.resource_name, f.outcome) for f in result.findings if f.rule.id == "AIB-061"} == {
        ("AIB-061", "p", "not-applicable"), ("AIB-061", "q", "violation")}


def test_exemptions_are_reported_with_their_reasons_and_do_not_fail(clean_plan) -> None:
    plan = clean_plan()
    result = run(plan)
    exempt = result.of("exempt")
    assert exempt and result.exit_code == 0
    plugin = next(f for f in exempt if f.rule.id == "AIB-106" and "nvidia-device-plugin" in f.resource_name)
    table, _ = check(plan)
    assert any(line.split()[:3] == ["exempt", "mandatory", "AIB-106"] for line in table.splitlines())
    assert plugin.message in table
    assert "exempt" in table.rstrip().splitlines()[-1]  # the headline counts them
    markdown, _ = check(plan, fmt="markdown")
    assert "| exempt | mandatory | AIB-106 | " in markdown
    sarif = json.loads(check(plan, fmt="sarif")[0])
    notes = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "AIB-106"]
    assert notes and all(r["level"] == "note" and r["suppressions"][0]["kind"] == "inSource" for r in notes)
    doc = json.loads(check(plan, fmt="json")[0])
    assert doc["summary"]["exempt"] == len(exempt)
    compliance, _ = check(plan, report="compliance")
    assert "## Exemptions" in compliance and plugin.message.replace("|", "\\|") in compliance
