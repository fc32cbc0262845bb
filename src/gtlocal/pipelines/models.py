"""Pipeline executions and builds as the APIs report them (state only: no HTTP, no running).

moto 5 answers ``StartPipelineExecution`` with an execution that is ``Succeeded`` at once, has no
``GetPipelineState``, and ``BatchGetBuilds`` marks every build ``SUCCEEDED``. Here an execution
starts ``InProgress`` and is handed to the service (``gtlocal.pipelines.service``); its stages,
actions, artifact revisions and trigger are kept on moto's own execution object (attribute
``gtlocal``), so a moto reset forgets them with the pipeline. Shapes follow the CodePipeline API
reference (``PipelineExecution``, ``PipelineExecutionSummary``, ``StageState``, ``ActionState``);
timestamps are epoch seconds, as the JSON protocol sends them.

Executions of one pipeline run one at a time, in the order they started (a later execution waits;
CodePipeline's SUPERSEDED mode, where a newer execution may overtake a waiting one, and its
QUEUED / PARALLEL modes are not modelled).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SUCCEEDED, FAILED, IN_PROGRESS = "Succeeded", "Failed", "InProgress"
_lock = threading.RLock()

# Set by gtlocal.pipelines.service: called with (account, region, pipeline name, execution id).
_on_start: list[Callable[[str, str, str, str], None]] = []

TRIGGER_HEADER = "X-Gtlocal-Pipeline-Trigger"  # set by the local EventBridge delivery only


@dataclass
class ActionRun:
    name: str
    status: str = IN_PROGRESS
    summary: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    last_change: float = field(default_factory=time.time)

    def to_state(self, execution_id: str) -> dict[str, Any]:
        latest: dict[str, Any] = {
            "actionExecutionId": f"{execution_id}-{self.name}",
            "status": self.status,
            "lastStatusChange": self.last_change,
        }
        if self.summary:
            latest["summary"] = self.summary
        if self.external_id:
            latest["externalExecutionId"] = self.external_id
        if self.external_url:
            latest["externalExecutionUrl"] = self.external_url
        if self.error_code:
            latest["errorDetails"] = {"code": self.error_code, "message": self.error_message or ""}
        return latest


@dataclass
class StageRun:
    name: str
    status: str = IN_PROGRESS
    actions: dict[str, ActionRun] = field(default_factory=dict)


@dataclass
class ExecutionRecord:
    """What moto's execution lacks: stages, actions, revisions, trigger and timing."""

    trigger_type: str
    trigger_detail: str
    status: str = IN_PROGRESS
    status_summary: str | None = None
    start: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    stages: dict[str, StageRun] = field(default_factory=dict)
    artifact_revisions: list[dict[str, Any]] = field(default_factory=list)
    source_revisions: list[dict[str, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def touch(self) -> None:
        self.updated = time.time()

    def finish(self, status: str, summary: str | None = None) -> None:
        with _lock:
            self.status = status
            self.status_summary = summary
            self.touch()
        self.done.set()


def record_of(execution: Any) -> ExecutionRecord | None:
    found = getattr(execution, "gtlocal", None)
    return found if isinstance(found, ExecutionRecord) else None


def find_execution(account: str, region: str, pipeline: str, execution_id: str) -> tuple[Any, Any] | None:
    """(moto pipeline, moto execution), or None after a reset or for an unknown id."""
    from moto.codepipeline.models import codepipeline_backends

    by_region: Any = codepipeline_backends.get(account) or {}
    backend = by_region.get(region)
    if backend is None:
        return None
    found = backend.pipelines.get(pipeline)
    execution = found.executions.get(execution_id) if found is not None else None
    return (found, execution) if execution is not None else None


# --- the API: moto patches ------------------------------------------------------------------------


def _common(execution: Any, record: ExecutionRecord) -> dict[str, Any]:
    """What ``PipelineExecution`` and ``PipelineExecutionSummary`` share."""
    result: dict[str, Any] = {
        "pipelineExecutionId": execution.pipeline_execution_id,
        "status": record.status,
        "trigger": {"triggerType": record.trigger_type, "triggerDetail": record.trigger_detail},
        "executionMode": "SUPERSEDED",
        "executionType": "STANDARD",
    }
    if record.status_summary:
        result["statusSummary"] = record.status_summary
    return result


def _execution_dict(self: Any) -> dict[str, Any]:
    record = record_of(self)
    if record is None:  # created before the patches: moto's own answer
        return dict(_original_to_dict(self))
    with _lock:
        return {
            **_common(self, record),
            "pipelineName": self.pipeline_name,
            "pipelineVersion": self.pipeline_version,
            "artifactRevisions": list(record.artifact_revisions),
            "variables": [{"name": v["name"], "resolvedValue": v["value"]} for v in self.variables],
        }


def _execution_summary(self: Any) -> dict[str, Any]:
    record = record_of(self)
    if record is None:
        return dict(_original_to_summary(self))
    with _lock:
        return {
            **_common(self, record),
            "startTime": record.start,
            "lastUpdateTime": record.updated,
            "sourceRevisions": list(record.source_revisions),
        }


def pipeline_state(pipeline: Any) -> dict[str, Any]:
    """``GetPipelineState``: per stage, the latest execution that reached it and its actions."""
    definition = pipeline.pipeline
    executions = list(pipeline.executions.values())
    stages = []
    with _lock:
        for stage in definition["stages"]:
            state: dict[str, Any] = {"stageName": stage["name"], "inboundTransitionState": {"enabled": True}}
            latest = None
            for execution in reversed(executions):
                record = record_of(execution)
                if record is not None and stage["name"] in record.stages:
                    latest = (execution.pipeline_execution_id, record.stages[stage["name"]])
                    break
            actions = []
            for action in stage["actions"]:
                entry: dict[str, Any] = {"actionName": action["name"]}
                if latest is not None and action["name"] in latest[1].actions:
                    entry["latestExecution"] = latest[1].actions[action["name"]].to_state(latest[0])
                actions.append(entry)
            state["actionStates"] = actions
            if latest is not None:
                state["latestExecution"] = {"pipelineExecutionId": latest[0], "status": latest[1].status}
            stages.append(state)
    metadata = pipeline.metadata
    return {
        "pipelineName": definition["name"],
        "pipelineVersion": definition["version"],
        "stageStates": stages,
        "created": metadata["created"],
        "updated": metadata["updated"],
    }


_original_to_dict: Any = None
_original_to_summary: Any = None


def install() -> None:
    """Patch moto's CodePipeline (once per process, from ``gtlocal.pipelines.service.install``)."""
    global _original_to_dict, _original_to_summary
    from moto.codepipeline.exceptions import PipelineNotFoundException
    from moto.codepipeline.models import CodePipelineBackend, PipelineExecution
    from moto.codepipeline.responses import CodePipelineResponse

    _original_to_dict = PipelineExecution.to_dict
    _original_to_summary = PipelineExecution.to_summary_dict
    PipelineExecution.to_dict = _execution_dict  # type: ignore[method-assign]
    PipelineExecution.to_summary_dict = _execution_summary  # type: ignore[method-assign]

    def pipeline_named(backend: CodePipelineBackend, name: str) -> Any:
        pipeline = backend.pipelines.get(name)
        if pipeline is None:
            raise PipelineNotFoundException(
                f"Account '{backend.account_id}' does not have a pipeline with name '{name}'"
            )
        return pipeline

    def start_pipeline_execution(self: CodePipelineResponse) -> str:
        backend: CodePipelineBackend = self.codepipeline_backend
        name = self._get_param("name")
        pipeline = pipeline_named(backend, name)
        trigger = self.headers.get(TRIGGER_HEADER)
        if trigger:
            trigger_type, _, detail = trigger.partition(" ")
        else:
            principal = self.request.environ.get("gtlocal.principal") if hasattr(self, "request") else None
            trigger_type = "StartPipelineExecution"
            detail = (
                principal.caller.arn if principal is not None else f"arn:aws:iam::{backend.account_id}:root"
            )
        execution = PipelineExecution(name, pipeline.pipeline["version"], self._get_param("variables"))
        execution.gtlocal = ExecutionRecord(trigger_type, detail)  # type: ignore[attr-defined]
        with _lock:
            pipeline.executions[execution.pipeline_execution_id] = execution
        for callback in _on_start:
            callback(backend.account_id, backend.region_name, name, execution.pipeline_execution_id)
        return json.dumps({"pipelineExecutionId": execution.pipeline_execution_id})

    def get_pipeline_state(self: CodePipelineResponse) -> str:
        state = pipeline_state(pipeline_named(self.codepipeline_backend, self._get_param("name")))
        from gtlocal.shims import _epoch

        state["created"], state["updated"] = _epoch(state["created"]), _epoch(state["updated"])
        return json.dumps(state)

    CodePipelineResponse.start_pipeline_execution = start_pipeline_execution  # type: ignore[method-assign]
    CodePipelineResponse.get_pipeline_state = get_pipeline_state  # type: ignore[attr-defined]
