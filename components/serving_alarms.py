"""CloudWatch alarms for a model-serving region, to an encrypted SNS topic: API 5xx rate, p99
latency, WAF blocked-request spike, the autoscaler pinned at its maximum, and no healthy
backend (per model version: the ingress's canary backend gets its own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component, merge_tags
from components.kms_key import KmsKey
from components.private_ingress import PrivateIngress
from components.rest_api import RestApi
from components.web_acl import WebAcl

cw = aws.cloudwatch


@dataclass(frozen=True, kw_only=True)
class ServingAlarmsArgs:
    api: RestApi
    """The REST API stage whose errors and latency are watched. Required."""
    web_acl: WebAcl
    """The web ACL whose blocked requests are watched. Required."""
    ingress: PrivateIngress
    """The NLB target groups whose healthy hosts are watched (the canary's too, where the ingress
    has one). Required."""
    cluster_name: pulumi.Input[str]
    """EKS cluster of the workload (Container Insights dimension). Required."""
    namespace: pulumi.Input[str]
    """Kubernetes namespace of the workload. Required."""
    service_name: pulumi.Input[str]
    """Kubernetes Service of the workload. Required."""
    max_replicas: int
    """The HPA maximum: running pods at this count for 15 minutes means it cannot scale further.
    Required."""
    kms_key: KmsKey
    """CMK for the SNS topic; its policy must let cloudwatch.amazonaws.com use it. Required:
    CloudWatch alarms cannot publish to a topic under the AWS managed aws/sns key."""
    error_rate_percent: float = 5.0
    """5xx responses, percent of requests over 5 minutes. Default 5."""
    p99_latency_ms: float = 10000.0
    """p99 end-to-end latency over 5 minutes, ms. Default 10000 (generative models are slow)."""
    blocked_requests_per_5min: int = 500
    """WAF-blocked requests in 5 minutes that count as a spike. Default 500."""
    body_rule_matches_per_5min: int = 100
    """Requests in 5 minutes that matched a WAF body rule counted rather than blocked (a web ACL
    with `count_body_rules`) that count as a spike. Default 100: one user pasting code into prompts
    matches now and then; a scanner sends hundreds of payloads a minute. Unused when the web ACL's
    body rules block."""
    tags: Mapping[str, str] = field(default_factory=dict)


class ServingAlarms(Component):
    topic_arn: pulumi.Output[str]
    alarm_names: dict[str, pulumi.Output[str]]
    no_healthy_backend_alarm_name: pulumi.Output[str]
    """Breaches while no node behind the NLB passes its health check: suitable for a Route 53
    CLOUDWATCH_METRIC health check."""

    def __init__(self, name: str, args: ServingAlarmsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("monitoring", "ServingAlarms", name, opts)
        if args.max_replicas < 1:
            raise ValueError(f"{name}: max_replicas must be >= 1")
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=name,
            kms_master_key_id=args.kms_key.arn,
            tags=merge_tags(f"{name}-topic", args.tags),
            opts=self.child(),
        )
        api_dims = {"ApiName": args.api.rest_api_name, "Stage": args.api.stage_name}
        self.alarm_names = {}

        def alarm(short: str, description: str, **kwargs) -> cw.MetricAlarm:
            created = cw.MetricAlarm(
                f"{name}-{short}",
                name=f"{name}-{short}",
                alarm_description=description,
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                tags=merge_tags(f"{name}-{short}", args.tags),
                opts=self.child(),
                **kwargs,
            )
            self.alarm_names[short] = created.name
            return created

        def query(qid: str, metric: str, stat: str) -> cw.MetricAlarmMetricQueryArgs:
            return cw.MetricAlarmMetricQueryArgs(id=qid, return_data=False, metric=cw.MetricAlarmMetricQueryMetricArgs(
                namespace="AWS/ApiGateway", metric_name=metric, dimensions=api_dims, period=300, stat=stat))

        alarm("5xx-rate", f"5xx responses above {args.error_rate_percent}% of requests",
              comparison_operator="GreaterThanThreshold", evaluation_periods=2, datapoints_to_alarm=2,
              threshold=args.error_rate_percent, treat_missing_data="notBreaching",
              metric_queries=[
                  query("errors", "5XXError", "Sum"),
                  query("requests", "Count", "Sum"),
                  cw.MetricAlarmMetricQueryArgs(id="rate", label="5xx %", return_data=True,
                                                expression="IF(requests > 0, 100 * errors / requests, 0)"),
              ])
        alarm("p99-latency", f"p99 latency above {args.p99_latency_ms} ms",
              namespace="AWS/ApiGateway", metric_name="Latency", dimensions=api_dims, extended_statistic="p99",
              period=300, evaluation_periods=3, datapoints_to_alarm=2, threshold=args.p99_latency_ms,
              comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching")
        alarm("waf-blocked-spike", f"more than {args.blocked_requests_per_5min} requests blocked by WAF in 5 minutes",
              namespace="AWS/WAFV2", metric_name="BlockedRequests", statistic="Sum", period=300,
              dimensions={"WebACL": args.web_acl.web_acl_name, "Region": self.aws_region, "Rule": "ALL"},
              evaluation_periods=1, threshold=args.blocked_requests_per_5min,
              comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching")
        if args.web_acl.body_match_metric_name is not None:
            # Counted body-rule matches let the request through: the spike is the signal instead.
            alarm("waf-body-rule-matches", f"more than {args.body_rule_matches_per_5min} requests matched a counted "
                  "WAF body rule (SQLi, XSS, LFI, RFI, SSRF, Log4j, Java deserialization) in 5 minutes",
                  namespace="AWS/WAFV2", metric_name="CountedRequests", statistic="Sum", period=300,
                  dimensions={"WebACL": args.web_acl.web_acl_name, "Region": self.aws_region,
                              "Rule": args.web_acl.body_match_metric_name},
                  evaluation_periods=1, threshold=args.body_rule_matches_per_5min,
                  comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching")
        # Container Insights (the amazon-cloudwatch-observability add-on) publishes running pods per
        # Service; at the HPA maximum for 15 minutes the autoscaler can add nothing more.
        alarm("hpa-at-max", f"running pods at the HPA maximum ({args.max_replicas}) for 15 minutes",
              namespace="ContainerInsights", metric_name="service_number_of_running_pods", statistic="Maximum",
              dimensions={"ClusterName": args.cluster_name, "Namespace": args.namespace, "Service": args.service_name},
              period=300, evaluation_periods=3, threshold=args.max_replicas,
              comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching")
        no_backend = alarm(
            "no-healthy-backend", "no serving node passes the load balancer health check",
            namespace="AWS/NetworkELB", metric_name="HealthyHostCount", statistic="Minimum", period=60,
            dimensions={"LoadBalancer": args.ingress.load_balancer_arn_suffix,
                        "TargetGroup": args.ingress.target_group_arn_suffix},
            evaluation_periods=3, threshold=1, comparison_operator="LessThanThreshold", treat_missing_data="breaching")

        canary_group = args.ingress.canary_target_group_arn_suffix
        if canary_group is not None:
            # A canary that no node serves fails its share of requests while the stage's backend
            # is healthy: the stage-wide alarms would not notice it.
            alarm("canary-no-healthy-backend",
                  "no serving node of the canary model passes the load balancer health check",
                  namespace="AWS/NetworkELB", metric_name="HealthyHostCount", statistic="Minimum", period=60,
                  dimensions={"LoadBalancer": args.ingress.load_balancer_arn_suffix, "TargetGroup": canary_group},
                  evaluation_periods=3, threshold=1, comparison_operator="LessThanThreshold",
                  treat_missing_data="breaching")

        self.topic_arn = self.topic.arn
        self.no_healthy_backend_alarm_name = no_backend.name
        self.register_outputs({
            "topic_arn": self.topic_arn,
            "alarm_names": self.alarm_names,
            "no_healthy_backend_alarm_name": self.no_healthy_backend_alarm_name,
        })
