"""`blueprint new`: a commented stack file that passes `blueprint validate` as written.

The text is produced here, then parsed back through the same spec validation the engine uses,
so a scaffold can never hand a user a file the program would reject (the one exception is a
splunk/http SIEM destination, whose token must be set with `pulumi config set --secret`).
"""

from __future__ import annotations

import json
import re
from typing import Optional

import yaml

from blueprints.spec import CONFIG_KEY, SpecError, parse_spec
from blueprints.tiers import RESIDENCY_REGIONS, get_tier, regions_for_residency

DEFAULT_IMAGE = "111122223333.dkr.ecr.{region}.amazonaws.com/llm-server:1.0.0"
DEFAULT_TRAINING_GPU = {"public": "g6e.12xlarge", "internal": "p4d.24xlarge"}


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


def render_stack_file(
    *, name: str, tier: str, region: str, inference_regions: list[str], training: bool = True,
    inference: bool = True, owner: str = "ml-platform@example.com", cost_center: str = "CC-0000",
    residency: Optional[str] = None, siem: str = "s3", siem_endpoint: Optional[str] = None,
) -> str:
    t = get_tier(tier)
    if residency is None:
        residency = (_residency_of(region) or "any") if t.residency_required else "any"
    regions = inference_regions or [region]
    if inference and len(regions) < t.min_inference_regions:
        allowed = [r for r in regions_for_residency(residency) if r not in regions]
        raise ScaffoldError([
            f"--inference-region: tier {tier} needs at least {t.min_inference_regions} inference regions; "
            f"add --inference-region {regions[0] if inference_regions else region} --inference-region "
            f"{allowed[0] if allowed else '<region>'}"
        ])
    if siem in ("splunk", "http") and not siem_endpoint:
        raise ScaffoldError([f"--siem-endpoint: required with --siem {siem} (an https URL)"])

    q = json.dumps  # YAML accepts JSON scalars: safe quoting for any value
    spot_ok = t.spot_training
    lines = [
        f"# ai-blueprints stack `{name}`: tier {tier} ({t.summary})",
        "# Validate offline:  blueprint validate stacks/Pulumi.<stack>.yaml",
        "# Preview offline:   blueprint plan stacks/Pulumi.<stack>.yaml",
        "# Deploy:            pulumi up --stack " + name,
        "config:",
        f"  aws:region: {region}              # home region: training and shared security services",
        f"  {CONFIG_KEY}:",
        f"    name: {name}                     # prefixes every resource name",
        f"    tier: {tier}                     # public | internal | confidential | restricted (blueprint tiers)",
        f"    owner: {q(owner)}                # Owner tag on every taggable resource: set your team's address",
        f"    costCenter: {q(cost_center)}     # CostCenter tag: set your cost center",
        f"    residency: {residency}           # eu | us | any; every region used must be inside it",
        "    # deployerCidrs: [10.100.0.0/16]        # private networks `pulumi up` runs from (CI runner VPC / VPN via Transit Gateway): EKS admits HTTPS from them",
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
        f"      modelImage: {DEFAULT_IMAGE.format(region=region)}   # your model server image in ECR",
        f"      auth: {t.api_auth[0]}                        # allowed here: {', '.join(t.api_auth)}",
        "      rateLimitPer5Min: 2000           # WAF rate-based rule, per client IP",
        "      # canary:                             # a second model version on part of the traffic",
        "      #   image: <its model server image, another tag>",
        "      #   percent: 10                       # 0-50; promote: modelImage = image, remove canary",
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

    # Parse it back exactly as the engine will.
    doc = yaml.safe_load(text)["config"]
    try:
        parse_spec(doc[CONFIG_KEY], region=str(doc["aws:region"]), token_is_secret=False)
    except SpecError as exc:
        problems = [p for p in exc.problems if not p.startswith("siem.token:")]
        if problems:
            raise ScaffoldError(problems) from None
    return text
