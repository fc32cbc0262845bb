"""The Ground Truth labeling-job emulator: jobs, objects, the emulated clock and the simulated workforce.

It reaches S3, SNS, SQS and EventBridge only through boto3 against ``aws_endpoint`` (its own
URL by default), so it behaves the same beside moto or beside a LocalStack.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gtlocal.errors import ControlError, in_use, not_found, validation
from gtlocal.validation import account_of_role, task_type_of, validate_create

LOG = logging.getLogger("gtlocal.emulator")

EMULATED_OPERATIONS = frozenset(
    {"CreateLabelingJob", "DescribeLabelingJob", "ListLabelingJobs", "StopLabelingJob"}
)
STATUSES = ("Initializing", "InProgress", "Completed", "Failed", "Stopping", "Stopped")
ACTIVE = frozenset({"Initializing", "InProgress", "Stopping"})
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
TASK_CHANGE = "SageMaker Ground Truth Labeling Job Task Status Change"
DEFAULT_LIFETIME = 864_000
TICK_SECONDS = 0.25


@dataclass
class Settings:
    """Emulator settings; ``POST /_groundtruth/reset`` restores these defaults."""

    initializing_seconds: float = 1.0
    stopping_seconds: float = 0.0
    duplicate_events: int = 1
    job_expiry_seconds: float = 30 * 86_400.0
    idle_stop_seconds: float = 10 * 86_400.0
    # "Labeling jobs fail after 30 days with an appropriate client error message."
    # (API reference, LabelingJobStoppingConditions)
    expiry_status: str = "Failed"
    # Streaming jobs "remain active until they are manually stopped or have been idle for more
    # than 10 days" (developer guide); the end status is not documented, real jobs show Completed.
    idle_stop_status: str = "Completed"
    label_seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ControlError(f"unknown setting {key!r}; known: {sorted(known)}")
            default = getattr(Settings, key)
            if isinstance(default, str):
                if value not in TERMINAL:
                    raise ControlError(f"{key} must be one of {sorted(TERMINAL)}, got {value!r}")
            elif isinstance(default, int) and not isinstance(default, bool) and key != "label_seed":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ControlError(f"{key} must be an integer >= 1, got {value!r}")
            elif key == "label_seed":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ControlError(f"label_seed must be an integer, got {value!r}")
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ControlError(f"{key} must be a number >= 0, got {value!r}")
                value = float(value)
            checked[key] = value
        for key, value in checked.items():
            setattr(self, key, value)


@dataclass
class DataObject:
    seq: int
    line: dict[str, Any]
    dedupe_id: str
    arrived_at: float
    state: str = "available"  # available | labeled | expired | failed
    carried: bool = False
    output: dict[str, Any] | None = None  # the output-manifest line once terminal
    failure_reason: str | None = None

    @property
    def source(self) -> str:
        return str(self.line.get("source-ref", self.line.get("source", "")))

    def view(self, attr: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "seq": self.seq,
            "state": self.state,
            "source": self.source,
            "dedupe_id": self.dedupe_id,
            "carried": self.carried,
        }
        if self.output is not None and attr in self.output:
            item["label"] = self.output[attr]
        if self.failure_reason:
            item["failure_reason"] = self.failure_reason
        return item


@dataclass
class Job:
    name: str
    arn: str
    region: str
    account: str
    request: dict[str, Any]
    created: float
    reference_code: str
    status: str = "Initializing"
    last_modified: float = 0.0
    failure_reason: str | None = None
    objects: list[DataObject] = field(default_factory=list)
    dedupe_ids: set[str] = field(default_factory=set)
    discarded: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    queue_url: str | None = None
    categories: list[str] = field(default_factory=list)
    started: float | None = None
    last_object_at: float | None = None
    stopping_since: float | None = None
    output_written: bool = False
    rng: random.Random = field(default_factory=random.Random)
    next_seq: int = 0

    @property
    def attr(self) -> str:
        return str(self.request["LabelAttributeName"])

    @property
    def human(self) -> dict[str, Any]:
        value: dict[str, Any] = self.request["HumanTaskConfig"]
        return value

    @property
    def sns_topic(self) -> str | None:
        src = self.request["InputConfig"]["DataSource"].get("SnsDataSource") or {}
        topic = src.get("SnsTopicArn")
        return str(topic) if topic else None

    @property
    def manifest_uri(self) -> str | None:
        src = self.request["InputConfig"]["DataSource"].get("S3DataSource") or {}
        uri = src.get("ManifestS3Uri")
        return str(uri) if uri else None

    @property
    def task_type(self) -> str:
        return task_type_of(self.human.get("PreHumanTaskLambdaArn"))

    @property
    def output_uri(self) -> str:
        base = str(self.request["OutputConfig"]["S3OutputPath"]).rstrip("/")
        return f"{base}/{self.name}/manifests/output/output.manifest"

    @property
    def lifetime(self) -> int:
        return int(self.human.get("TaskAvailabilityLifetimeInSeconds") or DEFAULT_LIFETIME)

    def counters(self) -> dict[str, int]:
        own = [o for o in self.objects if not o.carried]
        labeled = sum(1 for o in own if o.state == "labeled")
        return {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": sum(1 for o in own if o.state in ("expired", "failed")),
            "Unlabeled": sum(1 for o in own if o.state == "available"),
        }


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


class GroundTruthEmulator:
    """All labeling jobs of the local cloud. Every public method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings = Settings()
        self.offset = 0.0
        self.jobs: dict[str, Job] = {}
        self.aws_endpoint = "http://127.0.0.1:4566"
        self._clients: dict[tuple[str, str], Any] = {}
        self._session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - dummy local credentials
        )
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ---------------------------------------------------------------- plumbing
    def configure(self, aws_endpoint: str) -> None:
        self.aws_endpoint = aws_endpoint

    def now(self) -> float:
        """Emulated time, to the millisecond like the timestamps of the real API."""
        return round(time.time() + self.offset, 3)

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self.lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self.aws_endpoint,
                    config=Config(
                        retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30
                    ),
                )
            return self._clients[key]

    def start_ticker(self) -> None:
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick_loop, name="gtlocal-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
            except Exception:  # keep ticking; a broken job must not stop the others
                LOG.exception("tick failed")

    # ---------------------------------------------------------------- API
    def call(self, operation: str, body: dict[str, Any], region: str) -> dict[str, Any]:
        with self.lock:
            self.tick()
            if operation == "CreateLabelingJob":
                return self.create_job(body, region)
            if operation == "DescribeLabelingJob":
                return self.describe_job(body, region)
            if operation == "ListLabelingJobs":
                return self.list_jobs(body, region)
            if operation == "StopLabelingJob":
                return self.stop_job(body, region)
        raise validation(f"Unsupported operation {operation}")

    def _job(self, body: dict[str, Any], region: str) -> Job:
        name = body.get("LabelingJobName")
        if not isinstance(name, str) or not name:
            raise validation(
                "1 validation error detected: Value null at 'labelingJobName' failed to satisfy constraint: "
                "Member must not be null"
            )
        job = self.jobs.get(name)
        if job is None or job.region != region:
            raise not_found(f"Could not find labeling job '{name}'.")
        return job

    def create_job(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        validate_create(body)
        name = str(body["LabelingJobName"])
        existing = self.jobs.get(name)
        if existing is not None and existing.region == region:
            raise in_use(
                "Job name must be unique within an AWS account and region, "
                f"and a job with this name already exists ({existing.arn})"
            )
        account = account_of_role(str(body["RoleArn"]))
        now = self.now()
        job = Job(
            name=name,
            arn=f"arn:aws:sagemaker:{region}:{account}:labeling-job/{name.lower()}",
            region=region,
            account=account,
            request=json.loads(json.dumps(body)),
            created=now,
            last_modified=now,
            reference_code=uuid.uuid4().hex,
            rng=random.Random(f"{self.settings.label_seed}:{name}"),
        )
        if job.sns_topic:
            self._subscribe(job)
        self.jobs[name] = job
        self._emit_state(job)
        return {"LabelingJobArn": job.arn}

    def _subscribe(self, job: Job) -> None:
        """Create ``GroundTruth-<name>`` and subscribe it to the input topic, as Ground Truth does."""
        topic = job.sns_topic
        assert topic is not None
        sqs = self.client("sqs", job.region)
        sns = self.client("sns", job.region)
        try:
            sns.get_topic_attributes(TopicArn=topic)
        except ClientError as exc:
            raise validation(
                f"The input SNS topic {topic} does not exist or is not accessible: {exc}"
            ) from exc
        queue_name = f"GroundTruth-{job.name.lower()}"
        url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        job.queue_url = url

    def describe_job(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        job = self._job(body, region)
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
        for key in ("LabelCategoryConfigS3Uri", "StoppingConditions", "LabelingJobAlgorithmsConfig", "Tags"):
            if key in job.request:
                result[key] = job.request[key]
        if job.failure_reason:
            result["FailureReason"] = job.failure_reason
        if job.output_written:
            result["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
        return result

    def _summary(self, job: Job) -> dict[str, Any]:
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

    def list_jobs(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        jobs = [j for j in self.jobs.values() if j.region == region]

        def ts(key: str) -> float | None:
            value = body.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise validation(f"{key} must be a timestamp")
            return float(value)

        for key, attr, after in (
            ("CreationTimeAfter", "created", True),
            ("CreationTimeBefore", "created", False),
            ("LastModifiedTimeAfter", "last_modified", True),
            ("LastModifiedTimeBefore", "last_modified", False),
        ):
            bound = ts(key)
            if bound is not None:
                jobs = [j for j in jobs if (getattr(j, attr) > bound if after else getattr(j, attr) < bound)]
        contains = body.get("NameContains")
        if contains is not None:
            if not isinstance(contains, str) or len(contains) > 63:
                raise validation("NameContains must be a string of at most 63 characters")
            jobs = [j for j in jobs if contains.lower() in j.name.lower()]
        status = body.get("StatusEquals")
        if status is not None:
            if status not in STATUSES:
                raise validation(
                    f"1 validation error detected: Value '{status}' at 'statusEquals' "
                    "failed to satisfy constraint: "
                    f"Member must satisfy enum value set: [{', '.join(STATUSES)}]"
                )
            jobs = [j for j in jobs if j.status == status]
        sort_by = body.get("SortBy", "CreationTime")
        if sort_by not in ("Name", "CreationTime", "Status"):
            raise validation(
                f"1 validation error detected: Value '{sort_by}' at 'sortBy' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Name, CreationTime, Status]"
            )
        order = body.get("SortOrder", "Ascending")
        if order not in ("Ascending", "Descending"):
            raise validation(
                f"1 validation error detected: Value '{order}' at 'sortOrder' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Ascending, Descending]"
            )
        sort_key: dict[str, Any] = {
            "Name": lambda j: (j.name, j.created),
            "CreationTime": lambda j: (j.created, j.name),
            "Status": lambda j: (j.status, j.created, j.name),
        }
        jobs.sort(key=sort_key[sort_by], reverse=order == "Descending")
        max_results = body.get("MaxResults", 10)
        if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= 100:
            raise validation(
                f"1 validation error detected: Value '{max_results}' at 'maxResults' "
                "failed to satisfy constraint: "
                "Member must have value between 1 and 100"
            )
        start = 0
        token = body.get("NextToken")
        if token is not None:
            start = self._decode_token(token)
        page = jobs[start : start + max_results]
        result: dict[str, Any] = {"LabelingJobSummaryList": [self._summary(j) for j in page]}
        if start + max_results < len(jobs):
            raw = json.dumps({"gtlocal": "ListLabelingJobs", "offset": start + max_results})
            result["NextToken"] = base64.urlsafe_b64encode(raw.encode()).decode()
        return result

    @staticmethod
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

    def stop_job(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        job = self._job(body, region)
        if job.status in ("Initializing", "InProgress"):
            job.stopping_since = self.now()
            self._set_status(job, "Stopping")
            self._process(job)
        elif job.status != "Stopping":
            raise validation(f"The labeling job {job.name} is in status {job.status} and cannot be stopped.")
        return {}

    # ---------------------------------------------------------------- time
    def tick(self) -> None:
        with self.lock:
            for job in list(self.jobs.values()):
                if job.status in TERMINAL:
                    continue
                try:
                    self._process(job)
                except (BotoCoreError, ClientError) as exc:
                    LOG.warning("job %s: AWS call failed during tick: %s", job.name, exc)

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.tick()  # what arrived before the jump arrived at the old time
            self.offset += seconds
            self.tick()
            return self.now()

    def _process(self, job: Job) -> None:
        now = self.now()
        if job.status == "Initializing":
            self._drain_queue(job, accept=False)
            if now - job.created >= self.settings.initializing_seconds:
                self._start(job)
        if job.status == "InProgress":
            self._drain_queue(job, accept=True)
            self._expire_objects(job, now)
            if now - job.created >= self.settings.job_expiry_seconds:
                self._end(
                    job, self.settings.expiry_status, "ClientError: The labeling job expired after 30 days."
                )
            elif job.sns_topic:
                last = max(job.last_object_at or 0.0, job.started or job.created)
                if now - last >= self.settings.idle_stop_seconds:
                    self._end(
                        job,
                        self.settings.idle_stop_status,
                        "ClientError: The streaming labeling job was idle for more than 10 days.",
                    )
            elif all(o.state != "available" for o in job.objects):
                self._set_status(job, "Completed")
        if job.status == "Stopping":
            since = job.stopping_since if job.stopping_since is not None else now
            if now - since >= self.settings.stopping_seconds:
                self._set_status(job, "Stopped")

    def _end(self, job: Job, status: str, reason: str) -> None:
        if status == "Failed":
            job.failure_reason = reason
        self._set_status(job, status)

    def _fail(self, job: Job, reason: str) -> None:
        job.failure_reason = reason
        self._set_status(job, "Failed")

    def _start(self, job: Job) -> None:
        """Initializing -> InProgress: read categories and the input manifest through S3."""
        s3 = self.client("s3", job.region)
        cat_uri = job.request.get("LabelCategoryConfigS3Uri")
        if not cat_uri:
            self._fail(job, "ClientError: LabelCategoryConfigS3Uri is required for the built-in task types.")
            return
        try:
            bucket, key = split_s3(str(cat_uri))
            doc = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            labels = [str(item["label"]) for item in doc["labels"]]
            if not labels:
                raise ValueError("no labels")
        except (ClientError, ValueError, KeyError, TypeError) as exc:
            self._fail(
                job, f"ClientError: Cannot read the label category configuration file {cat_uri}: {exc}"
            )
            return
        job.categories = labels
        if job.manifest_uri:
            try:
                bucket, key = split_s3(job.manifest_uri)
                text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            except (ClientError, ValueError, UnicodeDecodeError) as exc:
                self._fail(job, f"ClientError: Cannot read the input manifest {job.manifest_uri}: {exc}")
                return
            lines: list[dict[str, Any]] = []
            for number, raw in enumerate(text.splitlines(), start=1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    line = None
                if not isinstance(line, dict) or not (
                    "source-ref" in line or "source" in line or job.attr in line
                ):
                    self._fail(
                        job,
                        f"ClientError: Line {number} of the input manifest {job.manifest_uri} "
                        "is not a JSON object "
                        "with a 'source-ref' or 'source' key.",
                    )
                    return
                lines.append(line)
            now = self.now()
            for line in lines:
                obj = self._new_object(job, line, f"manifest-line-{job.next_seq}", now)
                if job.attr in line:
                    obj.state = "labeled"
                    obj.carried = True
                    obj.output = line
        job.started = self.now()
        self._set_status(job, "InProgress")
        self._write_output(job)

    def _new_object(self, job: Job, line: dict[str, Any], dedupe_id: str, now: float) -> DataObject:
        obj = DataObject(seq=job.next_seq, line=line, dedupe_id=dedupe_id, arrived_at=now)
        job.next_seq += 1
        job.objects.append(obj)
        job.dedupe_ids.add(dedupe_id)
        return obj

    def _drain_queue(self, job: Job, *, accept: bool) -> None:
        if job.queue_url is None:
            return
        sqs = self.client("sqs", job.region)
        while True:
            messages = sqs.receive_message(
                QueueUrl=job.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self._ingest(job, message["Body"], accept=accept)
                sqs.delete_message(QueueUrl=job.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _ingest(self, job: Job, body: str, *, accept: bool) -> None:
        now = self.now()
        message_id = None
        payload = body
        try:
            envelope = json.loads(body)
            if (
                isinstance(envelope, dict)
                and envelope.get("Type") == "Notification"
                and "Message" in envelope
            ):
                message_id = str(envelope.get("MessageId"))
                payload = str(envelope["Message"])
        except json.JSONDecodeError:
            pass
        message_id = message_id or str(uuid.uuid4())
        if not accept:
            job.discarded.append(
                {
                    "message_id": message_id,
                    "body": payload,
                    "reason": "received while the job was Initializing",
                }
            )
            return
        try:
            line = json.loads(payload)
        except json.JSONDecodeError:
            line = None
        if not isinstance(line, dict) or not (
            isinstance(line.get("source-ref"), str) or isinstance(line.get("source"), str)
        ):
            job.rejected.append(
                {
                    "message_id": message_id,
                    "body": payload,
                    "reason": "not a JSON object with a string 'source-ref' or 'source'",
                }
            )
            return
        dedupe_id = message_id
        key_name = line.get("dataset-objectid-attribute-name")
        if key_name is not None:
            if not isinstance(key_name, str) or not isinstance(line.get(key_name), str | int | float):
                job.rejected.append(
                    {
                        "message_id": message_id,
                        "body": payload,
                        "reason": f"dataset-objectid-attribute-name {key_name!r} names no value in the line",
                    }
                )
                return
            dedupe_id = str(line[key_name])
        job.last_object_at = now
        if dedupe_id in job.dedupe_ids:
            return
        self._new_object(job, line, dedupe_id, now)

    def _expire_objects(self, job: Job, now: float) -> None:
        changed = False
        for obj in job.objects:
            if obj.state == "available" and now - obj.arrived_at >= job.lifetime:
                self._terminate(job, obj, "expired", "ClientError: The task availability lifetime elapsed.")
                self._emit_task(job, obj, "Expired")
                changed = True
        if changed:
            self._write_output(job)

    # ---------------------------------------------------------------- objects and output
    def _metadata(self, job: Job) -> dict[str, Any]:
        types = {
            "image-classification": "groundtruth/image-classification",
            "image-multilabel-classification": "groundtruth/image-classification-multilabel",
            "bounding-box": "groundtruth/object-detection",
            "semantic-segmentation": "groundtruth/semantic-segmentation",
        }
        return {
            "job-name": f"labeling-job/{job.name}",
            "human-annotated": "yes",
            "creation-date": iso(self.now()),
            "type": types[job.task_type],
        }

    def _label(self, job: Job, obj: DataObject) -> None:
        rng = job.rng
        meta = self._metadata(job)
        index = rng.randrange(len(job.categories))
        confidence = round(rng.uniform(0.7, 0.99), 2)
        value: Any
        if job.task_type == "image-multilabel-classification":
            picks = sorted({index, rng.randrange(len(job.categories))})
            value = picks
            meta["class-map"] = {str(i): job.categories[i] for i in picks}
            meta["confidence-map"] = {str(i): confidence for i in picks}
            meta["class-name"] = [job.categories[i] for i in picks]
            meta["confidence"] = confidence
        elif job.task_type == "bounding-box":
            width, height = 1024, 768
            left, top = rng.randrange(0, 512), rng.randrange(0, 384)
            value = {
                "image_size": [{"width": width, "height": height, "depth": 3}],
                "annotations": [
                    {
                        "class_id": index,
                        "left": left,
                        "top": top,
                        "width": rng.randrange(16, 512),
                        "height": rng.randrange(16, 384),
                    }
                ],
            }
            meta["objects"] = [{"confidence": confidence}]
            meta["class-map"] = {str(index): job.categories[index]}
            meta["class-name"] = job.categories[index]
            meta["confidence"] = confidence
        else:
            value = index
            meta["class-name"] = job.categories[index]
            meta["confidence"] = confidence
        out = dict(obj.line)
        out[job.attr] = value
        out[f"{job.attr}-metadata"] = meta
        obj.output = out
        obj.state = "labeled"

    def _terminate(self, job: Job, obj: DataObject, state: str, reason: str) -> None:
        meta = self._metadata(job)
        meta["failure-reason"] = reason
        out = dict(obj.line)
        out[f"{job.attr}-metadata"] = meta
        obj.output = out
        obj.state = state
        obj.failure_reason = reason

    def _write_output(self, job: Job) -> None:
        """Rewrite the output manifest: every terminal object, in arrival order."""
        lines = [json.dumps(o.output) for o in job.objects if o.output is not None and o.state != "available"]
        bucket, key = split_s3(job.output_uri)
        body = ("\n".join(lines) + "\n") if lines else ""
        try:
            self.client("s3", job.region).put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
            job.output_written = True
        except ClientError as exc:
            LOG.warning("job %s: cannot write output manifest %s: %s", job.name, job.output_uri, exc)
        job.last_modified = self.now()

    def workforce(self, job_name: str, label: int, decline: int, fail: int) -> dict[str, int]:
        with self.lock:
            self.tick()
            job = self.jobs.get(job_name)
            if job is None:
                raise ControlError(f"unknown labeling job {job_name!r}", status=404)
            if job.status != "InProgress":
                raise ControlError(
                    f"job {job_name} is {job.status}; workers act only on InProgress jobs", status=409
                )
            done = {"labeled": 0, "declined": 0, "failed": 0}
            output_topic = job.request["OutputConfig"].get("SnsTopicArn")
            for action, count in (("label", label), ("decline", decline), ("fail", fail)):
                for _ in range(count):
                    obj = next((o for o in job.objects if o.state == "available"), None)
                    if obj is None:
                        break
                    if action == "label":
                        self._label(job, obj)
                        done["labeled"] += 1
                        self._emit_task(job, obj, "Submitted")
                        if output_topic and job.sns_topic:
                            self.client("sns", job.region).publish(
                                TopicArn=output_topic, Message=json.dumps(obj.output)
                            )
                    elif action == "decline":
                        self._terminate(
                            job, obj, "expired", "ClientError: Every worker assigned to the task declined it."
                        )
                        done["declined"] += 1
                        self._emit_task(job, obj, "Declined")
                    else:
                        self._terminate(
                            job, obj, "failed", "ClientError: Annotation consolidation failed for the task."
                        )
                        done["failed"] += 1
                        self._emit_task(job, obj, "Failed")
            if any(done.values()):
                self._write_output(job)
            self._process(job)
            return done

    def fail_job(self, job_name: str, reason: str) -> dict[str, Any]:
        with self.lock:
            self.tick()
            job = self.jobs.get(job_name)
            if job is None:
                raise ControlError(f"unknown labeling job {job_name!r}", status=404)
            if job.status in TERMINAL:
                raise ControlError(f"job {job_name} already ended ({job.status})", status=409)
            self._fail(job, reason)
            return self.job_view(job_name)

    # ---------------------------------------------------------------- status and events
    def _set_status(self, job: Job, status: str) -> None:
        if job.status == status:
            return
        job.status = status
        job.last_modified = self.now()
        if status in TERMINAL and job.started is not None:
            self._write_output(job)
        self._emit_state(job)

    def _put_events(self, job: Job, entries: list[dict[str, Any]]) -> None:
        events = self.client("events", job.region)
        for start in range(0, len(entries), 10):
            answer = events.put_events(Entries=entries[start : start + 10])
            if answer.get("FailedEntryCount"):
                LOG.warning("job %s: %s events not accepted", job.name, answer["FailedEntryCount"])

    def _emit_state(self, job: Job) -> None:
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": STATE_CHANGE,
            "Resources": [job.arn],
            "Detail": json.dumps({"LabelingJobStatus": job.status}),
        }
        self._put_events(job, [entry] * self.settings.duplicate_events)

    def _emit_task(self, job: Job, obj: DataObject, state: str) -> None:
        detail = {
            "labeling-job-arn": job.arn,
            "workteam-arn": job.human["WorkteamArn"],
            "task-id": f"{job.reference_code}-{obj.seq}",
            "state": state,
            "data-object": obj.source,
        }
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": TASK_CHANGE,
            "Resources": [job.arn],
            "Detail": json.dumps(detail),
        }
        self._put_events(job, [entry])

    # ---------------------------------------------------------------- control views
    def job_view(self, job_name: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(job_name)
            if job is None:
                raise ControlError(f"unknown labeling job {job_name!r}", status=404)
            return {
                "name": job.name,
                "arn": job.arn,
                "status": job.status,
                "failure_reason": job.failure_reason,
                "counters": job.counters(),
                "queue_url": job.queue_url,
                "output_manifest": job.output_uri if job.output_written else None,
                "categories": job.categories,
                "objects": [o.view(job.attr) for o in job.objects],
                "discarded": list(job.discarded),
                "rejected": list(job.rejected),
            }

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.settings = Settings()
            self.offset = 0.0
