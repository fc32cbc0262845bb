################################################################################
# Roles: CodeBuild, CodePipeline, EventBridge (push trigger). Least privilege, no wildcards.
################################################################################

locals {
  artifacts_arn    = aws_s3_bucket.this["artifacts"].arn
  instructions_arn = aws_s3_bucket.this["instructions"].arn
}

data "aws_iam_policy_document" "trust" {
  for_each = toset(["codebuild", "codepipeline", "events"])

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "codebuild" {
  name               = "${local.name}-instructions-build"
  description        = "CodeBuild role that publishes the ${local.prefix} instructions"
  assume_role_policy = data.aws_iam_policy_document.trust["codebuild"].json
  tags               = local.tags
}

data "aws_iam_policy_document" "codebuild" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.codebuild.arn}:*"]
  }
  statement {
    sid       = "ReadSourceArtifactAndPublisher"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.artifacts_arn}/*"]
  }
  statement {
    sid       = "PublishInstructions"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${local.instructions_arn}/public/*", "${local.instructions_arn}/config/*"]
  }
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.artifacts_arn, local.instructions_arn]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "ProjectKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "codebuild" {
  name   = "publish-instructions"
  role   = aws_iam_role.codebuild.id
  policy = data.aws_iam_policy_document.codebuild.json
}

resource "aws_iam_role" "codepipeline" {
  name               = "${local.name}-instructions-pipeline"
  description        = "CodePipeline role of the ${local.prefix} instructions pipeline"
  assume_role_policy = data.aws_iam_policy_document.trust["codepipeline"].json
  tags               = local.tags
}

data "aws_iam_policy_document" "codepipeline" {
  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning", "s3:GetBucketLocation"]
    resources = [local.artifacts_arn, "${local.artifacts_arn}/*"]
  }
  statement {
    sid       = "RunBuild"
    actions   = ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]
    resources = [aws_codebuild_project.this.arn]
  }
  dynamic "statement" {
    for_each = local.use_codecommit ? [1] : []
    content {
      sid = "ReadCodeCommit"
      actions = [
        "codecommit:GetBranch", "codecommit:GetCommit", "codecommit:GetRepository", "codecommit:UploadArchive",
        "codecommit:GetUploadArchiveStatus", "codecommit:CancelUploadArchive",
      ]
      resources = [local.repository_arn]
    }
  }
  dynamic "statement" {
    for_each = local.use_codecommit ? [] : [1]
    content {
      sid       = "UseConnection"
      actions   = ["codestar-connections:UseConnection", "codeconnections:UseConnection"]
      resources = [local.connection_arn]
    }
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "ProjectKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "codepipeline" {
  name   = "instructions-pipeline"
  role   = aws_iam_role.codepipeline.id
  policy = data.aws_iam_policy_document.codepipeline.json
}

resource "aws_iam_role" "events" {
  count = local.use_codecommit ? 1 : 0

  name               = "${local.name}-instructions-trigger"
  description        = "Lets EventBridge start the ${local.prefix} instructions pipeline on push"
  assume_role_policy = data.aws_iam_policy_document.trust["events"].json
  tags               = local.tags
}

data "aws_iam_policy_document" "events" {
  count = local.use_codecommit ? 1 : 0

  statement {
    actions   = ["codepipeline:StartPipelineExecution"]
    resources = [aws_codepipeline.this.arn]
  }
}

resource "aws_iam_role_policy" "events" {
  count = local.use_codecommit ? 1 : 0

  name   = "start-pipeline"
  role   = aws_iam_role.events[0].id
  policy = data.aws_iam_policy_document.events[0].json
}
