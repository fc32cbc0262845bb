"""The SageMaker API of the emulator: operation dispatch, request parsing and validation, and
AWS's answer and error shapes (awsJson1.1: ``{"__type", "message"}``, HTTP 400, header
``x-amzn-ErrorType``). The rules live in ``models``; the request checks in ``validation``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from typing import Any

from gtlocal.errors import ApiError, validation
from gtlocal.groundtruth.models import GroundTruthBackend, Job
from gtlocal.groundtruth.validation import validate_create_rules, validate_request

LOG = logging.getLogger("gtlocal.groundtruth.responses")
EMULATED_OPERATIONS = frozenset(
    {"CreateLabelingJob", "DescribeLabelingJob", "ListLabelingJobs", "StopLabelingJob"}
)
CONTENT_TYPE = "application/x-amz-json-1.1"


class GroundTruthResponse:
    """Answers one SageMaker request for an emulated operation."""

    def __init__(self, backend: GroundTruthBackend) -> None:
        self.backend = backend

    def dispatch(self, operation: str, raw: bytes, region: str) -> tuple[int, dict[str, str], str]:
        """(HTTP status, headers, JSON body) for ``operation`` with request body ``raw``."""
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": CONTENT_TYPE}
        try:
            if operation not in EMULATED_OPERATIONS:
                raise ApiError("UnknownOperationException", f"Unsupported operation {operation}")
            body = self._parse(raw)
            validate_request(operation, body)
            handler = getattr(self, _snake(operation))
            result: dict[str, Any] = handler(body, region)
            return 200, headers, json.dumps(result)
        except ApiError as err:
            headers["x-amzn-ErrorType"] = err.code
            return err.status, headers, json.dumps({"__type": err.code, "message": err.message})
        except Exception:  # a bug must still answer in the AWS error shape
            LOG.exception("emulator error in %s", operation)
            headers["x-amzn-ErrorType"] = "InternalFailure"
            message = "internal error in the Ground Truth emulator"
            return 500, headers, json.dumps({"__type": "InternalFailure", "message": message})

    @staticmethod
    def _parse(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError("SerializationException", f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError("SerializationException", "Request body must be a JSON object")
        return body

    # ---------------------------------------------------------------- operations
    def create_labeling_job(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        validate_create_rules(body)
        job = self.backend.create_job(body, region)
        return {"LabelingJobArn": job.arn}

    def describe_labeling_job(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        job = self.backend.job(str(body["LabelingJobName"]), region)
        with self.backend.lock:
            result: dict[str, Any] = {
                "LabelingJobStatus": job.status,
                "LabelCounters": job.counters(),
                "CreationTime": job.created,
                "LastModifiedTime": job.last_modified,
                "JobReferenceCode": job.reference_code,
                "LabelingJobName": job.name,
                "LabelingJobArn": job.arn,
                "LabelAttributeName": job.attr,
                "InputConfig": job.request["InputConfig"],
                "OutputConfig": job.request["OutputConfig"],
                "RoleArn": job.request["RoleArn"],
                "HumanTaskConfig": job.human,
            }
            for key in (
                "LabelCategoryConfigS3Uri",
                "StoppingConditions",
                "LabelingJobAlgorithmsConfig",
                "Tags",
            ):
                if key in job.request:
                    result[key] = job.request[key]
            if job.failure_reason:
                result["FailureReason"] = job.failure_reason
            if job.output_written:
                result["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
            return result

    def list_labeling_jobs(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        max_results = int(body.get("MaxResults", 10))
        start = _decode_token(body["NextToken"]) if body.get("NextToken") else 0
        jobs = self.backend.list_jobs(region, body)
        with self.backend.lock:
            page = [_summary(j) for j in jobs[start : start + max_results]]
        result: dict[str, Any] = {"LabelingJobSummaryList": page}
        if start + max_results < len(jobs):
            raw = json.dumps({"gtlocal": "ListLabelingJobs", "offset": start + max_results})
            result["NextToken"] = base64.urlsafe_b64encode(raw.encode()).decode()
        return result

    def stop_labeling_job(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        self.backend.stop_job(str(body["LabelingJobName"]), region)
        return {}


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _summary(job: Job) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "LabelingJobName": job.name,
        "LabelingJobArn": job.arn,
        "CreationTime": job.created,
        "LastModifiedTime": job.last_modified,
        "LabelingJobStatus": job.status,
        "LabelCounters": job.counters(),
        "WorkteamArn": job.human["WorkteamArn"],
        "InputConfig": job.request["InputConfig"],
    }
    if job.human.get("PreHumanTaskLambdaArn"):
        summary["PreHumanTaskLambdaArn"] = job.human["PreHumanTaskLambdaArn"]
    acs = (job.human.get("AnnotationConsolidationConfig") or {}).get("AnnotationConsolidationLambdaArn")
    if acs:
        summary["AnnotationConsolidationLambdaArn"] = acs
    if job.failure_reason:
        summary["FailureReason"] = job.failure_reason
    if job.output_written:
        summary["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
    return summary


def _decode_token(token: Any) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = data["offset"]
        if data.get("gtlocal") != "ListLabelingJobs" or not isinstance(offset, int) or offset < 0:
            raise ValueError(token)
        return offset
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise validation(
            "Invalid pagination token: the NextToken is not one this operation returned."
        ) from exc
