"""What every handler shares: Powertools logger/metrics, settings parsed once per environment, SQS batches."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Collection
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gtstream.config import ENV_VARIABLES, Settings, SettingsError
from gtstream.deps import Deps

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "gtstream")
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GroundTruthStreaming"), service=SERVICE
)

_lock = threading.Lock()
_deps: dict[tuple[str, ...], Deps] = {}


class PowertoolsMetrics:
    """The logic's MetricsSink, written as CloudWatch EMF by Powertools."""

    def add_metric(self, name: str, unit: str, value: float) -> None:
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)


def deps() -> Deps:
    """Settings are parsed once per environment (cold start); a bad environment fails loudly here.

    One ``Deps`` per function (``AWS_LAMBDA_FUNCTION_NAME``, as Lambda keeps one execution
    environment per function) and environment; its clients follow the credentials of the
    invocation (``gtstream.aws.Clients``), so one function never calls AWS as another's role."""
    key = (
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        *(os.environ.get(name, "") for name in ENV_VARIABLES),
    )
    with _lock:
        if key not in _deps:
            built = Deps.build(Settings.from_env(os.environ))
            built.metrics = PowertoolsMetrics()
            _deps[key] = built
        return _deps[key]


def forget_project_configs(function_names: Collection[str]) -> int:
    """Forget the project config that this process's warm environments of ``function_names``
    cache (for a minute): their next invocation reads the published one, as a freshly deployed
    function would. The clients stay warm. For a local cloud that calls the handlers in process
    (``gtlocal.testing.clean_project``); returns how many environments it touched."""
    with _lock:
        warm = [runtime for key, runtime in _deps.items() if key[0] in function_names]
    for runtime in warm:
        runtime.forget_project_config()
    return len(warm)


def init(*modules: str, read_config: bool = False) -> None:
    """The Lambda init phase, run when a handler module is imported: parse the settings, create the
    boto3 clients and import `modules` (what the handler's first call needs), so the first call
    costs what a warm one does (lambda/latest/dg/lambda-runtime-environment.html: the init phase
    runs the function's static code once per execution environment, before the first invocation).

    ``read_config``: also read the published project config (cached per container for a minute,
    gtstream.deps); a failure to read it is logged and left to the first call.

    Without a Lambda environment (a tool or a test importing the module) nothing is created: the
    first call parses the settings and fails loudly there."""
    try:
        Settings.from_env(os.environ)
    except SettingsError as exc:
        logger.debug(
            "no Lambda environment at import; clients are created on first use", extra={"why": str(exc)}
        )
        return
    # boto3.dynamodb.types: the ledger's value converters, which every handler uses
    for module in ("boto3.dynamodb.types", *modules):
        importlib.import_module(module)
    runtime = deps()
    if runtime.clients is not None:
        runtime.clients.warm()
    if read_config:
        try:
            runtime.project_config_or_none()
        except Exception:
            logger.exception("project config not read in the init phase; the first call reads it")


def process_sqs_batch(
    event: dict[str, Any], context: Any, record_handler: Callable[[SQSRecord], Any]
) -> dict[str, Any]:
    """SQS partial batch response: only failed records are retried (and reach the DLQ eventually).

    A fresh BatchProcessor per call keeps concurrent calls (threads in tests) independent."""

    def logged(record: SQSRecord) -> Any:
        try:
            return record_handler(record)
        except Exception:
            logger.exception("record failed; it will be retried", extra={"message_id": record.message_id})
            raise

    response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
        event=event,
        record_handler=logged,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )
    metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    metrics.add_metric(
        name="RecordsFailed", unit=MetricUnit.Count, value=len(response.get("batchItemFailures", []))
    )
    return response
