"""Device-plugin DaemonSets: the Neuron plugin's API access is exactly what it needs; the NVIDIA
plugin keeps no token and no network."""

import pulumi

from components.device_plugin import neuron_device_plugin, nvidia_device_plugin


def policies(plan):
    return {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}


def test_neuron_plugin_reaches_only_the_api_server_port_with_its_own_account(render_component):
    plan = render_component(lambda: neuron_device_plugin("np", "example.com/neuron:1", pulumi.ResourceOptions()))
    (ds,) = plan.of_type("kubernetes:apps/v1:DaemonSet")
    pod = ds.inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "neuron-device-plugin" and pod["automountServiceAccountToken"] is True
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in pod["containers"][0]["env"]
    spec = policies(plan)["neuron-device-plugin-deny-all"]
    assert spec["egress"] == [{"ports": [{"protocol": "TCP", "port": 443}]}] and "ingress" not in spec
    (binding,) = plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "neuron-device-plugin",
                                           "namespace": "kube-system"}]
    assert {ds.urn} and all(any(d.endswith(s) for d in ds.dependencies) for s in ("np-sa", "np-role", "np-binding"))


def test_nvidia_plugin_has_no_token_no_network_and_tolerates_both_accelerator_taints(render_component):
    plan = render_component(lambda: nvidia_device_plugin("nv", "example.com/nvidia:1", pulumi.ResourceOptions()))
    (ds,) = plan.of_type("kubernetes:apps/v1:DaemonSet")
    pod = ds.inputs["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
    assert "egress" not in policies(plan)["nvidia-device-plugin-deny-all"]
    assert {t["key"] for t in pod["tolerations"]} == {"CriticalAddonsOnly", "nvidia.com/gpu", "aws.amazon.com/neuron"}
