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

  # Same naming rule as the streaming-labeling module: <base>-<account>-<role>.
  bucket_base = length(local.lower) <= 37 ? local.lower : "${substr(local.lower, 0, 28)}-${substr(sha256(local.lower), 0, 8)}"
  bucket_names = {
    instructions = "${local.bucket_base}-${local.account_id}-instructions"
    artifacts    = "${local.bucket_base}-${local.account_id}-artifacts"
  }

  use_codecommit    = var.source_repository.provider == "CodeCommit"
  repository_name   = coalesce(var.source_repository.repository_name, "${local.name}-instructions")
  create_connection = !local.use_codecommit && var.source_repository.connection_arn == null
  connection_arn = local.use_codecommit ? null : (
    local.create_connection ? aws_codestarconnections_connection.this[0].arn : var.source_repository.connection_arn
  )
  repository_arn = local.use_codecommit ? aws_codecommit_repository.this[0].arn : null

  publisher_script = coalesce(var.publisher_script, "${path.module}/../../../scripts/publish_instructions.py")
  publisher_key    = "tools/publish_instructions.py"
  # The publisher validates with the contract package (gtcontract), uploaded beside it: the
  # buildspec copies tools/ and runs the script, which imports gtcontract from its own folder.
  contract_dir   = "${path.module}/../../../lambda_src/gtcontract"
  contract_files = fileset(local.contract_dir, "*.{py,json}")

  tags = merge(var.tags, { "gt-streaming:project" = local.prefix })
}

################################################################################
# Source repository
################################################################################

resource "aws_codecommit_repository" "this" {
  #checkov:skip=CKV2_AWS_37:Approval rules need an approval-rule template and an approver pool owned by the team, not by this module; associate yours with the output repository.
  count = local.use_codecommit ? 1 : 0

  repository_name = local.repository_name
  description     = "Worker instructions, task template, examples and project.json of ${local.prefix}"
  default_branch  = null
  kms_key_id      = var.kms_key_arn
  tags            = local.tags
}

resource "aws_codestarconnections_connection" "this" {
  count = local.create_connection ? 1 : 0

  name          = substr("${local.name}-instructions", 0, 32)
  provider_type = var.source_repository.provider
  tags          = local.tags
}

################################################################################
# Buckets: artifacts (pipeline) and instructions (published content)
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: both buckets hold content rebuilt from git on every push.
  #checkov:skip=CKV_AWS_18:Access logging of rebuildable pipeline content is left to the operator's organisation-wide S3 logging.
  #checkov:skip=CKV2_AWS_6:Public access block: checkov's graph does not link the for_each companion resources (*.this[each.key]) to each bucket instance; they exist for every bucket and are asserted by tests/module.tftest.hcl and tests/integration/terraform.
  #checkov:skip=CKV2_AWS_61:Lifecycle configuration: checkov's graph does not link the for_each companion resources (*.this[each.key]) to each bucket instance; they exist for every bucket and are asserted by tests/module.tftest.hcl and tests/integration/terraform.
  #checkov:skip=CKV_AWS_21:Versioning: checkov's graph does not link the for_each companion resources (*.this[each.key]) to each bucket instance; they exist for every bucket and are asserted by tests/module.tftest.hcl and tests/integration/terraform.
  #checkov:skip=CKV_AWS_145:The instruction bucket serves public/ anonymously, which SSE-KMS would prevent (SSE-S3); the artifact bucket uses var.kms_key_arn when set.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events of these buckets; the pipeline is started by the source repository.
  for_each = local.bucket_names

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(local.tags, { "gt-streaming:bucket" = each.key })
}

resource "aws_s3_bucket_public_access_block" "this" {
  #checkov:skip=CKV_AWS_54:By design (var.public_instructions): the instruction bucket's policy makes public/* readable; ACLs stay blocked and the artifact bucket blocks everything.
  #checkov:skip=CKV_AWS_56:By design (var.public_instructions): anonymous reads of the instruction bucket's public/ prefix; false blocks everything.
  for_each = aws_s3_bucket.this

  bucket             = each.value.id
  block_public_acls  = true
  ignore_public_acls = true
  # The only exception in the project: a bucket policy that makes instructions/public/ readable.
  block_public_policy     = !(each.key == "instructions" && var.public_instructions)
  restrict_public_buckets = !(each.key == "instructions" && var.public_instructions)
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  #checkov:skip=CKV_AWS_145:The instruction bucket serves public/ anonymously, which SSE-KMS would prevent; it uses SSE-S3. The artifact bucket uses var.kms_key_arn when set.
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = each.key == "artifacts" && var.kms_key_arn != null ? "aws:kms" : "AES256"
      kms_master_key_id = each.key == "artifacts" ? var.kms_key_arn : null
    }
    bucket_key_enabled = each.key == "artifacts" && var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.this

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"] # a deny of every S3 action over plain HTTP; no allow uses a wildcard
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "instructions" && var.public_instructions ? [1] : []
    content {
      sid       = "PublicReadOfPublicPrefixOnly"
      actions   = ["s3:GetObject"]
      resources = ["${each.value.arn}/public/*"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this, aws_s3_bucket_ownership_controls.this]
}

resource "aws_s3_object" "publisher" {
  bucket                 = aws_s3_bucket.this["artifacts"].id
  key                    = local.publisher_key
  source                 = local.publisher_script
  source_hash            = filemd5(local.publisher_script)
  content_type           = "text/x-python"
  server_side_encryption = var.kms_key_arn != null ? "aws:kms" : "AES256"
  kms_key_id             = var.kms_key_arn
  tags                   = local.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}

resource "aws_s3_object" "contract" {
  for_each = local.contract_files

  bucket                 = aws_s3_bucket.this["artifacts"].id
  key                    = "tools/gtcontract/${each.value}"
  source                 = "${local.contract_dir}/${each.value}"
  source_hash            = filemd5("${local.contract_dir}/${each.value}")
  content_type           = endswith(each.value, ".json") ? "application/json" : "text/x-python"
  server_side_encryption = var.kms_key_arn != null ? "aws:kms" : "AES256"
  kms_key_id             = var.kms_key_arn
  tags                   = local.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}

################################################################################
# CodeBuild: renders and publishes the instructions (buildspec.yml of the repository)
################################################################################

resource "aws_cloudwatch_log_group" "codebuild" {
  name              = "/aws/codebuild/${local.name}-publish-instructions"
  retention_in_days = var.codebuild.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_codebuild_project" "this" {
  name           = "${local.name}-publish-instructions"
  description    = "Renders and publishes the ${local.prefix} labeling instructions, template and project config"
  service_role   = aws_iam_role.codebuild.arn
  build_timeout  = var.codebuild.timeout_minutes
  encryption_key = var.kms_key_arn

  artifacts {
    type = "CODEPIPELINE"
  }

  source {
    type      = "CODEPIPELINE"
    buildspec = "buildspec.yml"
  }

  environment {
    compute_type                = var.codebuild.compute_type
    image                       = var.codebuild.image
    type                        = "LINUX_CONTAINER"
    image_pull_credentials_type = "CODEBUILD"
    privileged_mode             = false

    dynamic "environment_variable" {
      for_each = { for k, v in local.codebuild_environment : k => v if v != null }
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  logs_config {
    cloudwatch_logs {
      group_name = aws_cloudwatch_log_group.codebuild.name
    }
  }

  tags = local.tags
}

locals {
  codebuild_environment = {
    INSTRUCTIONS_BUCKET                  = aws_s3_bucket.this["instructions"].id
    INSTRUCTIONS_PUBLIC                  = var.public_instructions ? "true" : "false"
    PUBLISHER_URI                        = "s3://${aws_s3_bucket.this["artifacts"].id}/${local.publisher_key}"
    GT_DEFAULT_WORKTEAM_ARN              = var.labeling_defaults.workteam_arn
    GT_DEFAULT_WORKERS_PER_OBJECT        = tostring(var.labeling_defaults.workers_per_object)
    GT_DEFAULT_TASK_TIME_LIMIT_SECONDS   = tostring(var.labeling_defaults.task_time_limit_seconds)
    GT_DEFAULT_TASK_AVAILABILITY_SECONDS = tostring(var.labeling_defaults.task_availability_lifetime_seconds)
    GT_DEFAULT_MAX_CONCURRENT_TASK_COUNT = tostring(var.labeling_defaults.max_concurrent_task_count)
  }
}

################################################################################
# CodePipeline: source -> build
################################################################################

resource "aws_codepipeline" "this" {
  name          = "${local.name}-instructions"
  role_arn      = aws_iam_role.codepipeline.arn
  pipeline_type = "V2"

  artifact_store {
    type     = "S3"
    location = aws_s3_bucket.this["artifacts"].id

    dynamic "encryption_key" {
      for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
      content {
        id   = encryption_key.value
        type = "KMS"
      }
    }
  }

  stage {
    name = "Source"
    action {
      name             = "Source"
      category         = "Source"
      owner            = "AWS"
      provider         = local.use_codecommit ? "CodeCommit" : "CodeStarSourceConnection"
      version          = "1"
      output_artifacts = ["instructions"]
      configuration = local.use_codecommit ? {
        RepositoryName       = local.repository_name
        BranchName           = var.source_repository.branch
        PollForSourceChanges = "false"
        OutputArtifactFormat = "CODE_ZIP"
        } : {
        ConnectionArn        = local.connection_arn
        FullRepositoryId     = var.source_repository.full_repository_id
        BranchName           = var.source_repository.branch
        OutputArtifactFormat = "CODE_ZIP"
        DetectChanges        = "true"
      }
    }
  }

  stage {
    name = "Build"
    action {
      name            = "Publish"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["instructions"]
      configuration = {
        ProjectName = aws_codebuild_project.this.name
      }
    }
  }

  tags = local.tags
}

################################################################################
# CodeCommit push -> pipeline (EventBridge rule; its role trusts events.amazonaws.com)
################################################################################

resource "aws_cloudwatch_event_rule" "push" {
  count = local.use_codecommit ? 1 : 0

  name        = "${local.name}-instructions-push"
  description = "Starts the ${local.prefix} instructions pipeline on a push to ${var.source_repository.branch}"
  event_pattern = jsonencode({
    source        = ["aws.codecommit"]
    "detail-type" = ["CodeCommit Repository State Change"]
    resources     = [local.repository_arn]
    detail = {
      event         = ["referenceCreated", "referenceUpdated"]
      referenceType = ["branch"]
      referenceName = [var.source_repository.branch]
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "push" {
  count = local.use_codecommit ? 1 : 0

  rule      = aws_cloudwatch_event_rule.push[0].name
  target_id = "instructions-pipeline"
  arn       = aws_codepipeline.this.arn
  role_arn  = aws_iam_role.events[0].arn
}
