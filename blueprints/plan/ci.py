"""`blueprint ci --base REF [STACK...]`: what a pull request does to every stack.

For each stack (default: every stacks/Pulumi.*.yaml at HEAD or at REF) the head plan (the
working tree) and the base plan (REF, rendered by REF's own code from a temporary `git
worktree`) are compared: the head plan is checked against its tier, the two are diffed
(blueprints/plan/diff.py), and the monthly cost before and after is set side by side by
component (blueprints/plan/cost.py). A stack new at HEAD diffs against nothing; a stack gone
at HEAD shows its deletions.

A destructive change is a protected or stateful resource (a bucket, key, file system, log
group, cluster, ...) that the change deletes or replaces: its data goes with it. They are
listed first, and fail the run unless the caller allows them.

How each side is rendered, cheapest first:
1. the plan cache (blueprints/plan/cache.py): the key is content-addressed, so when REF's
   program equals HEAD's the base is the head's plan of the same stack bytes;
2. in this process, when the program that renders is byte-for-byte the one this process runs
   (the SDK is imported once for every stack); `jobs` > 1 spreads these renders over processes;
3. otherwise a subprocess running that side's code: `python -m blueprints.cli plan --json`
   with the side's checkout as working directory, so its packages shadow the installed ones.

Renders run with the program's checkout as working directory, as `pulumi up` does: the plan
records Lambda code paths relative to it.

Bad input raises CiInputError (the CLI exits 2): not a git repository, an unknown REF, a REF
without `blueprint plan`, a stack that does not validate at HEAD. Each problem is one line.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from blueprints.plan import cache as cache_mod
from blueprints.plan import cost as cost_mod
from blueprints.plan import diff as diff_mod
from blueprints.plan.engine import Plan, StackFile, StackFileError, load_stack_file

STACK_GLOB = "Pulumi.*.yaml"
STACKS_DIR = "stacks"
COMMENT_LIMIT = 65_000  # GitHub rejects comments over 65,536 characters
OUTPUTS = {"markdown": "ci.md", "json": "ci.json", "sarif": "ci.sarif"}

# Resources whose deletion or replacement loses data or state that cannot be re-created from
# the program: what they hold (objects, key material, files, logs, a cluster's workloads).
STATEFUL_TYPES: dict[str, str] = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:kms/key:Key": "KMS key",
    "aws:fsx/lustreFileSystem:LustreFileSystem": "file system",
    "aws:efs/fileSystem:FileSystem": "file system",
    "aws:cloudwatch/logGroup:LogGroup": "log group",
    "aws:eks/cluster:Cluster": "cluster",
    "aws:rds/cluster:Cluster": "database cluster",
    "aws:rds/instance:Instance": "database",
    "aws:dynamodb/table:Table": "table",
    "aws:ecr/repository:Repository": "image repository",
    "aws:cognito/userPool:UserPool": "user pool",
    "aws:secretsmanager/secret:Secret": "secret",
    "aws:backup/vault:Vault": "backup vault",
    "aws:kinesis/stream:Stream": "stream",
    "aws:sqs/queue:Queue": "queue",
}


class CiInputError(Exception):
    """Bad input to `ci`; `problems` holds one line per problem."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


# -----------------------------------------------------------------------------------------
# Results
# -----------------------------------------------------------------------------------------


@dataclass
class Destructive:
    stack: str
    op: str  # delete | replace
    type: str
    name: str
    reasons: list[str]  # "protected", "retainOnDelete", "stateful: bucket", "replaced by storageCapacity"

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "op": self.op, "type": self.type, "name": self.name, "reasons": self.reasons}


@dataclass
class StackResult:
    stack: str
    file: str  # relative to the repository root
    status: str  # new | deleted | changed | unchanged
    base: Optional[Plan]
    head: Optional[Plan]
    diff: diff_mod.PlanDiff
    check: Any = None  # policies.evaluate.CheckResult of the head plan (None for a deleted stack)
    cost_before: Optional[cost_mod.CostEstimate] = None
    cost_after: Optional[cost_mod.CostEstimate] = None
    destructive: list[Destructive] = field(default_factory=list)
    # Extra markdown sections (title, body) appended to this stack's part of the report; filled
    # from STACK_SECTIONS for each changed stack (the diagram of the head plan goes here).
    sections: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tier(self) -> str:
        return (self.head or self.base).tier if (self.head or self.base) else ""

    @property
    def mandatory_violations(self) -> int:
        return 0 if self.check is None else sum(1 for f in self.check.of("violation") if f.level == "mandatory")

    @property
    def advisory_violations(self) -> int:
        return 0 if self.check is None else sum(1 for f in self.check.of("violation") if f.level == "advisory")

    def cost_total(self, side: str) -> float:
        estimate = self.cost_before if side == "before" else self.cost_after
        return estimate.total_monthly_usd if estimate else 0.0

    def cost_by_component(self) -> list[dict[str, Any]]:
        before = self.cost_before.by_component() if self.cost_before else {}
        after = self.cost_after.by_component() if self.cost_after else {}
        rows = [{"component": c, "before": before.get(c, 0.0), "after": after.get(c, 0.0),
                 "change": round(after.get(c, 0.0) - before.get(c, 0.0), 2)} for c in {**before, **after}]
        return sorted(rows, key=lambda r: (-abs(r["change"]), r["component"]))


def _diagram(result: StackResult) -> Optional[tuple[str, str]]:
    """The head plan's picture (blueprint diagram), so a reviewer sees what the stack now is."""
    if result.head is None:
        return None
    from blueprints.plan.diagram import markdown

    return "Diagram", markdown(result.head)


# Functions (StackResult -> (title, markdown) or None) whose sections are appended to each
# changed stack's part of the report.
STACK_SECTIONS: list[Callable[[StackResult], Optional[tuple[str, str]]]] = [_diagram]


@dataclass
class CiReport:
    base_ref: str
    base_commit: str
    head_commit: str
    stacks: list[StackResult]
    allow_destructive: bool = False

    @property
    def destructive(self) -> list[Destructive]:
        return [d for s in self.stacks for d in s.destructive]

    @property
    def exit_code(self) -> int:
        if any(s.mandatory_violations for s in self.stacks):
            return 1
        return 1 if self.destructive and not self.allow_destructive else 0

    def verdict(self) -> str:
        reasons = []
        mandatory = sum(s.mandatory_violations for s in self.stacks)
        if mandatory:
            reasons.append(f"{mandatory} mandatory guardrail violation(s)")
        if self.destructive:
            allowed = " (allowed by --allow-destructive)" if self.allow_destructive else ""
            reasons.append(f"{len(self.destructive)} destructive change(s){allowed}")
        head = "FAIL" if self.exit_code else "PASS"
        return f"{head}: " + ("; ".join(reasons) if reasons else "no mandatory violation, no destructive change")


# -----------------------------------------------------------------------------------------
# Git
# -----------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def git_root(cwd: Path) -> Path:
    if shutil.which("git") is None:
        raise CiInputError("git is not installed; `blueprint ci` compares two commits of a git repository")
    found = _git(cwd, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise CiInputError(f"{cwd}: not a git repository; run `blueprint ci` inside the project's checkout")
    return Path(found.stdout.strip()).resolve()


def resolve_ref(root: Path, ref: str) -> str:
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0 or not found.stdout.strip():
        raise CiInputError(f"--base {ref}: unknown ref (a branch, tag or commit of this repository; "
                           f"in CI fetch it first, e.g. `git fetch origin {ref.removeprefix('origin/')}`)")
    return found.stdout.strip()


@contextlib.contextmanager
def worktree(root: Path, commit: str) -> Iterator[Path]:
    """A temporary, detached checkout of `commit`, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="blueprint-ci-"))
    path = parent / "base"
    added = _git(root, "worktree", "add", "--detach", "--quiet", str(path), commit)
    if added.returncode != 0:
        shutil.rmtree(parent, ignore_errors=True)
        raise CiInputError(f"cannot check out {commit[:12]} into a temporary worktree: {added.stderr.strip()}")
    try:
        yield path
    finally:
        _git(root, "worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        _git(root, "worktree", "prune")


def _head_commit(root: Path) -> str:
    found = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    return found.stdout.strip()


# -----------------------------------------------------------------------------------------
# Rendering
# -----------------------------------------------------------------------------------------


@dataclass
class _Side:
    """One side of the comparison: a checkout of the program and its stack files."""

    name: str  # "HEAD" or the base ref
    root: Path

    @property
    def digest(self) -> str:
        return cache_mod.program_digest(self.root)

    @property
    def runs_here(self) -> bool:
        """This process runs the same program, byte for byte: it may render in-process."""
        return self.digest == cache_mod.program_digest(cache_mod.PROGRAM_ROOT)

    def stack(self, rel: str) -> Optional[StackFile]:
        path = self.root / rel
        return load_stack_file(path) if path.is_file() else None


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _render_in_process(stack_path: str, use_cache: bool) -> Plan:
    """Render with this process's program, from its checkout (also the ProcessPool entry)."""
    from blueprints.plan.engine import render_stack

    with _cwd(cache_mod.PROGRAM_ROOT):
        return cache_mod.cached_render(load_stack_file(stack_path), render_stack, cache_mod.PlanCache(enabled=use_cache))


def _render_subprocess(side: _Side, rel: str, use_cache: bool) -> Plan:
    """Render with `side`'s own code: `python -m blueprints.cli plan --json` in its checkout."""
    if not (side.root / "blueprints" / "cli.py").is_file():
        raise CiInputError(f"{side.name}: predates `blueprint plan --json` (no blueprints/cli.py); "
                           "pick a base that has it")
    env = dict(os.environ, **{cache_mod.CACHE_ENV: str(cache_mod.cache_dir().resolve())})
    env.pop("PYTHONPATH", None)
    command = [sys.executable, "-m", "blueprints.cli", "plan", "--json", rel] + ([] if use_cache else ["--no-cache"])
    done = subprocess.run(command, cwd=side.root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.removeprefix("error: ") for line in done.stderr.strip().splitlines()] or ["no output"]
        if "No such option" in done.stderr or "No such command" in done.stderr:
            raise CiInputError(f"{side.name}: its `blueprint plan` has no --json; pick a newer base")
        raise CiInputError([f"{rel} at {side.name}: {line}" for line in lines[-5:]])
    try:
        return Plan.from_dict(json.loads(done.stdout))
    except (ValueError, KeyError, TypeError) as exc:
        raise CiInputError(f"{rel} at {side.name}: `blueprint plan --json` printed no plan ({exc})") from None


def _identity(path: str) -> str:
    """Stack name and bytes: what, with the program, decides the plan."""
    import hashlib

    return Path(path).name + ":" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def render_all(tasks: list[tuple[_Side, str]], *, use_cache: bool, jobs: int) -> dict[tuple[str, str], Plan]:
    """Plans for (side, stack file) pairs: cache hits first, then in-process renders (in `jobs`
    processes when jobs > 1), then subprocess renders."""
    plans: dict[tuple[str, str], Plan] = {}
    cache = cache_mod.PlanCache(enabled=use_cache)
    local: list[tuple[tuple[str, str], str]] = []
    foreign: list[tuple[tuple[str, str], _Side, str]] = []
    for side, rel in tasks:
        stack = side.stack(rel)
        if stack is None:
            continue
        hit = cache.get(cache_mod.stack_key(stack, side.root, cwd=side.root))
        if hit is not None:
            plans[(side.name, rel)] = hit
        elif side.runs_here:
            local.append(((side.name, rel), str(stack.path.resolve())))
        else:
            foreign.append(((side.name, rel), side, rel))
    # The same stack bytes at the same program are one render (an unchanged stack at an
    # unchanged program: the base is the head's plan).
    identity = {path: _identity(path) for _, path in local}
    unique: dict[str, str] = {}
    for _, path in local:
        unique.setdefault(identity[path], path)
    if jobs > 1 and len(unique) > 1:
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(unique))) as pool:
            futures = {path: pool.submit(_render_in_process, path, use_cache) for path in unique.values()}
            rendered = {path: f.result() for path, f in futures.items()}
    else:
        rendered = {path: _render_in_process(path, use_cache) for path in unique.values()}
    for key, path in local:
        plans[key] = rendered[unique[identity[path]]]
    if foreign:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures2 = {key: pool.submit(_render_subprocess, side, rel, use_cache) for key, side, rel in foreign}
            for key, future in futures2.items():
                plans[key] = future.result()
    return plans


# -----------------------------------------------------------------------------------------
# The run
# -----------------------------------------------------------------------------------------


def _stack_files(root: Path, commit: Optional[str]) -> list[str]:
    """Stack files (relative to the root) in the working tree, or at `commit`."""
    import fnmatch

    if commit is None:
        return sorted(f"{STACKS_DIR}/{p.name}" for p in (root / STACKS_DIR).glob(STACK_GLOB) if p.is_file())
    listed = _git(root, "ls-tree", "--name-only", commit, f"{STACKS_DIR}/")
    return sorted(line for line in listed.stdout.splitlines() if fnmatch.fnmatch(Path(line).name, STACK_GLOB))


def select_stacks(root: Path, commit: str, requested: list[str], cwd: Path) -> list[str]:
    at_head, at_base = _stack_files(root, None), _stack_files(root, commit)
    if not requested:
        return sorted(set(at_head) | set(at_base))
    chosen, problems = [], []
    for arg in requested:
        path = (cwd / arg).resolve() if not Path(arg).is_absolute() else Path(arg).resolve()
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            problems.append(f"{arg}: not in the repository {root}")
            continue
        if rel not in at_head and rel not in at_base:
            problems.append(f"{arg}: no such stack file at HEAD or at the base (stack files are {STACKS_DIR}/{STACK_GLOB})")
        elif rel not in chosen:
            chosen.append(rel)
    if problems:
        raise CiInputError(problems)
    return chosen


def _head_specs(root: Path, files: list[str]) -> dict[str, Any]:
    """Each head stack's validated spec; every problem of every stack, one line each, otherwise."""
    from blueprints.program import load_spec
    from blueprints.spec import SpecError

    specs, problems = {}, []
    for rel in files:
        path = root / rel
        if not path.is_file():
            continue
        try:
            stack = load_stack_file(path)
            specs[rel] = load_spec(*stack.runtime_config())
        except StackFileError as exc:
            problems.append(f"{rel}: {str(exc).removeprefix(str(path) + ': ')}")
        except SpecError as exc:
            problems += [f"{rel}: {p}" for p in exc.problems]
    if problems:
        raise CiInputError(problems)
    return specs


def run(base_ref: str, stacks: Optional[list[str]] = None, *, cwd: Optional[Path] = None,
        allow_destructive: bool = False, use_cache: bool = True, jobs: int = 1) -> CiReport:
    """Render, check, diff and price every selected stack at `base_ref` and at HEAD."""
    cwd = (cwd or Path.cwd()).resolve()
    root = git_root(cwd)
    commit = resolve_ref(root, base_ref)
    files = select_stacks(root, commit, list(stacks or []), cwd)
    specs = _head_specs(root, files)
    head = _Side("HEAD", root)
    with worktree(root, commit) as checkout:
        base = _Side(base_ref, checkout)
        plans = render_all([(head, rel) for rel in files] + [(base, rel) for rel in files], use_cache=use_cache, jobs=jobs)
    results = [_compare(rel, plans.get((base.name, rel)), plans.get((head.name, rel)), specs.get(rel)) for rel in files]
    return CiReport(base_ref=base_ref, base_commit=commit, head_commit=_head_commit(root), stacks=results,
                    allow_destructive=allow_destructive)


def _compare(rel: str, base: Optional[Plan], head: Optional[Plan], spec: Any) -> StackResult:
    from policies import runner

    name = Path(rel).name[len("Pulumi."):].rsplit(".", 1)[0]
    before = base or Plan(stack=name, tier=head.tier if head else "", resources=[])
    after = head or Plan(stack=name, tier=before.tier, resources=[])
    d = diff_mod.diff_plans(before, after)
    status = "new" if base is None else "deleted" if head is None else "changed" if d.changes else "unchanged"
    result = StackResult(stack=name, file=rel, status=status, base=base, head=head, diff=d,
                         cost_before=cost_mod.estimate(base) if base else None,
                         cost_after=cost_mod.estimate(head) if head else None,
                         destructive=destructive_changes(name, d, before))
    if head is not None:
        suppressions = [s.model_dump() for s in [*spec.model.suppressions, *spec.implied_suppressions]] if spec else []
        result.check = runner.run(head.to_dict(), residency=spec.residency if spec else None, suppressions=suppressions)
        if status != "unchanged":
            result.sections = [section for add in STACK_SECTIONS if (section := add(result)) is not None]
    return result


def destructive_changes(stack: str, d: diff_mod.PlanDiff, base: Plan) -> list[Destructive]:
    """Deletions and replacements of protected or stateful resources, in plan order."""
    old = base.by_urn()
    found = []
    for c in d.changes:
        if c.op not in ("delete", "replace"):
            continue
        r = old.get(c.urn) or next((x for x in base.resources if diff_mod.logical_urn(x.urn) == diff_mod.logical_urn(c.urn)), None)
        reasons = []
        if r is not None and r.protect:
            reasons.append("protected (`pulumi up` refuses until protect is lifted)")
        if c.type in STATEFUL_TYPES:
            reasons.append(f"stateful: a {STATEFUL_TYPES[c.type]} and what it holds")
        if not reasons:
            continue
        if r is not None and r.retain_on_delete:
            reasons.append("retainOnDelete: the old one stays in AWS, outside the stack")
        if c.op == "replace":
            reasons.append("replaced because " + ", ".join(f"`{k}`" for k in c.replace_keys) + " changed")
        found.append(Destructive(stack=stack, op=c.op, type=c.type, name=c.name, reasons=reasons))
    return found


# -----------------------------------------------------------------------------------------
# Reports
# -----------------------------------------------------------------------------------------


def write_reports(report: CiReport, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {"markdown": markdown(report), "json": to_json(report), "sarif": sarif(report)}
    paths = {}
    for kind, text in texts.items():
        path = out_dir / OUTPUTS[kind]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        paths[kind] = path
    return paths


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _delta(value: float) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "±") + f"${abs(value):,.2f}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: CiReport, limit: int = COMMENT_LIMIT) -> str:
    """The PR comment: verdict, destructive changes first, one row per stack, the cost delta,
    then each stack's guardrails, diff and extra sections (folded), cut to fit `limit`."""
    head = [f"## `blueprint ci`: `{report.base_ref}` ({report.base_commit[:7]}) → HEAD ({report.head_commit[:7] or 'no commit'})",
            "", f"**{report.verdict()}**", ""]
    if report.destructive:
        head += ["### Destructive changes", "",
                 "Deleting or replacing these loses what they hold. " + (
                     "Allowed by `--allow-destructive`." if report.allow_destructive else
                     "The run fails until they are removed from the change or allowed with `--allow-destructive`."), ""]
        shown = report.destructive[:50]
        head += [f"- **{d.op}** `{d.stack}`: `{d.type}` {_md(d.name)}: " + "; ".join(d.reasons) for d in shown]
        if len(report.destructive) > len(shown):
            head.append(f"- … {len(report.destructive) - len(shown)} more in ci.json")
        head.append("")
    head += ["### Stacks", "", "| stack | tier | status | create | update | replace | delete | mandatory | advisory "
             "| monthly before | after | change |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in report.stacks:
        n = s.diff.summary()
        check = "-" if s.check is None else str(s.mandatory_violations)
        head.append(f"| `{s.stack}` | {s.tier} | {s.status} | {n['create']} | {n['update']} | {n['replace']} | {n['delete']} "
                    f"| {check} | {'-' if s.check is None else s.advisory_violations} | {_usd(s.cost_total('before'))} "
                    f"| {_usd(s.cost_total('after'))} | {_delta(s.cost_total('after') - s.cost_total('before'))} |")
    before = sum(s.cost_total("before") for s in report.stacks)
    after = sum(s.cost_total("after") for s in report.stacks)
    head += [f"| **total** | | | | | | | | | **{_usd(before)}** | **{_usd(after)}** | **{_delta(after - before)}** |", "",
             "Monthly costs are estimates from list prices (`blueprint cost` prints the assumptions).", ""]
    top = "\n".join(head)
    blocks = [_stack_block(s) for s in report.stacks if s.status != "unchanged" or s.mandatory_violations]
    unchanged = [s.stack for s in report.stacks if s.status == "unchanged" and not s.mandatory_violations]
    tail = f"Unchanged: {', '.join(f'`{n}`' for n in unchanged)}.\n" if unchanged else ""
    budget = limit - len(top) - len(tail) - 200
    share = budget // max(1, len(blocks))
    return top + "\n" + "".join(_fit(b, share) for b in blocks) + tail


def _stack_block(s: StackResult) -> str:
    lines = [f"### `{s.stack}` ({s.status})", ""]
    if s.check is not None:
        violations = sorted((f for f in s.check.of("violation")), key=lambda f: (f.level != "mandatory", f.rule.id, f.resource))
        lines.append(f"Guardrails ({s.check.tier.name} pack): {s.mandatory_violations} mandatory and "
                     f"{s.advisory_violations} advisory violation(s), {len(s.check.of('suppressed'))} suppressed.")
        mandatory = [f for f in violations if f.level == "mandatory"]
        lines += [""] + [f"- **{f.rule.id}** {_md(f.resource_name)}: {_md(f.message)}" for f in mandatory] if mandatory else []
        advisory = [f for f in violations if f.level == "advisory"]
        if advisory:
            lines += ["", f"<details><summary>{len(advisory)} advisory violation(s)</summary>", "",
                      *[f"- {f.rule.id} {_md(f.resource_name)}: {_md(f.message)}" for f in advisory], "", "</details>"]
        lines.append("")
    if s.diff.changes:
        body = diff_mod.format_diff(s.diff, "markdown").split("\n", 2)[-1].replace("\n#### ", "\n##### ")
        lines += [f"<details><summary>Diff: {diff_mod.summary_line(s.diff).strip('*')}</summary>", "", body.strip(), "",
                  "</details>", ""]
    rows = [r for r in s.cost_by_component() if r["change"]]
    if rows:
        lines += ["<details><summary>Cost change by component (monthly)</summary>", "",
                  "| component | before | after | change |", "|---|---:|---:|---:|",
                  *[f"| {_md(r['component'])} | {_usd(r['before'])} | {_usd(r['after'])} | {_delta(r['change'])} |" for r in rows],
                  "", "</details>", ""]
    for title, body in s.sections:
        lines += [f"<details><summary>{title}</summary>", "", body.strip(), "", "</details>", ""]
    return "\n".join(lines) + "\n"


def _fit(block: str, budget: int) -> str:
    """`block`, or its first lines with open <details> closed and a note, when over `budget`."""
    if len(block) <= budget:
        return block
    note = "\n\n… cut to fit a PR comment: ci.json in the output directory has everything.\n"
    cut = block[: max(0, budget - len(note) - 40)]
    cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else ""
    open_details = cut.count("<details>") - cut.count("</details>")
    return cut + note + "\n</details>\n" * max(0, open_details) + "\n"


def to_json(report: CiReport) -> str:
    from policies.report import _summary

    doc = {
        "base": {"ref": report.base_ref, "commit": report.base_commit}, "head": {"commit": report.head_commit},
        "exitCode": report.exit_code, "verdict": report.verdict(), "allowDestructive": report.allow_destructive,
        "destructive": [d.to_dict() for d in report.destructive],
        "stacks": [{
            "stack": s.stack, "file": s.file, "tier": s.tier, "status": s.status,
            "check": None if s.check is None else {**_summary(s.check), "violations": [
                {"rule": f.rule.id, "level": f.level, "resource": f.resource, "message": f.message}
                for f in s.check.of("violation")]},
            "cost": {"beforeMonthlyUsd": s.cost_total("before"), "afterMonthlyUsd": s.cost_total("after"),
                     "changeMonthlyUsd": round(s.cost_total("after") - s.cost_total("before"), 2),
                     "byComponent": s.cost_by_component()},
            "diff": s.diff.to_dict(),
            "sections": [{"title": t, "markdown": b} for t, b in s.sections],
        } for s in report.stacks],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def sarif(report: CiReport) -> str:
    """One SARIF log, one run per checked stack (policies/report.py's SARIF of each)."""
    from policies.report import SARIF_SCHEMA, sarif as stack_sarif

    runs = [run for s in report.stacks if s.check is not None for run in json.loads(stack_sarif(s.check))["runs"]]
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}, indent=2) + "\n"
