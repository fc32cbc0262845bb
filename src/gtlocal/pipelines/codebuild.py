"""CodeBuild builds that run: ``StartBuild`` -> a build as the project's service role.

moto records a build and ``BatchGetBuilds`` then reports it ``SUCCEEDED`` without running anything.
Here ``StartBuild`` records the build ``IN_PROGRESS`` and runs it in a thread of the local cloud,
as CodeBuild runs it (How CodeBuild works; Build phase transitions; Environment variables in build
environments: https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html):

- PROVISIONING: the project's service role is assumed as ``codebuild.amazonaws.com``
  (``aws:SourceAccount``, ``aws:SourceArn`` = the project ARN) and the build's log stream is created
  with it in the project's log group (``logsConfig.cloudWatchLogs.groupName``, default
  ``/aws/codebuild/<project>``; stream ``<build uuid>``, or ``<streamName>/<build uuid>``). A role
  that may not create it fails the build here, as on AWS.
- DOWNLOAD_SOURCE: a ``CODEPIPELINE`` source is the input artifact CodePipeline named in the
  build's ``sourceVersion`` (``arn:aws:s3:::<bucket>/<key>``), downloaded as the role and unzipped
  into ``CODEBUILD_SRC_DIR`` (a temporary work directory); the buildspec is the project's
  ``source.buildspec`` (inline YAML, or a path in the source; default ``buildspec.yml``). Other
  source types are not run by the local cloud (the build fails and says so).
- INSTALL ... POST_BUILD: ``gtlocal.pipelines.buildspec`` in one bash process started in
  ``CODEBUILD_SRC_DIR`` with only: the image's tools on ``PATH`` (``gtlocal.pipelines.buildenv``),
  CodeBuild's variables (``CODEBUILD_SRC_DIR``, ``CODEBUILD_BUILD_ID``, ``CODEBUILD_BUILD_ARN``,
  ``CODEBUILD_BUILD_NUMBER``, ``CODEBUILD_BUILD_IMAGE``, ``CODEBUILD_INITIATOR``,
  ``CODEBUILD_RESOLVED_SOURCE_VERSION``, ``CODEBUILD_SOURCE_VERSION``, ``CODEBUILD_START_TIME``,
  ``CODEBUILD_KMS_KEY_ID``, ``CODEBUILD_BUILD_SUCCEEDING``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``),
  the buildspec's ``env.variables``, the project's environment variables (``PLAINTEXT``; other
  types are refused), the role's credentials and ``AWS_ENDPOINT_URL`` of the local cloud. (AWS hands
  the role's credentials to the container through ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``; here
  they are environment variables.) Its output is the build log, sent to CloudWatch Logs as the role.
- The project's ``timeoutInMinutes`` ends the build ``TIMED_OUT`` (the process group is killed).

``BatchGetBuilds`` then answers the build as CodeBuild does: ``buildStatus``, ``currentPhase``,
``phases`` (with ``contexts`` on failure), ``logs`` (``groupName``, ``streamName``,
``cloudWatchLogsArn``), ``resolvedSourceVersion``, ``initiator``, times in epoch seconds.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gtlocal.pipelines import aws, buildenv
from gtlocal.pipelines.buildspec import Buildspec, BuildspecError, failed_command, parse, script

LOG = logging.getLogger("gtlocal.pipelines.codebuild")

_lock = threading.RLock()
_numbers: dict[str, itertools.count[int]] = {}


@dataclass(frozen=True)
class PipelineSource:
    """An input artifact CodePipeline put in its artifact store for a build."""

    bucket: str
    key: str
    revision: str
    pipeline: str


@dataclass
class Build:
    """One build: what ``BatchGetBuilds`` answers, and the event its waiters wait for."""

    account: str
    region: str
    metadata: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    log_lines: list[str] = field(default_factory=list)

    @property
    def build_id(self) -> str:
        return str(self.metadata["id"])


class BuildFailure(Exception):
    def __init__(self, phase: str, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.phase, self.status, self.code, self.message = phase, status, code, message


def _now() -> float:
    return time.time()


def new_build(
    account: str, region: str, project: dict[str, Any], source_version: str | None, initiator: str
) -> dict[str, Any]:
    name = project["name"]
    build_id = f"{name}:{uuid.uuid4()}"
    with _lock:
        number = next(_numbers.setdefault(f"{account}/{region}/{name}", itertools.count(1)))
    started = _now()
    return {
        "id": build_id,
        "arn": f"arn:aws:codebuild:{region}:{account}:build/{build_id}",
        "buildNumber": number,
        "startTime": started,
        "currentPhase": "QUEUED",
        "buildStatus": "IN_PROGRESS",
        "sourceVersion": source_version or "",
        "projectName": name,
        "phases": [
            {
                "phaseType": "SUBMITTED",
                "phaseStatus": "SUCCEEDED",
                "startTime": started,
                "endTime": started,
                "durationInSeconds": 0,
            },
            {"phaseType": "QUEUED", "startTime": started},
        ],
        "source": project.get("source", {}),
        "secondarySources": [],
        "secondarySourceVersions": [],
        "artifacts": {"location": ""},
        "cache": project.get("cache", {"type": "NO_CACHE"}),
        "environment": project.get("environment", {}),
        "serviceRole": project.get("serviceRole", ""),
        "logs": {"deepLink": "", "cloudWatchLogs": {"status": "ENABLED"}},
        "timeoutInMinutes": int(project.get("timeoutInMinutes") or 60),
        "queuedTimeoutInMinutes": int(project.get("queuedTimeoutInMinutes") or 480),
        "buildComplete": False,
        "initiator": initiator,
        "encryptionKey": project.get("encryptionKey", ""),
    }


class PhaseClock:
    """Phases as ``BatchGetBuilds`` lists them, moved forward under the module lock."""

    def __init__(self, build: Build) -> None:
        self.build = build

    def _phases(self) -> list[dict[str, Any]]:
        phases: list[dict[str, Any]] = self.build.metadata["phases"]
        return phases

    def enter(self, phase: str, at: float | None = None) -> None:
        with _lock:
            last = self._phases()[-1] if self._phases() else None
            if last is not None and last["phaseType"] == phase and "phaseStatus" not in last:
                return  # already in it
            self._close_open(at)
            self._phases().append({"phaseType": phase, "startTime": at or _now()})
            self.build.metadata["currentPhase"] = phase

    def _close_open(self, at: float | None, status: str = "SUCCEEDED") -> None:
        for phase in self._phases():
            if "phaseStatus" not in phase:
                end = at or _now()
                phase.update(
                    phaseStatus=status,
                    endTime=end,
                    durationInSeconds=max(0, int(end - float(phase["startTime"]))),
                )

    def end(
        self, phase: str, status: str, at: float | None = None, code: str = "", message: str = ""
    ) -> None:
        with _lock:
            entries = [p for p in self._phases() if p["phaseType"] == phase]
            if not entries:
                self._phases().append({"phaseType": phase, "startTime": at or _now()})
                entries = self._phases()[-1:]
            entry = entries[-1]
            end = at or _now()
            entry.update(
                phaseStatus=status,
                endTime=end,
                durationInSeconds=max(0, int(end - float(entry["startTime"]))),
            )
            if code or message:
                entry["contexts"] = [{"statusCode": code, "message": message}]

    def skip_to_finalizing(self, at: float | None = None) -> None:
        self.enter("FINALIZING", at)


class BuildRun:
    """Runs one build (``run`` in its own thread)."""

    def __init__(
        self,
        build: Build,
        project: dict[str, Any],
        endpoint: str,
        data_dir: Path,
        source: PipelineSource | None,
    ) -> None:
        self.build = build
        self.project = project
        self.endpoint = endpoint
        self.data_dir = data_dir
        self.source = source
        self.clock = PhaseClock(build)
        self.session: aws.RoleSession | None = None
        self.logs: Any = None
        self.group = ""
        self.stream = ""
        self._sent = 0
        self._sequence_lock = threading.Lock()

    # --- the log -----------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S.%f")
        self.output(f"[Container] {stamp} {message}")

    def output(self, line: str) -> None:
        with _lock:
            self.build.log_lines.append(line.rstrip("\n"))

    def flush_log(self) -> None:
        """Send the lines not sent yet to the build's log stream, as the role."""
        if self.logs is None:
            return
        with self._sequence_lock:
            with _lock:
                pending = self.build.log_lines[self._sent :]
            if not pending:
                return
            stamp = int(time.time() * 1000)
            events = [{"timestamp": stamp, "message": line or " "} for line in pending]
            for start in range(0, len(events), 1000):
                try:
                    self.logs.put_log_events(
                        logGroupName=self.group,
                        logStreamName=self.stream,
                        logEvents=events[start : start + 1000],
                    )
                except Exception as exc:  # a log that cannot be written does not change the build
                    LOG.warning(
                        "build %s: log not written: %s", self.build.build_id, aws.error_message(exc)[1]
                    )
                    return
            self._sent += len(pending)

    # --- the build ---------------------------------------------------------------------------------

    def run(self) -> None:
        work = Path(tempfile.mkdtemp(prefix="gtlocal-codebuild-"))
        try:
            status = self._run(work)
        except BuildFailure as failure:
            self.log(f"Phase complete: {failure.phase} State: {failure.status}")
            self.log(f"Phase context status code: {failure.code} Message: {failure.message}")
            self.clock.end(failure.phase, failure.status, code=failure.code, message=failure.message)
            status = failure.status if failure.status in ("TIMED_OUT", "FAULT") else "FAILED"
        except Exception as exc:  # a fault of the local cloud, not of the build
            LOG.exception("build %s faulted", self.build.build_id)
            self.clock.end(
                self.build.metadata["currentPhase"], "FAULT", code="LOCAL_CLOUD_FAULT", message=str(exc)
            )
            status = "FAULT"
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.finish(status)

    def finish(self, status: str) -> None:
        self.clock.enter("FINALIZING")
        self.clock.enter("COMPLETED")
        self.log("Phase complete: FINALIZING State: SUCCEEDED")
        self.flush_log()
        with _lock:
            meta = self.build.metadata
            end = _now()
            phases = meta["phases"]
            phases[-1] = {"phaseType": "COMPLETED", "startTime": end}
            meta.update(buildStatus=status, currentPhase="COMPLETED", buildComplete=True, endTime=end)
        self.build.done.set()

    def _run(self, work: Path) -> str:
        meta, project = self.build.metadata, self.project
        region, account = self.build.region, self.build.account
        self.clock.enter("PROVISIONING")
        try:
            self.session = aws.assume(
                project["serviceRole"], "codebuild.amazonaws.com", region, account, project["arn"]
            )
        except Exception as exc:
            raise BuildFailure(
                "PROVISIONING",
                "FAILED",
                "CLIENT_ERROR",
                f"CodeBuild is not authorized to perform: sts:AssumeRole on {project['serviceRole']}: "
                f"{aws.error_message(exc)[1]}",
            ) from None
        self._open_log(meta, project)
        try:
            environment = buildenv.prepare(project.get("environment", {}).get("image", ""), self.data_dir)
        except buildenv.BuildEnvironmentError as exc:
            raise BuildFailure("PROVISIONING", "FAILED", "CLIENT_ERROR", str(exc)) from None
        self.log("Running on the gtlocal local cloud (commands run on this machine)")
        self.clock.enter("DOWNLOAD_SOURCE")
        src = work / "src"
        spec = self._download(src)
        self.log(f"CODEBUILD_SRC_DIR={src}")
        variables = self._environment(work, src, environment, spec)
        self.log("Processing environment variables")
        self.clock.enter("INSTALL")
        runtimes = spec.phases.get("install")
        if runtimes is not None and runtimes.runtime_versions:
            self._runtimes(runtimes.runtime_versions, environment.image)
        return self._phases(work, src, spec, variables)

    def _open_log(self, meta: dict[str, Any], project: dict[str, Any]) -> None:
        config = (project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
        if config.get("status", "ENABLED") == "DISABLED":
            meta["logs"] = {"cloudWatchLogs": {"status": "DISABLED"}}
            return
        self.group = config.get("groupName") or f"/aws/codebuild/{project['name']}"
        build_uuid = self.build.build_id.split(":", 1)[1]
        self.stream = f"{config['streamName']}/{build_uuid}" if config.get("streamName") else build_uuid
        self.logs = aws.client("logs", self.build.region, self.endpoint, self.session)
        region, account = self.build.region, self.build.account
        try:
            self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        except Exception as exc:
            code, message = aws.error_message(exc)
            if code == "ResourceNotFoundException":  # CodeBuild creates a missing group as the role
                try:
                    self.logs.create_log_group(logGroupName=self.group)
                    self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
                except Exception as again:
                    code, message = aws.error_message(again)
                else:
                    code = ""
            if code:
                self.logs = None
                raise BuildFailure(
                    "PROVISIONING",
                    "FAILED",
                    "ACCESS_DENIED" if "AccessDenied" in code else "CLIENT_ERROR",
                    f"Service role {project['serviceRole']} does not allow AWS CodeBuild to create Amazon "
                    f"CloudWatch Logs log streams for build {self.build.metadata['arn']}. Error message: "
                    f"{message}",
                ) from None
        arn = f"arn:aws:logs:{region}:{account}:log-group:{self.group}:log-stream:{self.stream}"
        meta["logs"] = {
            "groupName": self.group,
            "streamName": self.stream,
            "deepLink": f"{self.endpoint}/_localcloud/pipelines/builds/{self.build.build_id}/log",
            "cloudWatchLogsArn": arn,
            "cloudWatchLogs": {"status": "ENABLED", "groupName": self.group},
            "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
        }

    def _download(self, src: Path) -> Buildspec:
        source_type = (self.project.get("source") or {}).get("type")
        if source_type != "CODEPIPELINE" or self.source is None:
            raise BuildFailure(
                "DOWNLOAD_SOURCE",
                "FAILED",
                "CLIENT_ERROR",
                f"the local cloud runs builds of CODEPIPELINE sources started by CodePipeline only "
                f"(source type {source_type}, source version "
                f"{self.build.metadata.get('sourceVersion') or 'none'})",
            )
        s3 = aws.client("s3", self.build.region, self.endpoint, self.session)
        try:
            body = s3.get_object(Bucket=self.source.bucket, Key=self.source.key)["Body"].read()
        except Exception as exc:
            code, message = aws.error_message(exc)
            raise BuildFailure(
                "DOWNLOAD_SOURCE",
                "FAILED",
                "CLIENT_ERROR",
                f"{code}: {message} for primary source and source version "
                f"arn:aws:s3:::{self.source.bucket}/{self.source.key}",
            ) from None
        src.mkdir(parents=True)
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            for member in archive.infolist():
                target = (src / member.filename).resolve()
                if not target.is_relative_to(src.resolve()):
                    raise BuildFailure(
                        "DOWNLOAD_SOURCE", "FAILED", "CLIENT_ERROR", f"unsafe path {member.filename}"
                    )
                archive.extract(member, src)
                mode = (member.external_attr >> 16) & 0o777
                if mode and not member.is_dir():
                    target.chmod(mode)
        with _lock:
            self.build.metadata["resolvedSourceVersion"] = self.source.revision
        declared = (self.project.get("source") or {}).get("buildspec") or "buildspec.yml"
        if "\n" in declared or declared.lstrip().startswith("version"):
            text, where = declared, "the project's inline buildspec"
        else:
            path = (src / declared).resolve()
            if not path.is_relative_to(src.resolve()) or not path.is_file():
                raise BuildFailure(
                    "DOWNLOAD_SOURCE",
                    "FAILED",
                    "YAML_FILE_ERROR",
                    f"YAML_FILE_ERROR: stat {src / declared}: no such file or directory",
                )
            text, where = path.read_text(encoding="utf-8"), str(path)
        self.log(f"YAML location is {where}")
        try:
            return parse(text)
        except BuildspecError as exc:
            raise BuildFailure("DOWNLOAD_SOURCE", "FAILED", "YAML_FILE_ERROR", str(exc)) from None

    def _environment(
        self, work: Path, src: Path, environment: buildenv.ImageEnvironment, spec: Buildspec
    ) -> dict[str, str]:
        meta, project = self.build.metadata, self.project
        home, tmp = work / "home", work / "tmp"
        home.mkdir()
        tmp.mkdir()
        python_bin = buildenv.build_python(environment, work)
        variables: dict[str, str] = dict(spec.variables)
        for variable in (project.get("environment") or {}).get("environmentVariables") or []:
            kind = variable.get("type", "PLAINTEXT")
            if kind != "PLAINTEXT":
                raise BuildFailure(
                    "DOWNLOAD_SOURCE",
                    "FAILED",
                    "CLIENT_ERROR",
                    f"environment variable {variable['name']} of type {kind} is not modelled by the local "
                    "cloud; use PLAINTEXT",
                )
            variables[variable["name"]] = str(variable.get("value", ""))
        assert self.session is not None
        started = datetime.fromtimestamp(float(meta["startTime"]), UTC)
        variables.update(
            {
                "PATH": os.pathsep.join(
                    [str(python_bin), str(environment.bin), "/usr/local/bin", "/usr/bin", "/bin"]
                ),
                "HOME": str(home),
                "TMPDIR": str(tmp),
                "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8",
                "PIP_CACHE_DIR": str(self.data_dir / "codebuild" / "pip-cache"),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "AWS_REGION": self.build.region,
                "AWS_DEFAULT_REGION": self.build.region,
                "AWS_ENDPOINT_URL": self.endpoint,
                **self.session.environment(),
                "CODEBUILD_SRC_DIR": str(src),
                "CODEBUILD_BUILD_ID": self.build.build_id,
                "CODEBUILD_BUILD_ARN": str(meta["arn"]),
                "CODEBUILD_BUILD_NUMBER": str(meta["buildNumber"]),
                "CODEBUILD_BUILD_IMAGE": str((project.get("environment") or {}).get("image", "")),
                "CODEBUILD_INITIATOR": str(meta["initiator"]),
                "CODEBUILD_SOURCE_VERSION": str(meta.get("sourceVersion", "")),
                "CODEBUILD_RESOLVED_SOURCE_VERSION": str(meta.get("resolvedSourceVersion", "")),
                "CODEBUILD_START_TIME": str(int(started.timestamp() * 1000)),
                "CODEBUILD_KMS_KEY_ID": str(meta.get("encryptionKey", "")),
                "CODEBUILD_LOG_PATH": self.stream,
            }
        )
        return variables

    def _runtimes(self, runtimes: dict[str, str], spec: buildenv.Image) -> None:
        for runtime, version in runtimes.items():
            if runtime != "python":
                raise BuildFailure(
                    "INSTALL",
                    "FAILED",
                    "YAML_FILE_ERROR",
                    f"runtime {runtime} is not provided by the local cloud's build environment (Python only)",
                )
            if version not in spec.python_runtimes:
                raise BuildFailure(
                    "INSTALL",
                    "FAILED",
                    "YAML_FILE_ERROR",
                    f"Unknown runtime version named '{version}' of python. This build image has the "
                    f"following versions: {', '.join(spec.python_runtimes)}",
                )
            if version != buildenv.local_python():
                raise BuildFailure(
                    "INSTALL",
                    "FAILED",
                    "CLIENT_ERROR",
                    f"python {version} is in the image but not on this machine: the local cloud builds with "
                    f"this machine's Python {buildenv.local_python()}",
                )
            self.log(f"Installing Python version {version} ...")

    def _phases(self, work: Path, src: Path, spec: Buildspec, variables: dict[str, str]) -> str:
        driver = work / "driver.sh"
        driver.write_text(script(spec))
        status_path = work / "phases"
        timeout = float(self.build.metadata["timeoutInMinutes"]) * 60
        deadline = time.monotonic() + timeout
        proc = subprocess.Popen(
            ["/bin/bash", str(driver), str(status_path)],  # the script reports phases to that file
            cwd=src,
            env=variables,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=10)
        return self._outcome(status_path, spec, timed_out, proc.returncode)

    def _read(self, stream: Any) -> None:
        last = time.monotonic()
        for line in stream:
            self.output(line)
            if time.monotonic() - last > 1.0:
                self.flush_log()
                last = time.monotonic()

    def _outcome(self, status_path: Path, spec: Buildspec, timed_out: bool, returncode: int) -> str:
        failed = False
        open_phase: str | None = None
        lines = status_path.read_text().splitlines() if status_path.exists() else []
        for line in lines:
            parts = line.split(" ")
            if parts[0] == "START":
                open_phase = parts[1]
                self.clock.enter(parts[1], float(parts[2]))
            elif parts[0] == "END" and parts[2] == "SUCCEEDED":
                self.clock.end(parts[1], "SUCCEEDED", float(parts[3]))
                open_phase = None
            elif parts[0] == "END":
                command = failed_command(spec, parts[5], int(parts[6]))
                message = f"Error while executing command: {command}. Reason: exit status {parts[4]}"
                self.log(f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {message}")
                self.clock.end(parts[1], "FAILED", float(parts[3]), "COMMAND_EXECUTION_ERROR", message)
                failed = True
                open_phase = None
        if timed_out:
            phase = open_phase or "BUILD"
            raise BuildFailure(phase, "TIMED_OUT", "BUILD_TIMED_OUT", "Build has timed out. ")
        if open_phase is not None:  # the shell ended inside a phase (a command ran `exit`)
            raise BuildFailure(
                open_phase,
                "FAILED",
                "COMMAND_EXECUTION_ERROR",
                f"Error while executing command: the shell exited. Reason: exit status {returncode}",
            )
        self.clock.enter("UPLOAD_ARTIFACTS")
        self.clock.end("UPLOAD_ARTIFACTS", "SUCCEEDED")
        return "FAILED" if failed else "SUCCEEDED"


# --- the registry and moto's API ------------------------------------------------------------------


class Builds:
    """Every build the local cloud ran or runs in this process (cleared with moto's state)."""

    def __init__(self) -> None:
        self.by_id: dict[str, Build] = {}
        self.sources: dict[str, PipelineSource] = {}  # sourceVersion -> artifact
        self.starter: Callable[[Build, dict[str, Any], PipelineSource | None], None] | None = None

    def clear(self) -> None:
        with _lock:
            self.by_id.clear()
            self.sources.clear()
            _numbers.clear()

    def register_source(self, source: PipelineSource) -> str:
        version = f"arn:aws:s3:::{source.bucket}/{source.key}"
        with _lock:
            self.sources[version] = source
        return version


BUILDS = Builds()


def install() -> None:
    """Patch moto's CodeBuild: ``StartBuild`` runs the build, ``BatchGetBuilds`` answers it."""
    import json

    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse

    original_batch = CodeBuildBackend.batch_get_builds

    def start_build(self: CodeBuildResponse) -> str:
        backend: CodeBuildBackend = self.codebuild_backend
        name = self._get_param("projectName")
        project = backend.codebuild_projects.get(name)
        if project is None:
            from moto.codebuild.exceptions import ResourceNotFoundException

            raise ResourceNotFoundException(
                "Project cannot be found: "
                f"arn:aws:codebuild:{backend.region_name}:{backend.account_id}:project/{name}"
            )
        metadata = dict(project.project_metadata)
        version = self._get_param("sourceVersion")
        source = BUILDS.sources.get(version or "")
        principal = self.request.environ.get("gtlocal.principal") if hasattr(self, "request") else None
        initiator = (
            f"codepipeline/{source.pipeline}"
            if source is not None
            else (principal.caller.arn.rsplit(":", 1)[-1] if principal is not None else "root")
        )
        build = Build(
            backend.account_id,
            backend.region_name,
            new_build(backend.account_id, backend.region_name, metadata, version, initiator),
        )
        with _lock:
            BUILDS.by_id[build.build_id] = build
            backend.build_history.setdefault(name, []).append(build.build_id)
        if BUILDS.starter is not None:
            BUILDS.starter(build, metadata, source)
        with _lock:
            return json.dumps({"build": build.metadata})

    def batch_get_builds(self: CodeBuildBackend, ids: list[str]) -> list[dict[str, Any]]:
        ours = [i for i in ids if i in BUILDS.by_id]
        others = [i for i in ids if i not in BUILDS.by_id]
        found = original_batch(self, others) if others else []
        with _lock:
            return [json.loads(json.dumps(BUILDS.by_id[i].metadata)) for i in ours] + list(found)

    CodeBuildResponse.start_build = start_build  # type: ignore[method-assign,assignment]
    CodeBuildBackend.batch_get_builds = batch_get_builds  # type: ignore[method-assign]
