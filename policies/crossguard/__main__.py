"""Entry point of the CrossGuard policy pack; the only place a PolicyPack is constructed
(constructing one starts the policy server).

    pulumi preview --policy-pack policies/crossguard
    pulumi preview --policy-pack policies/crossguard \
        --policy-pack-config <(python -m policies.crossguard.config restricted eu)

The rules live in the repository's `policies` package, which imports only `blueprints.tiers`
(standard library only), so the pack's virtualenv needs nothing beyond requirements.txt; the
repository root is put on sys.path so that `policies` imports from this checkout.
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.crossguard.validators import build_policies, defaults_from_environment  # noqa: E402

DEFAULTS = defaults_from_environment()

PolicyPack(
    name="ai-blueprints-guardrails",
    description=f"ai-blueprints guardrails ({DEFAULTS.tier} pack by default; see docs/RULES.md)",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=build_policies(DEFAULTS),
)
