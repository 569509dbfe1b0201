"""The one mock-engine fixture set, shared by every test.

Everything renders through `blueprints.engine`, the same offline engine `blueprint plan` uses,
so tests assert on what the engine saw: types, inputs, parents, providers, protect.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from blueprints.engine import Plan, load_stack_file, render_stack, run_program
from blueprints.tiers import TIER_NAMES

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
EXAMPLES = TIER_NAMES
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/llm-server:1.4.2"

# The smallest valid config of each tier; tests deep-merge their changes into it.
BASE_CONFIG: dict[str, dict[str, Any]] = {
    "public": {"name": "demo-public", "tier": "public", "owner": "ml@example.com", "costCenter": "CC-1",
               "inference": {"modelImage": IMAGE}},
    "internal": {"name": "demo-internal", "tier": "internal", "owner": "ml@example.com", "costCenter": "CC-1",
                 "inference": {"modelImage": IMAGE}},
    "confidential": {"name": "demo-conf", "tier": "confidential", "owner": "ml@example.com", "costCenter": "CC-1",
                     "residency": "eu", "inference": {"modelImage": IMAGE, "regions": ["eu-west-1", "eu-central-1"]},
                     "accounts": {"training": "444444444444", "inference": "555555555555"}},
    "restricted": {"name": "demo-restricted", "tier": "restricted", "owner": "ml@example.com", "costCenter": "CC-1",
                   "residency": "eu", "inference": {"modelImage": IMAGE, "regions": ["eu-west-1", "eu-central-1"]},
                   "accounts": {"training": "111111111111", "inference": "222222222222", "logArchive": "333333333333"}},
}


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        elif value is DELETE:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out


DELETE = object()  # use as a value in `changes` to remove a key


def spec_config(tier: str, changes: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return deep_merge(BASE_CONFIG[tier], changes or {})


def write_stack(tmp_path: Path, blueprint: Any, *, region: str = "eu-west-1", stack: str = "test") -> Path:
    import yaml

    config: dict[str, Any] = {"ai-blueprints:blueprint": blueprint}
    if region is not None:
        config["aws:region"] = region
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


@functools.lru_cache(maxsize=None)
def _render_cached(key: str) -> Plan:
    tier, changes, region = json.loads(key)
    return _render(tier, changes, region)


def _render(tier: str, changes: dict[str, Any], region: str) -> Plan:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_stack(Path(tmp), spec_config(tier, changes), region=region, stack=f"{tier}-test")
        return render_stack(load_stack_file(path))


@pytest.fixture(scope="session")
def render() -> Callable[..., Plan]:
    """render(tier, changes=None, region="eu-west-1") -> Plan of that tier's base config with
    `changes` deep-merged. Plans are cached per argument set: treat them as read-only."""

    def _go(tier: str, changes: Optional[dict[str, Any]] = None, region: str = "eu-west-1") -> Plan:
        return _render_cached(json.dumps([tier, changes or {}, region], sort_keys=True))

    return _go


@functools.lru_cache(maxsize=None)
def _example(tier: str) -> Plan:
    return render_stack(load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml"))


@pytest.fixture(scope="session")
def example_plan() -> Callable[[str], Plan]:
    """example_plan("restricted") -> the plan of stacks/Pulumi.restricted-example.yaml (cached)."""
    return _example


@pytest.fixture
def render_component() -> Callable[..., Plan]:
    """render_component(fn, region="eu-west-1") runs `fn` (which creates components) under the
    offline engine and returns what it registered."""

    def _go(fn: Callable[[], None], region: str = "eu-west-1", stack: str = "component-test") -> Plan:
        return run_program(fn, stack=stack, config={"aws:region": region}, secret_keys=[])

    return _go
