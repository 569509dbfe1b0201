"""Render a check result: table, JSON, markdown, SARIF 2.1.0, and the compliance report."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from policies.controls import FRAMEWORKS
from policies.evaluate import CheckResult, Finding
from policies.rule import Rule

FORMATS = ("table", "json", "markdown", "sarif")
REPORTS = ("compliance",)
TOOL_NAME = "ai-blueprints-guardrails"
TOOL_VERSION = "0.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_EVIDENCE_LIMIT = 6


def render(result: CheckResult, fmt: str) -> str:
    renderers: dict[str, Callable[[CheckResult], str]] = {
        "table": table, "json": to_json, "markdown": markdown, "sarif": sarif,
    }
    return renderers[fmt](result)


def _summary(result: CheckResult) -> dict[str, int]:
    violations = result.of("violation")
    return {
        "rules": len(result.rules),
        "mandatoryViolations": sum(1 for f in violations if f.level == "mandatory"),
        "advisoryViolations": sum(1 for f in violations if f.level == "advisory"),
        "suppressed": len(result.of("suppressed")),
        "exempt": len(result.of("exempt")),
        "passed": len(result.of("pass")),
        "notApplicableRules": len(result.not_applicable),
    }


def _order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.level != "mandatory", f.rule.id, f.resource))


def _problems(result: CheckResult) -> list[Finding]:
    """Violations, then suppressed findings, then declared exemptions, each mandatory first:
    nothing a rule let through is silent."""
    return _order(result.of("violation")) + _order(result.of("suppressed")) + _order(result.of("exempt"))


def _message(f: Finding) -> str:
    """A finding's message, with the suppression's reason when suppressed (an exemption's
    message is its reason)."""
    return f"{f.message} (suppressed: {f.suppressed_by.reason})" if f.suppressed_by else f.message


def _headline(result: CheckResult) -> str:
    s = _summary(result)
    verdict = "FAIL" if result.exit_code else "PASS"
    return (f"{verdict}: {result.stack} against the {result.tier.name} pack (residency {result.residency}): "
            f"{s['mandatoryViolations']} mandatory and {s['advisoryViolations']} advisory violation(s), "
            f"{s['suppressed']} suppressed, {s['exempt']} exempt, {s['passed']} passed checks, {s['rules']} rules "
            f"({s['notApplicableRules']} not applicable)")


# -- table -------------------------------------------------------------------------------------
def table(result: CheckResult) -> str:
    rows = [("OUTCOME", "LEVEL", "RULE", "SEVERITY", "RESOURCE", "MESSAGE")]
    for f in _problems(result):
        rows.append((f.outcome, f.level, f.rule.id, f.rule.severity, f.resource_name, _message(f)))
    lines = []
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            lines.append("  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5])
        lines.append("")
    for s in result.unused_suppressions:
        lines.append(f"note: suppression of {s.rule} for {s.resource} matched no finding")
    lines.append(_headline(result))
    return "\n".join(lines) + "\n"


# -- JSON --------------------------------------------------------------------------------------
def _rule_json(rule: Rule, level: str) -> dict[str, Any]:
    return {"id": rule.id, "title": rule.title, "severity": rule.severity, "area": rule.area, "level": level,
            "types": list(rule.types), "controls": {k: list(v) for k, v in rule.controls.items()}}


def to_json(result: CheckResult) -> str:
    doc = {
        "stack": result.stack,
        "tier": result.tier.name,
        "residency": result.residency,
        "exitCode": result.exit_code,
        "summary": _summary(result),
        "rules": [_rule_json(r, result.levels[r.id]) for r in result.rules],
        "findings": [
            {"rule": f.rule.id, "level": f.level, "severity": f.rule.severity, "outcome": f.outcome,
             "resource": f.resource, "resourceName": f.resource_name, "message": f.message,
             **({"suppression": f.suppressed_by.reason} if f.suppressed_by else {})}
            for f in result.findings
        ],
        "notApplicable": [r.id for r in result.not_applicable],
        "coverage": result.coverage,
        "unusedSuppressions": [{"rule": s.rule, "resource": s.resource} for s in result.unused_suppressions],
    }
    return json.dumps(doc, indent=2) + "\n"


# -- markdown ----------------------------------------------------------------------------------
def md_cell(text: str) -> str:
    """Text for one markdown table cell: pipes escaped, on one line."""
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(result: CheckResult) -> str:
    lines = [f"# Guardrails: {result.stack} ({result.tier.name} pack)", "", _headline(result), ""]
    problems = _problems(result)
    if problems:
        lines += ["| outcome | level | rule | severity | resource | message |", "|---|---|---|---|---|---|"]
        for f in problems:
            lines.append(f"| {f.outcome} | {f.level} | {f.rule.id} | {f.rule.severity} | `{f.resource_name}` | {md_cell(_message(f))} |")
        lines.append("")
    passed = sorted({f.rule.id for f in result.of("pass")} - {f.rule.id for f in problems})
    if passed:
        lines += ["Rules with every check passing: " + ", ".join(passed), ""]
    if result.not_applicable:
        lines += ["Not applicable (nothing in the plan to judge): " + ", ".join(r.id for r in result.not_applicable), ""]
    return "\n".join(lines)


# -- SARIF 2.1.0 -------------------------------------------------------------------------------
def _sarif_level(f: Finding) -> str:
    if f.outcome in ("suppressed", "exempt"):
        return "note"
    return "error" if f.level == "mandatory" else "warning"


def sarif(result: CheckResult) -> str:
    rules = result.rules
    index = {r.id: i for i, r in enumerate(rules)}
    artifact = f"stacks/Pulumi.{result.stack}.yaml"
    results = []
    for f in _problems(result):
        entry: dict[str, Any] = {
            "ruleId": f.rule.id,
            "ruleIndex": index[f.rule.id],
            "level": _sarif_level(f),
            "message": {"text": f"{f.rule.title}: {f.message} ({f.resource_name})"},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": artifact}},
                "logicalLocations": [{"name": f.resource_name, "fullyQualifiedName": f.resource, "kind": "resource"}],
            }],
            "properties": {"enforcement": f.level, "severity": f.rule.severity},
        }
        if f.suppressed_by:
            entry["suppressions"] = [{"kind": "external", "justification": f.suppressed_by.reason}]
        elif f.outcome == "exempt":
            entry["suppressions"] = [{"kind": "inSource", "justification": f.message}]
        results.append(entry)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "rules": [{
                    "id": r.id,
                    "name": r.fn.__name__,
                    "shortDescription": {"text": r.title},
                    "fullDescription": {"text": r.description or r.title},
                    "help": {"text": f"{r.title}. Level on the {result.tier.name} tier: {result.levels[r.id]}."},
                    "defaultConfiguration": {"level": "error" if result.levels[r.id] == "mandatory" else "warning"},
                    "properties": {"severity": r.severity, "area": r.area, "resourceTypes": list(r.types),
                                   "controls": {k: list(v) for k, v in r.controls.items()},
                                   "tags": ["security", r.area]},
                } for r in rules],
            }},
            "automationDetails": {"id": f"{TOOL_NAME}/{result.stack}/{result.tier.name}"},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


# -- compliance report -------------------------------------------------------------------------
def compliance_markdown(result: CheckResult) -> str:
    """Per framework: the controls the plan evidences (rules and resources as evidence) and the
    controls with violations. Rules that judged nothing evidence nothing."""
    lines = [
        f"# Compliance report: {result.stack}",
        "",
        f"Tier **{result.tier.name}** (residency {result.residency}). {_headline(result)}",
        "",
        "A control is *evidenced* when at least one rule mapped to it checked resources in this plan "
        "and none of that rule's findings is an open violation; it is *violated* when any mapped rule "
        "has an open violation. Suppressed findings are listed with their reason.",
        "",
    ]
    by_rule: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule.id, []).append(f)
    for framework, title in FRAMEWORKS.items():
        controls: dict[str, list[str]] = {}
        for rule in result.rules:
            for control in rule.controls.get(framework, ()):
                controls.setdefault(control, []).append(rule.id)
        evidenced, violated = [], []
        for control in sorted(controls, key=_control_key):
            rule_ids = controls[control]
            judged = [rid for rid in rule_ids if any(f.outcome != "not-applicable" for f in by_rule.get(rid, []))]
            if not judged:
                continue
            open_ = [f for rid in judged for f in by_rule[rid] if f.outcome == "violation"]
            if open_:
                violated.append((control, open_))
            else:
                passing = [f for rid in judged for f in by_rule[rid] if f.outcome in ("pass", "suppressed", "exempt")]
                evidenced.append((control, judged, passing))
        lines += [f"## {title}", ""]
        lines.append(f"{len(evidenced)} control(s) evidenced, {len(violated)} with violations.")
        lines.append("")
        if evidenced:
            lines += ["| control | rules | evidence (resources) |", "|---|---|---|"]
            for control, rule_ids, passing in evidenced:
                lines.append(f"| {control} | {', '.join(rule_ids)} | {_evidence(passing)} |")
            lines.append("")
        if violated:
            lines += ["Controls with violations:", "", "| control | rule | level | resource | finding |", "|---|---|---|---|---|"]
            for control, open_ in violated:
                for f in open_:
                    lines.append(f"| {control} | {f.rule.id} | {f.level} | `{f.resource_name}` | {md_cell(f.message)} |")
            lines.append("")
    for title, outcome in (("Suppressions", "suppressed"), ("Exemptions", "exempt")):
        excused = result.of(outcome)
        if excused:
            lines += [f"## {title}", "", "| rule | resource | reason |", "|---|---|---|"]
            lines += [f"| {f.rule.id} | `{f.resource_name}` | {md_cell(_reason(f))} |" for f in _order(excused)]
            lines.append("")
    return "\n".join(lines)


def _reason(f: Finding) -> str:
    """Why a finding does not count: its suppression's reason, or the exemption (its message)."""
    return f.suppressed_by.reason if f.suppressed_by else f.message


def _evidence(findings: list[Finding]) -> str:
    names = sorted({f.resource_name + (f" ({f.outcome})" if f.outcome in ("suppressed", "exempt") else "") for f in findings})
    shown = ", ".join(f"`{n}`" for n in names[:_EVIDENCE_LIMIT])
    more = len(names) - _EVIDENCE_LIMIT
    return shown + (f" and {more} more" if more > 0 else "")


def _control_key(control: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", control))
