"""Training: the isolated network and encrypted storage for fine-tuning on proprietary data."""

from __future__ import annotations

from dataclasses import dataclass

from blueprints.context import BlueprintContext, LogSource
from components.encrypted_bucket import EncryptedBucket, ObjectLock
from components.isolated_vpc import IsolatedVpc, IsolatedVpcArgs

# AWS services the training VPC reaches through interface endpoints when it has no egress.
TRAINING_INTERFACE_ENDPOINTS = (
    "ecr.api", "ecr.dkr", "ec2", "sts", "logs", "eks", "eks-auth", "kms", "ssm", "ssmmessages",
    "ec2messages", "elasticloadbalancing", "autoscaling", "monitoring",
)


@dataclass
class Training:
    vpc: IsolatedVpc
    data_bucket: EncryptedBucket
    model_bucket: EncryptedBucket


def build(ctx: BlueprintContext) -> Training:
    tier, region, name = ctx.tier, ctx.home, ctx.name
    vpc = IsolatedVpc(
        f"{name}-training",
        IsolatedVpcArgs(
            cidr_block="10.20.0.0/16",
            nat_egress=not tier.air_gapped,
            interface_endpoints=TRAINING_INTERFACE_ENDPOINTS if tier.air_gapped else (),
            flow_log_retention_days=tier.log_retention_days,
            flow_log_kms_key=ctx.key("logs", region),
            stateful=ctx.stateful,
            tags=ctx.tags,
        ),
        opts=ctx.opts(region),
    )
    data_bucket = EncryptedBucket(
        f"{name}-training-data", ctx.bucket_args("training-data", region), opts=ctx.opts(region, stateful=True)
    )
    model_bucket = EncryptedBucket(
        f"{name}-models",
        ctx.bucket_args(
            "models", region,
            object_lock=ObjectLock(mode="COMPLIANCE", days=tier.log_retention_days) if tier.s3_object_lock else None,
        ),
        opts=ctx.opts(region, stateful=True),
    )
    ctx.data_buckets.update({"training-data": data_bucket, "models": model_bucket})
    ctx.log_sources.append(LogSource(kind="vpc-flow", region=region, log_group_name=vpc.flow_log_group_name,
                                     log_group_arn=vpc.flow_log_group_arn))
    return Training(vpc=vpc, data_bucket=data_bucket, model_bucket=model_bucket)

