r"""Write a `--policy-pack-config` document for a tier (and residency, and the stack's accounts):

    python -m policies.crossguard.config restricted eu --out .blueprint/crossguard/policy-config.json
    python -m policies.crossguard.config restricted eu \
        --accounts training=111111111111,inference=222222222222,logArchive=333333333333 > policy-config.json
    pulumi preview --policy-pack policies/crossguard --policy-pack-config .blueprint/crossguard/policy-config.json

`--out` writes the file (its folder created), else the document goes to stdout.

Each policy gets the tier's enforcement level and the `tier`/`residency` (and `accounts`,
`organization`) its validator reads. Without `--accounts` (`--organization`), the validators read
the stack config's `accounts` (`accounts.organization`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from policies.crossguard.validators import policy_config

USAGE = ("usage: python -m policies.crossguard.config TIER [RESIDENCY] "
         "[--accounts training=ID,inference=ID[,logArchive=ID]] [--organization o-...] [--out FILE]\n")


def parse_accounts_option(value: str) -> dict[str, str]:
    """`training=111111111111,inference=222222222222` -> {role: id} (checked by policy_config)."""
    accounts = {}
    for pair in filter(None, value.split(",")):
        role, sep, account = pair.partition("=")
        if not sep:
            raise ValueError(f"--accounts: {pair!r} is not ROLE=ACCOUNT_ID")
        accounts[role.strip()] = account.strip()
    return accounts


def _take_option(args: list[str], option: str, needs: str) -> Optional[str]:
    """Remove `option VALUE` from `args` and return VALUE (None when the option is absent)."""
    if option not in args:
        return None
    at = args.index(option)
    if at + 1 >= len(args):
        raise ValueError(f"{option} needs {needs}")
    value = args[at + 1]
    del args[at:at + 2]
    return value


def main(argv: list[str]) -> int:
    args = list(argv)
    if {"-h", "--help"} & set(args):
        sys.stdout.write(USAGE + __doc__)
        return 0
    accounts: Optional[dict[str, str]] = None
    try:
        organization = _take_option(args, "--organization", "an AWS Organizations id (o-...)")
        accounts_option = _take_option(args, "--accounts", "ROLE=ACCOUNT_ID[,ROLE=ACCOUNT_ID...]")
        out = _take_option(args, "--out", "a file to write, e.g. .blueprint/crossguard/policy-config.json")
        if accounts_option is not None:
            accounts = parse_accounts_option(accounts_option)
        if not 1 <= len(args) <= 2:
            sys.stderr.write(USAGE)
            return 2
        doc = policy_config(args[0], args[1] if len(args) == 2 else None, accounts=accounts, organization=organization)
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    text = json.dumps(doc, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
        return 0
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)  # .blueprint/crossguard/ on a fresh clone
    path.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
