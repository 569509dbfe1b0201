"""`blueprint check`: run a tier's pack on a plan and render the result.

    text, exit_code = check(plan_dict, tier=None, residency="eu", suppressions=[...], fmt="sarif")

The plan is the plan JSON dict of DESIGN.md. Exit code 1 means an unsuppressed mandatory
violation; 0 otherwise. Bad suppressions raise `SuppressionError`; an unknown tier, residency,
format or report raises `ValueError` (the CLI turns both into exit 2).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from policies.evaluate import CheckResult, SuppressionError, evaluate, parse_suppressions, resolve_residency, resolve_tier
from policies.model import PolicyPlan
from policies.report import FORMATS, REPORTS, compliance_markdown, render

__all__ = ["SuppressionError", "check", "run", "FORMATS", "REPORTS"]


def run(plan: Mapping[str, Any], *, tier: Optional[str] = None, residency: Optional[str] = None,
        suppressions: Sequence[Mapping[str, Any]] = ()) -> CheckResult:
    """The structured result (findings per rule and resource) behind `check`."""
    if not isinstance(plan, Mapping) or not isinstance(plan.get("steps"), list):
        raise ValueError("not a plan: expected the plan JSON of `blueprint plan --json` (with `steps`)")
    parsed = parse_suppressions(suppressions)
    resolved_tier = resolve_tier(plan, tier)
    model = PolicyPlan.from_dict(plan)
    return evaluate(model, resolved_tier, resolve_residency(residency, model.home_region), parsed)


def check(plan: dict, *, tier: str | None = None, residency: str | None = None, suppressions: list[dict] = (),
          fmt: str = "table", report: str | None = None) -> tuple[str, int]:
    """Run `tier` (default plan["tier"]) pack on the plan dict; return (text, exit_code) with
    exit 1 on any unsuppressed mandatory violation else 0. fmt: table|json|markdown|sarif.
    report="compliance": a markdown compliance report per framework instead."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if report is not None and report not in REPORTS:
        raise ValueError(f"unknown report {report!r}; use one of {', '.join(REPORTS)}")
    result = run(plan, tier=tier, residency=residency, suppressions=suppressions)
    text = compliance_markdown(result) if report == "compliance" else render(result, fmt)
    return text, result.exit_code
