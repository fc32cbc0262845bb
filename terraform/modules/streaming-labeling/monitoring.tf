################################################################################
# CloudWatch alarms (-> notification topic) and dashboard
################################################################################

locals {
  alarm_actions = concat([aws_sns_topic.this["notifications"].arn], var.alarms.additional_alarm_action_arns)
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = var.alarms.enabled ? local.queue_names : {}

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}-dlq-not-empty"
  alarm_description   = "Messages in ${each.value}-dlq: events the ${each.key} Lambda failed on ${local.queue_settings[each.key].max_receive_count} times. Inspect and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.dlq_visible_messages_at_least
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  for_each = var.alarms.enabled ? local.queue_names : {}

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}-oldest-message"
  alarm_description   = "The oldest message in ${each.value} waits longer than ${var.alarms.oldest_message_age_seconds} s: the ${each.key} Lambda is not keeping up or not running."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.alarms.oldest_message_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = var.alarms.enabled ? local.functions : {}

  alarm_name          = "${local.function_names[each.key]}-errors"
  alarm_description   = "The ${local.function_names[each.key]} Lambda raised errors (a whole batch failed or the handler crashed)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.lambda_errors_per_5_minutes
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${local.name}-gt-streaming"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Queue depth (visible messages)"
          region = local.region
          stat   = "Maximum"
          period = 60
          metrics = concat(
            [for k, q in aws_sqs_queue.this : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.name]],
            [for k, q in aws_sqs_queue.dlq : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.name]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Oldest message age (s)"
          region  = local.region
          stat    = "Maximum"
          period  = 60
          metrics = [for k, q in aws_sqs_queue.this : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q.name]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Lambda errors"
          region  = local.region
          stat    = "Sum"
          period  = 300
          metrics = [for k, f in aws_lambda_function.this : ["AWS/Lambda", "Errors", "FunctionName", f.function_name]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Lambda duration p95 (ms)"
          region  = local.region
          stat    = "p95"
          period  = 300
          metrics = [for k, f in aws_lambda_function.this : ["AWS/Lambda", "Duration", "FunctionName", f.function_name]]
        }
      },
    ]
  })
}
