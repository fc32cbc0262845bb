data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  prefix = var.project_prefix
  lower  = lower(var.project_prefix)
  # Resource names: the prefix, or for prefixes over 36 characters its first 27 plus a hash, so
  # that "<name>-worker-events-lambda" fits IAM's 64-character limit (jobs keep the full prefix).
  name       = length(var.project_prefix) <= 36 ? var.project_prefix : "${substr(var.project_prefix, 0, 27)}-${substr(sha256(var.project_prefix), 0, 8)}"
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  # Bucket names are global: <base>-<account>-<role>. The base is the lower-case prefix, or, when
  # that would exceed 63 characters, its first 28 characters plus a hash (deterministic, no collision
  # between two long prefixes sharing a start).
  bucket_base = length(local.lower) <= 37 ? local.lower : "${substr(local.lower, 0, 28)}-${substr(sha256(local.lower), 0, 8)}"
  bucket_names = {
    drop   = "${local.bucket_base}-${local.account_id}-drop"
    input  = "${local.bucket_base}-${local.account_id}-input"
    output = "${local.bucket_base}-${local.account_id}-output"
  }

  # Ground Truth job ARNs use the lower-cased job name (events.tf, iam.tf).
  job_arn_prefix = "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:labeling-job/${local.lower}-"

  kms_key_arn = var.kms.create_key ? aws_kms_key.this[0].arn : var.kms.key_arn
  use_kms     = var.kms.create_key || var.kms.key_arn != null

  instructions_bucket_arn = "arn:${local.partition}:s3:::${var.instructions.bucket_name}"
  project_config_uri      = "s3://${var.instructions.bucket_name}/${var.instructions.project_config_key}"

  tags = merge(var.tags, { "gt-streaming:project" = local.prefix })
}

################################################################################
# KMS (customer managed key, by the `kms.create_key` switch)
################################################################################

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; write actions go only to this account's root and to AWS services with aws:SourceAccount / encryption-context conditions.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself (the ARN does not exist before the key).
  count = var.kms.create_key ? 1 : 0

  # Key policies name the key itself with "*"; no action wildcards are used.
  statement {
    sid       = "AccountAdministration"
    actions   = local.kms_admin_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "AwsServicesOfThisAccount"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "s3.amazonaws.com", "sns.amazonaws.com", "sqs.amazonaws.com", "events.amazonaws.com",
        "cloudwatch.amazonaws.com", "sagemaker.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisProject"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.key_log_group_arns
    }
  }
}

locals {
  # The log groups encrypted with this key: the four Lambdas' and, when the instructions-pipeline
  # module gets this key (kms_key_arn, as both examples do), its CodeBuild log group, which that
  # module names /aws/codebuild/<name>-publish-instructions with the same <name> rule as here.
  # CloudWatch Logs uses a key only when the key policy allows logs.<region>.amazonaws.com for that
  # log group's ARN: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
  key_log_group_names = concat(
    [for f in sort(keys(local.functions)) : "/aws/lambda/${local.function_names[f]}"],
    ["/aws/codebuild/${local.name}-publish-instructions"],
  )
  key_log_group_arns = [for n in local.key_log_group_names : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${n}"]
}

locals {
  kms_admin_actions = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DeleteAlias",
    "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
    "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
    "kms:PutKeyPolicy", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant", "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
  ]
}

resource "aws_kms_key" "this" {
  count = var.kms.create_key ? 1 : 0

  description             = "Ground Truth streaming labeling ${local.prefix}: buckets, topics, queues, ledger, logs, labeling output"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms.create_key ? 1 : 0

  name          = "alias/${local.name}-gt-streaming"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Ledger (docs/interfaces.md section 4)
################################################################################

resource "aws_dynamodb_table" "ledger" {
  name         = "${local.name}-ledger"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "state_key"
    type = "S"
  }
  attribute {
    name = "updated_at"
    type = "S"
  }

  global_secondary_index {
    name            = "by-state"
    hash_key        = "state_key"
    range_key       = "updated_at"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  deletion_protection_enabled = !var.force_destroy

  tags = local.tags
}
