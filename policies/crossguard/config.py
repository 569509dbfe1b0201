"""Write a `--policy-pack-config` document for a tier (and residency, and the stack's accounts):

    python -m policies.crossguard.config restricted eu > policy-config.json
    python -m policies.crossguard.config restricted eu \
        --accounts training=111111111111,inference=222222222222,logArchive=333333333333 > policy-config.json
    pulumi preview --policy-pack policies/crossguard --policy-pack-config policy-config.json

Each policy gets the tier's enforcement level and the `tier`/`residency` (and `accounts`) its
validator reads. Without `--accounts`, the validators read the stack config's `accounts`.
"""

from __future__ import annotations

import json
import sys
from typing import Optional

from policies.crossguard.validators import policy_config

USAGE = ("usage: python -m policies.crossguard.config TIER [RESIDENCY] "
         "[--accounts training=ID,inference=ID[,logArchive=ID]]\n")


def parse_accounts_option(value: str) -> dict[str, str]:
    """`training=111111111111,inference=222222222222` -> {role: id} (checked by policy_config)."""
    accounts = {}
    for pair in filter(None, value.split(",")):
        role, sep, account = pair.partition("=")
        if not sep:
            raise ValueError(f"--accounts: {pair!r} is not ROLE=ACCOUNT_ID")
        accounts[role.strip()] = account.strip()
    return accounts


def main(argv: list[str]) -> int:
    args = list(argv)
    accounts: Optional[dict[str, str]] = None
    try:
        if "--accounts" in args:
            at = args.index("--accounts")
            if at + 1 >= len(args):
                raise ValueError("--accounts needs ROLE=ACCOUNT_ID[,ROLE=ACCOUNT_ID...]")
            accounts = parse_accounts_option(args[at + 1])
            del args[at:at + 2]
        if not 1 <= len(args) <= 2:
            sys.stderr.write(USAGE)
            return 2
        doc = policy_config(args[0], args[1] if len(args) == 2 else None, accounts=accounts)
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
