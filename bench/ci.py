"""Benchmark: cold processes, side by side, as a user runs them (issue 12, item 2).

1. `blueprint plan` of the restricted example (no cache) against the floor: a program that
   imports the same SDK classes and registers as many bare resources under Pulumi's mocks.
   Target: plan <= 1.15x floor.
2. A cache hit: `blueprint check` of the restricted example a second time. Target: < 0.5 s.
3. `blueprint ci --base HEAD` over the four examples, unchanged, with an empty cache (both sides
   have the same program, so the base is served by the head's renders). Target: < 1.5x one
   cold plan. And the same run again, with the cache it filled.

Every measurement is a fresh process. "Cold" is the process, not the disk: bytecode is written
once (to a temporary PYTHONPYCACHEPREFIX, not the checkout) by an untimed warm-up, as it is on
a user's machine after the first run. Times are wall clock and CPU (user + system of the child);
the targets are judged on CPU, which a shared machine does not inflate. Run: `make bench` or
`.venv/bin/python bench/ci.py [--runs N]`. Exit 1 when a target is missed. Not in `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESTRICTED = "stacks/Pulumi.restricted-example.yaml"
BLUEPRINT = [sys.executable, "-m", "blueprints.cli"]
TARGET_PLAN_OVER_FLOOR = 1.15
TARGET_HIT_SECONDS = 0.5
TARGET_CI_OVER_PLAN = 1.5

# The floor: the same SDK classes imported, the same number of bare resources registered under
# Pulumi's mocks, through the same run loop the engine uses. argv[1]: a JSON file of
# [type, custom] per resource of the plan.
FLOOR = r'''
import importlib, json, sys
import pulumi
from pulumi.runtime import mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

class Mocks(mocks.Mocks):
    def new_resource(self, args):
        return args.name + "-id", dict(args.inputs)
    def call(self, args):
        return {}

resources = json.load(open(sys.argv[1]))
classes = {}
for package in ("pulumi_aws", "pulumi_kubernetes"):
    init = open(importlib.util.find_spec(package).origin).read()
    start = init.index('resource_modules="""') + len('resource_modules="""')
    for module in json.loads(init[start:init.index('"""', start)]):
        classes.update({token: (module["fqn"], name) for token, name in module["classes"].items()})

def program():
    for i, (token, custom) in enumerate(resources):
        if token in classes:  # load the SDK class the program uses
            fqn, name = classes[token]
            getattr(importlib.import_module(fqn), name)
        if token.startswith("pulumi:providers:"):
            pulumi.ProviderResource(token.split(":")[2], f"r{i}", {})
        elif custom:
            pulumi.CustomResource(token, f"r{i}", {})
        else:
            pulumi.ComponentResource(token, f"r{i}")

mocks.set_mocks(Mocks(), project="ai-blueprints", stack="floor", preview=False)
_sync_await(run_pulumi_func(program))
print(len(resources))
'''


def _env(cache: Path, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "BLUEPRINT_NO_CACHE")}
    env.update(PYTHONPYCACHEPREFIX=str(pycache), BLUEPRINT_CACHE_DIR=str(cache))
    return env


def timed(command: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per measurement (the median is shown)")
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="blueprint-bench-"))
    try:
        pycache, plan_json, floor_in = work / "pycache", work / "plan.json", work / "floor.json"
        env = _env(work / "warm-up-cache", pycache)
        # Warm-up (untimed): bytecode, and the plan whose resources the floor registers.
        subprocess.run(BLUEPRINT + ["plan", RESTRICTED, "--json", "--out", str(plan_json)], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL, check=True)
        plan = json.loads(plan_json.read_text())
        floor_in.write_text(json.dumps([[s["newState"]["type"], s["newState"]["custom"]] for s in plan["steps"]
                                        if s["newState"]["type"] != "pulumi:pulumi:Stack"]))
        floor_cmd = [sys.executable, "-c", FLOOR, str(floor_in)]
        timed(floor_cmd, env)
        subprocess.run(BLUEPRINT + ["ci", "--base", "HEAD", "--out-dir", str(work / "ci")], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        floor = median([timed(floor_cmd, env) for _ in range(runs)])
        cold = median([timed(BLUEPRINT + ["plan", RESTRICTED, "--json", "--no-cache"], env) for _ in range(runs)])
        hit_env = _env(work / "hit-cache", pycache)
        timed(BLUEPRINT + ["check", RESTRICTED], hit_env)  # fills the cache
        hit = median([timed(BLUEPRINT + ["check", RESTRICTED], hit_env) for _ in range(runs)])
        ci_cold, ci_warm = [], []
        for i in range(runs):
            ci_env = _env(work / f"ci-cache-{i}", pycache)
            command = BLUEPRINT + ["ci", "--base", "HEAD", "--out-dir", str(work / "ci")]
            ci_cold.append(timed(command, ci_env, ok=(0, 1)))
            ci_warm.append(timed(command, ci_env, ok=(0, 1)))
        ci_c, ci_w = median(ci_cold), median(ci_warm)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    dirty = subprocess.run(["git", "status", "--porcelain", "--", "components", "blueprints", "policies", "stacks"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"cold processes, {runs} run(s) each, median; {len(plan['steps'])} resources in the restricted example")
    print(f"{'measurement':<46}{'wall s':>9}{'CPU s':>9}")
    for label, (wall, cpu) in (("floor (same SDK classes, bare resources)", floor),
                               ("blueprint plan restricted --no-cache", cold),
                               ("blueprint check restricted, cache hit", hit),
                               ("blueprint ci --base HEAD, 4 examples, empty cache", ci_c),
                               ("blueprint ci --base HEAD, 4 examples, cache filled", ci_w)):
        print(f"{label:<46}{wall:>9.2f}{cpu:>9.2f}")
    checks = [
        ("single plan / floor", cold[1] / floor[1], TARGET_PLAN_OVER_FLOOR, "x"),
        ("cache hit (CPU s)", hit[1], TARGET_HIT_SECONDS, " s"),
        ("ci on 4 unchanged examples / cold plan", ci_c[1] / cold[1], TARGET_CI_OVER_PLAN, "x"),
    ]
    missed = False
    for label, value, target, unit in checks:
        ok = value <= target if unit == "x" else value < target
        missed |= not ok
        print(f"{label:<46}{value:>9.2f}{unit}  target {'<=' if unit == 'x' else '<'} {target}{unit.strip()}"
              f"  {'ok' if ok else 'MISSED by ' + format(value / target - 1, '.0%')}")
    if dirty:
        print("note: uncommitted program or stack changes: ci's base (HEAD) differs from the working tree, so it "
              "renders the base too; commit for the unchanged-examples figure")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
