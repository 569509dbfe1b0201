"""The accelerator catalog: one table of instance facts that the spec, node groups, quotas and
cost read."""

import ast
import pathlib

import pytest

from components import accelerators
from components.accelerators import CATALOG, accelerator, nearest, supported, supported_types, vcpus
from components.node_group import gpus_per_node, neuron, neuron_devices_per_node, node_template_resources


def test_the_catalog_is_a_data_module_that_imports_nothing_of_pulumi_or_the_blueprints():
    tree = ast.parse(pathlib.Path(accelerators.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not [m for m in imported if m.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_kubernetes", "blueprints")]


@pytest.mark.parametrize("instance_type, vendor, count, memory, efa, cpus", [
    ("p5.48xlarge", "nvidia", 8, 640, 32, 192),
    ("p4d.24xlarge", "nvidia", 8, 320, 4, 96),
    ("p5en.48xlarge", "nvidia", 8, 1128, 16, 192),
    ("g6.xlarge", "nvidia", 1, 24, 0, 4),
    ("g6e.12xlarge", "nvidia", 4, 192, 0, 48),
    ("g5.48xlarge", "nvidia", 8, 192, 0, 192),
    ("trn1.32xlarge", "neuron", 16, 512, 8, 128),
    ("trn1n.32xlarge", "neuron", 16, 512, 16, 128),
    ("trn2.48xlarge", "neuron", 16, 1536, 16, 192),
    ("inf2.48xlarge", "neuron", 12, 384, 0, 192),
])
def test_each_type_records_its_accelerators_memory_efa_and_vcpus(instance_type, vendor, count, memory, efa, cpus):
    entry = accelerator(instance_type)
    assert (entry.vendor, entry.count, entry.memory_gib, entry.efa_interfaces, entry.vcpus) == (
        vendor, count, memory, efa, cpus)


def test_uses_training_inference_or_both():
    assert CATALOG["p5.48xlarge"].uses == {"training", "inference"}
    assert CATALOG["inf2.xlarge"].uses == {"inference"}
    assert supported("trn1.32xlarge", "training") and not supported("inf2.xlarge", "training")
    assert supported("g6.xlarge", "inference")
    # Serving requests nvidia.com/gpu only: no Neuron type serves until it has a Neuron path.
    assert not [t for t in supported_types("inference") if CATALOG[t].neuron]
    assert not supported("t3.micro", "training") and accelerator("t3.micro") is None


def test_nearest_offers_the_family_then_the_class_then_the_uses_default():
    assert nearest("t3.micro", "training")[0] == "p5.48xlarge"
    assert nearest("t3.micro", "inference")[0] == "g6.xlarge"
    assert nearest("trn1.64xlarge", "training")[:2] == ["trn1.32xlarge", "trn1.2xlarge"]
    assert set(nearest("g6.3xlarge", "inference")) <= {f"g6.{s}" for s in ("xlarge", "2xlarge", "4xlarge", "8xlarge")}
    assert all(supported(t, "training") for t in nearest("inf2.xlarge", "training", limit=10))
    assert len(nearest("x9.huge", "inference", limit=3)) == 3


def test_node_groups_read_the_catalog():
    assert neuron("trn2.48xlarge") and not neuron("p5.48xlarge") and not neuron("t3.micro")
    assert gpus_per_node("p5.48xlarge") == 8 and gpus_per_node("trn1.32xlarge") == 0
    assert neuron_devices_per_node("trn1.32xlarge") == 16 and neuron_devices_per_node("g6.xlarge") == 0
    assert node_template_resources(["inf2.24xlarge"], gpu=True, efa_interfaces=0) == {
        "aws.amazon.com/neuron": 6, "aws.amazon.com/neuroncore": 12}
    assert node_template_resources(["g6.12xlarge", "g6.48xlarge"], gpu=True, efa_interfaces=0) == {"nvidia.com/gpu": 4}
    assert vcpus("m7i.large") == 2 and vcpus("g4dn.xlarge") is None
