################################################################################
# Ground Truth execution role (passed to CreateLabelingJob by the Lambdas).
# Scoped to this project's buckets, topics and the GroundTruth-<job> queues that Ground Truth
# creates for streaming jobs - not AmazonSageMakerFullAccess.
################################################################################

data "aws_iam_policy_document" "groundtruth_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "groundtruth" {
  name                 = "${local.name}-groundtruth"
  description          = "Ground Truth execution role of the ${local.prefix} streaming labeling jobs"
  assume_role_policy   = data.aws_iam_policy_document.groundtruth_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "groundtruth" {
  statement {
    sid       = "ListProjectBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.this["input"].arn, aws_s3_bucket.this["output"].arn, local.instructions_bucket_arn]
  }
  statement {
    sid     = "ReadInputsTemplatesAndInstructions"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.this["input"].arn}/*",
      "${aws_s3_bucket.this["output"].arn}/*",
      "${local.instructions_bucket_arn}/*",
    ]
  }
  statement {
    sid       = "WriteLabelingOutput"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.this["output"].arn}/jobs/*"]
  }
  statement {
    sid       = "StreamingInputTopic"
    actions   = ["sns:Subscribe", "sns:GetTopicAttributes"]
    resources = [aws_sns_topic.this["input"].arn]
  }
  statement {
    sid       = "StreamingOutputTopic"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this["output"].arn]
  }
  statement {
    # Ground Truth creates and reads a queue named GroundTruth-<job name lower-case> per streaming job.
    sid = "StreamingJobQueues"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
      "sqs:ReceiveMessage", "sqs:SendMessageBatch", "sqs:SetQueueAttributes",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:GroundTruth-${local.lower}-*"]
  }
  statement {
    sid       = "LabelingJobLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/LabelingJobs:*"]
  }
  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "ProjectKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [local.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "groundtruth" {
  name   = "groundtruth-streaming"
  role   = aws_iam_role.groundtruth.id
  policy = data.aws_iam_policy_document.groundtruth.json
}

################################################################################
# Lambda execution roles: one per function, each with only what its handler does.
################################################################################

locals {
  functions = {
    intake        = { handler = "gtstream.handlers.intake.handler", queue = "intake" }
    job_events    = { handler = "gtstream.handlers.job_events.handler", queue = "job_events" }
    worker_events = { handler = "gtstream.handlers.worker_events.handler", queue = "worker_events" }
    reconcile     = { handler = "gtstream.handlers.reconcile.handler", queue = null }
  }
  function_names = { for k, _ in local.functions : k => "${local.name}-${replace(k, "_", "-")}" }

  labeling_job_arns = ["${local.job_arn_prefix}*"]
  ledger_arns       = [aws_dynamodb_table.ledger.arn, "${aws_dynamodb_table.ledger.arn}/index/*"]

  # Statement groups, combined per function below.
  statements = {
    ledger = {
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:TransactWriteItems"]
      resources = local.ledger_arns
    }
    drop_rw = {
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
      resources = ["${aws_s3_bucket.this["drop"].arn}/*"]
    }
    drop_list = {
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.this["drop"].arn]
    }
    input_rw = {
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${aws_s3_bucket.this["input"].arn}/*"]
    }
    input_list = {
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.this["input"].arn]
    }
    output_read = {
      actions   = ["s3:GetObject", "s3:ListBucket"]
      resources = [aws_s3_bucket.this["output"].arn, "${aws_s3_bucket.this["output"].arn}/*"]
    }
    project_config = {
      actions   = ["s3:GetObject"]
      resources = ["${local.instructions_bucket_arn}/${var.instructions.project_config_key}", "${local.instructions_bucket_arn}/config/*"]
    }
    publish_input = {
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.this["input"].arn]
    }
    notify = {
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.this["notifications"].arn]
    }
    describe_jobs = {
      actions   = ["sagemaker:DescribeLabelingJob"]
      resources = local.labeling_job_arns
    }
    manage_jobs = {
      actions   = ["sagemaker:CreateLabelingJob", "sagemaker:StopLabelingJob", "sagemaker:AddTags"]
      resources = local.labeling_job_arns
    }
    # Who creates a job puts the delayed checks that follow it to InProgress on the job-events queue.
    follow_new_jobs = {
      actions   = ["sqs:SendMessage"]
      resources = [local.queue_arns["job_events"]]
    }
  }

  function_statements = {
    intake        = ["ledger", "drop_rw", "drop_list", "input_rw", "input_list", "project_config", "publish_input", "notify", "describe_jobs", "manage_jobs", "follow_new_jobs"]
    job_events    = ["ledger", "input_rw", "input_list", "output_read", "project_config", "publish_input", "notify", "describe_jobs", "manage_jobs", "follow_new_jobs"]
    worker_events = ["ledger", "notify", "describe_jobs"]
    reconcile     = ["ledger", "drop_list", "input_rw", "input_list", "output_read", "project_config", "publish_input", "notify", "describe_jobs", "manage_jobs", "follow_new_jobs"]
  }
  # Functions that may create a labeling job pass the Ground Truth role.
  passes_groundtruth_role = ["intake", "job_events", "reconcile"]
}

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each = local.functions

  name               = "${local.function_names[each.key]}-lambda"
  description        = "Execution role of the ${local.function_names[each.key]} Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = local.tags
}

data "aws_iam_policy_document" "lambda" {
  for_each = local.functions

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = each.value.queue == null ? [] : [each.value.queue]
    content {
      sid       = "OwnQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      resources = [local.queue_arns[statement.value]] # by name: no wait for the queue to settle
    }
  }

  dynamic "statement" {
    for_each = local.function_statements[each.key]
    content {
      sid       = replace(title(replace(statement.value, "_", " ")), " ", "")
      actions   = local.statements[statement.value].actions
      resources = local.statements[statement.value].resources
    }
  }

  dynamic "statement" {
    for_each = contains(local.passes_groundtruth_role, each.key) ? [1] : []
    content {
      sid       = "PassGroundTruthRole"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.groundtruth.arn]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["sagemaker.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "ProjectKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [local.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  for_each = local.functions

  name   = "least-privilege"
  role   = aws_iam_role.lambda[each.key].id
  policy = data.aws_iam_policy_document.lambda[each.key].json
}
