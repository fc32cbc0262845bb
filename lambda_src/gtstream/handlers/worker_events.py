"""Worker-events Lambda: SQS batch of EventBridge "Labeling Job Task Status Change" events."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gtstream.handlers.common import deps, init, logger, metrics, process_sqs_batch

init("gtstream.worker_events")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from gtstream.worker_events import handle_task_event

    runtime = deps()

    def record_handler(record: SQSRecord) -> None:
        result = handle_task_event(runtime, record.json_body)
        logger.debug("task event", extra={"job": result.job, "state": result.state, "spike": result.spike})

    return process_sqs_batch(event, context, record_handler)
