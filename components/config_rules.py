"""AWS Config managed rules in one region, scoped to one set of resources.

A managed rule is AWS's own check (`Source.Owner: AWS`, a `SourceIdentifier` such as
S3_BUCKET_SSL_REQUESTS_ONLY). Two kinds, with different constraints ("Evaluation mode and trigger
types for AWS Config Rules", Config developer guide):
- change-triggered: evaluated when a resource in its scope changes; the scope names the resource
  types and one tag (key and value) that the resources carry. No execution frequency.
- periodic: evaluated every `periodic_frequency`; AWS Config rejects a scope on them
  (PutConfigRule: InvalidParameterValueException), so they judge every resource of their type in
  the account and region.

A rule evaluates nothing without a configuration recorder in the region (a rule created before
it fails with NoAvailableConfigurationRecorderException): pass the recorder this program creates,
or none where the organisation's recorder already runs there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags
from components.config_recorder import ConfigRecorder

# AWS Config rule names: 1-128 characters (PutConfigRule, ConfigRule.ConfigRuleName).
MAX_RULE_NAME = 128


@dataclass(frozen=True, kw_only=True)
class ManagedRule:
    name: str
    """The rule's name in AWS Config (after `name_prefix`); unique in the account and region. Required."""
    identifier: str
    """The managed rule's SourceIdentifier (S3_BUCKET_SSL_REQUESTS_ONLY). Required."""
    periodic: bool = False
    """Evaluated on a schedule rather than on configuration changes: no scope. Default False."""
    resource_types: Sequence[str] = ()
    """CloudFormation types a change-triggered rule evaluates (its scope); required for one, and
    ignored for a periodic rule."""
    parameters: Mapping[str, str] = field(default_factory=dict)
    """The rule's input parameters, exactly as its page in the AWS Config docs names them. Default none."""
    description: str = ""
    """What the rule keeps checking, shown in the console. Default empty."""


@dataclass(frozen=True, kw_only=True)
class ConfigRulesArgs:
    rules: Sequence[ManagedRule]
    """The managed rules to deploy. Required (may be empty)."""
    name_prefix: str = ""
    """Prefix of every rule's name (e.g. `<blueprint>-`), so that an EventBridge pattern can match
    this set's compliance changes by prefix. Default empty."""
    tag_key: Optional[str] = None
    """Change-triggered rules evaluate only resources with this tag (and tag_value). Default None:
    every resource of their types."""
    tag_value: Optional[str] = None
    """The value of tag_key. Requires tag_key."""
    recorder: Optional[ConfigRecorder] = None
    """The recorder of this region that the program creates; every rule waits for it. Default None:
    the region's recorder exists already (another stack's, or the organisation's)."""
    periodic_frequency: Literal["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"] = \
        "TwentyFour_Hours"
    """How often periodic rules run. Default daily (each evaluation is billed)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags merged after Name."""


class ConfigRules(Component):
    """One aws.cfg.Rule per ManagedRule: change-triggered ones scoped by type and tag, periodic ones
    on a schedule; all after the region's recorder when this program creates it."""

    rule_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: ConfigRulesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("config", "ConfigRules", name, opts)
        if args.tag_value is not None and args.tag_key is None:
            raise ValueError(f"{name}: tag_value needs tag_key")
        seen: set[str] = set()
        for rule in args.rules:
            full = args.name_prefix + rule.name
            if full in seen:
                raise ValueError(f"{name}: rule name {full!r} is used twice")
            if len(full) > MAX_RULE_NAME:
                raise ValueError(f"{name}: rule name {full!r} is longer than {MAX_RULE_NAME} characters")
            if not rule.periodic and not rule.resource_types:
                raise ValueError(f"{name}: {rule.identifier} is change-triggered: name the resource types it evaluates")
            seen.add(full)
        wait = [args.recorder] if args.recorder is not None else []
        names = []
        for rule in args.rules:
            full = args.name_prefix + rule.name
            created = aws.cfg.Rule(
                f"{name}-{rule.name}",
                name=full,
                description=rule.description or None,
                source=aws.cfg.RuleSourceArgs(owner="AWS", source_identifier=rule.identifier),
                input_parameters=json.dumps(dict(rule.parameters), sort_keys=True) if rule.parameters else None,
                maximum_execution_frequency=args.periodic_frequency if rule.periodic else None,
                scope=None if rule.periodic else aws.cfg.RuleScopeArgs(
                    compliance_resource_types=list(rule.resource_types),
                    tag_key=args.tag_key,
                    tag_value=args.tag_value,
                ),
                tags=merge_tags(full, args.tags),
                opts=self.child(depends_on=wait),
            )
            names.append(created.name)
        self.rule_names = pulumi.Output.all(*names).apply(list) if names else pulumi.Output.from_input([])
        self.register_outputs({"rule_names": self.rule_names})
