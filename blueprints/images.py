"""The cluster add-on images a blueprint runs beside the model server, one table: where each comes
from, the tag the project pins, and where the tier pins images by digest (Tier.image_digests) the
digest that tag must resolve to.

A digest comes from the stack config (`images: {<add-on>: sha256:...}`, what the team verified
when it mirrored the image: `crane digest <repository>:<tag>`) or, where the project has read one
for the pinned tag in public sources, from `Addon.digest`. The spec asks for every add-on the
stack runs that has neither (blueprints/spec.py), so nothing reaches a restricted cluster by a
tag alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from components import accelerators

DIGEST_PATTERN = r"^sha256:[a-f0-9]{64}$"


@dataclass(frozen=True)
class Addon:
    name: str
    """The key in the spec's `images` and in the stack's mirrors (`training/<name>`)."""
    repository: str
    """The upstream repository, without tag."""
    tag: str
    digest: Optional[str] = None
    """The digest `repository:tag` resolves to (its multi-architecture index), where known."""

    def reference(self, digest: Optional[str]) -> str:
        """What follows the repository: `:<tag>`, and `@<digest>` where one is given."""
        return f":{self.tag}" + (f"@{digest}" if digest else "")

    def upstream(self, digest: Optional[str]) -> str:
        return self.repository + self.reference(digest)


ADDONS: dict[str, Addon] = {a.name: a for a in (
    Addon("nvidia-device-plugin", "nvcr.io/nvidia/k8s-device-plugin", "v0.17.2"),
    Addon("efa-device-plugin", "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin", "v0.5.6"),
    # The Neuron Helm chart's plugin release.
    Addon("neuron-device-plugin", "public.ecr.aws/neuron/neuron-device-plugin", "2.28.27.0"),
    # Follows the cluster's Kubernetes minor. The digest of the v1.35.0 multi-architecture index,
    # as two unrelated public projects pin it (re-check with `crane digest` when the tag changes).
    Addon("cluster-autoscaler", "registry.k8s.io/autoscaling/cluster-autoscaler", "v1.35.0",
          digest="sha256:2fc9433dd3b47baef0e68d6b1110b770a3c93db10c7bead4c5bc6cb21c72b875"),
)}


# What every serving cluster runs (inference serves on NVIDIA types).
SERVING_ADDONS = ("nvidia-device-plugin", "cluster-autoscaler")


def addons_for(training_instance_type: Optional[str], inference: bool) -> list[str]:
    """The add-ons a stack runs: per cluster its accelerator's device plugin (NVIDIA or Neuron;
    inference serves on NVIDIA types), the EFA plugin where the training type has EFA, and the
    Cluster Autoscaler. `training_instance_type`: None where the stack does not train."""
    names: list[str] = []
    if training_instance_type is not None:
        entry = accelerators.accelerator(training_instance_type)
        names.append("neuron-device-plugin" if entry is not None and entry.neuron else "nvidia-device-plugin")
        if entry is not None and entry.efa_interfaces:
            names.append("efa-device-plugin")
        names.append("cluster-autoscaler")
    if inference:
        names += SERVING_ADDONS
    return list(dict.fromkeys(names))


def digest(name: str, configured: Mapping[str, str]) -> Optional[str]:
    """The digest an add-on is pinned to: the stack config's, else the project's, else None."""
    return configured.get(name) or ADDONS[name].digest
