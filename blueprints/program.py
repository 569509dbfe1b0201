"""The Pulumi program: read the spec from stack config, validate it, build the blueprint.

`__main__.py` calls `main()` under `pulumi up`; the offline engine calls the very same
function under mocks. A config problem stops the program before any resource is registered.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from blueprints.spec import CONFIG_KEY, Spec, SpecError, parse_spec


def load_spec(config: Mapping[str, str], secret_keys: Sequence[str], *, offline: bool = False) -> Spec:
    """The spec from runtime config values (strings, objects as JSON), as the CLI hands them over.
    `offline`: for the offline engine and CLI, where a secret not set yet is a warning
    (blueprints.spec.parse_spec)."""
    raw_text = config.get(CONFIG_KEY)
    raw = None
    if raw_text is not None:
        try:
            raw = json.loads(raw_text)
        except json.JSONDecodeError:
            raise SpecError([f"{CONFIG_KEY}: must be a structured object (name, tier, owner, ...), not a string"]) from None
    return parse_spec(raw, region=config.get("aws:region"), token_is_secret=CONFIG_KEY in set(secret_keys),
                      offline=offline)


def under_offline_engine() -> bool:
    """Whether the program runs under Pulumi's in-process mocks (blueprints.plan.engine, tests)
    rather than a real engine (`pulumi up`, `pulumi preview`): the one place that tells them apart."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), MockMonitor)


def _runtime_config() -> tuple[dict[str, str], list[str]]:
    from pulumi.runtime.config import get_config, is_config_secret

    config = {}
    for key in (CONFIG_KEY, "aws:region"):
        value = get_config(key)
        if value is not None:
            config[key] = value
    return config, [k for k in config if is_config_secret(k)]


def main() -> None:
    # The SDK is imported here, not at the top: the CLI validates specs (load_spec) and serves
    # cached plans without paying for it (blueprints/plan/cache.py).
    import pulumi

    from blueprints.blueprint import build

    config, secret_keys = _runtime_config()
    try:
        spec = load_spec(config, secret_keys, offline=under_offline_engine())
    except SpecError as exc:
        # RunError prints the message without a traceback; nothing has been registered.
        raise pulumi.RunError("invalid stack config:\n  " + "\n  ".join(exc.problems)) from None
    ctx = build(spec)
    # What `pulumi up` cannot do: copy these images into the stack's private repositories.
    pulumi.export("images_to_push", [{"image": p.image, "push_to": p.push_to, "region": p.region, "account": p.account}
                                     for p in ctx.image_pushes])
