"""The moto patches of the local cloud: what our Terraform modules and CloudFormation stacks need.

``apply(endpoint)`` is called by ``gtlocal.server.LocalCloud`` (so ``gtlocal serve``, ``make
emulator``, the test fixtures and the demo all have them) before the local cloud serves; the
behaviour patches are installed once per process, the CloudFormation resource models of
``gtlocal.cfn_models`` are (re)pointed at ``endpoint`` (installed when moto's CloudFormation is
first used, see ``install_cloudformation_models``). Each patch fixes a place where moto
differs from AWS in a way that breaks ``terraform apply`` or a stack of ``cloudformation/``;
nothing here changes behaviour that AWS would show differently.

- **S3 bucket policy conditions.** moto evaluates bucket policies without request context: it
  checks only ``StringEquals`` conditions and treats every other operator as matching, so the
  standard TLS-only statement (Deny ``s3:*`` when ``Bool aws:SecureTransport`` is ``false``, on
  every bucket of the modules and stacks) denies *every* request. The local cloud is the
  stand-in for AWS's HTTPS endpoints: the shim evaluates ``aws:SecureTransport`` as ``true`` and
  drops other conditional statements (which moto cannot evaluate) instead of applying them
  unconditionally.
- **SQS RedriveAllowPolicy.** moto stores the attribute but never returns it; the provider waits
  forever for it to appear. The shim returns it.
- **SQS -> Lambda event source mappings.** moto would invoke the function (through Docker, which
  is absent) on every ``SendMessage`` and count a failed receive each time, pushing messages to
  the DLQ. Locally the event-source runner of ``gtlocal`` plays Lambda's poller, so the mapping is
  kept as metadata only.
- **CodeBuild projects with a CODEPIPELINE source/artifacts** need no ``location`` in AWS;
  moto requires one (Terraform and the CloudFormation model both create such projects).
- **CodeCommit and CodePipeline timestamps.** The JSON protocol sends timestamps as epoch
  seconds; moto sends ISO strings, which botocore tolerates but the Go SDK (Terraform) rejects.
- **Formats the provider compares verbatim**: compact ``RedrivePolicy`` JSON, the CodeBuild
  project's ``encryptionKey`` and the Lambda ``LoggingConfig`` (moto drops both).
- **EventBridge**: moto matches a schedule-only rule (no pattern; the reconcile rule of both the
  module and the stack) against every put event and raises NotImplementedError for its Lambda
  target, failing the whole PutEvents call. In AWS a schedule rule matches no event: schedule
  rules are skipped, and Lambda targets left to the local runner. CodePipeline targets (moto:
  NotImplementedError too) go to ``gtlocal.pipelines``, which starts the pipeline as the target's
  role.
- **CloudFormation ``AWS::Logs::LogGroup`` ``Arn``**: CloudFormation returns the log group ARN with
  a trailing ``:*`` (``arn:aws:logs:<region>:<account>:log-group:<name>:*``, the resource's
  ``Fn::GetAtt`` return value), which is what a role policy naming ``!GetAtt Group.Arn`` needs to
  cover the group's streams; moto returned it without, so such a policy denied log streams here.
- **CodeCommit tags and repository KMS key**: moto answers ListTagsForResource with a 500 and
  drops ``kmsKeyId``; the provider retries forever / plans a change on every run.
- **Service-principal deliveries** (``gtlocal.iam.deliveries``): S3 -> SQS notifications,
  EventBridge -> SQS targets and SNS -> SQS subscriptions are authorized against the queue policy
  and its KMS key policy before moto delivers (AWS drops what they refuse); CloudWatch alarm
  actions publish to their SNS topics (moto never acts on them), checked the same way.
- **CloudFormation resource models** (``gtlocal.cfn_models``): bucket/queue/topic policies, SNS
  subscriptions, alarms, CodeCommit/CodeBuild/CodePipeline resources and the bucket settings
  moto's CloudFormation ignores.
- **SNS with a deleted subscribed queue**: moto's topic stops at the first subscription whose
  queue is gone - Publish fails, the subscribers after it get nothing, and PublishBatch answers
  neither Successful nor Failed. AWS keeps delivering to the remaining subscribers (the delivery to
  the dead endpoint fails alone, "Amazon SNS message delivery retries"). The shim skips the dead
  queue.
- **SQS message retention**: moto keeps a message past ``MessageRetentionPeriod`` and stops its
  receive loop at it (the valid messages behind it are not returned in that call). AWS deletes
  such messages ("Amazon SQS message retention"); so does the shim, before every receive and
  attribute read.
- **S3 event ``sequencer``**: moto's S3 event notifications lack ``s3.object.sequencer``, which AWS
  sends with object-creation and deletion events ("Event message structure") and which Ground
  Truth deduplicates S3 input by. The shim adds an increasing hexadecimal sequencer.
- **SQS on the emulated clock** (``follow_clock``, called by ``gtlocal.server.LocalCloud`` with the
  Ground Truth emulator's clock): moto's SQS reads the time for send timestamps, ``DelaySeconds``,
  visibility timeouts and retention; with the shim it reads the emulated clock, so ``POST
  /_groundtruth/clock {"advance_seconds"}`` moves them as time passing would on AWS. A jump past a
  message's retention period deletes it (previous point), as AWS would after that much time.
- **CloudFormation template size** (the local cloud is never kinder than AWS): moto accepts a
  template of any size; AWS refuses a ``TemplateBody`` over 51,200 bytes and a template read
  through ``TemplateURL`` over 1 MB. See ``_patch_cloudformation_template_size``.
- **CloudFormation ``AWS::NoValue`` in a list**: AWS removes a list item that resolves to
  ``AWS::NoValue`` (``!If [Cond, {...}, !Ref AWS::NoValue]`` in a policy's statements); moto keeps
  a ``null`` there, which IAM then refuses ("Syntax errors in policy") or stores.
- **CloudFormation ``!Condition`` in a condition** (``!Or [!Condition A, !Condition B]``): AWS
  evaluates the named condition ("Condition functions": the ``Condition`` function, short form
  ``!Condition``); moto's YAML loader reads the short form as ``Fn::Condition``, which its
  condition parser does not know, so such a condition was always false (a stage's grants left out).
  See ``_patch_cloudformation_condition_function``.
- **CloudFormation roles' inline policies** (``Policies`` of ``AWS::IAM::Role``): AWS stores them
  as JSON documents, validated as ``PutRolePolicy`` validates; moto stored the Python dict, so
  ``GetRolePolicy`` answered its ``repr`` (not JSON) and nothing could evaluate the role.

Cost patches (the same answers, computed once instead of per request, per message or per queued
message; each keeps moto's result exactly, ``tests/integration/localcloud/test_perf_shims.py``):

- **Service dispatch**: moto's server resolves the backend of every request by listing its own
  package directory (~250 ``stat`` calls) and matching every service's URL patterns, under one
  global lock. The backend of a host name never changes: it is remembered.
- **SQS ReceiveMessage**: moto checks each message it returns against the queue's retention period
  through ``get_queue_attributes``, which computes *every* queue attribute, three of them by
  scanning all queued messages; and it lists all visible messages before taking the first ten.
  The shim reads ``MessageRetentionPeriod`` directly and walks the queue only as far as needed.
- **SQS DeleteMessage(Batch)**: moto scans the queue twice per receipt handle to find its message;
  the shim keeps an index of receipt handles (every handle a message ever had, as moto accepts).
- **SQS SendMessage(Batch)**: moto builds the queue's whole attribute map (three scans of all
  queued messages) to read ``ContentBasedDeduplication`` for every message it queues, directly or
  from S3 notifications, SNS and EventBridge; the shim leaves the three counts out of that map.
  With these three, a send, receive or delete no longer costs more when more messages are queued.
- **EventBridge input paths**: moto compiles the eight JSONPath expressions of a target's input
  (a new parser each time) for every event and every target; compiled expressions are cached.
- **SNS signing key**: one RSA key for the process (AWS signs with one certificate per region);
  moto generated one per subscription (~0.1 s of CPU each).
- **Action lookup**: moto lists a response class's methods on every request; the list is kept
  per class (made again when the class changes).
- **DynamoDB TransactWriteItems**: moto deep-copies the whole table once per item of a
  transaction (to put it back if cancelled); the shim keeps an undo log of the items it names.
- **DynamoDB UpdateExpression**: moto parses the expression text on every UpdateItem and twice per
  item of a TransactWriteItems; each distinct text is parsed once (moto validates a copy of it).
- **DynamoDB item size**: moto sums the sizes of all of a new item's attributes again for each
  attribute it sets (n^2/2 for n attributes); the running sum gives the same check.
- **DynamoDB update validation** (every UpdateItem and item of a TransactWriteItems; together
  ~70 % of a transaction's cost before): moto validates a ``copy.deepcopy`` of the parsed tree,
  now copied by a direct walk that builds the same tree; its ten validators rebuilt their map of
  node class -> check for every node and tested each class through ``ABCMeta``, now built once
  per validator with the class tests remembered; and the two checks that read only the tree and
  the attribute names (one clause of each kind, no overlapping paths) run once per parsed tree and
  names that passed them (anything not yet passed runs them, so a refused expression is refused
  every time with moto's error). Every check still runs: the values, key attributes, types,
  functions and paths on every update (``_patch_dynamodb_validator_copy``,
  ``_patch_dynamodb_traverser_dispatch``, ``_patch_dynamodb_tree_checks_once``).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

LOG = logging.getLogger("gtlocal.shims")
_lock = threading.Lock()
_applied = False
_clock_now: Callable[[], float] | None = None
_clock_followed = False
_cloudformation_endpoint: str | None = None
_cloudformation_installed: str | None = None


def install_cloudformation_models() -> None:
    """Install ``gtlocal.cfn_models`` for the endpoint last given to ``apply`` (idempotent).

    ``gtlocal.server.LocalCloud`` calls it before moto's CloudFormation serves its first request:
    importing moto's CloudFormation imports every moto service (~2.5 s of CPU, most of the local
    cloud's start), so a local cloud that never creates a stack never pays for it."""
    with _lock:
        _install_cloudformation_models()


def _install_cloudformation_models() -> None:
    global _cloudformation_installed
    if _cloudformation_endpoint is None or _cloudformation_installed == _cloudformation_endpoint:
        return
    from gtlocal import cfn_models

    if _cloudformation_installed is None:  # moto's CloudFormation is loaded now: patch it once
        _patch_cloudformation_template_size()
        _patch_cloudformation_no_value_in_lists()
        _patch_cloudformation_condition_function()
    cfn_models.install(_cloudformation_endpoint)
    _cloudformation_installed = _cloudformation_endpoint


def apply(endpoint: str) -> None:
    """Install every shim (the behaviour patches once per process); the CloudFormation models
    call the AWS APIs of the local cloud at ``endpoint`` (installed when moto's CloudFormation is
    first used: ``install_cloudformation_models``)."""
    global _applied, _cloudformation_endpoint

    with _lock:
        _cloudformation_endpoint = endpoint
        if "moto.cloudformation.parsing" in sys.modules:  # already loaded: point them here now
            _install_cloudformation_models()
        if _applied:
            return
        _patch_s3_bucket_policy_conditions()
        _patch_sqs_redrive_allow_policy()
        _patch_sqs_event_source_delivery()
        _patch_codebuild_pipeline_sources()
        _patch_json_timestamps()
        _patch_codecommit_tags()
        _patch_codebuild_encryption_key()
        _patch_lambda_logging_config()
        _patch_events_rule_targets()
        _patch_iam_deliveries()
        _patch_sns_dead_subscriptions()
        _patch_sqs_retention()
        _patch_s3_event_sequencer()
        _patch_s3_key_length()
        _patch_s3_version_list_encoding()
        _patch_cloudformation_role_policies()
        _install_cost_patches()
        _patch_cloudformation_log_group_arn()
        _applied = True


# --- S3 -------------------------------------------------------------------------------------

# "The object key name is a sequence of Unicode characters with UTF-8 encoding of up to 1,024 bytes
# long" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html); a longer key is
# refused with KeyTooLongError ("Your key is too long", 400: the S3 error code list,
# https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). moto stores any length.
S3_MAX_KEY_BYTES = 1024


def _patch_s3_key_length() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    original = S3Backend.put_object  # PutObject, CopyObject and CompleteMultipartUpload end here

    def put_object(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        if len(key_name.encode("utf-8")) > S3_MAX_KEY_BYTES:
            raise S3ClientError("KeyTooLongError", "Your key is too long")
        return original(self, bucket_name, key_name, *args, **kwargs)

    S3Backend.put_object = put_object  # type: ignore[method-assign]


class _UrlNamed:
    """A listed key or delete marker whose name is URL-encoded (every other attribute its own)."""

    def __init__(self, key: Any) -> None:
        self._key = key
        self.name = urllib.parse.quote(key.name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._key, attribute)


_url_encoded_listing = threading.local()


def _patch_s3_version_list_encoding() -> None:
    """ListObjectVersions honours ``EncodingType=url`` ("XML 1.0 parser can't parse certain
    characters, such as characters with an ASCII value from 0 to 10. For characters that aren't
    supported in XML 1.0, you can add this parameter to request that Amazon S3 encode the keys in
    the response", API_ListObjectVersions). botocore always asks for it; moto ignores it there and
    fails (500) on a key with a control character, so a bucket holding one could not be emptied."""
    from moto.core.responses import ActionResult
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    list_versions, respond, serialize = (
        S3Backend.list_object_versions,
        S3Response.list_object_versions,
        S3Response.serialized,
    )

    def backend_list(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        versions, prefixes, markers, next_key, next_version = list_versions(self, *args, **kwargs)
        if getattr(_url_encoded_listing, "on", False):
            return (
                [_UrlNamed(v) for v in versions],
                prefixes,
                [_UrlNamed(m) for m in markers],
                next_key,
                next_version,
            )
        return versions, prefixes, markers, next_key, next_version

    def response(self: S3Response) -> Any:
        _url_encoded_listing.on = self.querystring.get("encoding-type", [None])[0] == "url"
        try:
            return respond(self)
        finally:
            _url_encoded_listing.on = False

    def serialized(self: S3Response, action_result: ActionResult) -> Any:
        result = action_result.result
        if getattr(_url_encoded_listing, "on", False) and isinstance(result, dict) and "Versions" in result:
            result["EncodingType"] = "url"
        return serialize(self, action_result)

    S3Backend.list_object_versions = backend_list  # type: ignore[method-assign]
    S3Response.list_object_versions = response  # type: ignore[method-assign]
    S3Response.serialized = serialized  # type: ignore[method-assign,assignment]


def _condition_holds(condition: dict[str, Any]) -> bool | None:
    """True/False when every test is about ``aws:SecureTransport``; None when not evaluable."""
    outcome = True
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            return None
        for key, expected in tests.items():
            if key.lower() != "aws:securetransport" or operator not in ("Bool", "BoolIfExists"):
                return None
            values = expected if isinstance(expected, list) else [expected]
            # The local endpoint stands in for AWS's HTTPS endpoint: SecureTransport is true.
            outcome = outcome and any(str(v).lower() == "true" for v in values)
    return outcome


def effective_policy(policy: str) -> str:
    """The bucket policy as moto should evaluate it: conditions resolved or the statement dropped."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = []
    for statement in statements:
        condition = statement.get("Condition")
        if not condition:
            kept.append(statement)
            continue
        if _condition_holds(condition):
            kept.append({k: v for k, v in statement.items() if k != "Condition"})
    document["Statement"] = kept
    return json.dumps(document)


def _patch_s3_bucket_policy_conditions() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        raw = self.policy.decode() if isinstance(self.policy, bytes) else str(self.policy)
        return IAMPolicy(effective_policy(raw)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


# --- SQS ------------------------------------------------------------------------------------


def _patch_sqs_redrive_allow_policy() -> None:
    from moto.sqs.models import Queue

    original: property = Queue.__dict__["attributes"]

    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = original.fget(self) if original.fget else {}
        allow = getattr(self, "redrive_allow_policy", None)
        if allow:
            result["RedriveAllowPolicy"] = allow if isinstance(allow, str) else json.dumps(allow)
        redrive = result.get("RedrivePolicy")  # AWS returns compact JSON; moto adds spaces
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        if isinstance(redrive, dict):
            result["RedrivePolicy"] = json.dumps(redrive, separators=(",", ":"))
        return result

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]

    from moto.sqs.models import SQSBackend

    original_get = SQSBackend.get_queue_attributes

    def get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        wanted = [n for n in attribute_names if n != "RedriveAllowPolicy"]
        result = original_get(self, queue_name, wanted) if wanted else {}
        if "RedriveAllowPolicy" in attribute_names:
            value = self.get_queue(queue_name).attributes.get("RedriveAllowPolicy")
            if value is not None:
                result["RedriveAllowPolicy"] = value
        return result

    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]


class _MetadataOnlyMappings(dict[str, Any]):
    """A queue's event-source mappings that moto never delivers to (the local runner does)."""

    def items(self) -> Any:  # moto iterates .items() on every SendMessage
        return iter(())


def _patch_sqs_event_source_delivery() -> None:
    from moto.sqs.models import Queue

    original_init = Queue.__init__

    def __init__(self: Queue, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.lambda_event_source_mappings = _MetadataOnlyMappings()

    Queue.__init__ = __init__  # type: ignore[method-assign]


# --- CodeBuild ------------------------------------------------------------------------------


def _patch_codebuild_pipeline_sources() -> None:
    from moto.codebuild import responses

    validate_source = responses._validate_required_params_source
    validate_artifacts = responses._validate_required_params_artifacts

    def source(source: dict[str, Any]) -> None:
        if source.get("type") in ("CODEPIPELINE", "NO_SOURCE") and not source.get("location"):
            source = {**source, "location": "<pipeline>"}
        validate_source(source)

    def artifacts(artifacts: dict[str, Any]) -> None:
        if artifacts.get("type") == "CODEPIPELINE" and not artifacts.get("location"):
            artifacts = {**artifacts, "location": "<pipeline>"}
        validate_artifacts(artifacts)

    responses._validate_required_params_source = source
    responses._validate_required_params_artifacts = artifacts


# --- JSON timestamps (CodeCommit, CodePipeline) ----------------------------------------------


def _epoch(value: Any) -> Any:
    """An ISO-8601 string as epoch seconds (float); anything else unchanged."""
    from datetime import datetime

    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return value
    return value


def _patch_json_timestamps() -> None:
    from moto.codecommit.models import CodeCommit
    from moto.codepipeline.models import CodePipeline, PipelineExecution

    original_repo_init = CodeCommit.__init__

    def repo_init(self: CodeCommit, *args: Any, **kwargs: Any) -> None:
        original_repo_init(self, *args, **kwargs)
        for key in ("creationDate", "lastModifiedDate"):
            self.repository_metadata[key] = _epoch(self.repository_metadata[key])

    CodeCommit.__init__ = repo_init  # type: ignore[method-assign]

    metadata: property = CodePipeline.__dict__["metadata"]

    def pipeline_metadata(self: CodePipeline) -> dict[str, Any]:
        result: dict[str, Any] = dict(metadata.fget(self)) if metadata.fget else {}
        for key in ("created", "updated"):
            result[key] = _epoch(result.get(key))
        return result

    CodePipeline.metadata = property(pipeline_metadata)  # type: ignore[method-assign,assignment]

    original_to_dict = PipelineExecution.to_dict

    def execution_to_dict(self: PipelineExecution) -> dict[str, Any]:
        result: dict[str, Any] = original_to_dict(self)
        for key in ("startTime", "lastUpdateTime"):
            result[key] = _epoch(result.get(key))
        return result

    PipelineExecution.to_dict = execution_to_dict  # type: ignore[method-assign]


# --- CodeCommit tags and KMS key --------------------------------------------------------------


def _patch_codecommit_tags() -> None:
    from moto.codecommit.models import CodeCommitBackend
    from moto.codecommit.responses import CodeCommitResponse

    tags_by_arn: dict[str, dict[str, str]] = {}

    def _repository(backend: CodeCommitBackend, arn: str) -> Any:
        for repo in backend.repositories.values():
            if repo.repository_metadata["Arn"] == arn:
                return repo
        return None

    original_create = CodeCommitResponse.create_repository

    def create_repository(self: CodeCommitResponse) -> str:
        body = json.loads(original_create(self))
        metadata = body["repositoryMetadata"]
        repo = self.codecommit_backend.repositories[metadata["repositoryName"]]
        kms_key_id = self._get_param("kmsKeyId")
        if kms_key_id:
            repo.repository_metadata["kmsKeyId"] = kms_key_id
            metadata["kmsKeyId"] = kms_key_id
        tags_by_arn[metadata["Arn"]] = dict(self._get_param("tags") or {})
        return json.dumps(body)

    def list_tags_for_resource(self: CodeCommitResponse) -> str:
        arn = self._get_param("resourceArn")
        known = _repository(self.codecommit_backend, arn) is not None
        return json.dumps({"tags": tags_by_arn.get(arn, {}) if known else {}})

    def tag_resource(self: CodeCommitResponse) -> str:
        tags_by_arn.setdefault(self._get_param("resourceArn"), {}).update(self._get_param("tags") or {})
        return "{}"

    def untag_resource(self: CodeCommitResponse) -> str:
        tags = tags_by_arn.setdefault(self._get_param("resourceArn"), {})
        for key in self._get_param("tagKeys") or []:
            tags.pop(key, None)
        return "{}"

    CodeCommitResponse.create_repository = create_repository  # type: ignore[method-assign]
    CodeCommitResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
    CodeCommitResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
    CodeCommitResponse.untag_resource = untag_resource  # type: ignore[attr-defined]


# --- CodeBuild encryption key, Lambda logging config, compact SQS redrive policy --------------


def _patch_codebuild_encryption_key() -> None:
    from moto.codebuild.responses import CodeBuildResponse

    for action in ("create_project", "update_project"):
        original = getattr(CodeBuildResponse, action, None)
        if original is None:
            continue

        def wrapper(self: CodeBuildResponse, _original: Any = original) -> Any:
            result = _original(self)
            key = self._get_param("encryptionKey")
            project = self.codebuild_backend.codebuild_projects.get(self._get_param("name"))
            if key and project is not None:
                project.project_metadata["encryptionKey"] = key
            return result

        setattr(CodeBuildResponse, action, wrapper)


def _patch_lambda_logging_config() -> None:
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def __init__(
        self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self._gtlocal_logging_config = spec.get("LoggingConfig")  # type: ignore[attr-defined]

    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config: dict[str, Any] = original_get(self, *args, **kwargs)
        given = getattr(self, "_gtlocal_logging_config", None) or {}
        config["LoggingConfig"] = {
            "LogFormat": given.get("LogFormat", "Text"),
            "LogGroup": given.get("LogGroup", f"/aws/lambda/{self.function_name}"),
            **{k: v for k, v in given.items() if k not in ("LogFormat", "LogGroup")},
        }
        return config

    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> Any:
        if "LoggingConfig" in config_updates:
            self._gtlocal_logging_config = config_updates["LoggingConfig"]  # type: ignore[attr-defined]
        return original_update(self, config_updates)

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]


# --- EventBridge: scheduled rules and Lambda targets --------------------------------------------


def _patch_events_rule_targets() -> None:
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        # A schedule-only rule has no event pattern: in AWS it never matches a put event, but
        # moto's empty pattern matches everything.
        if self.scheduled_expression and not self.event_pattern.get_pattern():
            return
        # Lambda targets are invoked by the local runner, not by moto (NotImplementedError);
        # CodePipeline targets by gtlocal.pipelines (as the target's role).
        from gtlocal import pipelines

        targets = self.targets
        self.targets = [t for t in targets if ":lambda:" not in t["Arn"] and ":codepipeline:" not in t["Arn"]]
        pipelines.deliver(self, original_event, [t for t in targets if ":codepipeline:" in t["Arn"]])
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = targets

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


# --- SNS: a deleted subscribed queue fails alone ------------------------------------------------


def _patch_sns_dead_subscriptions() -> None:
    from moto.sns.models import Subscription
    from moto.sqs.exceptions import QueueDoesNotExist

    original = Subscription.publish

    def publish(self: Subscription, *args: Any, **kwargs: Any) -> None:
        try:
            original(self, *args, **kwargs)
        except QueueDoesNotExist:
            LOG.info("SNS %s: subscribed queue %s is gone; delivery skipped", self.topic.arn, self.endpoint)

    Subscription.publish = publish  # type: ignore[method-assign]


# --- SQS: retention, and the emulated clock -----------------------------------------------------


def _drop_expired(queue: Any) -> None:
    from moto.sqs import models

    retention = float(getattr(queue, "message_retention_period", None) or 345_600)
    now = float(models.unix_time())  # type: ignore[attr-defined]
    expired = [m for m in queue._messages if m.sent_timestamp / 1000 + retention <= now]
    for message in expired:
        queue._messages.remove(message)
        queue.pending_messages.discard(message)


def _patch_sqs_retention() -> None:
    from moto.sqs.models import SQSBackend

    original_receive = SQSBackend.receive_message
    original_attributes = SQSBackend.get_queue_attributes

    def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        _drop_expired(self.get_queue(queue_name))
        return original_receive(self, queue_name, *args, **kwargs)

    def get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        _drop_expired(self.get_queue(queue_name))
        result: dict[str, Any] = original_attributes(self, queue_name, attribute_names)
        return result

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]


def follow_clock(now: Callable[[], float]) -> None:
    """moto's SQS reads the time from ``now`` (epoch seconds) instead of the wall clock.

    Process-wide, like the other shims: the last clock given wins."""
    global _clock_now, _clock_followed
    with _lock:
        _clock_now = now
        if _clock_followed:
            return
        from moto.sqs import models

        wall_time, wall_millis = models.unix_time, models.unix_time_millis  # type: ignore[attr-defined]

        def unix_time(dt: Any = None) -> float:
            clock = _clock_now
            return clock() if dt is None and clock is not None else float(wall_time(dt))

        def unix_time_millis(dt: Any = None) -> float:
            clock = _clock_now
            return clock() * 1000.0 if dt is None and clock is not None else float(wall_millis(dt))

        models.unix_time = unix_time  # type: ignore[attr-defined]
        models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]
        _clock_followed = True


# --- S3: the sequencer of event notifications ----------------------------------------------------


def _patch_s3_event_sequencer() -> None:
    from moto.s3 import notifications

    original = notifications._get_s3_event
    sequence = itertools.count(time.time_ns())

    def get_s3_event(*args: Any, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
        event: dict[str, list[dict[str, Any]]] = original(*args, **kwargs)
        for record in event.get("Records", []):
            obj = record.get("s3", {}).get("object")
            if isinstance(obj, dict) and "sequencer" not in obj:
                obj["sequencer"] = f"{next(sequence):X}"
        return event

    notifications._get_s3_event = get_s3_event


# --- CloudFormation -------------------------------------------------------------------------

# "Template body size in a request: 51,200 bytes" (CloudFormation quotas; CreateStack's
# TemplateBody: "a maximum length of 51,200 bytes"); TemplateURL: "The URL must point to a
# template (max size: 1 MB)" (CreateStack API reference), read here as 1,000,000 bytes, the
# stricter of its two readings.
TEMPLATE_BODY_MAX_BYTES = 51_200
TEMPLATE_URL_MAX_BYTES = 1_000_000


def _patch_cloudformation_template_size() -> None:
    """CreateStack, UpdateStack and ValidateTemplate refuse an over-size template as AWS does: a
    ``TemplateBody`` over 51,200 bytes with the API's length-constraint ``ValidationError``
    ("1 validation error detected: Value '...' at 'templateBody' failed to satisfy constraint:
    Member must have length less than or equal to 51200"), a template read from the local S3
    through ``TemplateURL`` over 1 MB with "Template may not exceed 1000000 bytes in size.".
    moto alone creates the stack whatever its size, so a deploy command that fails on AWS would
    pass here."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse

    def checked(original: Any) -> Any:
        def handler(self: CloudFormationResponse) -> Any:
            body = self._get_param("TemplateBody")
            if body and len(str(body).encode("utf-8")) > TEMPLATE_BODY_MAX_BYTES:
                raise ValidationError(
                    message=f"1 validation error detected: Value '{body}' at 'templateBody' failed to "
                    "satisfy constraint: Member must have length less than or equal to "
                    f"{TEMPLATE_BODY_MAX_BYTES}"
                )
            url = self._get_param("TemplateURL")
            if url and not body:
                template = self._get_stack_from_s3_url(url)
                if len(template.encode("utf-8")) > TEMPLATE_URL_MAX_BYTES:
                    raise ValidationError(
                        message=f"Template may not exceed {TEMPLATE_URL_MAX_BYTES} bytes in size."
                    )
            return original(self)

        return handler

    for name in ("create_stack", "update_stack", "validate_template"):
        setattr(CloudFormationResponse, name, checked(getattr(CloudFormationResponse, name)))


def _patch_cloudformation_no_value_in_lists() -> None:
    """Drop the list items that resolve to ``AWS::NoValue``, as CloudFormation does ("removes the
    corresponding resource property": Fn::If / AWS::NoValue, pseudo parameters reference)."""
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def no_value(item: Any) -> bool:
        if not isinstance(item, dict):
            return False
        if item == {"Ref": "AWS::NoValue"}:
            return True
        return "Fn::If" in item and len(item) == 1

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = [(no_value(v), original(v, resources_map)) for v in resource_json]
            return [value for maybe_absent, value in cleaned if not (maybe_absent and value is None)]
        return original(resource_json, resources_map)

    parsing.clean_json = clean_json


def _patch_cloudformation_condition_function() -> None:
    """``{"Fn::Condition": name}`` (moto's reading of the YAML short form ``!Condition name``) in a
    condition is the named condition, as ``{"Condition": name}`` is
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html)."""
    from moto.cloudformation import parsing

    original = parsing.parse_condition

    def named(value: Any) -> Any:
        if isinstance(value, dict) and list(value) == ["Fn::Condition"]:
            return {"Condition": value["Fn::Condition"]}
        return value

    def parse_condition(condition: Any, resources_map: Any, condition_map: Any) -> Any:
        if isinstance(condition, dict) and len(condition) == 1:
            ((operator, values),) = condition.items()
            if isinstance(values, list):
                condition = {operator: [named(v) for v in values]}
        return original(condition, resources_map, condition_map)

    parsing.parse_condition = parse_condition


def _patch_cloudformation_role_policies() -> None:
    """A role's inline policy given as a document (CloudFormation ``Policies``) is stored as JSON
    after the validation ``PutRolePolicy`` applies, as AWS stores and checks it."""
    from moto.iam.models import Role
    from moto.iam.policy_validation import IAMPolicyDocumentValidator

    original = Role.put_policy

    def put_policy(self: Role, policy_name: str, policy_json: Any) -> None:
        if not isinstance(policy_json, str):
            policy_json = json.dumps(policy_json)
            IAMPolicyDocumentValidator(policy_json).validate()
        original(self, policy_name, policy_json)

    Role.put_policy = put_policy  # type: ignore[method-assign]


def _patch_cloudformation_log_group_arn() -> None:
    """``Fn::GetAtt <LogGroup>.Arn`` ends in ``:*``, as CloudFormation documents for AWS::Logs::LogGroup."""
    from moto.logs.models import LogGroup

    original = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self: LogGroup, attribute_name: str) -> Any:
        value = original(self, attribute_name)
        if attribute_name == "Arn" and isinstance(value, str) and not value.endswith(":*"):
            return f"{value}:*"
        return value

    LogGroup.get_cfn_attribute = get_cfn_attribute  # type: ignore[method-assign]


# --- IAM: service-principal deliveries ----------------------------------------------------------


def _patch_iam_deliveries() -> None:
    from gtlocal.iam import deliveries

    deliveries.install()


# --- Cost: the same answers without per-request, per-message or per-queued-message work ---------

# (owner, attribute) -> (moto's original, the patch). Tests run moto with and without them.
COST_PATCHES: dict[tuple[Any, str], tuple[Any, Any]] = {}
_DISPATCH_CACHE_LIMIT = 4096


def apply_cost_patches() -> None:
    """Install the cost patches (``apply`` does; idempotent)."""
    with _lock:
        _install_cost_patches()


def remove_cost_patches() -> None:
    """Put moto's originals back (for tests that compare moto with and without the patches)."""
    with _lock:
        for (owner, name), (original, _patch) in COST_PATCHES.items():
            setattr(owner, name, original)


def cost_patches_installed() -> bool:
    return bool(COST_PATCHES) and all(
        _current(owner, name) is patch for (owner, name), (_original, patch) in COST_PATCHES.items()
    )


def _current(owner: Any, name: str) -> Any:
    return vars(owner)[name] if isinstance(owner, type) else getattr(owner, name)


def _install_cost_patches() -> None:
    if not COST_PATCHES:
        _patch_dispatch_backend_cache()
        _patch_sqs_retention_check()
        _patch_sqs_visible_messages()
        _patch_sqs_receipt_index()
        _patch_sqs_send_without_counts()
        _patch_events_jsonpath_cache()
        _patch_sns_signing_key()
        _patch_method_names_cache()
        _patch_dynamodb_transaction_undo_log()
        _patch_dynamodb_update_expression_cache()
        _patch_dynamodb_item_size_once()
        _patch_dynamodb_validator_copy()
        _patch_dynamodb_traverser_dispatch()
        _patch_dynamodb_tree_checks_once()
    for (owner, name), (_original, patch) in COST_PATCHES.items():
        setattr(owner, name, patch)


def _register(owner: Any, name: str, patch: Any) -> None:
    COST_PATCHES[(owner, name)] = (_current(owner, name), patch)


def _patch_dispatch_backend_cache() -> None:
    """moto's ``get_backend_for_host(host)`` depends only on ``host`` (its package listing and URL
    patterns are fixed): remember each answer (bounded; there are few host names)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    known: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        try:
            return known[host]
        except KeyError:
            backend = original(self, host)
            if len(known) < _DISPATCH_CACHE_LIMIT:
                known[host] = backend
            return backend

    _register(DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host)


def _patch_sqs_retention_check() -> None:
    """ReceiveMessage's per-message retention check, reading the one attribute it needs.

    moto asks ``get_queue_attributes(queue, ["MessageRetentionPeriod"])``, which builds the whole
    attribute map (three scans of the queue's messages) two or three times per returned message."""
    from moto.sqs import models
    from moto.sqs.models import SQSBackend

    def is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Any) -> bool:
        queue: Any = self.get_queue(queue_name)  # moto sets the attribute from the queue's attributes
        retention_period = int(queue.message_retention_period)
        # moto's module clock, read at call time as moto does (a shim may make it the emulated one)
        return bool(retention_period + message.sent_timestamp / 1000 > models.unix_time())  # type: ignore[attr-defined]

    check = is_message_valid_based_on_retention_period
    _register(SQSBackend, "is_message_valid_based_on_retention_period", check)


class VisibleMessages:
    """``Queue.messages`` as moto defines it (visible, not delayed, in queue order), computed as it
    is read: ReceiveMessage stops after the messages it returns instead of listing the whole queue.
    It iterates a snapshot of the queue, as moto's list was."""

    __slots__ = ("_snapshot",)

    def __init__(self, messages: list[Any]) -> None:
        self._snapshot = tuple(messages)

    def __iter__(self) -> Iterator[Any]:
        for message in self._snapshot:
            if message.visible and not message.delayed:
                yield message

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None


def _patch_sqs_visible_messages() -> None:
    from moto.sqs.models import Queue

    def messages(self: Queue) -> VisibleMessages:
        return VisibleMessages(self._messages)

    _register(Queue, "messages", property(messages))


def _patch_sqs_receipt_index() -> None:
    """DeleteMessage finds the message of a receipt handle through an index, not two queue scans.

    Every handle a message is given (``Message.mark_received``) is indexed; moto accepts any of a
    message's handles, current or old, and so does the index. The message must still be in this
    queue (not moved to its DLQ, purged or deleted), as moto checks."""
    import weakref

    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Message, Queue

    receipts: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
    original_mark = Message.mark_received

    def mark_received(self: Message, visibility_timeout: int | None = None) -> None:
        original_mark(self, visibility_timeout)
        if self.receipt_handle is not None:
            receipts[self.receipt_handle] = self

    def delete_message(self: Queue, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: moto (and SQS) accept it again
        queued = self._messages
        message = receipts.get(receipt_handle)
        if message is None or message not in queued:  # Message has no __eq__: identity, in C
            # Not indexed (received before the patch) or not here: moto's scan decides.
            message = next((m for m in queued if m.had_receipt_handle(receipt_handle)), None)
        if message is None:
            raise ReceiptHandleIsInvalid()
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type] # as moto
        remaining = list(queued)  # a new list, as moto builds: readers of the old one are unaffected
        remaining.remove(message)
        self._messages = remaining

    _register(Message, "mark_received", mark_received)
    _register(Queue, "delete_message", delete_message)


_sending = threading.local()
_QUEUE_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)


def _patch_sqs_send_without_counts() -> None:
    """SendMessage(Batch) without counting the queue's messages.

    To read one attribute, ``ContentBasedDeduplication``, moto's send path builds the queue's whole
    attribute map (``queue.attributes.get(...)``), whose three ``ApproximateNumberOf*`` counts scan
    every queued message: sending N messages cost O(N^2). While a thread is inside ``send_message``
    or ``send_message_batch`` those three counts are not computed (0 stands in; the send path reads
    only ``ContentBasedDeduplication`` from that map and drops it). Everywhere else they are
    moto's."""
    from moto.sqs.models import Queue, SQSBackend

    def sending(original: Any) -> Any:
        @functools.wraps(original)
        def send(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
            _sending.depth = getattr(_sending, "depth", 0) + 1
            try:
                return original(self, *args, **kwargs)
            finally:
                _sending.depth -= 1

        return send

    def counted(original: property) -> property:
        def count(self: Queue) -> int:
            if getattr(_sending, "depth", 0):
                return 0
            return int(original.fget(self)) if original.fget else 0

        return property(count)

    for name in ("send_message", "send_message_batch"):
        _register(SQSBackend, name, sending(getattr(SQSBackend, name)))
    for name in _QUEUE_COUNTS:
        _register(Queue, name, counted(vars(Queue)[name]))


def _patch_events_jsonpath_cache() -> None:
    """moto's EventBridge builds a new JSONPath parser (ply tables) for each input path of each
    target of each event; compiled expressions do not change, so each is compiled once.
    moto imports ``parse`` from ``jsonpath_ng.ext`` when it runs, so the cached one is found there."""
    import jsonpath_ng.ext

    compile_path = jsonpath_ng.ext.parse  # type: ignore[attr-defined]
    _register(jsonpath_ng.ext, "parse", functools.lru_cache(maxsize=1024)(compile_path))


def _patch_sns_signing_key() -> None:
    """One RSA key signs every SNS message of the process, as AWS signs with one certificate per
    region (the envelope's ``SigningCertURL``); moto made a 2,048-bit key for each subscription on
    its first delivery (~0.1 s of CPU, paid again for every test's subscriptions)."""
    from moto.sns.models import Subscription

    @functools.cache
    def signing_key() -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def private_key(self: Subscription) -> Any:
        return signing_key()

    _register(Subscription, "private_key", private_key)


def _patch_method_names_cache() -> None:
    """moto lists a response class's methods (``inspect.getmembers``) on every request to find the
    action; the list is kept per class and made again when the class gains or loses attributes."""
    import moto.core.responses

    original = moto.core.responses.method_names_from_class  # type: ignore[attr-defined]
    known: dict[Any, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        shape = tuple(len(vars(k)) for k in clazz.__mro__)
        hit = known.get(clazz)
        if hit is None or hit[0] != shape:
            hit = (shape, original(clazz))
            known[clazz] = hit
        return hit[1]

    _register(moto.core.responses, "method_names_from_class", method_names_from_class)


class _TableBackup:
    """What moto's TransactWriteItems keeps as a table's backup while the undo log is kept instead."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _BackupByUndoLog:
    """moto's ``copy`` module inside TransactWriteItems: a table's deep copy becomes a marker;
    everything else is copied as ``copy`` does."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table):
            return _TableBackup(value.name)
        return self._real.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _patch_dynamodb_transaction_undo_log() -> None:
    """TransactWriteItems backs up only the items it touches.

    moto deep-copies the whole table once per item of the transaction, so that it can put the
    table back when the transaction is cancelled: a transaction costs more the bigger the table
    (the ledger grows with every image). The patch records a copy of each item the transaction
    names before moto runs it; where moto would put a table back, every named item is put back
    from that record instead (newest first, so the state before the transaction wins). moto's own
    code runs the transaction, checks and errors; the table after it is the same."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items

    def named_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        undo = []
        for item in transact_items:
            try:
                op_type, op = next(iter(item.items()))
                table = self.tables[op["TableName"]]
                key = op["Item"] if op_type == "Put" else op["Key"]
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                previous = table.get_item(hash_value, range_value)
            except Exception:  # noqa: S112 - malformed: moto's own loop reports it
                continue
            undo.append((table, hash_value, range_value, copy.deepcopy(previous)))
        return undo

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        undo = named_items(self, transact_items)
        tables = dict(self.tables)
        models.copy = _BackupByUndoLog(copy)  # type: ignore[attr-defined,assignment]
        try:
            original(self, transact_items)
        finally:
            models.copy = copy  # type: ignore[attr-defined]
            backups = [name for name, table in self.tables.items() if isinstance(table, _TableBackup)]
            for name in backups:  # moto put its "backup" back: the transaction is cancelled
                self.tables[name] = tables[name]
            for table, hash_value, range_value, previous in reversed(undo if backups else []):
                if previous is None:
                    table.delete_item(hash_value, range_value)
                elif range_value is not None:
                    table.items[hash_value][range_value] = previous
                else:
                    table.items[hash_value] = previous

    _register(DynamoDBBackend, "transact_write_items", transact_write_items)


_UPDATE_EXPRESSION_CACHE = 1024


def _patch_dynamodb_update_expression_cache() -> None:
    """An UpdateExpression is parsed once per distinct text, not on every UpdateItem and twice per
    item of every TransactWriteItems (the request check, then the update).

    The tree depends only on the text; moto reads it (the names and values it uses) and validates a
    deep copy of it (``Validator`` copies the expression before processing it), so the shared tree
    is never changed. A text that does not parse is not cached: it raises every time, as in moto."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    parse = vars(UpdateExpressionParser)["make"].__func__

    @functools.lru_cache(maxsize=_UPDATE_EXPRESSION_CACHE)
    def parsed(expression: str) -> Any:
        return parse(UpdateExpressionParser, expression)

    def make(cls: type, expression: Any) -> Any:
        if cls is not UpdateExpressionParser or not isinstance(expression, str):
            return parse(cls, expression)
        return parsed(expression)

    _register(UpdateExpressionParser, "make", classmethod(make))


def _patch_dynamodb_item_size_once() -> None:
    """A new item's size is added up once, attribute by attribute, not again for every attribute.

    moto builds an item (every PutItem, BatchWriteItem put, transaction put) by setting its
    attributes one by one in a dict that, on each set, sums the size of every attribute already
    set: an item of n attributes cost n^2/2 size computations. The patch keeps the running sum and
    refuses an item at the same attribute with the same error (``ItemSizeTooLarge`` past moto's
    405,000 bytes); the item is built as moto builds it. Later sets (updates) are moto's."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    limit = 405_000  # moto's (LimitedSizeDict.__setitem__)

    def size_of(value: Any) -> int:
        return value.size() if type(value) is DynamoType else bytesize(str(value))

    def __init__(self: Item, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict()
        total = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            added = bytesize(key) + size_of(typed)
            if total + added > limit:
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, typed)
            total += added

    _register(Item, "__init__", __init__)


def _clone_node(value: Any, memo: dict[int, Any], node_type: type) -> Any:
    """``copy.deepcopy(value, memo)`` of an update expression's tree, walked directly: a node is
    made as deepcopy makes it (``cls.__new__`` and a copy of its attributes), a list as a list;
    everything else (a DynamoType leaf after validation, ...) is given to ``copy.deepcopy`` with the
    same memo, so shared objects and the parent links stay shared exactly as deepcopy keeps them."""
    import copy

    found = memo.get(id(value))
    if found is not None:
        return found
    kind = type(value)
    if kind in (str, int, float, bool, type(None)):
        return value  # deepcopy returns atoms themselves
    if kind is list:
        made: Any = []
        memo[id(value)] = made
        made.extend(_clone_node(item, memo, node_type) for item in value)
    elif isinstance(value, node_type):
        made = object.__new__(kind)  # what deepcopy calls for these plain classes
        memo[id(value)] = made
        made.__dict__.update({k: _clone_node(v, memo, node_type) for k, v in value.__dict__.items()})
    else:
        return copy.deepcopy(value, memo)
    memo.setdefault(id(memo), []).append(value)  # deepcopy's keep-alive: no id reused meanwhile
    return made


def _patch_dynamodb_validator_copy() -> None:
    """An update expression's tree is copied for validation by a direct walk, not ``copy.deepcopy``.

    moto validates a copy of the parsed tree (``Validator.__init__``: ``deepcopy(expression)``), so
    that validation, which replaces nodes, leaves the parsed tree as it was; ``copy.deepcopy`` of the
    tree's ~40 nodes went through ``__reduce_ex__`` for each node and was ~30 % of a
    TransactWriteItems. The walk (``_clone_node``) builds the same tree: same classes, attributes,
    lists and shared objects. The module's other ``deepcopy`` (``list_append``'s first argument, a
    value) is ``copy.deepcopy`` as before."""
    import copy

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Node):
            return _clone_node(value, {} if memo is None else memo, Node)
        return copy.deepcopy(value, memo)

    _register(validators, "deepcopy", deepcopy)


def _patch_dynamodb_traverser_dispatch() -> None:
    """moto's validators walk an update expression's tree ten times per UpdateItem (twice for a new
    item; once per item of a TransactWriteItems); for every node they rebuilt their map of node
    class -> processor (``_processing_map()``, a new dict of bound methods) twice and tested the node
    against each class (``isinstance`` through ``ABCMeta``). The map is built once per validator
    (it is a fixed literal in every moto validator) and which class a node type matches is
    remembered; the walk, its order and every processor are moto's."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]

    matches: dict[tuple[tuple[type, ...], type], int | None] = {}

    def processing(self: Any) -> tuple[tuple[tuple[type, Any], ...], tuple[type, ...]]:
        known = self.__dict__.get("_gtlocal_processing")
        if known is None:
            items = tuple(self._processing_map().items())
            known = (items, tuple(kind for kind, _ in items))
            self.__dict__["_gtlocal_processing"] = known
        return known  # type: ignore[no-any-return]

    def match(keys: tuple[type, ...], node: Any) -> int | None:
        """The index of the first class of `keys` that `node` is an instance of (None: none)."""
        cache_key = (keys, type(node))
        try:
            return matches[cache_key]
        except KeyError:
            found = next((i for i, kind in enumerate(keys) if isinstance(node, kind)), None)
            if len(matches) < _UPDATE_EXPRESSION_CACHE:
                matches[cache_key] = found
            return found

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        return processing(self)[1]

    def process(self: Any, node: Any) -> Any:
        items, keys = processing(self)
        index = match(keys, node)
        return None if index is None else items[index][1](node)

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        # moto's DepthFirstTraverser.traverse_node_recursively, with the class tests remembered
        if match((Node,), node) is not None:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            items, keys = processing(self)
            index = match(keys, node)
            if index is not None:
                node = items[index][1](node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    for name, patch in (
        ("nodes_to_be_processed", nodes_to_be_processed),
        ("process", process),
        ("traverse_node_recursively", traverse_node_recursively),
    ):
        _register(DepthFirstTraverser, name, patch)


def _patch_dynamodb_tree_checks_once() -> None:
    """Two of moto's update-expression checks, which read only the expression, run once per
    expression and attribute names, not on every update.

    ``ActionCountValidator`` (at most one SET, REMOVE, ADD, DELETE clause) and
    ``OverlappingPathsValidator`` (no two actions on overlapping paths) read only the tree and
    ``ExpressionAttributeNames`` and change nothing: the same parsed tree (one per text, see
    ``_patch_dynamodb_update_expression_cache``) with the same names passes or fails them the same
    way every time. Each visits every clause node and searches its whole subtree (n^2 for n
    clauses). A tree and names that passed skip them afterwards; anything else runs them as moto
    does (so a refused expression is refused every time, with moto's error). Every other
    validator (values, key attributes, types, functions, paths) runs on every update."""
    import weakref

    from moto.dynamodb.parsing import validators

    pure = (validators.ActionCountValidator, validators.OverlappingPathsValidator)
    passed: weakref.WeakKeyDictionary[Any, set[tuple[type, tuple[tuple[str, str], ...]]]]
    passed = weakref.WeakKeyDictionary()
    original_init = validators.Validator.__init__

    def __init__(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, expression, *args, **kwargs)
        self._gtlocal_source = expression

    def validate(self: Any) -> Any:
        node = self.node_to_validate
        source = getattr(self, "_gtlocal_source", None)
        names = tuple(sorted((self.expression_attribute_names or {}).items()))
        for processor in self.processors:
            kind = type(processor)
            if kind not in pure or source is None:
                node = processor.traverse(node)
                continue
            try:
                seen = passed.setdefault(source, set())
            except TypeError:  # a tree that cannot be a weak key: moto's way
                seen = set()
            if (kind, names) in seen:
                continue
            node = processor.traverse(node)
            seen.add((kind, names))
        return node

    _register(validators.Validator, "__init__", __init__)
    _register(validators.Validator, "validate", validate)
