################################################################################
# Names that only this project's jobs have. Jobs are <prefix>-NNNN: 4 digits, 5 past 9999
# (max_chain_depth <= 99999). IAM's "?" matches exactly one character; another project
# "<prefix>-<x>" names its jobs "<prefix>-<x>-NNNN", at least 6 characters after "<prefix>-", so
# neither pattern reaches another project's jobs or GroundTruth-<job> queues (docs/interfaces.md 1).
################################################################################

locals {
  job_name_patterns      = ["${local.lower}-????", "${local.lower}-?????"]
  labeling_job_arns      = [for p in local.job_name_patterns : "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:labeling-job/${p}"]
  groundtruth_queue_arns = [for p in local.job_name_patterns : "arn:${local.partition}:sqs:${local.region}:${local.account_id}:GroundTruth-${p}"]

  ledger_arn       = aws_dynamodb_table.ledger.arn
  ledger_index_arn = "${aws_dynamodb_table.ledger.arn}/index/by-state"
  bucket_arns      = { for k, b in aws_s3_bucket.this : k => b.arn }
  topic_arns       = { for k, t in aws_sns_topic.this : k => t.arn }
}

################################################################################
# Ground Truth execution role (passed to CreateLabelingJob by the Lambdas), as AWS documents it
# for streaming labeling jobs, scoped to this project's resources - not AmazonSageMakerFullAccess:
# https://docs.aws.amazon.com/sagemaker/latest/dg/sms-security-permission-execution-role.html
# ("Built-In Task Types (Streaming) Execution Role Requirements", "Execution Role Requirements for
# Custom Task Types") and, with a customer managed key,
# https://docs.aws.amazon.com/sagemaker/latest/dg/sms-security-kms-permissions.html.
# The same statements (same Sids) are in cloudformation/labeling.yaml and gtlocal/deploy.py.
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
  # The page's S3 statements, narrowed: Ground Truth reads the input bucket (images, chained
  # manifests) and the task template, label categories and private examples under config/ of the
  # instruction bucket, and writes only under S3OutputPath (s3://<output bucket>/jobs/).
  statement {
    sid       = "S3ViewBuckets"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket"]
    resources = [local.bucket_arns["input"], local.bucket_arns["output"], local.instructions_bucket_arn]
  }
  statement {
    sid       = "S3ReadInputs"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arns["input"]}/*", "${local.instructions_bucket_arn}/config/*"]
  }
  statement {
    sid       = "S3GetPutObjects"
    actions   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arns["output"]}/jobs/*"]
  }
  # PutMetricData supports no resource-level permission (Resource must be "*"); the namespace
  # condition keeps it to Ground Truth's own namespaces:
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html
  statement {
    sid       = "CloudWatchMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = local.groundtruth_metric_namespaces
    }
  }
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = local.groundtruth_log_group_arns
  }
  # The page also lists sqs:SendMessageBatch, which is no IAM action: SendMessageBatch is
  # authorised by sqs:SendMessage, and AWS removed it from AmazonSageMakerGroundTruthExecution
  # (version 2, https://docs.aws.amazon.com/sagemaker/latest/dg/security-iam-awsmanpol-ground-truth.html).
  statement {
    sid = "StreamingQueue"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
      "sqs:ReceiveMessage", "sqs:SendMessage", "sqs:SetQueueAttributes",
    ]
    resources = local.groundtruth_queue_arns
  }
  statement {
    sid       = "StreamingTopicSubscribe"
    actions   = ["sns:Subscribe"]
    resources = [local.topic_arns["input"], local.topic_arns["output"]]
    condition {
      test     = "StringEquals"
      variable = "sns:Protocol"
      values   = ["sqs"]
    }
    condition {
      test     = "StringLike"
      variable = "sns:Endpoint"
      values   = local.groundtruth_queue_arns
    }
  }
  statement {
    sid       = "StreamingTopic"
    actions   = ["sns:Publish"]
    resources = [local.topic_arns["input"], local.topic_arns["output"]]
  }
  # Ground Truth unsubscribes the GroundTruth-<job> queue when a job stops ("Stop a Streaming
  # Labeling Job"). Unsubscribe has no resource type in the Service Authorization Reference, so only
  # Resource "*" allows it (a statement naming the topics allows nothing); one of the listed
  # exceptions to the no-"*" rule (gtlocal.deploy.RESOURCE_STAR_EXCEPTIONS):
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html
  statement {
    #checkov:skip=CKV_AWS_111:sns:Unsubscribe supports no resource-level permission (Resource must be "*")
    sid       = "StreamingTopicUnsubscribe"
    actions   = ["sns:Unsubscribe"]
    resources = ["*"]
  }
  dynamic "statement" {
    for_each = length(var.custom_task_lambda_arns) > 0 ? [1] : []
    content {
      sid       = "LambdaFunctions"
      actions   = ["lambda:InvokeFunction"]
      resources = var.custom_task_lambda_arns
    }
  }
  # A review stage: the lines' source-ref name the upstream stage's images (stage.tf).
  dynamic "statement" {
    for_each = local.upstream_bucket_arn == null ? [] : [local.upstream_bucket_arn]
    content {
      sid       = "UpstreamImages"
      actions   = ["s3:GetObject"]
      resources = ["${statement.value}/images/*"]
    }
  }
  dynamic "statement" {
    for_each = local.upstream_kms_key_arn == null ? [] : [local.upstream_kms_key_arn]
    content {
      sid       = "UpstreamKey" # the upstream input bucket's SSE-KMS objects
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid = "ProjectKey"
      actions = [
        "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom", "kms:ReEncryptTo",
      ]
      resources = [local.kms_key_arn]
    }
  }
}

locals {
  # CloudWatch's list of namespaces AWS services publish to: Ground Truth's two.
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/aws-services-cloudwatch-metrics.html
  groundtruth_metric_namespaces = ["AWS/SageMaker/Workteam", "AWS/Sagemaker/LabelingJobs"]
  groundtruth_log_group_arns = [
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/LabelingJobs",
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/LabelingJobs:*",
  ]
}

resource "aws_iam_role_policy" "groundtruth" {
  name   = "groundtruth-streaming"
  role   = aws_iam_role.groundtruth.id
  policy = data.aws_iam_policy_document.groundtruth.json
}

################################################################################
# Lambda execution roles: one per function, each with exactly the calls its handler makes
# (lambda_src/gtstream: aws.py and ledger.py are the only modules that call AWS).
################################################################################

locals {
  functions = {
    intake        = { handler = "gtstream.handlers.intake.handler", queue = "intake" }
    job_events    = { handler = "gtstream.handlers.job_events.handler", queue = "job_events" }
    worker_events = { handler = "gtstream.handlers.worker_events.handler", queue = "worker_events" }
    labels        = { handler = "gtstream.handlers.labels.handler", queue = "labels" }
    reconcile     = { handler = "gtstream.handlers.reconcile.handler", queue = null }
  }
  function_names = { for k, _ in local.functions : k => "${local.name}-${replace(k, "_", "-")}" }

  # Statements by Sid. S3 answers a GetObject of a missing key with 404 only to callers allowed
  # s3:ListBucket on the bucket, 403 otherwise; the Lambdas read "not there (yet)" as an answer
  # (a vanished drop, a job without output manifest, a config not published yet), hence the
  # *List statements. https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
  lambda_statements = {
    Ledger = {
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [local.ledger_arn]
    }
    LedgerIndex = {
      actions   = ["dynamodb:Query"]
      resources = [local.ledger_index_arn]
    }
    LedgerCounters = { # worker events only count per hour window
      actions   = ["dynamodb:UpdateItem"]
      resources = [local.ledger_arn]
    }
    DropObjects = { # read a drop; delete it after its quarantine copy (CopyObject copies the tags)
      actions   = ["s3:DeleteObject", "s3:GetObject", "s3:GetObjectTagging"]
      resources = ["${local.bucket_arns["drop"]}/*"]
    }
    QuarantineObjects = {
      actions   = ["s3:PutObject", "s3:PutObjectTagging"]
      resources = ["${local.bucket_arns["drop"]}/${var.labeling.quarantine_prefix}*"]
    }
    DropList = {
      actions   = ["s3:ListBucket"]
      resources = [local.bucket_arns["drop"]]
    }
    InputImages = {
      actions   = ["s3:PutObject"]
      resources = ["${local.bucket_arns["input"]}/images/*"]
    }
    InputManifests = { # chained input manifests, uploaded in parts when large
      actions   = ["s3:AbortMultipartUpload", "s3:PutObject"]
      resources = ["${local.bucket_arns["input"]}/manifests/*"]
    }
    OutputManifests = {
      actions   = ["s3:GetObject"]
      resources = ["${local.bucket_arns["output"]}/jobs/*"]
    }
    OutputList = {
      actions   = ["s3:ListBucket"]
      resources = [local.bucket_arns["output"]]
    }
    ProjectConfig = {
      actions   = ["s3:GetObject"]
      resources = ["${local.instructions_bucket_arn}/${var.instructions.project_config_key}"]
    }
    InstructionsList = {
      actions   = ["s3:ListBucket"]
      resources = [local.instructions_bucket_arn]
    }
    PublishInput = {
      actions   = ["sns:Publish"]
      resources = [local.topic_arns["input"]]
    }
    Notify = {
      actions   = ["sns:Publish"]
      resources = [local.topic_arns["notifications"]]
    }
    DescribeJobs = {
      actions   = ["sagemaker:DescribeLabelingJob"]
      resources = local.labeling_job_arns
    }
    CreateJobs = { # CreateLabelingJob with Tags also needs AddTags
      actions   = ["sagemaker:AddTags", "sagemaker:CreateLabelingJob"]
      resources = local.labeling_job_arns
    }
    FollowNewJobs = { # who creates a job puts the delayed checks that follow it to InProgress on the job-events queue
      actions   = ["sqs:SendMessage"]
      resources = [local.queue_arns["job_events"]]
    }
    GroundTruthQueues = { # reconcile deletes the GroundTruth-<job> queues of ended jobs
      actions   = ["sqs:DeleteQueue", "sqs:GetQueueUrl"]
      resources = local.groundtruth_queue_arns
    }
    StopJobs = { # reconcile stops the running job when a config with "on_publish": "roll-over" is published
      actions   = ["sagemaker:StopLabelingJob"]
      resources = local.labeling_job_arns
    }
    LiveLabels = { # labels records each label from the output topic: one conditional UpdateItem, no read
      actions   = ["dynamodb:UpdateItem"]
      resources = [local.ledger_arn]
    }
    LedgerReadObject = { # a review stage's labels function reads the object before it sends it back
      actions   = ["dynamodb:GetItem"]
      resources = [local.ledger_arn]
    }
  }

  # Intake reaches the chaining decision (dispatch -> ensure_job), which merges the output
  # manifest of a job whose end was not recorded yet, so it reads the output manifests too.
  chaining_statements = [
    "Ledger", "LedgerIndex", "InputManifests", "OutputManifests", "OutputList", "ProjectConfig", "InstructionsList",
    "PublishInput", "Notify", "DescribeJobs", "CreateJobs", "FollowNewJobs",
  ]
  function_statements = {
    intake        = concat(local.chaining_statements, ["DropObjects", "QuarantineObjects", "DropList", "InputImages"])
    job_events    = local.chaining_statements
    worker_events = ["LedgerCounters", "Notify"]
    labels = concat(
      ["LiveLabels"],
      # a stage's labels function decides on each label (gtstream.stages.decide): it reads the
      # config and, when rejected objects go back, the object (stage.tf)
      local.is_stage ? ["ProjectConfig", "InstructionsList"] : [],
      local.rejected_queue != null ? ["LedgerReadObject"] : [],
    )
    reconcile = concat(local.chaining_statements, ["GroundTruthQueues", "StopJobs"])
  }
  # The functions that decide on a review stage's label - live (labels) or at a job end, which
  # intake, job_events and reconcile may each process - send a rejected object to the rejected queue.
  deciding_functions = ["intake", "job_events", "labels", "reconcile"]
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
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.function_names[each.key]}:*"]
  }

  dynamic "statement" {
    for_each = each.value.queue == null ? [] : [each.value.queue]
    content {
      sid       = "OwnQueue" # what Lambda's SQS event source mapping calls with this role
      actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      resources = [local.queue_arns[statement.value]] # by name: no wait for the queue to settle
    }
  }

  dynamic "statement" {
    for_each = local.function_statements[each.key]
    content {
      sid       = statement.value
      actions   = local.lambda_statements[statement.value].actions
      resources = local.lambda_statements[statement.value].resources
    }
  }

  # A review stage's deciding functions send each rejected object to the rejected queue (stage.tf).
  dynamic "statement" {
    for_each = contains(local.deciding_functions, each.key) && local.rejected_queue != null ? [local.rejected_queue] : []
    content {
      sid       = "RejectedQueue"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value.arn]
    }
  }
  dynamic "statement" {
    for_each = contains(local.deciding_functions, each.key) && try(local.rejected_queue.kms_key_arn, null) != null ? [local.rejected_queue.kms_key_arn] : []
    content {
      sid       = "RejectedQueueKey" # SendMessage to a queue encrypted with a customer managed key
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
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
      sid       = "ProjectKey" # SSE-KMS objects, encrypted queues and topics, the Lambda environment
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
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

################################################################################
# What an operator needs to run gtctl on this project (README "Going to a real AWS account"):
# status/report/audit (read), drop (upload), chain (the Lambdas' chaining code, run by gtctl,
# plus StopLabelingJob for --stop-active and iam:PassRole of the Ground Truth role).
# ListLabelingJobs supports no resource-level permission (Resource "*"):
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html
# gtctl --prefix also lists every Lambda function of the region (lambda:ListFunctions, Resource
# "*", which would show other functions' environments): this policy leaves it out; use
# gtctl --deployment FILE or --terraform-dir DIR.
################################################################################

data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "ListLabelingJobs"
    actions   = ["sagemaker:ListLabelingJobs"]
    resources = ["*"]
  }
  statement {
    sid       = "ProjectJobs"
    actions   = ["sagemaker:AddTags", "sagemaker:CreateLabelingJob", "sagemaker:DescribeLabelingJob", "sagemaker:StopLabelingJob"]
    resources = local.labeling_job_arns
  }
  statement {
    sid       = "PassGroundTruthRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.groundtruth.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"]
    resources = [local.ledger_arn]
  }
  statement {
    sid       = "LedgerIndex"
    actions   = ["dynamodb:Query"]
    resources = [local.ledger_index_arn]
  }
  statement {
    sid       = "DropImages"
    actions   = ["s3:AbortMultipartUpload", "s3:PutObject"]
    resources = ["${local.bucket_arns["drop"]}/*"]
  }
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns["drop"], local.bucket_arns["output"], local.instructions_bucket_arn]
  }
  statement {
    sid       = "InputManifests"
    actions   = ["s3:AbortMultipartUpload", "s3:PutObject"]
    resources = ["${local.bucket_arns["input"]}/manifests/*"]
  }
  statement {
    sid       = "ReadManifestsAndConfig"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arns["output"]}/jobs/*", "${local.instructions_bucket_arn}/${var.instructions.project_config_key}"]
  }
  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [local.topic_arns["notifications"]]
  }
  dynamic "statement" {
    for_each = local.use_kms ? [1] : []
    content {
      sid       = "ProjectKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [local.kms_key_arn]
    }
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${local.name}-operator"
  description = "What an operator needs to run gtctl (status, report, drop, chain) on the ${local.prefix} project"
  policy      = data.aws_iam_policy_document.operator.json
  tags        = local.tags
}
