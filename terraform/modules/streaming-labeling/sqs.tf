################################################################################
# SQS: every event-driven Lambda is fed by a queue with a dead-letter queue
################################################################################

locals {
  queue_settings = {
    intake        = var.queues.intake
    job_events    = var.queues.job_events
    worker_events = var.queues.worker_events
    labels        = var.queues.labels
  }
  queue_names = {
    intake        = "${local.name}-intake"
    job_events    = "${local.name}-job-events"
    worker_events = "${local.name}-worker-events"
    labels        = "${local.name}-labels"
  }
  # What may send to each queue (the queue policy's service principal and source ARN).
  queue_senders = {
    intake        = { service = "s3.amazonaws.com", source_arn = "arn:${local.partition}:s3:::${local.bucket_names.drop}" }
    job_events    = { service = "events.amazonaws.com", source_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.name}-job-state" }
    worker_events = { service = "events.amazonaws.com", source_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.name}-worker-task" }
    # the jobs' output topic: https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
    labels = { service = "sns.amazonaws.com", source_arn = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.topics.output}" }
  }
  # Lambda's guidance: visibility timeout at least 6x the function timeout (plus the batching window).
  queue_visibility_timeout = var.lambda.timeout * 6
}

# Queue ARNs are built from their names so that each queue's policies can be set inline at
# creation: the provider waits ~25 s for every SQS attribute change to settle, so separate
# policy resources would add that wait twice to every apply.
locals {
  queue_arns = { for k, n in local.queue_names : k => "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${n}" }
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queue_names

  name                              = "${each.value}-dlq"
  message_retention_seconds         = var.queues.dlq_retention_seconds
  kms_master_key_id                 = local.use_kms ? local.kms_key_arn : null
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  policy                            = data.aws_iam_policy_document.dlq[each.key].json
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arns[each.key]]
  })
  tags = merge(local.tags, { "gt-streaming:queue" = "${each.key}-dlq" })
}

resource "aws_sqs_queue" "this" {
  for_each = local.queue_names

  name                              = each.value
  visibility_timeout_seconds        = local.queue_visibility_timeout
  message_retention_seconds         = 1209600
  receive_wait_time_seconds         = 20
  kms_master_key_id                 = local.use_kms ? local.kms_key_arn : null
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  sqs_managed_sse_enabled           = local.use_kms ? null : true
  policy                            = data.aws_iam_policy_document.queue[each.key].json
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = local.queue_settings[each.key].max_receive_count
  })
  tags = merge(local.tags, { "gt-streaming:queue" = each.key })
}

data "aws_iam_policy_document" "queue" {
  for_each = local.queue_names

  statement {
    sid       = "AllowProjectSender"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arns[each.key]]
    principals {
      type        = "Service"
      identifiers = [local.queue_senders[each.key].service]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.queue_senders[each.key].source_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # A review stage's intake queue also takes the upstream stage's labels (stage.tf):
  # https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
  dynamic "statement" {
    for_each = each.key == "intake" && local.upstream_topic_arn != null ? [local.upstream_topic_arn] : []
    content {
      sid       = "AllowUpstreamOutputTopic"
      actions   = ["sqs:SendMessage"]
      resources = [local.queue_arns[each.key]]
      principals {
        type        = "Service"
        identifiers = ["sns.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [statement.value]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sqs:*"] # every SQS action over plain HTTP; no allow uses a wildcard
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [local.queue_arns[each.key]]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# Dead-letter queues receive only from their source queue (SQS moves the messages itself, no
# SendMessage grant needed); their policy is the TLS-only deny alone.
data "aws_iam_policy_document" "dlq" {
  for_each = local.queue_names

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sqs:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = ["${local.queue_arns[each.key]}-dlq"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# Live labels: Ground Truth sends each labeled object's output data to the output topic
# (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-how-it-works-output-data.html);
# the labels queue gets it as the output line itself (raw message delivery: no SNS envelope,
# https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html).
resource "aws_sns_topic_subscription" "labels" {
  topic_arn            = aws_sns_topic.this["output"].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.this["labels"].arn
  raw_message_delivery = true
}
