"""Image pinning (issue 11, item 3): on restricted every container image is referenced by digest,
`inference.modelImage` must carry one and every cluster add-on needs one; lower tiers take tags."""

import json

import pytest

from blueprints import inference
from blueprints.images import ADDONS, addons_for
from blueprints.spec import image_version
from policies.runner import run
from tests.blueprints.test_cli import run as cli
from tests.blueprints.test_spec import only, problems_of
from tests.conftest import DELETE, IMAGE, PINNED_IMAGE, spec_config, write_stack

DIGEST = "sha256:" + "c" * 64


def container_images(plan):
    """Every image a Kubernetes workload of the plan runs, with the workload's name."""
    out = []
    for r in plan.resources:
        spec = r.inputs.get("spec", {}) if r.type.startswith("kubernetes:") else {}
        pod = spec.get("template", {}).get("spec", {}) if isinstance(spec, dict) else {}
        out += [(r.name, c["image"]) for c in pod.get("containers", []) + pod.get("initContainers", [])]
    return out


def test_every_kubernetes_container_image_of_the_restricted_example_is_pinned_by_digest(example_plan):
    images = container_images(example_plan("restricted"))
    kinds = {name.rsplit("-", 1)[0] for name, _ in images}
    assert len(images) >= 9 and any("serving" in k for k in kinds) and any("autoscaler" in k for k in kinds)
    assert [(n, i) for n, i in images if "@sha256:" not in i] == []


def test_lower_tiers_run_images_by_tag(example_plan):
    assert any("@sha256:" not in image for _, image in container_images(example_plan("internal")))


@pytest.mark.parametrize("image", [IMAGE, IMAGE.replace(":1.4.2", "@" + DIGEST)])
def test_restricted_model_image_needs_a_tag_and_a_digest(image):
    problem = only(problems_of("restricted", {"inference": {"modelImage": image}}))
    assert problem.startswith("inference.modelImage:") and "@sha256:<digest>" in problem and "tier restricted" in problem


def test_a_restricted_canary_is_pinned_too():
    problem = only(problems_of("restricted", {"inference": {"canary": {"image": IMAGE.replace("1.4.2", "1.5.0"),
                                                                       "percent": 10}}}))
    assert problem.startswith("inference.canary.image:") and "pinned by digest" in problem


def test_lower_tiers_accept_a_tag_and_every_tier_accepts_tag_and_digest():
    assert problems_of("confidential") == []  # its base config runs IMAGE, a tag
    assert problems_of("public", {"inference": {"modelImage": PINNED_IMAGE}}) == []
    assert image_version(PINNED_IMAGE) == "1.4.2" and image_version(IMAGE.replace(":1.4.2", "@" + DIGEST)) == DIGEST


def test_each_addon_the_restricted_stack_runs_needs_a_digest_unless_the_project_ships_one():
    problems = problems_of("restricted", {"images": DELETE})
    named = sorted(p.split(":", 1)[0] for p in problems)
    # p5 training: NVIDIA and EFA plugins; g6 inference: NVIDIA; the autoscaler's digest is shipped.
    assert named == ["images.efa-device-plugin", "images.nvidia-device-plugin"]
    assert all("crane digest" in p and "tier restricted" in p for p in problems)
    assert ADDONS["cluster-autoscaler"].digest is not None


def test_trainium_training_needs_the_neuron_plugins_digest():
    problems = problems_of("restricted", {"training": {"gpuInstanceType": "trn1.32xlarge"}, "inference": {"enabled": False},
                                          "images": {"neuron-device-plugin": DELETE, "efa-device-plugin": DELETE}})
    assert [p.split(":", 1)[0] for p in problems] == ["images.neuron-device-plugin", "images.efa-device-plugin"]
    assert addons_for("trn1.32xlarge", inference=False) == ["neuron-device-plugin", "efa-device-plugin",
                                                            "cluster-autoscaler"]


@pytest.mark.parametrize("images, expected", [
    ({"nvidia-device-plugin": "v0.17.2"}, "is not an image digest"),
    ({"dcgm-exporter": DIGEST}, "is not a cluster add-on"),
])
def test_images_take_known_addons_and_real_digests(images, expected):
    problem = only(problems_of("public", {"images": images}))
    assert problem.startswith("images:") and expected in problem


def test_validate_exits_2_naming_the_model_image(tmp_path):
    path = write_stack(tmp_path, spec_config("restricted", {"inference": {"modelImage": IMAGE}}))
    result = cli("validate", path)
    assert result.exit_code == 2
    assert "inference.modelImage" in result.output and "Traceback" not in result.output


def test_new_on_restricted_asks_for_the_digests_in_its_options_and_writes_them(tmp_path):
    args = ["new", "vault-ai", "--tier", "restricted", "--region", "eu-west-1", "--inference-region", "eu-west-1",
            "--inference-region", "eu-central-1", "--training-account", "111111111111", "--inference-account",
            "222222222222", "--log-archive-account", "333333333333", "--dir", tmp_path]
    refused = cli(*args)
    assert refused.exit_code == 2 and not list(tmp_path.iterdir())
    assert "--model-image:" in refused.output and "--image-digest nvidia-device-plugin=sha256:<digest>" in refused.output
    written = cli(*args, "--model-image", PINNED_IMAGE, "--image-digest", f"nvidia-device-plugin={DIGEST}",
                  "--image-digest", f"efa-device-plugin={DIGEST}")
    assert written.exit_code == 0, written.output
    assert cli("validate", tmp_path / "Pulumi.vault-ai.yaml").exit_code == 0


def test_a_mirror_copy_is_pushed_under_its_tag_and_referenced_by_tag_and_digest():
    assert inference._image_reference(PINNED_IMAGE) == ":1.4.2@" + PINNED_IMAGE.split("@")[1]
    assert inference._image_reference(PINNED_IMAGE, digest=False) == ":1.4.2"
    assert inference._image_reference(IMAGE, digest=False) == ":1.4.2"


def test_check_fails_a_restricted_plan_that_runs_an_image_by_tag_alone(example_plan):
    """AIB-112: the promise broken on one container of the restricted example."""
    doc = json.loads(json.dumps(example_plan("restricted").to_dict()))  # a copy: the shared plan stays intact
    (step,) = [s for s in doc["steps"] if s["newState"]["urn"].endswith("fraud-models-inf-euw1-serving-deployment")]
    container = step["newState"]["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].split("@")[0]
    result = run(doc, residency="eu")
    failing = [(f.rule.id, f.resource_name) for f in result.findings if f.blocking]
    assert failing == [("AIB-112", "fraud-models-inf-euw1-serving-deployment")]
    assert result.exit_code == 1


def test_aib_112_is_off_below_restricted(example_plan):
    result = run(example_plan("internal").to_dict(), residency="us")
    assert not [f for f in result.findings if f.rule.id == "AIB-112" and f.outcome == "violation"]
