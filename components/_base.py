"""What every component shares: the type-token scheme, child options and tag merging."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi


@dataclass(frozen=True, kw_only=True)
class StatefulOptions:
    """How a component treats the stateful resources inside it (log groups, file systems):
    the data that outlives a `pulumi destroy` mistake."""

    protect: bool = True
    """Refuse to delete them. Default on."""
    retain_on_delete: bool = False
    """Leave them in the account when Pulumi deletes them. Default off."""


class Component(pulumi.ComponentResource):
    """A ComponentResource typed `aiblueprints:<module>:<Type>`.

    `protect` set on the component's options is inherited by every child (Pulumi does that);
    `retain_on_delete` is not, so `child()` carries it down explicitly. That way a blueprint
    marks a stateful component once and every resource inside it is kept.
    """

    def __init__(self, module: str, type_name: str, name: str, opts: Optional[pulumi.ResourceOptions]):
        super().__init__(f"aiblueprints:{module}:{type_name}", name, None, opts)
        self._name = name
        self._retain = opts.retain_on_delete if opts is not None else None

    def child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child resource: parented to this component, retention carried down."""
        return pulumi.ResourceOptions(parent=self, retain_on_delete=self._retain, **kwargs)

    def stateful_child(self, stateful: StatefulOptions, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a stateful child (a log group, a file system) inside a component that is
        otherwise disposable."""
        return pulumi.ResourceOptions(
            parent=self,
            protect=stateful.protect,
            retain_on_delete=stateful.retain_on_delete or self._retain,
            **kwargs,
        )

    def invoke_opts(self) -> pulumi.InvokeOutputOptions:
        """Invoke options that use this component's provider (its region)."""
        return pulumi.InvokeOutputOptions(parent=self)


def merge_tags(name: str, common: Optional[Mapping[str, str]], extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Tags in the house order: Name, then the common tags, then per-resource tags."""
    return {"Name": name, **dict(common or {}), **dict(extra or {})}


def policy_json(statements: list[Any]) -> pulumi.Output[str]:
    """A JSON IAM policy document from statements that may hold Outputs."""
    return pulumi.Output.from_input({"Version": "2012-10-17", "Statement": statements}).apply(
        lambda doc: json.dumps(doc, sort_keys=True)
    )
