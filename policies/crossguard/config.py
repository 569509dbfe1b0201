"""Write a `--policy-pack-config` document for a tier (and residency):

    python -m policies.crossguard.config restricted eu > policy-config.json
    pulumi preview --policy-pack policies/crossguard --policy-pack-config policy-config.json

Each policy gets the tier's enforcement level and the `tier`/`residency` its validator reads.
"""

from __future__ import annotations

import json
import sys

from policies.crossguard.validators import policy_config


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        sys.stderr.write("usage: python -m policies.crossguard.config TIER [RESIDENCY]\n")
        return 2
    try:
        doc = policy_config(argv[0], argv[1] if len(argv) == 2 else None)
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
