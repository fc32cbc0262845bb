"""Labels Lambda: SQS batch of the jobs' output-topic messages (one labeled object each)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gtstream.handlers.common import deps, init, logger, metrics, process_sqs_batch

init("gtstream.live_labels")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from gtstream.live_labels import handle_output

    runtime = deps()

    def record_handler(record: SQSRecord) -> None:
        result = handle_output(runtime, record.body)
        logger.debug(
            "output message", extra={"action": result.action, "object": result.object_id, "job": result.job}
        )

    return process_sqs_batch(event, context, record_handler)
