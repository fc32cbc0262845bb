variable "project_prefix" {
  description = "Project prefix P. Labeling jobs are named P-NNNN, so P must fit a 63-character SageMaker job name: 1-56 letters, digits and inner hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$", var.project_prefix))
    error_message = "project_prefix must match ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$ (1-56 characters, letters/digits, hyphens only inside), e.g. \"pets-classification\"."
  }
}

variable "tags" {
  description = "Tags applied to every resource that supports them."
  type        = map(string)
  default     = {}
}

variable "lambda_package" {
  description = "Path of a prebuilt Lambda package (.zip, built for lambda.runtime and lambda.architecture, e.g. by scripts/package_lambda.py) to deploy as it is. null (default): the module builds the package from lambda_src/ during apply (see package_build)."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_package == null || endswith(coalesce(var.lambda_package, "-"), ".zip")
    error_message = "lambda_package must be null (build during apply) or the path of a .zip file, e.g. \"build/lambda-python3.11-x86_64.zip\"."
  }
}

variable "package_build" {
  description = "How the package is built during apply when lambda_package is null: python = the interpreter (3.11 or newer, with pip) that runs scripts/package_lambda.py of this module's checkout; output_dir = where lambda-<runtime>-<architecture>.zip and the wheel cache (wheels/) go, relative to the root module or absolute (null: <root module>/build). The build needs PyPI the first time (wheels are then cached)."
  type = object({
    python     = optional(string, "python3")
    output_dir = optional(string)
  })
  default = {}

  validation {
    condition     = trimspace(var.package_build.python) != "" && (var.package_build.output_dir == null || trimspace(coalesce(var.package_build.output_dir, "-")) != "")
    error_message = "package_build.python must name a Python interpreter (e.g. \"python3\") and package_build.output_dir must be null or a directory path."
  }
}

variable "instructions" {
  description = "Where the instructions pipeline publishes: the instruction bucket name, the artifact bucket name (reported in the deployment document) and the key of the published project config."
  type = object({
    bucket_name           = string
    artifacts_bucket_name = string
    project_config_key    = optional(string, "config/project.json")
  })

  validation {
    condition = alltrue([
      for name in [var.instructions.bucket_name, var.instructions.artifacts_bucket_name] :
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", name))
    ])
    error_message = "instructions.bucket_name and instructions.artifacts_bucket_name must be S3 bucket names (3-63 lower-case letters, digits, dots, hyphens)."
  }

  validation {
    condition     = can(regex("^[^/].*\\.json$", var.instructions.project_config_key))
    error_message = "instructions.project_config_key must be a relative S3 key ending in .json, e.g. \"config/project.json\"."
  }
}

variable "kms" {
  description = "Encryption. create_key = true creates a customer managed KMS key (rotation on) for buckets, topics, queues, the ledger, logs and labeling output; key_arn uses an existing key instead; both unset/false uses AWS managed encryption (SSE-S3, SQS-managed SSE, alias/aws/sns, DynamoDB owned key)."
  type = object({
    create_key              = optional(bool, true)
    key_arn                 = optional(string)
    deletion_window_in_days = optional(number, 30)
  })
  default = {}

  validation {
    condition     = var.kms.key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.kms.key_arn))
    error_message = "kms.key_arn must be a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/<id> (aliases are not accepted)."
  }

  validation {
    condition     = !(var.kms.create_key && var.kms.key_arn != null)
    error_message = "Set either kms.create_key = true or kms.key_arn, not both."
  }

  validation {
    condition     = var.kms.deletion_window_in_days >= 7 && var.kms.deletion_window_in_days <= 30
    error_message = "kms.deletion_window_in_days must be between 7 and 30."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete non-empty buckets. Keep false in production: the buckets hold the images and the labels."
  type        = bool
  default     = false
}

variable "object_lifecycle" {
  description = "Days after which noncurrent object versions expire, and after which incomplete multipart uploads are aborted, in the project's buckets."
  type = object({
    noncurrent_version_expiration_days     = optional(number, 90)
    abort_incomplete_multipart_upload_days = optional(number, 7)
  })
  default = {}

  validation {
    condition     = var.object_lifecycle.noncurrent_version_expiration_days >= 1 && var.object_lifecycle.abort_incomplete_multipart_upload_days >= 1
    error_message = "object_lifecycle days must be >= 1."
  }
}

variable "access_log_bucket" {
  description = "Name of an existing S3 server access log bucket. When set, the drop, input and output buckets log to it under <prefix>/<bucket>/."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)."
  }
}

variable "labeling" {
  description = "Chaining and intake limits passed to the Lambdas (docs/interfaces.md section 3)."
  type = object({
    quarantine_prefix     = optional(string, "quarantine/")
    max_chain_depth       = optional(number, 100)
    max_object_failures   = optional(number, 3)
    max_image_bytes       = optional(number, 20971520)
    max_image_pixels      = optional(number, 100000000)
    pending_stale_seconds = optional(number, 900)
    idle_warn_seconds     = optional(number, 691200)
    job_check_seconds     = optional(number, 60)
  })
  default = {}

  validation {
    condition     = can(regex("^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*/$", var.labeling.quarantine_prefix))
    error_message = "labeling.quarantine_prefix must be a relative S3 prefix ending in \"/\", e.g. \"quarantine/\"."
  }

  validation {
    # Jobs are <prefix>-NNNN with 4 or 5 digits: the IAM patterns <prefix>-???? and <prefix>-?????
    # reach no other project's jobs only up to 99999 (iam.tf).
    condition     = var.labeling.max_chain_depth >= 1 && var.labeling.max_chain_depth <= 99999 && floor(var.labeling.max_chain_depth) == var.labeling.max_chain_depth
    error_message = "labeling.max_chain_depth must be a whole number between 1 and 99999 (job names <prefix>-NNNN keep 4 or 5 digits)."
  }

  validation {
    condition     = var.labeling.max_object_failures >= 1 && var.labeling.max_object_failures <= 100
    error_message = "labeling.max_object_failures must be between 1 and 100."
  }

  validation {
    # Ground Truth accepts images up to 40 MB (classification) - larger limits cannot be labeled.
    condition     = var.labeling.max_image_bytes >= 1024 && var.labeling.max_image_bytes <= 41943040
    error_message = "labeling.max_image_bytes must be between 1024 and 41943040 (40 MiB, Ground Truth's image size limit)."
  }

  validation {
    condition     = var.labeling.max_image_pixels >= 1 && var.labeling.max_image_pixels <= 1000000000
    error_message = "labeling.max_image_pixels must be between 1 and 1000000000."
  }

  validation {
    condition     = var.labeling.pending_stale_seconds >= 60
    error_message = "labeling.pending_stale_seconds must be at least 60 (re-sending sooner creates duplicate tasks)."
  }

  validation {
    # A streaming job stops after 10 days (864000 s) without new objects; warn before that.
    condition     = var.labeling.idle_warn_seconds >= 3600 && var.labeling.idle_warn_seconds < 864000
    error_message = "labeling.idle_warn_seconds must be between 3600 and 863999 (a streaming job stops after 10 days idle)."
  }

  validation {
    # The first delay of the checks that follow a new job (SQS DelaySeconds: 0-900).
    condition     = var.labeling.job_check_seconds >= 1 && var.labeling.job_check_seconds <= 900 && floor(var.labeling.job_check_seconds) == var.labeling.job_check_seconds
    error_message = "labeling.job_check_seconds must be a whole number between 1 and 900 (SQS's longest message delay)."
  }
}

variable "custom_task_lambda_arns" {
  description = "ARNs of your own pre-annotation (PreHumanTaskLambdaArn) and annotation-consolidation Lambdas that the published project config may name. The Ground Truth role may invoke exactly these; empty: none (the AWS-provided built-in Lambdas need no grant)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.custom_task_lambda_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[a-zA-Z0-9_-]{1,64}(:[a-zA-Z0-9$_-]+)?$", a))])
    error_message = "custom_task_lambda_arns must be Lambda function ARNs like arn:aws:lambda:us-east-1:123456789012:function:my-pre-annotation (no wildcards)."
  }
}

variable "queues" {
  description = "Event-source settings per queue: Lambda batch size, receives before a message goes to the DLQ, batching window, and DLQ retention."
  type = object({
    intake = optional(object({
      batch_size                         = optional(number, 10)
      max_receive_count                  = optional(number, 3)
      maximum_batching_window_in_seconds = optional(number, 1)
    }), {})
    job_events = optional(object({
      batch_size                         = optional(number, 10)
      max_receive_count                  = optional(number, 5)
      maximum_batching_window_in_seconds = optional(number, 0)
    }), {})
    worker_events = optional(object({
      batch_size                         = optional(number, 10)
      max_receive_count                  = optional(number, 3)
      maximum_batching_window_in_seconds = optional(number, 5)
    }), {})
    labels = optional(object({
      batch_size                         = optional(number, 10)
      max_receive_count                  = optional(number, 3)
      maximum_batching_window_in_seconds = optional(number, 0)
    }), {})
    dlq_retention_seconds = optional(number, 1209600)
  })
  default = {}

  validation {
    condition = alltrue([
      for q in [var.queues.intake, var.queues.job_events, var.queues.worker_events, var.queues.labels] :
      q.batch_size >= 1 && q.batch_size <= 10000 && (q.batch_size <= 10 || q.maximum_batching_window_in_seconds >= 1)
    ])
    error_message = "queues.*.batch_size must be 1-10000, and above 10 only with maximum_batching_window_in_seconds >= 1 (Lambda SQS event source rule)."
  }

  validation {
    condition = alltrue([
      for q in [var.queues.intake, var.queues.job_events, var.queues.worker_events, var.queues.labels] :
      q.max_receive_count >= 1 && q.max_receive_count <= 1000 && q.maximum_batching_window_in_seconds >= 0 && q.maximum_batching_window_in_seconds <= 300
    ])
    error_message = "queues.*.max_receive_count must be 1-1000 and maximum_batching_window_in_seconds 0-300."
  }

  validation {
    condition     = var.queues.dlq_retention_seconds >= 60 && var.queues.dlq_retention_seconds <= 1209600
    error_message = "queues.dlq_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "lambda" {
  description = "Lambda function settings shared by the four handlers."
  type = object({
    runtime                        = optional(string, "python3.11")
    architecture                   = optional(string, "x86_64")
    memory_size                    = optional(number, 1024)
    timeout                        = optional(number, 120)
    log_retention_days             = optional(number, 365)
    log_level                      = optional(string, "INFO")
    reserved_concurrent_executions = optional(number, -1)
  })
  default = {}

  # Exactly what scripts/package_lambda.py builds (RUNTIMES, ARCHITECTURES; a unit test compares).
  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.lambda.runtime)
    error_message = "lambda.runtime must be one of python3.11, python3.12, python3.13 (the runtimes scripts/package_lambda.py builds the package for)."
  }

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda.architecture)
    error_message = "lambda.architecture must be \"x86_64\" or \"arm64\" (Lambda's names; the package gets manylinux2014 x86_64 or aarch64 wheels)."
  }

  validation {
    condition     = var.lambda.memory_size >= 128 && var.lambda.memory_size <= 10240
    error_message = "lambda.memory_size must be between 128 and 10240 MB."
  }

  validation {
    condition     = var.lambda.timeout >= 10 && var.lambda.timeout <= 900
    error_message = "lambda.timeout must be between 10 and 900 seconds."
  }

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.lambda.log_retention_days)
    error_message = "lambda.log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.lambda.log_level)
    error_message = "lambda.log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }

  validation {
    condition     = var.lambda.reserved_concurrent_executions >= -1
    error_message = "lambda.reserved_concurrent_executions must be -1 (unreserved) or a non-negative number."
  }
}

variable "reconcile_schedule_expression" {
  description = "EventBridge schedule of the reconcile Lambda (catches lost events, re-sends stale objects, warns before the idle stop)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.reconcile_schedule_expression))
    error_message = "reconcile_schedule_expression must be rate(N unit) or cron(...), e.g. \"rate(5 minutes)\"."
  }
}

variable "notification_emails" {
  description = "E-mail addresses subscribed to the notification topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notification_emails must be e-mail addresses like ops@example.com."
  }
}

variable "alarms" {
  description = "CloudWatch alarm thresholds. Alarms notify the notification topic."
  type = object({
    enabled                       = optional(bool, true)
    oldest_message_age_seconds    = optional(number, 1800)
    lambda_errors_per_5_minutes   = optional(number, 1)
    dlq_visible_messages_at_least = optional(number, 1)
    additional_alarm_action_arns  = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = var.alarms.oldest_message_age_seconds >= 60 && var.alarms.lambda_errors_per_5_minutes >= 1 && var.alarms.dlq_visible_messages_at_least >= 1
    error_message = "alarms thresholds: oldest_message_age_seconds >= 60, lambda_errors_per_5_minutes >= 1, dlq_visible_messages_at_least >= 1."
  }

  validation {
    condition     = alltrue([for a in var.alarms.additional_alarm_action_arns : can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$", a))])
    error_message = "alarms.additional_alarm_action_arns must be ARNs (e.g. an SNS topic ARN)."
  }
}

variable "stage" {
  description = "Review stages (docs/interfaces.md \"Stages\"): this project as a later stage of a chain of projects in the same account and region. upstream_output_topic_arn = the output topic of the stage that feeds this one (its labels arrive on this stage's intake queue; whether it is null must be known at plan time: the upstream module's output_topic_arn is); upstream_input_bucket_arn = that stage's input bucket, whose images/ the lines' source-ref name (this stage's Ground Truth role may read them), and upstream_kms_key_arn = that bucket's customer managed key, if it has one; rejected_queue = the intake queue (url, arn and, when it is encrypted with a customer managed key, kms_key_arn) where this stage's functions send the objects its review rejects (the upstream stage's, to relabel, or an adjustment stage's); max_review_rounds = the labeling rounds an object of this stage gets when a later stage's review keeps rejecting it (MAX_REVIEW_ROUNDS, 1..100; null: the Lambdas' default, 3), so it is set on the stage that receives rejected objects. {} (default): a first stage, none of this exists."
  type = object({
    upstream_output_topic_arn = optional(string)
    upstream_input_bucket_arn = optional(string)
    upstream_kms_key_arn      = optional(string)
    rejected_queue = optional(object({
      url         = string
      arn         = string
      kms_key_arn = optional(string)
    }))
    max_review_rounds = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.stage.upstream_output_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", coalesce(var.stage.upstream_output_topic_arn, "-")))
    error_message = "stage.upstream_output_topic_arn must be an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:cats-gt-output (the upstream stage's output_topic_arn output)."
  }

  validation {
    condition     = var.stage.upstream_input_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.stage.upstream_input_bucket_arn, "-")))
    error_message = "stage.upstream_input_bucket_arn must be an S3 bucket ARN like arn:aws:s3:::cats-123456789012-input (the upstream stage's bucket_arns[\"input\"] output), without a key."
  }

  validation {
    condition     = var.stage.upstream_kms_key_arn == null || (var.stage.upstream_input_bucket_arn != null && can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", coalesce(var.stage.upstream_kms_key_arn, "-"))))
    error_message = "stage.upstream_kms_key_arn must be a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/<id> (the upstream stage's kms_key_arn output), and is only used with stage.upstream_input_bucket_arn."
  }

  validation {
    condition = var.stage.rejected_queue == null || (
      can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", try(var.stage.rejected_queue.arn, "-"))) &&
      can(regex("^https?://[^/]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}$", try(var.stage.rejected_queue.url, "-"))) &&
      try(endswith(var.stage.rejected_queue.url, "/${split(":", var.stage.rejected_queue.arn)[4]}/${split(":", var.stage.rejected_queue.arn)[5]}"), false)
    )
    error_message = "stage.rejected_queue must be { url = \"https://sqs.<region>.amazonaws.com/<account>/<name>\", arn = \"arn:aws:sqs:<region>:<account>:<name>\" } of the same queue (e.g. the upstream stage's intake_queue_url and intake_queue_arn outputs)."
  }

  validation {
    condition     = try(var.stage.rejected_queue.kms_key_arn, null) == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", try(var.stage.rejected_queue.kms_key_arn, "-")))
    error_message = "stage.rejected_queue.kms_key_arn must be the KMS key ARN of that queue's customer managed key, like arn:aws:kms:us-east-1:123456789012:key/<id>, or left out."
  }

  validation {
    condition     = try(var.stage.max_review_rounds, null) == null || try(var.stage.max_review_rounds >= 1 && var.stage.max_review_rounds <= 100 && floor(var.stage.max_review_rounds) == var.stage.max_review_rounds, false)
    error_message = "stage.max_review_rounds must be a whole number from 1 to 100 (labeling rounds an object gets when a later review keeps rejecting it), or left out (3)."
  }
}
