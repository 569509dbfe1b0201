"""Compose the blueprint for a validated spec: training, inference, security monitoring, operations.

Security runs after training and inference because it ships the log sources they register on the
context; operations runs last: its dashboard and lineage rule read all three, and its budgets are
priced from everything registered before them (the ledger, installed before the first resource).
"""

from __future__ import annotations

from blueprints import inference, operations, security, training
from blueprints.context import BlueprintContext
from blueprints.plan.ledger import Ledger
from blueprints.spec import Spec


def build(spec: Spec) -> BlueprintContext:
    """Each part in the account it lives in (`accounts`; one account when the spec names none)."""
    ledger = Ledger.install(tier=spec.tier.name, default_region=spec.region)
    ctx = BlueprintContext(spec)
    trained = training.build(ctx.account("training")) if spec.training.enabled else None
    served = inference.build(ctx.account("inference")) if spec.inference.enabled else None
    watched = security.build(ctx)
    operations.build(ctx, ledger, trained, served, watched)
    return ctx
