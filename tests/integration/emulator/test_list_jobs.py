"""ListLabelingJobs: filters, sort, pagination."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from emulator_world import World


@pytest.fixture
def three_jobs(world: World) -> World:
    for name in ("b-job", "a-job", "c-other"):
        world.create(name, streaming=False, manifest="s3://gt-input/m.manifest")
        time.sleep(0.01)
    world.sm.stop_labeling_job(LabelingJobName="a-job")
    return world


def names(answer: dict) -> list[str]:  # type: ignore[type-arg]
    return [s["LabelingJobName"] for s in answer["LabelingJobSummaryList"]]


def test_sort_and_filters(three_jobs: World) -> None:
    sm = three_jobs.sm
    assert names(sm.list_labeling_jobs()) == ["b-job", "a-job", "c-other"]
    assert names(sm.list_labeling_jobs(SortBy="Name")) == ["a-job", "b-job", "c-other"]
    assert names(sm.list_labeling_jobs(SortBy="Name", SortOrder="Descending")) == [
        "c-other",
        "b-job",
        "a-job",
    ]
    assert names(sm.list_labeling_jobs(SortBy="Status")) == [
        "b-job",
        "c-other",
        "a-job",
    ]  # Initializing < Stopped
    assert names(sm.list_labeling_jobs(NameContains="JOB", SortBy="Name")) == ["a-job", "b-job"]
    assert names(sm.list_labeling_jobs(StatusEquals="Stopped")) == ["a-job"]
    summary = sm.list_labeling_jobs(StatusEquals="Stopped")["LabelingJobSummaryList"][0]
    assert summary["LabelCounters"]["TotalLabeled"] == 0 and summary["WorkteamArn"].endswith("/team")
    created = sm.describe_labeling_job(LabelingJobName="a-job")["CreationTime"]
    assert names(sm.list_labeling_jobs(CreationTimeAfter=created)) == ["c-other"]
    assert names(sm.list_labeling_jobs(CreationTimeBefore=created)) == ["b-job"]
    modified = sm.describe_labeling_job(LabelingJobName="a-job")["LastModifiedTime"]
    assert names(sm.list_labeling_jobs(LastModifiedTimeBefore=modified)) == ["b-job", "c-other"]
    assert names(sm.list_labeling_jobs(LastModifiedTimeAfter=created, SortBy="Name")) == ["a-job", "c-other"]


def test_pagination(three_jobs: World) -> None:
    sm = three_jobs.sm
    first = sm.list_labeling_jobs(MaxResults=2, SortBy="Name")
    assert names(first) == ["a-job", "b-job"]
    second = sm.list_labeling_jobs(MaxResults=2, SortBy="Name", NextToken=first["NextToken"])
    assert names(second) == ["c-other"] and "NextToken" not in second
    pages = sm.get_paginator("list_labeling_jobs").paginate(SortBy="Name", PaginationConfig={"PageSize": 1})
    assert [n for page in pages for n in names(page)] == ["a-job", "b-job", "c-other"]


def test_invalid_token_and_enums(three_jobs: World) -> None:
    sm = three_jobs.sm
    for kwargs in ({"NextToken": "garbage"}, {"NextToken": "eyJvZmZzZXQiOiAxfQ=="}):
        with pytest.raises(ClientError) as err:
            sm.list_labeling_jobs(**kwargs)
        assert err.value.response["Error"]["Code"] == "ValidationException"
