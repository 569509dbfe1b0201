"""Amazon Macie sensitive-data discovery on S3 buckets: enable Macie and run a classification job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from components._base import Component, check_range, merge_tags

_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@dataclass(frozen=True, kw_only=True)
class MacieJobArgs:
    bucket_names: Sequence[pulumi.Input[str]]
    """Buckets (in this account and region) to classify. Required, at least one."""
    schedule: Literal["DAILY", "WEEKLY", "MONTHLY", "ONE_TIME"] = "DAILY"
    """DAILY, WEEKLY (Mondays), MONTHLY (the 1st) or a ONE_TIME run. Default DAILY: each run
    classifies the objects added or changed since the last."""
    sampling_percentage: int = 100
    """Share of eligible objects analysed (1-100). Default 100."""
    enable_macie: bool = True
    """Enable Macie in this account and region (aws.macie2.Account). Default on; turn it off
    where Macie is already enabled (e.g. by an organisation's delegated administrator)."""
    finding_publishing_frequency: Literal["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] = "FIFTEEN_MINUTES"
    """How often updated findings reach EventBridge / Security Hub. Default FIFTEEN_MINUTES."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the job."""


class MacieJob(Component):
    job_id: pulumi.Output[str]
    job_arn: pulumi.Output[str]

    def __init__(self, name: str, args: MacieJobArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("macie", "MacieJob", name, opts)
        if not args.bucket_names:
            raise ValueError(f"{name}: bucket_names is empty")
        check_range(name, "sampling_percentage", args.sampling_percentage, 1, 100)
        depends: list[pulumi.Resource] = []
        if args.enable_macie:
            depends.append(aws.macie2.Account(
                f"{name}-macie",
                status="ENABLED",
                finding_publishing_frequency=args.finding_publishing_frequency,
                opts=self.child(),
            ))
        frequency = {
            "DAILY": aws.macie2.ClassificationJobScheduleFrequencyArgs(daily_schedule=True),
            "WEEKLY": aws.macie2.ClassificationJobScheduleFrequencyArgs(weekly_schedule=_WEEKDAYS[0]),
            "MONTHLY": aws.macie2.ClassificationJobScheduleFrequencyArgs(monthly_schedule=1),
        }.get(args.schedule)
        self.job = aws.macie2.ClassificationJob(
            f"{name}-job",
            name=name,
            description=f"{name}: sensitive data discovery",
            job_type="ONE_TIME" if args.schedule == "ONE_TIME" else "SCHEDULED",
            schedule_frequency=frequency,
            initial_run=True if frequency else None,
            sampling_percentage=args.sampling_percentage,
            s3_job_definition=aws.macie2.ClassificationJobS3JobDefinitionArgs(
                bucket_definitions=[aws.macie2.ClassificationJobS3JobDefinitionBucketDefinitionArgs(
                    account_id=self.aws_account_id, buckets=list(args.bucket_names))],
            ),
            tags=merge_tags(name, args.tags),
            opts=self.child(depends_on=depends),
        )
        self.job_id = self.job.job_id
        self.job_arn = self.job.job_arn
        self.register_outputs({"job_id": self.job_id, "job_arn": self.job_arn})
