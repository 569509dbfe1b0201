"""The program's own registrations, as a plan, at program time: what the default budget is priced from.

`blueprint cost` prices a rendered plan. The budget's default limit (spec `budget.monthlyUsd` unset)
is that same estimate, and the program must not render itself to get it. So the program keeps a
ledger of what it registers: every RegisterResource request the SDK sends to the engine (under
`pulumi up` the Pulumi engine, offline the mock engine) is recorded exactly as the offline engine
records it (`engine.registration_record`: type, parent, provider, camelCase inputs), and the
estimate is `cost.estimate` of the plan those records assemble into. Same records, same assembly,
same estimator: the number equals what `blueprint cost` prints for the stack, less the resources
registered after the ledger is read (the budget and its anomaly monitor, which cost nothing).

When the ledger is read: `estimate()` is an Output that resolves once every resource created so far
(seen by a stack transformation) has its URN, i.e. once the engine has answered its registration.
Under `pulumi up` that is after they are created, so the budget is among the last resources
created; in a preview the inputs that are not yet known are unknown in the records too, and no
estimator reads those (they price instance types, sizes and counts, which the spec fixes).
"""

from __future__ import annotations

import threading
from typing import Any

import pulumi

from blueprints.plan.cost import CostEstimate, estimate
from blueprints.plan.engine import assemble, registration_record


class _RecordingMonitor:
    """The SDK's resource monitor, with every RegisterResource answer recorded."""

    def __init__(self, monitor: Any, ledger: "Ledger"):
        self._monitor = monitor
        self._ledger = ledger

    def RegisterResource(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (gRPC name)
        response = self._monitor.RegisterResource(request, *args, **kwargs)
        if response is not None and response.urn:
            try:
                self._ledger.record(registration_record(request, response))
            except Exception as exc:  # noqa: BLE001 - the deployment goes on; only the default budget needs the ledger
                self._ledger.failed = f"{type(exc).__name__}: {exc}"
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._monitor, name)


class Ledger:
    """Install with `Ledger.install(...)` before the program registers its first resource."""

    def __init__(self, stack: str, tier: str, default_region: str):
        self.stack, self.tier, self.default_region = stack, tier, default_region
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._resources: list[pulumi.Resource] = []
        # Why a registration could not be recorded, if one could not: the estimate is then refused
        # (a budget priced from part of the stack would be quietly too low).
        self.failed: str = ""

    @classmethod
    def install(cls, *, tier: str, default_region: str) -> "Ledger":
        from pulumi.runtime import settings

        ledger = cls(pulumi.get_stack(), tier, default_region)
        if settings.SETTINGS.monitor is None:
            raise RuntimeError("the cost ledger needs the Pulumi engine's resource monitor (run under pulumi or the "
                               "offline engine)")
        settings.SETTINGS.monitor = _RecordingMonitor(settings.SETTINGS.monitor, ledger)
        pulumi.runtime.register_stack_transformation(ledger._see)
        return ledger

    def _see(self, args: pulumi.ResourceTransformationArgs) -> None:
        self._resources.append(args.resource)
        return None

    def record(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self._records[rec["urn"]] = rec

    def estimate(self) -> pulumi.Output[CostEstimate]:
        """The cost estimate of everything created until now, once the engine has registered it all."""
        registered = pulumi.Output.all(*[r.urn for r in list(self._resources)])
        return registered.apply(lambda _: self._estimate())

    def _estimate(self) -> CostEstimate:
        if self.failed:
            raise RuntimeError(f"budget.monthlyUsd: the program could not price what it registered ({self.failed}); "
                               "set budget.monthlyUsd in the stack config")
        with self._lock:
            records = dict(self._records)
        return estimate(assemble(records, self.stack, self.tier, self.default_region))
