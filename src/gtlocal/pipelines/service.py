"""The pipeline service of the local cloud: EventBridge -> pipeline deliveries, executions, builds.

One worker thread per local cloud takes, in order, what AWS would do asynchronously:

- a delivery of an event to a CodePipeline target: the target's ``RoleArn`` is assumed as
  ``events.amazonaws.com`` (``aws:SourceAccount``, ``aws:SourceArn`` = the rule ARN) and
  ``StartPipelineExecution`` is called with it, so the role's policy decides (EventBridge "Using
  IAM roles to send events to targets"; a target without a role, a trust policy that refuses the
  service or a denied call drops the event, as EventBridge counts a FailedInvocation);
- an execution (started by that call, or by anyone's ``StartPipelineExecution``): the pipeline's
  ``roleArn`` is assumed as ``codepipeline.amazonaws.com`` (``aws:SourceArn`` = the pipeline
  ARN); its stages run in order, the actions of a stage by ``runOrder``. Action providers run
  here: Source/CodeCommit (the branch head, ``OutputArtifactFormat`` ``CODE_ZIP``, zipped into the
  artifact store as the pipeline's role: ``s3:PutObject``, with the artifact store's KMS key when
  it has one; ``codecommit:GetBranch``/``GetCommit``/``UploadArchive``/``GetUploadArchiveStatus``
  on the repository are checked for the role in process, the API moto lacks) and Build/CodeBuild
  (``StartBuild`` and ``BatchGetBuilds`` as the pipeline's role; the build itself runs as the
  project's role, ``gtlocal.pipelines.codebuild``). Any other provider fails its action and says so.
  A failed action fails its stage and the execution; later stages do not run.

Executions run one at a time for the whole local cloud, in the order they started. Tests wait for
them without sleeping: ``POST /_localcloud/pipelines/wait`` (``GroundTruthControl.
wait_for_pipelines``) answers once nothing is queued or running.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import queue
import secrets
import string
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dulwich.objects import Commit
from werkzeug.wrappers import Request, Response

from gtlocal.pipelines import aws, buildenv, codebuild, models
from gtlocal.pipelines.gitserver import Caller as GitCaller
from gtlocal.pipelines.gitserver import (
    GitHttpApp,
    RefUpdate,
    RepositoryRef,
    RepositoryStore,
    clone_url,
    find_repository,
    state_change_events,
)

LOG = logging.getLogger("gtlocal.pipelines")

CONTROL_PREFIX = "/_localcloud/pipelines"
_install_lock = threading.Lock()
_installed = False
_service: PipelineService | None = None


class ActionFailed(Exception):
    def __init__(self, message: str, code: str = "JobFailed") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Run:
    """One execution being run: as which role, where, and the artifacts made so far."""

    session: aws.RoleSession
    account: str
    region: str
    definition: dict[str, Any]
    record: models.ExecutionRecord
    artifacts: dict[str, codebuild.PipelineSource]


@dataclass(frozen=True)
class Delivery:
    account: str
    region: str
    rule_arn: str
    target_arn: str
    role_arn: str | None


class PipelineService:
    def __init__(self, endpoint: str, data_dir: Path) -> None:
        self.endpoint = endpoint
        self.data_dir = data_dir
        self.repositories = RepositoryStore.temporary()
        self.git = GitHttpApp(self.repositories, self._on_push)
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        self._busy = 0
        self._idle = threading.Condition()
        self._worker: threading.Thread | None = None
        self._generation = 0

    # --- the worker -------------------------------------------------------------------------------

    def submit(self, task: Callable[[], None]) -> None:
        with self._idle:
            self._busy += 1
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="gtlocal-pipelines", daemon=True)
                self._worker.start()
        self._queue.put(task)

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            try:
                task()
            except Exception:
                LOG.exception("pipeline task failed")
            finally:
                self._done()

    def _done(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no delivery, execution or build is queued or running (False on timeout)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def reset(self) -> None:
        """After a moto reset: forget queued work, builds and git data."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self._done()
        self._generation += 1
        codebuild.BUILDS.clear()
        self.repositories.clear()

    # --- CodeCommit -> EventBridge ---------------------------------------------------------------

    def _on_push(self, repo: RepositoryRef, updates: list[RefUpdate], caller: GitCaller) -> None:
        entries = state_change_events(repo, updates, caller.arn)
        events = aws.client("events", repo.region, self.endpoint)
        for start in range(0, len(entries), 10):
            answer = events.put_events(Entries=entries[start : start + 10])
            if answer.get("FailedEntryCount"):
                LOG.warning("CodeCommit events of %s not all accepted: %s", repo.name, answer["Entries"])

    # --- EventBridge -> CodePipeline --------------------------------------------------------------

    def deliver(self, rule: Any, event: dict[str, Any], targets: list[dict[str, Any]]) -> None:
        """Called by the EventBridge shim for a rule's CodePipeline targets (pattern not yet checked)."""
        if not targets or not rule.event_pattern.matches_event(event):
            return
        for target in targets:
            delivery = Delivery(
                rule.account_id, rule.region_name, rule.arn, target["Arn"], target.get("RoleArn")
            )
            self.submit(functools.partial(self._deliver, delivery))

    def _deliver(self, delivery: Delivery) -> None:
        name = delivery.target_arn.split(":", 5)[5]
        if not delivery.role_arn:
            LOG.warning(
                "EventBridge: rule %s has a CodePipeline target without RoleArn; dropped", delivery.rule_arn
            )
            return
        try:
            session = aws.assume(
                delivery.role_arn,
                "events.amazonaws.com",
                delivery.region,
                delivery.account,
                delivery.rule_arn,
            )
        except Exception as exc:
            LOG.warning("EventBridge: cannot assume %s for %s: %s", delivery.role_arn, delivery.rule_arn, exc)
            return
        pipeline = aws.client(
            "codepipeline",
            delivery.region,
            self.endpoint,
            session,
            headers={models.TRIGGER_HEADER: f"CloudWatchEvent {delivery.rule_arn}"},
        )
        try:
            pipeline.start_pipeline_execution(name=name)
        except Exception as exc:
            LOG.warning(
                "EventBridge: %s could not start %s: %s", delivery.rule_arn, name, aws.error_message(exc)[1]
            )

    # --- executions -------------------------------------------------------------------------------

    def on_start(self, account: str, region: str, name: str, execution_id: str) -> None:
        self.submit(lambda: self._execute(account, region, name, execution_id))

    def _execute(self, account: str, region: str, name: str, execution_id: str) -> None:
        found = models.find_execution(account, region, name, execution_id)
        if found is None:
            return
        pipeline, execution = found
        record = models.record_of(execution)
        if record is None:
            return
        definition = json.loads(json.dumps(pipeline.pipeline))
        arn = pipeline.metadata["pipelineArn"]
        try:
            session = aws.assume(definition["roleArn"], "codepipeline.amazonaws.com", region, account, arn)
        except Exception as exc:
            record.finish(
                models.FAILED,
                "CodePipeline is not authorized to perform AssumeRole on role "
                f"{definition['roleArn']}: {exc}",
            )
            return
        execution_run = Run(session, account, region, definition, record, {})
        for stage in definition["stages"]:
            stage_run = models.StageRun(stage["name"])
            with models._lock:
                record.stages[stage["name"]] = stage_run
                record.touch()
            for action in sorted(stage["actions"], key=lambda a: int(a.get("runOrder", 1))):
                run = models.ActionRun(action["name"])
                with models._lock:
                    stage_run.actions[action["name"]] = run
                try:
                    self._action(execution_run, action, run)
                except ActionFailed as failed:
                    with models._lock:
                        run.status, run.error_code, run.error_message = (
                            models.FAILED,
                            failed.code,
                            failed.message,
                        )
                        run.last_change = time.time()
                        stage_run.status = models.FAILED
                    record.finish(models.FAILED, failed.message)
                    return
                with models._lock:
                    run.status, run.last_change = models.SUCCEEDED, time.time()
            with models._lock:
                stage_run.status = models.SUCCEEDED
        record.finish(models.SUCCEEDED)

    def _action(self, execution: Run, action: dict[str, Any], run: models.ActionRun) -> None:
        kind = action["actionTypeId"]
        provider = (kind.get("category"), kind.get("owner"), kind.get("provider"))
        if provider == ("Source", "AWS", "CodeCommit"):
            self._codecommit_source(execution, action, run)
        elif provider == ("Build", "AWS", "CodeBuild"):
            self._codebuild(execution, action, run)
        else:
            raise ActionFailed(
                f"the local cloud does not run {'/'.join(str(p) for p in provider)} actions "
                "(it runs Source/AWS/CodeCommit and Build/AWS/CodeBuild)"
            )

    def _codecommit_source(self, execution: Run, action: dict[str, Any], run: models.ActionRun) -> None:
        session, region, definition = execution.session, execution.region, execution.definition
        record = execution.record
        config = action.get("configuration") or {}
        name, branch = config.get("RepositoryName", ""), config.get("BranchName", "")
        if config.get("OutputArtifactFormat", "CODE_ZIP") != "CODE_ZIP":
            raise ActionFailed("OutputArtifactFormat CODEBUILD_CLONE_REF is not modelled by the local cloud")
        repo = find_repository(execution.account, region, name)
        if repo is None:
            raise ActionFailed(f"The repository {name} does not exist", "RepositoryDoesNotExistException")
        for permission in (
            "codecommit:GetBranch",
            "codecommit:GetCommit",
            "codecommit:UploadArchive",
            "codecommit:GetUploadArchiveStatus",
        ):
            decision = aws.check(session, permission, repo.arn, region)
            if not decision.allowed:
                principal = aws.principal_of(session, region)
                who = principal.caller if principal is not None else None
                message = decision.message(who) if who is not None else permission
                raise ActionFailed(f"Insufficient permissions: {message}", "PermissionError")
        git = self.repositories.open(repo)
        refs: Any = git.refs
        ref = f"refs/heads/{branch}".encode()
        if ref not in refs:
            raise ActionFailed(
                f"The action failed because no branch named {branch} was found in the selected AWS "
                f"CodeCommit repository {name}. Make sure you are using the correct branch name, and then "
                "try again."
            )
        commit = git[refs[ref]]
        assert isinstance(commit, Commit)
        body = _zip_tree(git, commit.tree)
        store = definition["artifactStore"]
        bucket = store["location"]
        output = (action.get("outputArtifacts") or [{"name": "SourceArtifact"}])[0]["name"]
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(7))
        key = f"{definition['name'][:20]}/{output[:20]}/{suffix}"
        put: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        encryption = store.get("encryptionKey") or {}
        if encryption.get("id"):
            put.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=encryption["id"])
        try:
            aws.client("s3", region, self.endpoint, session).put_object(**put)
        except Exception as exc:
            code, message = aws.error_message(exc)
            raise ActionFailed(
                f"Insufficient permissions: the pipeline's role could not write the source artifact to "
                f"s3://{bucket}/{key}: {code}: {message}",
                "PermissionError",
            ) from None
        sha = commit.id.decode()
        summary = commit.message.decode("utf-8", "replace").strip()
        created = float(commit.commit_time)
        with models._lock:
            run.summary, run.external_id = summary.splitlines()[0] if summary else "", sha
            record.artifact_revisions.append(
                {"name": output, "revisionId": sha, "revisionSummary": summary, "created": created}
            )
            record.source_revisions.append(
                {"actionName": action["name"], "revisionId": sha, "revisionSummary": summary}
            )
            record.touch()
        execution.artifacts[output] = codebuild.PipelineSource(bucket, key, sha, definition["name"])

    def _codebuild(self, execution: Run, action: dict[str, Any], run: models.ActionRun) -> None:
        session, region, artifacts = execution.session, execution.region, execution.artifacts
        project = (action.get("configuration") or {}).get("ProjectName", "")
        inputs = [a["name"] for a in action.get("inputArtifacts") or []]
        if not inputs or inputs[0] not in artifacts:
            raise ActionFailed(
                f"input artifact {inputs[0] if inputs else '(none)'} was not produced by this execution"
            )
        version = codebuild.BUILDS.register_source(artifacts[inputs[0]])
        client = aws.client("codebuild", region, self.endpoint, session)
        try:
            build = client.start_build(projectName=project, sourceVersion=version)["build"]
        except Exception as exc:
            code, message = aws.error_message(exc)
            raise ActionFailed(
                f"{code}: {message}", "PermissionError" if "Denied" in code else "JobFailed"
            ) from None
        build_id = build["id"]
        with models._lock:
            run.external_id = build_id
            run.external_url = f"{self.endpoint}{CONTROL_PREFIX}/builds/{build_id}/log"
        running = codebuild.BUILDS.by_id.get(build_id)
        if running is not None:
            running.done.wait(timeout=float(build.get("timeoutInMinutes") or 60) * 60 + 120)
        try:
            (done,) = client.batch_get_builds(ids=[build_id])["builds"]
        except Exception as exc:
            code, message = aws.error_message(exc)
            raise ActionFailed(
                f"{code}: {message}", "PermissionError" if "Denied" in code else "JobFailed"
            ) from None
        status = done.get("buildStatus")
        if status != "SUCCEEDED":
            raise ActionFailed(f"Build terminated with state: {status}")

    # --- builds -----------------------------------------------------------------------------------

    def start_build(
        self, build: codebuild.Build, project: dict[str, Any], source: codebuild.PipelineSource | None
    ) -> None:
        with self._idle:
            self._busy += 1

        def run() -> None:
            try:
                codebuild.BuildRun(build, project, self.endpoint, self.data_dir, source).run()
            finally:
                self._done()

        threading.Thread(target=run, name=f"gtlocal-build-{build.build_id}", daemon=True).start()

    # --- control routes ---------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        path = request.path[len(CONTROL_PREFIX) :]
        if path == "/wait" and request.method == "POST":
            try:
                body = json.loads(request.get_data() or b"{}")
                timeout = float(body.get("timeout", 600))
            except (ValueError, TypeError, AttributeError):
                return _json({"error": 'body must be {"timeout": seconds}'}, 400)
            if timeout < 0:
                return _json({"error": "timeout must be >= 0"}, 400)
            return _json({"idle": self.wait_idle(timeout)})
        if path.startswith("/builds/") and path.endswith("/log") and request.method == "GET":
            build_id = path[len("/builds/") : -len("/log")]
            build = codebuild.BUILDS.by_id.get(build_id)
            if build is None:
                return _json({"error": f"no build {build_id}"}, 404)
            with codebuild._lock:
                text = "\n".join(build.log_lines) + "\n"
            return Response(text, mimetype="text/plain")
        return _json({"error": f"unknown route {request.method} {request.path}"}, 404)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _zip_tree(git: Any, tree: bytes) -> bytes:
    """The files of a commit's tree as CodePipeline's CODE_ZIP (no ``.git``), file modes kept."""
    buffer = io.BytesIO()
    stamp = datetime.now(UTC).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in git.object_store.iter_tree_contents(tree):
            if entry.mode & 0o170000 == 0o160000:  # a submodule: not in CodeCommit's archive
                continue
            info = zipfile.ZipInfo(entry.path.decode("utf-8", "replace"), date_time=stamp)
            info.external_attr = (entry.mode & 0o777 or 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, git[entry.sha].as_raw_string())
    return buffer.getvalue()


def current() -> PipelineService | None:
    """The pipeline service of this process's local cloud (None before ``install``)."""
    return _service


def deliver(rule: Any, event: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    """The EventBridge shim's hook for CodePipeline targets (dropped when no service runs)."""
    if _service is not None:
        _service.deliver(rule, event, targets)


def install(endpoint: str, data_dir: Path | None = None) -> PipelineService:
    """Start this process's pipeline service at ``endpoint`` (the moto patches once per process)."""
    global _installed, _service
    with _install_lock:
        _service = PipelineService(endpoint, data_dir or buildenv.default_data_dir())
        if not _installed:
            models.install()
            codebuild.install()
            _patch_clone_urls()
            _installed = True
        models._on_start[:] = [lambda *a: _service.on_start(*a) if _service is not None else None]
        codebuild.BUILDS.starter = lambda b, p, s: (
            _service.start_build(b, p, s) if _service is not None else None
        )
    return _service


def _patch_clone_urls() -> None:
    """moto's ``cloneUrlHttp`` -> the local cloud's git server (``gitserver``)."""
    from moto.codecommit.models import CodeCommit

    original = CodeCommit.__init__

    def __init__(self: CodeCommit, account_id: str, region: str, description: str, name: str) -> None:
        original(self, account_id, region, description, name)
        if _service is not None:
            self.repository_metadata["cloneUrlHttp"] = clone_url(_service.endpoint, name)

    CodeCommit.__init__ = __init__  # type: ignore[method-assign,assignment]
