"""Intake Lambda: SQS batch of the drop bucket's S3 ObjectCreated notifications, an upstream stage's
output lines and a downstream review's rejected objects (gtstream.intake.parse_message)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gtstream.handlers.common import deps, init, logger, metrics, process_sqs_batch

init(
    "gtstream.intake",
    "PIL.Image",
    "PIL.ImageOps",
    # the plugins Image.open's first call imports (PIL.Image.preinit)
    "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.PpmImagePlugin",
    read_config=True,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from gtstream import intake

    runtime = deps()
    outcomes: list[intake.Outcome] = []

    def record_handler(record: SQSRecord) -> None:
        for message in intake.parse_message(record.json_body, intake.reviewed_attribute(runtime)):
            outcome = intake.process(runtime, message)
            logger.info(
                "intake", extra={"key": outcome.key, "action": outcome.action, "reason": outcome.reason}
            )
            outcomes.append(outcome)

    response = process_sqs_batch(event, context, record_handler)
    result = intake.dispatch(runtime, outcomes)
    logger.info(
        "dispatched",
        extra={
            "accepted": sum(o.action == "accepted" for o in outcomes),
            "duplicate": sum(o.action == "duplicate" for o in outcomes),
            "sent": result.sent,
            "pending": len(result.pending),
            "decision": getattr(result.decision, "action", None),
        },
    )
    return response
