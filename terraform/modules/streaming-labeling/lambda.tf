################################################################################
# Lambdas (one package, four handlers) and their SQS event sources
################################################################################

locals {
  lambda_environment = merge({
    PROJECT_PREFIX               = local.prefix
    LEDGER_TABLE                 = aws_dynamodb_table.ledger.name
    DROP_BUCKET                  = aws_s3_bucket.this["drop"].id
    QUARANTINE_PREFIX            = var.labeling.quarantine_prefix
    INPUT_BUCKET                 = aws_s3_bucket.this["input"].id
    OUTPUT_BUCKET                = aws_s3_bucket.this["output"].id
    INPUT_TOPIC_ARN              = aws_sns_topic.this["input"].arn
    OUTPUT_TOPIC_ARN             = aws_sns_topic.this["output"].arn
    NOTIFICATION_TOPIC_ARN       = aws_sns_topic.this["notifications"].arn
    PROJECT_CONFIG_URI           = local.project_config_uri
    GROUNDTRUTH_ROLE_ARN         = aws_iam_role.groundtruth.arn
    JOB_EVENTS_QUEUE_URL         = aws_sqs_queue.this["job_events"].url
    MAX_CHAIN_DEPTH              = tostring(var.labeling.max_chain_depth)
    MAX_OBJECT_FAILURES          = tostring(var.labeling.max_object_failures)
    MAX_IMAGE_BYTES              = tostring(var.labeling.max_image_bytes)
    MAX_IMAGE_PIXELS             = tostring(var.labeling.max_image_pixels)
    PENDING_STALE_SECONDS        = tostring(var.labeling.pending_stale_seconds)
    IDLE_WARN_SECONDS            = tostring(var.labeling.idle_warn_seconds)
    JOB_CHECK_SECONDS            = tostring(var.labeling.job_check_seconds)
    POWERTOOLS_SERVICE_NAME      = "gt-streaming-${local.lower}"
    POWERTOOLS_METRICS_NAMESPACE = "GroundTruthStreaming"
    POWERTOOLS_LOG_LEVEL         = var.lambda.log_level
  }, local.use_kms ? { OUTPUT_KMS_KEY_ID = local.kms_key_arn } : {}, local.stage_environment)
}

resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.lambda.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:X-Ray needs xray:PutTraceSegments on Resource "*", which this module's no-wildcard IAM rule forbids; Powertools logs and EMF metrics cover tracing needs.
  #checkov:skip=CKV_AWS_116:Event-driven functions are fed by SQS queues with their own DLQs; the scheduled reconciler is re-run by its schedule, so an async-invoke DLQ would hold nothing useful.
  #checkov:skip=CKV_AWS_117:The functions only call regional AWS APIs; a VPC would add NAT/endpoints for no isolation gain. Wrap the module and add vpc_config if your policy requires it.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this module; the package is built reproducibly from lambda_src/ by scripts/package_lambda.py (package.tf) and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is var.lambda.reserved_concurrent_executions (default unreserved: new accounts cannot reserve below the 10-unit floor).
  for_each = local.functions

  function_name                  = local.function_names[each.key]
  description                    = "Ground Truth streaming labeling ${local.prefix}: ${replace(each.key, "_", " ")}"
  role                           = aws_iam_role.lambda[each.key].arn
  handler                        = each.value.handler
  runtime                        = var.lambda.runtime
  architectures                  = [var.lambda.architecture]
  memory_size                    = var.lambda.memory_size
  timeout                        = var.lambda.timeout
  reserved_concurrent_executions = var.lambda.reserved_concurrent_executions
  filename                       = local.package_file # package.tf: built during apply, or var.lambda_package
  source_code_hash               = local.package_hash
  kms_key_arn                    = local.kms_key_arn

  environment {
    variables = local.lambda_environment
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda[each.key].name
  }

  tags = merge(local.tags, { "gt-streaming:handler" = each.key })

  depends_on = [aws_iam_role_policy.lambda]
}

resource "aws_lambda_event_source_mapping" "this" {
  for_each = { for k, f in local.functions : k => f if f.queue != null }

  event_source_arn                   = aws_sqs_queue.this[each.value.queue].arn
  function_name                      = aws_lambda_function.this[each.key].arn
  batch_size                         = local.queue_settings[each.value.queue].batch_size
  maximum_batching_window_in_seconds = local.queue_settings[each.value.queue].maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  enabled                            = true
}
