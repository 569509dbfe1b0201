"""The plain-data view of a plan that every guardrail rule reads.

Rules never see Pulumi objects: they see `PolicyResource`s (type, name, inputs, outputs, parent,
provider, region, protect, retainOnDelete) gathered in a `PolicyPlan`. Two sources build them:

- the plan JSON of DESIGN.md (`blueprint plan --json`, `Plan.to_dict()`): `PolicyPlan.from_dict`;
- CrossGuard's `ResourceValidationArgs` / `StackValidationArgs` during `pulumi preview`:
  `policies.crossguard.validators` converts them with `resource_from_policy` / `plan_from_policy`.

Values that Pulumi cannot know during a preview (an ARN of a bucket still to be created) stay
in the data as the engine's unknown sentinels; `is_unknown` tells rules about them. A reference
between resources (an encryption configuration's `bucket`) is resolved by value (id, name, ARN)
and, when the value is unknown, through the resource's dependencies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

# Sentinels for values unknown during a preview (pulumi_policy/proxy.py; the offline engine
# uses the string one).
UNKNOWN_VALUES = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})

STACK_TYPE = "pulumi:pulumi:Stack"
AWS_PROVIDER_TYPE = "pulumi:providers:aws"
# The parts of a stack a plan's `accounts` names (blueprints.spec.ACCOUNT_ROLES, which policies
# may not import): training, production inference and the log archive.
ACCOUNT_ROLES = ("training", "inference", "logArchive")
# An AWS Organizations id (blueprints.spec.ORGANIZATION_ID_PATTERN): a plan's `organization`.
ORGANIZATION_ID_PATTERN = r"^o-[a-z0-9]{10,32}$"

# A name segment that marks the training network and compute: the training blueprint names
# its components `<stack name>-training...` (IsolatedVpc `<name>-training`, EKS cluster, node
# groups). A resource belongs to training when its own name or any ancestor's name has it.
_TRAINING_SEGMENT = re.compile(r"(^|[-_/])training([-_/]|$)")


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_VALUES


def plain(value: Any) -> Any:
    """Plain dicts/lists from CrossGuard's unknown-checking proxies (which raise on access to
    an unknown value); unknowns are kept as their sentinel strings."""
    target = _proxy_target(value)
    if target is not None:
        value = target
    if isinstance(value, Mapping):
        return {str(k): plain(value[k]) for k in value}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    secret_value = getattr(value, "value", None)
    if type(value).__name__ == "Secret" and secret_value is not None:
        return plain(secret_value)
    return value


def _proxy_target(value: Any) -> Any:
    if type(value).__name__ in ("_DictProxy", "_ListProxy"):
        return value["__target"]
    return None


def urn_name(urn: str) -> str:
    """The logical name at the end of a URN (`...::fraud-models-training` -> that name)."""
    return urn.rsplit("::", 1)[-1] if urn else ""


def has_training_segment(name: str) -> bool:
    return bool(_TRAINING_SEGMENT.search(name))


def arn_tail(ref: str) -> str:
    """The resource part of an ARN (after the 5th colon), or the value itself."""
    if isinstance(ref, str) and ref.startswith("arn:"):
        parts = ref.split(":", 5)
        return parts[5] if len(parts) == 6 else ref
    return ref


def log_group_name(ref: Any) -> Optional[str]:
    """A CloudWatch log group name from a name or an ARN (`...:log-group:NAME[:*]`)."""
    if not isinstance(ref, str) or not ref or is_unknown(ref):
        return None
    if ref.startswith("arn:"):
        tail = arn_tail(ref)
        if not tail.startswith("log-group:"):
            return None
        name = tail[len("log-group:"):]
        return name[:-2] if name.endswith(":*") else name
    return ref


def policy_document(value: Any) -> Optional[dict[str, Any]]:
    """An IAM-style policy document from a JSON string or a dict; None if absent, unknown or
    not JSON."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str) or is_unknown(value):
        return None
    try:
        doc = json.loads(value)
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def statements(doc: Optional[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not doc:
        return []
    stmts = doc.get("Statement", [])
    if isinstance(stmts, Mapping):
        stmts = [stmts]
    return [s for s in stmts if isinstance(s, Mapping)]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def dig(data: Any, *path: Any, default: Any = None) -> Any:
    """data[path0][path1]... with `default` for anything missing (list indexes allowed)."""
    current = data
    for key in path:
        if isinstance(current, Mapping) and key in current:
            current = current[key]
        elif isinstance(current, (list, tuple)) and isinstance(key, int) and -len(current) <= key < len(current):
            current = current[key]
        else:
            return default
    return current


@dataclass(frozen=True)
class PolicyResource:
    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    parent: str = ""
    provider: str = ""  # "urn::id" of its provider
    protect: bool = False
    retain_on_delete: Optional[bool] = False  # None: the source cannot tell (CrossGuard)
    region: str = ""
    dependencies: tuple[str, ...] = ()
    id: str = ""
    account: str = ""  # the account its provider assumes a role in; "" the deploying account

    def get(self, *path: Any, default: Any = None) -> Any:
        """An input by path; falls back to the outputs (CrossGuard stack props are outputs)."""
        value = dig(self.inputs, *path, default=None)
        if value is None:
            value = dig(self.outputs, *path, default=default)
        return value

    @property
    def arn(self) -> Any:
        return self.outputs.get("arn") or self.inputs.get("arn")

    def references(self) -> set[str]:
        """Every value another resource may use to point at this one."""
        refs = {self.urn}
        for source in (self.outputs, self.inputs):
            for key in ("id", "arn", "name", "bucket", "bucketName"):
                value = source.get(key)
                if isinstance(value, str) and value and not is_unknown(value):
                    refs.add(value)
        if self.id and not is_unknown(self.id):
            refs.add(self.id)
        return refs

    @property
    def is_training(self) -> bool:
        """By its own name (or its parent's); `PolicyPlan.in_training` also walks ancestors."""
        return has_training_segment(self.name) or has_training_segment(urn_name(self.parent))


@dataclass
class PolicyPlan:
    stack: str
    tier: str
    resources: list[PolicyResource]
    providers: dict[str, str] = field(default_factory=dict)  # provider ref "urn::id" -> region
    # The stack's accounts by role (training, inference, logArchive), as the plan declares them;
    # empty for a single-account stack.
    accounts: dict[str, str] = field(default_factory=dict)
    # The AWS Organizations organisation the stack's accounts belong to (the plan JSON's
    # `organization`, from spec `accounts.organization`); "" when none is declared.
    organization: str = ""

    def __post_init__(self) -> None:
        self._by_urn = {r.urn: r for r in self.resources}
        self._by_type: dict[str, list[PolicyResource]] = {}
        for r in self.resources:
            self._by_type.setdefault(r.type, []).append(r)
        # types -> reference value -> the first resource of those types it names (lookup)
        self._references: dict[tuple[str, ...], dict[str, PolicyResource]] = {}

    # -- queries ---------------------------------------------------------------------
    def of_type(self, *types: str) -> list[PolicyResource]:
        out: list[PolicyResource] = []
        for t in types:
            out.extend(self._by_type.get(t, []))
        return out

    def get(self, urn: str) -> Optional[PolicyResource]:
        return self._by_urn.get(urn)

    def has(self, *types: str) -> bool:
        return any(self._by_type.get(t) for t in types)

    def ancestors(self, r: PolicyResource) -> Iterator[PolicyResource]:
        seen = set()
        current = self.get(r.parent)
        while current is not None and current.urn not in seen:
            seen.add(current.urn)
            yield current
            current = self.get(current.parent)

    def in_training(self, r: PolicyResource) -> bool:
        if r.is_training:
            return True
        return any(has_training_segment(a.name) for a in self.ancestors(r))

    def resolve(self, owner: PolicyResource, key: Union[str, tuple[str, ...]],
                types: Sequence[str]) -> Optional[PolicyResource]:
        """The resource of `types` that `owner`'s input at `key` (a name or a path) points at: by
        value (id, name, ARN, URN) when known, else the single such resource among `owner`'s
        dependencies (how a preview's unknown ids are linked)."""
        value = owner.get(*key) if isinstance(key, tuple) else owner.get(key)
        found = self.lookup(value, types)
        if found is not None:
            return found
        deps = self.dependencies_of(owner, *types)
        if len(deps) == 1:
            return deps[0]
        siblings = [d for d in deps if d.parent and d.parent == owner.parent]
        return siblings[0] if len(siblings) == 1 else None

    def lookup(self, value: Any, types: Sequence[str]) -> Optional[PolicyResource]:
        if not isinstance(value, str) or not value or is_unknown(value):
            return None
        name = log_group_name(value) if value.startswith("arn:aws:logs:") else None
        if value.startswith("arn:aws:s3:::"):
            name = value[len("arn:aws:s3:::"):]
        index = self._references.get(tuple(types))
        if index is None:
            index = self._references[tuple(types)] = {}
            for r in self.of_type(*types):
                for ref in r.references():
                    index.setdefault(ref, r)
        found = index.get(value)
        return found if found is not None or name is None else index.get(name)

    def linked(self, target: PolicyResource, types: Sequence[str], key: str) -> list[PolicyResource]:
        """Resources of `types` whose `key` input points at `target`."""
        return [r for r in self.of_type(*types) if self.resolve(r, key, [target.type]) is target]

    def dependencies_of(self, r: PolicyResource, *types: str) -> list[PolicyResource]:
        """The resources of `types` that `r` depends on (in the plan)."""
        return [d for d in (self.get(u) for u in r.dependencies) if d is not None and d.type in types]

    @property
    def home_region(self) -> str:
        """The region of the first AWS provider (the stack's `aws:region`)."""
        return next(iter(self.providers.values()), "")

    @property
    def regions(self) -> list[str]:
        """Every region an AWS resource of the plan lives in, home region first."""
        found = {r.region for r in self.resources if r.type.startswith("aws:") and r.region}
        home = self.home_region
        return ([home] if home in found else []) + sorted(found - {home})

    @property
    def stack_urn(self) -> str:
        """Where a finding about something missing from the whole stack is reported."""
        stacks = self.of_type(STACK_TYPE)
        return stacks[0].urn if stacks else f"urn:pulumi:{self.stack}::stack"

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "PolicyPlan":
        """From the plan JSON (`{"stack","tier","steps":[{"newState": {...}}]}`)."""
        states = [step.get("newState") or {} for step in doc.get("steps", [])]
        providers: dict[str, str] = {}
        provider_accounts: dict[str, str] = {}
        for s in states:
            if str(s.get("type", "")).startswith(AWS_PROVIDER_TYPE):
                ref = f"{s['urn']}::{s.get('id', '')}"
                providers[ref] = str(dig(s, "inputs", "region", default="") or "")
                provider_accounts[ref] = assumed_account(s.get("inputs") or {})
        parents = {s["urn"]: s.get("parent", "") for s in states}
        own = {s["urn"]: providers.get(s.get("provider", ""), "") for s in states}

        def region_of(urn: str) -> str:
            seen = set()
            while urn and urn not in seen:
                seen.add(urn)
                if own.get(urn):
                    return own[urn]
                urn = parents.get(urn, "")
            return ""

        resources = [
            PolicyResource(
                urn=s["urn"], type=s["type"], name=urn_name(s["urn"]), inputs=s.get("inputs") or {},
                outputs=s.get("outputs") or {}, parent=s.get("parent", ""), provider=s.get("provider", ""),
                protect=bool(s.get("protect")), retain_on_delete=bool(s.get("retainOnDelete")),
                region=own_region(s.get("inputs") or {}) or region_of(s["urn"]),
                dependencies=tuple(s.get("dependencies") or ()), id=str(s.get("id", "") or ""),
                account=provider_accounts.get(s.get("provider", ""), ""),
            )
            for s in states if s.get("urn") and s.get("type")
        ]
        return cls(stack=str(doc.get("stack", "")), tier=str(doc.get("tier", "") or ""), resources=resources,
                   providers=providers, accounts={str(k): str(v) for k, v in (doc.get("accounts") or {}).items()},
                   organization=str(doc.get("organization") or ""))


def own_region(inputs: Mapping[str, Any]) -> str:
    """A resource's own `region` input (pulumi-aws v7 lets any resource override its
    provider's region; a provider's region is its own too)."""
    region = inputs.get("region")
    return region if isinstance(region, str) and not is_unknown(region) else ""


def arn_account(value: Any) -> Optional[str]:
    """The account field of an ARN (`arn:<partition>:<service>:<region>:<account>:...`; "" for
    ARNs without one, such as S3's); None for anything else and for values unknown until apply."""
    if not isinstance(value, str) or is_unknown(value) or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    return parts[4] if len(parts) == 6 else None


def assumed_account(provider_inputs: Mapping[str, Any]) -> str:
    """The account an AWS provider assumes a role in (`assumeRoles[0].roleArn`,
    arn:<partition>:iam::<account>:role/<name>); "" when it assumes none (the deploying account)."""
    roles = provider_inputs.get("assumeRoles") or []
    if isinstance(roles, str) and not is_unknown(roles):
        try:
            roles = json.loads(roles)
        except json.JSONDecodeError:
            return ""
    first = roles[0] if isinstance(roles, list) and roles else None
    arn = first.get("roleArn") if isinstance(first, Mapping) else None
    if not isinstance(arn, str) or is_unknown(arn) or arn.count(":") < 5:
        return ""
    return arn.split(":")[4]
