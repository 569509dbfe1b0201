"""Workload security on the example plans: a reviewer's edits to the restricted plan JSON that
`check` must fail with the rule that names the problem, and the declared exemptions, each one
needed by an example and reported with its reason."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from policies.model import urn_name
from policies.rules.workloads import DAEMON_SET, DEPLOYMENT, EKS_ADDON, EXEMPTIONS, NETWORK_POLICY, WORKLOADS
from policies.runner import check, run
from tests.conftest import EXAMPLES


def _plan(example_plan: Callable, tier: str = "restricted") -> dict[str, Any]:
    return copy.deepcopy(example_plan(tier).to_dict())


def _states(plan: dict, type_: str, name_part: str = "") -> list[dict[str, Any]]:
    found = [s["newState"] for s in plan["steps"] if s["newState"]["type"] == type_ and name_part in urn_name(s["urn"])]
    assert found, f"no {type_} named *{name_part}* in the plan"
    return found


def _model_servers(plan: dict) -> list[dict[str, Any]]:
    """The model server's container in every region's Deployment."""
    return [s["inputs"]["spec"]["template"]["spec"]["containers"][0] for s in _states(plan, DEPLOYMENT, "serving-deployment")]


def _blocking(plan: dict) -> dict[str, set[str]]:
    result = run(plan)
    out: dict[str, set[str]] = {}
    for f in result.findings:
        if f.blocking:
            out.setdefault(f.rule.id, set()).add(f.resource_name)
    return out


def _mutate_model_server(plan: dict, security_context: dict) -> None:
    for container in _model_servers(plan):
        container["securityContext"].update(security_context)


@pytest.mark.parametrize("change, rule", [
    ({"privileged": True}, "AIB-100"),
    ({"allowPrivilegeEscalation": True}, "AIB-101"),
    ({"runAsUser": 0}, "AIB-102"),
    ({"runAsNonRoot": False}, "AIB-102"),
    ({"readOnlyRootFilesystem": False}, "AIB-103"),
    ({"capabilities": {"add": ["SYS_ADMIN"]}}, "AIB-104"),
    ({"seccompProfile": {"type": "Unconfined"}}, "AIB-107"),
], ids=lambda v: v if isinstance(v, str) else next(iter(v)))
def test_a_weakened_model_server_fails_check(example_plan, change: dict, rule: str) -> None:
    plan = _plan(example_plan)
    _mutate_model_server(plan, change)
    text, code = check(plan)
    assert code == 1
    blocking = _blocking(plan)
    assert blocking.get(rule) == {"fraud-models-inf-euw1-serving-deployment", "fraud-models-inf-euc1-serving-deployment"}
    assert "container model-server" in text


def test_the_model_server_on_the_host_fails_check(example_plan) -> None:
    plan = _plan(example_plan)
    for state in _states(plan, DEPLOYMENT, "serving-deployment"):
        pod = state["inputs"]["spec"]["template"]["spec"]
        pod["hostPID"] = True
        pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
        pod["automountServiceAccountToken"] = True
        del pod["containers"][0]["resources"]["limits"]["memory"]
    blocking = _blocking(plan)
    for rule in ("AIB-105", "AIB-106", "AIB-108", "AIB-109"):
        assert "fraud-models-inf-euw1-serving-deployment" in blocking.get(rule, set()), rule


def test_deleting_every_network_policy_fails_check(example_plan) -> None:
    plan = _plan(example_plan)
    plan["steps"] = [s for s in plan["steps"] if s["newState"]["type"] != NETWORK_POLICY]
    text, code = check(plan)
    assert code == 1
    failed = _blocking(plan)["AIB-110"]
    # the model servers (namespace inference) and the blueprint's own kube-system workloads
    assert {"fraud-models-inf-euw1-serving-deployment", "fraud-models-inf-euw1-autoscaler-deployment",
            "fraud-models-training-k8s-nvidia-device-plugin"} <= failed
    assert "namespace inference has no default-deny NetworkPolicy" in text


def test_a_namespace_policy_that_admits_everyone_is_not_a_default_deny(example_plan) -> None:
    plan = _plan(example_plan)
    for state in _states(plan, NETWORK_POLICY, "serving-default-deny"):
        state["inputs"]["spec"]["ingress"] = [{}]
    assert "fraud-models-inf-euc1-serving-deployment" in _blocking(plan)["AIB-110"]


def test_turning_off_network_policy_enforcement_fails_check(example_plan) -> None:
    plan = _plan(example_plan)
    for state in _states(plan, EKS_ADDON, "training-addon-vpc-cni"):
        for part in ("inputs", "outputs"):  # as an edit of the plan JSON removes it
            state[part].pop("configurationValues")
    assert _blocking(plan)["AIB-111"] == {"fraud-models-training-cluster"}
    plan["steps"] = [s for s in plan["steps"] if not (s["newState"]["type"] == EKS_ADDON
                                                       and s["newState"]["inputs"]["addonName"] == "vpc-cni")]
    assert _blocking(plan)["AIB-111"] == {"fraud-models-training-cluster", "fraud-models-inf-euw1-cluster",
                                          "fraud-models-inf-euc1-cluster"}


def test_an_exemption_covers_only_what_it_names(example_plan) -> None:
    """The NVIDIA plugin may be root on the kubelet's directory; it may not be privileged, mount
    another host path, or join the host network, whatever its name."""
    plan = _plan(example_plan)
    for state in _states(plan, DAEMON_SET, "training-k8s-nvidia-device-plugin"):
        pod = state["inputs"]["spec"]["template"]["spec"]
        pod["hostNetwork"] = True
        pod["volumes"].append({"name": "runtime", "hostPath": {"path": "/run/containerd"}})
        pod["containers"][0]["securityContext"]["privileged"] = True
    blocking = _blocking(plan)
    for rule in ("AIB-100", "AIB-105", "AIB-106"):
        assert blocking.get(rule) == {"fraud-models-training-k8s-nvidia-device-plugin"}, rule
    assert "AIB-102" not in blocking  # root stays exempt


# The examples train on NVIDIA GPUs; the Neuron device plugin's exemptions are needed where
# training runs on Trainium (the same render as tests/blueprints/test_training.py's, shared).
TRAINIUM = ("restricted", {"training": {"gpuInstanceType": "trn1.32xlarge"}, "inference": {"enabled": False}})


def _plans(example_plan, render) -> list[dict]:
    return [*(example_plan(tier).to_dict() for tier in EXAMPLES), render(*TRAINIUM).to_dict()]


def test_the_restricted_plans_report_each_exemption_with_its_reason(example_plan, render) -> None:
    texts = []
    for plan in (example_plan("restricted").to_dict(), render(*TRAINIUM).to_dict()):
        text, code = check(plan)
        assert code == 0
        texts.append(text)
    for e in EXEMPTIONS:
        assert any(e.reason in text for text in texts), e


def test_every_exemption_is_needed_by_an_example(example_plan, render) -> None:
    """No stale exemption: each record exempts a finding on some example (or the Trainium
    variant), and every exempt finding of these rules carries its record's reason."""
    used = set()
    for plan in _plans(example_plan, render):
        result = run(plan)
        for f in result.of("exempt"):
            if f.rule.area == "workload security":
                record = next(e for e in EXEMPTIONS if e.rule == f.rule.id and e.reason in f.message)
                used.add(record)
    assert used == set(EXEMPTIONS)


def test_exemption_records_are_complete() -> None:
    for e in EXEMPTIONS:
        assert e.rule.startswith("AIB-1") and e.kind and e.namespace and e.name and len(e.reason) > 40, e
    keys = [(e.rule, e.kind, e.namespace, e.name) for e in EXEMPTIONS]
    assert len(keys) == len(set(keys))


def test_every_workload_in_every_example_is_judged_by_every_workload_rule(example_plan) -> None:
    for tier in EXAMPLES:
        plan = example_plan(tier).to_dict()
        workloads = {urn_name(s["urn"]) for s in plan["steps"] if s["newState"]["type"] in WORKLOADS}
        assert workloads
        coverage = json.loads(check(plan, fmt="json")[0])["coverage"]
        for rule in [f"AIB-{n}" for n in range(100, 111)]:
            assert coverage[rule]["evaluated"] == len(workloads), (tier, rule)
