"""Tier packs: which rules a tier enforces and at which level, read from the Tier fields.

A pack is not a second list to keep in sync: each rule's `level` function reads the tier
(`s3_object_lock`, `key_rotation`, `siem_sources`, ...), so changing `blueprints/tiers.py`
changes the packs.
"""

from __future__ import annotations

from blueprints.tiers import TIER_NAMES, Tier, get_tier
from policies.rule import Rule, all_rules


def pack(tier: Tier | str) -> dict[str, str]:
    """Rule id -> `mandatory` | `advisory` | `disabled` for one tier."""
    t = get_tier(tier) if isinstance(tier, str) else tier
    return {rule.id: rule.level_for(t) for rule in all_rules()}


def enforced_rules(tier: Tier | str) -> list[tuple[Rule, str]]:
    """The rules a tier runs (mandatory or advisory), with their level."""
    levels = pack(tier)
    return [(rule, levels[rule.id]) for rule in all_rules() if levels[rule.id] != "disabled"]


def packs() -> dict[str, dict[str, str]]:
    """Every tier's pack, by tier name."""
    return {name: pack(name) for name in TIER_NAMES}
