"""Reconcile Lambda: started by its schedule (EventBridge Scheduler / rule), not by a queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from gtstream.handlers.common import deps, init, logger, metrics

init("gtstream.reconcile")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from gtstream.reconcile import reconcile

    report = reconcile(deps())
    summary = {
        "active_job": report.active_job,
        "status": report.status,
        "resent": report.resent,
        "decision": getattr(report.decision, "action", None),
        "reason": getattr(report.decision, "reason", None),
        "deleted_queues": report.deleted_queues,
        "idle_warning": report.idle_warning,
    }
    logger.info("reconciled", extra=summary)
    metrics.add_metric(name="ObjectsResent", unit=MetricUnit.Count, value=report.resent)
    return summary
