"""The Ground Truth backend: labeling jobs, their data objects, and the rules time applies to them.

No HTTP here: ``responses`` parses and validates the API requests and calls this backend; the
control API (``gtlocal.control``) calls it for the workforce, the clock and the settings. AWS is
reached only through ``aws`` (``clients_for(job)`` for a job's work, as its role). Each rule cites
the AWS page it follows; what the documentation leaves open is a setting (``settings``).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from gtlocal.errors import ControlError, in_use, not_found, validation
from gtlocal.faults import EventFaults
from gtlocal.groundtruth import workforce
from gtlocal.groundtruth.aws import AwsClients, JobAccessDenied, JobAws
from gtlocal.groundtruth.clock import Clock, Ticker
from gtlocal.groundtruth.settings import TERMINAL_STATUSES, Settings

LOG = logging.getLogger("gtlocal.groundtruth")

STATUSES = ("Initializing", "InProgress", "Completed", "Failed", "Stopping", "Stopped")
TERMINAL = frozenset(TERMINAL_STATUSES)
STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
TASK_CHANGE = "SageMaker Ground Truth Labeling Job Task Status Change"
# HumanTaskConfig.TaskAvailabilityLifetimeInSeconds defaults: 6 hours for Amazon Mechanical
# Turk, 30 days for private and vendor workforces.
PUBLIC_DEFAULT_LIFETIME = 21_600
PRIVATE_DEFAULT_LIFETIME = 2_592_000
# "If a data object is not sent to a worker after 14 days, it expires and is removed from the
# queue" (Streaming labeling jobs, "Manage labeling requests with an Amazon SQS queue").
QUEUE_RETENTION_SECONDS = 1_209_600
# "Your deduplication key can be up to 140 characters ... ^[$a-zA-Z0-9](-*[a-zA-Z0-9])*",
# "Your deduplication ID can be up to 1,024 characters" (Streaming, "Duplicate Message Handling").
DEDUPE_KEY = re.compile(r"[$a-zA-Z0-9](-*[a-zA-Z0-9])*")
ROLE_ACCOUNT = re.compile(r"^arn:aws[a-z\-]*:iam::(\d{12}):role/")


def account_of_role(role_arn: str) -> str:
    match = ROLE_ACCOUNT.match(role_arn)
    return match.group(1) if match else "123456789012"


@dataclass
class DataObject:
    """One data object a job received (manifest line, SNS message, S3 event object)."""

    seq: int
    line: dict[str, Any]  # the data object line as received
    dedupe_id: str
    arrived_at: float
    stream_fields: dict[str, Any] = field(default_factory=dict)  # the documented dedupe key fields
    state: str = "available"  # available | labeled | expired | failed
    carried: bool = False  # an input manifest line that already had the label attribute
    output: dict[str, Any] | None = None  # the output-manifest line once terminal
    failure_reason: str | None = None
    done_at: float | None = None

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
    rng: random.Random
    status: str = "Initializing"
    last_modified: float = 0.0
    failure_reason: str | None = None
    objects: list[DataObject] = field(default_factory=list)
    dedupe_ids: set[str] = field(default_factory=set)
    discarded: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    queue_url: str | None = None
    subscription_arn: str | None = None
    categories: list[str] = field(default_factory=list)
    audit_attr: str | None = None
    started: float | None = None
    last_received_at: float | None = None
    last_done_at: float | None = None
    stopping_since: float | None = None
    ended_at: float | None = None
    output_written: bool = False
    next_seq: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.region, self.name.lower()

    @property
    def attr(self) -> str:
        return str(self.request["LabelAttributeName"])

    @property
    def human(self) -> dict[str, Any]:
        value: dict[str, Any] = self.request["HumanTaskConfig"]
        return value

    @property
    def role_arn(self) -> str:
        return str(self.request["RoleArn"])

    @property
    def sns_topic(self) -> str | None:
        topic = (self.request["InputConfig"]["DataSource"].get("SnsDataSource") or {}).get("SnsTopicArn")
        return str(topic) if topic else None

    @property
    def manifest_uri(self) -> str | None:
        uri = (self.request["InputConfig"]["DataSource"].get("S3DataSource") or {}).get("ManifestS3Uri")
        return str(uri) if uri else None

    @property
    def output_topic(self) -> str | None:
        topic = self.request["OutputConfig"].get("SnsTopicArn")
        return str(topic) if topic else None

    @property
    def kms_key_id(self) -> str | None:
        key = self.request["OutputConfig"].get("KmsKeyId")
        return str(key) if key else None

    @property
    def task(self) -> workforce.TaskType:
        return workforce.task_type_of(self.human.get("PreHumanTaskLambdaArn"))

    @property
    def job_dir(self) -> str:
        return f"{str(self.request['OutputConfig']['S3OutputPath']).rstrip('/')}/{self.name}"

    @property
    def output_uri(self) -> str:
        return f"{self.job_dir}/manifests/output/output.manifest"

    @property
    def workers(self) -> int:
        return int(self.human.get("NumberOfHumanWorkersPerDataObject") or 1)

    @property
    def lifetime(self) -> int:
        given = self.human.get("TaskAvailabilityLifetimeInSeconds")
        if given:
            return int(given)
        public = ":workteam/public-crowd/" in str(self.human.get("WorkteamArn", ""))
        return PUBLIC_DEFAULT_LIFETIME if public else PRIVATE_DEFAULT_LIFETIME

    def available(self) -> list[DataObject]:
        return [o for o in self.objects if o.state == "available"]

    def own_lambdas(self) -> list[str]:
        """The pre-annotation and consolidation Lambdas of this job's own account (custom workflow)."""
        found = [
            self.human.get("PreHumanTaskLambdaArn"),
            (self.human.get("AnnotationConsolidationConfig") or {}).get("AnnotationConsolidationLambdaArn"),
        ]
        return [str(arn) for arn in found if isinstance(arn, str) and arn.split(":")[4:5] == [self.account]]

    def counters(self) -> dict[str, int]:
        own = [o for o in self.objects if not o.carried]
        labeled = sum(1 for o in own if o.state == "labeled")
        failed = sum(1 for o in own if o.state in ("expired", "failed")) + len(self.rejected)
        return {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": failed,
            "Unlabeled": sum(1 for o in own if o.state == "available"),
        }


class GroundTruthBackend:
    """Every labeling job of the local cloud. Public methods take the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings = Settings()
        self.clock = Clock()
        self.jobs: dict[tuple[str, str], Job] = {}
        self.aws = AwsClients()
        self.ticker = Ticker(self.tick)
        # Events lost or held back on the emulated clock (``gtlocal.faults``, control API).
        self.event_faults = EventFaults()

    # ---------------------------------------------------------------- plumbing
    @property
    def aws_endpoint(self) -> str:
        return self.aws.endpoint

    def configure(self, aws_endpoint: str, own_cloud: bool = True) -> None:
        """``own_cloud``: the endpoint is this process's local cloud, so each job acts as its role."""
        self.aws.configure(aws_endpoint, own_cloud)

    def clients_for(self, job: Job) -> JobAws:
        """The one seam every AWS call made for ``job`` goes through (as the job's role)."""
        return self.aws.for_job(job.role_arn, job.region, job.account)

    def start_ticker(self) -> None:
        self.ticker.start()

    def stop_ticker(self) -> None:
        self.ticker.stop()

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.settings = Settings()
            self.event_faults.clear()
            self.clock.reset()
            self.aws.reset()

    # ---------------------------------------------------------------- the API operations
    def create_job(self, body: dict[str, Any], region: str) -> Job:
        """CreateLabelingJob, after validation. Names are unique per account and Region and not
        case sensitive (API reference, LabelingJobName)."""
        with self.lock:
            self.tick()
            name = str(body["LabelingJobName"])
            existing = self.jobs.get((region, name.lower()))
            if existing is not None:
                raise in_use(
                    "Job name must be unique within an AWS account and region, "
                    f"and a job with this name already exists ({existing.arn})"
                )
            topic = (body["InputConfig"]["DataSource"].get("SnsDataSource") or {}).get("SnsTopicArn")
            if topic and not self.aws.service(region).topic_exists(str(topic)):
                raise validation(f"The input SNS topic {topic} does not exist or is not accessible.")
            account = account_of_role(str(body["RoleArn"]))
            now = self.clock.now()
            job = Job(
                name=name,
                arn=f"arn:aws:sagemaker:{region}:{account}:labeling-job/{name.lower()}",
                region=region,
                account=account,
                request=json.loads(json.dumps(body)),
                created=now,
                last_modified=now,
                reference_code=uuid.uuid4().hex,
                rng=random.Random(f"{self.settings.label_seed}:{name.lower()}"),
            )
            self.jobs[job.key] = job
            self._emit_state(job)
            self._process(job)
            return job

    def job(self, name: str, region: str) -> Job:
        """The job named ``name`` in any letter case, or ``ResourceNotFound``."""
        with self.lock:
            self.tick()
            job = self.jobs.get((region, name.lower()))
            if job is None:
                raise not_found(f"Could not find labeling job '{name}'.")
            return job

    def list_jobs(self, region: str, query: dict[str, Any]) -> list[Job]:
        """ListLabelingJobs filters and order (pagination is the caller's)."""
        with self.lock:
            self.tick()
            jobs = [j for j in self.jobs.values() if j.region == region]
        for key, attr, after in (
            ("CreationTimeAfter", "created", True),
            ("CreationTimeBefore", "created", False),
            ("LastModifiedTimeAfter", "last_modified", True),
            ("LastModifiedTimeBefore", "last_modified", False),
        ):
            bound = query.get(key)
            if bound is not None:
                jobs = [j for j in jobs if (getattr(j, attr) > bound if after else getattr(j, attr) < bound)]
        contains = query.get("NameContains")
        if contains:
            jobs = [j for j in jobs if str(contains).lower() in j.name.lower()]
        status = query.get("StatusEquals")
        if status:
            jobs = [j for j in jobs if j.status == status]
        sort_keys: dict[str, Any] = {
            "Name": lambda j: (j.name, j.created),
            "CreationTime": lambda j: (j.created, j.name),
            "Status": lambda j: (j.status, j.created, j.name),
        }
        jobs.sort(
            key=sort_keys[query.get("SortBy") or "CreationTime"],
            reverse=query.get("SortOrder") == "Descending",
        )
        return jobs

    def stop_job(self, name: str, region: str) -> None:
        with self.lock:
            job = self.job(name, region)
            if job.status in ("Initializing", "InProgress"):
                self._stop(job, self.clock.now())
                self._process(job)
            elif job.status != "Stopping":
                raise validation(
                    f"The labeling job {job.name} is in status {job.status} and cannot be stopped."
                )

    # ---------------------------------------------------------------- time
    def tick(self) -> None:
        """Apply time to every job that has not ended."""
        with self.lock:
            for held in self.event_faults.due(self.clock.now()):
                held.deliver(held.entries)
            for job in list(self.jobs.values()):
                if job.status not in TERMINAL:
                    self._process(job)

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.tick()  # what arrived before the jump arrived at the old time
            self.clock.advance(seconds)
            self.tick()
            return self.clock.now()

    def _process(self, job: Job) -> None:
        now = self.clock.now()
        try:
            if job.status == "Initializing":
                if job.sns_topic and job.queue_url is None:
                    self._create_queue(job)
                self._drain(job, accept=False)
                start_at = job.created + self.settings.initializing_seconds
                if now >= start_at:
                    self._start(job, start_at)
            if job.status == "InProgress":
                self._drain(job, accept=True)
                self._run_rules(job, now)
            if job.status == "Stopping":
                assert job.stopping_since is not None
                stopped_at = job.stopping_since + self.settings.stopping_seconds
                if now >= stopped_at:
                    self._set_status(job, "Stopped", stopped_at)
        except JobAccessDenied as denied:
            LOG.warning("job %s: %s", job.name, denied.reason)
            self._set_failed(job, denied.reason, now)
        except (BotoCoreError, ClientError) as exc:
            LOG.warning("job %s: AWS call failed: %s", job.name, exc)

    def _run_rules(self, job: Job, now: float) -> None:
        """Object lifetimes, the job expiry, the idle stop and completion, in the order they fall due.

        - An object not labeled within TaskAvailabilityLifetimeInSeconds expires.
        - "Labeling jobs fail after 30 days" (LabelingJobStoppingConditions): ``expiry_status``.
        - Streaming: "if no data objects are fed to the Amazon SNS input topic and all the objects
          fed to the labeling job are already labeled, Ground Truth starts a timer. After the timer
          starts, if no items are received within a 10 day period, the labeling job is stopped"
          ("Stop a Streaming Labeling Job"): ``idle_stop_status``.
        - A job fed by an input manifest only is Completed when every object is done.
        """
        changed = False
        while job.status == "InProgress":
            available = job.available()
            object_due = min((o.arrived_at + job.lifetime for o in available), default=math.inf)
            expiry_due = job.created + self.settings.job_expiry_seconds
            idle_due = complete_due = math.inf
            if not available:
                idle_since = max(
                    job.started or job.created, job.last_received_at or 0.0, job.last_done_at or 0.0
                )
                if job.sns_topic:
                    idle_due = idle_since + self.settings.idle_stop_seconds
                else:
                    complete_due = idle_since
            due = min(object_due, expiry_due, idle_due, complete_due)
            if due > now:
                break
            if object_due == due:
                oldest = min(available, key=lambda o: o.arrived_at)
                self._finish(
                    job, oldest, "expired", "ClientError: The task availability lifetime elapsed.", due
                )
                changed = True
            elif complete_due == due:
                self._set_status(job, "Completed", due)
            elif expiry_due == due:
                self._end(
                    job,
                    self.settings.expiry_status,
                    "ClientError: The labeling job expired after 30 days.",
                    due,
                )
            else:
                self._end(
                    job,
                    self.settings.idle_stop_status,
                    "ClientError: The streaming labeling job was idle for more than 10 days.",
                    due,
                )
        if changed and job.status == "InProgress":
            self._write_output(job)

    # ---------------------------------------------------------------- life cycle
    def _create_queue(self, job: Job) -> None:
        """Create ``GroundTruth-<name lower-case>`` and subscribe it to the input topic, as the
        job's role ("Manage labeling requests with an Amazon SQS queue")."""
        aws = self.clients_for(job)
        assert job.sns_topic is not None
        url, queue_arn = aws.create_queue(
            f"GroundTruth-{job.name.lower()}", {"MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS)}
        )
        aws.allow_topic(url, job.sns_topic)
        job.subscription_arn = aws.subscribe(job.sns_topic, queue_arn)
        job.queue_url = url

    def _start(self, job: Job, at: float) -> None:
        """Initializing -> InProgress: read the label categories and the input manifest."""
        aws = self.clients_for(job)
        task = job.task
        if not task.simulated:
            self._set_failed(
                job,
                f"ClientError: The task type of {job.human.get('PreHumanTaskLambdaArn')} is not simulated by "
                "the local Ground Truth emulator.",
                at,
            )
            return
        cat_uri = job.request.get("LabelCategoryConfigS3Uri")
        if cat_uri:
            try:
                doc = json.loads(aws.read_object(str(cat_uri)))
                labels = [str(item["label"]) for item in doc["labels"]]
            except (ClientError, ValueError, KeyError, TypeError) as exc:
                self._set_failed(
                    job,
                    f"ClientError: Cannot read the label category configuration file {cat_uri}: {exc}",
                    at,
                )
                return
            # LabelCategoryConfigS3Uri: at least two categories for (multi-label) classification,
            # one for the other types; "Each label category must be unique".
            problem = None
            if len(labels) < task.min_labels:
                problem = f"needs at least {task.min_labels} label categories, found {len(labels)}"
            elif len(set(labels)) != len(labels):
                problem = "has duplicate label categories"
            if problem:
                self._set_failed(
                    job, f"ClientError: The label category configuration file {cat_uri} {problem}.", at
                )
                return
            job.categories = labels
            declared = doc.get("auditLabelAttributeName")
            job.audit_attr = str(declared) if declared else None
        elif task.categories_required:
            self._set_failed(
                job, "ClientError: LabelCategoryConfigS3Uri is required for the built-in task types.", at
            )
            return
        if job.manifest_uri and not self._read_manifest(job, aws, at):
            return
        job.started = at
        self._set_status(job, "InProgress", at)
        self._write_output(job)

    def _read_manifest(self, job: Job, aws: JobAws, at: float) -> bool:
        """The input manifest's objects go to workers first; lines that already carry the label
        attribute are not sent again ("Chaining labeling jobs")."""
        assert job.manifest_uri is not None
        try:
            text = aws.read_object(job.manifest_uri).decode("utf-8")
        except (ClientError, ValueError, UnicodeDecodeError) as exc:
            self._set_failed(
                job, f"ClientError: Cannot read the input manifest {job.manifest_uri}: {exc}", at
            )
            return False
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
                self._set_failed(
                    job,
                    f"ClientError: Line {number} of the input manifest {job.manifest_uri} "
                    "is not a JSON object with a 'source-ref' or 'source' key.",
                    at,
                )
                return False
            lines.append(line)
        for line in lines:
            obj = self._new_object(job, line, f"manifest-line-{job.next_seq}", at)
            if job.attr in line:
                obj.state, obj.carried, obj.output, obj.done_at = "labeled", True, line, at
        return True

    def _stop(self, job: Job, at: float) -> None:
        job.stopping_since = at
        self._set_status(job, "Stopping", at)

    def _end(self, job: Job, status: str, reason: str, at: float) -> None:
        if status == "Failed":
            self._set_failed(job, reason, at)
        elif status == "Stopped":  # "When a labeling job is stopped, its status is STOPPING ..."
            self._stop(job, at)
        else:
            self._set_status(job, status, at)

    def _set_failed(self, job: Job, reason: str, at: float) -> None:
        if job.status in TERMINAL:
            return
        job.failure_reason = reason
        self._set_status(job, "Failed", at)

    def _set_status(self, job: Job, status: str, at: float) -> None:
        if job.status == status:
            return
        job.status = status
        job.last_modified = at
        if status in TERMINAL:
            job.ended_at = at
            self._finish_job(job)
        self._emit_state(job)

    def _finish_job(self, job: Job) -> None:
        """A job has ended: its final output manifest; a stopped job's queue is unsubscribed."""
        if job.started is not None:
            try:
                self._write_output(job)
            except JobAccessDenied as denied:
                LOG.warning("job %s: %s", job.name, denied.reason)
                if job.status != "Failed":
                    job.status, job.failure_reason = "Failed", denied.reason
            except (BotoCoreError, ClientError) as exc:
                LOG.warning("job %s: cannot write the output manifest: %s", job.name, exc)
        # "When a labeling job is stopped ... Ground Truth ... unsubscribes your Amazon SNS topic
        # from your Amazon SQS queue. The Amazon SQS is not deleted" ("Stop a Streaming Labeling Job").
        if job.status == "Stopped" and job.subscription_arn:
            try:
                self.clients_for(job).unsubscribe(job.subscription_arn)
                job.subscription_arn = None
            except (JobAccessDenied, BotoCoreError, ClientError) as exc:
                LOG.warning("job %s: cannot unsubscribe its queue: %s", job.name, exc)

    # ---------------------------------------------------------------- streaming input
    def _drain(self, job: Job, *, accept: bool) -> None:
        if job.queue_url is None:
            return
        aws = self.clients_for(job)
        while True:
            messages = aws.receive(job.queue_url)
            if not messages:
                return
            for message in messages:
                self._ingest(job, message["Body"], accept=accept)
                aws.delete(job.queue_url, message["ReceiptHandle"])

    def _ingest(self, job: Job, body: str, *, accept: bool) -> None:
        """One message of the input topic: a manifest line, or an S3 event notification."""
        now = self.clock.now()
        message_id, payload = str(uuid.uuid4()), body
        try:
            envelope = json.loads(body)
            if (
                isinstance(envelope, dict)
                and envelope.get("Type") == "Notification"
                and "Message" in envelope
            ):
                message_id, payload = str(envelope.get("MessageId")), str(envelope["Message"])
        except json.JSONDecodeError:
            pass
        if not accept:
            # "Once the labeling job is active, the state changes to InProgress and you can start
            # using the real-time options" ("Send Data to a Streaming Labeling Job").
            job.discarded.append(
                {
                    "message_id": message_id,
                    "body": payload,
                    "reason": "received while the job was Initializing",
                }
            )
            return
        job.last_received_at = now
        try:
            line = json.loads(payload)
        except json.JSONDecodeError:
            self._reject(job, message_id, payload, "not JSON: a message must be one JSON manifest line", now)
            return
        if isinstance(line, dict) and isinstance(line.get("Records"), list):
            for record in line["Records"]:
                self._ingest_s3_record(job, message_id, payload, record, now)
            return
        if not isinstance(line, dict) or not (
            isinstance(line.get("source-ref"), str) or isinstance(line.get("source"), str)
        ):
            self._reject(
                job, message_id, payload, "not a JSON object with a string 'source-ref' or 'source'", now
            )
            return
        key_name = line.get("dataset-objectid-attribute-name")
        if key_name is None:
            # "For messages sent directly to your Amazon SNS input topic, Ground Truth uses the SNS
            # message ID", shown in the output as "$<label attribute>-object-id".
            dedupe_id = message_id
            stream_fields = {
                "dataset-objectid-attribute-name": f"${job.attr}-object-id",
                f"${job.attr}-object-id": message_id,
            }
        else:
            value = line.get(key_name) if isinstance(key_name, str) else None
            if not (
                isinstance(key_name, str)
                and len(key_name) <= 140
                and DEDUPE_KEY.fullmatch(key_name)
                and isinstance(value, str)
                and 0 < len(value) <= 1024
            ):
                self._reject(
                    job,
                    message_id,
                    payload,
                    f"dataset-objectid-attribute-name {key_name!r} must name a key (up to 140 characters) "
                    "whose value is a string of up to 1,024 characters",
                    now,
                )
                return
            dedupe_id, stream_fields = value, {}
        if dedupe_id not in job.dedupe_ids:
            self._new_object(job, line, dedupe_id, now, stream_fields)

    def _ingest_s3_record(self, job: Job, message_id: str, payload: str, record: Any, now: float) -> None:
        """An S3 event notification delivered through the input topic ("Send Data Objects using
        Amazon S3"): object-creation events are data objects, deduplicated by "the Amazon S3 URI of
        the object with the sequencer token in the message"."""
        try:
            event_name = str(record["eventName"])
            bucket = str(record["s3"]["bucket"]["name"])
            key = unquote_plus(str(record["s3"]["object"]["key"]))
            sequencer = str(record["s3"]["object"]["sequencer"])
            if record.get("eventSource") != "aws:s3":
                raise KeyError("eventSource")
        except (KeyError, TypeError) as exc:
            self._reject(job, message_id, payload, f"not an S3 event notification record: missing {exc}", now)
            return
        if not event_name.startswith("ObjectCreated:"):
            self._reject(
                job, message_id, payload, f"{event_name}: only object creation events are data objects", now
            )
            return
        uri = f"s3://{bucket}/{key}"
        dedupe_id = f"{uri}:{sequencer}"
        stream_fields = {
            "dataset-objectid-attribute-name": f"${job.attr}-object-id",
            f"${job.attr}-object-id": dedupe_id,
            "$sequencer": sequencer,
        }
        if dedupe_id not in job.dedupe_ids:
            self._new_object(job, {"source-ref": uri}, dedupe_id, now, stream_fields)

    def _reject(self, job: Job, message_id: str, payload: str, reason: str, now: float) -> None:
        """A message that is no data object: counted in FailedNonRetryableError, shown failed."""
        job.rejected.append(
            {
                "message_id": message_id,
                "body": payload,
                "state": "failed",
                "reason": reason,
                "received_at": now,
            }
        )

    def _new_object(
        self,
        job: Job,
        line: dict[str, Any],
        dedupe_id: str,
        at: float,
        stream_fields: dict[str, Any] | None = None,
    ) -> DataObject:
        obj = DataObject(job.next_seq, line, dedupe_id, at, dict(stream_fields or {}))
        job.next_seq += 1
        job.objects.append(obj)
        job.dedupe_ids.add(dedupe_id)
        return obj

    # ---------------------------------------------------------------- objects and output
    def _finish(self, job: Job, obj: DataObject, state: str, reason: str, at: float) -> None:
        """An object ends without a label (expired, declined, consolidation failed)."""
        meta = workforce.metadata(job.name, job.task, at)
        meta["failure-reason"] = reason
        obj.output = {**obj.line, **obj.stream_fields, f"{job.attr}-metadata": meta}
        obj.state, obj.failure_reason, obj.done_at = state, reason, at
        job.last_done_at = max(job.last_done_at or 0.0, at)

    def _label(self, job: Job, obj: DataObject, at: float) -> bool:
        """The workers label ``obj``; False when they cannot (its image does not load: it fails)."""
        aws = self.clients_for(job)
        task = workforce.Task(
            line=obj.line,
            attr=job.attr,
            categories=job.categories,
            workers=job.workers,
            audit_attr=workforce.audit_attribute(obj.line, job.attr, job.audit_attr),
            region=job.region,
            annotation_prefix=f"{job.job_dir}/annotations/consolidated-annotation/output/{obj.seq}",
            last_category_fraction=self.settings.verification_last_category_fraction,
        )
        if job.task.needs_image:
            # Boxes and masks are drawn on the image the worker sees: its real size. An image
            # that does not load cannot be labeled (Ground Truth reads it as the job's role).
            uri = obj.line.get("source-ref")
            try:
                if not isinstance(uri, str):
                    raise ValueError("the data object has no source-ref")
                task.image_size = workforce.image_size(aws.read_object(uri))
            except JobAccessDenied:
                raise
            except (ValueError, ClientError) as exc:
                why = f"The image could not be loaded: {exc}"
                if self.settings.unloadable_image == "declined":
                    why = f"Every worker assigned to the task declined it. {why}"
                    self._finish(job, obj, "expired", f"ClientError: {why}", at)
                else:
                    self._finish(job, obj, "failed", f"ClientError: {why}", at)
                return False
        # The job's own pre-annotation Lambda before the task goes to workers, its consolidation
        # Lambda after they submit, both invoked as the job's role (Lambdas of the job's account;
        # the built-in ones belong to AWS's accounts and are the service's own).
        for function_arn in job.own_lambdas():
            aws.invoke(function_arn)
        result = workforce.answer(job.task, task, job.rng)
        for uri, data in result.files.items():
            aws.write_object(uri, data, job.kms_key_id)
        meta = {**workforce.metadata(job.name, job.task, at), **result.metadata}
        obj.output = {**obj.line, **obj.stream_fields, job.attr: result.label, f"{job.attr}-metadata": meta}
        obj.state, obj.done_at = "labeled", at
        job.last_done_at = max(job.last_done_at or 0.0, at)
        return True

    def _output_lines(self, job: Job) -> list[dict[str, Any]]:
        """Every terminal object in arrival order; at the end of the job, the objects never
        labeled as ``unlabeled_in_output`` says."""
        lines: list[dict[str, Any]] = []
        ended = job.status in TERMINAL
        mode = self.settings.unlabeled_in_output
        for obj in job.objects:
            if obj.output is not None:
                lines.append(obj.output)
            elif ended and mode == "plain":
                lines.append(dict(obj.line))
            elif ended and mode == "failure-metadata":
                meta = workforce.metadata(job.name, job.task, job.ended_at or self.clock.now())
                meta["failure-reason"] = (
                    f"ClientError: The labeling job ended ({job.status}) before the object was labeled."
                )
                lines.append({**obj.line, **obj.stream_fields, f"{job.attr}-metadata": meta})
        return lines

    def _write_output(self, job: Job) -> None:
        """Rewrite ``<S3OutputPath>/<job>/manifests/output/output.manifest`` ("Output Data")."""
        lines = [json.dumps(line) for line in self._output_lines(job)]
        body = ("\n".join(lines) + "\n") if lines else ""
        self.clients_for(job).write_object(job.output_uri, body.encode("utf-8"), job.kms_key_id)
        job.output_written = True
        job.last_modified = max(job.last_modified, self.clock.now())

    # ---------------------------------------------------------------- the simulated workforce
    def workforce(
        self, job_name: str, label: int, decline: int, fail: int, returned: int = 0
    ) -> dict[str, int]:
        """Workers act on the oldest available objects of an InProgress job.

        label: every worker submits, the object is labeled (its output line also goes to the
        output topic: "Each time a worker submits a labeled object, a notification with the output
        data is sent to that topic"); decline: every assigned worker declines, the object expires;
        fail: the workers submit but annotation consolidation fails; return: a worker returns the
        task, which stays available.
        """
        with self.lock:
            job = self.find(job_name)
            self.tick()
            if job.status != "InProgress":
                raise ControlError(
                    f"job {job.name} is {job.status}; workers act only on InProgress jobs", status=409
                )
            done = {"labeled": 0, "declined": 0, "failed": 0}
            if returned:
                done["returned"] = 0
            now = self.clock.now()
            try:
                for _ in range(returned):
                    obj = next(iter(job.available()), None)
                    if obj is None:
                        break
                    self._emit_task(job, "Returned", 1)
                    done["returned"] += 1
                for action, count, state in (
                    ("label", label, "labeled"),
                    ("decline", decline, "declined"),
                    ("fail", fail, "failed"),
                ):
                    for _ in range(count):
                        obj = next(iter(job.available()), None)
                        if obj is None:
                            break
                        if action == "label":
                            if not self._label(job, obj, now):  # its image does not load
                                declined = obj.state == "expired"
                                self._emit_task(job, "Declined" if declined else "Submitted", job.workers)
                                done["declined" if declined else "failed"] += 1
                                continue
                            self._emit_task(job, "Submitted", job.workers)
                            if job.output_topic and job.sns_topic:
                                self.clients_for(job).publish(job.output_topic, json.dumps(obj.output))
                        elif action == "decline":
                            # "if every assigned worker declines an object, it is marked expired"
                            self._finish(
                                job,
                                obj,
                                "expired",
                                "ClientError: Every worker assigned to the task declined it.",
                                now,
                            )
                            self._emit_task(job, "Declined", job.workers)
                        else:
                            self._finish(
                                job,
                                obj,
                                "failed",
                                "ClientError: Annotation consolidation failed for the task.",
                                now,
                            )
                            self._emit_task(job, "Submitted", job.workers)
                        done[state] += 1
                if any(done[k] for k in ("labeled", "declined", "failed")):
                    self._write_output(job)
            except JobAccessDenied as denied:
                LOG.warning("job %s: %s", job.name, denied.reason)
                self._set_failed(job, denied.reason, now)
            self._process(job)
            return done

    def fail_job(self, job_name: str, reason: str) -> dict[str, Any]:
        with self.lock:
            job = self.find(job_name)
            self.tick()
            if job.status in TERMINAL:
                raise ControlError(f"job {job.name} already ended ({job.status})", status=409)
            self._set_failed(job, reason, self.clock.now())
            return self.job_view(job.name)

    # ---------------------------------------------------------------- events
    def _emit_state(self, job: Job) -> None:
        """ "SageMaker Ground Truth Labeling Job State Change" ("Monitor Labeling Job Status"), for the
        statuses ``state_change_events`` names, ``duplicate_events`` times."""
        if self.settings.state_change_events == "terminal" and job.status not in TERMINAL:
            return
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": STATE_CHANGE,
            "Resources": [job.arn],
            "Detail": json.dumps({"LabelingJobStatus": job.status}),
        }
        self._fault_or_put(job, "state", [entry] * self.settings.duplicate_events)

    def _emit_task(self, job: Job, state: str, workers: int) -> None:
        """One "Task Status Change" per worker action, with the detail of the EventBridge schema
        ``aws.sagemaker@SageMakerGroundTruthLabelingJobTaskStatusChange``."""
        detail = {"State": state, "labeling-job-arn": job.arn, "workteam-team-arn": job.human["WorkteamArn"]}
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": TASK_CHANGE,
            "Resources": [job.arn],
            "Detail": json.dumps(detail),
        }
        self._fault_or_put(job, "task", [entry] * workers)

    def _fault_or_put(self, job: Job, kind: str, entries: list[dict[str, Any]]) -> None:
        """Put one event's copies on the bus, unless an event fault loses or holds them."""

        def deliver(held: list[dict[str, Any]]) -> None:
            self._put_events(job, held)

        if not self.event_faults.route(kind, entries, self.clock.now(), deliver):
            deliver(entries)

    def _put_events(self, job: Job, entries: list[dict[str, Any]]) -> None:
        try:
            failed = self.aws.service(job.region).put_events(entries)
        except (BotoCoreError, ClientError) as exc:  # delivery is best effort
            LOG.warning("job %s: events not delivered: %s", job.name, exc)
            return
        if failed:
            LOG.warning("job %s: %s events not accepted", job.name, failed)

    # ---------------------------------------------------------------- control views
    def find(self, job_name: str) -> Job:
        """A job by name in any letter case and any Region (the control API has no Region)."""
        with self.lock:
            for job in self.jobs.values():
                if job.name.lower() == job_name.lower():
                    return job
        raise ControlError(f"unknown labeling job {job_name!r}", status=404)

    def job_view(self, job_name: str) -> dict[str, Any]:
        with self.lock:
            job = self.find(job_name)
            return {
                "name": job.name,
                "arn": job.arn,
                "status": job.status,
                "failure_reason": job.failure_reason,
                "counters": job.counters(),
                "task_type": job.task.output_type,
                "queue_url": job.queue_url,
                "output_manifest": job.output_uri if job.output_written else None,
                "categories": job.categories,
                "objects": [o.view(job.attr) for o in job.objects],
                "discarded": list(job.discarded),
                "rejected": list(job.rejected),
            }
