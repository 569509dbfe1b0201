"""Compose the blueprint for a validated spec: training, inference, then security monitoring.

Security runs last because it ships the log sources the other two register on the context.
"""

from __future__ import annotations

from blueprints import inference, security, training
from blueprints.context import BlueprintContext
from blueprints.spec import Spec


def build(spec: Spec) -> BlueprintContext:
    """Each part in the account it lives in (`accounts`; one account when the spec names none)."""
    ctx = BlueprintContext(spec)
    if spec.training.enabled:
        training.build(ctx.account("training"))
    if spec.inference.enabled:
        inference.build(ctx.account("inference"))
    security.build(ctx)
    return ctx
