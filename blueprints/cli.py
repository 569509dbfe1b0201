"""`blueprint`: tiers, new, validate, plan, check, diff, cost, ci.

Exit codes: 0 fine, 1 findings (check), 2 bad input (one clear line per problem, no traceback).
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, List, NoReturn, Optional, get_args

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree
from typer._click.exceptions import BadParameter, ClickException, NoArgsIsHelpError
from typer.exceptions import Abort
from typer.core import TyperGroup

from blueprints.plan import cost as cost_mod
from blueprints.plan import cache as cache_mod
from blueprints.plan import diagram as diagram_mod
from blueprints.plan import diff as diff_mod
from blueprints import tiers as tiers_mod
from blueprints.plan.engine import Plan, StackFileError, load_plan_file, load_stack_file, render_stack
from blueprints.spec import SiemSpec, SpecError
from policies import runner as runner_mod
from policies.evaluate import parse_suppressions, resolve_residency


class _Cli(TyperGroup):
    """The `blueprint` command: bad usage (an unknown `--format`, a missing option) is one line
    like every other bad input (exit 2), and a reader that closes the pipe early
    (`blueprint plan ... | head`) ends the command quietly (exit 0)."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()  # a closed pipe shows here when the output fit in the buffer
        except NoArgsIsHelpError as exc:
            typer.echo(exc.format_message())
            sys.exit(exc.exit_code)
        except ClickException as exc:
            typer.echo(f"error: {_usage_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            _quiet_closed_pipe()
            code = 0
        except Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # before typer turns it into exit 1
            _quiet_closed_pipe()
            raise typer.Exit(0) from None


def _quiet_closed_pipe() -> None:
    """The reader has what it wanted: send whatever Python still flushes at exit to /dev/null
    instead of a closed pipe (the recipe of the Python docs, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _usage_line(exc: ClickException) -> str:
    """A usage error as one line: the option, what was wrong, and where help is."""
    param = getattr(exc, "param", None)
    if type(exc) is BadParameter and param is not None and getattr(param, "opts", None):  # a bad value
        message = f"{param.opts[0]}: " + " ".join(exc.message.split()).removeprefix("Value error, ")
    else:  # a missing option or argument, an unknown option: the message names it
        message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    return message + (f" (see `{ctx.command_path} --help`)" if ctx is not None else "")


app = typer.Typer(
    name="blueprint",
    help="Secure AWS infrastructure for enterprise AI, by data-classification tier.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Cli,
)


class _Console(Console):
    def on_broken_pipe(self) -> None:  # rich's own ends with exit 1
        self.quiet = True
        _quiet_closed_pipe()
        raise typer.Exit(0)


def _out() -> Console:
    # Wide when piped (CI logs), so tree lines are never cut.
    return _Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _fail(lines: list[str] | str, code: int = 2) -> NoReturn:
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A typer choice built from the values the module that renders them accepts."""
    return Enum(name, {value: value for value in values}, type=str)  # type: ignore[return-value]


TableFormat = _choices("TableFormat", cost_mod.FORMATS)  # table, json, markdown: tiers and cost
CheckFormat = _choices("CheckFormat", runner_mod.FORMATS)
DiagramFormat = _choices("DiagramFormat", diagram_mod.FORMATS)
Report = _choices("Report", runner_mod.REPORTS)
FrameworkChoice = _choices("FrameworkChoice", runner_mod.FRAMEWORK_NAMES)
DiffFormat = _choices("DiffFormat", diff_mod.FORMATS)
TierChoice = _choices("TierChoice", tiers_mod.TIER_NAMES)
SiemChoice = _choices("SiemChoice", get_args(SiemSpec.model_fields["destination"].annotation))


# Every verb that renders takes --no-cache; the verb sets the cache it renders through.
NO_CACHE = typer.Option(False, "--no-cache", help="Render again instead of reading the plan cache (.blueprint/cache/)")
_cache = cache_mod.PlanCache(enabled=False)


def _use_cache(no_cache: bool) -> None:
    global _cache
    _cache = cache_mod.PlanCache(enabled=not (no_cache or os.environ.get(cache_mod.NO_CACHE_ENV)))


def _render(stack):
    """The stack's plan, from the plan cache when this program rendered it before."""
    return cache_mod.cached_render(stack, render_stack, _cache)


# -------------------------------------------------------------------------------------
# Loading stacks and plans: every user mistake becomes exit 2 with the key and the fix.
# -------------------------------------------------------------------------------------


def _spec_of(stack_path: Path):
    """The stack file and its validated spec; exit 2 naming every problem otherwise."""
    from blueprints.program import load_spec

    try:
        stack = load_stack_file(stack_path)
        config, secret_keys = stack.runtime_config()
        return stack, load_spec(config, secret_keys, offline=True)
    except StackFileError as exc:
        _fail(str(exc))
    except SpecError as exc:
        _fail([f"{stack_path}: {p}" for p in exc.problems])


def _is_plan_json(source: Path) -> bool:
    """Whether `source` is a plan JSON (`blueprint plan --out`), whatever its name: a JSON object
    where a stack file is YAML that starts with `config:` or a comment."""
    if source.suffix == ".json":
        return True
    try:
        with open(source, "rb") as fh:
            return fh.read(512).lstrip()[:1] == b"{"
    except OSError:  # missing or unreadable: the stack-file path names the problem
        return False


def _load_plan(source: Path) -> tuple[Plan, Optional[object]]:
    """A plan from a stack file (rendered offline) or a plan JSON file; plus the spec when a
    stack file was given."""
    if _is_plan_json(source):
        try:
            return load_plan_file(source), None
        except StackFileError as exc:
            _fail(str(exc))
    stack, spec = _spec_of(source)
    return _render(stack), spec


# -------------------------------------------------------------------------------------
# tiers
# -------------------------------------------------------------------------------------


@app.command()
def tiers(fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="table, json or markdown")) -> None:
    """Print the guardrail matrix: what each classification tier promises."""
    if fmt is TableFormat.json:
        typer.echo(tiers_mod.matrix_json(), nl=False)
        return
    if fmt is TableFormat.markdown:
        typer.echo(tiers_mod.matrix_markdown(), nl=False)
        return
    table = Table(title="ai-blueprints tiers", show_lines=True)
    table.add_column("guardrail", style="bold")
    for name in tiers_mod.TIER_NAMES:
        table.add_column(name)
    for row in tiers_mod.matrix():
        table.add_row(row["guardrail"], *(row[name] for name in tiers_mod.TIER_NAMES))
    _out().print(table)


# -------------------------------------------------------------------------------------
# new / validate
# -------------------------------------------------------------------------------------


@app.command()
def new(
    name: str = typer.Argument(..., help=escape("Stack and blueprint name: [a-z][a-z0-9-]{2,23}")),
    tier: TierChoice = typer.Option(..., "--tier", help="public, internal, confidential or restricted"),
    region: str = typer.Option(..., "--region", help="Home region (training and security services)"),
    inference_region: Optional[List[str]] = typer.Option(None, "--inference-region", help="Inference region; repeat for several"),
    no_training: bool = typer.Option(False, "--no-training", help="Leave the training blueprint out"),
    no_inference: bool = typer.Option(False, "--no-inference", help="Leave the inference blueprint out"),
    owner: str = typer.Option("ml-platform@example.com", "--owner", help="Owner tag (an email address)"),
    cost_center: str = typer.Option("CC-0000", "--cost-center", help="CostCenter tag"),
    residency: Optional[str] = typer.Option(None, "--residency", help="eu, us or any (default: from --region)"),
    siem: SiemChoice = typer.Option("s3", "--siem", help="SIEM destination: splunk, http or s3"),
    siem_endpoint: Optional[str] = typer.Option(None, "--siem-endpoint", help="https URL of the Splunk HEC or HTTP endpoint"),
    training_account: Optional[str] = typer.Option(
        None, "--training-account", help="12-digit account of training (required on confidential and restricted)"),
    inference_account: Optional[str] = typer.Option(
        None, "--inference-account", help="12-digit account of production inference (required on confidential and restricted)"),
    log_archive_account: Optional[str] = typer.Option(
        None, "--log-archive-account", help="12-digit account of the log archive (required on restricted, advised on confidential)"),
    deploy_role: Optional[str] = typer.Option(
        None, "--deploy-role", help="Role `pulumi up` assumes in each account (default ai-blueprints-deployer)"),
    model_image: Optional[str] = typer.Option(
        None, "--model-image", help="Model server image in ECR (restricted: <repository>:<tag>@sha256:<digest>)"),
    image_digest: Optional[List[str]] = typer.Option(
        None, "--image-digest", help="ADDON=sha256:<digest> of a cluster add-on image; repeat (required on restricted)"),
    directory: Path = typer.Option(Path("stacks"), "--dir", help="Where to write Pulumi.NAME.yaml"),
) -> None:
    """Write a commented, valid stack file for a new blueprint. Never overwrites."""
    from blueprints.scaffold import ScaffoldError, parse_scaffold, render_stack_file

    target = directory / f"Pulumi.{name}.yaml"
    if target.exists():
        _fail(f"{target} already exists; pick another NAME or remove the file yourself")
    digests = dict(item.partition("=")[::2] for item in image_digest or [])
    if bad := [item for item in image_digest or [] if "=" not in item]:
        _fail([f"--image-digest: {item!r} is not ADDON=sha256:<digest>" for item in bad])
    try:
        text = render_stack_file(
            name=name, tier=tier.value, region=region, inference_regions=list(inference_region or []),
            training=not no_training, inference=not no_inference, owner=owner, cost_center=cost_center,
            residency=residency, siem=siem.value, siem_endpoint=siem_endpoint, training_account=training_account,
            inference_account=inference_account, log_archive_account=log_archive_account, deploy_role=deploy_role,
            model_image=model_image, image_digests=digests, path=str(target),
        )
    except ScaffoldError as exc:
        _fail(exc.problems)
    directory.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8") as fh:  # "x": never overwrite, even in a race
        fh.write(text)
    typer.echo(f"wrote {target}")
    spec = parse_scaffold(text)
    if spec.model.accounts is not None:
        external_id = f" with the condition sts:ExternalId = {spec.external_id}" if spec.external_id else ""
        typer.echo(
            f"first: create the role {spec.model.accounts.deploy_role} in account(s) {', '.join(spec.account_ids)}, "
            f"trusting the principal that runs `pulumi up`{external_id} (README, 'Multi-account')"
        )
    if siem.value in ("splunk", "http"):
        typer.echo(
            "next: set the SIEM token as a secret (validate and plan warn, and `pulumi up` stops, until you do):\n"
            f"  pulumi config set --secret --path 'ai-blueprints:blueprint.siem.token' <token> --stack {name}"
        )
    typer.echo(f"then: blueprint validate {target} && blueprint plan {target}")


@app.command()
def validate(stack: Path = typer.Argument(..., help="stacks/Pulumi.<stack>.yaml")) -> None:
    """Report every problem in a stack file, one line each (exit 2), or confirm it is valid."""
    _, spec = _spec_of(stack)
    parts = [f"tier {spec.model.tier}", f"home {spec.region}"]
    if spec.inference.enabled:
        parts.append("inference in " + ", ".join(spec.inference_regions))
    if spec.training.enabled:
        parts.append(f"training on {spec.training.gpu_instance_type}")
    typer.echo(f"ok: {stack} ({'; '.join(parts)})")
    # Valid, but would stall the first `pulumi up`: warn (exit 0), on stderr.
    from blueprints.quotas import elastic_ip_warnings

    for line in [*spec.warnings, *elastic_ip_warnings(spec)]:
        typer.echo(f"warning: {stack}: {line}", err=True)


# -------------------------------------------------------------------------------------
# plan
# -------------------------------------------------------------------------------------


def _short(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def plan_tree(plan: Plan) -> Tree:
    """Stack -> top-level components, each with its resource count by type."""
    root_urn = next((r.urn for r in plan.resources if r.type == "pulumi:pulumi:Stack"), "")
    kinds = {"cloud resources": 0, "components": 0, "providers": 0}
    for r in plan.resources:
        if r.urn != root_urn:
            kinds["providers" if r.type.startswith("pulumi:providers:") else "cloud resources" if r.custom
                  else "components"] += 1
    # The total is `pulumi preview`'s (every step, the stack and components included); then its parts.
    tree = Tree(f"[bold]{plan.stack}[/bold] (tier {plan.tier}): {len(plan.resources)} to create: "
                + ", ".join(f"{n} {kind}" for kind, n in kinds.items()) + (" and the stack" if root_urn else ""))
    tops = [r for r in plan.resources if r.parent == root_urn or (not r.parent and r.urn != root_urn)]
    for top in sorted(tops, key=lambda r: (r.custom, r.name)):
        # What a component creates: its cloud resources, not its nested components or providers.
        members = [m for m in plan.descendants(top.urn)
                   if m.custom and not m.type.startswith("pulumi:providers:")] if not top.custom else []
        label = f"{top.name} [dim]{_short(top.type)}[/dim]"
        if top.custom:
            region = plan.provider_region(top)
            tree.add(label + (f" [dim]{region}[/dim]" if region else ""))
            continue
        region = plan.provider_region(top)
        count = f"{len(members)} resource" + ("" if len(members) == 1 else "s")
        branch = tree.add(f"{label}  {count}" + (f" [dim]{region}[/dim]" if region else ""))
        counts: dict[str, int] = {}
        for m in members:
            counts[_short(m.type)] = counts.get(_short(m.type), 0) + 1
        branch.add(", ".join(f"{n} {t}" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "-")
    return tree


def quota_table(plan: Plan) -> Table:
    """The AWS quotas the plan needs per region, beside AWS's defaults (blueprints/quotas.py)."""
    from blueprints.quotas import quota_needs

    table = Table(title="AWS quotas this stack needs (AWS defaults; compare your account's applied values "
                        "in Service Quotas)", title_justify="left")
    needs = quota_needs(plan)
    by_account = any(n.account for n in needs)  # quotas are per account: say which where there are several
    for column in ("account",) * by_account + ("region", "quota", "needs", "AWS default", "counted from"):
        table.add_column(column, justify="right" if column in ("needs", "AWS default") else "left")
    for need in needs:
        needed = "?" if need.needed is None else str(need.needed)
        table.add_row(*(need.account or "deploying",) * by_account, need.region, need.quota,
                      needed + (" (above default)" if need.above_default else ""),
                      "-" if need.default is None else str(need.default), need.basis)
    return table


@app.command()
def plan(
    stack: Path = typer.Argument(..., help="stacks/Pulumi.<stack>.yaml"),
    as_json: bool = typer.Option(False, "--json", help="Print the plan JSON (the shape of `pulumi preview --json`)"),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the plan JSON to this file"),
    no_cache: bool = NO_CACHE,
) -> None:
    """Render the stack offline (no credentials, no Pulumi CLI) and show what would be created."""
    _use_cache(no_cache)
    if _is_plan_json(stack):
        _fail(f"{stack}: plan takes a stack file (stacks/Pulumi.<stack>.yaml), not a plan JSON")
    rendered, _ = _load_plan(stack)
    text = rendered.to_json()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    if as_json:
        typer.echo(text, nl=False)
    else:
        console = _out()
        console.print(plan_tree(rendered))
        summary = ", ".join(f"{n} {t}" for t, n in sorted(
            ((_short(t), n) for t, n in rendered.count_by_type().items()), key=lambda kv: (-kv[1], kv[0]))[:8])
        console.print(f"most common: {summary}")
        console.print(quota_table(rendered))
        if out is not None:
            console.print(f"plan JSON written to {out}")


# -------------------------------------------------------------------------------------
# check
# -------------------------------------------------------------------------------------


@app.command()
def check(
    source: Path = typer.Argument(..., help="A stack file, or a plan JSON from `blueprint plan --out`"),
    tier: Optional[TierChoice] = typer.Option(None, "--tier", help="Check against another tier's pack"),
    fmt: Optional[CheckFormat] = typer.Option(None, "--format", "-f", help="table (default), json, markdown or sarif; "
                                              "markdown (default) or json with --report compliance"),
    report: Optional[Report] = typer.Option(None, "--report", help="compliance: controls evidenced, per framework"),
    framework: Optional[FrameworkChoice] = typer.Option(
        None, "--framework", help="with --report compliance: one framework's controls, rules, AWS Config rules and gaps"),
    residency: Optional[str] = typer.Option(None, "--residency", help="eu, us or any (default: the stack's)"),
    no_cache: bool = NO_CACHE,
) -> None:
    """Check a plan against the tier's guardrails. Exit 1 on any mandatory violation."""
    options = (fmt.value if fmt else None, report.value if report else None, framework.value if framework else None)
    try:
        runner_mod.check_options(*options)
    except ValueError as exc:
        _fail(str(exc))
    _use_cache(no_cache)
    if _is_plan_json(source):
        rendered, spec = _load_plan(source)
    else:
        stack, spec = _spec_of(source)
        # A bad suppression or residency is the user's to fix before anything is rendered.
        try:
            parse_suppressions([s.model_dump() for s in spec.model.suppressions])
            resolve_residency(residency, spec.region)
        except ValueError as exc:
            _fail(f"{source}: {exc}")
        rendered = _render(stack)
    suppressions = [s.model_dump() for s in [*spec.model.suppressions, *spec.implied_suppressions]] \
        if spec is not None else []
    if residency is None and spec is not None:
        residency = spec.residency
    try:
        text, code = runner_mod.check(
            rendered.to_dict(), tier=tier.value if tier else None, residency=residency,
            suppressions=suppressions, fmt=options[0], report=options[1], framework=options[2],
        )
    except ValueError as exc:  # a bad suppression, residency or tier: the message names the key
        _fail(f"{source}: {exc}")
    typer.echo(text, nl=not text.endswith("\n"))
    raise typer.Exit(code)


# -------------------------------------------------------------------------------------
# diff / cost
# -------------------------------------------------------------------------------------


@app.command()
def diff(
    base: Path = typer.Argument(..., help="Stack file or plan JSON before the change"),
    head: Path = typer.Argument(..., help="Stack file or plan JSON after the change"),
    fmt: DiffFormat = typer.Option(DiffFormat.markdown, "--format", "-f", help="markdown or json"),
    no_cache: bool = NO_CACHE,
) -> None:
    """What a change does: resources created, updated, replaced, deleted; security-relevant first."""
    _use_cache(no_cache)
    before, _ = _load_plan(base)
    after, _ = _load_plan(head)
    text = diff_mod.format_diff(diff_mod.diff_plans(before, after), fmt.value)
    typer.echo(text, nl=not text.endswith("\n"))


@app.command()
def cost(
    source: Path = typer.Argument(..., help="A stack file or a plan JSON"),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="table, json or markdown"),
    no_cache: bool = NO_CACHE,
) -> None:
    """Monthly cost estimate by account (multi-account stacks) and component (list prices; assumptions printed)."""
    _use_cache(no_cache)
    rendered, _ = _load_plan(source)
    text = cost_mod.format_cost(cost_mod.estimate(rendered), fmt.value)
    typer.echo(text, nl=not text.endswith("\n"))


# -------------------------------------------------------------------------------------
# ci
# -------------------------------------------------------------------------------------


@app.command()
def ci(
    stacks: Optional[List[Path]] = typer.Argument(None, help="Stack files to compare (default: every stacks/Pulumi.*.yaml)"),
    base: str = typer.Option(..., "--base", help="The git ref to compare with, e.g. origin/main"),
    allow_destructive: bool = typer.Option(False, "--allow-destructive", help="Do not fail on deleted or replaced stateful resources"),
    out_dir: Path = typer.Option(Path(".blueprint/ci"), "--out-dir", help="Where ci.md, ci.json and ci.sarif go"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Render in this many processes"),
    no_cache: bool = NO_CACHE,
) -> None:
    """A pull request's effect on every stack: base vs head plans, guardrails, diff, cost delta.
    Exit 1 on a mandatory violation or an unallowed destructive change."""
    from blueprints.plan import ci as ci_mod

    _use_cache(no_cache)
    try:
        report = ci_mod.run(base, [str(s) for s in stacks or []], allow_destructive=allow_destructive,
                            use_cache=_cache.enabled, jobs=jobs)
    except ci_mod.CiInputError as exc:
        _fail(exc.problems)
    paths = ci_mod.write_reports(report, out_dir)
    for s in report.stacks:
        n = s.diff.summary()
        typer.echo(f"{s.stack}: {s.status}, +{n['create']} ~{n['update']} ±{n['replace']} -{n['delete']}, "
                   f"{s.mandatory_violations} mandatory violation(s), {len(s.destructive)} destructive")
    for d in report.destructive:
        typer.echo(f"destructive: {d.stack}: {d.op} {d.type} {d.name}: {'; '.join(d.reasons)}")
    typer.echo(report.verdict())
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))
    raise typer.Exit(report.exit_code)


# -------------------------------------------------------------------------------------
# diagram
# -------------------------------------------------------------------------------------


@app.command()
def diagram(
    source: Path = typer.Argument(..., help="A stack file or a plan JSON"),
    fmt: DiagramFormat = typer.Option(DiagramFormat.mermaid, "--format", "-f",
                                      help="mermaid, or markdown (a ```mermaid block with a caption)"),
    no_cache: bool = NO_CACHE,
) -> None:
    """A Mermaid flowchart of the plan: regions, accounts, request path, training, log shipping."""
    _use_cache(no_cache)
    rendered, _ = _load_plan(source)
    typer.echo(diagram_mod.format_diagram(rendered, fmt.value), nl=False)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

