"""docs/RULES.md is generated from the rule metadata and kept in sync."""

from __future__ import annotations

import subprocess
import sys

from policies.docs import rules_markdown
from policies.rule import all_rules
from tests.conftest import ROOT

RULES_MD = ROOT / "docs" / "RULES.md"


def test_rules_md_is_in_sync_with_the_rule_metadata() -> None:
    assert RULES_MD.read_text(encoding="utf-8") == rules_markdown(), (
        "docs/RULES.md is stale: regenerate it with `python -m policies.docs > docs/RULES.md`")


def test_rules_md_lists_every_rule_with_its_title_and_tier_levels() -> None:
    text = rules_markdown()
    for rule in all_rules():
        assert f"| {rule.id} | {rule.title.replace('|', chr(92) + '|')} | {rule.severity} |" in text
        assert f"### {rule.id}: " in text
    assert "| public | internal | confidential | restricted |" in text


def test_module_entry_point_prints_the_document() -> None:
    out = subprocess.run([sys.executable, "-m", "policies.docs"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout == rules_markdown()
