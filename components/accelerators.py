"""The accelerator catalog: for every accelerated EC2 instance type the project supports, its
accelerators (NVIDIA GPUs or AWS Neuron devices), how many, their memory, its EFA interfaces and
vCPUs, and whether it suits training, inference or both.

A data module: components (node groups, device plugins) and blueprints (the spec's validation,
quotas, cost) both read it, so it imports nothing from either and nothing of Pulumi.

Sources (the figures `aws ec2 describe-instance-types` returns as GpuInfo / NeuronInfo,
VCpuInfo.DefaultVCpus and NetworkInfo.EfaInfo / MaximumNetworkCards):
- Amazon EC2 "Accelerated computing instance specifications"
  (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html): accelerators, accelerator
  memory, vCPUs, network cards and EFA support per type;
- the product pages https://aws.amazon.com/ec2/instance-types/{p5,p4,g5,g6,g6e,trn1,trn2,inf2}/;
- AWS Neuron documentation, "Trainium / Inferentia2 architecture" and "Logical NeuronCore
  configuration": 2 NeuronCore-v2 per Trainium and Inferentia2 chip; 8 NeuronCore-v3 per Trainium2
  chip, exposed as 4 logical cores at the default LNC=2.
EFA interfaces: one per network card on the types whose every card carries an EFA (the P4d/P4de,
P5 family and Trn families at full size). Types that support a single EFA on their first card only
(larger g5/g6/g6e sizes, p3dn, p5.4xlarge) are catalogued with 0: the project does not wire EFA
on them (no placement group, no EFA device plugin), as before this catalog existed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, Optional

Vendor = Literal["nvidia", "neuron"]
Use = Literal["training", "inference"]
USES: tuple[Use, ...] = ("training", "inference")
BOTH: frozenset[Use] = frozenset(USES)
TRAINING: frozenset[Use] = frozenset({"training"})
INFERENCE: frozenset[Use] = frozenset({"inference"})

# Which vendors each workload of the project can drive today. Serving requests `nvidia.com/gpu`
# per replica (components/serving_workload.py) and has no Neuron path yet, so an Inferentia or
# Trainium type would render a model server that never schedules: inference accepts NVIDIA only.
# Training runs user-submitted Jobs that request whichever resource their nodes advertise.
SUPPORTED_VENDORS: dict[Use, frozenset[Vendor]] = {
    "training": frozenset({"nvidia", "neuron"}),
    "inference": frozenset({"nvidia"}),
}
# What the error message offers first when a requested type has no relative in the catalog: the
# spec's defaults.
PREFERRED: dict[Use, str] = {"training": "p5.48xlarge", "inference": "g6.xlarge"}


@dataclass(frozen=True)
class Accelerator:
    """One accelerated instance type."""

    instance_type: str
    vendor: Vendor
    model: str
    """The accelerator, e.g. "H100", "Trainium2"."""
    count: int
    """Accelerators per instance (GPUs, or Neuron devices as `aws.amazon.com/neuron` counts them)."""
    memory_gib: int
    """Accelerator memory of the whole instance, GiB."""
    efa_interfaces: int
    """EFA interfaces the project attaches (one per network card); 0: no EFA wiring."""
    vcpus: int
    uses: frozenset[Use]
    neuron_cores: int = 0
    """NeuronCores per instance as `aws.amazon.com/neuroncore` counts them (Neuron only)."""

    @property
    def family(self) -> str:
        return self.instance_type.split(".", 1)[0]

    @property
    def neuron(self) -> bool:
        return self.vendor == "neuron"

    def suits(self, use: Use) -> bool:
        return use in self.uses


def _gpu(instance_type: str, model: str, count: int, memory_gib: int, vcpus: int, efa: int = 0,
         uses: frozenset[Use] = BOTH) -> Accelerator:
    return Accelerator(instance_type, "nvidia", model, count, memory_gib, efa, vcpus, uses)


def _neuron(instance_type: str, model: str, count: int, memory_gib: int, vcpus: int, cores: int, efa: int = 0,
            uses: frozenset[Use] = BOTH) -> Accelerator:
    return Accelerator(instance_type, "neuron", model, count, memory_gib, efa, vcpus, uses, neuron_cores=cores)


# g5 (A10G, 24 GiB), g6 (L4, 24 GiB) and g6e (L40S, 48 GiB) share one size ladder:
# size -> (GPUs, vCPUs).
_G_LADDER = (("xlarge", 1, 4), ("2xlarge", 1, 8), ("4xlarge", 1, 16), ("8xlarge", 1, 32), ("16xlarge", 1, 64),
             ("12xlarge", 4, 48), ("24xlarge", 4, 96), ("48xlarge", 8, 192))
_G_FAMILIES = (("g5", "A10G", 24), ("g6", "L4", 24), ("g6e", "L40S", 48))

# Order matters only for error messages: the first of a use is offered first.
_CATALOG: tuple[Accelerator, ...] = (
    _gpu("p5.48xlarge", "H100", 8, 640, 192, efa=32),
    _gpu("p5e.48xlarge", "H200", 8, 1128, 192, efa=32),
    _gpu("p5en.48xlarge", "H200", 8, 1128, 192, efa=16),
    _gpu("p5.4xlarge", "H100", 1, 80, 16),
    _gpu("p4d.24xlarge", "A100", 8, 320, 96, efa=4),
    _gpu("p4de.24xlarge", "A100", 8, 640, 96, efa=4),
    _gpu("p6-b200.48xlarge", "B200", 8, 1440, 192),
    _gpu("p3.2xlarge", "V100", 1, 16, 8),
    _gpu("p3.8xlarge", "V100", 4, 64, 32),
    _gpu("p3.16xlarge", "V100", 8, 128, 64),
    _gpu("p3dn.24xlarge", "V100", 8, 256, 96),
    _neuron("trn1.32xlarge", "Trainium", 16, 512, 128, cores=32, efa=8),
    _neuron("trn1n.32xlarge", "Trainium", 16, 512, 128, cores=32, efa=16),
    _neuron("trn1.2xlarge", "Trainium", 1, 32, 8, cores=2),
    _neuron("trn2.48xlarge", "Trainium2", 16, 1536, 192, cores=64, efa=16),
    _neuron("trn2u.48xlarge", "Trainium2", 16, 1536, 192, cores=64, efa=16),
    *(_gpu(f"{family}.{size}", model, gpus, gpus * memory, vcpus)
      for family, model, memory in _G_FAMILIES for size, gpus, vcpus in _G_LADDER),
    _neuron("inf2.xlarge", "Inferentia2", 1, 32, 4, cores=2, uses=INFERENCE),
    _neuron("inf2.8xlarge", "Inferentia2", 1, 32, 32, cores=2, uses=INFERENCE),
    _neuron("inf2.24xlarge", "Inferentia2", 6, 192, 96, cores=12, uses=INFERENCE),
    _neuron("inf2.48xlarge", "Inferentia2", 12, 384, 192, cores=24, uses=INFERENCE),
)
CATALOG: dict[str, Accelerator] = {a.instance_type: a for a in _CATALOG}

# vCPUs of the general-purpose types the project runs system nodes on (EC2 counts its instance
# quotas in vCPUs); the accelerated types carry theirs in CATALOG.
GENERAL_PURPOSE_VCPUS: dict[str, int] = {"m7i.large": 2, "m7i.xlarge": 4, "m7i.2xlarge": 8}


def accelerator(instance_type: str) -> Optional[Accelerator]:
    """The catalog entry of an instance type, or None for a type the catalog does not know."""
    return CATALOG.get(instance_type)


def vcpus(instance_type: str) -> Optional[int]:
    """vCPUs of one instance of the type; None when neither table knows it."""
    entry = CATALOG.get(instance_type)
    return entry.vcpus if entry is not None else GENERAL_PURPOSE_VCPUS.get(instance_type)


def supported(instance_type: str, use: Use) -> bool:
    """Whether the project can run `use` on the type: the catalog knows it, it suits the use, and
    the workload drives its vendor (SUPPORTED_VENDORS)."""
    entry = CATALOG.get(instance_type)
    return entry is not None and entry.suits(use) and entry.vendor in SUPPORTED_VENDORS[use]


def supported_types(use: Use) -> list[str]:
    """Every type `supported` for `use`, in catalog order."""
    return [t for t in CATALOG if supported(t, use)]


def _letters(instance_type: str) -> str:
    """The instance class: the family's leading letters (p, g, trn, inf, t, m ...)."""
    match = re.match(r"[a-z]+", instance_type)
    return match.group(0) if match else ""


def _size(instance_type: str) -> float:
    """A size on one scale: xlarge 1, 48xlarge 48, large 0.5, medium 0.25, smaller ones below."""
    size = instance_type.split(".", 1)[-1]
    match = re.fullmatch(r"(\d*)xlarge", size)
    if match:
        return float(match.group(1) or 1)
    return {"large": 0.5, "medium": 0.25, "small": 0.125, "micro": 0.0625, "nano": 0.03125}.get(size, 1.0)


def nearest(instance_type: str, use: Use, limit: int = 4) -> list[str]:
    """Up to `limit` supported types for `use`, closest first: the same family (by size), then
    the same class (p, g, trn ...; by size), then the use's preferred type and the rest in catalog
    order. For error messages."""
    family, letters, size = instance_type.split(".", 1)[0], _letters(instance_type), _size(instance_type)
    candidates = supported_types(use)
    order = {t: i for i, t in enumerate(candidates)}

    def key(candidate: str) -> tuple[int, float, int]:
        distance = abs(math.log2(_size(candidate)) - math.log2(size))
        if candidate.split(".", 1)[0] == family:
            return (0, distance, order[candidate])
        if _letters(candidate) == letters:
            return (1, distance, order[candidate])
        return (2, 0.0 if candidate == PREFERRED[use] else 1.0, order[candidate])

    return sorted(candidates, key=key)[:limit]
