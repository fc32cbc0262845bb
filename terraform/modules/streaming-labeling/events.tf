################################################################################
# EventBridge: this project's job state changes and worker task events -> queues;
# the reconcile schedule -> reconcile Lambda. SQS and Lambda targets are authorised by
# resource policies (queue policy, Lambda permission), so no events role is needed here.
################################################################################

locals {
  # EventBridge has neither a single-character nor a digit class, and no AND of two matchers on
  # one field ("Comparison operators only work on leaf nodes, with the exception of $or and
  # anything-but": https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html),
  # so "<prefix>-<digits>" cannot be written. The ten prefixes "<job ARN prefix><digit>" are the
  # narrowest it can express: a project "<prefix>-x" (x not a digit) no longer matches; one named
  # "<prefix>-<digit>..." still does, and its events are harmless here (they carry only a status;
  # the handlers ignore names that are not <prefix>-NNNN, and IAM denies acting on them).
  # Plain prefixes, not wildcards: rules with wildcards are limited to 30 per event bus
  # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
  job_arn_matchers = [for d in range(10) : { prefix = "${local.job_arn_prefix}${d}" }]
}

resource "aws_cloudwatch_event_rule" "job_state" {
  name        = "${local.name}-job-state"
  description = "Ground Truth labeling job state changes of ${local.prefix}-* jobs"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Ground Truth Labeling Job State Change"]
    resources     = local.job_arn_matchers
    detail = {
      # Only the statuses AWS documents events for ("Monitor Labeling Job Status"); the Lambdas
      # follow a new job to InProgress themselves (delayed checks on the job-events queue).
      LabelingJobStatus = ["Completed", "Failed", "Stopped"]
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "job_state" {
  rule      = aws_cloudwatch_event_rule.job_state.name
  target_id = "job-events-queue"
  arn       = aws_sqs_queue.this["job_events"].arn
}

resource "aws_cloudwatch_event_rule" "worker_task" {
  name        = "${local.name}-worker-task"
  description = "Ground Truth worker task status changes of ${local.prefix}-* jobs"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Ground Truth Labeling Job Task Status Change"]
    detail = {
      "labeling-job-arn" = local.job_arn_matchers
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "worker_task" {
  rule      = aws_cloudwatch_event_rule.worker_task.name
  target_id = "worker-events-queue"
  arn       = aws_sqs_queue.this["worker_events"].arn
}

resource "aws_cloudwatch_event_rule" "reconcile" {
  name                = "${local.name}-reconcile"
  description         = "Runs the ${local.prefix} reconciler"
  schedule_expression = var.reconcile_schedule_expression
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "reconcile" {
  rule      = aws_cloudwatch_event_rule.reconcile.name
  target_id = "reconcile-lambda"
  arn       = aws_lambda_function.this["reconcile"].arn
}

resource "aws_lambda_permission" "reconcile" {
  statement_id   = "AllowReconcileSchedule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this["reconcile"].function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.reconcile.arn
  source_account = local.account_id
}
