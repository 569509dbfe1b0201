"""CloudWatch anomaly-detection alarms on a REST API stage: unusual request counts (a surge or a
collapse of predictions) and unusual p99 latency, against the band CloudWatch learns from the
metric's own history.

An anomaly-detection alarm is a metric alarm whose threshold is a metric-math expression:
`ANOMALY_DETECTION_BAND(m1, <standard deviations>)` named by `ThresholdMetricId`, with a
comparison operator that reads the band (CloudWatch User Guide, "Create a CloudWatch alarm based
on anomaly detection", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Anomaly_Detection_Alarm.html;
PutMetricAlarm, ThresholdMetricId). CloudWatch trains the model from up to two weeks of history:
until then the band is wide and the alarms are quiet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component, check_range, merge_tags
from components.rest_api import RestApi

cw = aws.cloudwatch

API_NAMESPACE = "AWS/ApiGateway"
# What each alarm watches: (metric, statistic, comparison against the band, what it means).
WATCHED: dict[str, tuple[str, str, str, str]] = {
    "requests-anomaly": ("Count", "Sum", "LessThanLowerOrGreaterThanUpperThreshold",
                         "request count outside its expected band (a surge or a collapse of predictions)"),
    "p99-latency-anomaly": ("Latency", "p99", "GreaterThanUpperThreshold",
                            "p99 latency above its expected band"),
}


@dataclass(frozen=True, kw_only=True)
class AnomalyAlarmsArgs:
    api: RestApi
    """The REST API stage whose requests and latency are watched (ApiName + Stage). Required."""
    topic_arn: pulumi.Input[str]
    """SNS topic notified on alarm and OK. Required; an encrypted topic's key must admit
    cloudwatch.amazonaws.com."""
    band_width: float = 2.0
    """Width of the expected band in standard deviations (ANOMALY_DETECTION_BAND's second
    argument), 0.5-10: narrower pages on smaller departures. Default 2 (CloudWatch's default)."""
    period: int = 300
    """Seconds per evaluated data point (60 or a multiple of 60). Default 300."""
    tags: Mapping[str, str] = field(default_factory=dict)


class AnomalyAlarms(Component):
    alarm_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AnomalyAlarmsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("monitoring", "AnomalyAlarms", name, opts)
        check_range(name, "band_width", args.band_width, 0.5, 10)
        if args.period < 60 or args.period % 60:
            raise ValueError(f"{name}: period must be 60 or a multiple of 60, got {args.period}")
        dimensions = {"ApiName": args.api.rest_api_name, "Stage": args.api.stage_name}
        self.alarm_names = {}
        for short, (metric, stat, comparison, meaning) in WATCHED.items():
            alarm = cw.MetricAlarm(
                f"{name}-{short}",
                name=f"{name}-{short}",
                alarm_description=f"{meaning}: {args.band_width:g} standard deviations",
                comparison_operator=comparison,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                threshold_metric_id="band",
                treat_missing_data="notBreaching",
                metric_queries=[
                    cw.MetricAlarmMetricQueryArgs(
                        id="m1", return_data=True,
                        metric=cw.MetricAlarmMetricQueryMetricArgs(
                            namespace=API_NAMESPACE, metric_name=metric, dimensions=dimensions, period=args.period,
                            stat=stat)),
                    cw.MetricAlarmMetricQueryArgs(
                        id="band", return_data=True, label=f"{metric} ({stat}) expected band",
                        expression=f"ANOMALY_DETECTION_BAND(m1, {args.band_width:g})"),
                ],
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                tags=merge_tags(f"{name}-{short}", args.tags),
                opts=self.child(),
            )
            self.alarm_names[short] = alarm.name
        self.register_outputs({"alarm_names": self.alarm_names})
