"""The evidence report of one framework: `blueprint check STACK --report compliance --framework F`.

Per control of the framework's catalogue (policies/frameworks.py): the rules of the tier's pack
that cover it (mandatory or advisory), their result on this plan, and the AWS Config rule that
keeps checking each after deploy (policies/config_rules.py; only for rules the tier makes
mandatory, as the blueprint deploys them). A control no rule of the pack covers is a *gap*: listed,
never hidden, so that an assessor sees what the plan cannot evidence (people, processes, tests).

Status of a control: `violated` (an open violation of a covering rule), `evidenced` (at least one
covering rule judged resources of this plan, none open), `not evidenced` (covering rules exist but
judged nothing here), `gap` (no covering rule).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from policies.config_rules import NO_CONFIG_RULE, config_rule
from policies.evaluate import CheckResult, Finding
from policies.frameworks import FRAMEWORK_NAMES, Framework, get_framework
from policies.report import md_cell

EVIDENCE_FORMATS = ("markdown", "json")
_OUTCOMES = ("violation", "suppressed", "exempt", "pass", "not-applicable")


@dataclass(frozen=True)
class RuleEvidence:
    rule_id: str
    title: str
    level: str
    result: str  # violation | suppressed | exempt | pass | not-applicable (the worst of its findings)
    counts: dict[str, int]  # outcome -> findings
    config_rule: Optional[str]  # the managed rule identifier that keeps checking it, if deployed


@dataclass(frozen=True)
class ControlEvidence:
    control: str
    title: str
    status: str  # violated | evidenced | not evidenced | gap
    rules: tuple[RuleEvidence, ...]


def evidence(result: CheckResult, framework: Framework) -> list[ControlEvidence]:
    by_rule: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule.id, []).append(f)
    controls = []
    for control in sorted(framework.catalogue, key=_control_key):
        covering = []
        for rule in result.rules:
            if control not in rule.controls.get(framework.controls_key, ()):
                continue
            findings = by_rule.get(rule.id, [])
            counts = {o: n for o in _OUTCOMES if (n := sum(f.outcome == o for f in findings))}
            worst = next((o for o in _OUTCOMES if o in counts), "not-applicable")
            level = result.levels[rule.id]
            managed = config_rule(rule.id, result.tier) if level == "mandatory" else None
            covering.append(RuleEvidence(rule.id, rule.title, level, worst, counts,
                                         managed.identifier if managed else None))
        if not covering:
            status = "gap"
        elif any(r.result == "violation" for r in covering):
            status = "violated"
        elif any(r.result != "not-applicable" for r in covering):
            status = "evidenced"
        else:
            status = "not evidenced"
        controls.append(ControlEvidence(control, framework.catalogue[control], status, tuple(covering)))
    return controls


def _summary(controls: list[ControlEvidence]) -> dict[str, int]:
    return {s: sum(c.status == s for c in controls) for s in ("evidenced", "violated", "not evidenced", "gap")}


def render(result: CheckResult, framework_key: Optional[str], fmt: str) -> str:
    """The report of one framework (markdown or json), or of every framework (json) where none is named."""
    if fmt not in EVIDENCE_FORMATS:
        raise ValueError(f"--format {fmt} is not available with --report compliance; use markdown or json")
    if framework_key is None:
        if fmt == "markdown":
            raise ValueError("--report compliance --format markdown per framework needs --framework")
        return json.dumps({"stack": result.stack, "tier": result.tier.name,
                           "frameworks": [_doc(result, get_framework(k)) for k in FRAMEWORK_NAMES]}, indent=2) + "\n"
    framework = get_framework(framework_key)
    if fmt == "json":
        return json.dumps({"stack": result.stack, "tier": result.tier.name, **_doc(result, framework)}, indent=2) + "\n"
    return _markdown(result, framework)


def _doc(result: CheckResult, framework: Framework) -> dict[str, Any]:
    controls = evidence(result, framework)
    return {
        "framework": framework.key, "title": framework.title, "securityHubStandard": framework.security_hub_standard,
        "summary": _summary(controls),
        "controls": [{"control": c.control, "title": c.title, "status": c.status,
                      "rules": [{"id": r.rule_id, "title": r.title, "level": r.level, "result": r.result,
                                 "findings": r.counts, "configRule": r.config_rule} for r in c.rules]}
                     for c in controls],
        "gaps": [c.control for c in controls if c.status == "gap"],
    }


def _markdown(result: CheckResult, framework: Framework) -> str:
    controls = evidence(result, framework)
    s = _summary(controls)
    lines = [
        f"# {framework.title} evidence: {result.stack}",
        "",
        f"Tier **{result.tier.name}** (residency {result.residency}). {len(controls)} controls: {s['evidenced']} "
        f"evidenced, {s['violated']} violated, {s['not evidenced']} not evidenced by this plan, {s['gap']} gap(s).",
        "",
    ]
    if framework.security_hub_standard:
        lines += [f"After deploy, Security Hub runs the `{framework.security_hub_standard}` standard in every "
                  "region of the stack, beside the AWS Config rules below.", ""]
    lines += ["| control | status | rule | level | result on this plan | AWS Config rule after deploy |",
              "|---|---|---|---|---|---|"]
    for c in controls:
        head = f"| {c.control} {md_cell(c.title)} | {c.status} |"
        if not c.rules:
            lines.append(head + " - | - | - | - |")
            continue
        for i, r in enumerate(c.rules):
            found = ", ".join(f"{n} {o}" for o, n in r.counts.items()) or "nothing to judge"
            cell = f"`{r.config_rule}`" if r.config_rule else NO_CONFIG_RULE
            lines.append((head if i == 0 else "| | |") + f" {r.rule_id} | {r.level} | {r.result} ({found}) | {cell} |")
    gaps = [c for c in controls if c.status == "gap"]
    lines += ["", "## Gaps", ""]
    if gaps:
        lines += ["No rule evidences these controls from a plan; they need evidence of their own (processes, "
                  "people, tests):", ""]
        lines += [f"- {c.control}: {md_cell(c.title)}" for c in gaps]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _control_key(control: str) -> tuple:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", control))
