"""The plan cache: a stack is rendered once per program, so `check`, `cost`, `diff`, `diagram`
and `ci` never render the same stack at the same code twice.

Content-addressed. The key is the SHA-256 of everything a render depends on:

- the program's source: every .py file under components/, blueprints/ and policies/ (the
  Lambda handlers the components package are .py files there too), __main__.py, Pulumi.yaml;
- the installed SDK versions (pulumi, pulumi_aws, pulumi_kubernetes) and Python's version;
- the stack file's bytes, its stack name and the runtime config the engine feeds the program;
- where the program sits relative to the working directory (the engine records asset paths
  relative to it).

Nothing here imports the Pulumi SDK: a hit costs a hash of the sources and one JSON read, and
the SDK is imported only when a render really happens (blueprints/plan/engine.py imports it
inside `run_program`).

Entries live in `.blueprint/cache/` at the project root, or in `$BLUEPRINT_CACHE_DIR`. An entry
is one file: a header line (schema, key, length and SHA-256 of the payload) and the payload,
the plan with every field the engine records. Writes are atomic (a temporary file renamed into
place). An entry whose schema, key, length or checksum does not match is a miss: it is
deleted and the stack is rendered again, never trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

from blueprints.plan.engine import Plan, Resource, StackFile

SCHEMA = 1  # bump when the entry format or what a key covers changes
CACHE_ENV = "BLUEPRINT_CACHE_DIR"
NO_CACHE_ENV = "BLUEPRINT_NO_CACHE"  # set (to anything): as --no-cache on every verb
DEFAULT_DIR = Path(".blueprint") / "cache"
PROGRAM_DIRS = ("components", "blueprints", "policies")
PROGRAM_FILES = ("__main__.py", "Pulumi.yaml")
SDK_DISTRIBUTIONS = ("pulumi", "pulumi_aws", "pulumi_kubernetes")

# The program this process runs: the checkout blueprints/ was imported from.
PROGRAM_ROOT = Path(__file__).resolve().parent.parent.parent


def cache_dir(root: Optional[Path] = None) -> Path:
    """$BLUEPRINT_CACHE_DIR, else .blueprint/cache/ under the project root."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else (root or PROGRAM_ROOT) / DEFAULT_DIR


# -------------------------------------------------------------------------------------
# Keys
# -------------------------------------------------------------------------------------


def program_files(root: Path) -> list[Path]:
    """The files whose content the plan depends on, in a stable order."""
    found: list[Path] = []

    def walk(directory: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__" and not entry.name.startswith("."):
                    walk(entry.path)
            elif entry.name.endswith(".py"):
                found.append(Path(entry.path))

    for name in PROGRAM_DIRS:
        walk(str(root / name))
    found += [root / name for name in PROGRAM_FILES if (root / name).is_file()]
    return found


_DIGESTS: dict[Path, str] = {}


def program_digest(root: Path = PROGRAM_ROOT) -> str:
    """SHA-256 of the program at `root` (its source files, by path and content) and of the SDK
    and Python versions that run it. Computed once per root per process."""
    root = root.resolve()
    if root not in _DIGESTS:
        digest = hashlib.sha256(f"schema {SCHEMA}\n".encode())
        for path in program_files(root):
            data = path.read_bytes()
            digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
            digest.update(data)
        digest.update(json.dumps([sdk_versions(), list(sys.version_info[:2])]).encode())
        _DIGESTS[root] = digest.hexdigest()
    return _DIGESTS[root]


def sdk_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for dist in SDK_DISTRIBUTIONS:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "absent"
    return versions


def stack_key(stack: StackFile, root: Path = PROGRAM_ROOT, cwd: Optional[Path] = None) -> str:
    """The key of `stack` rendered by the program at `root` from the working directory `cwd`."""
    config, secret_keys = stack.runtime_config()
    where = os.path.relpath(root.resolve(), (cwd or Path.cwd()).resolve())
    doc = json.dumps({"program": program_digest(root), "stack": stack.stack, "config": config,
                      "secretKeys": secret_keys, "programFromCwd": where}, sort_keys=True)
    digest = hashlib.sha256(doc.encode())
    digest.update(b"\0")
    digest.update(stack.path.read_bytes())
    return digest.hexdigest()


# -------------------------------------------------------------------------------------
# Entries
# -------------------------------------------------------------------------------------


def plan_to_entry(plan: Plan) -> dict[str, Any]:
    """Every field of the plan, including what the plan JSON leaves out (ignore_changes,
    custom timeouts, the engine's region of each resource), so a hit equals a fresh render."""
    return {"stack": plan.stack, "tier": plan.tier, "accounts": plan.accounts, "organization": plan.organization,
            "resources": [dataclasses.asdict(r) for r in plan.resources]}


def plan_from_entry(doc: dict[str, Any]) -> Plan:
    return Plan(stack=doc["stack"], tier=doc["tier"], accounts=doc["accounts"], organization=doc["organization"],
                resources=[Resource(**r) for r in doc["resources"]])


class PlanCache:
    """Plans by key in one directory; `enabled=False` makes every lookup a miss and stores nothing."""

    def __init__(self, directory: Optional[Path] = None, enabled: bool = True):
        self.directory = directory or cache_dir()
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.plan"

    def get(self, key: str) -> Optional[Plan]:
        if not self.enabled:
            return None
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        plan = self._decode(key, raw)
        if plan is None:  # corrupt, truncated or stale: never trusted, rendered again
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return plan

    @staticmethod
    def _decode(key: str, raw: bytes) -> Optional[Plan]:
        head, newline, payload = raw.partition(b"\n")
        try:
            header = json.loads(head)
            if not newline or not isinstance(header, dict) or header.get("schema") != SCHEMA or header.get("key") != key:
                return None
            if header.get("length") != len(payload) or header.get("sha256") != hashlib.sha256(payload).hexdigest():
                return None
            return plan_from_entry(json.loads(payload))
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, plan: Plan) -> None:
        if not self.enabled:
            return
        payload = json.dumps(plan_to_entry(plan), ensure_ascii=False, separators=(",", ":")).encode()
        header = json.dumps({"schema": SCHEMA, "key": key, "length": len(payload),
                             "sha256": hashlib.sha256(payload).hexdigest()}).encode()
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(header + b"\n" + payload)
                os.replace(tmp, path)  # atomic: a reader sees the old entry, the new one, or none
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a read-only or full disk costs the next run a render, nothing more
            print(f"warning: plan cache not written ({exc})", file=sys.stderr)


def cached_render(stack: StackFile, render: Callable[[StackFile], Plan], cache: PlanCache,
                  root: Path = PROGRAM_ROOT) -> Plan:
    """The plan of `stack`: from the cache, or rendered by `render` and stored."""
    key = stack_key(stack, root)
    plan = cache.get(key)
    if plan is None:
        plan = render(stack)
        cache.put(key, plan)
    return plan
