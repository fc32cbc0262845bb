# Plan-time logic and every validation rule (run: pytest tests/integration/terraform, which passes
# -var 'prebuilt_lambda_package="<a small zip>"' for the prebuilt-package run).

mock_provider "aws" {
  source = "../../mocks/aws" # terraform/mocks/aws/aws.tfmock.hcl
}

variables {
  project_prefix = "Pets-Demo"
  instructions = {
    bucket_name           = "pets-demo-123456789012-instructions"
    artifacts_bucket_name = "pets-demo-123456789012-artifacts"
  }
}

run "defaults_plan" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket.this) == 3 && aws_s3_bucket.this["drop"].bucket == "pets-demo-123456789012-drop"
    error_message = "expected drop/input/output buckets named <lower(prefix)>-<account>-<role>"
  }
  assert {
    condition = alltrue([for b in aws_s3_bucket_public_access_block.this :
    b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets])
    error_message = "every streaming bucket must block all public access"
  }
  assert {
    condition     = alltrue([for o in aws_s3_bucket_ownership_controls.this : o.rule[0].object_ownership == "BucketOwnerEnforced"])
    error_message = "ACLs must be disabled (BucketOwnerEnforced)"
  }
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.job_state.event_pattern).resources == [
      for d in range(10) : { prefix = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/pets-demo-${d}" }
    ]
    error_message = "the job-state rule must match only this project's (lower-cased) job ARNs: <prefix>-<digit>..., not <prefix>-x..."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.worker_task.event_pattern).detail["labeling-job-arn"] == jsondecode(aws_cloudwatch_event_rule.job_state.event_pattern).resources
    error_message = "the worker-task rule must match the same job ARNs as the job-state rule"
  }
  assert {
    condition     = alltrue([for r in [aws_cloudwatch_event_rule.job_state, aws_cloudwatch_event_rule.worker_task] : length(r.event_pattern) <= 2048])
    error_message = "an EventBridge event pattern must fit 2048 characters"
  }
  assert {
    condition = local.labeling_job_arns == [
      "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/pets-demo-????",
      "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/pets-demo-?????",
      ] && local.groundtruth_queue_arns == [
      "arn:aws:sqs:us-east-1:123456789012:GroundTruth-pets-demo-????",
      "arn:aws:sqs:us-east-1:123456789012:GroundTruth-pets-demo-?????",
    ]
    error_message = "IAM must reach exactly this project's jobs and GroundTruth-<job> queues (4 or 5 digits), never <prefix>-<x>-NNNN"
  }
  assert {
    condition     = toset([for st in data.aws_iam_policy_document.lambda["reconcile"].statement : st.sid]) == toset(["OwnLogs", "Ledger", "LedgerIndex", "InputManifests", "OutputManifests", "OutputList", "ProjectConfig", "InstructionsList", "PublishInput", "Notify", "DescribeJobs", "CreateJobs", "FollowNewJobs", "StopJobs", "GroundTruthQueues", "PassGroundTruthRole", "ProjectKey"])
    error_message = "reconcile gets exactly what it calls (GetQueueUrl/DeleteQueue on GroundTruth-<job> queues, no ListQueues)"
  }
  assert {
    condition     = contains([for st in data.aws_iam_policy_document.lambda["intake"].statement : st.sid], "OutputManifests")
    error_message = "intake reaches the output-manifest merge (dispatch -> ensure_job -> handle_job_end) and must read it"
  }
  assert {
    condition     = toset([for st in data.aws_iam_policy_document.lambda["worker_events"].statement : st.sid]) == toset(["OwnLogs", "OwnQueue", "LedgerCounters", "Notify", "ProjectKey"])
    error_message = "worker events only count in the ledger and notify"
  }
  assert {
    condition     = toset([for st in data.aws_iam_policy_document.lambda["labels"].statement : st.sid]) == toset(["OwnLogs", "OwnQueue", "LiveLabels", "ProjectKey"])
    error_message = "the labels function only records labels in the ledger (one conditional UpdateItem)"
  }
  assert {
    condition = toset([for st in data.aws_iam_policy_document.groundtruth.statement : st.sid]) == toset([
      "S3ViewBuckets", "S3ReadInputs", "S3GetPutObjects", "CloudWatchMetrics", "CloudWatchLogs", "StreamingQueue",
      "StreamingTopicSubscribe", "StreamingTopic", "StreamingTopicUnsubscribe", "ProjectKey",
    ])
    error_message = "the Ground Truth role has AWS's documented streaming statements (no custom Lambdas by default)"
  }
  assert {
    condition = toset(flatten([for st in data.aws_iam_policy_document.groundtruth.statement : st.actions if st.sid == "StreamingQueue"])) == toset([
      "sqs:CreateQueue", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
      "sqs:SendMessage", "sqs:SetQueueAttributes",
    ])
    error_message = "StreamingQueue must grant the SQS actions AWS documents for streaming jobs (SendMessageBatch is authorised by sqs:SendMessage)"
  }
  assert {
    condition = flatten([for st in data.aws_iam_policy_document.kms[0].statement : [for c in st.condition : c.values] if st.sid == "CloudWatchLogsOfThisProject"]) == [
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/Pets-Demo-intake",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/Pets-Demo-job-events",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/Pets-Demo-labels",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/Pets-Demo-reconcile",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/Pets-Demo-worker-events",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/Pets-Demo-publish-instructions",
    ]
    error_message = "the key policy must admit CloudWatch Logs for every log group encrypted with the key, the instructions pipeline's CodeBuild log group included"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.job_state.event_pattern).detail.LabelingJobStatus == ["Completed", "Failed", "Stopped"]
    error_message = "the job-state rule must match exactly the statuses AWS documents events for"
  }
  assert {
    condition = toset(keys(output.deployment.lambda_environment)) == toset([
      "PROJECT_PREFIX", "LEDGER_TABLE", "DROP_BUCKET", "QUARANTINE_PREFIX", "INPUT_BUCKET", "OUTPUT_BUCKET",
      "INPUT_TOPIC_ARN", "OUTPUT_TOPIC_ARN", "NOTIFICATION_TOPIC_ARN", "PROJECT_CONFIG_URI", "GROUNDTRUTH_ROLE_ARN",
      "JOB_EVENTS_QUEUE_URL", "OUTPUT_KMS_KEY_ID", "MAX_CHAIN_DEPTH", "MAX_OBJECT_FAILURES", "MAX_IMAGE_BYTES",
      "MAX_IMAGE_PIXELS", "PENDING_STALE_SECONDS", "IDLE_WARN_SECONDS", "JOB_CHECK_SECONDS",
      "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
    ])
    error_message = "the Lambda environment must be exactly docs/interfaces.md section 3"
  }
  assert {
    condition = alltrue([for k, d in data.aws_iam_policy_document.lambda :
      contains([for st in d.statement : st.sid], "FollowNewJobs") == contains(["intake", "job_events", "reconcile"], k)
    ])
    error_message = "exactly the functions that create jobs may send the checks that follow them (FollowNewJobs)"
  }
  assert {
    condition     = output.deployment.project_config_uri == "s3://pets-demo-123456789012-instructions/config/project.json"
    error_message = "project_config_uri must point at config/project.json of the instruction bucket"
  }
  assert {
    condition     = output.deployment.queues.job_events.max_receive_count == 5 && output.deployment.queues.intake.batch_size == 10
    error_message = "queue defaults must follow docs/interfaces.md section 2"
  }
  assert {
    condition     = alltrue([for m in aws_lambda_event_source_mapping.this : m.function_response_types == toset(["ReportBatchItemFailures"])])
    error_message = "event source mappings must report partial batch failures"
  }
  assert {
    condition     = length(aws_kms_key.this) == 1 && aws_kms_key.this[0].enable_key_rotation
    error_message = "a rotating customer managed key is created by default"
  }
  assert {
    condition     = aws_dynamodb_table.ledger.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.ledger.point_in_time_recovery[0].enabled
    error_message = "the ledger is on-demand with PITR"
  }
  assert {
    condition     = aws_lambda_function.this["intake"].handler == "gtstream.handlers.intake.handler"
    error_message = "handler paths must follow docs/interfaces.md section 2"
  }
}

run "no_kms_uses_aws_managed_encryption" {
  command = plan
  variables {
    kms = { create_key = false }
  }
  assert {
    condition     = length(aws_kms_key.this) == 0 && !contains(keys(output.deployment.lambda_environment), "OUTPUT_KMS_KEY_ID")
    error_message = "without a key nothing KMS-related is created or passed to the Lambdas"
  }
  assert {
    condition     = alltrue([for c in aws_s3_bucket_server_side_encryption_configuration.this : one(c.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"])
    error_message = "buckets fall back to SSE-S3"
  }
  assert {
    condition     = aws_sns_topic.this["input"].kms_master_key_id == "alias/aws/sns" && aws_sns_topic.this["output"].kms_master_key_id == null && aws_sns_topic.this["notifications"].kms_master_key_id == null
    error_message = "without a customer key only the input topic may use alias/aws/sns: Ground Truth (output) and CloudWatch alarms (notifications) cannot publish to such a topic"
  }
  assert {
    condition     = !contains([for st in data.aws_iam_policy_document.groundtruth.statement : st.sid], "ProjectKey")
    error_message = "no key, no KMS grant"
  }
}

run "custom_task_lambdas_are_invocable_by_the_groundtruth_role" {
  command = plan
  variables {
    custom_task_lambda_arns = ["arn:aws:lambda:us-east-1:123456789012:function:pets-pre", "arn:aws:lambda:us-east-1:123456789012:function:pets-acs"]
  }
  assert {
    condition = [for st in data.aws_iam_policy_document.groundtruth.statement : st.resources if st.sid == "LambdaFunctions"] == [
      toset(["arn:aws:lambda:us-east-1:123456789012:function:pets-pre", "arn:aws:lambda:us-east-1:123456789012:function:pets-acs"]),
    ]
    error_message = "the Ground Truth role may invoke exactly the listed custom Lambdas"
  }
}

run "rejects_custom_task_lambda_wildcard" {
  command = plan
  variables {
    custom_task_lambda_arns = ["arn:aws:lambda:us-east-1:123456789012:function:*"]
  }
  expect_failures = [var.custom_task_lambda_arns]
}

run "rejects_max_chain_depth_past_five_digits" {
  command = plan
  variables {
    labeling = { max_chain_depth = 100000 }
  }
  expect_failures = [var.labeling]
}

run "long_prefix_bucket_names_fit" {
  command = plan
  variables {
    project_prefix = "a-very-long-project-prefix-that-is-still-valid-for-jobs1"
  }
  assert {
    condition     = alltrue([for b in aws_s3_bucket.this : length(b.bucket) <= 63])
    error_message = "bucket names must fit 63 characters for any valid prefix"
  }
}

run "rejects_prefix_too_long" {
  command = plan
  variables {
    project_prefix = "a23456789012345678901234567890123456789012345678901234567"
  }
  expect_failures = [var.project_prefix]
}

run "rejects_prefix_leading_hyphen" {
  command = plan
  variables {
    project_prefix = "-demo"
  }
  expect_failures = [var.project_prefix]
}

run "rejects_prefix_underscore" {
  command = plan
  variables {
    project_prefix = "my_project"
  }
  expect_failures = [var.project_prefix]
}

run "builds_the_package_during_apply_by_default" {
  command = plan
  assert {
    condition     = length(terraform_data.package) == 1 && terraform_data.package[0].triggers_replace.file == "${path.root}/build/lambda-python3.11-x86_64.zip"
    error_message = "without lambda_package the module builds <root>/build/lambda-<runtime>-<architecture>.zip during apply"
  }
  assert {
    condition = alltrue([for f in aws_lambda_function.this :
    f.filename == terraform_data.package[0].triggers_replace.file && f.source_code_hash == base64sha256(jsonencode(terraform_data.package[0].triggers_replace))])
    error_message = "every function deploys the built zip, identified by the hash of the build's inputs (known at plan time)"
  }
  assert {
    condition     = contains(local.package_input_files, "scripts/package_lambda.py") && contains(local.package_input_files, "lambda_src/requirements.txt") && contains(local.package_input_files, "lambda_src/gtstream/handlers/intake.py")
    error_message = "the build is triggered by the sources, the requirements and the build script"
  }
  assert {
    condition     = length([for f in local.package_input_files : f if strcontains(f, "__pycache__") || endswith(f, ".pyc")]) == 0
    error_message = "caches are not inputs of the package (they differ from machine to machine)"
  }
}

run "builds_for_the_runtime_and_architecture" {
  command = plan
  variables {
    lambda        = { runtime = "python3.13", architecture = "arm64" }
    package_build = { output_dir = "/tmp/gt-build", python = "python3.13" }
  }
  assert {
    condition     = terraform_data.package[0].triggers_replace.file == "/tmp/gt-build/lambda-python3.13-arm64.zip" && one(aws_lambda_function.this["intake"].architectures) == "arm64" && aws_lambda_function.this["intake"].runtime == "python3.13"
    error_message = "the package is built for the functions' runtime and architecture, into package_build.output_dir"
  }
  assert {
    condition     = aws_lambda_function.this["intake"].source_code_hash == base64sha256(jsonencode(terraform_data.package[0].triggers_replace)) && terraform_data.package[0].triggers_replace.runtime == "python3.13" && terraform_data.package[0].triggers_replace.architecture == "arm64"
    error_message = "another runtime/architecture is another package (and another source_code_hash: the functions' code is updated)"
  }
}

run "deploys_a_prebuilt_package" {
  command = plan
  variables {
    lambda_package = var.prebuilt_lambda_package
  }
  assert {
    condition     = length(terraform_data.package) == 0 && aws_lambda_function.this["intake"].filename == var.prebuilt_lambda_package && aws_lambda_function.this["intake"].source_code_hash == filebase64sha256(var.prebuilt_lambda_package)
    error_message = "a prebuilt zip is deployed as it is, identified by its own hash, and nothing is built"
  }
}

run "rejects_package_not_zip" {
  command = plan
  variables {
    lambda_package = "build/lambda.tar.gz"
  }
  expect_failures = [var.lambda_package]
}

run "rejects_instructions_bucket_name" {
  command = plan
  variables {
    instructions = { bucket_name = "Bad_Bucket", artifacts_bucket_name = "ok-bucket" }
  }
  expect_failures = [var.instructions]
}

run "rejects_project_config_key" {
  command = plan
  variables {
    instructions = { bucket_name = "ok-bucket", artifacts_bucket_name = "ok-bucket2", project_config_key = "config/project.yaml" }
  }
  expect_failures = [var.instructions]
}

run "rejects_kms_key_arn" {
  command = plan
  variables {
    kms = { create_key = false, key_arn = "alias/mine" }
  }
  expect_failures = [var.kms]
}

run "rejects_kms_both" {
  command = plan
  variables {
    kms = { create_key = true, key_arn = "arn:aws:kms:us-east-1:123456789012:key/abc" }
  }
  expect_failures = [var.kms]
}

run "rejects_kms_deletion_window" {
  command = plan
  variables {
    kms = { deletion_window_in_days = 3 }
  }
  expect_failures = [var.kms]
}

run "rejects_lifecycle_days" {
  command = plan
  variables {
    object_lifecycle = { noncurrent_version_expiration_days = 0 }
  }
  expect_failures = [var.object_lifecycle]
}

run "rejects_access_log_bucket" {
  command = plan
  variables {
    access_log_bucket = "Not A Bucket"
  }
  expect_failures = [var.access_log_bucket]
}

run "rejects_quarantine_prefix" {
  command = plan
  variables {
    labeling = { quarantine_prefix = "quarantine" }
  }
  expect_failures = [var.labeling]
}

run "rejects_max_chain_depth" {
  command = plan
  variables {
    labeling = { max_chain_depth = 0 }
  }
  expect_failures = [var.labeling]
}

run "rejects_max_object_failures" {
  command = plan
  variables {
    labeling = { max_object_failures = 0 }
  }
  expect_failures = [var.labeling]
}

run "rejects_max_image_bytes" {
  command = plan
  variables {
    labeling = { max_image_bytes = 50000000 }
  }
  expect_failures = [var.labeling]
}

run "rejects_max_image_pixels" {
  command = plan
  variables {
    labeling = { max_image_pixels = 0 }
  }
  expect_failures = [var.labeling]
}

run "rejects_pending_stale_seconds" {
  command = plan
  variables {
    labeling = { pending_stale_seconds = 10 }
  }
  expect_failures = [var.labeling]
}

run "rejects_idle_warn_after_idle_stop" {
  command = plan
  variables {
    labeling = { idle_warn_seconds = 864000 }
  }
  expect_failures = [var.labeling]
}

run "rejects_job_check_beyond_the_sqs_delay_limit" {
  command = plan
  variables {
    labeling = { job_check_seconds = 901 }
  }
  expect_failures = [var.labeling]
}

run "rejects_batch_size_without_window" {
  command = plan
  variables {
    queues = { intake = { batch_size = 100, maximum_batching_window_in_seconds = 0 } }
  }
  expect_failures = [var.queues]
}

run "rejects_max_receive_count" {
  command = plan
  variables {
    queues = { job_events = { max_receive_count = 0 } }
  }
  expect_failures = [var.queues]
}

run "rejects_dlq_retention" {
  command = plan
  variables {
    queues = { dlq_retention_seconds = 2000000 }
  }
  expect_failures = [var.queues]
}

run "rejects_lambda_runtime" {
  command = plan
  variables {
    lambda = { runtime = "python3.8" }
  }
  expect_failures = [var.lambda]
}

run "rejects_lambda_runtime_not_built" {
  command = plan
  variables {
    lambda = { runtime = "python3.14" }
  }
  expect_failures = [var.lambda]
}

run "rejects_lambda_architecture" {
  command = plan
  variables {
    lambda = { architecture = "aarch64" } # Lambda calls it arm64
  }
  expect_failures = [var.lambda]
}

run "rejects_package_build_python" {
  command = plan
  variables {
    package_build = { python = " " }
  }
  expect_failures = [var.package_build]
}

run "rejects_lambda_memory" {
  command = plan
  variables {
    lambda = { memory_size = 64 }
  }
  expect_failures = [var.lambda]
}

run "rejects_lambda_timeout" {
  command = plan
  variables {
    lambda = { timeout = 901 }
  }
  expect_failures = [var.lambda]
}

run "rejects_log_retention" {
  command = plan
  variables {
    lambda = { log_retention_days = 10 }
  }
  expect_failures = [var.lambda]
}

run "rejects_log_level" {
  command = plan
  variables {
    lambda = { log_level = "TRACE" }
  }
  expect_failures = [var.lambda]
}

run "rejects_reserved_concurrency" {
  command = plan
  variables {
    lambda = { reserved_concurrent_executions = -5 }
  }
  expect_failures = [var.lambda]
}

run "rejects_schedule_expression" {
  command = plan
  variables {
    reconcile_schedule_expression = "every 5 minutes"
  }
  expect_failures = [var.reconcile_schedule_expression]
}

run "rejects_notification_email" {
  command = plan
  variables {
    notification_emails = ["not-an-email"]
  }
  expect_failures = [var.notification_emails]
}

run "rejects_alarm_thresholds" {
  command = plan
  variables {
    alarms = { oldest_message_age_seconds = 5 }
  }
  expect_failures = [var.alarms]
}

run "rejects_alarm_action_arn" {
  command = plan
  variables {
    alarms = { additional_alarm_action_arns = ["my-topic"] }
  }
  expect_failures = [var.alarms]
}
