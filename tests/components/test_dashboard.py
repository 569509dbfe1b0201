"""Dashboard: the body is the widget table, laid out on CloudWatch's 24-unit grid, each widget
naming its own region; dimension values may be Outputs."""

import json

import pulumi
import pytest

from components.dashboard import Dashboard, DashboardArgs, Metric, Section, Widget, layout


def _sections(value="api-1"):
    return [Section(title="Inference eu-west-1", widgets=[
        Widget(title=f"w{i}", region="eu-west-1", metrics=[Metric(namespace="AWS/ApiGateway", name="Count",
                                                               dimensions={"ApiName": value, "Stage": "v1"})])
        for i in range(4)] + [Widget(title="replicas", region="eu-central-1", annotations=[("HPA maximum", 20)],
                                     metrics=[Metric(namespace="ContainerInsights", name="service_number_of_running_pods",
                                                     dimensions={"ClusterName": "c"}, stat="Maximum", account_id="111")])])]


def test_layout_heads_each_section_and_wraps_rows_at_24_units():
    widgets = layout(_sections())
    assert widgets[0] == {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1,
                          "properties": {"markdown": "## Inference eu-west-1"}}
    assert [(w["x"], w["y"]) for w in widgets[1:]] == [(0, 1), (8, 1), (16, 1), (0, 7), (8, 7)]
    replicas = widgets[-1]["properties"]
    assert replicas["region"] == "eu-central-1"
    assert replicas["metrics"] == [["ContainerInsights", "service_number_of_running_pods", "ClusterName", "c",
                                    {"stat": "Maximum", "accountId": "111"}]]
    assert replicas["annotations"] == {"horizontal": [{"label": "HPA maximum", "value": 20}]}


def test_the_body_resolves_output_dimensions(render_component):
    def program():
        name = pulumi.Output.from_input("fraud-models-inf-euw1-api")
        Dashboard("ops", DashboardArgs(dashboard_name="fraud-models", sections=_sections(name)))

    plan = render_component(program)
    (dashboard,) = plan.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == "fraud-models"
    body = json.loads(dashboard.inputs["dashboardBody"])
    assert body["widgets"][1]["properties"]["metrics"][0][:4] == ["AWS/ApiGateway", "Count", "ApiName",
                                                                  "fraud-models-inf-euw1-api"]


@pytest.mark.parametrize("change,message", [
    ({"dashboard_name": "has space"}, "dashboard_name"),
    ({"sections": []}, "at least one section"),
    ({"sections": [Section(title="t", widgets=[Widget(title="empty", region="eu-west-1", metrics=[])])]}, "names no metric"),
    ({"sections": [Section(title="t", widgets=[Widget(title="odd", region="eu-west-1", period=90, metrics=[
        Metric(namespace="AWS/S3", name="BucketSizeBytes", dimensions={})])])]}, "period"),
])
def test_impossible_dashboards_are_refused_before_anything_is_created(change, message):
    args = {"dashboard_name": "ok", "sections": _sections(), **change}
    with pytest.raises(ValueError, match=message):
        Dashboard("ops", DashboardArgs(**args))
