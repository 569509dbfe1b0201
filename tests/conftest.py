"""The one mock-engine fixture set, shared by every test.

Everything renders through `blueprints.plan.engine`, the same offline engine `blueprint plan` uses,
so tests assert on what the engine saw: types, inputs, parents, providers, protect.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from blueprints.plan.engine import Plan, load_stack_file, render_stack, run_program
from blueprints.tiers import TIER_NAMES

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
EXAMPLES = TIER_NAMES
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/llm-server:1.4.2"
# Restricted pins images by digest: the model server's, and the add-ons' the project ships none for.
# The same stand-ins as the restricted example and the README's walkthrough, so that the files
# `new` writes in tests and in the walkthrough are one render.
DIGEST = "sha256:de11deb5a260b0a9c88bffdf0d5442734ed931fa928d87ad76b645466f280238"
PINNED_IMAGE = f"{IMAGE}@{DIGEST}"
ADDON_DIGESTS = {"nvidia-device-plugin": "sha256:4312da43b7ff7cc0571ea89944d138edefbfa14d7ed0fa85c1607535eee2808d",
                 "efa-device-plugin": "sha256:f16c128f44d6166cce73f5ba17ab6d4f873c0ef51ffe4ec2df5294b2797fcb42",
                 "neuron-device-plugin": "sha256:" + "03" * 32}
# The `blueprint new` options restricted needs for them (the default p5 + g6 stack's add-ons).
PIN_OPTIONS = ("--model-image", PINNED_IMAGE, *(x for a in ("nvidia-device-plugin", "efa-device-plugin")
                                                 for x in ("--image-digest", f"{a}={ADDON_DIGESTS[a]}")))

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
                   "residency": "eu", "inference": {"modelImage": PINNED_IMAGE, "regions": ["eu-west-1", "eu-central-1"]},
                   "images": ADDON_DIGESTS,
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
    return _shared(f"render:{key}", lambda: _render(tier, changes, region))


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


# Where the pytest-xdist workers of one run share the plans they render (set by the session
# fixture below; None: render in this process). A plan costs seconds to render and both workers
# need the examples and the common configs: the first worker to ask renders it, the other loads
# its pickle.
_SHARED_PLANS: Optional[Path] = None


def _shared(key: str, build: Callable[[], Plan]) -> Plan:
    """The plan `build` renders, rendered once per test run across workers (keyed by `key`)."""
    if _SHARED_PLANS is None:
        return build()
    import fcntl
    import hashlib
    import pickle

    _SHARED_PLANS.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    cached = _SHARED_PLANS / f"{digest}.pickle"
    with open(_SHARED_PLANS / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one render per run; the other worker waits for it
        if cached.exists():
            return pickle.loads(cached.read_bytes())
        plan = build()
        partial = cached.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(plan))
        partial.replace(cached)
        return plan


@functools.lru_cache(maxsize=None)
def _example(tier: str) -> Plan:
    return _shared(f"example:{tier}", lambda: render_stack(load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml")))


@pytest.fixture(scope="session", autouse=True)
def _share_example_plans(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> None:
    """Under pytest-xdist, the workers of this run share a directory next to their base temps."""
    global _SHARED_PLANS
    if worker_id != "master":
        _SHARED_PLANS = tmp_path_factory.getbasetemp().parent / "example-plans"


@pytest.fixture(scope="session", autouse=True)
def _plan_cache_outside_the_repository(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> None:
    """The plan cache (blueprints/plan/cache.py) of a test run lives in its temp directory, shared
    by the xdist workers, never in the repository's .blueprint/."""
    import os

    base = tmp_path_factory.getbasetemp()
    os.environ["BLUEPRINT_CACHE_DIR"] = str((base.parent if worker_id != "master" else base) / "plan-cache")


@pytest.fixture(scope="session")
def example_plan() -> Callable[[str], Plan]:
    """example_plan("restricted") -> the plan of stacks/Pulumi.restricted-example.yaml (cached,
    rendered once per test run)."""
    return _example


@pytest.fixture
def render_component() -> Callable[..., Plan]:
    """render_component(fn, region="eu-west-1") runs `fn` (which creates components) under the
    offline engine and returns what it registered."""

    def _go(fn: Callable[[], None], region: str = "eu-west-1", stack: str = "component-test") -> Plan:
        return run_program(fn, stack=stack, config={"aws:region": region}, secret_keys=[])

    return _go


_CLI_RENDERS: dict[str, Plan] = {}


@pytest.fixture
def cli_renders(monkeypatch):
    """The verbs render through blueprints.cli.render_stack; here one render serves every verb
    that reads the same stack (the example stacks' renders are the session's). The plans are
    read-only to the CLI; that rendering is deterministic is tested in test_engine.py."""
    from blueprints import cli

    monkeypatch.setenv("BLUEPRINT_NO_CACHE", "1")  # the shared renders above serve instead
    real = cli.render_stack

    def shared(stack, program=None):
        if program is not None:
            return real(stack, program)
        if stack.path.resolve().parent == STACKS.resolve() and stack.stack.endswith("-example"):
            return _example(stack.stack.removesuffix("-example"))
        key = json.dumps([stack.stack, stack.runtime_config()], sort_keys=True)
        if key not in _CLI_RENDERS:
            _CLI_RENDERS[key] = _shared(f"cli:{key}", lambda: real(stack))
        return _CLI_RENDERS[key]

    monkeypatch.setattr(cli, "render_stack", shared)
