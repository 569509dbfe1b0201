"""Operations: what the people who run a blueprint watch and pay (issue 13). Runs after security.

1. Anomaly detection: in every inference region, CloudWatch anomaly-detection alarms on the stage's
   request count and p99 latency (band width: the tier's `anomaly_band_width`), to the region's
   encrypted serving-alarms topic.
2. Model lineage: the training account's model and training-data buckets send their S3 events to
   EventBridge; a rule sends objects created or deleted under the model bucket's `approved/` (model
   promotions: who, when) to the account's operations topic and, where the tier says
   (`lineage_to_siem`), to the SIEM stream of the home region.
3. The dashboard: one per blueprint, in the home region (of the inference account where the stack
   names accounts), a section per inference region and one for training, from one table of widgets.
4. Cost governance, in every account of the stack: an encrypted operations topic that AWS Budgets,
   Cost Anomaly Detection and the lineage rule may publish to, a monthly AWS Budgets cost budget on
   the `Blueprint` cost-allocation tag and a Cost Explorer anomaly monitor on it. The limit is
   `budget.monthlyUsd`, else the `blueprint cost` estimate rounded up (plan/ledger.py); where the
   stack spans accounts each account's budget is its share of either. Owner email only where the
   tier allows plain email (`plain_email_notifications`).

Everything priced is created before the ledger is read (step 4 reads it last).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import pulumi

from blueprints.context import BlueprintContext
from blueprints.inference import Inference, InferenceRegion
from blueprints.plan.ledger import Ledger
from blueprints.security import Security, owner
from blueprints.training import APPROVED_PREFIX, Training
from components.anomaly_alarms import AnomalyAlarms, AnomalyAlarmsArgs
from components.budget import CostBudget, CostBudgetArgs
from components.dashboard import Dashboard, DashboardArgs, Metric, Section, Widget
from components.lineage_events import LineageEvents, LineageEventsArgs
from components.notification_topic import NotificationTopic, NotificationTopicArgs, TopicPublisher

COST_TAG = "Blueprint"  # the cost-allocation tag every taggable resource carries (Spec.tags)
# Amazon S3 storage metrics are daily (S3 User Guide, "Metrics and dimensions": BucketSizeBytes).
DAY = 86400


@dataclass
class Operations:
    anomaly_alarms: dict[str, AnomalyAlarms] = field(default_factory=dict)  # by inference region
    lineage: Optional[LineageEvents] = None
    dashboard: Optional[Dashboard] = None
    topics: dict[str, NotificationTopic] = field(default_factory=dict)  # by account role (ACCOUNT_ROLES)
    budgets: dict[str, CostBudget] = field(default_factory=dict)  # by account role


def build(ctx: BlueprintContext, ledger: Ledger, training: Optional[Training], inference: Optional[Inference],
          security: Security) -> Operations:
    """`ledger`: the program's registrations since its start (the default budget is their estimate)."""
    ops = Operations()
    tier = ctx.tier

    # 1. Anomaly detection per inference region, to that region's serving-alarms topic.
    serving = ctx.account("inference")
    for region, built in (inference.regions.items() if inference else []):
        ops.anomaly_alarms[region] = AnomalyAlarms(
            f"{serving.regional('inf', region)}-anomalies",
            AnomalyAlarmsArgs(api=built.api, topic_arn=built.alarms.topic_arn, band_width=tier.anomaly_band_width,
                              tags=ctx.tags),
            opts=serving.opts(region))

    # 2. Operations topics (one per account, home region) and the lineage rule that publishes to one.
    home = ctx.home
    data_owner = owner(ctx, "training")
    lineage_rule = f"{ctx.name}-model-promotions"
    for view in ctx.accounts():
        account, partition = view.account_id(home), view.partition(home)
        publishers = [
            TopicPublisher(service="budgets.amazonaws.com",
                           source_arns=[pulumi.Output.concat("arn:", partition, ":budgets::", account, ":*")]),
            TopicPublisher(service="costalerts.amazonaws.com",
                           source_arns=[pulumi.Output.concat("arn:", partition, ":ce::", account,
                                                             ":anomalysubscription/*")]),
        ]
        if training is not None and view is data_owner:
            publishers.append(TopicPublisher(service="events.amazonaws.com", source_arns=[pulumi.Output.concat(
                "arn:", partition, ":events:", home, ":", account, ":rule/", lineage_rule)]))
        ops.topics[view.role] = NotificationTopic(
            f"{ctx.name}-{view.per_account('ops')}",
            NotificationTopicArgs(kms_key=view.key("logs", home, required=True), publishers=publishers, tags=ctx.tags),
            opts=view.opts(home))
    if training is not None:
        shipper = security.shippers.get((data_owner.role, home))
        ops.lineage = LineageEvents(
            f"{ctx.name}-lineage",
            LineageEventsArgs(
                notified_buckets=[training.model_bucket.bucket_name, training.data_bucket.bucket_name],
                watched_bucket=training.model_bucket.bucket_name, prefix=APPROVED_PREFIX, rule_name=lineage_rule,
                topic_arn=ops.topics[data_owner.role].topic_arn,
                siem_stream_arn=shipper.stream_arn if tier.lineage_to_siem and shipper is not None else None,
                tags=ctx.tags),
            opts=data_owner.opts(home))

    # 3. The dashboard.
    sections = [inference_section(ctx, region, built) for region, built in (inference.regions.items() if inference else [])]
    if training is not None:
        sections.append(training_section(ctx, training))
    if sections:  # a stack of security monitoring alone has nothing to chart
        place = serving if inference else data_owner
        ops.dashboard = Dashboard(f"{ctx.name}-dashboard", DashboardArgs(dashboard_name=ctx.name, sections=sections),
                                  opts=place.opts(home))

    # 4. Budgets, last: the default limit is the estimate of everything above.
    limits = _limits(ctx, ledger)
    emails = [ctx.spec.model.owner] if tier.plain_email_notifications else []
    for view in ctx.accounts():
        ops.budgets[view.role] = CostBudget(
            f"{ctx.name}-{view.per_account('budget')}",
            CostBudgetArgs(budget_name=f"{ctx.name}-{view.per_account('monthly')}",
                           limit_usd=limits.apply(lambda by_account, a=view.aws_account or "": str(by_account[a])),
                           tag_key=COST_TAG, tag_value=ctx.name, topic_arn=ops.topics[view.role].topic_arn,
                           email_addresses=emails, tags=ctx.tags),
            opts=view.opts(home))
    return ops


def _limits(ctx: BlueprintContext, ledger: Ledger) -> pulumi.Output[dict[str, int]]:
    """Whole USD per account id ("" the deploying account): the estimate's account subtotals rounded
    up, or `budget.monthlyUsd` shared among the accounts in the estimate's proportions."""
    accounts = [view.aws_account or "" for view in ctx.accounts()]
    chosen = ctx.spec.model.budget.monthly_usd

    def share(estimate) -> dict[str, int]:
        subtotals = estimate.by_account()
        if chosen is None:
            return {a: max(1, math.ceil(subtotals.get(a, 0.0))) for a in accounts}
        total = sum(subtotals.get(a, 0.0) for a in accounts) or 1.0
        return {a: max(1, math.ceil(chosen * subtotals.get(a, 0.0) / total)) for a in accounts}

    return ledger.estimate().apply(share)


# -- the table of widgets -----------------------------------------------------------------------
def inference_section(ctx: BlueprintContext, region: str, built: InferenceRegion) -> Section:
    """API requests, errors and latency; WAF; healthy NLB targets; serving replicas against the HPA
    maximum; GPU use (Container Insights); foundation models where the path is on.

    Metrics (namespace: dimensions), as AWS documents them: AWS/ApiGateway Count, 4XXError, 5XXError,
    Latency: ApiName, Stage (API Gateway Developer Guide, "Amazon API Gateway dimensions and
    metrics"); AWS/WAFV2 AllowedRequests, BlockedRequests: WebACL, Rule, Region (WAF Developer Guide,
    "AWS WAF metrics and dimensions"); AWS/NetworkELB HealthyHostCount: LoadBalancer, TargetGroup
    (ELB Network Load Balancers guide, "CloudWatch metrics for your Network Load Balancer");
    ContainerInsights service_number_of_running_pods: ClusterName, Namespace, Service, and
    node_gpu_utilization, node_gpu_memory_utilization: ClusterName (CloudWatch User Guide, "Amazon
    EKS and Kubernetes Container Insights metrics", NVIDIA GPU metrics); AWS/Bedrock Invocations,
    InputTokenCount, OutputTokenCount: ModelId; AWS/Bedrock/Guardrails InvocationsIntervened:
    GuardrailArn, GuardrailVersion (Bedrock User Guide, "Monitor Amazon Bedrock" and "Monitor
    Amazon Bedrock Guardrails using CloudWatch metrics"). Container Insights has no HPA metric:
    the HPA maximum is drawn as a horizontal line over the running pods."""
    inference = ctx.spec.inference
    api = {"ApiName": built.api.rest_api_name, "Stage": built.api.stage_name}
    waf = {"WebACL": built.web_acl.web_acl_name, "Rule": "ALL", "Region": region}
    cluster = {"ClusterName": built.cluster.cluster_name}
    service = {**cluster, "Namespace": built.workload.namespace, "Service": built.workload.service_name}

    def gw(name: str, stat: str = "Sum", label: Optional[str] = None) -> Metric:
        return Metric(namespace="AWS/ApiGateway", name=name, dimensions=api, stat=stat, label=label)

    widgets = [
        Widget(title="API requests", region=region, metrics=[gw("Count", label="requests")]),
        Widget(title="API errors (4xx, 5xx)", region=region, metrics=[gw("4XXError", label="4xx"),
                                                                      gw("5XXError", label="5xx")]),
        Widget(title="API latency (p50, p99)", region=region,
               metrics=[gw("Latency", "p50", "p50 ms"), gw("Latency", "p99", "p99 ms")]),
        Widget(title="WAF allowed / blocked", region=region, metrics=[
            Metric(namespace="AWS/WAFV2", name=name, dimensions=waf, label=label)
            for name, label in (("AllowedRequests", "allowed"), ("BlockedRequests", "blocked"))]),
        Widget(title="Healthy NLB targets", region=region, metrics=[Metric(
            namespace="AWS/NetworkELB", name="HealthyHostCount", stat="Minimum", label="healthy targets",
            dimensions={"LoadBalancer": built.ingress.load_balancer_arn_suffix,
                        "TargetGroup": built.ingress.target_group_arn_suffix})]),
        Widget(title=f"Serving replicas (HPA maximum {inference.max_replicas})", region=region,
               metrics=[Metric(namespace="ContainerInsights", name="service_number_of_running_pods",
                               dimensions=service, stat="Maximum", label="running replicas")],
               annotations=[("HPA maximum", inference.max_replicas)]),
        _gpu_widget("Serving GPU utilisation and memory", region, cluster),
    ]
    fm = built.foundation_models
    if fm is not None and ctx.spec.foundation_models is not None:
        models = ctx.spec.foundation_models.models
        widgets += [
            Widget(title="Foundation-model invocations", region=region, metrics=[
                Metric(namespace="AWS/Bedrock", name="Invocations", dimensions={"ModelId": m}, label=m) for m in models]),
            Widget(title="Foundation-model tokens", region=region, metrics=[
                Metric(namespace="AWS/Bedrock", name=name, dimensions={"ModelId": m}, label=f"{m} {kind}")
                for m in models for name, kind in (("InputTokenCount", "in"), ("OutputTokenCount", "out"))]),
            Widget(title="Guardrail interventions", region=region, metrics=[Metric(
                namespace="AWS/Bedrock/Guardrails", name="InvocationsIntervened", label="interventions",
                dimensions={"GuardrailArn": fm.guardrail.guardrail_arn, "GuardrailVersion": fm.guardrail.version})]),
        ]
    return Section(title=f"Inference {region}", widgets=widgets)


def training_section(ctx: BlueprintContext, training: Training) -> Section:
    """GPU nodes running and their use (Container Insights: cluster_node_count, node_gpu_utilization,
    node_gpu_memory_utilization by ClusterName), Lustre throughput (AWS/FSx DataReadBytes,
    DataWriteBytes by FileSystemId: FSx for Lustre User Guide, "Amazon FSx for Lustre metrics") and
    bucket size (AWS/S3 BucketSizeBytes by BucketName and StorageType, daily). Metrics of the
    training account carry its account id where the dashboard lives in another (cross-account
    observability must share them)."""
    region, spec = ctx.home, ctx.spec.training
    view = owner(ctx, "training")
    dashboard_account = ctx.account("inference").aws_account if ctx.spec.inference.enabled else view.aws_account
    account = view.aws_account if view.aws_account != dashboard_account else None
    cluster = {"ClusterName": training.cluster.cluster_name}

    def m(namespace: str, name: str, dimensions: dict, stat: str, label: str) -> Metric:
        return Metric(namespace=namespace, name=name, dimensions=dimensions, stat=stat, label=label, account_id=account)

    lustre = {"FileSystemId": training.lustre.file_system_id}
    return Section(title=f"Training {region}", widgets=[
        Widget(title=f"Training nodes running (GPU maximum {spec.max_nodes})", region=region,
               metrics=[m("ContainerInsights", "cluster_node_count", cluster, "Maximum", "nodes (GPU + system)")],
               annotations=[("GPU nodes maximum", spec.max_nodes)]),
        _gpu_widget("Training GPU utilisation and memory", region, cluster, account),
        Widget(title="Lustre throughput (bytes)", region=region, metrics=[
            m("AWS/FSx", "DataReadBytes", lustre, "Sum", "read"), m("AWS/FSx", "DataWriteBytes", lustre, "Sum", "write")]),
        Widget(title="Bucket size (bytes)", region=region, period=DAY, metrics=[
            m("AWS/S3", "BucketSizeBytes", {"BucketName": bucket.bucket_name, "StorageType": "StandardStorage"},
              "Average", label) for label, bucket in (("training data", training.data_bucket),
                                                       ("models", training.model_bucket))]),
    ])


def _gpu_widget(title: str, region: str, cluster: dict, account: Optional[pulumi.Input[str]] = None) -> Widget:
    return Widget(title=title, region=region, metrics=[
        Metric(namespace="ContainerInsights", name=name, dimensions=cluster, stat="Average", label=label,
               account_id=account)
        for name, label in (("node_gpu_utilization", "GPU %"), ("node_gpu_memory_utilization", "GPU memory %"))])
