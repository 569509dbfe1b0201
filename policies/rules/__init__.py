"""The guardrail rules, one module per area. Importing this package registers every rule."""

from policies.rules import (  # noqa: F401  (registration)
    accounts, data_protection, edge, encryption, identity, logging, network, resilience, resource_policies,
    threat_detection, transport, workloads,
)
from policies.rules import foundation_models  # noqa: F401  (registration)
from policies.rules import operations  # noqa: F401  (registration)
