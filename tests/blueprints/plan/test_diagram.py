"""`blueprint diagram`: a Mermaid flowchart of the plan that GitHub renders.

The pictures are read back with a small structural parser (`parse` below: subgraphs, node
definitions with their shapes, edges), so the tests assert on the graph the text describes, and
`assert_valid_mermaid` checks what Mermaid's flowchart grammar needs (balanced subgraph/end, valid
and unique ids, edges between defined nodes, labels without a character that ends them early).
Every test reads the shared example plans: no render of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner

from blueprints.cli import app
from blueprints.plan import diagram
from blueprints.plan.engine import Plan
from tests.conftest import STACKS

ID = r"[A-Za-z][A-Za-z0-9_]*"
# Node shapes as blueprints.plan.diagram writes them: id, opening delimiter, "label", closing one.
NODE = re.compile(rf'^({ID})(\(\[|\[\(|\[\[|\[/|\{{\{{|\[|\()"([^"]*)"(\]\)|\)\]|\]\]|/\]|\}}\}}|\]|\))$')
SUBGRAPH = re.compile(rf'^subgraph ({ID})\["([^"]*)"\]$')
EDGE = re.compile(rf'^({ID}) (-->|-\.->|---|-\.-)(?:\|"([^"]*)"\|)? ({ID})$')
# What may stand in a label: plain characters and Mermaid entity codes (#34; #quot;).
CLEAN_LABEL = re.compile(r"^(?:[A-Za-z0-9 .,:/_\-+=()*@']|#\d+;|#[a-z]+;)*$")
PAIRS = {"[": "]", "(": ")", "([": "])", "[(": ")]", "[[": "]]", "[/": "/]", "{{": "}}"}


@dataclass
class Node:
    id: str
    label: str
    path: tuple[str, ...]  # labels of the enclosing subgraphs, outermost first


@dataclass
class Picture:
    nodes: dict[str, Node] = field(default_factory=dict)
    subgraphs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # id -> path including its own label
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # (source, arrow, label, target)

    def ids(self, label_prefix: str, *, within: str = "") -> list[str]:
        return [n.id for n in self.nodes.values() if n.label.startswith(label_prefix) and (not within or within in n.path)]

    def one(self, label_prefix: str, *, within: str = "") -> str:
        (found,) = self.ids(label_prefix, within=within)
        return found

    def targets(self, source: str, arrow: str = "", label: str = "") -> set[str]:
        return {t for s, a, lab, t in self.edges if s == source and (not arrow or a == arrow) and (not label or lab == label)}


def parse(text: str) -> Picture:
    """The picture `text` describes; raises AssertionError on any line it cannot read."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR", lines[0]
    picture, stack = Picture(), []
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if m := SUBGRAPH.match(line):
            stack.append(m.group(2))
            picture.subgraphs[m.group(1)] = tuple(stack)
            assert m.group(1) not in picture.nodes, f"line {number}: id {m.group(1)} reused"
        elif line == "end":
            assert stack, f"line {number}: `end` without a subgraph"
            stack.pop()
        elif m := NODE.match(line):
            node_id, opening, label, closing = m.groups()
            assert PAIRS[opening] == closing, f"line {number}: shape {opening}...{closing}"
            assert node_id not in picture.nodes and node_id not in picture.subgraphs, f"line {number}: id {node_id} reused"
            picture.nodes[node_id] = Node(node_id, label, tuple(stack))
        elif m := EDGE.match(line):
            source, arrow, label, target = m.groups()
            picture.edges.append((source, arrow, label or "", target))
        else:
            raise AssertionError(f"line {number}: not a subgraph, end, node or edge: {raw!r}")
    assert not stack, f"subgraph(s) {stack} never closed"
    return picture


def assert_valid_mermaid(text: str) -> Picture:
    picture = parse(text)
    for node in picture.nodes.values():
        assert node.id not in diagram.RESERVED_IDS
        assert CLEAN_LABEL.match(node.label), f"unescaped character in {node.label!r}"
    for sub_id, path in picture.subgraphs.items():
        assert CLEAN_LABEL.match(path[-1]), f"unescaped character in {path[-1]!r}"
        assert any(path == n.path[:len(path)] for n in picture.nodes.values()), f"empty subgraph {sub_id}"
    for source, _, label, target in picture.edges:
        assert source in picture.nodes and target in picture.nodes, (source, target)
        assert CLEAN_LABEL.match(label), f"unescaped character in edge label {label!r}"
    return picture


def regions_with(plan: Plan, type_: str) -> set[str]:
    return {r.region for r in plan.of_type(type_)}


@pytest.fixture(scope="module")
def restricted(example_plan) -> tuple[Plan, str, Picture]:
    plan = example_plan("restricted")
    text = diagram.mermaid(plan)
    return plan, text, assert_valid_mermaid(text)


# -- regions and accounts ----------------------------------------------------------------------


def test_the_restricted_example_has_one_subgraph_per_region_and_per_account_within_it(restricted):
    plan, _, picture = restricted
    regions = {r.region for r in plan.resources if r.type.startswith("aws:")}
    assert regions == {"eu-west-1", "eu-central-1"}
    assert sorted(path[0] for path in picture.subgraphs.values() if len(path) == 1) == sorted(regions)
    accounts = {path[1] for path in picture.subgraphs.values() if len(path) == 2}
    assert accounts == {"account 111111111111 (training)", "account 222222222222 (inference)",
                        "account 333333333333 (log archive)"}
    # Every account subgraph sits in exactly the regions where the plan puts that account's resources.
    for role, account in plan.accounts.items():
        if role == "organization":
            continue
        where = {r.region for r in plan.resources if plan.provider_account(r) == account and r.type.startswith("aws:")}
        drawn = {path[0] for path in picture.subgraphs.values() if len(path) == 2 and account in path[1]}
        assert drawn == where, role
    # Global services stand outside every region.
    for label in ("Client", "Route 53 fraud-api.example.com (failover)", "SIEM: Splunk HEC https://splunk.example.com:8088"):
        assert picture.nodes[picture.one(label)].path == ()


def test_a_single_account_plan_has_region_subgraphs_only(example_plan):
    picture = assert_valid_mermaid(diagram.mermaid(example_plan("public")))
    assert sorted(picture.subgraphs.values(), key=len)[0] == ("us-east-1",)
    assert not any("account" in path[-1] for path in picture.subgraphs.values())


# -- the request path ----------------------------------------------------------------------------


def test_the_request_path_runs_client_dns_waf_api_vpc_link_nlb_serving_nodes_in_each_inference_region(restricted):
    plan, _, picture = restricted
    inference_regions = regions_with(plan, "aws:apigateway/restApi:RestApi")
    assert inference_regions == {"eu-west-1", "eu-central-1"}
    client, dns = picture.one("Client"), picture.one("Route 53 fraud-api.example.com (failover)")
    assert picture.targets(client) == {dns}
    failover: set[tuple[str, str]] = set()
    for region in inference_regions:
        waf = picture.one("WAF web ACL", within=region)
        api = picture.one("API Gateway REST API (stage v1, IAM auth)", within=region)
        link = picture.one("API Gateway VPC link", within=region)
        nlb = picture.one("NLB (internal)", within=region)
        cluster = picture.one("EKS cluster fraud-models-inf-", within=region)
        gpu = picture.one("GPU node group g6.xlarge, 2-20 nodes, on-demand", within=region)
        failover.update({(label, region) for s, _, label, t in picture.edges if s == dns and t == waf})
        assert picture.targets(waf) == {api}
        assert link in picture.targets(api, label="POST /predict")
        assert picture.targets(link) == {nlb}
        assert picture.targets(nlb, label="TCP 80") == {gpu}
        assert picture.targets(cluster, arrow="---") == {gpu}
        assert picture.nodes[cluster].label.endswith("(private endpoint)")
        # The serving cluster and the NLB are inside the inference VPC; the API and the WAF are not.
        for inside in (nlb, cluster, gpu):
            assert picture.nodes[inside].path[-1].startswith("VPC 10.")
        assert not picture.nodes[api].path[-1].startswith("VPC")
    assert failover == {("primary", "eu-west-1"), ("secondary", "eu-central-1")}


def test_the_foundation_model_gateway_reaches_bedrock_through_the_vpc_endpoint(restricted):
    plan, _, picture = restricted
    for region in regions_with(plan, "aws:apigateway/restApi:RestApi"):
        api = picture.one("API Gateway REST API", within=region)
        gateway = picture.one("Foundation-model gateway (Lambda)", within=region)
        assert picture.targets(api, label="POST /foundation-models/#123;modelId#125;/converse") == {gateway}
        (endpoint,) = picture.targets(gateway, label="with guardrail")
        assert picture.nodes[endpoint].label == "Bedrock runtime VPC endpoint"
        assert picture.nodes[endpoint].path[-1].startswith("VPC 10.")
        assert {picture.nodes[t].label for t in picture.targets(endpoint)} == {"Amazon Bedrock"}
    # Training reaches Bedrock through its own VPC's endpoint.
    training = picture.one("EKS cluster fraud-models-training")
    (endpoint,) = picture.targets(training, arrow="-->")
    assert picture.nodes[endpoint].path == picture.nodes[training].path
    assert {picture.nodes[t].label for t in picture.targets(endpoint)} == {"Amazon Bedrock"}


def test_without_a_waf_association_the_client_reaches_the_api_directly(restricted):
    """The picture follows the plan: take the WAF's association out and the WAF leaves the path."""
    plan, _, _ = restricted
    doc = plan.to_dict()
    doc["steps"] = [s for s in doc["steps"] if s["newState"]["type"] != "aws:wafv2/webAclAssociation:WebAclAssociation"]
    picture = assert_valid_mermaid(diagram.mermaid(Plan.from_dict(doc)))
    assert not picture.ids("WAF web ACL")
    dns = picture.one("Route 53 fraud-api.example.com (failover)")
    assert {picture.nodes[t].label for t in picture.targets(dns)} == {"API Gateway REST API (stage v1, IAM auth)"}


def test_a_plan_without_inference_has_no_request_path(render):
    # The same render tests/blueprints/test_training.py asks for: shared, no extra cost.
    plan = render("public", {"inference": {"enabled": False}})
    assert not plan.of_type("aws:apigateway/restApi:RestApi")
    picture = assert_valid_mermaid(diagram.mermaid(plan))
    for part in ("Client", "Route 53", "WAF", "API Gateway", "NLB", "Foundation-model gateway"):
        assert not picture.ids(part), part
    assert picture.ids("EKS cluster demo-public-training")  # training is still drawn
    assert picture.ids("Kinesis Data Firehose")


# -- training and log shipping -------------------------------------------------------------------


def test_training_shows_vpc_cluster_gpu_nodes_lustre_and_its_buckets(restricted):
    _, _, picture = restricted
    cluster = picture.one("EKS cluster fraud-models-training (private endpoint)")
    assert picture.nodes[cluster].path == ("eu-west-1", "account 111111111111 (training)",
                                           "VPC 10.20.0.0/16 (no internet route, VPC endpoints only)")
    gpu = picture.one("GPU node group p5.48xlarge, 0-4 nodes, on-demand")
    lustre = picture.one("FSx for Lustre 1200 GiB")
    assert picture.targets(cluster, arrow="---") == {gpu}
    assert picture.targets(gpu) == {lustre}
    assert picture.nodes[lustre].path == picture.nodes[cluster].path
    data = picture.one("S3 bucket fraud-models-training-data")
    models = picture.one("S3 bucket fraud-models-models (Object Lock)")
    assert picture.targets(lustre, label="/data") == {data} and picture.targets(lustre, label="/models") == {models}
    # Trained models replicate to the models bucket of each inference region.
    assert {picture.nodes[t].label for t in picture.targets(models, label="replicates")} == {
        "S3 bucket fraud-models-inf-euw1-models (Object Lock)", "S3 bucket fraud-models-inf-euc1-models (Object Lock)"}
    # No system node group, no Kubernetes object: the picture stays readable.
    assert not picture.ids("node group m7i") and not any("kubernetes" in n.label.lower() for n in picture.nodes.values())


def test_training_vpc_with_nat_says_so(example_plan):
    picture = assert_valid_mermaid(diagram.mermaid(example_plan("public")))
    cluster = picture.one("EKS cluster docs-assistant-training (public + private endpoint)")
    assert picture.nodes[cluster].path[-1] == "VPC 10.20.0.0/16 (internet egress through NAT)"


def test_log_shipping_runs_sources_firehose_siem_in_every_region_and_account_that_ships(restricted):
    plan, _, picture = restricted
    siem = picture.one("SIEM: Splunk HEC https://splunk.example.com:8088")
    shipping = {(r.region, plan.provider_account(r))
                for r in plan.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")}
    assert len(shipping) == 5
    sources = {}
    for region, account in shipping:
        (firehose,) = [n.id for n in picture.nodes.values() if n.label.startswith("Kinesis Data Firehose")
                       and n.path[:1] == (region,) and account in n.path[1]]
        assert siem in picture.targets(firehose, arrow="-.->")
        (logs,) = [s for s, _, _, t in picture.edges if t == firehose]
        sources[(region, account)] = picture.nodes[logs].label
    training = sources[("eu-west-1", "111111111111")]
    inference = sources[("eu-west-1", "222222222222")]
    for kind in ("CloudTrail", "VPC flow logs", "EKS audit", "GuardDuty findings", "Security Hub findings"):
        assert kind in training and kind in inference
    for kind in ("WAF", "API access", "Bedrock invocations"):
        assert kind in inference
    # Every subscribed log group is named by what writes it (the canary's /Canary group too).
    assert not any("log group" in label for label in sources.values())
    # The restricted tier keeps every record: backup of all events, replicated into the Object Lock archive.
    staging = picture.one("S3 bucket fraud-models-audit-staging-euw1")
    inference_firehose = picture.one("Kinesis Data Firehose (2 streams)", within="eu-west-1")
    assert picture.targets(inference_firehose, label="backup, all events") == {staging}
    assert {picture.nodes[t].label for t in picture.targets(staging, label="replicates")} == {
        "S3 bucket fraud-models-siem-archive-euw1 (Object Lock)"}


def test_an_s3_siem_is_the_bucket_firehose_delivers_to(example_plan):
    picture = assert_valid_mermaid(diagram.mermaid(example_plan("public")))
    firehose = picture.one("Kinesis Data Firehose")
    (target,) = picture.targets(firehose)
    assert picture.nodes[target].label == "SIEM: S3 bucket docs-assistant-siem-archive-use1"
    assert picture.nodes[target].path == ("us-east-1",)


# -- text properties -------------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["public", "internal", "confidential"])
def test_every_example_draws_valid_mermaid(example_plan, tier):
    picture = assert_valid_mermaid(diagram.mermaid(example_plan(tier)))
    assert picture.ids("API Gateway REST API") and picture.ids("GPU node group") and picture.ids("Kinesis Data Firehose")


def test_same_plan_same_text_and_the_plan_json_draws_the_stack_files_picture(restricted):
    plan, text, _ = restricted
    assert diagram.mermaid(plan) == text
    assert diagram.mermaid(Plan.from_dict(plan.to_dict())) == text


def test_labels_are_escaped_so_no_character_ends_them_early():
    hostile = 'a "quoted" [name] {x} |pipe| <b>#1; 50% `tick`'
    escaped = diagram.escape(hostile)
    assert CLEAN_LABEL.match(escaped)
    assert escaped.startswith("a #34;quoted#34; #91;name#93; #123;x#125; #124;pipe#124; #60;b#62;#35;1#59; 50#37;")
    graph = diagram.Graph(nodes={"n_a": diagram.Node("n_a", hostile)}, edges=[])
    assert_valid_mermaid(graph.render())


def test_ids_are_mermaid_identifiers_and_never_a_keyword():
    assert diagram._ident("end") == "n_end"
    assert diagram._ident("9-lives") == "n_9_lives"
    assert diagram._ident("fraud-models.inf/euw1") == "fraud_models_inf_euw1"


def test_markdown_is_a_caption_and_a_mermaid_block(restricted):
    plan, text, _ = restricted
    md = diagram.markdown(plan)
    caption, rest = md.split("\n\n", 1)
    assert "\n" not in caption and "restricted-example" in caption and "2 regions, 3 accounts" in caption
    assert rest == f"```mermaid\n{text}```\n"


# -- the CLI ---------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.usefixtures("cli_renders")
def test_cli_draws_a_stack_file_and_its_plan_json_alike(restricted, example_plan, tmp_path):
    _, text, _ = restricted
    result = runner.invoke(app, ["diagram", str(STACKS / "Pulumi.restricted-example.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout == text
    plan = example_plan("public")  # the smallest plan JSON to write and read back
    saved = tmp_path / "plan.json"
    saved.write_text(plan.to_json())
    result = runner.invoke(app, ["diagram", str(saved), "--format", "markdown"])
    assert result.exit_code == 0 and result.stdout == diagram.markdown(plan)


def test_cli_rejects_an_unknown_format_in_one_line_before_rendering(monkeypatch):
    from blueprints import cli

    monkeypatch.setattr(cli, "render_stack", lambda *a, **k: pytest.fail("rendered despite a bad --format"))
    result = runner.invoke(app, ["diagram", str(STACKS / "Pulumi.restricted-example.yaml"), "--format", "svg"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: --format: 'svg' is not one of 'mermaid', 'markdown'")
    assert result.stdout == ""


def test_cli_names_a_missing_plan_file(tmp_path):
    result = runner.invoke(app, ["diagram", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "no such plan file" in result.stderr and "Traceback" not in result.output
