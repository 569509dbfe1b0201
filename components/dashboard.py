"""A CloudWatch dashboard whose body is generated from a table of widgets (data, not JSON by hand).

The body follows the CloudWatch dashboard body structure (CloudWatch API Reference, "Dashboard Body
Structure and Syntax", https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
a `text` widget heads each section, and each metric widget names its own `region`, so one
dashboard in one region shows metrics of several. Dimension values are Outputs (names, ids of the
stack's resources): the body is one `Output.json_dumps` of the whole table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component

# The grid is 24 units wide (Dashboard Body Structure, "x": 0-23).
GRID_WIDTH = 24
# CloudWatch dashboard names: up to 255 of A-Z, a-z, 0-9, "-" and "_" (PutDashboard, DashboardName).
NAME_LIMIT = 255


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One metric line of a widget: what CloudWatch publishes under (namespace, name, dimensions)."""

    namespace: str
    """CloudWatch namespace, e.g. "AWS/ApiGateway". Required."""
    name: str
    """Metric name, e.g. "Latency". Required."""
    dimensions: Mapping[str, pulumi.Input[str]]
    """Dimension name -> value; every dimension the metric is published with. Required."""
    stat: str = "Sum"
    """Statistic or percentile ("Sum", "Average", "Maximum", "p99"). Default "Sum"."""
    label: Optional[str] = None
    """Legend label. Default None: CloudWatch's own."""
    account_id: Optional[pulumi.Input[str]] = None
    """The account the metric lives in, where it is not the dashboard's (cross-account
    observability must be set up between them). Default None: the dashboard's account."""


@dataclass(frozen=True, kw_only=True)
class Widget:
    """A metric graph."""

    title: str
    """Widget title. Required."""
    region: str
    """The region the metrics are read from. Required."""
    metrics: Sequence[Metric]
    """The lines, at least one. Required."""
    period: int = 300
    """Seconds per data point: 60 or a multiple of 60. Default 300."""
    annotations: Sequence[tuple[str, float]] = ()
    """Horizontal lines (label, value), e.g. ("HPA maximum", 20). Default none."""
    width: int = 8
    """Grid units (1-24). Default 8: three per row."""
    height: int = 6
    """Grid units. Default 6."""


@dataclass(frozen=True, kw_only=True)
class Section:
    """A heading and its widgets."""

    title: str
    """The heading (a text widget across the grid). Required."""
    widgets: Sequence[Widget]
    """The section's graphs, laid out left to right. Required, at least one."""


@dataclass(frozen=True, kw_only=True)
class DashboardArgs:
    dashboard_name: str
    """CloudWatch dashboard name (letters, digits, - and _, at most 255). Required."""
    sections: Sequence[Section]
    """The table of widgets, by section. Required, at least one section."""


def widget_body(widget: Widget) -> dict[str, Any]:
    """A metric widget's `properties` (values may be Outputs)."""
    lines = []
    for m in widget.metrics:
        line: list[Any] = [m.namespace, m.name]
        for key, value in m.dimensions.items():
            line += [key, value]
        options: dict[str, Any] = {"stat": m.stat}
        if m.label:
            options["label"] = m.label
        if m.account_id is not None:
            options["accountId"] = m.account_id
        lines.append([*line, options])
    properties: dict[str, Any] = {"title": widget.title, "region": widget.region, "metrics": lines,
                                  "period": widget.period, "view": "timeSeries", "stacked": False}
    if widget.annotations:
        properties["annotations"] = {"horizontal": [{"label": label, "value": value}
                                                    for label, value in widget.annotations]}
    return properties


def layout(sections: Sequence[Section]) -> list[dict[str, Any]]:
    """The body's widgets: per section a full-width text heading, then its graphs in rows."""
    out: list[dict[str, Any]] = []
    y = 0
    for section in sections:
        out.append({"type": "text", "x": 0, "y": y, "width": GRID_WIDTH, "height": 1,
                    "properties": {"markdown": f"## {section.title}"}})
        y += 1
        x, row_height = 0, 0
        for widget in section.widgets:
            if x + widget.width > GRID_WIDTH:
                x, y = 0, y + row_height
                row_height = 0
            out.append({"type": "metric", "x": x, "y": y, "width": widget.width, "height": widget.height,
                        "properties": widget_body(widget)})
            x += widget.width
            row_height = max(row_height, widget.height)
        y += row_height
    return out


class Dashboard(Component):
    """One `aws:cloudwatch/dashboard:Dashboard` from a table of sections and widgets."""

    dashboard_name: pulumi.Output[str]
    dashboard_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DashboardArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("monitoring", "Dashboard", name, opts)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,%d}" % NAME_LIMIT, args.dashboard_name):
            raise ValueError(f"{name}: dashboard_name must be 1-{NAME_LIMIT} letters, digits, - or _")
        if not args.sections or any(not s.widgets for s in args.sections):
            raise ValueError(f"{name}: sections must list at least one section, each with at least one widget")
        for section in args.sections:
            for w in section.widgets:
                if not w.metrics:
                    raise ValueError(f"{name}: widget {w.title!r} names no metric")
                if not 1 <= w.width <= GRID_WIDTH:
                    raise ValueError(f"{name}: widget {w.title!r} width must be 1-{GRID_WIDTH}")
                if w.period < 60 or w.period % 60:
                    raise ValueError(f"{name}: widget {w.title!r} period must be 60 or a multiple of 60")
        body = pulumi.Output.json_dumps({"widgets": layout(args.sections)}, sort_keys=True)
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=args.dashboard_name, dashboard_body=body, opts=self.child())
        self.dashboard_name = self.dashboard.dashboard_name
        self.dashboard_arn = self.dashboard.dashboard_arn
        self.register_outputs({"dashboard_name": self.dashboard_name, "dashboard_arn": self.dashboard_arn})
