"""The inference blueprint: per region, a serving stack on that region's provider; per tier, the
authentication, WAF, egress and DNS routing the tier promises."""

import functools
import json

import pytest

from blueprints import inference
from blueprints.context import BlueprintContext, region_code
from blueprints.images import SERVING_ADDONS
from blueprints.plan.engine import load_stack_file, run_program
from blueprints.program import load_spec
from blueprints.tiers import RESIDENCY_COUNTRIES, TIERS
from blueprints.tiers import RESIDENCY_REGIONS
from tests.conftest import EXAMPLES, STACKS

MULTI_REGION = {"confidential": ("eu-central-1", "eu-west-1"), "restricted": ("eu-west-1", "eu-central-1")}
# The serving resources the issue requires in every region, by type.
PER_REGION_TYPES = (
    "aws:apigateway/restApi:RestApi", "aws:apigateway/stage:Stage", "aws:apigateway/vpcLink:VpcLink",
    "aws:lb/loadBalancer:LoadBalancer", "aws:wafv2/webAcl:WebAcl", "aws:wafv2/webAclAssociation:WebAclAssociation",
    "kubernetes:apps/v1:Deployment", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "aws:route53/healthCheck:HealthCheck",
)


def regional(plan, region):
    """Every resource under the inference components of one region."""
    stack = f"pulumi:pulumi:Stack::ai-blueprints-{plan.stack}"
    tops = [r for r in plan.resources if not r.custom and r.parent.endswith(stack)
            and f"{r.name.partition('-inf-')[2]}-".startswith(f"{region_code(region)}-")]
    return [d for top in tops for d in plan.descendants(top.urn)]


def of_type(resources, type_):
    return [r for r in resources if r.type == type_]


@pytest.mark.parametrize("tier", sorted(MULTI_REGION))
def test_every_region_has_its_provider_and_the_whole_serving_stack(example_plan, tier):
    plan = example_plan(tier)
    providers = {r.inputs["region"]: r for r in plan.of_type("pulumi:providers:aws")}
    for region in MULTI_REGION[tier]:
        assert region in providers
        resources = regional(plan, region)
        for type_ in PER_REGION_TYPES:
            assert of_type(resources, type_), f"{tier} {region}: no {type_}"
        logging = [r for r in plan.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
                   if r.region == region]
        assert logging, f"{tier} {region}: the web ACL's logs are not shipped"


@pytest.mark.parametrize("tier", sorted(MULTI_REGION))
def test_every_regional_resource_uses_its_regions_provider(example_plan, tier):
    plan = example_plan(tier)
    provider_refs = {f"{r.urn}::{r.id}": r.inputs["region"] for r in plan.of_type("pulumi:providers:aws")}
    for region in MULTI_REGION[tier]:
        resources = [r for r in regional(plan, region) if r.custom]
        assert len(resources) > 100
        assert {plan.provider_region(r) for r in resources} == {region}
        aws_resources = [r for r in resources if r.type.startswith("aws:")]
        assert {provider_refs.get(r.provider) for r in aws_resources} == {region}


def test_regions_get_distinct_networks(example_plan):
    plan = example_plan("restricted")
    cidrs = {r.region: r.inputs["cidrBlock"] for r in plan.of_type("aws:ec2/vpc:Vpc") if "-inf-" in r.name}
    assert cidrs == {"eu-west-1": "10.40.0.0/16", "eu-central-1": "10.41.0.0/16"}


def test_restricted_is_iam_only_geo_fenced_and_has_no_anonymous_route(example_plan):
    plan = example_plan("restricted")
    assert {m.inputs["authorization"] for m in plan.of_type("aws:apigateway/method:Method")} == {"AWS_IAM"}
    assert not plan.of_type("aws:apigateway/authorizer:Authorizer")
    assert not plan.of_type("aws:apigateway/apiKey:ApiKey")
    for acl in plan.of_type("aws:wafv2/webAcl:WebAcl"):
        geo = acl.inputs["rules"][0]
        assert geo["name"] == "geo-allowlist" and geo["action"] == {"block": {}}
        codes = geo["statement"]["notStatement"]["statement"]["geoMatchStatement"]["countryCodes"]
        assert codes == list(RESIDENCY_COUNTRIES["eu"])
        managed = [r["name"] for r in acl.inputs["rules"] if "managedRuleGroupStatement" in r["statement"]]
        assert managed == list(TIERS["restricted"].waf_managed_rule_groups)
    # Route 53's checkers would be geo-blocked: health comes from the no-healthy-backend alarm.
    assert {h.inputs["type"] for h in plan.of_type("aws:route53/healthCheck:HealthCheck")} == {"CLOUDWATCH_METRIC"}


def test_public_uses_cognito_an_api_key_and_a_usage_plan_without_geo_fence(example_plan):
    plan = example_plan("public")
    (pool,) = plan.of_type("aws:cognito/userPool:UserPool")
    (authorizer,) = plan.of_type("aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS" and authorizer.inputs["providerArns"] == [pool.outputs["arn"]]
    predict = next(m for m in plan.of_type("aws:apigateway/method:Method") if m.inputs["httpMethod"] == "POST")
    assert predict.inputs["apiKeyRequired"] is True and predict.inputs["authorization"] == "COGNITO_USER_POOLS"
    (key,) = plan.of_type("aws:apigateway/apiKey:ApiKey")
    (plan_key,) = plan.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
    assert plan_key.inputs["keyId"] == key.id
    (acl,) = plan.of_type("aws:wafv2/webAcl:WebAcl")
    assert all(r["name"] != "geo-allowlist" for r in acl.inputs["rules"])
    assert {h.inputs["type"] for h in plan.of_type("aws:route53/healthCheck:HealthCheck")} == {"HTTPS"}


def test_internal_validates_jwts_from_the_spec_issuer_with_a_lambda_authorizer(example_plan):
    plan = example_plan("internal")
    (authorizer,) = plan.of_type("aws:apigateway/authorizer:Authorizer")
    function = next(f for f in plan.of_type("aws:lambda/function:Function") if f.name.endswith("-jwt-function"))
    assert authorizer.inputs["type"] == "TOKEN" and authorizer.inputs["authorizerUri"] == function.outputs["invokeArn"]
    assert function.inputs["environment"]["variables"]["JWT_ISSUER"] == "https://login.example.com/"


def test_waf_rate_limit_and_body_limit_come_from_the_spec(example_plan):
    (acl,) = example_plan("public").of_type("aws:wafv2/webAcl:WebAcl")
    rules = {r["name"]: r for r in acl.inputs["rules"]}
    assert rules["rate-limit-per-ip"]["statement"]["rateBasedStatement"]["limit"] == 1000
    assert rules["body-size-limit"]["statement"]["sizeConstraintStatement"]["size"] == inference.MAX_BODY_KIB * 1024


def test_prompt_payloads_count_the_waf_body_rules_and_alarm_on_their_matches(render, example_plan):
    plan = render("internal", {"training": {"enabled": False}, "inference": {"payload": "prompt"}})
    (acl,) = plan.of_type("aws:wafv2/webAcl:WebAcl")
    rules = {r["name"]: r for r in acl.inputs["rules"]}
    for group in TIERS["internal"].waf_managed_rule_groups:
        overrides = rules[group]["statement"]["managedRuleGroupStatement"].get("ruleActionOverrides", [])
        assert rules[group]["overrideAction"] == {"none": {}}
        assert all(o["name"].endswith("_BODY") and o["actionToUse"] == {"count": {}} for o in overrides)
    common = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"]
    assert "CrossSiteScripting_BODY" in {o["name"] for o in common}
    matches = rules["body-rule-matches"]
    (alarm,) = [a for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                if a.inputs["name"].endswith("-waf-body-rule-matches")]
    assert alarm.inputs["dimensions"]["Rule"] == matches["visibilityConfig"]["metricName"]
    assert alarm.inputs["metricName"] == "CountedRequests"
    # The default (structured) keeps every body rule blocking, on every example.
    for tier in EXAMPLES:
        for example_acl in example_plan(tier).of_type("aws:wafv2/webAcl:WebAcl"):
            assert "body-rule-matches" not in {r["name"] for r in example_acl.inputs["rules"]}


@pytest.mark.parametrize("tier", ["public", "restricted"])
def test_egress_follows_the_tier(example_plan, tier):
    plan = example_plan(tier)
    serving_vpcs = {r.urn for r in plan.of_type("aiblueprints:network:IsolatedVpc") if "-inf-" in r.name}
    inside = [d for urn in serving_vpcs for d in plan.descendants(urn)]
    nat = of_type(inside, "aws:ec2/natGateway:NatGateway")
    endpoints = {r.inputs["serviceName"].rsplit(".", 1)[-1] for r in of_type(inside, "aws:ec2/vpcEndpoint:VpcEndpoint")
                 if r.inputs["vpcEndpointType"] == "Interface"}
    addons = [d for d in plan.of_type("kubernetes:apps/v1:Deployment") + plan.of_type("kubernetes:apps/v1:DaemonSet")
              if "-inf-" in d.name and ("autoscaler" in d.name or "device-plugin" in d.name)]
    images = {c["image"] for d in addons for c in d.inputs["spec"]["template"]["spec"]["containers"]}
    assert len(addons) == 2 * len(serving_vpcs)
    if TIERS[tier].air_gapped:
        assert not nat and {"sts", "eks-auth", "api", "dkr"} <= endpoints
        assert all(".dkr.ecr." in image and "/inference/" in image for image in images)
    else:
        assert nat and not endpoints
        spec = load_spec(*load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml").runtime_config())  # no render
        assert images == {spec.addon_image(a).upstream(spec.addon_image(a).digest) for a in SERVING_ADDONS}


def test_gpu_nodes_follow_the_spec(example_plan):
    public = [g for g in example_plan("public").of_type("aws:eks/nodeGroup:NodeGroup")
              if g.inputs.get("amiType") == "AL2023_x86_64_NVIDIA" and "-inf-" in g.name]
    assert [(g.inputs["capacityType"], g.inputs["scalingConfig"]["minSize"], g.inputs["scalingConfig"]["maxSize"],
             g.inputs["instanceTypes"]) for g in public] == [("SPOT", 1, 4, ["g6.xlarge"])]
    restricted = [g for g in example_plan("restricted").of_type("aws:eks/nodeGroup:NodeGroup")
                  if g.inputs.get("amiType") == "AL2023_x86_64_NVIDIA" and "-inf-" in g.name]
    assert {g.inputs["capacityType"] for g in restricted} == {"ON_DEMAND"} and len(restricted) == 2


def test_every_serving_cluster_runs_metrics_server_and_container_insights(example_plan):
    plan = example_plan("confidential")
    for region in MULTI_REGION["confidential"]:
        addons = {a.inputs["addonName"] for a in of_type(regional(plan, region), "aws:eks/addon:Addon")}
        assert {"metrics-server", "amazon-cloudwatch-observability", "coredns", "eks-pod-identity-agent"} <= addons


def test_the_deployer_can_reach_every_serving_cluster(example_plan):
    plan = example_plan("restricted")
    entries = [e for e in plan.of_type("aws:eks/accessEntry:AccessEntry") if "-inf-" in e.name]
    assert sorted(e.region for e in entries) == sorted(MULTI_REGION["restricted"])
    policies = [p for p in plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation") if "-inf-" in p.name]
    assert all(p.inputs["policyArn"].endswith("/AmazonEKSClusterAdminPolicy") for p in policies) and len(policies) == 2


def test_eks_endpoint_follows_the_tier(example_plan):
    (public,) = [c for c in example_plan("public").of_type("aws:eks/cluster:Cluster") if "-inf-" in c.name]
    assert public.inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    for cluster in example_plan("restricted").of_type("aws:eks/cluster:Cluster"):
        assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False


def test_canary_settings_only_where_the_spec_asks(example_plan):
    stages = example_plan("confidential").of_type("aws:apigateway/stage:Stage")
    assert [s.inputs["canarySettings"]["percentTraffic"] for s in stages] == [10, 10]
    restricted = example_plan("restricted")
    assert all("canarySettings" not in s.inputs for s in restricted.of_type("aws:apigateway/stage:Stage"))
    assert not [d for d in restricted.of_type("kubernetes:apps/v1:Deployment") if "-serving-canary-" in d.name]


CANARY_IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/llm-server:1.5.0"
CANARY = {"training": {"enabled": False},
          "inference": {"canary": {"image": CANARY_IMAGE, "percent": 20}, "minReplicas": 2, "maxReplicas": 8}}


def _deployment(resources, namespace):
    (deployment,) = [d for d in of_type(resources, "kubernetes:apps/v1:Deployment")
                     if d.inputs["metadata"].get("namespace") == namespace]
    return deployment


def test_the_canary_serves_a_second_model_version_from_its_own_pods_and_listener(render):
    plan = render("public", CANARY)
    main, canary = _deployment(plan.resources, "inference"), _deployment(plan.resources, "inference-canary")
    (main_container,) = main.inputs["spec"]["template"]["spec"]["containers"]
    (canary_container,) = canary.inputs["spec"]["template"]["spec"]["containers"]
    assert (main_container["image"], canary_container["image"]) == (
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/llm-server:1.4.2", CANARY_IMAGE)
    assert canary.inputs["spec"]["template"]["metadata"]["labels"]["model-version"] == "1.5.0"
    services = {s.inputs["metadata"]["namespace"]: s for s in plan.of_type("kubernetes:core/v1:Service")
                if s.name.endswith("-service")}
    assert services["inference-canary"].inputs["spec"]["ports"][0]["nodePort"] == inference.CANARY_NODE_PORT
    assert services["inference"].inputs["spec"]["ports"][0]["nodePort"] == inference.SERVING_NODE_PORT
    # The stage's canary reaches the canary listener, which forwards to the canary's NodePort.
    (stage,) = plan.of_type("aws:apigateway/stage:Stage")
    (nlb,) = plan.of_type("aws:lb/loadBalancer:LoadBalancer")
    overrides = stage.inputs["canarySettings"]["stageVariableOverrides"]
    assert overrides == {"modelVersion": "1.5.0", "backend": f"{nlb.outputs['dnsName']}:8080"}
    assert stage.inputs["canarySettings"]["percentTraffic"] == 20
    listeners = {listener.inputs["port"]: listener for listener in plan.of_type("aws:lb/listener:Listener")}
    groups = {g.outputs["arn"]: g for g in plan.of_type("aws:lb/targetGroup:TargetGroup")}
    assert groups[listeners[8080].inputs["defaultActions"][0]["targetGroupArn"]].inputs["port"] == 30081
    assert groups[listeners[80].inputs["defaultActions"][0]["targetGroupArn"]].inputs["port"] == 30080


def test_the_canary_has_its_share_of_replicas_on_nodes_added_for_it(render):
    plan = render("public", CANARY)
    hpas = {h.inputs["metadata"]["namespace"]: h.inputs["spec"] for h in
            plan.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")}
    # 20% of 2..8 replicas, at least one.
    assert (hpas["inference-canary"]["minReplicas"], hpas["inference-canary"]["maxReplicas"]) == (1, 2)
    assert (hpas["inference"]["minReplicas"], hpas["inference"]["maxReplicas"]) == (2, 8)
    (gpu,) = [g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if g.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
              and "-inf-" in g.name]
    assert (gpu.inputs["scalingConfig"]["minSize"], gpu.inputs["scalingConfig"]["maxSize"]) == (3, 10)
    pdbs = {p.inputs["metadata"]["namespace"] for p in plan.of_type("kubernetes:policy/v1:PodDisruptionBudget")}
    assert {"inference", "inference-canary"} <= pdbs
    # Each model version has its own no-healthy-backend alarm.
    alarms = {a.inputs["name"].rsplit("-alarms-", 1)[1] for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if "-alarms-" in a.inputs["name"]}
    assert {"no-healthy-backend", "canary-no-healthy-backend"} <= alarms


def test_the_canary_workload_is_as_hardened_as_the_main_one(render):
    """The workload guardrails (AIB-100..111) judge the canary's Deployment and pass it."""
    from policies.runner import run

    plan = render("public", CANARY)
    result = run(plan.to_dict(), tier="public")
    workload_rules = {f"AIB-{n}" for n in range(100, 112)}
    findings = [f for f in result.findings if f.rule.id in workload_rules]
    assert not [f for f in findings if f.outcome == "violation"]
    canary = _deployment(plan.resources, "inference-canary")
    passed = {f.rule.id for f in findings if f.resource == canary.urn and f.outcome == "pass"}
    assert {f"AIB-{n}" for n in range(100, 109)} <= passed


def test_on_air_gapped_tiers_the_canary_comes_from_the_model_servers_mirror(example_plan):
    plan = example_plan("confidential")
    for region in MULTI_REGION["confidential"]:
        resources = regional(plan, region)
        (mirror,) = [r for r in of_type(resources, "aws:ecr/repository:Repository")
                     if r.inputs["name"].endswith("/inference/model-server")]
        (container,) = _deployment(resources, "inference-canary").inputs["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"{mirror.outputs['repositoryUrl']}:1.5.0"


def test_restricted_domain_fails_over_from_the_first_region(example_plan):
    plan = example_plan("restricted")  # the example names a domain and its hosted zone
    records = {r.region: r for r in plan.of_type("aws:route53/record:Record") if r.name.endswith("-dns-record")}
    assert records["eu-west-1"].inputs["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert records["eu-central-1"].inputs["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert {r.inputs["setIdentifier"] for r in records.values()} == {"eu-west-1", "eu-central-1"}
    certs = plan.of_type("aws:acm/certificate:Certificate")
    assert sorted(c.region for c in certs) == ["eu-central-1", "eu-west-1"]


def test_confidential_domain_routes_by_latency(example_plan):
    plan = example_plan("confidential")  # the example names a domain and its hosted zone
    records = [r for r in plan.of_type("aws:route53/record:Record") if r.name.endswith("-dns-record")]
    assert sorted(r.inputs["latencyRoutingPolicies"][0]["region"] for r in records) == ["eu-central-1", "eu-west-1"]
    assert all(r.inputs["healthCheckId"] for r in records)


def test_any_number_of_regions_in_the_residency_renders_and_each_costs_the_same(render):
    """No cap on inference regions: every eu region at once renders, and each added region adds
    the same resources (render time per region belongs in bench/)."""
    eu = list(RESIDENCY_REGIONS["eu"])
    assert len(eu) == 8

    def count(n: int) -> int:
        changes = {"residency": "eu", "training": {"enabled": False}, "inference": {"regions": eu[:n]}}
        return len(render("public", changes, region=eu[0]).resources)

    two, four, eight = count(2), count(4), count(8)
    assert eight - four == 2 * (four - two) > 0


@functools.lru_cache(maxsize=None)
def _context(tier: str) -> BlueprintContext:
    config, secret_keys = load_stack_file(STACKS / f"Pulumi.{tier}-example.yaml").runtime_config()
    spec = load_spec(config, secret_keys)
    built = []
    run_program(lambda: built.append(_build(spec)), stack="ctx-test", config=config, secret_keys=secret_keys)
    return built[0]


def _build(spec):
    ctx = BlueprintContext(spec)
    inference.build(ctx)
    return ctx


def test_log_sources_and_web_acls_are_handed_to_security_per_region():
    ctx = _context("restricted")
    kinds = sorted((s.region, s.kind) for s in ctx.log_sources)
    # Two API access log groups per region: the stage's and its canary's (`/Canary`); the
    # example's foundation-model invocation logs.
    assert kinds == sorted((r, k) for r in MULTI_REGION["restricted"]
                           for k in ("api-access", "api-access", "bedrock-invocations", "eks-audit", "vpc-flow"))
    assert sorted(a.region for a in ctx.web_acls) == sorted(MULTI_REGION["restricted"])


def test_model_version_helper():
    assert inference._model_version("a.dkr.ecr.eu-west-1.amazonaws.com/llm:1.4.2") == "1.4.2"
    assert inference._model_version("a.dkr.ecr.eu-west-1.amazonaws.com:5000/llm@sha256:" + "ab" * 32) == "ab" * 6


def _serving_deployment(resources):
    (deployment,) = [r for r in of_type(resources, "kubernetes:apps/v1:Deployment")
                     if r.name.endswith("-serving-deployment")]
    return deployment


# The restricted example pins its model image by digest.
EXAMPLE_DIGEST = "sha256:de11deb5a260b0a9c88bffdf0d5442734ed931fa928d87ad76b645466f280238"


def test_air_gapped_regions_serve_the_model_from_their_own_mirror(example_plan):
    plan = example_plan("restricted")
    for region in MULTI_REGION["restricted"]:
        resources = regional(plan, region)
        (mirror,) = [r for r in of_type(resources, "aws:ecr/repository:Repository")
                     if r.inputs["name"].endswith("/inference/model-server")]
        assert plan.provider_region(mirror) == region
        (container,) = _serving_deployment(resources).inputs["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"{mirror.outputs['repositoryUrl']}:1.4.2@" + EXAMPLE_DIGEST
        assert f".dkr.ecr.{region}.amazonaws.com/" in container["image"]


def test_tiers_with_egress_serve_the_specs_model_image(example_plan):
    plan = example_plan("public")
    config, secret_keys = load_stack_file(STACKS / "Pulumi.public-example.yaml").runtime_config()
    image = load_spec(config, secret_keys).inference.model_image
    (container,) = _serving_deployment(plan.resources).inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    assert not [r for r in plan.of_type("aws:ecr/repository:Repository") if "/inference/" in r.inputs["name"]]


def test_the_digest_of_a_pinned_model_image_is_kept_in_the_mirror():
    digest = "sha256:" + "ab" * 32
    assert inference._image_reference(f"a.dkr.ecr.us-east-1.amazonaws.com/llm@{digest}") == f"@{digest}"
    assert inference._image_reference("a.dkr.ecr.us-east-1.amazonaws.com:5000/llm:1.4.2") == ":1.4.2"
    assert inference._model_version("a.dkr.ecr.us-east-1.amazonaws.com/llm:2025-11-28-release-candidate") == \
        "2025-11-28-release-candidate"


@pytest.mark.parametrize("tier,skips", [("restricted", True), ("public", False)])
def test_workloads_on_new_mirrors_are_not_awaited(example_plan, tier, skips):
    plan = example_plan(tier)
    workloads = [r for r in plan.of_type("kubernetes:apps/v1:Deployment") + plan.of_type("kubernetes:apps/v1:DaemonSet")
                 if "-inf-" in r.name]
    clusters = [c for c in plan.of_type("aws:eks/cluster:Cluster") if "-inf-" in c.name]
    # Per region: the model server, the Cluster Autoscaler and the NVIDIA device plugin.
    assert len(workloads) == 3 * len(clusters)
    for workload in workloads:
        annotations = workload.inputs["metadata"].get("annotations", {})
        assert (annotations.get("pulumi.com/skipAwait") == "true") is skips, workload.name


def test_the_serving_deployment_waits_for_its_gpu_nodes_and_device_plugin(example_plan):
    plan = example_plan("restricted")
    for region in MULTI_REGION["restricted"]:
        resources = regional(plan, region)
        deployment = _serving_deployment(resources)
        (gpu_nodes,) = [g for g in of_type(resources, "aws:eks/nodeGroup:NodeGroup")
                        if g.inputs["amiType"] == "AL2023_x86_64_NVIDIA"]
        (plugin,) = of_type(resources, "kubernetes:apps/v1:DaemonSet")
        assert {gpu_nodes.urn, plugin.urn} <= set(deployment.dependencies)
        assert deployment.ignore_changes == ["spec.replicas"] and "replicas" not in deployment.inputs["spec"]
        assert deployment.custom_timeouts == {"create": "30m", "update": "30m"}


@pytest.mark.parametrize("tier", ["public", "confidential"])
def test_deletion_protection_of_the_nlb_and_user_pool_follows_the_tier(example_plan, tier):
    plan = example_plan(tier)
    protect = TIERS[tier].protect_stateful
    nlbs = plan.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert nlbs and {n.inputs["enableDeletionProtection"] for n in nlbs} == {protect}
    (pool,) = plan.of_type("aws:cognito/userPool:UserPool")
    assert pool.inputs["deletionProtection"] == ("ACTIVE" if protect else "INACTIVE")


def test_one_region_owns_the_certificate_validation_record_every_region_uses(example_plan):
    plan = example_plan("restricted")
    (record,) = [r for r in plan.of_type("aws:route53/record:Record") if r.name.endswith("-cert-validation")]
    assert record.region == MULTI_REGION["restricted"][0]
    validations = plan.of_type("aws:acm/certificateValidation:CertificateValidation")
    assert sorted(v.region for v in validations) == sorted(MULTI_REGION["restricted"])
    assert all(v.inputs["validationRecordFqdns"] == [record.outputs["fqdn"]] for v in validations)


@pytest.mark.parametrize("tier", EXAMPLES)
def test_alarm_topics_use_a_cmk_cloudwatch_can_publish_with(example_plan, tier):
    """CloudWatch alarms cannot publish to a topic under aws/sns, so even the public tier (AWS
    managed keys elsewhere) encrypts its alarm topics with a CMK whose policy admits CloudWatch."""
    plan = example_plan(tier)
    keys = {k.outputs["arn"]: k for k in plan.of_type("aws:kms/key:Key")}
    topics = [t for t in plan.of_type("aws:sns/topic:Topic") if "-alarms-" in t.name]
    assert topics
    for topic in topics:
        key = keys[topic.inputs["kmsMasterKeyId"]]
        services = [s["Principal"].get("Service") for s in json.loads(key.inputs["policy"])["Statement"]]
        assert "cloudwatch.amazonaws.com" in services


# -- accounts ------------------------------------------------------------------------------
def account_of(plan, resource):
    """The account whose deploy role the resource's provider assumes ("" for the deploying account)."""
    from policies.model import assumed_account

    providers = {f"{p.urn}::{p.id}": p for p in plan.of_type("pulumi:providers:aws")}
    provider = providers.get(resource.provider)
    return assumed_account(provider.inputs) if provider is not None else ""


def serving_resources(plan, blueprint):
    """Every AWS resource under a top-level part the inference blueprint builds: the regional
    stacks (`<name>-inf-<region>...`, their model buckets included), the user pool, and the
    inference account's keys and access-log buckets (`-inf-`)."""
    stack = next(r.urn for r in plan.resources if r.type == "pulumi:pulumi:Stack")
    tops = [r for r in plan.resources if r.parent == stack
            and (r.name.startswith((f"{blueprint}-inf-", f"{blueprint}-inference")) or "-inf-" in r.name)]
    found = [d for top in tops for d in [top, *plan.descendants(top.urn)]]
    return [r for r in found if r.custom and r.type.startswith("aws:")]


@pytest.mark.parametrize("tier, blueprint", [("restricted", "fraud-models"), ("confidential", "claims-triage")])
def test_serving_lives_in_the_inference_account(example_plan, tier, blueprint):
    """Clusters, API, WAF, DNS records and health checks, certificates, alarms and the model
    buckets: all registered with providers that assume the deploy role in accounts.inference
    (the hosted zone must be that account's: see blueprints/inference.py). The examples name a domain."""
    plan = example_plan(tier)
    resources = serving_resources(plan, blueprint)
    kinds = {r.type for r in resources}
    assert {"aws:eks/cluster:Cluster", "aws:apigateway/restApi:RestApi", "aws:wafv2/webAcl:WebAcl",
            "aws:route53/record:Record", "aws:route53/healthCheck:HealthCheck", "aws:acm/certificate:Certificate",
            "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:s3/bucket:Bucket", "aws:kms/key:Key"} <= kinds
    assert {r.name: account_of(plan, r) for r in resources} == {r.name: plan.accounts["inference"] for r in resources}


def test_each_serving_cluster_admits_the_inference_accounts_deploy_role(example_plan):
    plan = example_plan("restricted")
    entries = [e for e in plan.of_type("aws:eks/accessEntry:AccessEntry") if "-inf-" in e.name]
    assert entries
    assert {e.inputs["principalArn"] for e in entries} == {
        f"arn:aws:iam::{plan.accounts['inference']}:role/ai-blueprints-deployer"}


def test_inference_vpcs_follow_the_tiers_inference_egress_not_trainings():
    """platform.egress reads `inference_egress` for the serving network: a tier that kept NAT
    for training but not for inference would build inference VPCs without NAT."""
    import dataclasses
    from types import SimpleNamespace

    from blueprints import platform
    from blueprints.tiers import TIERS

    tier = dataclasses.replace(TIERS["internal"], inference_egress="endpoints")
    spec = SimpleNamespace(tier=tier, nat_gateways="per-az")
    assert platform.egress(spec, "training")["nat_egress"] is True
    assert platform.egress(spec, "inference")["nat_egress"] is False


def test_mirrors_fill_themselves_from_the_first_region_and_the_stack_lists_what_to_push(example_plan):
    """Air-gapped regions pull from their own mirrors: the images are pushed once, to the first
    inference region (the `images_to_push` output lists exactly those), and ECR replicates the
    stack's `<name>/inference/` repositories into the other regions."""
    plan = example_plan("restricted")
    (replication,) = plan.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    assert replication.region == "eu-west-1" and replication.provider == next(
        r.provider for r in plan.of_type("aws:apigateway/restApi:RestApi") if r.region == "eu-west-1")
    (rule,) = replication.inputs["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": "eu-central-1", "registryId": plan.accounts["inference"]}]
    assert rule["repositoryFilters"] == [{"filter": "fraud-models/inference/", "filterType": "PREFIX_MATCH"}]

    ctx = _context("restricted")
    # each upstream image by its digest, copied into the mirror under its tag (ECR expires untagged images)
    assert {(p.image.rsplit("/", 1)[-1].split("@")[0], p.region) for p in ctx.image_pushes} == {
        ("llm-server:1.4.2", "eu-west-1"), ("cluster-autoscaler:v1.35.0", "eu-west-1"),
        ("k8s-device-plugin:v0.17.2", "eu-west-1")}
    assert all("@sha256:" in p.image for p in ctx.image_pushes)
    assert {p.account for p in ctx.image_pushes} == {ctx.role}  # the account of the view that built them
    # One region, or images pulled from upstream (tiers with egress): nothing to replicate.
    assert not example_plan("internal").of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
