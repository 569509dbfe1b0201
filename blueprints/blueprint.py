"""Compose the blueprint for a validated spec: training, inference, security monitoring."""

from __future__ import annotations

from blueprints import training
from blueprints.context import BlueprintContext
from blueprints.spec import Spec


def build(spec: Spec) -> BlueprintContext:
    ctx = BlueprintContext(spec)
    if spec.training.enabled:
        training.build(ctx)
    return ctx
