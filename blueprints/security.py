"""Security monitoring: audit trail, SIEM shipping, threat detection (issue 5).

Runs last: it ships the log sources that training and inference registered on the context.
"""

from __future__ import annotations

from blueprints.context import BlueprintContext


def build(ctx: BlueprintContext) -> None:
    return None
