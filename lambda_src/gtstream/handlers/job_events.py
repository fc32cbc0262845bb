"""Job-events Lambda: SQS batch of EventBridge "Labeling Job State Change" events and job checks."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gtstream.handlers.common import deps, init, logger, metrics, process_sqs_batch

init("gtstream.job_events")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from gtstream.job_events import handle_message

    runtime = deps()

    def record_handler(record: SQSRecord) -> None:
        result = handle_message(runtime, record.json_body, record.message_id)
        logger.info(
            "job event",
            extra={
                "job": result.job,
                "status": result.status,
                "action": result.action,
                "sent": result.sent,
                "decision": getattr(result.decision, "action", None),
                "reason": getattr(result.decision, "reason", None),
                "next_check_seconds": result.next_check_seconds,
            },
        )

    return process_sqs_batch(event, context, record_handler)
