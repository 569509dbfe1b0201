"""The stack spec: the `ai-blueprints:blueprint` config object, validated before any resource.

Two layers, both reported together so that a user sees every problem at once:
1. shape: pydantic (unknown keys, wrong types, ranges, formats);
2. tier rules: what the chosen tier forbids (`blueprints/tiers.py` is the source of truth).

Every problem names its key path (`inference.auth`) and what is allowed; a tier rule also names
the tier and the rule. `SpecError.problems` holds one line per problem.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from dataclasses import dataclass, replace
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from blueprints.compliance import framework_problems
from blueprints.images import ADDONS, DIGEST_PATTERN, Addon, addons_for, digest
from blueprints.tiers import ALL_REGIONS, PII_ACTIONS, PROMPT_ATTACK_STRENGTHS, Tier, get_tier, regions_for_residency
from components import accelerators
from policies.frameworks import FRAMEWORK_NAMES

CONFIG_NAMESPACE = "ai-blueprints"
CONFIG_KEY = f"{CONFIG_NAMESPACE}:blueprint"
# How a user sets the SIEM token: encrypted in the stack file, never in plain text.
SET_TOKEN_COMMAND = f"pulumi config set --secret --path '{CONFIG_KEY}.siem.token' <token>"
SET_TOKEN_HINT = f"set it with {SET_TOKEN_COMMAND}"
# What the offline engine hands the SIEM shipping where the token is not set yet, so the plan
# renders (a fork's pull request has no secrets); visibly not a token, and masked in the plan.
OFFLINE_SIEM_TOKEN = "OFFLINE-STAND-IN-not-a-token"

NAME_PATTERN = r"^[a-z][a-z0-9-]{2,23}$"
# A registry/repository with a tag, a digest, or both (`repo:1.4.2@sha256:...`: the digest pins it).
IMAGE_PATTERN = (r"^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9._-]+)+"
                 r"(:[A-Za-z0-9._-]{1,128}|@sha256:[a-f0-9]{64}|:[A-Za-z0-9._-]{1,128}@sha256:[a-f0-9]{64})$")
TAG_AND_DIGEST = r".*/[^/]+:[A-Za-z0-9._-]{1,128}@sha256:[a-f0-9]{64}"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
INSTANCE_TYPE_PATTERN = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
# An availability zone name: its region (e.g. eu-west-1) followed by one zone letter.
AZ_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]$"
# Where a deployer network may be: RFC 1918 private and RFC 6598 shared address space.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))


def provider_name(region: str, account: Optional[str] = None) -> str:
    """The logical name of the stack's explicit AWS provider for a region (and the account it
    assumes a role in, where `accounts` names one); guardrail findings about a region as a whole
    are reported against it."""
    return f"aws-{account}-{region}" if account else f"aws-{region}"


# The guardrail that wants an AWS Config recorder wherever Security Hub runs
# (policies/rules/threat_detection.py).
CONFIG_RECORDER_RULE = "AIB-155"


class SpecError(Exception):
    """Config problems, one line each. Raised before any resource is registered."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True, strict=False)


def _private_networks(values: list[str]) -> list[str]:
    """CIDR blocks of private IPv4 networks (RFC 1918, RFC 6598), or a ValueError naming the first
    that is not: networks reached over a Transit Gateway, a VPN or Direct Connect."""
    for value in values:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError(f"{value!r} is not a CIDR block such as 10.100.0.0/16") from None
        if not any(network.version == 4 and network.subnet_of(private) for private in PRIVATE_NETWORKS):
            raise ValueError(f"{value!r} is not a private network; list the CI runner or VPN networks inside "
                             "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10")
    return values


def _must_match(value: Optional[str], pattern: str, message: str) -> Optional[str]:
    """`value` when it is None or matches `pattern` whole; else the ValueError `message`."""
    if value is not None and not re.fullmatch(pattern, value):
        raise ValueError(message)
    return value


def _accelerated(instance_type: str, use: Literal["training", "inference"]) -> str:
    """The type if the accelerator catalog (components/accelerators.py) supports it for `use`;
    else the error names the nearest supported types."""
    if not accelerators.supported(instance_type, use):
        raise ValueError(f"{instance_type!r} is not a supported accelerated instance type for {use}; use one of "
                         f"{', '.join(accelerators.nearest(instance_type, use))}")
    return instance_type


# AWS Auto Scaling scheduled actions take a Unix cron expression of five fields, [Minute] [Hour]
# [Day_of_Month] [Month_of_Year] [Day_of_Week], with `*`, lists (`,`), ranges (`-`) and steps
# (`/`) (Amazon EC2 Auto Scaling User Guide, "Scheduled scaling", Recurrence; PutScheduledUpdate-
# GroupAction). Fields: (name, lowest, highest, names for the values from `lowest`).
CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)


def cron_problem(expression: str) -> Optional[str]:
    """Why `expression` is not a cron expression AWS Auto Scaling accepts, or None when it is."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        return (f"{expression!r} has {len(fields)} field(s); a cron expression has five: minute hour day-of-month "
                "month day-of-week, e.g. '0 20 * * MON-FRI'")

    def value(text: str, low: int, high: int, names: tuple[str, ...]) -> Optional[int]:
        if text.upper() in names:
            return low + names.index(text.upper())
        return int(text) if text.isdigit() and low <= int(text) <= high else None

    for text, (name, low, high, names) in zip(fields, CRON_FIELDS):
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        for item in text.split(","):
            base, slash, step = item.partition("/")
            if slash and not (step.isdigit() and 1 <= int(step) <= high):
                return f"{expression!r}: the {name} step {step!r} is not a number from 1 to {high}"
            if base == "*":
                continue
            start, dash, end = base.partition("-")
            first = value(start, low, high, names)
            last = value(end, low, high, names) if dash else first
            if first is None or last is None:
                return f"{expression!r}: the {name} field {text!r} is not *, a value, a list or a range of {allowed}"
            if last < first:
                return f"{expression!r}: the {name} range {base!r} runs backwards"
    return None


class TrainingScheduleSpec(_Strict):
    # Off-peak training: the GPU node group's Auto Scaling group gets minNodes/maxNodes back at
    # `scaleUp` and 0/0 at `scaleDown`, both read in `timezone` (README, "Off-peak training").
    scale_up: str = Field(alias="scaleUp")
    scale_down: str = Field(alias="scaleDown")
    timezone: str = "UTC"

    @field_validator("scale_up", "scale_down")
    @classmethod
    def _cron(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone name; use e.g. UTC, Europe/Dublin or America/New_York")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> "TrainingScheduleSpec":
        if " ".join(self.scale_up.split()) == " ".join(self.scale_down.split()):
            raise ValueError("scaleUp and scaleDown are the same time: the window would open and close at once")
        return self


class TrainingSpec(_Strict):
    enabled: bool = True
    gpu_instance_type: str = Field("p5.48xlarge", alias="gpuInstanceType", pattern=INSTANCE_TYPE_PATTERN)

    min_nodes: int = Field(0, alias="minNodes", ge=0, le=1000)
    max_nodes: int = Field(2, alias="maxNodes", ge=1, le=1000)
    capacity: Literal["on-demand", "spot"] = "on-demand"
    lustre_capacity_gib: int = Field(1200, alias="lustreCapacityGiB", ge=1200, le=2_400_000)
    # The AZ of the GPU nodes (and their cluster placement group). None: the VPC's first AZ for
    # EFA types, every AZ otherwise. Whether the AZ offers the instance type is for AWS to say.
    availability_zone: Optional[str] = Field(None, alias="availabilityZone")
    # Private networks people reach the training buckets from where the tier admits object access
    # only through VPC endpoints (air-gapped tiers): the training VPC's S3 interface endpoint admits
    # HTTPS from them. None: deployerCidrs; []: no people path (no interface endpoint).
    data_access_cidrs: Optional[list[str]] = Field(None, alias="dataAccessCidrs", max_length=20)
    # Off-peak training window (scheduled actions on the GPU node group). None: always available.
    schedule: Optional[TrainingScheduleSpec] = None

    @field_validator("gpu_instance_type")
    @classmethod
    def _training_accelerator(cls, value: str) -> str:
        return _accelerated(value, "training")

    @field_validator("data_access_cidrs")
    @classmethod
    def _data_access_private(cls, values: Optional[list[str]]) -> Optional[list[str]]:
        return None if values is None else _private_networks(values)

    @field_validator("availability_zone")
    @classmethod
    def _az_shape(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.match(AZ_PATTERN, value):
            raise ValueError("must be an availability zone name: the home region followed by a zone letter, "
                             "such as eu-west-1a")
        return value

    @field_validator("lustre_capacity_gib")
    @classmethod
    def _lustre_increment(cls, value: int) -> int:
        # FSx for Lustre PERSISTENT_2: 1200 GiB, or a multiple of 2400 GiB.
        if value != 1200 and value % 2400:
            raise ValueError("must be 1200 or a multiple of 2400 (FSx for Lustre PERSISTENT_2)")
        return value


class CanarySpec(_Strict):
    # A second model version behind its own Deployment, NodePort and load-balancer listener; the
    # API stage's canary sends it `percent` of requests. Promote: set modelImage to `image` and
    # remove `canary`; roll back: remove `canary`.
    image: str = Field(pattern=IMAGE_PATTERN)
    percent: float = Field(10, ge=0, le=50)


def image_version(image: str) -> str:
    """The version an image URI names: its tag (`...:1.4.2` and `...:1.4.2@sha256:...` -> `1.4.2`),
    else its digest (`sha256:...`)."""
    last = image.rsplit("/", 1)[-1]
    name, _, digest = last.partition("@")
    _, colon, tag = name.rpartition(":")
    return tag if colon else digest


class InferenceSpec(_Strict):
    enabled: bool = True
    regions: Optional[list[str]] = Field(None, min_length=1)  # any number of distinct regions in the residency
    gpu_instance_type: str = Field("g6.xlarge", alias="gpuInstanceType", pattern=INSTANCE_TYPE_PATTERN)

    min_replicas: int = Field(2, alias="minReplicas", ge=1, le=500)
    max_replicas: int = Field(10, alias="maxReplicas", ge=1, le=500)
    model_image: Optional[str] = Field(None, alias="modelImage", pattern=IMAGE_PATTERN)
    auth: Optional[Literal["iam", "cognito", "jwt"]] = None
    rate_limit_per_5min: int = Field(2000, alias="rateLimitPer5Min", ge=10, le=2_000_000_000)
    # What request bodies carry. structured (the default): the WAF's body rules block like every
    # other rule, the strict choice for JSON features; prompt: LLM prompts, which carry code and SQL
    # that the SQLi/XSS/LFI body rules answer with 403, so those rules count (labelled, logged,
    # alarmed) while header, URI, query and cookie rules keep blocking. Tier rule: WAF body rules.
    payload: Literal["structured", "prompt"] = "structured"
    canary: Optional[CanarySpec] = None
    # Replaced by `canary` (which names the second model image): rejected with the new key's name.
    replaced_canary_percent: Optional[Any] = Field(None, alias="canaryPercent", exclude=True)
    capacity: Literal["on-demand", "spot"] = "on-demand"
    api_key_required: bool = Field(False, alias="apiKeyRequired")
    domain_name: Optional[str] = Field(
        None, alias="domainName", pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$"
    )
    hosted_zone_id: Optional[str] = Field(None, alias="hostedZoneId", pattern=r"^Z[A-Z0-9]{1,31}$")
    jwt_issuer: Optional[str] = Field(None, alias="jwtIssuer", pattern=r"^https://\S+$")

    @field_validator("gpu_instance_type")
    @classmethod
    def _inference_accelerator(cls, value: str) -> str:
        return _accelerated(value, "inference")

    @field_validator("replaced_canary_percent")
    @classmethod
    def _canary_percent_replaced(cls, value: Any) -> Any:
        raise ValueError("replaced by inference.canary, which also names the second model version: remove "
                         "canaryPercent and, to run a canary, set inference.canary: {image: <the canary's model "
                         "image>, percent: <0-50>}")

    @model_validator(mode="after")
    def _domain_needs_zone(self) -> "InferenceSpec":
        if (self.domain_name is None) != (self.hosted_zone_id is None):
            raise ValueError("domainName and hostedZoneId go together: set both or neither")
        return self


class SiemSpec(_Strict):
    destination: Literal["splunk", "http", "s3"] = "s3"
    endpoint: Optional[str] = Field(None, pattern=r"^https://[^\s/]+(:[0-9]+)?(/\S*)?$")
    token: Optional[str] = None


# Amazon Bedrock model providers whose models an id may name (the part before the first dot of a
# base model id: anthropic.claude-..., amazon.titan-..., meta.llama3-...). Bedrock model ids and
# inference-profile ids (Bedrock User Guide, "Supported foundation models" and "Supported Regions
# and models for inference profiles"): `<provider>.<model>[:<version>]`, a profile prefixed by its
# geography.
BEDROCK_PROVIDERS: tuple[str, ...] = (
    "ai21", "amazon", "anthropic", "cohere", "deepseek", "google", "luma", "meta", "minimax", "mistral", "moonshot",
    "nvidia", "openai", "qwen", "stability", "twelvelabs", "writer",
)
# Inference-profile geographies: `global.` routes to any commercial region worldwide, the others
# keep requests within their geography.
BEDROCK_GEOGRAPHIES: tuple[str, ...] = ("global", "us", "eu", "apac", "jp", "au", "ca", "us-gov")
BEDROCK_MODEL_ID_PATTERN = (r"^(?:(?P<geo>" + "|".join(re.escape(g) for g in BEDROCK_GEOGRAPHIES) + r")\.)?"
                            r"(?P<provider>[a-z0-9]+)\.(?P<model>[a-z0-9][a-z0-9._-]{0,98}[a-z0-9])(?::(?P<version>[0-9]+))?$")
# Models Bedrock Guardrails does not apply to (Bedrock User Guide, "Supported Regions and models for
# Amazon Bedrock Guardrails": embeddings, rerank, speech), by base-id prefix. Every call through the
# gateway carries the guardrail and IAM denies invoking without it, so these could never be called.
GUARDRAIL_UNSUPPORTED_MODELS: tuple[str, ...] = (
    "amazon.titan-embed-", "amazon.nova-2-multimodal-embeddings-", "amazon.rerank-", "amazon.nova-2-sonic-",
    "amazon.nova-2-5-sonic", "amazon.nova-sonic-", "cohere.embed-", "cohere.rerank-",
)
# A Bedrock guardrail's denied topic: name 1-100 of letters, digits and - _ ! ? . and spaces;
# definition up to 200 characters; up to 5 example phrases of up to 100 (CreateGuardrail).
TOPIC_NAME_PATTERN = r"^[0-9a-zA-Z_!?. -]{1,100}$"


def model_id_parts(model_id: str) -> Optional[tuple[Optional[str], str]]:
    """(geography or None for a base model, provider) of a Bedrock model or profile id; None when
    the text is not one."""
    m = re.fullmatch(BEDROCK_MODEL_ID_PATTERN, model_id)
    if m is None or m.group("provider") not in BEDROCK_PROVIDERS:
        return None
    return m.group("geo"), m.group("provider")


class DeniedTopic(_Strict):
    name: str = Field(pattern=TOPIC_NAME_PATTERN)
    definition: str = Field(min_length=1, max_length=200)
    examples: list[str] = Field(default_factory=list, max_length=5)

    @field_validator("examples")
    @classmethod
    def _short_examples(cls, values: list[str]) -> list[str]:
        for i, v in enumerate(values):
            if not 1 <= len(v) <= 100:
                raise ValueError(f"examples[{i}]: 1-100 characters, got {len(v)}")
        return values


class GuardrailSpec(_Strict):
    # None: the tier's default (tiers.py fm_pii_actions[0]).
    pii_action: Optional[Literal[PII_ACTIONS]] = Field(None, alias="piiAction")  # type: ignore[valid-type]
    prompt_attack: Literal[PROMPT_ATTACK_STRENGTHS] = Field("high", alias="promptAttack")  # type: ignore[valid-type]
    denied_topics: list[DeniedTopic] = Field(default_factory=list, alias="deniedTopics", max_length=30)

    @field_validator("denied_topics")
    @classmethod
    def _distinct_topics(cls, values: list[DeniedTopic]) -> list[DeniedTopic]:
        names = [t.name.lower() for t in values]
        if len(set(names)) != len(names):
            raise ValueError("a topic name is listed twice; name each topic once")
        return values


class FoundationModelsSpec(_Strict):
    enabled: bool = False
    models: list[str] = Field(default_factory=list, max_length=20)
    guardrail: GuardrailSpec = Field(default_factory=GuardrailSpec)

    @field_validator("models")
    @classmethod
    def _model_ids(cls, values: list[str]) -> list[str]:
        for i, v in enumerate(values):
            if model_id_parts(v) is None:
                raise ValueError(
                    f"[{i}] {v!r} is not a Bedrock model id (<provider>.<model>[:<version>], provider one of "
                    f"{', '.join(BEDROCK_PROVIDERS)}) or inference-profile id (<geography>.<model id>, geography "
                    f"one of {', '.join(BEDROCK_GEOGRAPHIES)}); copy it from `aws bedrock list-foundation-models` "
                    "or `aws bedrock list-inference-profiles`")
        if len(set(values)) != len(values):
            raise ValueError("a model id is listed twice; list each model once")
        return values


ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
# An AWS Organizations organisation id (Organizations API reference, Organization.Id).
ORGANIZATION_ID_PATTERN = r"^o-[a-z0-9]{10,32}$"
# IAM role names: 1-64 of letters, digits and + = , . @ _ - (IAM User Guide, "IAM object names").
ROLE_NAME_PATTERN = r"^[A-Za-z0-9+=,.@_-]{1,64}$"
# What each part of a stack is called in `accounts`, and where it goes: training (its VPC,
# cluster, data and model buckets), production inference (serving, API, WAF, DNS, alarms), and
# the log archive (the audit trail's and the SIEM's archives and their keys).
ACCOUNT_ROLES: tuple[str, ...] = ("training", "inference", "logArchive")


class AccountsSpec(_Strict):
    training: str = Field(pattern=ACCOUNT_ID_PATTERN)
    inference: str = Field(pattern=ACCOUNT_ID_PATTERN)
    # Omitted: the archives stay in the account `pulumi up` runs with (no role assumed).
    log_archive: Optional[str] = Field(None, alias="logArchive", pattern=ACCOUNT_ID_PATTERN)
    # The role `pulumi up` assumes in each account: arn:<partition>:iam::<account>:role/<deployRole>.
    deploy_role: str = Field("ai-blueprints-deployer", alias="deployRole")
    # The AWS Organizations organisation the accounts belong to, when policies may admit it as a
    # whole (aws:PrincipalOrgID and the like); the guardrails then accept it beside the accounts.
    organization: Optional[str] = None

    @field_validator("organization")
    @classmethod
    def _organization_id(cls, value: Optional[str]) -> Optional[str]:
        return _must_match(value, ORGANIZATION_ID_PATTERN,
                           "must be an AWS Organizations id: o- followed by 10-32 lowercase letters or digits "
                           "(aws organizations describe-organization --query Organization.Id)")

    @field_validator("deploy_role")
    @classmethod
    def _role_name(cls, value: str) -> str:
        return _must_match(value, ROLE_NAME_PATTERN,
                           "must be an IAM role name: 1-64 letters, digits and + = , . @ _ - (no path, no ARN)")

    @field_validator("training", "inference", "log_archive", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError('an account id is a quoted 12-digit string, e.g. "111122223333" (YAML reads unquoted '
                             "digits as a number and drops leading zeros)")
        if isinstance(value, str) and not re.fullmatch(ACCOUNT_ID_PATTERN, value):
            raise ValueError("must be a 12-digit AWS account id")
        return value


class ComplianceSpec(_Strict):
    # The regulations that apply to the workload (blueprints/compliance.py): each tightens the spec,
    # adds its Security Hub standard, and turns on AWS Config rules of the tier's guardrails.
    frameworks: list[Literal[FRAMEWORK_NAMES]] = Field(default_factory=list)  # type: ignore[valid-type]
    # AWS Config, which Security Hub's control checks run on: `create` records in every region
    # where Security Hub runs; `existing` when the organisation already runs a recorder there
    # (AWS allows one recorder and one delivery channel per account and region).
    recorder: Literal["create", "existing"] = "create"

    @field_validator("frameworks")
    @classmethod
    def _distinct_frameworks(cls, values: list[str]) -> list[str]:
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed twice; list each framework once")
        return values


class BudgetSpec(_Strict):
    # The AWS Budgets monthly limit in USD. None: the `blueprint cost` estimate, rounded up.
    monthly_usd: Optional[float] = Field(None, alias="monthlyUsd", gt=0, le=1_000_000_000)


class Suppression(_Strict):
    rule: str = Field(pattern=r"^[A-Z]+-[0-9]{3}$")
    resource: str = Field(min_length=1)
    reason: str = Field(min_length=10)


class BlueprintSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    tier: Literal["public", "internal", "confidential", "restricted"]
    owner: str = Field(pattern=EMAIL_PATTERN)
    cost_center: str = Field(alias="costCenter", pattern=r"^[A-Za-z0-9_.:/=+@-]{1,64}$")
    residency: Optional[Literal["eu", "us", "any"]] = None
    admin_cidrs: list[str] = Field(default_factory=list, alias="adminCidrs", max_length=40)
    # Private networks `pulumi up` runs from (a CI runner VPC, a VPN) attached to the stack's VPCs
    # through a Transit Gateway: the EKS cluster security groups admit HTTPS from them.
    deployer_cidrs: list[str] = Field(default_factory=list, alias="deployerCidrs", max_length=20)
    # NAT gateways per VPC where the tier has NAT (public, internal): per-az | single. None: the
    # tier's default (blueprints/tiers.py nat_gateways).
    nat_gateways: Optional[Literal["per-az", "single"]] = Field(None, alias="natGateways")
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    inference: InferenceSpec = Field(default_factory=InferenceSpec)
    siem: SiemSpec = Field(default_factory=SiemSpec)
    threat_detection: Optional[bool] = Field(None, alias="threatDetection")
    compliance: ComplianceSpec = Field(default_factory=ComplianceSpec)
    foundation_models: FoundationModelsSpec = Field(default_factory=FoundationModelsSpec, alias="foundationModels")
    accounts: Optional[AccountsSpec] = None
    # Digests of the cluster add-on images (blueprints/images.py), by add-on: what the team
    # verified when it mirrored them. Required where the tier pins images by digest and the
    # project ships no digest for the pinned tag.
    images: dict[str, str] = Field(default_factory=dict)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    suppressions: list[Suppression] = Field(default_factory=list)

    @field_validator("images")
    @classmethod
    def _addon_digests(cls, values: dict[str, str]) -> dict[str, str]:
        for name, value in values.items():
            if name not in ADDONS:
                raise ValueError(f"{name!r} is not a cluster add-on; use one of {', '.join(ADDONS)}")
            if not re.fullmatch(DIGEST_PATTERN, value):
                raise ValueError(f"{name}: {value!r} is not an image digest; give sha256: followed by 64 hex digits "
                                 f"(crane digest {ADDONS[name].upstream(None)})")
        return values

    @field_validator("admin_cidrs", "deployer_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError:
                raise ValueError(f"{value!r} is not a CIDR block such as 203.0.113.0/24") from None
        return values

    @field_validator("deployer_cidrs")
    @classmethod
    def _private(cls, values: list[str]) -> list[str]:
        return _private_networks(values)


@dataclass(frozen=True)
class Spec:
    """A validated spec with tier defaults applied: what the blueprints build from."""

    model: BlueprintSpec
    region: str  # aws:region, the home region
    token_is_secret: bool
    offline: bool = False  # read by the offline engine or CLI (parse_spec), not by `pulumi up`

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def tier(self) -> Tier:
        return get_tier(self.model.tier)

    @property
    def residency(self) -> str:
        return self.model.residency or "any"

    @property
    def training(self) -> TrainingSpec:
        return self.model.training

    @property
    def inference(self) -> InferenceSpec:
        return self.model.inference

    @property
    def siem(self) -> SiemSpec:
        return self.model.siem

    @property
    def foundation_models(self) -> Optional[FoundationModelsSpec]:
        """The foundation-model gateway's spec where it is on (it needs inference), else None."""
        fm = self.model.foundation_models
        return fm if fm.enabled and self.model.inference.enabled else None

    @property
    def pii_action(self) -> str:
        """The guardrail's PII action: the spec's, else the tier's default."""
        return self.model.foundation_models.guardrail.pii_action or self.tier.fm_pii_actions[0]

    @property
    def auth(self) -> str:
        return self.model.inference.auth or self.tier.api_auth[0]

    @property
    def threat_detection(self) -> bool:
        """GuardDuty and Security Hub: on where the tier requires them, opt-in where optional."""
        chosen = self.model.threat_detection
        return self.tier.guardduty if chosen is None else chosen

    @property
    def config_recorder(self) -> bool:
        """Create AWS Config recorders (wherever Security Hub runs) rather than use the organisation's."""
        return self.threat_detection and self.model.compliance.recorder == "create"

    def addon_image(self, name: str) -> Addon:
        """A cluster add-on (blueprints/images.py) and the digest it is pinned to here, if any."""
        return replace(ADDONS[name], digest=digest(name, self.model.images))

    def account(self, role: str) -> Optional[str]:
        """The account id a part of the stack (ACCOUNT_ROLES) lives in; None: the account
        `pulumi up` runs with (no `accounts`, or no `logArchive`)."""
        accounts = self.model.accounts
        if accounts is None:
            return None
        return {"training": accounts.training, "inference": accounts.inference,
                "logArchive": accounts.log_archive}[role]

    @property
    def organization(self) -> Optional[str]:
        """The organisation `accounts.organization` names, if any."""
        return self.model.accounts.organization if self.model.accounts is not None else None

    @property
    def accounts_by_role(self) -> dict[str, str]:
        """`accounts` as role -> account id (roles the spec names), for the plan and the guardrails."""
        return {role: a for role in ACCOUNT_ROLES if (a := self.account(role)) is not None}

    @property
    def account_ids(self) -> list[str]:
        """The distinct accounts `accounts` names, in ACCOUNT_ROLES order."""
        return list(dict.fromkeys(a for a in (self.account(r) for r in ACCOUNT_ROLES) if a is not None))

    @property
    def external_id(self) -> Optional[str]:
        """The external id the providers pass when they assume the deploy role, where the tier
        separates accounts: the deploy role's trust policy requires it, so that a principal that
        may assume roles in the accounts cannot deploy this stack's role by accident."""
        return f"ai-blueprints-{self.name}" if self.tier.separate_accounts and self.model.accounts else None

    @property
    def warnings(self) -> list[str]:
        """Valid, but the tier advises otherwise, or the first `pulumi up` would stop."""
        out = []
        accounts = self.model.accounts
        if self.tier.accounts == "training-inference" and (accounts is None or accounts.log_archive is None):
            out.append(f"accounts.logArchive: the {self.tier.name} tier advises a log archive account of its own; "
                       "without one the audit trail and SIEM archives stay in the account `pulumi up` runs with")
        out += self._eks_access_warnings()
        if self.offline and self.siem.destination in ("splunk", "http") and self.siem.token is None:
            out.append(f"siem.token: not set yet; the offline plan uses a stand-in value that is no token, and `pulumi up` stops until you "
                       f"{SET_TOKEN_HINT}")
        return out

    def _eks_access_warnings(self) -> list[str]:
        """How `pulumi up` reaches the EKS API endpoints it creates Kubernetes objects through:
        the private endpoint admits HTTPS from deployerCidrs (BlueprintContext.deployer_cidrs); on
        internal the public endpoint admits adminCidrs only (eks_public_access_cidrs), on public
        anyone without adminCidrs, on confidential and restricted nobody."""
        if not (self.training.enabled or self.inference.enabled) or self.model.deployer_cidrs:
            return []
        mode, name = self.tier.eks_public_endpoint, self.tier.name
        if mode == "none":
            return [f"deployerCidrs: not set; on tier {name} the EKS API endpoints are private only, so `pulumi up` "
                    "reaches them only from a network attached to the stack's VPCs (a CI runner VPC, or a VPN through "
                    "your Transit Gateway): list it, e.g. deployerCidrs: [10.100.0.0/16] (README, 'Deploying for real')"]
        if mode == "allowlisted" and not self.model.admin_cidrs:
            return [f"adminCidrs: not set; on tier {name} the EKS API's public endpoint admits only adminCidrs and its "
                    "private endpoint only deployerCidrs, so with neither `pulumi up` cannot reach it: list the "
                    "networks `pulumi up` runs from, e.g. adminCidrs: [203.0.113.0/24] (public) or deployerCidrs: "
                    "[10.100.0.0/16] (private, through your Transit Gateway) (README, 'Deploying for real')"]
        return []

    @property
    def implied_suppressions(self) -> list[Suppression]:
        """What the config itself declares the plan will not contain: with `compliance.recorder:
        existing`, the organisation's AWS Config recorder, in every region Security Hub runs in.
        `blueprint check` reports these findings as suppressed, with this reason."""
        if not self.threat_detection or self.config_recorder:
            return []
        reason = ("compliance.recorder is `existing`: the organisation's AWS Config recorder records this region "
                  "(one recorder per account and region)")
        return [Suppression(rule=CONFIG_RECORDER_RULE, resource=provider_name(region, self.account(role)), reason=reason)
                for role, regions in self.regions_by_account().items() for region in regions]

    def regions_by_account(self) -> dict[str, list[str]]:
        """Where the account-wide security services (CloudTrail, AWS Config, GuardDuty, Security Hub)
        run: for each distinct account the stack declares, by the first role (ACCOUNT_ROLES order)
        that names it, the regions that account works in, its home first (where its trail lives
        and AWS Config records the global resource types). The training account works in the home
        region, the inference account in the inference regions, the log archive in every region of
        the stack (it holds the archives of the regions the others ship from). A disabled part
        leaves its account out (nothing of the stack runs there); an omitted logArchive is the
        account `pulumi up` runs with, which may be one of the others, and is not listed. Without
        `accounts`: {"training": every region of the stack}, the one account."""
        if self.model.accounts is None:
            return {"training": self.regions}
        replica = [self.audit_replica_region] if self.audit_replica_region else []
        works_in = {"training": [self.region] if self.training.enabled else [],
                    "inference": self.inference_regions if self.inference.enabled else [],
                    "logArchive": list(dict.fromkeys([*self.regions, *replica]))}
        first_role: dict[str, str] = {}
        out: dict[str, list[str]] = {}
        for role in ACCOUNT_ROLES:
            account = self.account(role)
            if account is None or not works_in[role]:
                continue
            regions = out.setdefault(first_role.setdefault(account, role), [])
            regions += [r for r in works_in[role] if r not in regions]
        return out

    @property
    def audit_replica_region(self) -> Optional[str]:
        """Where the audit bucket keeps its copy, where the tier asks for one (`audit_replica`):
        the first inference region that is not the home region, else the residency's first other
        region. The log archive is watched there like in its other regions."""
        if not self.tier.audit_replica:
            return None
        candidates = [*(self.inference_regions if self.inference.enabled else []),
                      *regions_for_residency(self.residency)]
        return next(r for r in candidates if r != self.region)

    @property
    def nat_gateways(self) -> Optional[str]:
        """NAT gateways per VPC with NAT: `natGateways`, else the tier's default; None where the
        tier has no NAT."""
        if self.tier.nat_gateways is None:
            return None
        return self.model.nat_gateways or self.tier.nat_gateways

    @property
    def data_access_cidrs(self) -> tuple[str, ...]:
        """Networks the training VPC's S3 interface endpoint admits (`training.dataAccessCidrs`,
        else deployerCidrs) on tiers whose buckets admit objects only through VPC endpoints;
        () elsewhere, or when the list is empty (no people path)."""
        if not self.tier.air_gapped:
            return ()
        chosen = self.training.data_access_cidrs
        return tuple(self.model.deployer_cidrs if chosen is None else chosen)

    @property
    def inference_regions(self) -> list[str]:
        return list(self.model.inference.regions or [self.region])

    @property
    def regions(self) -> list[str]:
        """Every region the stack touches, home first, in a stable order."""
        seen = [self.region]
        if self.inference.enabled:
            seen += [r for r in self.inference_regions if r not in seen]
        return seen

    @property
    def tags(self) -> dict[str, str]:
        """Tags every taggable resource carries."""
        return {
            "Project": "ai-blueprints",
            "Blueprint": self.model.name,
            "DataClassification": self.model.tier,
            "Owner": self.model.owner,
            "CostCenter": self.model.cost_center,
            "ManagedBy": "pulumi",
        }

    def siem_token(self) -> Optional[str]:
        """The SIEM token; wrap it in pulumi.Output.secret before it reaches a resource. Offline, a
        token not set yet is OFFLINE_SIEM_TOKEN (parse_spec refuses it missing under `pulumi up`)."""
        if self.siem.token is None and self.offline and self.siem.destination in ("splunk", "http"):
            return OFFLINE_SIEM_TOKEN
        return self.siem.token


def _loc(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "(top level)"


def _shape_problems(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors(include_url=False):
        loc = _loc(tuple(err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(f"{loc}: unknown key; remove it or check its spelling (see README, 'Stack config')")
        elif kind == "missing":
            problems.append(f"{loc}: required key is missing")
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            problems.append(f"{loc}: {err['input']!r} is not allowed; use one of {expected}")
        elif kind == "string_pattern_mismatch":
            problems.append(f"{loc}: {err['input']!r} has the wrong format (expected {err['ctx']['pattern']})")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{loc}: {msg} (got {err['input']!r})" if not isinstance(err["input"], dict) else f"{loc}: {msg}")
    return list(dict.fromkeys(problems))


def tier_problems(model: BlueprintSpec, region: str, token_is_secret: bool, offline: bool = False) -> list[str]:
    """The tier's rules and cross-field rules, on a spec whose shape is already valid. `offline`: the
    offline engine or CLI reads the spec, where a secret not set yet is a warning (Spec.warnings)."""
    tier = get_tier(model.tier)
    problems: list[str] = []

    def rule(path: str, text: str, rule_name: str) -> None:
        problems.append(f"{path}: {text} (tier {tier.name}, rule: {rule_name})")

    residency = model.residency or "any"
    if tier.residency_required and residency == "any":
        rule("residency", "a residency is required; set it to eu or us", "residency required")
    allowed_regions = regions_for_residency(residency)
    listed_at: list[str] = []  # the key whose problem lists the allowed regions: once, not per key

    def use_regions(path: str) -> str:
        if listed_at:
            return f"use one of the regions listed at {listed_at[0]}"
        listed_at.append(path)
        return f"use one of {', '.join(allowed_regions)}"

    def region_problem(path: str, value: str) -> None:
        if value not in ALL_REGIONS:
            problems.append(f"{path}: {value!r} is not an AWS region this project knows; {use_regions(path)}")
        elif value not in allowed_regions:
            rule(path, f"{value!r} is outside residency {residency!r}; {use_regions(path)}",
                 "every region within the residency")

    region_problem("aws:region", region)

    training, inference = model.training, model.inference
    if training.enabled:
        if training.min_nodes > training.max_nodes:
            problems.append(f"training.minNodes: {training.min_nodes} is above training.maxNodes ({training.max_nodes})")
        if training.capacity == "spot" and not tier.spot_training:
            rule("training.capacity", "'spot' is not allowed; use on-demand", "spot capacity")
        az = training.availability_zone
        if az is not None and not re.fullmatch(re.escape(region) + "[a-z]", az):
            problems.append(
                f"training.availabilityZone: {az!r} is not an availability zone of the home region {region} "
                f"(aws:region); use {region} followed by a zone letter, e.g. {region}a, that offers "
                f"{training.gpu_instance_type} (aws ec2 describe-instance-type-offerings --location-type "
                f"availability-zone --filters Name=instance-type,Values={training.gpu_instance_type} --region {region})")

    if training.schedule is not None and not training.enabled:
        problems.append("training.schedule: there is no training cluster to schedule (training.enabled is false); "
                        "remove training.schedule or enable training")

    if inference.enabled:
        regions = inference.regions or [region]
        for i, r in enumerate(inference.regions or []):  # the home region is reported once, above
            region_problem(f"inference.regions[{i}]", r)
        if len(set(regions)) != len(regions):
            problems.append("inference.regions: a region is listed twice; list each region once")
        if len(set(regions)) < tier.min_inference_regions:
            rule("inference.regions", f"at least {tier.min_inference_regions} regions are required, got {len(set(regions))}", "inference regions (min)")
        if tier.dns_routing == "failover" and inference.domain_name is not None and len(set(regions)) > 2:
            # Route 53 failover routing answers with one PRIMARY and one SECONDARY record per name
            # (Route 53 Developer Guide, "Values specific for failover records").
            rule("inference.regions", f"{len(set(regions))} regions with domainName: failover DNS routes between one "
                 "primary and one secondary region; list two regions, or drop domainName and route clients to the "
                 "regional endpoints yourself", "DNS between regions")
        if inference.min_replicas > inference.max_replicas:
            problems.append(f"inference.minReplicas: {inference.min_replicas} is above inference.maxReplicas ({inference.max_replicas})")
        if inference.model_image is None:
            problems.append("inference.modelImage: required when inference is enabled (an ECR image URI with a tag or digest)")
        canary = inference.canary
        if tier.image_digests:
            for path, image in (("inference.modelImage", inference.model_image),
                                ("inference.canary.image", canary.image if canary else None)):
                if image is not None and not re.fullmatch(TAG_AND_DIGEST, image):
                    rule(path, f"{image!r} is not pinned by digest; use <repository>:<tag>@sha256:<digest> (the tag "
                         "names the copy in the stack's mirrors, the digest pins it: crane digest <image>)",
                         "container images")
        if canary is not None and inference.model_image is not None \
                and image_version(canary.image) == image_version(inference.model_image):
            problems.append(
                f"inference.canary.image: serves model version {image_version(canary.image)!r}, the same as "
                "inference.modelImage; a canary runs a second version: give it another tag or digest (to promote "
                "a canary, set modelImage to its image and remove canary)")
        auth = inference.auth or tier.api_auth[0]
        if auth not in tier.api_auth:
            rule("inference.auth", f"{auth!r} is not allowed; use one of {', '.join(tier.api_auth)}", "API auth")
        if auth == "jwt" and inference.jwt_issuer is None:
            problems.append("inference.jwtIssuer: required when inference.auth is jwt (the https issuer URL)")
        if auth != "jwt" and inference.jwt_issuer is not None:
            problems.append("inference.jwtIssuer: only used with inference.auth jwt; remove it")
        if inference.capacity == "spot" and not tier.spot_inference:
            rule("inference.capacity", "'spot' is not allowed; use on-demand", "spot capacity")
        if inference.payload == "prompt" and not tier.waf_prompt_payload:
            rule("inference.payload", "'prompt' is not allowed: the WAF's request-body rules (SQLi_BODY, "
                 "CrossSiteScripting_BODY and the others) keep blocking on this tier; use structured",
                 "WAF body rules, prompt payload")

    if model.nat_gateways is not None and tier.nat_gateways is None:
        rule("natGateways", "this tier's VPCs have no NAT gateways (VPC endpoints only); remove the key",
             "training VPC egress")
    if training.data_access_cidrs is not None and not tier.air_gapped:
        rule("training.dataAccessCidrs", "the training buckets are reachable without a VPC endpoint on this tier "
             "(people use S3's regional endpoint with their roles); remove the key", "training VPC egress")

    if model.admin_cidrs:
        if tier.eks_public_endpoint == "none":
            rule("adminCidrs", "the EKS API endpoint is private only; remove adminCidrs", "EKS API endpoint")
        elif tier.eks_public_endpoint == "allowlisted" and any(
            ipaddress.ip_network(c).prefixlen == 0 for c in model.admin_cidrs
        ):
            rule("adminCidrs", "0.0.0.0/0 is not an allowlist; list your admin networks", "EKS API endpoint")

    accounts = model.accounts
    if accounts is None and tier.separate_accounts:
        needed = "training, inference and logArchive" if tier.accounts == "three" else "training and inference"
        rule("accounts", f"{needed} must be separate AWS accounts; add accounts: {{training: '<12 digits>', "
             "inference: '<12 digits>'" + (", logArchive: '<12 digits>'" if tier.accounts == "three" else "")
             + "} (see README, 'Multi-account')", "accounts")
    elif accounts is not None:
        if tier.accounts == "three" and accounts.log_archive is None:
            rule("accounts.logArchive", "required: the audit trail and SIEM archives live in their own account",
                 "accounts")
        if tier.separate_accounts and accounts.training == accounts.inference:
            rule("accounts.inference", f"{accounts.inference} is also accounts.training; training and production "
                 "inference must be separate accounts", "accounts")
        if tier.accounts == "three" and accounts.log_archive in (accounts.training, accounts.inference):
            rule("accounts.logArchive", f"{accounts.log_archive} is also a workload account; the log archive must "
                 "be an account of its own", "accounts")

    if tier.image_digests:
        for name in addons_for(training.gpu_instance_type if training.enabled else None, inference.enabled):
            if digest(name, model.images) is None:
                rule(f"images.{name}", f"{ADDONS[name].upstream(None)} must be pinned by digest; add the digest you "
                     f"verified when you mirrored it (crane digest {ADDONS[name].upstream(None)})", "container images")

    problems += _foundation_model_problems(model, tier, residency, rule)

    threat_detection = tier.guardduty if model.threat_detection is None else model.threat_detection
    problems += framework_problems(model, tier, residency, threat_detection, rule)

    if model.threat_detection is False and tier.guardduty:
        rule("threatDetection", "GuardDuty and Security Hub cannot be turned off; remove the key",
             "threat detection")

    siem = model.siem
    if siem.destination in ("splunk", "http"):
        if siem.endpoint is None:
            problems.append(f"siem.endpoint: required for destination {siem.destination} (an https URL)")
        if siem.token is None:
            if not offline:  # offline: a warning (Spec.warnings), and a stand-in value (no token) in the plan
                problems.append(f"siem.token: required for destination {siem.destination}; {SET_TOKEN_HINT}")
        elif not token_is_secret:
            problems.append(f"siem.token: a plain-text token is not allowed; encrypt it with {SET_TOKEN_COMMAND}")
    else:
        if siem.endpoint is not None:
            problems.append("siem.endpoint: only used with destination splunk or http; remove it")
        if siem.token is not None:
            problems.append("siem.token: only used with destination splunk or http; remove it")
    return problems


def _foundation_model_problems(model: BlueprintSpec, tier: Tier, residency: str, rule: Any) -> list[str]:
    """`foundationModels`: needs inference; model ids within the tier's and the residency's
    inference profiles; the guardrail at least the tier's minimums. Tier rules go through `rule`."""
    fm = model.foundation_models
    problems: list[str] = []
    if not fm.enabled:
        return problems
    if not model.inference.enabled:
        problems.append("foundationModels.enabled: needs inference.enabled (the models are served behind the inference "
                        "API, WAF and audit in the inference regions); enable inference or set enabled: false")
    if not fm.models:
        problems.append("foundationModels.models: list 1-20 Bedrock model or inference-profile ids to allow")
    for i, model_id in enumerate(fm.models):
        parts = model_id_parts(model_id)
        geo = parts[0] if parts else None
        base = model_id.split(".", 1)[1] if geo else model_id
        if base.startswith(GUARDRAIL_UNSUPPORTED_MODELS):
            problems.append(f"foundationModels.models[{i}]: {model_id!r} cannot carry a Bedrock guardrail (embedding, "
                            "rerank and speech models do not support guardrails), and every call through the gateway "
                            "must; remove it and call it outside the gateway")
        if geo is None:
            continue
        if geo == "global":
            if tier.fm_profiles != "global":
                rule(f"foundationModels.models[{i}]", f"{model_id!r} is a global inference profile, which may route "
                     f"requests to any region worldwide; use the base model or the {residency}. profile",
                     "foundation models")
        elif residency != "any" and geo != residency:
            rule(f"foundationModels.models[{i}]", f"{model_id!r} is a {geo}. inference profile, which routes requests "
                 f"to regions outside residency {residency!r}; use the {residency}. profile or the base model",
                 "foundation models")
        elif residency == "any" and tier.fm_profiles != "global":
            rule(f"foundationModels.models[{i}]", f"{model_id!r} is a cross-region inference profile; without a "
                 "residency use the base model", "foundation models")
    guard = fm.guardrail
    if guard.pii_action is not None and guard.pii_action not in tier.fm_pii_actions:
        rule("foundationModels.guardrail.piiAction", f"{guard.pii_action!r} is below the tier minimum; use "
             f"{' or '.join(tier.fm_pii_actions)}", "foundation models")
    if not tier.fm_prompt_attack_allowed(guard.prompt_attack):
        rule("foundationModels.guardrail.promptAttack", f"{guard.prompt_attack!r} is below the tier minimum "
             f"{tier.fm_prompt_attack_min!r}; use " + " or ".join(
                 s for s in PROMPT_ATTACK_STRENGTHS if tier.fm_prompt_attack_allowed(s)), "foundation models")
    return problems


def parse_spec(raw: Any, *, region: Optional[str], token_is_secret: bool = False, offline: bool = False) -> Spec:
    """Validate the raw config object and return the spec, or raise SpecError. `offline`: read by
    the offline engine or CLI, not by `pulumi up`: a SIEM token not set yet is a warning there
    (a fork's pull request has no secrets either), and the plan renders with OFFLINE_SIEM_TOKEN."""
    problems: list[str] = []
    if not region:
        problems.append("aws:region: required; set it with pulumi config set aws:region eu-west-1")
    if raw is None:
        raise SpecError(problems + [f"{CONFIG_KEY}: missing; run `blueprint new` for a commented example"])
    if not isinstance(raw, dict):
        raise SpecError(problems + [f"{CONFIG_KEY}: must be a mapping of keys (name, tier, owner, ...), got {type(raw).__name__}"])
    try:
        model = BlueprintSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(problems + _shape_problems(exc)) from None
    if region:
        problems += tier_problems(model, region, token_is_secret, offline)
    if problems:
        raise SpecError(problems)
    return Spec(model=model, region=region or "", token_is_secret=token_is_secret, offline=offline)

