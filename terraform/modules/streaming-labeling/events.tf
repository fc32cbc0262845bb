################################################################################
# EventBridge: this project's job state changes and worker task events -> queues;
# the reconcile schedule -> reconcile Lambda. SQS and Lambda targets are authorised by
# resource policies (queue policy, Lambda permission), so no events role is needed here.
################################################################################

resource "aws_cloudwatch_event_rule" "job_state" {
  name        = "${local.name}-job-state"
  description = "Ground Truth labeling job state changes of ${local.prefix}-* jobs"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Ground Truth Labeling Job State Change"]
    resources     = [{ prefix = local.job_arn_prefix }]
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
      "labeling-job-arn" = [{ prefix = local.job_arn_prefix }]
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
