"""The plan cache: a hit equals a fresh render, a second `check` renders nothing, and a corrupt,
truncated or stale entry is rendered again, never trusted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from blueprints import cli
from blueprints.plan import cache as cache_mod
from blueprints.plan.engine import Plan, Resource, load_stack_file

ROOT = Path(__file__).resolve().parents[3]
PUBLIC = ROOT / "stacks" / "Pulumi.public-example.yaml"
runner = CliRunner()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> cache_mod.PlanCache:
    monkeypatch.setenv(cache_mod.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(cache_mod.NO_CACHE_ENV, raising=False)
    return cache_mod.PlanCache()


@pytest.fixture
def renders(monkeypatch, example_plan) -> list[str]:
    """Counts the renders the CLI asks for; each returns the session's plan of the public example."""
    calls: list[str] = []

    def counting(stack, program=None):
        calls.append(stack.stack)
        return example_plan("public")

    monkeypatch.setattr(cli, "render_stack", counting)
    return calls


def test_a_cached_plan_equals_a_fresh_render(cache, example_plan, render_component):
    import pulumi
    import pulumi_aws as aws

    def program():  # the options the plan JSON leaves out must survive the cache too
        aws.s3.Bucket("b", opts=pulumi.ResourceOptions(ignore_changes=["tags"], protect=True, retain_on_delete=True,
                                                       custom_timeouts=pulumi.CustomTimeouts(create="5m")))

    for plan in (example_plan("public"), render_component(program)):
        cache.put("k" * 64, plan)
        again = cache.get("k" * 64)
        assert again == plan and again is not plan
        assert again.to_json() == plan.to_json()
    bucket = next(r for r in again.resources if r.type == "aws:s3/bucket:Bucket")
    assert bucket.ignore_changes == ["tags"] and bucket.custom_timeouts == {"create": "5m"} and bucket.retain_on_delete


def test_a_second_check_is_served_from_the_cache(cache, renders, tmp_path):
    stack = tmp_path / "Pulumi.public-example.yaml"
    shutil.copy(PUBLIC, stack)
    first = runner.invoke(cli.app, ["check", str(stack)])
    second = runner.invoke(cli.app, ["check", str(stack)])
    assert renders == ["public-example"]  # the second check rendered nothing
    assert second.exit_code == first.exit_code == 0 and second.output == first.output
    for verb in (["cost"], ["plan"], ["diff", str(stack)]):
        assert runner.invoke(cli.app, [*verb, str(stack)]).exit_code == 0
    assert renders == ["public-example"]
    runner.invoke(cli.app, ["check", str(stack), "--no-cache"])
    assert len(renders) == 2
    stack.write_text(stack.read_text() + "# a comment is a change of bytes\n")
    runner.invoke(cli.app, ["check", str(stack)])
    assert len(renders) == 3


def _small_plan() -> Plan:
    return Plan(stack="public-example", tier="public", resources=[Resource(
        urn="urn:pulumi:public-example::ai-blueprints::aws:s3/bucket:Bucket::b", type="aws:s3/bucket:Bucket", name="b",
        custom=True, parent="", provider="", inputs={"bucket": "b"}, dependencies=[], protect=True,
        retain_on_delete=False, id="b-1", outputs={"__region": "us-east-1"})])


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "old schema", "another key", "not json"])
def test_a_damaged_or_stale_entry_is_rendered_again(cache, damage):
    plan, stack = _small_plan(), load_stack_file(PUBLIC)
    key = cache_mod.stack_key(stack)
    cache.put(key, plan)
    path = cache.path(key)
    raw = path.read_bytes()
    header, _, payload = raw.partition(b"\n")
    broken = {
        "truncated": raw[: len(raw) // 2],
        "flipped byte": header + b"\n" + payload.replace(b'"bucket":"b"', b'"bucket":"c"', 1),
        "old schema": header.replace(b'"schema": 1', b'"schema": 0') + b"\n" + payload,
        "another key": header.replace(key.encode(), b"0" * 64) + b"\n" + payload,
        "not json": b"\x00garbage",
    }[damage]
    assert broken != raw
    path.write_bytes(broken)
    rendered = []
    again = cache_mod.cached_render(stack, lambda s: rendered.append(s) or plan, cache)
    assert rendered and again is plan  # never trusted: rendered again ...
    assert path.read_bytes() == raw  # ... and the entry rewritten whole
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]


def test_the_key_covers_program_sources_sdk_versions_and_the_stack(tmp_path, monkeypatch):
    root = tmp_path / "program"
    for rel in ("components/a.py", "components/lambdas/fn/handler.py", "blueprints/b.py", "policies/c.py",
                "__main__.py", "Pulumi.yaml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    digests = set()

    def digest() -> str:
        cache_mod._DIGESTS.clear()
        digests.add(cache_mod.program_digest(root))
        return cache_mod.program_digest(root)

    first = digest()
    (root / "components" / "README.txt").write_text("not source")
    (root / "components" / "__pycache__").mkdir()
    (root / "components" / "__pycache__" / "a.cpython-311.pyc").write_text("bytecode")
    assert digest() == first  # only what the program runs
    for rel in ("components/lambdas/fn/handler.py", "blueprints/b.py", "policies/c.py", "Pulumi.yaml", "__main__.py"):
        (root / rel).write_text(rel + " changed")
        digest()
    monkeypatch.setattr(cache_mod, "sdk_versions", lambda: {"pulumi_aws": "0.0.1"})
    digest()
    assert len(digests) == 7
    cache_mod._DIGESTS.clear()
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n  aws:region: eu-west-1\n")
    one = cache_mod.stack_key(load_stack_file(stack), root)
    stack.write_text("config:\n  aws:region: eu-west-1\n# comment\n")
    assert cache_mod.stack_key(load_stack_file(stack), root) != one
    assert cache_mod.stack_key(load_stack_file(stack), root, cwd=tmp_path) != cache_mod.stack_key(
        load_stack_file(stack), root, cwd=root)  # the engine records asset paths relative to the cwd


def test_the_cache_lives_in_dot_blueprint_or_where_the_env_says(monkeypatch, tmp_path):
    monkeypatch.delenv(cache_mod.CACHE_ENV, raising=False)
    assert cache_mod.cache_dir() == ROOT / ".blueprint" / "cache"
    assert ".blueprint/" in (ROOT / ".gitignore").read_text().splitlines()
    monkeypatch.setenv(cache_mod.CACHE_ENV, str(tmp_path))
    assert cache_mod.cache_dir() == tmp_path
    clean = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True).stdout
    assert ".blueprint" in clean


def test_a_cache_hit_never_imports_the_sdk(cache, example_plan):
    """What makes a cold `check` on a hit cheap: the lookup path imports no provider SDK."""
    stack = load_stack_file(PUBLIC)
    cache.put(cache_mod.stack_key(stack, cwd=ROOT), example_plan("public"))
    script = (
        "import sys\n"
        "from blueprints.cli import app\n"
        "try:\n    app(['check', 'stacks/Pulumi.public-example.yaml'])\n"
        "except SystemExit as exit:\n    code = exit.code\n"
        "sdk = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_kubernetes'))\n"
        "print('RESULT', code, sdk)\n"
    )
    env = {**os.environ, cache_mod.CACHE_ENV: str(cache.directory)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "RESULT 0 []", done.stdout[-2000:] + done.stderr[-2000:]
