"""`blueprint new`: a commented stack file that passes `blueprint validate` as written.

The text is produced here, then parsed back through the same spec validation the offline engine
uses, so a scaffold can never hand a user a file `validate` or `plan` would reject (a splunk/http
SIEM token, set afterwards with `pulumi config set --secret`, is a warning until then; `pulumi up`
refuses to run without it).

Accounts: where the tier separates accounts (confidential: training and inference; restricted:
also the log archive) the ids are required options: `new` writes only real account ids, which
`validate` accepts, and the deploy role must exist in each account before the first `pulumi up`.
"""

from __future__ import annotations

import json
import re
from typing import Optional

import yaml

from blueprints.spec import ACCOUNT_ID_PATTERN, CONFIG_KEY, ROLE_NAME_PATTERN, AccountsSpec, Spec, SpecError, parse_spec
from blueprints.tiers import RESIDENCY_REGIONS, Tier, get_tier, regions_for_residency

DEFAULT_IMAGE = "111122223333.dkr.ecr.{region}.amazonaws.com/llm-server:1.0.0"
DEFAULT_TRAINING_GPU = {"public": "g6e.12xlarge", "internal": "p4d.24xlarge"}
DEFAULT_DEPLOY_ROLE: str = AccountsSpec.model_fields["deploy_role"].default
# The `blueprint new` option that sets each `accounts` key: problems the spec reports against a
# key are reported against the option the user typed.
ACCOUNT_OPTIONS = {
    "training": "--training-account", "inference": "--inference-account",
    "logArchive": "--log-archive-account", "deployRole": "--deploy-role",
}
# The spec keys the other `new` options set, as a problem names them.
KEY_OPTIONS = {
    r"inference\.modelImage": "--model-image",
    r"images\.([a-z-]+)": r"--image-digest \1=sha256:<digest>",
}


class ScaffoldError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _residency_of(region: str) -> Optional[str]:
    return next((name for name, regions in RESIDENCY_REGIONS.items() if region in regions), None)


def _align_comments(lines: list[str], column: int = 44) -> list[str]:
    """Line trailing comments up in one column, so the file reads like documentation."""
    out = []
    for line in lines:
        match = re.match(r"^(\s*[^#\s].*?)\s{2,}(# .*)$", line)
        if match:
            code = match.group(1)
            line = f"{code:<{column}}{match.group(2)}" if len(code) < column - 1 else f"{code}  {match.group(2)}"
        out.append(line)
    return out


def _account_problems(t: Tier, accounts: dict[str, Optional[str]], deploy_role: Optional[str]) -> list[str]:
    """What `blueprint new` must be told about accounts before it can write a valid file: the
    options the tier requires (all at once, so one run names every missing one) and their format.
    Whether they are distinct is the spec's tier rule, reported through the options too."""
    problems = []
    given = {role for role, account in accounts.items() if account}
    if t.accounts == "three":
        needed, why = ("training", "inference", "logArchive"), "training, production inference and the log archive " \
            "live in three separate AWS accounts"
    elif t.accounts == "training-inference":
        needed, why = ("training", "inference"), "training and production inference live in separate AWS accounts"
    elif given or deploy_role:
        options = [ACCOUNT_OPTIONS[role] for role in accounts if role in given] + (["--deploy-role"] if deploy_role else [])
        needed, why = ("training", "inference"), f"with {', '.join(options)}: an `accounts` block names at least " \
            "the training and the inference account"
    else:
        needed, why = (), ""
    missing = [ACCOUNT_OPTIONS[role] for role in needed if role not in given]
    if missing:
        where = why if t.accounts == "shared" else f"on tier {t.name} ({why})"
        problems.append(f"{', '.join(missing)}: required {where}; give each as a 12-digit AWS account id, "
                        "e.g. --training-account 111122223333 (README, 'Multi-account')")
    for role, account in accounts.items():
        if account and not re.fullmatch(ACCOUNT_ID_PATTERN, account):
            problems.append(f"{ACCOUNT_OPTIONS[role]}: must be a 12-digit AWS account id (got {account!r})")
    if deploy_role is not None and not re.fullmatch(ROLE_NAME_PATTERN, deploy_role):
        problems.append(f"--deploy-role: must be an IAM role name: 1-64 letters, digits and + = , . @ _ - "
                        f"(no path, no ARN) (got {deploy_role!r})")
    return problems


def _eks_access_lines(t: Tier) -> list[str]:
    """The key through which `pulumi up` reaches the EKS API on this tier (Spec warnings say the
    same at `validate` while it is unset): deployerCidrs where the endpoint is private only,
    adminCidrs (or deployerCidrs) where the public endpoint admits an allowlist, and on public the
    optional allowlist of an endpoint open to anyone."""
    deployer = ("    # deployerCidrs: [10.100.0.0/16]        # private networks `pulumi up` runs from (CI runner VPC / VPN via "
                "Transit Gateway): EKS admits HTTPS from them")
    if t.eks_public_endpoint == "none":
        return [deployer + "; set it: the EKS API endpoints are private only on this tier"]
    if t.eks_public_endpoint == "allowlisted":
        return ["    # adminCidrs: [203.0.113.0/24]          # set this or deployerCidrs: the networks `pulumi up` and "
                "admins reach the EKS API's public endpoint from (nothing else may)", deployer]
    return ["    # adminCidrs: [203.0.113.0/24]          # optional: limit the EKS API's public endpoint to your networks "
            "(default: anywhere)"]


def _accounts_lines(name: str, t: Tier, accounts: dict[str, Optional[str]], deploy_role: Optional[str]) -> list[str]:
    """The `accounts` block: written where the tier requires it or the options name accounts,
    offered commented out where the tier leaves it optional."""
    q = json.dumps
    role = deploy_role or DEFAULT_DEPLOY_ROLE
    if not any(accounts.values()):
        return [
            "    # accounts:                             # optional on this tier: each part in an AWS account of its own",
            '    #   training: "<12 digits>"             # training VPC, cluster, data and model buckets, Lustre, ECR',
            '    #   inference: "<12 digits>"            # serving, API, WAF, DNS records, alarms',
            '    #   logArchive: "<12 digits>"           # the audit trail and SIEM archives and their keys',
            f"    #   deployRole: {role:<24}# create it first in each account (README, 'Multi-account')",
        ]
    lines = [
        "    accounts:                          # each part in its own AWS account (README, 'Multi-account')",
        f"      training: {q(accounts['training'])}       # training VPC, cluster, data and model buckets, Lustre, ECR",
        f"      inference: {q(accounts['inference'])}      # serving, API, WAF, DNS records, alarms",
    ]
    if accounts.get("logArchive"):
        lines.append(f"      logArchive: {q(accounts['logArchive'])}     # the audit trail and SIEM archives and their keys")
    else:
        advised = "advised: " if t.accounts == "training-inference" else ""
        lines.append(f'      # logArchive: "<12 digits>"           # {advised}the archives in an account of their own '
                     "(else in the account `pulumi up` runs with)")
    lines.append(f"      deployRole: {role}     # the role `pulumi up` assumes in each account: create it there first,")
    if t.separate_accounts:  # the providers send this external id (Spec.external_id); the trust policy requires it
        lines.append(f"{'':<44}# trusting your deployer with the condition sts:ExternalId = ai-blueprints-{name}")
    return lines


def render_stack_file(
    *, name: str, tier: str, region: str, inference_regions: list[str], training: bool = True,
    inference: bool = True, owner: str = "ml-platform@example.com", cost_center: str = "CC-0000",
    residency: Optional[str] = None, siem: str = "s3", siem_endpoint: Optional[str] = None,
    training_account: Optional[str] = None, inference_account: Optional[str] = None,
    log_archive_account: Optional[str] = None, deploy_role: Optional[str] = None, path: Optional[str] = None,
    model_image: Optional[str] = None, image_digests: Optional[dict[str, str]] = None,
) -> str:
    """The stack file's text; `path`: where it will be written (the header's commands name it;
    default stacks/Pulumi.<name>.yaml)."""
    t = get_tier(tier)
    image_digests = dict(image_digests or {})
    path = path or f"stacks/Pulumi.{name}.yaml"
    if residency is None:
        residency = (_residency_of(region) or "any") if t.residency_required else "any"
    regions = inference_regions or [region]
    problems = []
    if inference and len(regions) < t.min_inference_regions:
        allowed = [r for r in regions_for_residency(residency) if r not in regions]
        problems.append(
            f"--inference-region: tier {tier} needs at least {t.min_inference_regions} inference regions; "
            f"add --inference-region {regions[0] if inference_regions else region} --inference-region "
            f"{allowed[0] if allowed else '<region>'}"
        )
    if siem in ("splunk", "http") and not siem_endpoint:
        problems.append(f"--siem-endpoint: required with --siem {siem} (an https URL)")
    accounts = {"training": training_account, "inference": inference_account, "logArchive": log_archive_account}
    problems += _account_problems(t, accounts, deploy_role)
    if problems:
        raise ScaffoldError(problems)

    q = json.dumps  # YAML accepts JSON scalars: safe quoting for any value
    spot_ok = t.spot_training
    lines = [
        f"# ai-blueprints stack `{name}`: tier {tier} ({t.summary})",
        f"# Validate offline:  blueprint validate {path}",
        f"# Preview offline:   blueprint plan {path}",
        "# Deploy:            pulumi up --stack " + name,
        "config:",
        f"  aws:region: {region}              # home region: training and shared security services",
        f"  {CONFIG_KEY}:",
        f"    name: {name}                     # prefixes every resource name",
        f"    tier: {tier}                     # public | internal | confidential | restricted (blueprint tiers)",
        f"    owner: {q(owner)}                # Owner tag on every taggable resource: set your team's address",
        f"    costCenter: {q(cost_center)}     # CostCenter tag: set your cost center",
        f"    residency: {residency}           # eu | us | any; every region used must be inside it",
        *_accounts_lines(name, t, accounts, deploy_role),
        *_eks_access_lines(t),
        *([] if t.guardduty else ["    # threatDetection: true                 # opt in to GuardDuty + Security Hub (always on above public)"]),
        "    training:",
        f"      enabled: {'true' if training else 'false'}",
        f"      gpuInstanceType: {DEFAULT_TRAINING_GPU.get(tier, 'p5.48xlarge')}   # EFA + placement group on p4d/p5/trn",
        "      minNodes: 0                      # GPU nodes scale from zero between jobs",
        "      maxNodes: 2",
        f"      capacity: on-demand              # on-demand{' | spot' if spot_ok else ' (spot is not allowed on this tier)'}",
        "      lustreCapacityGiB: 1200          # FSx for Lustre: 1200 or a multiple of 2400",
        "    inference:",
        f"      enabled: {'true' if inference else 'false'}",
        f"      regions: [{', '.join(regions)}]   # at least {t.min_inference_regions} on this tier",
        "      gpuInstanceType: g6.xlarge",
        "      minReplicas: 2",
        "      maxReplicas: 10",
        f"      modelImage: {model_image or DEFAULT_IMAGE.format(region=region)}   # your model server image in ECR"
        + (": <repository>:<tag>@sha256:<digest>" if t.image_digests else ""),
        f"      auth: {t.api_auth[0]}                        # allowed here: {', '.join(t.api_auth)}",
        "      rateLimitPer5Min: 2000           # WAF rate-based rule, per client IP",
        "      # canary:                             # a second model version on part of the traffic",
        "      #   image: <its model server image, another tag>",
        "      #   percent: 10                       # 0-50; promote: modelImage = image, remove canary",
        *(["    images:                               # cluster add-ons by digest: crane digest <image>"]
          + [f"      {addon}: {value}" for addon, value in image_digests.items()] if image_digests else []),
        "    siem:",
        f"      destination: {siem}              # splunk | http | s3 (archive only)",
    ]
    if siem in ("splunk", "http"):
        lines += [
            f"      endpoint: {q(siem_endpoint)}",
            "      # token: SET ME as a secret, never here in plain text:",
            f"      #   pulumi config set --secret --path '{CONFIG_KEY}.siem.token' <token> --stack {name}",
        ]
    else:
        lines += [
            "      # To ship to Splunk HEC instead: destination: splunk, endpoint: https://splunk.example.com:8088,",
            f"      # then: pulumi config set --secret --path '{CONFIG_KEY}.siem.token' <token> --stack {name}",
        ]
    text = "\n".join(_align_comments(lines)) + "\n"

    try:
        parse_scaffold(text)
    except SpecError as exc:
        raise ScaffoldError([_as_options(p) for p in exc.problems]) from None
    return text


def parse_scaffold(text: str) -> Spec:
    """A written stack file parsed back exactly as the offline engine will (a splunk/http SIEM
    token, which the user sets afterwards as a secret, is one of the spec's warnings until then)."""
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["config"]  # libyaml where built
    return parse_spec(doc[CONFIG_KEY], region=str(doc["aws:region"]), offline=True)


def _as_options(problem: str) -> str:
    """A spec problem about an `accounts` key, told in the `blueprint new` options that set it
    ("--inference-account: 111111111111 is also --training-account; ...")."""
    for key, option in ACCOUNT_OPTIONS.items():
        problem = re.sub(rf"\baccounts\.{key}\b", option, problem)
    for key, option in KEY_OPTIONS.items():
        problem = re.sub(rf"^{key}:", option + ":", problem)
    return problem
