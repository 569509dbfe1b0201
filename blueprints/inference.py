"""Inference: multi-region GPU serving behind API Gateway, WAF and autoscaling (issue 4)."""

from __future__ import annotations

from blueprints.context import BlueprintContext


def build(ctx: BlueprintContext) -> None:
    """Compose one serving stack per region in ctx.spec.inference_regions."""
    return None
