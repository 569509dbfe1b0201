"""MacieJob: Macie enabled and a scheduled classification job on the named buckets."""

import pytest

from blueprints.plan.engine import run_program
from components.macie_job import MacieJob, MacieJobArgs


def one(plan, type_):
    (resource,) = plan.of_type(type_)
    return resource


def test_daily_job_on_the_bucket_after_macie_is_enabled(render_component):
    plan = render_component(lambda: MacieJob("dlp", MacieJobArgs(bucket_names=["training-data-bucket"])))
    account = one(plan, "aws:macie2/account:Account")
    assert account.inputs["status"] == "ENABLED"
    job = one(plan, "aws:macie2/classificationJob:ClassificationJob")
    assert job.inputs["jobType"] == "SCHEDULED"
    assert job.inputs["scheduleFrequency"] == {"dailySchedule": True}
    assert job.inputs["initialRun"] is True
    assert job.inputs["samplingPercentage"] == 100
    assert job.inputs["s3JobDefinition"] == {"bucketDefinitions": [
        {"accountId": "123456789012", "buckets": ["training-data-bucket"]}]}
    assert account.urn in job.dependencies


def test_one_time_job_without_enabling_macie(render_component):
    plan = render_component(lambda: MacieJob("dlp", MacieJobArgs(bucket_names=["b"], schedule="ONE_TIME",
                                                                 enable_macie=False)))
    assert not plan.of_type("aws:macie2/account:Account")
    job = one(plan, "aws:macie2/classificationJob:ClassificationJob")
    assert job.inputs["jobType"] == "ONE_TIME" and "scheduleFrequency" not in job.inputs


def test_no_buckets_is_rejected():
    with pytest.raises(Exception, match="bucket_names is empty"):
        run_program(lambda: MacieJob("dlp", MacieJobArgs(bucket_names=[])), stack="t",
                    config={"aws:region": "eu-west-1"}, secret_keys=[])
