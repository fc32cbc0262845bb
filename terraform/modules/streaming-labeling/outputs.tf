output "deployment" {
  description = "The deployment document of docs/interfaces.md section 2: everything a runner, a test or the CLI needs to talk to this project."
  value = {
    project_prefix       = local.prefix
    region               = local.region
    account_id           = local.account_id
    ledger_table         = aws_dynamodb_table.ledger.name
    buckets              = merge({ for k, b in aws_s3_bucket.this : k => b.id }, { instructions = var.instructions.bucket_name, artifacts = var.instructions.artifacts_bucket_name })
    topics               = { for k, t in aws_sns_topic.this : k => t.arn }
    project_config_uri   = local.project_config_uri
    groundtruth_role_arn = aws_iam_role.groundtruth.arn
    lambda_roles         = { for k, r in aws_iam_role.lambda : k => r.arn }
    queues = { for k, q in aws_sqs_queue.this : k => {
      url               = q.url
      arn               = q.arn
      dlq_url           = aws_sqs_queue.dlq[k].url
      batch_size        = local.queue_settings[k].batch_size
      max_receive_count = local.queue_settings[k].max_receive_count
    } }
    handlers           = { for k, f in local.functions : k => f.handler }
    lambda_environment = local.lambda_environment
    stage = {
      upstream_output_topic_arn = local.upstream_topic_arn
      rejected_queue_url        = try(local.rejected_queue.url, null)
    }
  }
}

output "intake_queue_arn" {
  description = "ARN of the intake queue: a review stage's stage.rejected_queue.arn when rejected objects come back to this stage."
  value       = aws_sqs_queue.this["intake"].arn
}

output "intake_queue_url" {
  description = "URL of the intake queue: a review stage's stage.rejected_queue.url when rejected objects come back to this stage."
  value       = aws_sqs_queue.this["intake"].url
}

output "ledger_table_name" {
  description = "Name of the DynamoDB ledger table."
  value       = aws_dynamodb_table.ledger.name
}

output "ledger_table_arn" {
  description = "ARN of the DynamoDB ledger table."
  value       = aws_dynamodb_table.ledger.arn
}

output "drop_bucket_name" {
  description = "Bucket where raw images are dropped."
  value       = aws_s3_bucket.this["drop"].id
}

output "input_bucket_name" {
  description = "Bucket of the pre-processed images and chained input manifests (Ground Truth input)."
  value       = aws_s3_bucket.this["input"].id
}

output "output_bucket_name" {
  description = "Bucket of the labeling output (S3OutputPath s3://<bucket>/jobs/)."
  value       = aws_s3_bucket.this["output"].id
}

output "bucket_arns" {
  description = "ARNs of the drop, input and output buckets, by role (known at plan time, built from the names; available once the buckets are created)."
  value       = { for k, name in local.bucket_names : k => "arn:${local.partition}:s3:::${name}" }
  depends_on  = [aws_s3_bucket.this]
}

output "input_topic_arn" {
  description = "SNS input topic of the streaming labeling jobs."
  value       = aws_sns_topic.this["input"].arn
}

output "output_topic_arn" {
  description = "SNS output topic of the streaming labeling jobs (subscribe to receive labels in real time). Known at plan time (built from its name), so that a review stage's stage.upstream_output_topic_arn can decide whether its subscription exists; available once the topic is created."
  # The ARN SNS gives a topic: arn:<partition>:sns:<region>:<account>:<name> (the same string as
  # aws_sns_topic.this["output"].arn, but known before the apply creates the topic).
  value      = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.topics.output}"
  depends_on = [aws_sns_topic.this]
}

output "notification_topic_arn" {
  description = "SNS topic of human notifications and alarms (subscribe e-mail, chat, etc.)."
  value       = aws_sns_topic.this["notifications"].arn
}

output "queue_urls" {
  description = "URLs of the intake, job_events, worker_events and labels queues."
  value       = { for k, q in aws_sqs_queue.this : k => q.url }
}

output "dlq_urls" {
  description = "URLs of the dead-letter queues, by source queue."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "lambda_function_names" {
  description = "Names of the intake, job_events, worker_events, labels and reconcile Lambdas."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "lambda_function_arns" {
  description = "ARNs of the Lambdas, by handler."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "lambda_role_arns" {
  description = "ARNs of the Lambda execution roles, by handler."
  value       = { for k, r in aws_iam_role.lambda : k => r.arn }
}

output "groundtruth_role_arn" {
  description = "ARN of the Ground Truth execution role passed to CreateLabelingJob."
  value       = aws_iam_role.groundtruth.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key protecting the project's data (null with AWS managed encryption)."
  value       = local.kms_key_arn
}

output "event_rule_arns" {
  description = "ARNs of the job-state, worker-task and reconcile-schedule EventBridge rules."
  value = {
    job_state   = aws_cloudwatch_event_rule.job_state.arn
    worker_task = aws_cloudwatch_event_rule.worker_task.arn
    reconcile   = aws_cloudwatch_event_rule.reconcile.arn
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "project_config_uri" {
  description = "S3 URI of the project config the Lambdas read at chain time."
  value       = local.project_config_uri
}

output "operator_policy_arn" {
  description = "ARN of the managed policy with what an operator needs to run gtctl on this project (status, report, drop, chain); attach it to your operators' role. It leaves out lambda:ListFunctions, so use gtctl --deployment FILE or --terraform-dir DIR."
  value       = aws_iam_policy.operator.arn
}

output "operator_policy_json" {
  description = "The same least-privilege gtctl policy as JSON, to attach elsewhere (e.g. an SSO permission set)."
  value       = data.aws_iam_policy_document.operator.json
}
