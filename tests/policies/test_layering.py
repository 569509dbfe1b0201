"""policies/ imports only blueprints.tiers from the project, and only the pack's __main__.py
constructs a PolicyPack (constructing one starts the policy server)."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

POLICIES = ROOT / "policies"


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_policies_import_only_the_tier_matrix_from_the_project() -> None:
    offenders = {}
    for path in POLICIES.rglob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("blueprints", "components") and m != "blueprints.tiers"}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_only_the_pack_entry_point_constructs_a_policy_pack() -> None:
    constructing = sorted(str(p.relative_to(ROOT)) for p in POLICIES.rglob("*.py") if "PolicyPack(" in p.read_text())
    assert constructing == ["policies/crossguard/__main__.py"]
