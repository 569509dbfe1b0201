"""`blueprint check`: run a tier's pack on a plan and render the result.

    text, exit_code = check(plan_dict, tier=None, residency="eu", suppressions=[...], fmt="sarif")

The plan is the plan JSON dict of DESIGN.md. Exit code 1 means an unsuppressed mandatory
violation; 0 otherwise. Bad suppressions raise `SuppressionError`; an unknown tier, residency,
format or report raises `ValueError` (the CLI turns both into exit 2).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from policies import evidence
from policies.evaluate import CheckResult, SuppressionError, evaluate, parse_suppressions, resolve_residency, resolve_tier
from policies.model import PolicyPlan
from policies.frameworks import FRAMEWORK_NAMES, get_framework
from policies.report import FORMATS, REPORTS, compliance_markdown, render

__all__ = ["SuppressionError", "check", "run", "FORMATS", "REPORTS", "FRAMEWORK_NAMES"]


def run(plan: Mapping[str, Any], *, tier: Optional[str] = None, residency: Optional[str] = None,
        suppressions: Sequence[Mapping[str, Any]] = ()) -> CheckResult:
    """The structured result (findings per rule and resource) behind `check`."""
    if not isinstance(plan, Mapping) or not isinstance(plan.get("steps"), list):
        raise ValueError("not a plan: expected the plan JSON of `blueprint plan --json` (with `steps`)")
    parsed = parse_suppressions(suppressions)
    resolved_tier = resolve_tier(plan, tier)
    model = PolicyPlan.from_dict(plan)
    return evaluate(model, resolved_tier, resolve_residency(residency, model.home_region), parsed)


def check_options(fmt: str | None, report: str | None, framework: str | None) -> None:
    """A ValueError naming the option when format, report and framework do not go together
    (checked before anything is rendered)."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if report is not None and report not in REPORTS:
        raise ValueError(f"unknown report {report!r}; use one of {', '.join(REPORTS)}")
    if framework is not None:
        if report != "compliance":
            raise ValueError("--framework selects the framework of --report compliance; add --report compliance")
        get_framework(framework)
    if report == "compliance" and fmt not in (None, *evidence.EVIDENCE_FORMATS):
        raise ValueError(f"--format {fmt} is not available with --report compliance; use markdown or json")


def check(plan: dict, *, tier: str | None = None, residency: str | None = None, suppressions: list[dict] = (),
          fmt: str | None = None, report: str | None = None, framework: str | None = None) -> tuple[str, int]:
    """Run `tier` (default plan["tier"]) pack on the plan dict; return (text, exit_code) with
    exit 1 on any unsuppressed mandatory violation else 0. fmt: table|json|markdown|sarif (default table).
    report="compliance": the compliance report instead: with `framework`, that framework's evidence
    per control (markdown, the default, or json; policies/evidence.py); without, every framework's
    evidenced and violated controls (markdown) or evidence (json)."""
    check_options(fmt, report, framework)
    result = run(plan, tier=tier, residency=residency, suppressions=suppressions)
    if report == "compliance":
        if framework is None and fmt in (None, "markdown"):
            return compliance_markdown(result), result.exit_code
        return evidence.render(result, framework, fmt or "markdown"), result.exit_code
    return render(result, fmt or "table"), result.exit_code
