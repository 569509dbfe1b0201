"""Tier packs: which rules a tier enforces and at which level, read from the Tier fields.

A pack is not a second list to keep in sync: each rule's `level` function reads the tier
(`s3_object_lock`, `key_rotation`, `siem_sources`, ...), so changing `blueprints/tiers.py`
changes the packs.
"""

from __future__ import annotations

from blueprints.tiers import TIER_NAMES, Tier, get_tier
from policies.rule import all_rules


def pack(tier: Tier | str) -> dict[str, str]:
    """Rule id -> `mandatory` | `advisory` | `disabled` for one tier."""
    t = get_tier(tier) if isinstance(tier, str) else tier
    return {rule.id: rule.level_for(t) for rule in all_rules()}


def packs() -> dict[str, dict[str, str]]:
    """Every tier's pack, by tier name."""
    return {name: pack(name) for name in TIER_NAMES}
